"""Schedules print as the expression that built them, and ``parse_schedule`` reads it back.

The round trip is checked over the whole registry with hyperparameters drawn
at random over each case's documented domain (``tests/domains.py``):
``parse_schedule(repr(s))`` gives the same values as ``s`` at every step of a
dense grid, bit for bit, in float32 and float64. No registry case is excluded:
``noisy_linear_cosine``'s key prints as ``key(seed)``. What does not parse
(and is tested to print readably instead): traced values, keys not made by
``jax.random.key(seed)``, and callables that are not jaxlr schedules.
"""

from __future__ import annotations

import inspect
import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr
from domains import DOMAINS
from jaxlr import combinators, schedules
from jaxlr.engine.identity import callable_identity, digest
from jaxlr.expressions import Schedule
from registry import BIG, CASES

DRAWS = 4  # per case, in float32; one more in float64
FACTORIES = [getattr(schedules, n) for n in schedules.__all__] + [
    getattr(combinators, n) for n in combinators.__all__ if n != "linear_scaling"]


# ------------------------------------------------------------------ the expression


@pytest.mark.parametrize("build,expected", [
    (lambda: jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100), "warmup(cosine(0.1, 1000), 100)"),
    (lambda: jaxlr.one_cycle(1.0, 11, pct_start=0.5, div_factor=10, anneal="linear"),
     "one_cycle(1.0, 11, pct_start=0.5, div_factor=10, anneal='linear')"),
    (lambda: jaxlr.join([jaxlr.constant(1.0), jaxlr.linear(0.5, 0.0, 2)], [3]),
     "join([constant(1.0), linear(0.5, 0.0, 2)], [3])"),
    (lambda: jaxlr.multiply(jaxlr.constant(0.5), jaxlr.inverse_sqrt(1.0, timescale=1e-05)),
     "multiply(constant(0.5), inverse_sqrt(1.0, timescale=1e-05))"),
    (lambda: jaxlr.clip(jaxlr.cosine(1.0, 10), min_value=None, max_value=math.inf),
     "clip(cosine(1.0, 10), min_value=None, max_value=inf)"),
    (lambda: jaxlr.polynomial(1.0, 0.0, 10, cycle=True), "polynomial(1.0, 0.0, 10, cycle=True)"),
    (lambda: jaxlr.piecewise_constant((10, 20), (1.0, 0.5, 0.1)),
     "piecewise_constant((10, 20), (1.0, 0.5, 0.1))"),
    # numpy scalars print as numbers in their dtype's shortest form, arrays as lists
    (lambda: jaxlr.cosine(np.float32(0.1), np.int64(1000), np.float64(1e-4)),
     "cosine(0.1, 1000, 0.0001)"),
    (lambda: jaxlr.multistep(jnp.float32(0.1), np.array([10, 20]), gamma=jnp.asarray(0.5)),
     "multistep(0.1, [10, 20], gamma=0.5)"),
    (lambda: jaxlr.piecewise_constant(jnp.array([1.5, 3.0]), np.array([[1.0, 0.1, 0.01]])[0]),
     "piecewise_constant([1.5, 3.0], [1.0, 0.1, 0.01])"),
    (lambda: jaxlr.one_cycle_momentum(100, three_phase=True),
     "one_cycle_momentum(100, three_phase=True)"),
    (lambda: jaxlr.noisy_linear_cosine(0.1, 100, jax.random.key(7)),
     "noisy_linear_cosine(0.1, 100, key(7))"),
])
def test_repr_is_the_call_that_built_the_schedule(build, expected):
    schedule = build()
    assert isinstance(schedule, Schedule)
    assert repr(schedule) == expected
    assert str(schedule) == expected


def test_traced_values_print_as_their_type():
    seen = []

    @jax.jit
    def build(v, steps):
        schedule = jaxlr.warmup(jaxlr.cosine(v, 100), steps)
        seen.append(repr(schedule))
        return schedule(jnp.arange(3))

    build(1.0, jnp.int32(10))
    assert seen == ["warmup(cosine(<traced float32[]>, 100), <traced int32[]>)"]
    seen.clear()
    jax.vmap(lambda v: seen.append(repr(jaxlr.constant(v))) or v)(jnp.ones((3, 2)))
    assert seen == ["constant(<traced float32[2]>)"]


