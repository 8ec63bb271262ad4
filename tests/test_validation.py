"""Bad input: every concrete invalid argument raises ValueError naming it.

Traced arguments are never inspected (tests/test_properties.py builds every
constructor under jit/vmap); these cases are all concrete.
"""

import math

import jax
import jax.numpy as jnp
import pytest

import jaxlr

NAN = math.nan
INF = math.inf
c = jaxlr.constant(1.0)

BAD = [
    # (factory, kwargs, the argument the error must name)
    (jaxlr.constant, dict(value=NAN), "value"),
    (jaxlr.constant, dict(value=INF), "value"),
    (jaxlr.linear, dict(init_value=NAN, end_value=0.0, transition_steps=1), "init_value"),
    (jaxlr.linear, dict(init_value=1.0, end_value=INF, transition_steps=1), "end_value"),
    (jaxlr.linear, dict(init_value=1.0, end_value=0.0, transition_steps=-1), "transition_steps"),
    (jaxlr.polynomial, dict(init_value=1.0, end_value=0.0, decay_steps=0), "decay_steps"),
    (jaxlr.polynomial, dict(init_value=1.0, end_value=0.0, decay_steps=10, power=-1.0), "power"),
    (jaxlr.polynomial, dict(init_value=NAN, end_value=0.0, decay_steps=10), "init_value"),
    (jaxlr.polynomial, dict(init_value=1.0, end_value=NAN, decay_steps=10), "end_value"),
    (jaxlr.exponential, dict(init_value=1.0, decay_rate=-0.5, decay_steps=10), "decay_rate"),
    (jaxlr.exponential, dict(init_value=1.0, decay_rate=0.5, decay_steps=0), "decay_steps"),
    (jaxlr.exponential, dict(init_value=1.0, decay_rate=0.5, decay_steps=-3), "decay_steps"),
    (jaxlr.exponential, dict(init_value=NAN, decay_rate=0.5, decay_steps=1), "init_value"),
    (jaxlr.exponential, dict(init_value=1.0, decay_rate=0.5, decay_steps=1, end_value=NAN),
     "end_value"),
    (jaxlr.natural_exp, dict(init_value=1.0, decay_rate=NAN, decay_steps=1), "decay_rate"),
    (jaxlr.natural_exp, dict(init_value=1.0, decay_rate=0.1, decay_steps=0), "decay_steps"),
    (jaxlr.natural_exp, dict(init_value=INF, decay_rate=0.1, decay_steps=1), "init_value"),
    (jaxlr.inverse_time, dict(init_value=1.0, decay_rate=-1.0), "decay_rate"),
    (jaxlr.inverse_time, dict(init_value=1.0, decay_rate=1.0, decay_steps=0), "decay_steps"),
    (jaxlr.inverse_time, dict(init_value=NAN, decay_rate=1.0), "init_value"),
    (jaxlr.piecewise_constant, dict(boundaries=[5, 3], values=[1.0, 0.5, 0.1]), "boundaries"),
    (jaxlr.piecewise_constant, dict(boundaries=[-1, 3], values=[1.0, 0.5, 0.1]), "boundaries"),
    (jaxlr.piecewise_constant, dict(boundaries=[3, 5], values=[1.0, 0.5]), "values"),
    (jaxlr.piecewise_constant, dict(boundaries=[3], values=[1.0, NAN]), "values"),
    (jaxlr.piecewise_constant, dict(boundaries=3, values=[1.0, 0.5]), "boundaries"),
    (jaxlr.multistep, dict(init_value=1.0, milestones=[-2, 4], gamma=0.1), "milestones"),
    (jaxlr.multistep, dict(init_value=1.0, milestones=[2, 4], gamma=-0.1), "gamma"),
    (jaxlr.multistep, dict(init_value=NAN, milestones=[2, 4]), "init_value"),
    (jaxlr.multistep, dict(init_value=1.0, milestones=5), "milestones"),
    (jaxlr.factor, dict(init_value=1.0, factor=-0.5), "factor"),
    (jaxlr.factor, dict(init_value=1.0, factor=0.5, step_size=0), "step_size"),
    (jaxlr.factor, dict(init_value=1.0, factor=0.5, min_value=NAN), "min_value"),
    (jaxlr.factor, dict(init_value=INF, factor=0.5), "init_value"),
    (jaxlr.cosine, dict(init_value=1.0, decay_steps=0), "decay_steps"),
    (jaxlr.cosine, dict(init_value=1.0, decay_steps=-10), "decay_steps"),
    (jaxlr.cosine, dict(init_value=1.0, decay_steps=10, end_value=NAN), "end_value"),
    (jaxlr.cosine, dict(init_value=1.0, decay_steps=10, exponent=0.0), "exponent"),
    (jaxlr.cosine, dict(init_value=NAN, decay_steps=10), "init_value"),
    (jaxlr.cosine_restarts, dict(init_value=1.0, first_decay_steps=0), "first_decay_steps"),
    (jaxlr.cosine_restarts, dict(init_value=1.0, first_decay_steps=10, t_mul=0.5), "t_mul"),
    (jaxlr.cosine_restarts, dict(init_value=1.0, first_decay_steps=10, m_mul=-1.0), "m_mul"),
    (jaxlr.cosine_restarts, dict(init_value=1.0, first_decay_steps=10, end_value=NAN),
     "end_value"),
    (jaxlr.cosine_restarts, dict(init_value=NAN, first_decay_steps=10), "init_value"),
    (jaxlr.linear_cosine, dict(init_value=1.0, decay_steps=0), "decay_steps"),
    (jaxlr.linear_cosine, dict(init_value=1.0, decay_steps=10, num_periods=NAN), "num_periods"),
    (jaxlr.linear_cosine, dict(init_value=1.0, decay_steps=10, alpha=INF), "alpha"),
    (jaxlr.linear_cosine, dict(init_value=1.0, decay_steps=10, beta=NAN), "beta"),
    (jaxlr.linear_cosine, dict(init_value=NAN, decay_steps=10), "init_value"),
    (jaxlr.noisy_linear_cosine, dict(init_value=1.0, decay_steps=0, key=jax.random.key(0)),
     "decay_steps"),
    (jaxlr.noisy_linear_cosine, dict(init_value=1.0, decay_steps=10, key=jax.random.key(0),
                                     initial_variance=-1.0), "initial_variance"),
    (jaxlr.noisy_linear_cosine, dict(init_value=1.0, decay_steps=10, key=jax.random.key(0),
                                     variance_decay=NAN), "variance_decay"),
    (jaxlr.inverse_sqrt, dict(init_value=1.0, timescale=0.0), "timescale"),
    (jaxlr.inverse_sqrt, dict(init_value=NAN), "init_value"),
    (jaxlr.cyclic, dict(base_value=0.1, max_value=1.0, step_size_up=0), "step_size_up"),
    (jaxlr.cyclic, dict(base_value=0.1, max_value=1.0, step_size_up=5, step_size_down=-1),
     "step_size_down"),
    (jaxlr.cyclic, dict(base_value=0.1, max_value=1.0, step_size_up=5, mode="triangle"), "mode"),
    (jaxlr.cyclic, dict(base_value=0.1, max_value=1.0, step_size_up=5, gamma=0.0), "gamma"),
    (jaxlr.cyclic, dict(base_value=NAN, max_value=1.0, step_size_up=5), "base_value"),
    (jaxlr.cyclic, dict(base_value=0.1, max_value=INF, step_size_up=5), "max_value"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=0), "total_steps"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=100, pct_start=1.0), "pct_start"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=100, pct_start=0.0), "pct_start"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=100, div_factor=0.0), "div_factor"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=100, final_div_factor=-1.0),
     "final_div_factor"),
    (jaxlr.one_cycle, dict(peak_value=1.0, total_steps=100, anneal="cosine"), "anneal"),
    (jaxlr.one_cycle, dict(peak_value=NAN, total_steps=100), "peak_value"),
    (jaxlr.one_cycle_momentum, dict(total_steps=0), "total_steps"),
    (jaxlr.one_cycle_momentum, dict(total_steps=100, pct_start=1.0), "pct_start"),
    (jaxlr.one_cycle_momentum, dict(total_steps=100, base_momentum=NAN), "base_momentum"),
    (jaxlr.one_cycle_momentum, dict(total_steps=100, max_momentum=float("inf")), "max_momentum"),
    (jaxlr.one_cycle_momentum, dict(total_steps=100, anneal="cosine"), "anneal"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=-1, stable_steps=1,
                                     decay_steps=1), "warmup_steps"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=-1,
                                     decay_steps=1), "stable_steps"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=-1), "decay_steps"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, decay="square"), "decay"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, decay="power", decay_power=0.0),
     "decay_power"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, decay="exp", decay_ratio=1.0), "decay_ratio"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, decay="exp", decay_ratio=0.0), "decay_ratio"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, decay_power=NAN), "decay_power"),
    (jaxlr.warmup_stable_decay, dict(peak_value=NAN, warmup_steps=1, stable_steps=1,
                                     decay_steps=1), "peak_value"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, end_value=NAN), "end_value"),
    (jaxlr.warmup_stable_decay, dict(peak_value=1.0, warmup_steps=1, stable_steps=1,
                                     decay_steps=1, init_value=INF), "init_value"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=-1), "total_steps"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, warmup_steps=-1),
     "warmup_steps"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, cooldown_fraction=1.5),
     "cooldown_fraction"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, cooldown_fraction=-0.1),
     "cooldown_fraction"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, warmup_steps=90,
                                        cooldown_fraction=0.2), "warmup_steps"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=NAN, total_steps=100), "peak_value"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, decay="sqrt"), "decay"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, end_value=INF),
     "end_value"),
    (jaxlr.warmup_stable_cooldown, dict(peak_value=1.0, total_steps=100, decay="exp",
                                        decay_ratio=2.0), "decay_ratio"),
    (jaxlr.linear_decay_to_zero, dict(peak_value=1.0, total_steps=-5), "total_steps"),
    (jaxlr.linear_decay_to_zero, dict(peak_value=1.0, total_steps=10, warmup_steps=11),
     "warmup_steps"),
    (jaxlr.linear_decay_to_zero, dict(peak_value=1.0, total_steps=10, warmup_steps=-1),
     "warmup_steps"),
    (jaxlr.linear_decay_to_zero, dict(peak_value=INF, total_steps=10), "peak_value"),
    (jaxlr.tanh_decay, dict(init_value=1.0, decay_steps=0), "decay_steps"),
    (jaxlr.tanh_decay, dict(init_value=NAN, decay_steps=10), "init_value"),
    (jaxlr.tanh_decay, dict(init_value=1.0, decay_steps=10, end_value=INF), "end_value"),
    (jaxlr.tanh_decay, dict(init_value=1.0, decay_steps=10, lower=3.0, upper=3.0), "lower"),
    (jaxlr.tanh_decay, dict(init_value=1.0, decay_steps=10, upper=NAN), "upper"),
    (jaxlr.power_law, dict(scale=-1.0, exponent=-0.5, max_value=1.0), "scale"),
    (jaxlr.power_law, dict(scale=1.0, exponent=0.5, max_value=1.0), "exponent"),
    (jaxlr.power_law, dict(scale=1.0, exponent=-0.5, max_value=INF), "max_value"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=-1, batch_size=1,
                                 sequence_length=1), "warmup_steps"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=0,
                                 sequence_length=1), "batch_size"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=0), "sequence_length"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, a=-4.6), "a"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, b=0.51), "b"),
    (jaxlr.power_scheduler, dict(peak_value=NAN, warmup_steps=1, batch_size=1,
                                 sequence_length=1), "peak_value"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, decay_steps=10), "decay_steps"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, total_steps=100, decay_steps=101),
     "decay_steps"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, total_steps=-1), "total_steps"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, decay="cos"), "decay"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, end_value=NAN), "end_value"),
    (jaxlr.power_scheduler, dict(peak_value=0.02, warmup_steps=1, batch_size=1,
                                 sequence_length=1, total_steps=100, decay_steps=10,
                                 decay_ratio=1.0), "decay_ratio"),
    (jaxlr.cyclic_momentum, dict(step_size_up=0), "step_size_up"),
    (jaxlr.cyclic_momentum, dict(step_size_up=5, step_size_down=-1), "step_size_down"),
    (jaxlr.cyclic_momentum, dict(step_size_up=5, mode="triangle"), "mode"),
    (jaxlr.cyclic_momentum, dict(step_size_up=5, gamma=0.0), "gamma"),
    (jaxlr.cyclic_momentum, dict(step_size_up=5, base_momentum=NAN), "base_momentum"),
    (jaxlr.cyclic_momentum, dict(step_size_up=5, max_momentum=INF), "max_momentum"),
    # combinators
    (jaxlr.warmup, dict(schedule=c, warmup_steps=-5), "warmup_steps"),
    (jaxlr.warmup, dict(schedule=c, warmup_steps=5, mode="quadratic"), "mode"),
    (jaxlr.warmup, dict(schedule=c, warmup_steps=5, mode="exponential", init_value=0.0),
     "init_value"),
    (jaxlr.warmup, dict(schedule=c, warmup_steps=5, init_value=NAN), "init_value"),
    (jaxlr.warmup, dict(schedule=c, warmup_steps=5, peak_value=NAN), "peak_value"),
    (jaxlr.join, dict(schedules=[c, c], boundaries=[5, 6]), "schedules"),
    (jaxlr.join, dict(schedules=[c, c, c], boundaries=[6, 5]), "boundaries"),
    (jaxlr.join, dict(schedules=[c, c], boundaries=[-1]), "boundaries"),
    (jaxlr.join, dict(schedules=[c, c], boundaries=[NAN]), "boundaries"),
    (jaxlr.cycle, dict(schedule=c, period=0), "period"),
    (jaxlr.restarts, dict(schedule=c, period=0), "period"),
    (jaxlr.restarts, dict(schedule=c, period=10, period_mul=0.5), "period_mul"),
    (jaxlr.restarts, dict(schedule=c, period=10, value_mul=-0.5), "value_mul"),
    (jaxlr.shift, dict(schedule=c, steps=NAN), "steps"),
    (jaxlr.scale, dict(schedule=c, factor=INF), "factor"),
    (jaxlr.clip, dict(schedule=c, min_value=NAN), "min_value"),
    (jaxlr.clip, dict(schedule=c, max_value=NAN), "max_value"),
    (jaxlr.clip, dict(schedule=c, min_value=0.5, max_value=0.1), "min_value"),
    (jaxlr.staircase, dict(schedule=c, step_size=0), "step_size"),
    (jaxlr.per_epoch, dict(schedule=c, steps_per_epoch=0), "steps_per_epoch"),
    (jaxlr.per_epoch, dict(schedule=c, steps_per_epoch=-2.0), "steps_per_epoch"),
    (jaxlr.linear_scaling, dict(base_value=0.1, batch_size=0), "batch_size"),
    (jaxlr.linear_scaling, dict(base_value=0.1, batch_size=128, base_batch_size=0),
     "base_batch_size"),
    (jaxlr.linear_scaling, dict(base_value=NAN, batch_size=128), "base_value"),
    # reduce on plateau
    (jaxlr.reduce_on_plateau, dict(factor=1.0), "factor"),
    (jaxlr.reduce_on_plateau, dict(factor=-0.1), "factor"),
    (jaxlr.reduce_on_plateau, dict(patience=-1), "patience"),
    (jaxlr.reduce_on_plateau, dict(mode="minimum"), "mode"),
    (jaxlr.hypergradient_descent, dict(method="sgd", learning_rate=0.1, hyper_lr=-1.0),
     "hyper_lr"),
    (jaxlr.hypergradient_descent, dict(method="adam", learning_rate=0.1, hyper_lr=1e-7,
                                       momentum=0.9), "momentum"),
    (jaxlr.reduce_on_plateau, dict(threshold=-1e-4), "threshold"),
    (jaxlr.reduce_on_plateau, dict(threshold_mode="relative"), "threshold_mode"),
    (jaxlr.reduce_on_plateau, dict(cooldown=-1), "cooldown"),
    (jaxlr.reduce_on_plateau, dict(min_value=-1.0), "min_value"),
    (jaxlr.reduce_on_plateau, dict(init_value=NAN), "init_value"),
    (jaxlr.reduce_on_plateau, dict(eps=-1.0), "eps"),
]


