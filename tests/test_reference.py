"""Equivalence of jaxlr schedules with other libraries' schedules, on dense step grids.

Each test builds a jaxlr expression (inside the test, under the ``x64`` fixture,
so jaxlr computes in float64 like the oracles), evaluates it once, vectorised,
on ``np.arange(n)`` with ``n`` about three times the schedule's horizon, and
compares it with the independent oracle of ``tests/reference.py`` (a
transcription of the other library's code) through
:func:`equivalence.assert_matches` (rtol 1e-6, atol 1e-12).

Step conventions (jaxlr's ``step`` is the 0-based number of updates already
applied; the first update uses ``schedule(0)``):

- Keras/TF, Hugging Face (``LambdaLR``), timm and Smith's CLR callback all pass
  that same 0-based count: ``ours(t)`` is compared with ``oracle(t)``.
- MXNet queries its scheduler with the 1-based update count ``n = t + 1``
  (``reference.mxnet_lrs_for_updates``); ``ours(t)`` is compared with the lr
  of update ``t + 1``.
- d2l's PyTorch-tab schedulers are called with the epoch (or update) number;
  see each d2l test for the indexing used.
"""

from __future__ import annotations


import jax
import numpy as np
import pytest

import jaxlr
import reference
from equivalence import assert_matches, evaluate
from porting import hf_wsd


def oracle(fn, n, *args, **kwargs):
    """A stateless reference evaluated at every step ``0..n-1``."""
    return np.array([fn(t, *args, **kwargs) for t in range(n)], dtype=np.float64)


def _id(*parts):
    return "-".join(str(p) for p in parts)


# =============================================================================
# Keras 3 / TensorFlow
# =============================================================================

EXPONENTIAL = [  # (initial_learning_rate, decay_steps, decay_rate)
    (0.1, 1, 0.96), (0.1, 10, 0.5), (1.0, 7, 0.9), (0.05, 100, 0.1),
    (0.01, 3, 1.05), (0.3, 2.5, 0.8),
]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,decay_steps,rate", EXPONENTIAL, ids=[_id(*c) for c in EXPONENTIAL])
def test_keras_exponential_decay(x64, init, decay_steps, rate, staircase):
    """Keras ``ExponentialDecay(init, decay_steps, rate, staircase)`` ==
    ``jaxlr.exponential(init, rate, decay_steps, staircase)``."""
    n = int(3 * max(decay_steps, 10)) + 1
    ours = evaluate(jaxlr.exponential(init, rate, decay_steps, staircase=staircase), n)
    ref = oracle(reference.keras_exponential_decay, n, init, decay_steps, rate, staircase)
    assert_matches("keras/tf", ours, ref, f"ExponentialDecay{(init, decay_steps, rate, staircase)}")


POLYNOMIAL = [  # (initial_learning_rate, decay_steps, end_learning_rate, power)
    (0.1, 10, 1e-4, 1.0), (0.1, 10, 0.0, 2.0), (0.1, 25, 1e-4, 0.5), (0.1, 25, 0.01, 3.0),
    (1.0, 100, 0.0, 1.0), (1.0, 100, 1e-4, 2.0), (0.5, 7, 0.05, 0.5), (0.5, 7, 0.0, 3.0),
    (0.01, 20, 0.1, 1.0), (0.01, 20, 0.1, 2.0),  # increasing
    (0.2, 12, 0.02, 0.0),
]


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("init,decay_steps,end,power", POLYNOMIAL,
                         ids=[_id(*c) for c in POLYNOMIAL])
def test_keras_polynomial_decay(x64, init, decay_steps, end, power, cycle):
    """Keras ``PolynomialDecay(init, decay_steps, end, power, cycle)`` ==
    ``jaxlr.polynomial(init, end, decay_steps, power, cycle)``."""
    n = 3 * decay_steps + 2
    ours = evaluate(jaxlr.polynomial(init, end, decay_steps, power=power, cycle=cycle), n)
    ref = oracle(reference.keras_polynomial_decay, n, init, decay_steps, end, power, cycle)
    assert_matches("keras/tf", ours, ref,
                   f"PolynomialDecay{(init, decay_steps, end, power, cycle)}")


INVERSE_TIME = [  # (initial_learning_rate, decay_steps, decay_rate)
    (0.1, 1, 0.5), (0.1, 10, 0.5), (1.0, 7, 2.0), (0.05, 100, 0.1), (0.3, 2.5, 1.0),
]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,decay_steps,rate", INVERSE_TIME,
                         ids=[_id(*c) for c in INVERSE_TIME])
def test_keras_inverse_time_decay(x64, init, decay_steps, rate, staircase):
    """Keras ``InverseTimeDecay(init, decay_steps, rate, staircase)`` ==
    ``jaxlr.inverse_time(init, rate, decay_steps, staircase)``."""
    n = int(3 * max(decay_steps, 10)) + 1
    ours = evaluate(jaxlr.inverse_time(init, rate, decay_steps, staircase=staircase), n)
    ref = oracle(reference.keras_inverse_time_decay, n, init, decay_steps, rate, staircase)
    assert_matches("keras/tf", ours, ref, f"InverseTimeDecay{(init, decay_steps, rate, staircase)}")


PIECEWISE = [  # (boundaries, values)
    ([10], [1.0, 0.5]),
    ([10, 20], [0.1, 0.01, 0.001]),
    ([5, 15, 30], [1.0, 0.5, 0.25, 0.1]),
    ([0, 10], [1.0, 0.3, 0.1]),          # boundary at step 0: values[0] only at t = 0
    ([10, 10, 20], [1.0, 0.7, 0.5, 0.2]),  # repeated boundary: values[1] never used
    ([2.5, 7.5], [0.3, 0.2, 0.1]),       # fractional boundaries
    ([3, 4, 5, 6], [0.5, 1.0, 0.25, 2.0, 0.0]),  # non-monotone values, a zero
]


@pytest.mark.parametrize("boundaries,values", PIECEWISE, ids=[str(b) for b, _ in PIECEWISE])
def test_keras_piecewise_constant_decay(x64, boundaries, values):
    """Keras ``PiecewiseConstantDecay(boundaries, values)`` (a boundary step still
    takes the old value) == ``jaxlr.piecewise_constant(boundaries, values,
    inclusive=False)``."""
    n = int(3 * boundaries[-1]) + 5
    ours = evaluate(jaxlr.piecewise_constant(boundaries, values, inclusive=False), n)
    ref = oracle(reference.keras_piecewise_constant_decay, n, boundaries, values)
    assert_matches("keras/tf", ours, ref, f"PiecewiseConstantDecay{(boundaries, values)}")


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("init,decay_steps", [(0.1, 10), (1.0, 50), (0.3, 100), (0.5, 7.5)])
def test_keras_cosine_decay(x64, init, decay_steps, alpha):
    """Keras ``CosineDecay(init, decay_steps, alpha)`` ==
    ``jaxlr.cosine(init, decay_steps, end_value=alpha * init)``."""
    n = int(3 * decay_steps) + 1
    ours = evaluate(jaxlr.cosine(init, decay_steps, end_value=alpha * init), n)
    ref = oracle(reference.keras_cosine_decay, n, init, decay_steps, alpha)
    assert_matches("keras/tf", ours, ref, f"CosineDecay{(init, decay_steps, alpha)}")


COSINE_WARMUP = [  # (initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps)
    (0.0, 100, 0.0, 0.1, 10), (0.0, 100, 0.1, 0.1, 10), (1e-3, 50, 0.0, 0.5, 20),
    (1e-3, 50, 0.2, 0.5, 5), (0.0, 30, 0.0, 1.0, 1), (0.01, 30, 0.05, 0.3, 30),
    (0.0, 40, 0.0, 0.2, 0), (0.2, 40, 0.1, 0.05, 10),  # warmup_steps 0; a decreasing "warmup"
]


