"""Equivalence with Keras 3's real learning-rate schedules, on dense step grids.

Each test builds Keras's own schedule from ``keras.optimizers.schedules``
(``ExponentialDecay``, ``PiecewiseConstantDecay``, ``PolynomialDecay``,
``InverseTimeDecay``, ``CosineDecay`` with and without its warmup,
``CosineDecayRestarts``), calls it on every step ``0 .. n-1`` and compares the
values with the jaxlr expression of README's Keras table, through
``equivalence.assert_matches("keras (real)", ...)`` (rtol 1e-6, atol 1e-12).
Keras's step is the number of updates already applied, like jaxlr's, so
``ours(t)`` is compared with ``keras_schedule(t)``.

Backend and precision. Keras runs on its JAX backend (``KERAS_BACKEND=jax``,
set before the import unless the environment already chose one; the module is
skipped on another backend). Keras's schedules compute in the dtype of
``initial_learning_rate``; the tests pass float64 values with
``keras.config.set_floatx("float64")`` under the ``x64`` fixture. That is not
enough on the JAX backend: Keras's type promotion
(``keras/src/backend/common/dtypes.py``, ``BIT64_TO_BIT32_DTYPE``, applied in
``result_type``) maps float64 to float32 on every backend but TensorFlow, so
``ops.cos``, ``ops.floor`` and ``ops.ceil`` of a float64 tensor compute in
float32 (the cosine of ``CosineDecay`` is then off by float32 rounding, about
1e-7 of the peak, a large *relative* error near the cosine's zeros). The
``keras64`` fixture therefore maps float64 to itself in that table for the
duration of a test, the TensorFlow backend's promotion: Keras's schedule code
itself runs unmodified, and in float64 throughout, which
``test_keras_computes_in_float64`` checks against the float64 transcriptions
in ``tests/reference.py`` at rtol 1e-13.
``test_keras_as_shipped`` compares the schedules as shipped (float32
``cos``/``floor``/``ceil``) within float32 rounding of the peak, untallied.

Calling: every schedule accepts a vector of steps except ``CosineDecay`` with a
warmup (its ``ops.cond`` needs a scalar predicate); that one is evaluated with
``jax.vmap`` over the steps (which turns the ``cond`` into a select of the two
branches, each computed as in a scalar call), and spot-checked against scalar
calls. All Keras calls use one grid shape (``GRID``) so that JAX compiles each
operation once.

``CosineDecayRestarts`` computes its restart index in closed form,
``floor(log(1 - f (1 - t_mul)) / log(t_mul))`` with ``f = t / T0``: in float64
the quotient can round just below an integer at an exact restart step (with
``t_mul = 2``, ``T0 = 7``: step 49, the start of the fourth cycle), and Keras
then gives the end of the previous cycle (``alpha * v``) for that one step
while jaxlr restarts exactly. This happens on a vector of steps and under
``jax.jit`` (how Keras's optimizers call a schedule; ``test_jit_scalar_calls``
checks that jitted scalar calls give the vector's values), for instance at
every restart of ``T0 = 16, t_mul = 1.25`` and at steps 21, 189, 381 of
``T0 = 3, t_mul = 2``; Keras's eager scalar calls mostly restart on time.
Those steps (found with exact rational arithmetic) are checked to be exactly
``alpha * v``, and left out of the comparison. With Keras's own promotion the
quotient is floored in float32, which rounds it to the integer, and Keras
restarts where jaxlr does (``test_keras_as_shipped``).
"""

from __future__ import annotations

import os

os.environ.setdefault("KERAS_BACKEND", "jax")

import fractions  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402

keras = pytest.importorskip("keras")

import jax  # noqa: E402

import jaxlr  # noqa: E402
import reference  # noqa: E402
from equivalence import assert_matches, evaluate  # noqa: E402

if keras.backend.backend() != "jax":
    pytest.skip(f"these tests drive Keras's JAX backend, not {keras.backend.backend()!r}",
                allow_module_level=True)