@pytest.mark.parametrize("factory,kwargs,name", BAD,
                         ids=[f"{f.__name__}-{n}-{i}" for i, (f, _, n) in enumerate(BAD)])
def test_concrete_invalid_argument_raises_naming_it(factory, kwargs, name):
    with pytest.raises(ValueError) as info:
        factory(**kwargs)
    message = str(info.value)
    assert f"jaxlr.{factory.__name__}" in message
    assert name in message
    assert repr(kwargs[name]) in message or name in ("schedules",)


def test_every_public_factory_has_a_bad_input_case():
    covered = {f.__name__ for f, _, _ in BAD}
    factories = {n for n in jaxlr.__all__ if callable(getattr(jaxlr, n)) and n[0].islower()}
    # parse_schedule's errors are tested in tests/test_repr.py, lr_used's in tests/test_readout.py
    assert factories - covered <= {"observe", "multiply", "add", "parse_schedule", "lr_used"}, \
        factories - covered


@pytest.mark.parametrize("combinator", [jaxlr.multiply, jaxlr.add])
def test_product_and_sum_need_a_schedule(combinator):
    with pytest.raises(ValueError, match=f"jaxlr.{combinator.__name__}: schedules"):
        combinator()


def test_traced_invalid_values_are_not_inspected():
    # Under jit nothing can be checked; the constructor must still build.
    out = jax.jit(lambda s: jaxlr.cosine(1.0, s)(jnp.arange(3)))(jnp.float32(-1.0))
    assert out.shape == (3,)