@pytest.mark.parametrize("init,decay_steps,alpha,target,warmup_steps", COSINE_WARMUP,
                         ids=[_id(*c) for c in COSINE_WARMUP])
def test_keras3_cosine_decay_warmup(x64, init, decay_steps, alpha, target, warmup_steps):
    """Keras 3 ``CosineDecay(init, decay_steps, alpha, warmup_target=v*,
    warmup_steps=W)`` == ``jaxlr.warmup(jaxlr.cosine(v*, decay_steps, alpha * v*),
    W, init_value=init, prefix=True)``."""
    n = 3 * (decay_steps + warmup_steps) + 1
    schedule = jaxlr.warmup(jaxlr.cosine(target, decay_steps, end_value=alpha * target),
                            warmup_steps, init_value=init, prefix=True)
    ref = oracle(reference.keras_cosine_decay, n, init, decay_steps, alpha, target, warmup_steps)
    assert_matches("keras/tf", evaluate(schedule, n), ref,
                   f"CosineDecay warmup{(init, decay_steps, alpha, target, warmup_steps)}")


@pytest.mark.parametrize("alpha", [0.0, 0.1])
@pytest.mark.parametrize("m_mul", [1.0, 0.8])
@pytest.mark.parametrize("t_mul", [1.0, 2.0, 1.5])
@pytest.mark.parametrize("init,first_decay_steps", [(0.1, 10), (1.0, 7)])
def test_keras_cosine_decay_restarts(x64, init, first_decay_steps, t_mul, m_mul, alpha):
    """Keras ``CosineDecayRestarts(init, T0, t_mul, m_mul, alpha)`` ==
    ``jaxlr.cosine_restarts(init, T0, t_mul, m_mul, end_value=alpha * init)``."""
    n = 300 if t_mul != 1.0 else 10 * first_decay_steps
    schedule = jaxlr.cosine_restarts(init, first_decay_steps, t_mul=t_mul, m_mul=m_mul,
                                     end_value=alpha * init)
    ref = oracle(reference.keras_cosine_decay_restarts, n, init, first_decay_steps, t_mul,
                 m_mul, alpha)
    assert_matches("keras/tf", evaluate(schedule, n), ref,
                   f"CosineDecayRestarts{(init, first_decay_steps, t_mul, m_mul, alpha)}")


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,decay_steps,rate", [(0.1, 1, 0.1), (0.1, 10, 0.5), (1.0, 25, 1.0),
                                                   (0.5, 4, 0.05)])
def test_tf_natural_exp_decay(x64, init, decay_steps, rate, staircase):
    """TF ``natural_exp_decay(lr, step, decay_steps, rate, staircase)`` ==
    ``jaxlr.natural_exp(lr, rate, decay_steps, staircase)``."""
    n = 3 * max(decay_steps, 20) + 1
    ours = evaluate(jaxlr.natural_exp(init, rate, decay_steps, staircase=staircase), n)
    ref = oracle(reference.tf_natural_exp_decay, n, init, decay_steps, rate, staircase)
    assert_matches("keras/tf", ours, ref,
                   f"natural_exp_decay{(init, decay_steps, rate, staircase)}")


@pytest.mark.parametrize("alpha,beta", [(0.0, 0.001), (0.1, 0.01), (0.0, 0.0)])
@pytest.mark.parametrize("num_periods", [0.5, 1.0, 2.5])
@pytest.mark.parametrize("init,decay_steps", [(0.1, 20), (1.0, 100)])
def test_tf_linear_cosine_decay(x64, init, decay_steps, num_periods, alpha, beta):
    """TF ``linear_cosine_decay(lr, step, T, num_periods, alpha, beta)`` ==
    ``jaxlr.linear_cosine(lr, T, num_periods, alpha, beta)``."""
    n = 3 * decay_steps + 1
    ours = evaluate(jaxlr.linear_cosine(init, decay_steps, num_periods, alpha, beta), n)
    ref = oracle(reference.tf_linear_cosine_decay, n, init, decay_steps, num_periods, alpha, beta)
    assert_matches("keras/tf", ours, ref,
                   f"linear_cosine_decay{(init, decay_steps, num_periods, alpha, beta)}")


NOISY = [  # (seed, init, decay_steps, initial_variance, variance_decay, num_periods, alpha, beta)
    (0, 0.1, 40, 1.0, 0.55, 0.5, 0.0, 0.001),
    (1, 0.1, 40, 1.0, 0.55, 0.5, 0.0, 0.001),
    (2, 1.0, 50, 0.5, 0.3, 2.0, 0.1, 0.01),
    (3, 0.3, 25, 2.0, 1.0, 1.5, 0.0, 0.0),
    (4, 0.3, 25, 0.1, 0.0, 0.5, 0.2, 0.001),
]


@pytest.mark.parametrize("seed,init,decay_steps,variance,variance_decay,num_periods,alpha,beta",
                         NOISY, ids=[_id(*c[:5]) for c in NOISY])
def test_tf_noisy_linear_cosine_decay(x64, seed, init, decay_steps, variance, variance_decay,
                                      num_periods, alpha, beta):
    """TF ``noisy_linear_cosine_decay`` fed jaxlr's own standard-normal draws ==
    ``jaxlr.noisy_linear_cosine(lr, T, key, initial_variance, variance_decay,
    num_periods, alpha, beta)``.

    jaxlr's draw at step ``t`` is ``jax.random.normal(jax.random.fold_in(key,
    t))``; each is reproduced here one by one and passed to the TF oracle as
    its ``random_normal`` draw (TF itself draws fresh noise at every call).
    """
    key = jax.random.key(seed)
    n = 3 * decay_steps + 1
    schedule = jaxlr.noisy_linear_cosine(init, decay_steps, key, variance, variance_decay,
                                         num_periods, alpha, beta)
    draws = [float(jax.random.normal(jax.random.fold_in(key, t))) for t in range(n)]
    ref = np.array([reference.tf_noisy_linear_cosine_decay(
        t, init, decay_steps, variance, variance_decay, num_periods, alpha, beta, noise=z)
        for t, z in enumerate(draws)])
    assert_matches("keras/tf", evaluate(schedule, n), ref,
                   f"noisy_linear_cosine_decay{(seed, init, decay_steps, variance)}")


@pytest.mark.parametrize("num_periods,alpha,beta", [(0.5, 0.0, 0.001), (2.0, 0.1, 0.01),
                                                    (1.5, 0.0, 0.0)])
def test_tf_noisy_linear_cosine_zero_variance(x64, num_periods, alpha, beta):
    """With ``initial_variance=0`` TF ``noisy_linear_cosine_decay`` is
    ``linear_cosine_decay``: ``jaxlr.noisy_linear_cosine(..., initial_variance=0)``
    matches the TF linear-cosine oracle (and jaxlr's ``linear_cosine`` exactly)."""
    init, decay_steps, n = 0.2, 30, 91
    noisy = evaluate(jaxlr.noisy_linear_cosine(init, decay_steps, jax.random.key(7), 0.0, 0.55,
                                               num_periods, alpha, beta), n)
    ref = oracle(reference.tf_linear_cosine_decay, n, init, decay_steps, num_periods, alpha, beta)
    assert_matches("keras/tf", noisy, ref, f"noisy variance 0{(num_periods, alpha, beta)}")
    plain = evaluate(jaxlr.linear_cosine(init, decay_steps, num_periods, alpha, beta), n)
    np.testing.assert_array_equal(noisy, plain)