try:  # Keras's float64 -> float32 promotion table (absent: nothing to undo)
    from keras.src.backend.common import dtypes as _keras_dtypes
except ImportError:  # pragma: no cover - a Keras without that module
    _keras_dtypes = None

LIBRARY = "keras (real)"
KERAS_VERSION = keras.__version__
GRID = 512
schedules = keras.optimizers.schedules
f64 = np.float64


@pytest.fixture
def keras64(x64, monkeypatch):
    """Keras computing in float64 throughout (floatx float64, no float64 -> float32 promotion)."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    table = getattr(_keras_dtypes, "BIT64_TO_BIT32_DTYPE", None)
    if table is not None and "float64" in table:
        monkeypatch.setitem(table, "float64", "float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


@pytest.fixture
def keras_as_shipped(x64):
    """Keras with floatx float64 and its own type promotion (float32 for cos/floor/ceil)."""
    previous = keras.config.floatx()
    keras.config.set_floatx("float64")
    try:
        yield
    finally:
        keras.config.set_floatx(previous)


def _id(*parts):
    return "-".join(str(p) for p in parts)


def keras_values(schedule, n, vectorised=True):
    """Keras ``schedule`` at steps ``0 .. n-1`` (int64), as float64.

    ``vectorised``: one call on the vector of steps; otherwise ``jax.vmap``
    over the steps (for a schedule whose ``ops.cond`` needs a scalar step).
    """
    assert n <= GRID, n
    steps = np.arange(GRID, dtype=np.int64)
    values = schedule(steps) if vectorised else jax.vmap(schedule)(steps)
    values = np.asarray(values)
    assert values.shape == (GRID,), values.shape
    assert values.dtype == np.float64, f"Keras computed in {values.dtype}"
    return values[:n]


def check(ours, schedule, n, label, vectorised=True):
    """jaxlr ``ours`` against Keras's ``schedule`` on every step ``0 .. n-1``."""
    ref = keras_values(schedule, n, vectorised)
    assert_matches(LIBRARY, evaluate(ours, n), ref, f"keras {KERAS_VERSION} {label}")


# ---------------------------------------------------------------------------
# ExponentialDecay, InverseTimeDecay
# ---------------------------------------------------------------------------

EXPONENTIAL = [  # (initial_learning_rate, decay_steps, decay_rate)
    (0.1, 1, 0.96), (0.1, 10, 0.5), (1.0, 7, 0.9), (0.05, 100, 0.1), (0.01, 3, 1.05),
    (0.3, 2.5, 0.8), (0.2, 13, 0.0),
]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,decay_steps,rate", EXPONENTIAL, ids=[_id(*c) for c in EXPONENTIAL])
def test_exponential_decay(keras64, init, decay_steps, rate, staircase):
    """``ExponentialDecay(v, T, r, staircase)`` == ``exponential(v, r, T, staircase)``."""
    n = int(3 * max(decay_steps, 10)) + 1
    check(jaxlr.exponential(init, rate, decay_steps, staircase=staircase),
          schedules.ExponentialDecay(f64(init), decay_steps, rate, staircase=staircase), n,
          f"ExponentialDecay{(init, decay_steps, rate, staircase)}")


INVERSE_TIME = [  # (initial_learning_rate, decay_steps, decay_rate)
    (0.1, 1, 0.5), (0.1, 10, 0.5), (1.0, 7, 2.0), (0.05, 100, 0.1), (0.3, 2.5, 1.0),
    (0.2, 3, 0.0),
]


@pytest.mark.parametrize("staircase", [False, True])
@pytest.mark.parametrize("init,decay_steps,rate", INVERSE_TIME,
                         ids=[_id(*c) for c in INVERSE_TIME])
def test_inverse_time_decay(keras64, init, decay_steps, rate, staircase):
    """``InverseTimeDecay(v, T, r, staircase)`` == ``inverse_time(v, r, T, staircase)``."""
    n = int(3 * max(decay_steps, 10)) + 1
    check(jaxlr.inverse_time(init, rate, decay_steps, staircase=staircase),
          schedules.InverseTimeDecay(f64(init), decay_steps, rate, staircase=staircase), n,
          f"InverseTimeDecay{(init, decay_steps, rate, staircase)}")