def test_a_string_where_a_number_belongs_is_a_value_error_naming_it():
    with pytest.raises(ValueError, match=r"jaxlr.cosine: init_value must be a number .*'0.1'"):
        jaxlr.cosine("0.1", 100)
    with pytest.raises(ValueError, match=r"jaxlr.multistep: milestones must be a number"):
        jaxlr.multistep(0.1, ["10", 20])


def test_none_where_a_number_belongs_says_none_is_not_a_number():
    with pytest.raises(ValueError, match="jaxlr.linear: end_value .* None, which is not a number"):
        jaxlr.linear(0.1, None, 10)
    with pytest.raises(ValueError, match="jaxlr.warmup: warmup_steps .* None, which is not a number"):
        jaxlr.warmup(jaxlr.constant(0.1), None)


@pytest.mark.parametrize("build,name", [
    (lambda: jaxlr.warmup(0.1, 10), "schedule"),
    (lambda: jaxlr.cycle(None, 10), "schedule"),
    (lambda: jaxlr.restarts("cosine", 10), "schedule"),
    (lambda: jaxlr.shift(0.1, 3), "schedule"),
    (lambda: jaxlr.scale(1.0, 0.1), "schedule"),
    (lambda: jaxlr.clip(0.5, 0.1, 0.2), "schedule"),
    (lambda: jaxlr.staircase(0.1, 2), "schedule"),
    (lambda: jaxlr.per_epoch(0.1, 100), "schedule"),
    (lambda: jaxlr.join([jaxlr.constant(0.1), 0.01], [5]), r"schedules\[1\]"),
    (lambda: jaxlr.multiply(jaxlr.constant(0.1), 2.0), r"schedules\[1\]"),
    (lambda: jaxlr.add(0.1, jaxlr.constant(0.1)), r"schedules\[0\]"),
], ids=["warmup", "cycle", "restarts", "shift", "scale", "clip", "staircase", "per_epoch", "join",
        "multiply", "add"])
def test_a_non_callable_schedule_is_refused_when_the_combinator_is_built(build, name):
    with pytest.raises(ValueError, match=f"jaxlr.[a-z_]+: {name} must be a schedule"):
        build()