@pytest.mark.parametrize("lr,decay", [(0.1, 1e-3), (0.01, 0.1), (1.0, 1e-6), (0.1, 0.0),
                                      (0.05, 0.5)])
def test_keras_legacy_sgd_decay(x64, lr, decay):
    """Keras 2 ``SGD(lr, decay=d)`` (``lr / (1 + d * iterations)``) ==
    ``jaxlr.inverse_time(lr, d, 1)``."""
    n = 500
    ours = evaluate(jaxlr.inverse_time(lr, decay, 1), n)
    ref = oracle(reference.keras_legacy_sgd_lr, n, lr, decay)
    assert_matches("keras/tf", ours, ref, f"SGD(decay){(lr, decay)}")


# =============================================================================
# MXNet (called with the 1-based update count n = t + 1)
# =============================================================================
#
# MXNet's warmup covers updates n < W, i.e. t < W - 1, with the ramp at n:
# begin + (base - begin) * n / W.  jaxlr's warmup ramps on its own argument, so
# the whole expression is evaluated on n with ``jaxlr.shift(..., -1)`` (which
# feeds t + 1); the decay part, written for t, is moved back onto n with
# ``jaxlr.shift(..., 1)`` where its MXNet form counts from 0 (factor,
# multistep), or is prefixed (poly, cosine count from W).

MX_WARMUPS = [None, (5, 0.0, "linear"), (8, 1e-3, "linear"), (6, 2e-3, "constant")]


def _mx_warmup_id(w):
    return "nowarmup" if w is None else _id(*w)


def _mx_absolute(decay, warmup, base_lr):
    """MXNet expression for a decay ``decay(t)`` on absolute steps, with MXNet's warmup."""
    if warmup is None:
        return decay
    steps, begin, mode = warmup
    on_updates = jaxlr.warmup(jaxlr.shift(decay, 1), steps, init_value=begin, mode=mode,
                              prefix=False, peak_value=base_lr)
    return jaxlr.shift(on_updates, -1)


def _mx_prefixed(decay_after_warmup, warmup):
    """MXNet expression for a schedule that restarts its clock after the warmup (n - W)."""
    if warmup is None:
        return jaxlr.shift(decay_after_warmup, -1)
    steps, begin, mode = warmup
    return jaxlr.shift(jaxlr.warmup(decay_after_warmup, steps, init_value=begin, mode=mode,
                                    prefix=True), -1)


def _mx_kwargs(warmup):
    if warmup is None:
        return {}
    steps, begin, mode = warmup
    return {"warmup_steps": steps, "warmup_begin_lr": begin, "warmup_mode": mode}


@pytest.mark.parametrize("warmup", MX_WARMUPS, ids=_mx_warmup_id)
@pytest.mark.parametrize("step,factor,stop", [(10, 0.5, 1e-8), (7, 0.9, 1e-3), (1, 0.95, 1e-2),
                                              (25, 0.1, 1e-5)])
def test_mxnet_factor_scheduler(x64, step, factor, stop, warmup):
    """MXNet ``FactorScheduler(step, factor, stop_factor_lr, base_lr, warmup...)``:
    ``jaxlr.factor(base_lr, factor, step, min_value=stop)`` on t (MXNet decays
    ``ceil(n/step) - 1 = floor(t/step)`` times; the count runs from update 0,
    not from the end of the warmup); with warmup ``W``:
    ``shift(warmup(shift(factor(...), 1), W, begin, mode, prefix=False,
    peak_value=base_lr), -1)``."""
    base_lr, n = 0.1, 3 * max(step, 20) * 4
    decay = jaxlr.factor(base_lr, factor, step, min_value=stop)
    ours = evaluate(_mx_absolute(decay, warmup, base_lr), n)
    ref = reference.mxnet_lrs_for_updates(
        reference.MXFactorScheduler(step, factor, stop, base_lr, **_mx_kwargs(warmup)), n)
    assert_matches("mxnet", ours, ref, f"FactorScheduler{(step, factor, stop, warmup)}")


@pytest.mark.parametrize("warmup", MX_WARMUPS[:2] + MX_WARMUPS[3:], ids=_mx_warmup_id)
@pytest.mark.parametrize("factor", [0.5, 0.1])
@pytest.mark.parametrize("steps", [[10], [10, 20, 30], [7, 8, 50], [3, 12]])
def test_mxnet_multifactor_scheduler(x64, steps, factor, warmup):
    """MXNet ``MultiFactorScheduler(step, factor, base_lr, warmup...)`` (decays
    once ``n > step[k]``, i.e. ``t >= step[k]``) ==
    ``jaxlr.multistep(base_lr, step, factor)`` on t; warmup as for
    ``FactorScheduler`` (milestones stay absolute)."""
    base_lr, n = 0.1, 3 * steps[-1] + 10
    decay = jaxlr.multistep(base_lr, steps, factor)
    ours = evaluate(_mx_absolute(decay, warmup, base_lr), n)
    ref = reference.mxnet_lrs_for_updates(
        reference.MXMultiFactorScheduler(steps, factor, base_lr, **_mx_kwargs(warmup)), n)
    assert_matches("mxnet", ours, ref, f"MultiFactorScheduler{(steps, factor, warmup)}")


@pytest.mark.parametrize("warmup", [None, (10, 0.0, "linear"), (10, 1e-3, "constant")],
                         ids=_mx_warmup_id)
@pytest.mark.parametrize("final_lr", [0.0, 1e-4])
@pytest.mark.parametrize("pwr", [1, 2, 0.5])
@pytest.mark.parametrize("max_update", [50, 100])
def test_mxnet_poly_scheduler(x64, max_update, pwr, final_lr, warmup):
    """MXNet ``PolyScheduler(max_update, base_lr, pwr, final_lr, warmup...)`` ==
    ``shift(warmup(polynomial(base_lr, final_lr, max_update - W, pwr), W, begin,
    mode, prefix=True), -1)`` (no warmup: ``shift(polynomial(base_lr, final_lr,
    max_update, pwr), -1)``; the first update already uses ``n = 1``)."""
    base_lr, n = 0.1, 3 * max_update
    w = 0 if warmup is None else warmup[0]
    decay = jaxlr.polynomial(base_lr, final_lr, max_update - w, power=pwr)
    ours = evaluate(_mx_prefixed(decay, warmup), n)
    ref = reference.mxnet_lrs_for_updates(
        reference.MXPolyScheduler(max_update, base_lr, pwr, final_lr, **_mx_kwargs(warmup)), n)
    assert_matches("mxnet", ours, ref, f"PolyScheduler{(max_update, pwr, final_lr, warmup)}")


@pytest.mark.parametrize("warmup", [None, (10, 0.0, "linear"), (5, 1e-3, "linear"),
                                    (10, 1e-3, "constant")], ids=_mx_warmup_id)
@pytest.mark.parametrize("final_lr", [0.0, 1e-3])
@pytest.mark.parametrize("max_update", [50, 100])
def test_mxnet_cosine_scheduler(x64, max_update, final_lr, warmup):
    """MXNet ``CosineScheduler(max_update, base_lr, final_lr, warmup...)`` ==
    ``shift(warmup(cosine(base_lr, max_update - W, final_lr), W, begin, mode,
    prefix=True), -1)``."""
    base_lr, n = 0.1, 3 * max_update
    w = 0 if warmup is None else warmup[0]
    decay = jaxlr.cosine(base_lr, max_update - w, end_value=final_lr)
    ours = evaluate(_mx_prefixed(decay, warmup), n)
    ref = reference.mxnet_lrs_for_updates(
        reference.MXCosineScheduler(max_update, base_lr, final_lr, **_mx_kwargs(warmup)), n)
    assert_matches("mxnet", ours, ref, f"CosineScheduler{(max_update, final_lr, warmup)}")