# ---------------------------------------------------------------------------
# PolynomialDecay
# ---------------------------------------------------------------------------

POLYNOMIAL = [  # (initial_learning_rate, decay_steps, end_learning_rate, power)
    (0.1, 10, 1e-4, 1.0), (0.1, 10, 0.0, 2.0), (0.1, 25, 1e-4, 0.5), (0.1, 25, 0.01, 3.0),
    (1.0, 100, 0.0, 1.0), (0.5, 7, 0.05, 0.5), (0.5, 7, 0.0, 1.7), (0.3, 12, 0.003, 0.3),
    (0.01, 20, 0.1, 1.0), (0.01, 20, 0.1, 2.5),  # increasing
    (0.2, 12, 0.02, 0.0),  # power 0: 0 ** 0 == 1 at the horizon, both sides
    (0.2, 1, 0.01, 1.5),  # every step a multiple of decay_steps
]


@pytest.mark.parametrize("cycle", [False, True])
@pytest.mark.parametrize("init,decay_steps,end,power", POLYNOMIAL,
                         ids=[_id(*c) for c in POLYNOMIAL])
def test_polynomial_decay(keras64, init, decay_steps, end, power, cycle):
    """``PolynomialDecay(v, T, e, p, cycle)`` == ``polynomial(v, e, T, p, cycle)``.

    With ``cycle=True`` the grid holds at least four multiples of ``T``: Keras
    gives the end value at every multiple (``ceil(kT / T) = k``) and restarts
    one step later.
    """
    n = max(4 * decay_steps + 2, 30)
    check(jaxlr.polynomial(init, end, decay_steps, power=power, cycle=cycle),
          schedules.PolynomialDecay(f64(init), decay_steps, end, power=power, cycle=cycle), n,
          f"PolynomialDecay{(init, decay_steps, end, power, cycle)}")


# ---------------------------------------------------------------------------
# PiecewiseConstantDecay
# ---------------------------------------------------------------------------

PIECEWISE = [  # (boundaries, values)
    ([10], [1.0, 0.5]),
    ([10, 20], [0.1, 0.01, 0.001]),
    ([5, 15, 30], [1.0, 0.5, 0.25, 0.1]),
    ([0, 10], [1.0, 0.3, 0.1]),            # boundary at step 0: values[0] only at t = 0
    ([10, 10, 20], [1.0, 0.7, 0.5, 0.2]),  # repeated boundary: values[1] never used
    ([2.5, 7.5], [0.3, 0.2, 0.1]),         # fractional (Keras casts them to the int step)
    ([3, 4, 5, 6], [0.5, 1.0, 0.25, 2.0, 0.0]),  # non-monotone values, a zero
    ([1, 2, 3, 4, 5, 6, 7, 8], [0.9 ** k for k in range(9)]),  # a change at every step
]


@pytest.mark.parametrize("boundaries,values", PIECEWISE, ids=[str(b) for b, _ in PIECEWISE])
def test_piecewise_constant_decay(keras64, boundaries, values):
    """``PiecewiseConstantDecay(b, vals)`` (the boundary step keeps the old value)
    == ``piecewise_constant(b, vals, inclusive=False)``."""
    n = int(3 * boundaries[-1]) + 5
    check(jaxlr.piecewise_constant(boundaries, values, inclusive=False),
          schedules.PiecewiseConstantDecay(boundaries, [f64(v) for v in values]), n,
          f"PiecewiseConstantDecay{(boundaries, values)}")


# ---------------------------------------------------------------------------
# CosineDecay (with and without Keras 3's warmup)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("init,decay_steps", [(0.1, 10), (1.0, 50), (0.3, 100), (0.5, 7.5)])
def test_cosine_decay(keras64, init, decay_steps, alpha):
    """``CosineDecay(v, T, alpha)`` == ``cosine(v, T, end_value=alpha * v)``."""
    n = int(3 * decay_steps) + 1
    check(jaxlr.cosine(init, decay_steps, end_value=alpha * init),
          schedules.CosineDecay(f64(init), decay_steps, alpha=alpha), n,
          f"CosineDecay{(init, decay_steps, alpha)}")


