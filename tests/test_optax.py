"""Equivalence of jaxlr schedules with optax's own schedules.

optax computes in the dtype of its inputs, so every test runs under the
``x64`` fixture and feeds both libraries the int64 steps ``np.arange(n)``
(``n`` about three times the horizon); jaxlr is built inside the test so it
computes in float64 too. Values are compared with
:func:`equivalence.assert_matches` (library ``"optax"``).

Both libraries take ``step`` = number of updates already applied (what
``optax.scale_by_schedule`` passes), so ``ours(t)`` is compared with
``optax_schedule(t)`` directly. Argument conventions that differ on purpose:

- optax returns ``init_value`` for ``transition_steps <= 0`` (linear /
  polynomial / exponential) and for ``decay_rate == 0`` (exponential); jaxlr
  reaches ``end_value`` at once / decays to 0. Those degenerate arguments are
  not compared; every test uses ``transition_steps > 0`` and ``decay_rate > 0``.
- optax's ``transition_begin`` is ``jaxlr.shift``; optax clamps a negative one
  to 0 while ``jaxlr.shift`` advances the schedule, so only ``>= 0`` is compared.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr
from equivalence import assert_matches
from equivalence import evaluate as ours_on  # a jaxlr schedule on steps 0..n-1


def evaluate(schedule, n):
    """An optax schedule on steps ``0..n-1``, one step at a time through ``jax.vmap``
    (``piecewise_interpolate_schedule`` and the onecycle schedules built on it
    only accept a scalar step)."""
    values = jax.vmap(schedule)(jnp.arange(_padded(n)))
    return np.asarray(values, dtype=np.float64)[:n]




def _padded(n):
    # Eager jax compiles each operation once per shape: evaluating on a few shared
    # (power-of-two) grid lengths and cutting back keeps the file fast.
    return 1 << max(n - 1, 1).bit_length()


def _id(*parts):
    return "-".join(str(p) for p in parts)


@pytest.mark.parametrize("value", [0.0, 1e-3, 0.5, -0.2])
def test_constant_schedule(x64, value):
    """``optax.constant_schedule(v)`` == ``jaxlr.constant(v)``."""
    n = 50
    assert_matches("optax", ours_on(jaxlr.constant(value), n),
                   evaluate(optax.constant_schedule(value), n), f"constant({value})")


LINEAR = [(1.0, 0.0, 10, 0), (0.0, 0.1, 25, 0), (0.1, 1e-4, 100, 20), (0.5, 0.5, 7, 3),
          (0.3, 0.01, 1, 5), (0.2, 0.05, 12.5, 2.5)]


@pytest.mark.parametrize("init,end,steps,begin", LINEAR, ids=[_id(*c) for c in LINEAR])
def test_linear_schedule(x64, init, end, steps, begin):
    """``optax.linear_schedule(init, end, T, transition_begin=B)`` ==
    ``jaxlr.shift(jaxlr.linear(init, end, T), B)``."""
    n = int(3 * (steps + begin)) + 2
    ours = ours_on(jaxlr.shift(jaxlr.linear(init, end, steps), begin), n)
    ref = evaluate(optax.linear_schedule(init, end, steps, transition_begin=begin), n)
    assert_matches("optax", ours, ref, f"linear_schedule{(init, end, steps, begin)}")


POLY = [(1.0, 0.0, 1.0, 10, 0), (0.1, 1e-4, 2.0, 50, 0), (0.1, 1e-4, 0.5, 50, 10),
        (0.01, 0.1, 3.0, 20, 5), (0.3, 0.0, 0.0, 8, 0), (0.2, 0.01, 1.5, 30, 15)]


@pytest.mark.parametrize("init,end,power,steps,begin", POLY, ids=[_id(*c) for c in POLY])
def test_polynomial_schedule(x64, init, end, power, steps, begin):
    """``optax.polynomial_schedule(init, end, power, T, transition_begin=B)`` ==
    ``jaxlr.shift(jaxlr.polynomial(init, end, T, power), B)``."""
    n = 3 * (steps + begin) + 2
    ours = ours_on(jaxlr.shift(jaxlr.polynomial(init, end, steps, power=power), begin), n)
    ref = evaluate(optax.polynomial_schedule(init, end, power, steps, transition_begin=begin), n)
    assert_matches("optax", ours, ref, f"polynomial_schedule{(init, end, power, steps, begin)}")


EXPONENTIAL = [  # (init, transition_steps, decay_rate, transition_begin, end_value)
    (1.0, 10, 0.5, 0, None), (0.1, 1, 0.96, 0, None), (0.1, 7, 0.9, 15, None),
    (0.1, 10, 0.5, 0, 0.01), (0.1, 5, 0.8, 10, 0.02), (0.01, 4, 1.1, 0, 0.05),
    (0.01, 4, 1.1, 6, None), (0.5, 2.5, 0.7, 3, 1e-3),
]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,steps,rate,begin,end", EXPONENTIAL,
                         ids=[_id(*c) for c in EXPONENTIAL])
def test_exponential_decay(x64, init, steps, rate, begin, end, staircase):
    """``optax.exponential_decay(init, T, rate, transition_begin=B, staircase,
    end_value=e)`` == ``jaxlr.shift(jaxlr.exponential(init, rate, T, staircase,
    end_value=e), B)`` (``end_value`` bounds from below when ``rate < 1``, from
    above otherwise, in both)."""
    n = int(3 * (max(steps, 10) + begin)) + 2
    ours = ours_on(jaxlr.shift(jaxlr.exponential(init, rate, steps, staircase=staircase,
                                                 end_value=end), begin), n)
    ref = evaluate(optax.exponential_decay(init, steps, rate, transition_begin=begin,
                                           staircase=staircase, end_value=end), n)
    assert_matches("optax", ours, ref,
                   f"exponential_decay{(init, steps, rate, begin, end, staircase)}")


@pytest.mark.parametrize("exponent", [1.0, 2.0, 0.5])
@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("init,steps", [(0.1, 10), (1.0, 100), (0.3, 7.5)])
def test_cosine_decay_schedule(x64, init, steps, alpha, exponent):
    """``optax.cosine_decay_schedule(init, T, alpha, exponent)`` ==
    ``jaxlr.cosine(init, T, end_value=alpha * init, exponent=exponent)``."""
    n = int(3 * steps) + 1
    ours = ours_on(jaxlr.cosine(init, steps, end_value=alpha * init, exponent=exponent), n)
    ref = evaluate(optax.cosine_decay_schedule(init, steps, alpha=alpha, exponent=exponent), n)
    assert_matches("optax", ours, ref, f"cosine_decay_schedule{(init, steps, alpha, exponent)}")


WARMUP_COSINE = [  # (init, peak, warmup_steps, decay_steps, end, exponent)
    (0.0, 1.0, 10, 100, 0.0, 1.0), (1e-4, 0.1, 10, 100, 1e-3, 1.0), (0.0, 0.5, 0, 50, 0.05, 1.0),
    (0.01, 0.3, 25, 30, 0.0, 2.0), (0.0, 0.2, 1, 40, 0.02, 0.5), (0.05, 0.05, 5, 20, 0.0, 1.0),
]


@pytest.mark.parametrize("init,peak,warmup_steps,decay_steps,end,exponent", WARMUP_COSINE,
                         ids=[_id(*c) for c in WARMUP_COSINE])
def test_warmup_cosine_decay_schedule(x64, init, peak, warmup_steps, decay_steps, end, exponent):
    """``optax.warmup_cosine_decay_schedule(init, peak, W, T, end, exponent)`` (``T``
    includes the warmup) == ``jaxlr.warmup(jaxlr.cosine(peak, T - W, end,
    exponent), W, init_value=init)``."""
    n = 3 * decay_steps
    ours = ours_on(jaxlr.warmup(jaxlr.cosine(peak, decay_steps - warmup_steps, end_value=end,
                                             exponent=exponent), warmup_steps, init_value=init), n)
    ref = evaluate(optax.warmup_cosine_decay_schedule(init, peak, warmup_steps, decay_steps,
                                                      end_value=end, exponent=exponent), n)
    assert_matches("optax", ours, ref,
                   f"warmup_cosine_decay{(init, peak, warmup_steps, decay_steps, end, exponent)}")


@pytest.mark.parametrize("init,peak,warmup_steps", [(0.0, 0.1, 10), (1e-3, 1.0, 1), (0.2, 0.5, 30)])
def test_warmup_constant_schedule(x64, init, peak, warmup_steps):
    """``optax.warmup_constant_schedule(init, peak, W)`` ==
    ``jaxlr.warmup(jaxlr.constant(peak), W, init_value=init)``."""
    n = 3 * warmup_steps + 5
    ours = ours_on(jaxlr.warmup(jaxlr.constant(peak), warmup_steps, init_value=init), n)
    ref = evaluate(optax.warmup_constant_schedule(init, peak, warmup_steps), n)
    assert_matches("optax", ours, ref, f"warmup_constant{(init, peak, warmup_steps)}")


WARMUP_EXP = [  # (init, peak, warmup_steps, transition_steps, rate, begin, staircase, end)
    (0.0, 0.1, 10, 10, 0.5, 0, False, None), (0.0, 0.1, 10, 10, 0.5, 0, True, None),
    (1e-3, 0.5, 5, 3, 0.9, 10, False, 0.05), (1e-3, 0.5, 5, 3, 0.9, 10, True, 0.05),
    (0.0, 0.01, 20, 7, 1.05, 4, False, 0.03), (0.0, 1.0, 1, 1, 0.97, 0, False, None),
]


@pytest.mark.parametrize("init,peak,warmup_steps,steps,rate,begin,staircase,end", WARMUP_EXP,
                         ids=[_id(*c) for c in WARMUP_EXP])
def test_warmup_exponential_decay_schedule(x64, init, peak, warmup_steps, steps, rate, begin,
                                           staircase, end):
    """``optax.warmup_exponential_decay_schedule(init, peak, W, T, rate, B,
    staircase, end)`` == ``jaxlr.warmup(jaxlr.shift(jaxlr.exponential(peak, rate, T,
    staircase, end), B), W, init_value=init)``."""
    n = 3 * (warmup_steps + begin + 10 * steps)
    decay = jaxlr.shift(jaxlr.exponential(peak, rate, steps, staircase=staircase, end_value=end),
                        begin)
    ours = ours_on(jaxlr.warmup(decay, warmup_steps, init_value=init), n)
    ref = evaluate(optax.warmup_exponential_decay_schedule(
        init, peak, warmup_steps, steps, rate, transition_begin=begin, staircase=staircase,
        end_value=end), n)
    assert_matches("optax", ours, ref,
                   f"warmup_exponential{(init, peak, warmup_steps, steps, rate, begin, end)}")


PIECEWISE = [  # (init, boundaries_and_scales)
    (1.0, {10: 0.1}), (0.1, {10: 0.5, 20: 0.5, 30: 0.5}), (0.3, {0: 0.5, 5: 2.0, 25: 0.01}),
    (0.2, {40: 0.1, 15: 0.3}), (0.5, {3: 0.0, 8: 2.0}), (0.1, None),
]


@pytest.mark.parametrize("init,scales", PIECEWISE, ids=[str(s) for _, s in PIECEWISE])
def test_piecewise_constant_schedule(x64, init, scales):
    """``optax.piecewise_constant_schedule(init, {b_i: s_i})`` (scales compound, the
    boundary step takes the new value) == ``jaxlr.piecewise_constant(sorted b,
    [init, init s_1, init s_1 s_2, ...])``; without boundaries ``constant(init)``."""
    n = 3 * max(scales or {10: None}) + 5
    if scales:
        boundaries = sorted(scales)
        values = [init]
        for b in boundaries:
            values.append(values[-1] * scales[b])
        schedule = jaxlr.piecewise_constant(boundaries, values)
    else:
        schedule = jaxlr.constant(init)
    ref = evaluate(optax.piecewise_constant_schedule(init, scales), n)
    assert_matches("optax", ours_on(schedule, n), ref, f"piecewise_constant{(init, scales)}")


INTERPOLATE = [  # (interpolate_type, init, boundaries_and_scales)
    ("linear", 1.0, {4: 0.1, 8: 0.01}), ("cosine", 1.0, {4: 0.1, 8: 0.01}),
    ("linear", 0.1, {10: 5.0, 30: 0.2, 60: 0.01}), ("cosine", 0.01, {20: 10.0, 50: 0.001}),
]


@pytest.mark.parametrize("kind,init,scales", INTERPOLATE,
                         ids=[_id(k, s) for k, _, s in INTERPOLATE])
def test_piecewise_interpolate_schedule(x64, kind, init, scales):
    """``optax.piecewise_interpolate_schedule(kind, init, {b_i: s_i})`` interpolates
    between the accumulated values ``v_0 = init, v_i = v_{i-1} s_i`` over
    ``[b_{i-1}, b_i)`` (``b_0 = 0``) == ``jaxlr.join([p(v_0, v_1, b_1), p(v_1,
    v_2, b_2 - b_1), ...], [b_1, b_2, ...])`` with ``p(a, b, T) = linear(a, b, T)``
    or ``cosine(a, T, end_value=b)`` (each piece holds its end value)."""
    boundaries = sorted(scales)
    values = [init]
    for b in boundaries:
        values.append(values[-1] * scales[b])
    starts = [0] + boundaries
    pieces = []
    for i, b in enumerate(boundaries):
        length = b - starts[i]
        if kind == "linear":
            pieces.append(jaxlr.linear(values[i], values[i + 1], length))
        else:
            pieces.append(jaxlr.cosine(values[i], length, end_value=values[i + 1]))
    pieces.append(jaxlr.constant(values[-1]))
    n = 3 * boundaries[-1]
    ours = ours_on(jaxlr.join(pieces, boundaries), n)
    ref = evaluate(optax.piecewise_interpolate_schedule(kind, init, scales), n)
    assert_matches("optax", ours, ref, f"piecewise_interpolate{(kind, init, scales)}")


def test_join_schedules(x64):
    """``optax.join_schedules([s_0, s_1, s_2], [b_1, b_2])`` (piece ``i`` sees
    ``t - b_i``) == ``jaxlr.join([...], [b_1, b_2])`` with the jaxlr equivalents
    of the pieces."""
    n = 200
    ref = evaluate(optax.join_schedules(
        [optax.linear_schedule(0.0, 0.1, 10), optax.cosine_decay_schedule(0.1, 50, alpha=0.1),
         optax.exponential_decay(0.01, 10, 0.5)], [10, 60]), n)
    ours = ours_on(jaxlr.join(
        [jaxlr.linear(0.0, 0.1, 10), jaxlr.cosine(0.1, 50, end_value=0.01),
         jaxlr.exponential(0.01, 0.5, 10)], [10, 60]), n)
    assert_matches("optax", ours, ref, "join_schedules(linear, cosine, exponential)")


@pytest.mark.parametrize("boundaries", [[0], [5, 5], [3, 17, 40]], ids=str)
def test_join_schedules_boundaries(x64, boundaries):
    """``optax.join_schedules`` of linear ramps at various boundaries (a boundary
    step belongs to the next piece; a repeated boundary skips a piece) ==
    ``jaxlr.join``."""
    n = 3 * boundaries[-1] + 10
    spec = [(0.1 * (i + 1), 0.01 * i, 3 + 2 * i) for i in range(len(boundaries) + 1)]
    ref = evaluate(optax.join_schedules([optax.linear_schedule(*s) for s in spec], boundaries), n)
    ours = ours_on(jaxlr.join([jaxlr.linear(*s) for s in spec], boundaries), n)
    assert_matches("optax", ours, ref, f"join_schedules{boundaries}")


SGDR = [  # one entry per cycle: (init, peak, warmup_steps, decay_steps, end)
    [(0.0, 0.1, 5, 50, 0.0)] * 4,
    [(1e-3, 0.1, 0, 20, 1e-3)] * 5,
    [(0.0, 0.1, 5, 20, 0.0), (0.0, 0.05, 5, 40, 1e-3), (1e-3, 0.025, 10, 80, 0.0)],
]


@pytest.mark.parametrize("cycles", SGDR, ids=["equal-warmup", "equal-nowarmup", "growing"])
def test_sgdr_schedule(x64, cycles):
    """``optax.sgdr_schedule([kwargs_i])`` (a ``warmup_cosine_decay_schedule`` per
    cycle, each ``decay_steps`` long) == ``jaxlr.join([warmup(cosine(peak_i, T_i -
    W_i, end_i), W_i, init_i) ...], [T_0, T_0 + T_1, ...])``; with identical
    cycles also ``jaxlr.cycle(warmup(cosine(peak, T - W, end), W, init), T)`` on
    the cycles' span (optax's last cycle holds its end value afterwards)."""
    kwargs = [dict(init_value=i, peak_value=p, warmup_steps=w, decay_steps=d, end_value=e)
              for i, p, w, d, e in cycles]
    total = sum(d for *_, d, _ in cycles)
    n = 2 * total
    ref = evaluate(optax.sgdr_schedule(kwargs), n)
    pieces = [jaxlr.warmup(jaxlr.cosine(p, d - w, end_value=e), w, init_value=i)
              for i, p, w, d, e in cycles]
    boundaries = list(np.cumsum([d for *_, d, _ in cycles])[:-1])
    assert_matches("optax", ours_on(jaxlr.join(pieces, boundaries), n), ref,
                   f"sgdr_schedule join{cycles[:2]}")
    if all(c == cycles[0] for c in cycles):
        span = total  # up to the end of the last cycle; afterwards optax holds end_value
        ours = ours_on(jaxlr.cycle(pieces[0], cycles[0][3]), span)
        assert_matches("optax", ours, ref[:span], f"sgdr_schedule cycle{cycles[0]}")


def readme_cosine_onecycle(steps, peak, pct_start, div, final_div):
    """README's ``cosine_onecycle_schedule`` row, with ``b = int(pct_start * T)``:

    - ``0 < b < T``: ``join([cosine(peak/div, b, peak), cosine(peak, T - b,
      peak/(div*final_div))], [b])``;
    - ``b == 0``: ``cosine(peak, T, peak/(div*final_div))``: optax's first
      interval ``[0, 0)`` is empty (``jaxlr.cosine`` needs ``decay_steps > 0``,
      so the join form cannot be built);
    - ``b == T``: optax builds ``{b: div, T: 1/(div*final_div)}``, a dict whose
      second key replaces the first, so it decays from ``peak/div`` to
      ``peak/(div**2 * final_div)`` and never reaches ``peak``.
    """
    b = int(pct_start * steps)
    initial, final = peak / div, peak / (div * final_div)
    if b == 0:
        return jaxlr.cosine(peak, steps, end_value=final)
    if b == steps:
        return jaxlr.cosine(initial, steps, end_value=final / div)
    return jaxlr.join([jaxlr.cosine(initial, b, end_value=peak),
                       jaxlr.cosine(peak, steps - b, end_value=final)], [b])


ONECYCLE = [  # (transition_steps, peak, pct_start, div_factor, final_div_factor)
    (100, 0.1, 0.3, 25.0, 1e4), (50, 1.0, 0.25, 10.0, 100.0), (77, 0.3, 0.5, 25.0, 1e4),
    (10, 0.5, 0.15, 5.0, 10.0), (37, 0.037, 0.37, 7.5, 33.0), (10, 0.5, 0.95, 5.0, 10.0),
    # b = int(pct_start * T) == 0
    (10, 0.5, 0.05, 5.0, 10.0), (100, 0.1, 0.0, 25.0, 1e4), (7, 1.0, 0.1, 10.0, 100.0),
    (1, 0.3, 0.5, 25.0, 1e4),
    # b == T
    (20, 0.1, 1.0, 25.0, 1e4), (9, 0.7, 1.0, 4.0, 3.0),
]


@pytest.mark.parametrize("steps,peak,pct_start,div,final_div", ONECYCLE,
                         ids=[_id(*c) for c in ONECYCLE])
def test_cosine_onecycle_schedule(x64, steps, peak, pct_start, div, final_div):
    """``optax.cosine_onecycle_schedule(T, peak, pct_start, div, final_div)`` ==
    ``readme_cosine_onecycle(...)`` (README's row: a ``join`` of two cosines at
    ``b = int(pct_start * T)`` for ``0 < b < T``, one cosine for ``b == 0`` and
    for ``b == T``).

    (``jaxlr.one_cycle`` follows PyTorch's ``OneCycleLR``, whose phases end at
    ``pct_start * T - 1`` and ``T - 1``: a different schedule.)
    """
    n = 3 * steps + 8
    ref = evaluate(optax.cosine_onecycle_schedule(steps, peak, pct_start, div, final_div), n)
    ours = ours_on(readme_cosine_onecycle(steps, peak, pct_start, div, final_div), n)
    assert_matches("optax", ours, ref, f"cosine_onecycle{(steps, peak, pct_start, div, final_div)}")


LINEAR_ONECYCLE = [  # (transition_steps, peak, pct_start, pct_final, div, final_div)
    (100, 0.1, 0.3, 0.85, 25.0, 1e4), (50, 1.0, 0.2, 0.6, 10.0, 100.0),
    (77, 0.3, 0.45, 0.9, 25.0, 1e4), (10, 0.5, 0.2, 0.8, 5.0, 10.0),
]


@pytest.mark.parametrize("steps,peak,pct_start,pct_final,div,final_div", LINEAR_ONECYCLE,
                         ids=[_id(*c) for c in LINEAR_ONECYCLE])
def test_linear_onecycle_schedule(x64, steps, peak, pct_start, pct_final, div, final_div):
    """``optax.linear_onecycle_schedule(T, peak, pct_start, pct_final, div,
    final_div)`` == ``jaxlr.join([linear(peak/div, peak, b1), linear(peak, peak/div,
    b2 - b1), linear(peak/div, peak/(div*final_div), T - b2)], [b1, b2])`` with
    ``b1 = int(pct_start * T)``, ``b2 = int(pct_final * T)``."""
    b1, b2 = int(pct_start * steps), int(pct_final * steps)
    initial = peak / div
    schedule = jaxlr.join([jaxlr.linear(initial, peak, b1), jaxlr.linear(peak, initial, b2 - b1),
                           jaxlr.linear(initial, initial / final_div, steps - b2)], [b1, b2])
    n = 3 * steps
    ref = evaluate(optax.linear_onecycle_schedule(steps, peak, pct_start, pct_final, div,
                                                  final_div), n)
    assert_matches("optax", ours_on(schedule, n), ref,
                   f"linear_onecycle{(steps, peak, pct_start, pct_final, div, final_div)}")