# =============================================================================
# d2l (PyTorch tab of chapter "Learning Rate Scheduling")
# =============================================================================


@pytest.mark.parametrize("lr", [0.1, 1.0, 0.3])
def test_d2l_square_root_scheduler(x64, lr):
    """d2l ``SquareRootScheduler(lr)``: ``scheduler(t) = lr * (t + 1) ** -0.5`` ==
    ``jaxlr.inverse_sqrt(lr, 1)(t)``.

    Indexing: ``ours(t)`` is compared with ``scheduler(t)``, the value for the
    argument ``t`` (as in d2l's plots; its training loop then assigns
    ``scheduler(epoch)`` for the following epoch).
    """
    n = 300
    ref = reference.run_stateful(reference.D2LSquareRootScheduler(lr), range(n))
    assert_matches("d2l", evaluate(jaxlr.inverse_sqrt(lr, 1.0), n), ref,
                   f"SquareRootScheduler({lr})")


D2L_FACTOR = [(0.9, 1e-2, 2.0), (0.5, 1e-7, 0.1), (0.99, 1e-3, 0.5)]


@pytest.mark.parametrize("factor,stop,lr", D2L_FACTOR, ids=[_id(*c) for c in D2L_FACTOR])
def test_d2l_factor_scheduler_per_epoch(x64, factor, stop, lr):
    """d2l ``FactorScheduler(factor, stop_factor_lr, base_lr)`` in d2l's training
    loop == ``jaxlr.factor(lr, factor, 1, stop)`` on epochs (the jaxlr docstring's
    mapping).

    Indexing: the scheduler ignores its argument and multiplies on *every*
    call; d2l's loop trains epoch 0 with the optimizer's lr and, after each
    epoch ``e``, assigns ``scheduler(e)`` for epoch ``e + 1``. So the lr of
    epoch ``e`` is ``lr`` for ``e = 0`` and the ``e``-th call's value after.
    """
    n = 200
    calls = reference.run_stateful(reference.D2LFactorScheduler(factor, stop, lr), range(n - 1))
    ref = [lr] + calls
    assert_matches("d2l", evaluate(jaxlr.factor(lr, factor, 1, min_value=stop), n), ref,
                   f"FactorScheduler per epoch{(factor, stop, lr)}")


@pytest.mark.parametrize("factor,stop,lr", D2L_FACTOR, ids=[_id(*c) for c in D2L_FACTOR])
def test_d2l_factor_scheduler_calls(x64, factor, stop, lr):
    """d2l ``FactorScheduler``: its ``k``-th call (0-based, as in d2l's plot
    ``[scheduler(t) for t in range(...)]``) returns ``max(stop, lr * f**(k+1))``
    == ``jaxlr.shift(jaxlr.factor(lr, factor, 1, stop), -1)(k)``."""
    n = 200
    ref = reference.run_stateful(reference.D2LFactorScheduler(factor, stop, lr), range(n))
    ours = evaluate(jaxlr.shift(jaxlr.factor(lr, factor, 1, min_value=stop), -1), n)
    assert_matches("d2l", ours, ref, f"FactorScheduler calls{(factor, stop, lr)}")


D2L_COSINE = [  # (max_update, base_lr, final_lr, warmup_steps, warmup_begin_lr)
    (20, 0.3, 0.01, 0, 0.0), (20, 0.3, 0.01, 5, 0.0), (50, 0.5, 0.0, 10, 0.01),
    (100, 0.1, 1e-3, 0, 0.0), (30, 0.3, 0.01, 5, 0.1), (40, 0.2, 0.0, 1, 0.0),
]


@pytest.mark.parametrize("max_update,base_lr,final_lr,warmup_steps,begin", D2L_COSINE,
                         ids=[_id(*c) for c in D2L_COSINE])
def test_d2l_cosine_scheduler(x64, max_update, base_lr, final_lr, warmup_steps, begin):
    """d2l ``CosineScheduler(max_update, base_lr, final_lr, warmup_steps,
    warmup_begin_lr)`` == ``jaxlr.warmup(jaxlr.cosine(base_lr, max_update - W,
    final_lr), W, init_value=warmup_begin_lr)`` (no warmup: ``jaxlr.cosine(base_lr,
    max_update, final_lr)``).

    Indexing: ``ours(t)`` is compared with ``scheduler(t)``, the value for the
    argument (epoch) ``t``, calls in increasing order (the scheduler is stateful
    past ``max_update``).
    """
    n = 3 * max_update
    decay = jaxlr.cosine(base_lr, max_update - warmup_steps, end_value=final_lr)
    schedule = jaxlr.warmup(decay, warmup_steps, init_value=begin) if warmup_steps else decay
    ref = reference.run_stateful(
        reference.D2LCosineScheduler(max_update, base_lr, final_lr, warmup_steps, begin), range(n))
    assert_matches("d2l", evaluate(schedule, n), ref,
                   f"CosineScheduler{(max_update, base_lr, final_lr, warmup_steps, begin)}")


# =============================================================================
# Smith's cyclical learning rates (bckenstler/CLR)
# =============================================================================