def test_keys_print_briefly():
    key = jax.random.split(jax.random.key(3))[1]
    assert repr(jaxlr.noisy_linear_cosine(0.1, 100, key)) == \
        "noisy_linear_cosine(0.1, 100, <key<fry>[]>)"


def test_other_callables_print_their_name_on_one_line():
    def epoch_lr(epoch):
        return 0.1 * 0.5**epoch

    class Multiline:
        def __call__(self, step):
            return jnp.zeros_like(jnp.asarray(step, jnp.float32))

        def __repr__(self):
            return "Multiline(\n    a=1,\n)"

    assert repr(jaxlr.per_epoch(epoch_lr, 3)) == (
        "per_epoch(<function test_other_callables_print_their_name_on_one_line.<locals>."
        "epoch_lr>, 3)")
    assert repr(jaxlr.warmup(optax.cosine_decay_schedule(0.1, 100), 10)) == (
        "warmup(<function cosine_decay_schedule.<locals>.schedule>, 10)")
    assert repr(jaxlr.scale(Multiline(), 2.0)) == "scale(Multiline( a=1, ), 2.0)"


def test_repr_does_not_change_when_the_callers_list_does():
    boundaries, values = [10, 20], [1.0, 0.5, 0.1]
    schedule = jaxlr.piecewise_constant(boundaries, values)
    boundaries.append(30)
    values[0] = 9.0
    assert repr(schedule) == "piecewise_constant([10, 20], [1.0, 0.5, 0.1])"


def test_repr_is_lazy_and_never_raises():
    # formatting happens in repr, not at construction: a deleted array does not break it
    value = jnp.asarray(0.1)
    schedule = jaxlr.constant(value)
    value.delete()
    assert repr(schedule) == "constant(<ArrayImpl>)"


# ------------------------------------------------------------------ the object


@pytest.mark.parametrize("factory", FACTORIES, ids=lambda f: f.__name__)
def test_factories_keep_their_name_docstring_and_signature(factory):
    original = factory.__wrapped__
    assert factory.__name__ == original.__name__
    assert factory.__doc__ == original.__doc__ and factory.__doc__.strip()
    assert factory.__module__ in ("jaxlr.schedules", "jaxlr.combinators")
    assert inspect.signature(factory) == inspect.signature(original)


def test_every_factory_is_in_the_registry_so_the_round_trip_covers_it():
    names = {repr(case.build(**case.params)).split("(")[0] for case in CASES}
    names |= {repr(case.build(**case.params)).split("(")[1] for case in CASES}
    missing = {f.__name__ for f in FACTORIES} - names
    assert not missing, missing


def test_the_object_is_the_schedule_function_it_wraps():
    schedule = jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100)
    assert str(inspect.signature(schedule)) == "(step)"
    assert inspect.unwrap(schedule) is schedule.__wrapped__
    assert inspect.isfunction(schedule.__wrapped__)
    steps = jnp.arange(1200)
    np.testing.assert_array_equal(schedule(steps), schedule.__wrapped__(steps))
    # a factory that returns another factory's schedule wraps the function, not the object
    wsd = jaxlr.warmup_stable_decay(1.0, 2, 2, 4)
    assert inspect.isfunction(wsd.__wrapped__)
    assert repr(wsd) == "warmup_stable_decay(1.0, 2, 2, 4)"
    assert not hasattr(schedule, "__dict__")


def test_jit_vmap_grad_and_jit_of_the_object():
    schedule = jaxlr.one_cycle(0.1, 100)
    steps = jnp.arange(150)
    np.testing.assert_allclose(jax.jit(schedule)(steps), schedule(steps), rtol=2e-6)
    np.testing.assert_allclose(jax.vmap(schedule)(steps), schedule(steps), rtol=2e-6)
    grad = jax.grad(lambda peak: jaxlr.warmup(jaxlr.one_cycle(peak, 100), 10)(steps).sum())(0.1)
    assert np.isfinite(grad) and grad > 0


