"""Every registry schedule the way optax calls it, over its whole documented domain.

optax evaluates ``schedule(count)`` inside a jitted update with a scalar int32
``count``, and the schedule's hyperparameters are constants of the compiled
program (XLA folds them: ``x / T`` becomes ``x * (1 / T)``). This test does
exactly that: for each registry case it draws hyperparameters at random over
the documented domain (``tests/domains.py``, seeded), builds the schedule with
them as Python constants, and evaluates ``jax.jit`` of it on scalar int32 steps,
in float32 and in float64, against the exact float64 oracle of
``tests/oracles.py`` at every step of a grid that holds 0, 1, every mark
(horizon, boundary, phase end) -1/+0/+1, multiples of the period,
``2**24 - 1``, ``2**24``, ``2**24 + 1``, ``2**31 - 2``, ``2**31 - 1`` and random steps.

What must hold, at every step:

- the value is finite (or infinite exactly where the true value overflows the
  dtype) and inside the case's documented ``[lo, hi]`` (``bounds``), up to one
  rounding of the dtype;
- the value equals the reference up to ``RTOL[dtype]`` of the schedule's scale
  (its largest value on the grid), where the reference is the range of the
  exact values over the steps the dtype cannot tell apart from ``t`` (within
  ``32 eps t``: float32 rounds steps above 2**24, and a boundary computed from
  hyperparameters moves by as much; within ``32 eps P`` for schedules periodic
  in the integer step with a period ``P`` the dtype holds exactly, whose
  phase is exact at every int32 step), with the given hyperparameters and
  with the same rounded to the dtype (a float32 ``gamma ** t`` or a float32
  fractional period drifts from the float64 one as ``t`` grows).

Several configurations are compiled as one program (each schedule still sees
its own scalar int32 step and its own constants) to keep compile time down.
``JAXLR_OPTAX_CALL_REPORT`` names a JSON file that receives, per case and
dtype, the configurations and steps checked, how many steps equalled the exact
value (``equal``), were within the dtype's resolution of the step
(``within_resolution``) or only in range (``range_only``: the resolution spans
a whole period of the schedule), and the largest errors relative to the
schedule's scale (all steps; steps below 2**24, where float32 holds every
step; the same against the schedule of the hyperparameters rounded to the
dtype) and pointwise relative errors below 2**24 where the value is above 1e-3
of the scale.
"""

from __future__ import annotations

import collections
import json
import math
import os

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from domains import DOMAINS
from oracles import ORACLES
from registry import CASES, CASES_BY_NAME

CONFIGS = int(os.environ.get("JAXLR_OPTAX_CALL_CONFIGS", "100"))  # per case and dtype
CHUNK = 32  # configurations compiled together
RTOL = {"float32": 1e-5, "float64": 1e-9}
EPS = {"float32": float(np.finfo(np.float32).eps), "float64": float(np.finfo(np.float64).eps)}
LARGE = [2**24 - 1, 2**24, 2**24 + 1, 2**31 - 2, 2**31 - 1]
INT32_MAX = 2**31 - 1
# steps within RESOLUTION * eps * t of t are not told apart: rounding t itself
# (eps / 2), and a boundary computed as P * expm1(k log m) / (m - 1) carries a
# relative error up to about k log(m) * eps, i.e. log(1 + t (m - 1) / P) * eps <= 22 eps
RESOLUTION = 32
# a growth factor (r**x, exp(x)) overflows before it is scaled down from here on
OVERFLOW_NEAR = {"float32": 1e30, "float64": 1e300}

REPORT = collections.defaultdict(dict)


@pytest.fixture(autouse=True)
def _free_the_compiled_programs():
    """Each test compiles hundreds of one-off programs: drop them afterwards."""
    yield
    jax.clear_caches()


def test_every_case_has_a_domain_and_an_oracle():
    names = {case.name for case in CASES}
    assert names == set(DOMAINS), names ^ set(DOMAINS)
    assert names == set(ORACLES), names ^ set(ORACLES)


def _grid(domain, kw, rng):
    marks = [m for m in domain.marks(kw) if math.isfinite(m)]
    steps = {0, 1, 2, *LARGE}
    for m in marks:
        for s in (math.floor(m) - 1, math.floor(m), math.ceil(m), math.ceil(m) + 1):
            steps.add(s)
    period = domain.period(kw)
    if period is not None:
        for k in (1, 2, 3, 7):
            steps.update((math.floor(k * period), math.ceil(k * period)))
        for big in (2**24, INT32_MAX):
            k = math.floor(big / period)
            steps.update((math.floor(k * period) - 1, math.floor(k * period),
                          math.ceil(k * period)))
    top = max([100.0, *marks]) * 1.5
    steps.update(int(x) for x in rng.uniform(0, min(top, INT32_MAX), 12))
    steps.update(int(x) for x in 10 ** rng.uniform(0, math.log10(INT32_MAX), 6))
    return sorted(s for s in steps if 0 <= s <= INT32_MAX)