CLR = [  # (base_lr, max_lr, step_size)
    (0.001, 0.006, 10), (0.1, 1.0, 4), (0.01, 0.1, 7.5), (0.0, 0.5, 1),
]
CLR_MODES = [("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99),
             ("exp_range", 0.999)]


@pytest.mark.parametrize("mode,gamma", CLR_MODES, ids=[_id(*m) for m in CLR_MODES])
@pytest.mark.parametrize("base,peak,step_size", CLR, ids=[_id(*c) for c in CLR])
def test_smith_clr(x64, base, peak, step_size, mode, gamma):
    """Smith's ``CyclicLR(base_lr, max_lr, step_size, mode, gamma)`` Keras callback
    (lr of batch ``k`` is ``clr()`` at ``clr_iterations = k``) ==
    ``jaxlr.cyclic(base_lr, max_lr, step_size, step_size_down=None, mode, gamma)``."""
    n = int(2 * step_size * 8) + 1
    ours = evaluate(jaxlr.cyclic(base, peak, step_size, None, mode=mode, gamma=gamma), n)
    ref = oracle(reference.smith_clr, n, base, peak, step_size, mode, gamma)
    assert_matches("smith-clr", ours, ref, f"CyclicLR{(base, peak, step_size, mode, gamma)}")


# =============================================================================
# Hugging Face transformers (LambdaLR: lr of update t is base_lr * lambda(t))
# =============================================================================

LR = 3e-4


@pytest.mark.parametrize("warmup_steps", [0, 1, 10, 50])
def test_hf_constant_schedule_with_warmup(x64, warmup_steps):
    """HF ``get_constant_schedule_with_warmup(W)`` == ``jaxlr.warmup(jaxlr.constant(lr), W)``."""
    n = 3 * max(warmup_steps, 30)
    ours = evaluate(jaxlr.warmup(jaxlr.constant(LR), warmup_steps), n)
    ref = oracle(reference.hf_constant_schedule_with_warmup, n, LR, warmup_steps)
    assert_matches("hf", ours, ref, f"constant_with_warmup({warmup_steps})")


@pytest.mark.parametrize("warmup_steps,total", [(0, 100), (10, 100), (50, 60), (1, 30)])
def test_hf_linear_schedule_with_warmup(x64, warmup_steps, total):
    """HF ``get_linear_schedule_with_warmup(W, N)`` ==
    ``jaxlr.warmup(jaxlr.linear(lr, 0, N - W), W)``."""
    n = 3 * total
    ours = evaluate(jaxlr.warmup(jaxlr.linear(LR, 0.0, total - warmup_steps), warmup_steps), n)
    ref = oracle(reference.hf_linear_schedule_with_warmup, n, LR, warmup_steps, total)
    assert_matches("hf", ours, ref, f"linear_with_warmup{(warmup_steps, total)}")


HF_COSINE = [  # (num_warmup_steps, num_training_steps, num_cycles)
    (0, 100, 0.5), (10, 100, 0.5), (20, 80, 1.0), (5, 105, 0.75), (0, 60, 2.0), (10, 110, 0.3),
    (3, 50, 0.5),
]


@pytest.mark.parametrize("warmup_steps,total,num_cycles", HF_COSINE,
                         ids=[_id(*c) for c in HF_COSINE])
def test_hf_cosine_schedule_with_warmup(x64, warmup_steps, total, num_cycles):
    """HF ``get_cosine_schedule_with_warmup(W, N, num_cycles)``, on all steps.

    HF's cosine ``0.5 (1 + cos(2 pi c p))`` keeps oscillating past ``N`` (and
    has ``c`` cosine periods); with half period ``H = (N - W) / (2 c)``:
    ``warmup(cycle(join([cosine(lr, H), cosine(0, H, lr)], [H]), 2 H), W)``.
    """
    half = (total - warmup_steps) / (2 * num_cycles)
    wave = jaxlr.cycle(jaxlr.join([jaxlr.cosine(LR, half), jaxlr.cosine(0.0, half, LR)], [half]),
                       2 * half)
    n = 3 * total
    ours = evaluate(jaxlr.warmup(wave, warmup_steps), n)
    ref = oracle(reference.hf_cosine_schedule_with_warmup, n, LR, warmup_steps, total, num_cycles)
    assert_matches("hf", ours, ref, f"cosine_with_warmup{(warmup_steps, total, num_cycles)}")


@pytest.mark.parametrize("warmup_steps,total", [(0, 100), (10, 100), (3, 50)])
def test_hf_cosine_schedule_with_warmup_default(x64, warmup_steps, total):
    """HF ``get_cosine_schedule_with_warmup(W, N)`` (``num_cycles=0.5``) ==
    ``jaxlr.warmup(jaxlr.cosine(lr, N - W), W)`` on the training steps ``t <= N``.

    Past ``N`` HF's cosine rises again (``cos(pi p)`` for ``p > 1``) while
    ``jaxlr.cosine`` holds its end value: the full-range form is in
    ``test_hf_cosine_schedule_with_warmup``.
    """
    n = total + 1
    ours = evaluate(jaxlr.warmup(jaxlr.cosine(LR, total - warmup_steps), warmup_steps), n)
    ref = oracle(reference.hf_cosine_schedule_with_warmup, n, LR, warmup_steps, total)
    assert_matches("hf", ours, ref, f"cosine_with_warmup t<=N{(warmup_steps, total)}")


HF_HARD = [(0, 100, 1), (10, 100, 2), (5, 95, 3), (0, 90, 3), (20, 120, 4), (0, 100, 3),
           (7, 57, 1.5)]


@pytest.mark.parametrize("warmup_steps,total,num_cycles", HF_HARD, ids=[_id(*c) for c in HF_HARD])
def test_hf_cosine_with_hard_restarts(x64, warmup_steps, total, num_cycles):
    """HF ``get_cosine_with_hard_restarts_schedule_with_warmup(W, N, c)`` ==
    ``warmup(join([cycle(cosine(lr, L), L), constant(0)], [N - W]), W)`` with
    period ``L = (N - W) / c`` (0 from step ``N`` on)."""
    period = (total - warmup_steps) / num_cycles
    body = jaxlr.join([jaxlr.cycle(jaxlr.cosine(LR, period), period), jaxlr.constant(0.0)],
                      [total - warmup_steps])
    n = 3 * total
    ours = evaluate(jaxlr.warmup(body, warmup_steps), n)
    ref = oracle(reference.hf_cosine_with_hard_restarts_schedule_with_warmup, n, LR,
                 warmup_steps, total, num_cycles)
    assert_matches("hf", ours, ref, f"cosine_hard_restarts{(warmup_steps, total, num_cycles)}")


HF_POLY = [(0, 100, 1e-7, 1.0), (10, 100, 1e-7, 2.0), (10, 100, 1e-4, 0.5), (20, 50, 0.0, 3.0),
           (1, 40, 1e-5, 1.0)]


@pytest.mark.parametrize("warmup_steps,total,lr_end,power", HF_POLY, ids=[_id(*c) for c in HF_POLY])
def test_hf_polynomial_decay_schedule_with_warmup(x64, warmup_steps, total, lr_end, power):
    """HF ``get_polynomial_decay_schedule_with_warmup(W, N, lr_end, power)`` ==
    ``jaxlr.warmup(jaxlr.polynomial(lr, lr_end, N - W, power), W)``."""
    n = 3 * total
    schedule = jaxlr.warmup(jaxlr.polynomial(LR, lr_end, total - warmup_steps, power=power),
                            warmup_steps)
    ref = oracle(reference.hf_polynomial_decay_schedule_with_warmup, n, LR, warmup_steps, total,
                 lr_end, power)
    assert_matches("hf", evaluate(schedule, n), ref,
                   f"polynomial_with_warmup{(warmup_steps, total, lr_end, power)}")


@pytest.mark.parametrize("warmup_steps,timescale", [(0, None), (10, None), (100, None), (10, 50),
                                                    (0, 25), (40, 10)])
def test_hf_inverse_sqrt_schedule(x64, warmup_steps, timescale):
    """HF ``get_inverse_sqrt_schedule(W, timescale)`` (``timescale`` defaults to
    ``W or 10_000``) == ``jaxlr.warmup(jaxlr.inverse_sqrt(lr, timescale), W)``."""
    tau = timescale if timescale is not None else (warmup_steps or 10_000)
    n = 600
    ours = evaluate(jaxlr.warmup(jaxlr.inverse_sqrt(LR, tau), warmup_steps), n)
    ref = oracle(reference.hf_inverse_sqrt_schedule, n, LR, warmup_steps, timescale)
    assert_matches("hf", ours, ref, f"inverse_sqrt{(warmup_steps, timescale)}")


@pytest.mark.parametrize("warmup_type", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.1])
@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
def test_hf_wsd_schedule(x64, decay_type, min_lr_ratio, warmup_type):
    """HF ``get_wsd_schedule(W, D, num_stable_steps=S, warmup_type, decay_type,
    min_lr_ratio=r)`` (current HF: the warmup starts from ``r``) ==
    ``warmup_stable_decay(lr, W, S, D, end_value=r lr, decay, init_value=r lr)``
    for a linear warmup; ``warmup(warmup_stable_decay(lr, 0, S, D, r lr, decay),
    W, r lr, mode="cosine")`` for a cosine one; ``join([polynomial(r lr, lr, W,
    0.5), warmup_stable_decay(lr, 0, S, D, r lr, decay)], [W])`` for 1-sqrt."""
    w, s, d = 10, 30, 20
    n = 3 * (w + s + d)
    ours = evaluate(hf_wsd(LR, w, s, d, decay_type, min_lr_ratio, warmup_type), n)
    ref = oracle(reference.hf_wsd_schedule, n, LR, w, d, num_stable_steps=s,
                 warmup_type=warmup_type, decay_type=decay_type, min_lr_ratio=min_lr_ratio)
    assert_matches("hf", ours, ref, f"wsd{(decay_type, min_lr_ratio, warmup_type)}")