def test_optax_takes_the_object_as_learning_rate():
    schedule = jaxlr.warmup(jaxlr.cosine(0.1, 90), 10)
    params = jnp.ones(3)
    for tx in (optax.sgd(schedule, momentum=0.9),
               optax.inject_hyperparams(optax.sgd)(learning_rate=schedule,
                                                   momentum=jaxlr.one_cycle_momentum(100))):
        state = tx.init(params)
        update = jax.jit(tx.update)
        lrs = []
        for _ in range(12):
            updates, state = update(jnp.ones(3), state, params)
            if hasattr(state, "hyperparams"):  # the values this update used
                lrs.append(float(state.hyperparams["learning_rate"]))
        assert np.all(np.isfinite(updates))
    np.testing.assert_allclose(lrs, schedule(jnp.arange(12)), rtol=1e-6)


# ------------------------------------------------------------------ identity (run-store keys)


def _user_optimizer(build):
    """A user's function that closes over a schedule, as a trainer's optimizer would."""
    schedule = build()

    def optimizer():
        return optax.sgd(schedule)

    return optimizer


@pytest.mark.parametrize("same,different", [
    (lambda: jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100),
     lambda: jaxlr.warmup(jaxlr.cosine(0.2, 1000), 100)),  # one hyperparameter
    (lambda: jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100),
     lambda: jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100, mode="cosine")),  # a static option
    (lambda: jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100),
     lambda: jaxlr.warmup(jaxlr.linear(0.1, 0.0, 1000), 100)),  # the child's kind
    (lambda: jaxlr.one_cycle_momentum(100), lambda: jaxlr.one_cycle_momentum(100, 0.25)),
    (lambda: jaxlr.join([jaxlr.constant(0.1), jaxlr.cosine(0.1, 10)], [5]),
     lambda: jaxlr.join([jaxlr.constant(0.1), jaxlr.cosine(0.1, 10)], [6])),
])
def test_identity_of_a_closure_over_a_schedule(same, different):
    first = digest(callable_identity(_user_optimizer(same)))
    assert digest(callable_identity(_user_optimizer(same))) == first
    assert digest(callable_identity(_user_optimizer(different))) != first
    assert digest(callable_identity(same())) == digest(callable_identity(same()))
    assert digest(callable_identity(same())) != digest(callable_identity(different()))


# ------------------------------------------------------------------ round trip


def _grid(case, kw):
    marks = [m for m in DOMAINS[case.name].marks(kw) if math.isfinite(m) and 0 <= m < BIG]
    steps = set(range(0, 2048))
    for m in marks:
        steps.update(s for s in range(math.floor(m) - 2, math.ceil(m) + 3) if 0 <= s <= BIG)
    steps.update((2**24 - 1, 2**24, 2**24 + 1, BIG - 1, BIG))
    return np.array(sorted(steps), np.int64)


def _round_trip(case, kw):
    schedule = case.build(**kw)
    text = repr(schedule)
    assert "\n" not in text and text == " ".join(text.split()), text
    again = jaxlr.parse_schedule(text)
    assert repr(again) == text  # a fixed point
    steps = _grid(case, kw)
    np.testing.assert_array_equal(np.asarray(again(steps)), np.asarray(schedule(steps)),
                                  err_msg=text)
    return text


@pytest.mark.parametrize("case", CASES, ids=str)
def test_parse_of_repr_is_the_same_schedule(case):
    rng = np.random.default_rng([ord(c) for c in f"repr {case.name}"])
    draws = [case.params] + [DOMAINS[case.name].draw(rng) for _ in range(DRAWS)]
    for kw in draws:
        _round_trip(case, kw)
    with jax.enable_x64(True):
        _round_trip(case, DOMAINS[case.name].draw(rng))