COSINE_WARMUP = [  # (initial_learning_rate, decay_steps, alpha, warmup_target, warmup_steps)
    (0.0, 100, 0.0, 0.1, 10), (0.0, 100, 0.1, 0.1, 10), (1e-3, 50, 0.0, 0.5, 20),
    (1e-3, 50, 0.2, 0.5, 5), (0.0, 30, 0.0, 1.0, 1), (0.01, 30, 0.05, 0.3, 30),
    (0.0, 40, 0.0, 0.2, 0),     # warmup_steps 0: the decay from warmup_target at once
    (0.2, 40, 0.1, 0.05, 10),   # a decreasing "warmup"
    (0.0, 25.5, 0.3, 0.4, 7),   # fractional decay_steps
]


@pytest.mark.parametrize("init,decay_steps,alpha,target,warmup_steps", COSINE_WARMUP,
                         ids=[_id(*c) for c in COSINE_WARMUP])
def test_cosine_decay_warmup(keras64, init, decay_steps, alpha, target, warmup_steps):
    """Keras 3 ``CosineDecay(v0, T, alpha, warmup_target=p, warmup_steps=W)`` ==
    ``warmup(cosine(p, T, alpha * p), W, init_value=v0)`` (the warmup outside
    ``T``: the cosine ends at step ``W + T``)."""
    n = int(3 * (decay_steps + warmup_steps)) + 1
    keras_schedule = schedules.CosineDecay(f64(init), decay_steps, alpha=alpha,
                                           warmup_target=f64(target), warmup_steps=warmup_steps)
    ours = jaxlr.warmup(jaxlr.cosine(target, decay_steps, end_value=alpha * target),
                        warmup_steps, init_value=init)
    batched = keras_values(keras_schedule, n, vectorised=False)
    assert_matches(LIBRARY, evaluate(ours, n), batched, f"keras {KERAS_VERSION} CosineDecay "
                   f"warmup{(init, decay_steps, alpha, target, warmup_steps)}")
    # vmap over the steps == Keras's own scalar calls, around the warmup's end and the horizon.
    for t in sorted({0, max(warmup_steps - 1, 0), warmup_steps, n - 1}):
        scalar = float(keras_schedule(np.int64(t)))
        assert scalar == pytest.approx(batched[t], rel=1e-15, abs=1e-300), (t, scalar, batched[t])


# ---------------------------------------------------------------------------
# CosineDecayRestarts
# ---------------------------------------------------------------------------


def exact_restart_steps(first_decay_steps, t_mul, n):
    """Steps ``0 < t < n`` at which a new cycle starts, in exact rational arithmetic."""
    period, start, steps = fractions.Fraction(first_decay_steps), fractions.Fraction(0), set()
    mul = fractions.Fraction(t_mul)
    while True:
        start += period
        if start >= n:
            return steps
        if start.denominator == 1:
            steps.add(int(start))
        period *= mul


RESTARTS = [  # (initial_learning_rate, first_decay_steps, t_mul, m_mul, alpha)
    (0.1, 10, 1.0, 1.0, 0.0), (0.1, 10, 1.0, 0.8, 0.1), (1.0, 7, 1.0, 0.9, 0.0),
    (0.1, 10, 2.0, 1.0, 0.0), (0.1, 7, 2.0, 0.8, 0.1), (1.0, 3, 2.0, 0.5, 0.0),
    (0.1, 10, 1.5, 1.0, 0.0), (0.1, 8, 1.5, 0.8, 0.1),  # restarts at 8, 20, 38, 65 (exact)
    (1.0, 16, 1.25, 0.9, 0.05),                          # restarts at 16, 36, 61
    (0.5, 7, 1.5, 1.0, 0.2), (0.3, 3, 1.1, 0.95, 0.0), (0.1, 5, 3.0, 0.7, 0.1),
    (0.2, 12.5, 1.8, 0.8, 0.1),                          # fractional first_decay_steps
]