@pytest.mark.parametrize("warmup_steps,decay_steps,total,decay_type,min_lr_ratio",
                         [(10, 30, 100, "linear", 0.0), (0, 25, 80, "cosine", 0.05),
                          (5, 1, 40, "1-sqrt", 0.2), (20, 60, 80, "linear", 0.1)])
def test_hf_wsd_schedule_training_steps(x64, warmup_steps, decay_steps, total, decay_type,
                                        min_lr_ratio):
    """HF ``get_wsd_schedule(W, D, num_training_steps=N)``: ``S = N - W - D``, then
    as ``test_hf_wsd_schedule`` (linear warmup)."""
    stable = total - warmup_steps - decay_steps
    n = 3 * total
    ours = evaluate(hf_wsd(LR, warmup_steps, stable, decay_steps, decay_type, min_lr_ratio,
                            "linear"), n)
    ref = oracle(reference.hf_wsd_schedule, n, LR, warmup_steps, decay_steps,
                 num_training_steps=total, decay_type=decay_type, min_lr_ratio=min_lr_ratio)
    assert_matches("hf", ours, ref,
                   f"wsd N{(warmup_steps, decay_steps, total, decay_type, min_lr_ratio)}")


# =============================================================================
# timm (scheduler value _get_lr(t) for t = epoch or update count)
# =============================================================================

BASE = 0.1
TIMM_WARMUPS = [None, (5, 0.0, False), (5, 1e-4, True), (20, 1e-4, False), (20, 0.0, True)]


def _timm_warmup_id(w):
    return "nowarmup" if w is None else _id(*w)


def _timm_warmup(schedule, warmup):
    """timm's warmup: prefix -> ``warmup(s, W, init)`` (ramps to ``s(0) = base_lr``);
    not prefix -> ``warmup(s, W, init, prefix=False, peak_value=base_lr)``."""
    if warmup is None:
        return schedule
    steps, init, prefix = warmup
    if prefix:
        return jaxlr.warmup(schedule, steps, init_value=init, prefix=True)
    return jaxlr.warmup(schedule, steps, init_value=init, prefix=False, peak_value=BASE)


def _timm_warmup_kwargs(warmup):
    if warmup is None:
        return {}
    steps, init, prefix = warmup
    return {"warmup_t": steps, "warmup_lr_init": init, "warmup_prefix": prefix}


def _cycle_starts(t_initial, cycle_mul, count):
    """Start steps S_1..S_count of timm's cycles (S_0 = 0)."""
    starts, start = [], 0.0
    for i in range(count):
        start += t_initial * cycle_mul**i
        starts.append(start)
    return starts


@pytest.mark.parametrize("warmup", TIMM_WARMUPS, ids=_timm_warmup_id)
@pytest.mark.parametrize("t_initial,lr_min", [(100, 0.0), (100, 1e-5), (50, 1e-3)])
def test_timm_cosine_single_cycle(x64, t_initial, lr_min, warmup):
    """timm ``CosineLRScheduler(t_initial, lr_min, warmup_t, warmup_lr_init,
    warmup_prefix)`` (``cycle_limit=1``) == ``cosine(base_lr, t_initial, lr_min)``
    wrapped in timm's warmup (see ``_timm_warmup``)."""
    n = 3 * t_initial
    schedule = _timm_warmup(jaxlr.cosine(BASE, t_initial, end_value=lr_min), warmup)
    ref = oracle(reference.timm_cosine_lr, n, BASE, t_initial, lr_min,
                 **_timm_warmup_kwargs(warmup))
    assert_matches("timm", evaluate(schedule, n), ref, f"cosine{(t_initial, lr_min, warmup)}")


TIMM_CYCLES = [  # (t_initial, cycle_mul, cycle_decay, lr_min); lr_min == 0 or cycle_decay == 1
    (20, 1.0, 1.0, 0.0), (20, 1.0, 1.0, 1e-3), (20, 1.0, 0.5, 0.0),
    (10, 2.0, 1.0, 0.0), (10, 2.0, 1.0, 1e-3), (10, 2.0, 0.8, 0.0),
    (20, 1.5, 1.0, 1e-3), (20, 1.5, 0.5, 0.0), (8, 1.5, 0.9, 0.0),
]


@pytest.mark.parametrize("cycle_limit", [3, 10**6])
@pytest.mark.parametrize("t_initial,cycle_mul,cycle_decay,lr_min", TIMM_CYCLES,
                         ids=[_id(*c) for c in TIMM_CYCLES])
def test_timm_cosine_cycles_restarts(x64, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit):
    """timm ``CosineLRScheduler(t_initial, lr_min, cycle_mul, cycle_decay,
    cycle_limit)`` with ``lr_min == 0`` or ``cycle_decay == 1`` ==
    ``restarts(cosine(base_lr, t_initial, lr_min), t_initial, cycle_mul,
    cycle_decay)``, then ``lr_min`` from the end of cycle ``cycle_limit``:
    ``join([restarts(...), constant(lr_min)], [S_limit])``.

    (timm's cycle amplitude is ``base_lr * cycle_decay**i - lr_min``; restarts
    scales the whole cycle, floor included, by ``cycle_decay**i``: the two agree
    only when ``lr_min == 0`` or ``cycle_decay == 1``. The general case is
    ``test_timm_cosine_cycles_join``.)
    """
    n = 300
    schedule = jaxlr.restarts(jaxlr.cosine(BASE, t_initial, end_value=lr_min), t_initial,
                              cycle_mul, cycle_decay)
    if cycle_limit < 100:
        schedule = jaxlr.join([schedule, jaxlr.constant(lr_min)],
                              [_cycle_starts(t_initial, cycle_mul, cycle_limit)[-1]])
    ref = oracle(reference.timm_cosine_lr, n, BASE, t_initial, lr_min, cycle_mul, cycle_decay,
                 cycle_limit)
    assert_matches("timm", evaluate(schedule, n), ref,
                   f"cosine cycles{(t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit)}")


def _timm_cycles_join(piece, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit):
    """``join([piece(base * decay**i, T_i, lr_min) for i < limit] + [constant(lr_min)], S)``."""
    pieces = [piece(BASE * cycle_decay**i, t_initial * cycle_mul**i, lr_min)
              for i in range(cycle_limit)]
    return jaxlr.join(pieces + [jaxlr.constant(lr_min)],
                      _cycle_starts(t_initial, cycle_mul, cycle_limit))


TIMM_CYCLES_JOIN = [  # (t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit)
    (20, 1.0, 0.5, 1e-3, 3), (10, 2.0, 0.8, 1e-3, 4), (20, 1.5, 0.5, 1e-2, 3),
    (20, 1.0, 1.0, 1e-3, 5), (10, 2.0, 0.5, 0.0, 2), (15, 1.0, 0.7, 5e-3, 12),
]


@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (5, 0.0, False)],
                         ids=_timm_warmup_id)
@pytest.mark.parametrize("t_initial,cycle_mul,cycle_decay,lr_min,cycle_limit", TIMM_CYCLES_JOIN,
                         ids=[_id(*c) for c in TIMM_CYCLES_JOIN])
