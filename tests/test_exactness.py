"""The floating-point fixes, one regression test each, in the way optax calls a schedule.

``tests/test_optax_call.py`` checks the whole class over random hyperparameters;
these pin the configurations where each bug was seen, so that a regression
names itself.
"""

from fractions import Fraction

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr

INT32_MAX = 2**31 - 1


def jit_on_int32(schedule, steps):
    """``jax.jit(schedule)`` on each scalar int32 step, as optax evaluates it."""
    fn = jax.jit(schedule)
    return np.array([float(fn(jnp.int32(t))) for t in steps])


@pytest.fixture(params=["float32", "float64"])
def dtype(request):
    with jax.enable_x64(request.param == "float64"):
        yield request.param


@pytest.mark.parametrize("power", [0.9, 0.5, 0.3, 2.5])
def test_polynomial_past_its_horizon_is_end_value_under_jit(dtype, power):
    # XLA's x * (1/T) made 1 - t/T slightly negative: NaN for power 0.9, and a
    # residue (~3e-6 instead of 0) for powers below 1
    schedule = jaxlr.polynomial(0.1, 0.0, 1000, power)
    assert np.all(jit_on_int32(schedule, [1000, 1001, 5000, INT32_MAX]) == 0.0)
    optimizer = optax.sgd(schedule)
    params = jnp.ones(2)
    state = optimizer.init(params)
    update = jax.jit(optimizer.update)
    for _ in range(1002):
        updates, state = update(params, state, params)
        params = optax.apply_updates(params, updates)
    assert np.all(np.isfinite(params))


@pytest.mark.parametrize("decay_steps", [7, 13, 1000, 2.5])
def test_polynomial_cycle_is_end_value_at_every_multiple(dtype, decay_steps):
    # ceil(t / T) of a rounded quotient landed in the next period at some multiples
    schedule = jaxlr.polynomial(1.0, 0.25, decay_steps, 0.5, cycle=True)
    steps = [int(k * decay_steps) for k in range(1, 201) if (k * decay_steps) % 1 == 0]
    assert np.all(jit_on_int32(schedule, steps) == 0.25)


@pytest.mark.parametrize("period,t_mul", [(6, 3.5), (25, 1.75), (20, 2.5), (25, 1.375), (4, 1.5),
                                          (84140, 1.015015929476309), (59, 1.146040137520337)])
def test_restarts_restart_at_every_period_start(dtype, period, t_mul):
    # a start computed as P (m**i - 1)/(m - 1) a few ulps off (or cancelled for m
    # near 1) left the step at a period start in the previous period
    schedule = jaxlr.cosine_restarts(1.0, period, t_mul, 1.0, 0.0)
    starts, start, length = [], Fraction(0), Fraction(period)
    m = Fraction(t_mul)
    while start < 2**30:
        start += length
        length *= m
        starts.append(start)
    integer_starts = [int(s) for s in starts if s.denominator == 1][:12]
    if not integer_starts:
        pytest.skip("no period starts on an integer step")
    values = jit_on_int32(schedule, integer_starts)
    np.testing.assert_array_equal(values, 1.0)


def test_restarts_near_one_t_mul_lands_in_the_right_period():
    # float32 m**2 - 1 cancelled: S_2 = 169543.44 was computed below 169543
    schedule = jaxlr.cosine_restarts(0.0115624151, 84140, 1.015015929476309, 0.8359725459535656,
                                     0.1920781314227497)
    value = jit_on_int32(schedule, [169543])[0]
    assert value == pytest.approx(0.1920781314227497, rel=1e-5)  # still the end of period 1


def test_cyclic_stays_in_range_and_in_phase_at_large_int32_steps(dtype):
    # float32 t - P floor(t / P) at t near 2**31 gave lr -12.2 for base 0.1, max 1.0
    schedule = jaxlr.cyclic(0.1, 1.0, 7)
    steps = [INT32_MAX - k for k in range(0, 30)] + [2**24 + k for k in range(-3, 4)]
    values = jit_on_int32(schedule, steps)
    assert np.all((values >= 0.1) & (values <= 1.0))
    phase = np.array([t % 14 for t in steps])
    expected = 0.1 + 0.9 * np.where(phase <= 7, phase / 7, (14 - phase) / 7)
    np.testing.assert_allclose(values, expected, rtol=1e-6)


def test_cycle_and_per_epoch_are_exact_at_int32_max(dtype):
    assert jit_on_int32(jaxlr.cycle(jaxlr.linear(1.0, 0.0, 10), 7), [INT32_MAX])[0] == \
        pytest.approx(1.0 - (INT32_MAX % 7) / 10)
    epochs = jit_on_int32(jaxlr.per_epoch(lambda e: e, 235), [INT32_MAX, 235 * 9_000_000 - 1])
    assert epochs.tolist() == [INT32_MAX // 235, 9_000_000 - 1]


def test_numpy_int64_steps_beyond_int32_are_not_wrapped():
    schedule = jaxlr.linear(1.0, 0.0, 2**33)
    assert float(schedule(np.int64(2**33))) == 0.0  # was schedule(0) = 1.0: wrapped to 0
    assert float(schedule(np.int64(2**32))) == pytest.approx(0.5)
    assert float(jaxlr.cycle(jaxlr.linear(1.0, 0.0, 10), 7)(np.int64(2**33))) == \
        pytest.approx(1.0 - (2**33 % 7) / 10)


@pytest.mark.parametrize("decay", ["linear", "cosine", "1-sqrt"])
def test_wsd_warmup_ramps_to_the_peak_even_without_stable_and_decay_phases(decay):
    schedule = jaxlr.warmup_stable_decay(1.0, 10, 0, 0, end_value=0.1, decay=decay)
    np.testing.assert_allclose(jit_on_int32(schedule, [0, 5, 9, 10, 11]),
                               [0.0, 0.5, 0.9, 0.1, 0.1], rtol=1e-6)


def test_one_cycle_zero_length_phase_is_at_its_end_for_cos_as_for_linear():
    cos = jaxlr.one_cycle(1.0, 10, pct_start=0.1, div_factor=10, final_div_factor=100)
    lin = jaxlr.one_cycle(1.0, 10, pct_start=0.1, div_factor=10, final_div_factor=100,
                          anneal="linear")
    assert jit_on_int32(cos, [0])[0] == pytest.approx(1.0)
    assert jit_on_int32(lin, [0])[0] == pytest.approx(1.0)