@pytest.mark.parametrize("init,first,t_mul,m_mul,alpha", RESTARTS, ids=[_id(*c) for c in RESTARTS])
def test_cosine_decay_restarts(keras64, init, first, t_mul, m_mul, alpha):
    """``CosineDecayRestarts(v, T0, t_mul, m_mul, alpha)`` ==
    ``cosine_restarts(v, T0, t_mul, m_mul, end_value=alpha * v)``, except where
    Keras's closed-form restart index rounds down at an exact restart step
    (there Keras gives ``alpha * v``, the previous cycle's end; see the module
    docstring)."""
    n = 400 if t_mul != 1.0 else int(10 * first)
    label = f"keras {KERAS_VERSION} CosineDecayRestarts{(init, first, t_mul, m_mul, alpha)}"
    ref = keras_values(schedules.CosineDecayRestarts(f64(init), first, t_mul, m_mul, alpha), n)
    ours = evaluate(jaxlr.cosine_restarts(init, first, t_mul=t_mul, m_mul=m_mul,
                                          end_value=alpha * init), n)
    restarts = np.array(sorted(exact_restart_steps(first, t_mul, n)), dtype=int)
    late = restarts[~np.isclose(ref[restarts], ours[restarts], rtol=1e-6, atol=1e-12)]
    np.testing.assert_allclose(ref[late], alpha * init, rtol=1e-9, atol=1e-12,
                               err_msg=f"{label}: a restart step that is not the previous end")
    np.testing.assert_array_less(alpha * init + 1e-12, ours[late])  # jaxlr restarted there
    keep = np.ones(n, dtype=bool)
    keep[late] = False
    assert_matches(LIBRARY, ours[keep], ref[keep], label)


# ---------------------------------------------------------------------------
# precision
# ---------------------------------------------------------------------------


def test_keras_computes_in_float64(keras64):
    """Under ``keras64`` Keras's schedules agree with the float64 transcriptions in
    ``tests/reference.py`` to rtol 1e-13 (float32 anywhere would show ~1e-7)."""
    n = 200
    cases = [
        (schedules.CosineDecay(f64(0.3), 100, alpha=0.0), reference.keras_cosine_decay,
         (0.3, 100, 0.0)),
        (schedules.CosineDecayRestarts(f64(0.1), 10, 1.5, 0.8, 0.1),
         reference.keras_cosine_decay_restarts, (0.1, 10, 1.5, 0.8, 0.1)),
        (schedules.ExponentialDecay(f64(0.1), 7, 0.9, staircase=True),
         reference.keras_exponential_decay, (0.1, 7, 0.9, True)),
        (schedules.PolynomialDecay(f64(0.1), 30, 1e-4, 0.5, cycle=True),
         reference.keras_polynomial_decay, (0.1, 30, 1e-4, 0.5, True)),
    ]
    for schedule, oracle, args in cases:
        ref = np.array([oracle(t, *args) for t in range(n)])
        got = keras_values(schedule, n)
        # cos(pi) rounds to -1 + 1e-16 or so: an absolute floor of 1e-17 of the peak.
        np.testing.assert_allclose(got, ref, rtol=1e-13, atol=1e-17,
                                   err_msg=type(schedule).__name__)