def test_timm_cosine_cycles_join(x64, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit,
                                 warmup):
    """timm ``CosineLRScheduler`` with any ``lr_min``/``cycle_decay`` and a finite
    ``cycle_limit`` L: one cosine per cycle, ``join([cosine(base * decay**i, T_i,
    lr_min) for i < L] + [constant(lr_min)], [S_1, ..., S_L])`` with ``T_i =
    t_initial * cycle_mul**i``, then timm's warmup."""
    n = 300
    schedule = _timm_warmup(
        _timm_cycles_join(lambda v, T, e: jaxlr.cosine(v, T, end_value=e), t_initial, cycle_mul,
                          cycle_decay, lr_min, cycle_limit), warmup)
    ref = oracle(reference.timm_cosine_lr, n, BASE, t_initial, lr_min, cycle_mul, cycle_decay,
                 cycle_limit, **_timm_warmup_kwargs(warmup))
    assert_matches("timm", evaluate(schedule, n), ref,
                   f"cosine join{(t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit, warmup)}")


@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (5, 1e-4, False)], ids=_timm_warmup_id)
@pytest.mark.parametrize("decay_t,decay_rate", [(10, 0.5), (30, 0.1), (7, 0.9)])
def test_timm_step(x64, decay_t, decay_rate, warmup):
    """timm ``StepLRScheduler(decay_t, decay_rate, warmup...)`` ==
    ``exponential(base_lr, decay_rate, decay_t, staircase=True)`` with timm's warmup
    (timm's default here is ``warmup_prefix=True``)."""
    n = 3 * max(decay_t, 30)
    schedule = _timm_warmup(jaxlr.exponential(BASE, decay_rate, decay_t, staircase=True), warmup)
    kwargs = _timm_warmup_kwargs(warmup)
    ref = oracle(reference.timm_step_lr, n, BASE, decay_t, decay_rate, **kwargs)
    assert_matches("timm", evaluate(schedule, n), ref, f"step{(decay_t, decay_rate, warmup)}")


@pytest.mark.parametrize("legacy", [True, False], ids=["timm_1_0_t_plus_one", "unshifted"])
@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (5, 0.0, False)], ids=_timm_warmup_id)
@pytest.mark.parametrize("decay_t,decay_rate", [([30, 60], 0.1), ([10, 20, 25], 0.5)])
def test_timm_multistep(x64, decay_t, decay_rate, warmup, legacy):
    """timm ``MultiStepLRScheduler(decay_t, decay_rate, warmup...)`` as released
    (timm 1.0.x, ``bisect_right(decay_t, t + 1)``, the oracle's
    ``legacy_t_plus_one=True``; checked against the real class in
    ``tests/test_timm.py``) decays at ``t >= m - 1``: ``multistep(base_lr,
    [m - 1 for m in decay_t], decay_rate)`` with timm's warmup. The unshifted
    ``bisect_right(decay_t, t)`` (timm PRs #2745/#2753, closed unmerged) is
    ``multistep(base_lr, decay_t, decay_rate)``."""
    n = 3 * decay_t[-1]
    milestones = [m - 1 for m in decay_t] if legacy else decay_t
    schedule = _timm_warmup(jaxlr.multistep(BASE, milestones, decay_rate), warmup)
    ref = oracle(reference.timm_multistep_lr, n, BASE, decay_t, decay_rate,
                 legacy_t_plus_one=legacy, **_timm_warmup_kwargs(warmup))
    assert_matches("timm", evaluate(schedule, n), ref,
                   f"multistep{(decay_t, decay_rate, warmup, legacy)}")


@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (10, 0.0, False)], ids=_timm_warmup_id)
@pytest.mark.parametrize("t_initial,power,lr_min", [(100, 0.5, 0.0), (100, 2.0, 1e-4),
                                                    (50, 1.0, 0.0)])
def test_timm_poly_single_cycle(x64, t_initial, power, lr_min, warmup):
    """timm ``PolyLRScheduler(t_initial, power, lr_min, warmup...)``
    (``cycle_limit=1``) == ``polynomial(base_lr, lr_min, t_initial, power)``
    with timm's warmup."""
    n = 3 * t_initial
    schedule = _timm_warmup(jaxlr.polynomial(BASE, lr_min, t_initial, power=power), warmup)
    ref = oracle(reference.timm_poly_lr, n, BASE, t_initial, power, lr_min,
                 **_timm_warmup_kwargs(warmup))
    assert_matches("timm", evaluate(schedule, n), ref, f"poly{(t_initial, power, lr_min, warmup)}")


TIMM_POLY_CYCLES = [  # (t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit)
    (20, 0.5, 0.0, 1.0, 0.5, 4), (20, 2.0, 1e-3, 1.0, 1.0, 10**6), (10, 1.0, 0.0, 2.0, 0.8, 4),
    (10, 0.5, 1e-3, 2.0, 1.0, 3),
]


@pytest.mark.parametrize("t_initial,power,lr_min,cycle_mul,cycle_decay,cycle_limit",
                         TIMM_POLY_CYCLES, ids=[_id(*c) for c in TIMM_POLY_CYCLES])
def test_timm_poly_cycles_restarts(x64, t_initial, power, lr_min, cycle_mul, cycle_decay,
                                   cycle_limit):
    """timm ``PolyLRScheduler`` cycles (``lr_min == 0`` or ``cycle_decay == 1``) ==
    ``join([restarts(polynomial(base_lr, lr_min, t_initial, power), t_initial,
    cycle_mul, cycle_decay), constant(lr_min)], [S_limit])``."""
    n = 300
    schedule = jaxlr.restarts(jaxlr.polynomial(BASE, lr_min, t_initial, power=power), t_initial,
                              cycle_mul, cycle_decay)
    if cycle_limit < 100:
        schedule = jaxlr.join([schedule, jaxlr.constant(lr_min)],
                              [_cycle_starts(t_initial, cycle_mul, cycle_limit)[-1]])
    ref = oracle(reference.timm_poly_lr, n, BASE, t_initial, power, lr_min, cycle_mul,
                 cycle_decay, cycle_limit)
    assert_matches("timm", evaluate(schedule, n), ref,
                   f"poly cycles{(t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit)}")


@pytest.mark.parametrize("t_initial,power,lr_min,cycle_mul,cycle_decay,cycle_limit",
                         [(20, 0.5, 1e-3, 1.0, 0.5, 4), (10, 2.0, 1e-2, 2.0, 0.7, 3)])
def test_timm_poly_cycles_join(x64, t_initial, power, lr_min, cycle_mul, cycle_decay,
                               cycle_limit):
    """timm ``PolyLRScheduler`` cycles, any ``lr_min``/``cycle_decay``, finite
    ``cycle_limit`` L: ``join([polynomial(base * decay**i, lr_min, T_i, power) for i
    < L] + [constant(lr_min)], [S_1, ..., S_L])``."""
    n = 300
    schedule = _timm_cycles_join(lambda v, T, e: jaxlr.polynomial(v, e, T, power=power),
                                 t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit)
    ref = oracle(reference.timm_poly_lr, n, BASE, t_initial, power, lr_min, cycle_mul,
                 cycle_decay, cycle_limit)
    assert_matches("timm", evaluate(schedule, n), ref,
                   f"poly join{(t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit)}")


@pytest.mark.parametrize("warmup", [(0, 0.0), (10, 1e-4)], ids=["nowarmup", "warmup"])
@pytest.mark.parametrize("lr_min", [0.0, 1e-3])
@pytest.mark.parametrize("decay_fn", ["linear", "1-sqrt", "cosine"])
def test_timm_wsd(x64, decay_fn, lr_min, warmup):
    """timm ``WSDLRScheduler(t_initial, decay_t, lr_min, decay_fn, warmup_t,
    warmup_lr_init)`` (stable_fn 'constant'; the warmup is always a prefix and
    ``t_initial`` counts stable + decay) == ``warmup_stable_decay(base_lr, W,
    t_initial - decay_t, decay_t, end_value=lr_min, decay=decay_fn,
    init_value=warmup_lr_init)``."""
    t_initial, decay_t = 80, 30
    warmup_t, warmup_init = warmup
    n = 3 * (t_initial + warmup_t)
    schedule = jaxlr.warmup_stable_decay(BASE, warmup_t, t_initial - decay_t, decay_t,
                                         end_value=lr_min, decay=decay_fn,
                                         init_value=warmup_init)
    ref = oracle(reference.timm_wsd_lr, n, BASE, t_initial, decay_t, lr_min, decay_fn=decay_fn,
                 warmup_t=warmup_t, warmup_lr_init=warmup_init)
    assert_matches("timm", evaluate(schedule, n), ref, f"wsd{(decay_fn, lr_min, warmup)}")


