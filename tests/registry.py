"""One registry of every schedule and combinator: it drives the property tests.

Each case says how to build the schedule from keyword hyperparameters, which
of them to vary (the property tests vmap the *constructor* over each), which
are "values" (gradients must be finite), and exact values at chosen steps: 0,
each boundary, the horizon and well past it (2**31 - 1 among them).
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import jax
import jaxlr

BIG = 2**31 - 1


@dataclasses.dataclass(frozen=True)
class Case:
    name: str
    build: Callable[..., Any]
    params: dict
    vary: dict  # hyperparameter -> list of other valid values
    values: tuple = ()  # value hyperparameters: d schedule / d value must be finite
    exact: dict = dataclasses.field(default_factory=dict)  # step -> expected lr
    horizon: int = 100  # steps 0..3*horizon are used by the grid properties

    def __str__(self):
        return self.name


def _combinator_inner():
    return jaxlr.cosine(1.0, 100, 0.1)


CASES = [
    Case("constant", jaxlr.constant, dict(value=0.3), dict(value=[0.1, 0.5]), ("value",),
         {0: 0.3, 100: 0.3, BIG: 0.3}),
    Case("linear", jaxlr.linear, dict(init_value=1.0, end_value=0.2, transition_steps=50),
         dict(init_value=[0.5, 2.0], end_value=[0.0, 1.0], transition_steps=[0.0, 10.0, 60.0]),
         ("init_value", "end_value"), {0: 1.0, 25: 0.6, 50: 0.2, 51: 0.2, BIG: 0.2}),
    Case("polynomial", jaxlr.polynomial,
         dict(init_value=1.0, end_value=0.1, decay_steps=50, power=2.0),
         dict(init_value=[0.5, 2.0], end_value=[0.0, 0.3], decay_steps=[10.0, 70.0],
              power=[0.5, 1.0, 3.0]),
         ("init_value", "end_value"), {0: 1.0, 25: 0.325, 50: 0.1, 200: 0.1, BIG: 0.1}),
    Case("polynomial_cycle", lambda **p: jaxlr.polynomial(**p, cycle=True),
         dict(init_value=1.0, end_value=0.0, decay_steps=50, power=1.0),
         dict(decay_steps=[10.0, 70.0], power=[0.5, 2.0]), ("init_value", "end_value"),
         {0: 1.0, 25: 0.5, 50: 0.0, 51: 0.49, 100: 0.0, 150: 0.0}),
    Case("exponential", jaxlr.exponential, dict(init_value=1.0, decay_rate=0.5, decay_steps=10),
         dict(init_value=[0.1, 3.0], decay_rate=[0.9, 1.1], decay_steps=[1.0, 25.0]),
         ("init_value",), {0: 1.0, 10: 0.5, 15: 0.5**1.5, 20: 0.25, BIG: 0.0}),
    Case("exponential_staircase_bounded",
         lambda **p: jaxlr.exponential(**p, staircase=True),
         dict(init_value=1.0, decay_rate=0.5, decay_steps=10, end_value=0.2),
         dict(decay_rate=[0.8, 2.0], decay_steps=[3.0, 30.0], end_value=[0.0, 0.6]),
         ("init_value", "end_value"), {0: 1.0, 9: 1.0, 10: 0.5, 19: 0.5, 20: 0.25, 30: 0.2,
                                       BIG: 0.2}),
    Case("natural_exp", jaxlr.natural_exp, dict(init_value=1.0, decay_rate=0.1, decay_steps=10),
         dict(init_value=[0.5], decay_rate=[0.0, 1.0], decay_steps=[1.0, 50.0]), ("init_value",),
         {0: 1.0, 10: 0.9048374180359595, 100: 0.36787944117144233, BIG: 0.0}),
    Case("natural_exp_staircase", lambda **p: jaxlr.natural_exp(**p, staircase=True),
         dict(init_value=1.0, decay_rate=1.0, decay_steps=10),
         dict(decay_rate=[0.5], decay_steps=[3.0]), ("init_value",),
         {0: 1.0, 9: 1.0, 10: 0.36787944117144233, BIG: 0.0}),
    Case("inverse_time", jaxlr.inverse_time, dict(init_value=1.0, decay_rate=0.5, decay_steps=2),
         dict(init_value=[0.2], decay_rate=[0.0, 2.0], decay_steps=[1.0, 7.0]), ("init_value",),
         {0: 1.0, 4: 0.5, 12: 0.25, BIG: 1.0 / (1.0 + 0.5 * BIG / 2)}),
    Case("inverse_time_staircase", lambda **p: jaxlr.inverse_time(**p, staircase=True),
         dict(init_value=1.0, decay_rate=1.0, decay_steps=10), dict(decay_steps=[3.0]),
         ("init_value",), {0: 1.0, 9: 1.0, 10: 0.5, 30: 0.25, BIG: 1.0 / (1.0 + 214748364)}),
    Case("piecewise_constant", jaxlr.piecewise_constant,
         dict(boundaries=[10.0, 40.0], values=[1.0, 0.5, 0.1]),
         dict(boundaries=[[0.0, 5.0], [20.0, 20.0], [30.0, 90.0]],
              values=[[2.0, 1.0, 0.0], [0.3, 0.2, 0.1]]),
         ("values",), {0: 1.0, 9: 1.0, 10: 0.5, 39: 0.5, 40: 0.1, BIG: 0.1}),
    Case("piecewise_constant_keras", lambda **p: jaxlr.piecewise_constant(**p, inclusive=False),
         dict(boundaries=[10.0, 40.0], values=[1.0, 0.5, 0.1]),
         dict(boundaries=[[0.0, 5.0], [30.0, 90.0]]), ("values",),
         {0: 1.0, 10: 1.0, 11: 0.5, 40: 0.5, 41: 0.1, BIG: 0.1}),
    Case("multistep", jaxlr.multistep, dict(init_value=1.0, milestones=[10.0, 30.0, 30.0],
                                            gamma=0.5),
         dict(init_value=[0.1], milestones=[[0.0, 1.0, 2.0], [50.0, 20.0, 80.0]],
              gamma=[0.1, 0.9]),
         ("init_value",), {0: 1.0, 9: 1.0, 10: 0.5, 29: 0.5, 30: 0.125, BIG: 0.125}),
    Case("factor", jaxlr.factor, dict(init_value=1.0, factor=0.5, step_size=10, min_value=0.1),
         dict(init_value=[2.0], factor=[0.9, 1.0], step_size=[1.0, 7.0], min_value=[0.0, 0.4]),
         ("init_value", "min_value"), {0: 1.0, 9: 1.0, 10: 0.5, 20: 0.25, 40: 0.1, BIG: 0.1}),
    Case("cosine", jaxlr.cosine, dict(init_value=1.0, decay_steps=100, end_value=0.1),
         dict(init_value=[0.5], decay_steps=[10.0, 150.0], end_value=[0.0, 0.3],
              exponent=[0.5, 2.0]),
         ("init_value", "end_value"), {0: 1.0, 50: 0.55, 100: 0.1, 101: 0.1, BIG: 0.1}),
    Case("cosine_restarts", jaxlr.cosine_restarts,
         dict(init_value=1.0, first_decay_steps=10, t_mul=2.0, m_mul=0.5, end_value=0.1),
         dict(init_value=[0.5], first_decay_steps=[4.0, 25.0], t_mul=[1.0, 1.5, 3.0],
              m_mul=[1.0, 0.8], end_value=[0.0]),
         ("init_value", "end_value"),
         {0: 1.0, 5: 0.55, 10: 0.55, 20: 0.325, 30: 0.325, 70: 0.2125}),
    Case("linear_cosine", jaxlr.linear_cosine, dict(init_value=1.0, decay_steps=100),
         dict(init_value=[0.3], decay_steps=[10.0, 150.0], num_periods=[0.0, 2.0],
              alpha=[0.0, 0.2], beta=[0.0, 0.1]),
         ("init_value",), {0: 1.001, 50: 0.251, 100: 0.001, BIG: 0.001}),
    Case("noisy_linear_cosine",
         lambda key_seed, **p: jaxlr.noisy_linear_cosine(key=jax.random.key(key_seed), **p),
         dict(init_value=1.0, decay_steps=100, initial_variance=0.0, key_seed=0),
         dict(init_value=[0.3], decay_steps=[10.0, 150.0], initial_variance=[0.0, 0.5],
              variance_decay=[0.1], key_seed=[1, 2]),
         ("init_value",), {0: 1.001, 50: 0.251, 100: 0.001, BIG: 0.001}),
    Case("inverse_sqrt", jaxlr.inverse_sqrt, dict(init_value=1.0, timescale=1.0),
         dict(init_value=[0.1], timescale=[4.0, 1000.0]), ("init_value",),
         {0: 1.0, 3: 0.5, 15: 0.25, BIG: (1.0 / (BIG + 1.0)) ** 0.5}),
    Case("cyclic", jaxlr.cyclic, dict(base_value=0.1, max_value=1.0, step_size_up=10),
         dict(base_value=[0.0], max_value=[2.0], step_size_up=[3.0, 25.0],
              step_size_down=[5.0, 40.0]),
         ("base_value", "max_value"), {0: 0.1, 5: 0.55, 10: 1.0, 20: 0.1, 30: 1.0}),
    Case("cyclic_triangular2", lambda **p: jaxlr.cyclic(**p, mode="triangular2"),
         dict(base_value=0.0, max_value=1.0, step_size_up=10, step_size_down=30),
         dict(step_size_up=[5.0], step_size_down=[0.0, 7.0]), ("base_value", "max_value"),
         {0: 0.0, 10: 1.0, 25: 0.5, 40: 0.0, 50: 0.5, 90: 0.25}),
    Case("cyclic_exp_range", lambda **p: jaxlr.cyclic(**p, mode="exp_range"),
         dict(base_value=0.0, max_value=1.0, step_size_up=10, gamma=0.9),
         dict(step_size_up=[5.0], gamma=[0.5, 1.0]), ("base_value", "max_value"),
         {0: 0.0, 10: 0.9**10, 20: 0.0, 30: 0.9**30}),
    Case("one_cycle", jaxlr.one_cycle,
         dict(peak_value=1.0, total_steps=101, pct_start=0.3, div_factor=10.0,
              final_div_factor=100.0),
         dict(peak_value=[0.5], total_steps=[40.0, 200.0], pct_start=[0.1, 0.5],
              div_factor=[25.0], final_div_factor=[1e4]),
         ("peak_value",), {0: 0.1, 29.3: 1.0, 100: 1e-3, 101: 1e-3, BIG: 1e-3}),
    Case("one_cycle_linear_three_phase",
         lambda **p: jaxlr.one_cycle(**p, anneal="linear", three_phase=True),
         dict(peak_value=1.0, total_steps=101, pct_start=0.3, div_factor=10.0,
              final_div_factor=100.0),
         dict(total_steps=[40.0, 200.0], pct_start=[0.1, 0.4]), ("peak_value",),
         {0: 0.1, 29.3: 1.0, 58.6: 0.1, 100: 1e-3, BIG: 1e-3}),
    Case("one_cycle_momentum", jaxlr.one_cycle_momentum,
         dict(total_steps=101, pct_start=0.3, base_momentum=0.85, max_momentum=0.95),
         dict(total_steps=[40.0, 200.0], pct_start=[0.1, 0.5], base_momentum=[0.5, 0.99],
              max_momentum=[0.9, 0.0]),
         ("base_momentum", "max_momentum"),
         {0: 0.95, 29.3: 0.85, 64.65: 0.9, 100: 0.95, 101: 0.95, BIG: 0.95}),
    Case("one_cycle_momentum_linear_three_phase",
         lambda **p: jaxlr.one_cycle_momentum(**p, anneal="linear", three_phase=True),
         dict(total_steps=101, pct_start=0.3, base_momentum=0.85, max_momentum=0.95),
         dict(total_steps=[40.0, 200.0], pct_start=[0.1, 0.4]),
         ("base_momentum", "max_momentum"),
         {0: 0.95, 29.3: 0.85, 43.95: 0.9, 58.6: 0.95, 80: 0.95, 100: 0.95, BIG: 0.95}),
    Case("warmup_stable_decay", jaxlr.warmup_stable_decay,
         dict(peak_value=1.0, warmup_steps=10, stable_steps=40, decay_steps=50, end_value=0.1,
              init_value=0.0),
         dict(peak_value=[0.5], warmup_steps=[0.0, 25.0], stable_steps=[0.0, 5.0],
              decay_steps=[0.0, 10.0], end_value=[0.0], init_value=[0.05]),
         ("peak_value", "end_value", "init_value"),
         {0: 0.0, 5: 0.5, 10: 1.0, 49: 1.0, 50: 1.0, 75: 0.55, 100: 0.1, BIG: 0.1}),
    Case("warmup_stable_decay_cosine", lambda **p: jaxlr.warmup_stable_decay(**p, decay="cosine"),
         dict(peak_value=1.0, warmup_steps=10, stable_steps=40, decay_steps=50),
         dict(warmup_steps=[0.0, 3.0], decay_steps=[0.0, 20.0]), ("peak_value",),
         {0: 0.0, 10: 1.0, 75: 0.5, 100: 0.0, BIG: 0.0}),
    Case("warmup_stable_decay_1sqrt", lambda **p: jaxlr.warmup_stable_decay(**p, decay="1-sqrt"),
         dict(peak_value=1.0, warmup_steps=10, stable_steps=40, decay_steps=100),
         dict(decay_steps=[0.0, 36.0]), ("peak_value",),
         {0: 0.0, 10: 1.0, 75: 0.5, 150: 0.0, BIG: 0.0}),
    # combinators, around a cosine 1.0 -> 0.1 over 100 steps
    *[Case(f"warmup_{mode}_{'prefix' if prefix else 'absolute'}",
           (lambda mode, prefix: lambda init_value, warmup_steps, peak: jaxlr.warmup(
               jaxlr.scale(_combinator_inner(), peak), warmup_steps, init_value, mode=mode,
               prefix=prefix))(mode, prefix),
           dict(init_value=0.01, warmup_steps=10, peak=1.0),
           dict(init_value=[0.05], warmup_steps=[0.0, 4.0, 30.0], peak=[2.0]),
           ("init_value", "peak"),
           {0: 0.01, **({10: 1.0, 110: 0.1} if prefix else {100: 0.1}), BIG: 0.1})
      for mode in ("linear", "constant", "exponential", "cosine") for prefix in (True, False)],
    Case("warmup_peak_value",
         lambda peak_value, warmup_steps: jaxlr.warmup(_combinator_inner(), warmup_steps,
                                                       prefix=False, peak_value=peak_value),
         dict(peak_value=2.0, warmup_steps=10), dict(peak_value=[0.5], warmup_steps=[0.0, 20.0]),
         ("peak_value",), {0: 0.0, 5: 1.0, 100: 0.1, BIG: 0.1}),
    Case("join",
         lambda boundaries, v: jaxlr.join(
             [jaxlr.constant(v), jaxlr.linear(1.0, 0.5, 10), _combinator_inner()], boundaries),
         dict(boundaries=[10.0, 50.0], v=0.2),
         dict(boundaries=[[0.0, 0.0], [5.5, 70.0], [30.0, 31.0]], v=[0.7]), ("v",),
         {0: 0.2, 9: 0.2, 10: 1.0, 15: 0.75, 50: 1.0, 150: 0.1, BIG: 0.1}),
    Case("cycle", lambda period, v: jaxlr.cycle(jaxlr.linear(v, 0.0, 10), period),
         dict(period=20.0, v=1.0), dict(period=[5.0, 7.5, 100.0], v=[2.0]), ("v",),
         {0: 1.0, 5: 0.5, 10: 0.0, 20: 1.0, 25: 0.5}),
    Case("restarts",
         lambda period, period_mul, value_mul: jaxlr.restarts(
             jaxlr.linear(1.0, 0.0, period), period, period_mul, value_mul),
         dict(period=10.0, period_mul=2.0, value_mul=0.5),
         dict(period=[3.0, 25.0], period_mul=[1.0, 1.5], value_mul=[1.0]), ("value_mul",),
         {0: 1.0, 5: 0.5, 10: 0.5, 20: 0.25, 30: 0.25, 70: 0.125}),
    Case("shift", lambda steps, v: jaxlr.shift(jaxlr.linear(v, 0.0, 10), steps),
         dict(steps=5.0, v=1.0), dict(steps=[-3.0, 0.0, 50.0], v=[2.0]), ("v",),
         {0: 1.0, 5: 1.0, 10: 0.5, 15: 0.0, BIG: 0.0}),
    Case("scale", lambda factor: jaxlr.scale(_combinator_inner(), factor), dict(factor=0.5),
         dict(factor=[0.0, 2.0]), ("factor",), {0: 0.5, 100: 0.05, BIG: 0.05}),
    Case("multiply",
         lambda v, w: jaxlr.multiply(jaxlr.constant(v), jaxlr.linear(w, 1.0, 10),
                                     _combinator_inner()),
         dict(v=2.0, w=0.0), dict(v=[0.5], w=[0.5]), ("v", "w"),
         {0: 0.0, 5: 0.1 + 0.45 * (1 + 0.9876883405951378), 100: 0.2, BIG: 0.2}),
    Case("add",
         lambda v, w: jaxlr.add(jaxlr.constant(v), jaxlr.scale(_combinator_inner(), w)),
         dict(v=0.1, w=1.0), dict(v=[0.0, 0.5], w=[2.0]), ("v", "w"),
         {0: 1.1, 50: 0.65, 100: 0.2, BIG: 0.2}),
    Case("clip",
         lambda min_value, max_value: jaxlr.clip(_combinator_inner(), min_value, max_value),
         dict(min_value=0.2, max_value=0.8), dict(min_value=[0.0, 0.5], max_value=[0.6, 1.0]),
         ("min_value", "max_value"), {0: 0.8, 50: 0.55, 100: 0.2, BIG: 0.2}),
    Case("staircase", lambda step_size: jaxlr.staircase(jaxlr.linear(1.0, 0.0, 100), step_size),
         dict(step_size=10.0), dict(step_size=[1.0, 7.0, 30.0]), (),
         {0: 1.0, 9: 1.0, 10: 0.9, 99: 0.1, 100: 0.0, BIG: 0.0}),
    Case("per_epoch",
         lambda steps_per_epoch, rate: jaxlr.per_epoch(jaxlr.exponential(1.0, rate, 1),
                                                       steps_per_epoch),
         dict(steps_per_epoch=10.0, rate=0.5), dict(steps_per_epoch=[1.0, 3.0, 235.0],
                                                    rate=[0.9]), (),
         {0: 1.0, 9: 1.0, 10: 0.5, 25: 0.25, BIG: 0.0}),
]

CASES_BY_NAME = {case.name: case for case in CASES}