def _neighbourhood(domain, kw, t, delta):
    """The steps within ``delta`` of ``t`` that the reference is evaluated at: the
    ends, integers between them, and both sides of every edge between them; None
    when the interval holds more edges than can be listed (a whole pattern)."""
    lo, hi = t - delta, t + delta
    edges = domain.edges(kw, lo, hi)
    if edges is None:
        return None
    points = {t, lo, hi}
    for e in edges:
        points.update((e, e - 1e-9 * max(1.0, e), e + 1e-9 * max(1.0, e)))
    if delta >= 0.5:
        points.update(np.unique(np.linspace(math.ceil(lo), math.floor(hi),
                                            min(math.floor(hi) - math.ceil(lo) + 1, 65))
                                .round().astype(int)).tolist())
    return sorted(p for p in points if lo <= p <= hi and p >= 0)


def _evaluate(case, configs, dtype):
    """``jax.jit`` of each schedule on scalar int32 steps: ``[config, grid index]``."""
    width = max(len(grid) for _, grid in configs)
    grids = np.array([grid + [grid[-1]] * (width - len(grid)) for _, grid in configs], np.int64)
    with jax.enable_x64(dtype == "float64"):
        schedules = [case.build(**kw) for kw, _ in configs]

        @jax.jit
        def evaluate(steps):  # steps: int32[config]; schedule i sees the scalar steps[i]
            return jnp.stack([s(steps[i]) for i, s in enumerate(schedules)])

        columns = []
        for j in range(width):
            out = evaluate(jnp.asarray(grids[:, j], jnp.int32))
            assert out.dtype == jnp.dtype(dtype), out.dtype
            columns.append(np.asarray(out, np.float64))
    values = np.stack(columns, axis=1)
    return [values[i, :len(grid)] for i, (_, grid) in enumerate(configs)]


def _in_dtype(kw, dtype):
    """The hyperparameters as the dtype holds them (what the compiled schedule computes with)."""
    def cast(x):
        if isinstance(x, (list, tuple)):
            return [cast(e) for e in x]
        return float(np.asarray(x, dtype)) if isinstance(x, float) else x

    return {k: cast(x) for k, x in kw.items()}


def _representable(x, dtype):
    return x is not None and float(np.asarray(x, dtype)) == x