def test_parse_of_repr_with_noise_and_arrays():
    key = jax.random.key(2**31 - 1)
    schedule = jaxlr.noisy_linear_cosine(1.0, 50, key, initial_variance=0.5)
    assert repr(schedule) == "noisy_linear_cosine(1.0, 50, key(2147483647), initial_variance=0.5)"
    steps = np.arange(100)
    np.testing.assert_array_equal(jaxlr.parse_schedule(repr(schedule))(steps), schedule(steps))
    # float32 arrays print in float32's shortest form, which reads back as the same float32
    values = np.float32([0.1, 0.7, 1 / 3])
    schedule = jaxlr.piecewise_constant(np.float32([2.5, 7]), values)
    assert repr(schedule) == "piecewise_constant([2.5, 7.0], [0.1, 0.7, 0.33333334])"
    np.testing.assert_array_equal(jaxlr.parse_schedule(repr(schedule))(steps), schedule(steps))


# ------------------------------------------------------------------ parse errors


@pytest.mark.parametrize("text,match", [
    ("foo(1)", "unknown schedule 'foo'"),
    ("jaxlr.cosine(0.1, 100)", "unknown schedule 'jaxlr.cosine'"),
    ("__import__('os').system('true')", "unknown schedule"),
    ("parse_schedule('cosine(1, 2)')", "unknown schedule 'parse_schedule'"),
    ("cosine(0.1, x)", "not allowed in a schedule expression: 'x'"),
    ("cosine(0.1, 100) + 1", "not allowed"),
    ("-cosine(0.1, 100)", "not allowed"),
    ("cosine(*[0.1, 100])", "not allowed"),
    ("cosine(**{'init_value': 0.1})", "not allowed"),
    ("cosine(0.1, <traced float32[]>)", "not a valid expression"),
    ("0.1", "not a schedule"),
    ("linear_scaling(0.1, 1024)", "not a schedule"),
    ("cosine(0.1,", "not a valid expression"),
    ("shift(constant(1), 10.0**400)", "overflow"),
    ("cosine(0.1, 1 / 0)", "division by zero"),
    ("cosine(0.1, -5)", "decay_steps must be > 0"),
    ("cosine(0.1, 100, end=0.0)",
     r"cosine\(...\) in .*: got an unexpected keyword argument 'end'; "
     r"cosine takes \(init_value, decay_steps, end_value=0.0, exponent=1.0\)"),
    ("cosine(0.1)", "missing a required argument: 'decay_steps'"),
    ("noisy_linear_cosine(0.1, 100, key(1.5))", r"key\(...\) in .*seed must be an integer"),
    ("[" * 5000 + "]" * 5000, "nested too deeply|not a valid expression"),
    (None, "must be a string"),
])
def test_parse_rejects_naming_what_is_wrong(text, match):
    with pytest.raises(ValueError, match=match):
        jaxlr.parse_schedule(text)


def test_parse_arithmetic_and_names():
    schedule = jaxlr.parse_schedule(" cosine(2 * 0.05, 10 * 100, end_value=1e-3 / 2, exponent=2**0) ")
    assert repr(schedule) == "cosine(0.1, 1000, end_value=0.0005, exponent=1.0)"
    assert repr(jaxlr.parse_schedule("clip(constant(1), -inf, +inf)")) == \
        "clip(constant(1), -inf, inf)"
    assert repr(jaxlr.parse_schedule("cosine(linear_scaling(0.1, 512), 100)")) == \
        "cosine(0.2, 100)"
    # tuples read as lists
    assert repr(jaxlr.parse_schedule("piecewise_constant((1, 2), (1.0, 0.5, 0.1))")) == \
        "piecewise_constant([1, 2], [1.0, 0.5, 0.1])"


def test_identity_tells_schedules_apart_however_deep_they_differ():
    def nest(value, levels=12):
        s = jaxlr.constant(value)
        for _ in range(levels):
            s = jaxlr.scale(s, 1.0)
        return s

    def optimizer(schedule):
        return lambda learning_rate: optax.sgd(schedule)

    assert digest(callable_identity(optimizer(nest(0.1)))) == \
        digest(callable_identity(optimizer(nest(0.1))))
    assert digest(callable_identity(optimizer(nest(0.1)))) != \
        digest(callable_identity(optimizer(nest(0.2))))