@pytest.mark.parametrize("stable_timescale", [None, 25])
@pytest.mark.parametrize("decay_fn", ["linear", "1-sqrt", "cosine"])
def test_timm_wsd_rsqrt_stable(x64, decay_fn, stable_timescale):
    """timm ``WSDLRScheduler(stable_fn='rsqrt', lr_min=0)``: the stable phase is
    ``base (1 + t_s / tau)^-1/2`` times the decay factor: ``warmup(multiply(
    inverse_sqrt(base_lr, tau), warmup_stable_decay(1, 0, t_initial - decay_t,
    decay_t, decay=decay_fn)), W, warmup_lr_init)`` (``tau`` defaults to ``W``).
    With ``lr_min > 0`` timm's ``lr_min + (max(stable, lr_min) - lr_min) * decay`` is
    ``add(constant(lr_min), multiply(clip(add(stable, constant(-lr_min)), 0), decay))``:
    ``tests/test_timm.py::timm_wsd``, checked against timm's class."""
    t_initial, decay_t, warmup_t, warmup_init = 80, 30, 10, 1e-4
    tau = warmup_t if stable_timescale is None else stable_timescale
    n = 3 * (t_initial + warmup_t)
    shape = jaxlr.warmup_stable_decay(1.0, 0, t_initial - decay_t, decay_t, decay=decay_fn)
    schedule = jaxlr.warmup(jaxlr.multiply(jaxlr.inverse_sqrt(BASE, tau), shape), warmup_t,
                            init_value=warmup_init)
    ref = oracle(reference.timm_wsd_lr, n, BASE, t_initial, decay_t, 0.0, stable_fn="rsqrt",
                 stable_timescale=stable_timescale, decay_fn=decay_fn, warmup_t=warmup_t,
                 warmup_lr_init=warmup_init)
    assert_matches("timm", evaluate(schedule, n), ref, f"wsd rsqrt{(decay_fn, stable_timescale)}")


# =============================================================================
# Papers: D2Z (Bergsma et al. 2025), WSD cooldown (Hägele et al. 2024), Power (Shen et al. 2024)
# =============================================================================

PAPER_DRAWS = 12  # per test


def _paper_rng(name):
    return np.random.default_rng([ord(c) for c in name])


def test_bergsma_d2z(x64):
    """Linear warmup then linear decay to zero at the end of the run ==
    ``linear_decay_to_zero(v, T, W)``, on random ``T`` (1 to 400), ``W`` in ``[0, T]``
    (0 and ``T`` included), past ``T``."""
    rng = _paper_rng("d2z")
    for k in range(PAPER_DRAWS):
        peak = float(10 ** rng.uniform(-5, 0))
        total = int(rng.integers(1, 400))
        warmup_steps = [0, total][k % 2] if k < 2 else int(rng.integers(0, total + 1))
        n = total + 20
        ours = evaluate(jaxlr.linear_decay_to_zero(peak, total, warmup_steps), n)
        ref = oracle(reference.bergsma_d2z_lr, n, peak, total, warmup_steps)
        assert_matches("papers", ours, ref, f"D2Z{(peak, total, warmup_steps)}")


HAGELE_DECAYS = {"linear": dict(decay="linear"), "cosine": dict(decay="cosine"),
                 "sqrt": dict(decay="1-sqrt"), "square": dict(decay="power", decay_power=2.0)}


def test_hagele_wsd(x64):
    """Hägele et al.'s ``wsd_schedule(T, W, final_lr_factor=r, init_div_factor=q,
    fract_decay=f, decay_type)`` (their code: a cooldown of ``D = int(f T)`` steps) ==
    ``warmup_stable_cooldown(v, T, W, cooldown_fraction=D / T, decay, end_value=r v,
    init_value=v / q)``; ``decay_type='linear'`` is the trapezoid."""
    rng = _paper_rng("hagele")
    for k in range(PAPER_DRAWS):
        lr = float(10 ** rng.uniform(-5, 0))
        total = int(rng.integers(2, 400))
        fraction = float(rng.choice([0.2, 0.1, rng.uniform(0, 1)]))
        cooldown = int(fraction * total)
        warmup_steps = int(rng.integers(0, total - cooldown + 1))
        final = 0.0 if rng.random() < 0.5 else float(rng.uniform(0, 0.5))
        div = 100.0 if rng.random() < 0.5 else float(10 ** rng.uniform(0, 3))
        decay_type = list(HAGELE_DECAYS)[k % len(HAGELE_DECAYS)]
        n = total + 20
        ours = evaluate(jaxlr.warmup_stable_cooldown(
            lr, total, warmup_steps, cooldown_fraction=cooldown / total, end_value=final * lr,
            init_value=lr / div, **HAGELE_DECAYS[decay_type]), n)
        ref = oracle(reference.hagele_wsd_lr, n, lr, total, warmup_steps, final, div, fraction,
                     decay_type)
        assert_matches("papers", ours, ref,
                       f"Hägele WSD{(lr, total, warmup_steps, final, div, fraction, decay_type)}")


def test_shen_power_scheduler(x64):
    """Shen et al.'s Power scheduler (``min(eta_max, beta a n^b)`` of the ``n = t beta ell``
    tokens seen, linear warmup to its value at ``W``, exponential decay to 0 over the last
    ``D`` of ``N`` steps) == ``power_scheduler(eta_max, W, beta, ell, a, b, N, D)``, with
    the paper's ``a = 4.6, b = -0.51, eta_max = 0.02`` and at random, with and without
    the decay (compared up to ``N``, where training ends)."""
    rng = _paper_rng("power")
    for k in range(PAPER_DRAWS):
        paper = k < 3
        kw = dict(lr_max=0.02 if paper else float(10 ** rng.uniform(-4, 0)),
                  batch_size=float(rng.choice([256, 1024])) if paper else float(
                      10 ** rng.uniform(0, 3.5)),
                  sequence_length=4096.0 if paper else float(10 ** rng.uniform(0, 4)),
                  a=4.6 if paper else float(10 ** rng.uniform(-1, 1.5)),
                  b=-0.51 if paper else -float(rng.uniform(0.05, 1.2)),
                  warmup_steps=int(rng.integers(0, 200)))
        if k % 3 == 2:
            total, decay_steps, n = None, 0, kw["warmup_steps"] + 400
        else:
            total = kw["warmup_steps"] + int(rng.integers(1, 500))
            decay_steps = int(rng.integers(0, total - kw["warmup_steps"] + 1))
            n = total + 1
        ours = jaxlr.power_scheduler(kw["lr_max"], kw["warmup_steps"], kw["batch_size"],
                                     kw["sequence_length"], kw["a"], kw["b"],
                                     total_steps=total, decay_steps=decay_steps)
        ref = oracle(reference.shen_power_lr, n, total_steps=total, decay_steps=decay_steps, **kw)
        assert_matches("papers", evaluate(ours, n), ref, f"Power{(kw, total, decay_steps)}")