def _check(case, dtype, kw, grid, ours):
    domain, oracle = DOMAINS[case.name], ORACLES[case.name]
    eps, rtol = EPS[dtype], RTOL[dtype]
    big = float(np.finfo(dtype).max)
    lo, hi = domain.bounds(kw)
    rounded = _in_dtype(kw, dtype)
    # the phase is exact at every int32 step only for a period the dtype holds exactly
    period = domain.period(rounded)
    period = period if _representable(period, dtype) else None
    exact = np.array([oracle(t, **kw) for t in grid], np.float64)
    finite = exact[np.isfinite(exact) & (np.abs(exact) <= big)]
    scale = max([abs(lo), abs(hi) if math.isfinite(hi) else 0.0,
                 *(np.abs(finite).tolist() if finite.size else [])]) or 1.0
    stats = collections.Counter()
    worst = dict(scaled=0.0, scaled_below_2_24=0.0, rel_below_2_24=0.0,
                 rounded_params_below_2_24=0.0, scaled_at_equal_steps=0.0)
    for t, value, ref in zip(grid, ours, exact):
        label = f"{case.name} {dtype} {kw} at step {t}: ours {value!r}, exact {ref!r}"
        stats["steps"] += 1
        if abs(ref) > big:  # the true value overflows the dtype
            assert np.isinf(value) and np.sign(value) == np.sign(ref), label
            continue
        if np.isinf(value) and math.isinf(hi) and abs(ref) > OVERFLOW_NEAR[dtype]:
            continue  # a growing schedule's factor overflowed before its scale brought it back
        assert np.isfinite(value), label
        slack = 2 * eps * max(abs(lo), abs(hi) if math.isfinite(hi) else abs(value))
        assert lo - slack <= value <= hi + slack, f"{label}: outside [{lo}, {hi}]"
        error = abs(value - ref)
        worst["scaled"] = max(worst["scaled"], error / scale)
        if t < 2**24:
            worst["scaled_below_2_24"] = max(worst["scaled_below_2_24"], error / scale)
            if abs(ref) > 1e-3 * scale:
                worst["rel_below_2_24"] = max(worst["rel_below_2_24"], error / abs(ref))
        if error <= rtol * scale:
            stats["equal"] += 1
            worst["scaled_at_equal_steps"] = max(worst["scaled_at_equal_steps"], error / scale)
            if t < 2**24:
                worst["rounded_params_below_2_24"] = max(worst["rounded_params_below_2_24"],
                                                         error / scale)
            continue
        delta = RESOLUTION * eps * (min(t, period) if period is not None else t)
        # the exact values near t, for the given hyperparameters and for the same
        # rounded to the dtype (a float32 gamma**t or period drifts with t)
        near, spans_pattern = [], False
        for params in (kw, rounded):
            steps = _neighbourhood(domain, params, t, delta)
            if steps is None:
                spans_pattern = True
                break
            near += [x for x in (oracle(s, **params) for s in steps) if abs(x) <= big]
        if spans_pattern:  # beyond the dtype's resolution of this schedule: range only
            stats["range_only"] += 1
            continue
        gap = max(0.0, min(near) - value, value - max(near))
        assert gap <= rtol * scale, f"{label}: off by {gap / scale:.3g} of {scale:.3g}"
        stats["within_resolution"] += 1
        if t < 2**24:  # against the schedule of the hyperparameters as the dtype holds them
            error = min(error, abs(value - oracle(t, **rounded)))
            worst["rounded_params_below_2_24"] = max(worst["rounded_params_below_2_24"],
                                                     error / scale)
    return stats, worst


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("case", CASES, ids=str)
def test_jit_on_int32_step_equals_exact_reference(case, dtype):
    rng = np.random.default_rng([ord(c) for c in f"{case.name} {dtype}"])  # seeded per case
    domain = DOMAINS[case.name]
    configs = []
    for _ in range(CONFIGS):
        kw = domain.draw(rng)
        configs.append((kw, _grid(domain, kw, rng)))
    stats, worst = collections.Counter(), collections.defaultdict(float)
    for start in range(0, len(configs), CHUNK):
        chunk = configs[start:start + CHUNK]
        for (kw, grid), ours in zip(chunk, _evaluate(case, chunk, dtype)):
            counts, errors = _check(case, dtype, kw, grid, ours)
            stats["configs"] += 1
            stats.update(counts)
            for key, error in errors.items():
                worst[key] = max(worst[key], error)
    stats = {**stats, **{f"max_{key}_error": error for key, error in worst.items()}}
    REPORT[case.name][dtype] = stats
    path = os.environ.get("JAXLR_OPTAX_CALL_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(REPORT, f, indent=1, sort_keys=True)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_optax_sgd_runs_past_the_horizon_with_finite_parameters(case):
    """``optax.sgd(schedule)`` jitted, run well past the horizon, from count 0 and
    from a count near 2**31: every update's lr is finite and so are the parameters."""
    schedule = case.build(**case.params)
    optimizer = optax.sgd(schedule)

    @jax.jit
    def run(state, params):
        def body(carry, _):
            state, params = carry
            grads = jax.grad(lambda p: jnp.sum((p - 1.0) ** 2))(params)
            updates, state = optimizer.update(grads, state, params)
            return (state, optax.apply_updates(params, updates)), updates

        return jax.lax.scan(body, (state, params), None, length=4 * case.horizon)

    params = jnp.zeros(2)
    (_, final), updates = run(optimizer.init(params), params)
    assert np.all(np.isfinite(final)) and np.all(np.isfinite(updates)), case.name
    late = optimizer.init(params)
    late = jax.tree.map(lambda x: jnp.full_like(x, INT32_MAX - 4 * case.horizon - 1)
                        if x.dtype == jnp.int32 else x, late)
    (_, final), updates = run(late, params)
    assert np.all(np.isfinite(final)) and np.all(np.isfinite(updates)), case.name


def test_the_int32_and_int64_steps_of_a_host_are_not_wrapped():
    schedule = CASES_BY_NAME["linear"].build(init_value=1.0, end_value=0.0,
                                             transition_steps=2.0**33)
    assert float(schedule(np.int64(2**33))) == 0.0
    assert float(schedule(2**33)) == 0.0
    assert float(schedule(np.array([2**32 + 2**31], np.int64))[0]) == pytest.approx(0.25)