JIT_CASES = [  # (name, keras schedule factory, n)
    ("ExponentialDecay", lambda: schedules.ExponentialDecay(f64(0.1), 7, 0.9, staircase=True), 60),
    ("PolynomialDecay", lambda: schedules.PolynomialDecay(f64(0.1), 7, 1e-3, 1.7, cycle=True), 60),
    ("PiecewiseConstantDecay", lambda: schedules.PiecewiseConstantDecay([3, 9], [f64(1.0), f64(0.5),
                                                                               f64(0.1)]), 20),
    ("InverseTimeDecay", lambda: schedules.InverseTimeDecay(f64(0.1), 3, 0.5, staircase=False), 30),
    ("CosineDecay warmup",
     lambda: schedules.CosineDecay(f64(0.0), 30, 0.1, warmup_target=f64(0.5), warmup_steps=10), 60),
    ("CosineDecayRestarts 2", lambda: schedules.CosineDecayRestarts(f64(0.1), 3, 2.0, 0.5), 200),
    ("CosineDecayRestarts 1.25", lambda: schedules.CosineDecayRestarts(f64(1.0), 16, 1.25, 0.9,
                                                                       0.05), 100),
]


@pytest.mark.parametrize("name,make_keras,n", JIT_CASES, ids=[c[0] for c in JIT_CASES])
def test_jit_scalar_calls(keras64, name, make_keras, n):
    """Keras's schedule called the way its optimizers call it (a scalar step
    under ``jax.jit``) gives the values the tests read from vector calls
    (``vmap`` for ``CosineDecay`` with a warmup), restart artifacts included."""
    schedule = make_keras()
    vectorised = name != "CosineDecay warmup"
    batched = keras_values(schedule, n, vectorised)
    jitted = jax.jit(schedule)
    scalar = np.array([float(jitted(np.int64(t))) for t in range(n)])
    np.testing.assert_allclose(scalar, batched, rtol=1e-13, atol=1e-300,
                               err_msg=f"keras {KERAS_VERSION} {name}: jit scalar vs vector")


AS_SHIPPED = [  # (name, keras schedule factory, jaxlr schedule, peak, n, vectorised)
    ("ExponentialDecay", lambda: schedules.ExponentialDecay(f64(0.1), 7, 0.5, staircase=True),
     lambda: jaxlr.exponential(0.1, 0.5, 7, staircase=True), 0.1, 100, True),
    ("PolynomialDecay", lambda: schedules.PolynomialDecay(f64(0.1), 10, 1e-4, 0.5, cycle=True),
     lambda: jaxlr.polynomial(0.1, 1e-4, 10, 0.5, cycle=True), 0.1, 100, True),
    ("CosineDecay", lambda: schedules.CosineDecay(f64(0.3), 100, alpha=0.0),
     lambda: jaxlr.cosine(0.3, 100), 0.3, 300, True),
    ("CosineDecay warmup",
     lambda: schedules.CosineDecay(f64(0.0), 50, 0.1, warmup_target=f64(0.5), warmup_steps=10),
     lambda: jaxlr.warmup(jaxlr.cosine(0.5, 50, 0.05), 10), 0.5, 200, False),
    ("CosineDecayRestarts", lambda: schedules.CosineDecayRestarts(f64(0.1), 7, 2.0, 0.8, 0.0),
     lambda: jaxlr.cosine_restarts(0.1, 7, 2.0, 0.8), 0.1, 400, True),
    ("CosineDecayRestarts 1.5", lambda: schedules.CosineDecayRestarts(f64(0.1), 8, 1.5, 1.0, 0.1),
     lambda: jaxlr.cosine_restarts(0.1, 8, 1.5, 1.0, 0.01), 0.1, 400, True),
]


@pytest.mark.parametrize("name,make_keras,make_ours,peak,n,vectorised", AS_SHIPPED,
                         ids=[c[0] for c in AS_SHIPPED])
def test_keras_as_shipped(keras_as_shipped, name, make_keras, make_ours, peak, n, vectorised):
    """Keras's schedules with Keras's own type promotion (float32 ``cos``,
    ``floor``, ``ceil`` on the JAX backend) match jaxlr to float32 rounding of
    the peak (``atol = 1e-6 * peak``), every restart included. Not tallied:
    the tally is for float64 comparisons."""
    ref = keras_values(make_keras(), n, vectorised)
    np.testing.assert_allclose(evaluate(make_ours(), n), ref, rtol=1e-6, atol=1e-6 * peak,
                               err_msg=f"keras {KERAS_VERSION} {name} (as shipped)")
