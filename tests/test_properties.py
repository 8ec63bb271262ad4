"""Properties every schedule and combinator must have (GUIDE section 3).

Driven by ``registry.CASES``: jit equals eager; a vector of steps equals vmap
over steps; the constructor vmapped over each numeric hyperparameter equals one
build per value; gradients w.r.t. value hyperparameters are finite; dtype and
shape; exact values at 0, boundaries, the horizon, past it and at 2**31 - 1.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from registry import BIG, CASES

# float32 rounding of the formulas, compared with float64 hand values
F32_RTOL = 2e-6


def grid(case):
    return jnp.arange(3 * case.horizon + 1)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_jit_equals_eager(case):
    schedule = case.build(**case.params)
    steps = grid(case)
    np.testing.assert_allclose(jax.jit(schedule)(steps), schedule(steps), rtol=F32_RTOL, atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_vector_of_steps_equals_vmap_over_steps(case):
    schedule = case.build(**case.params)
    steps = grid(case)
    np.testing.assert_allclose(jax.vmap(schedule)(steps), schedule(steps), rtol=F32_RTOL,
                               atol=1e-7)


@pytest.mark.parametrize("case", CASES, ids=str)
def test_shape_and_dtype(case):
    schedule = case.build(**case.params)
    for steps in (jnp.int32(3), jnp.zeros((2, 3), jnp.int32), jnp.arange(4.0), 7, np.arange(5)):
        out = schedule(steps)
        assert out.shape == np.shape(steps)
        assert out.dtype == jnp.float32
    with jax.enable_x64(True):
        assert case.build(**case.params)(jnp.arange(3)).dtype == jnp.float64


def _vary_cases():
    for case in CASES:
        for name, values in case.vary.items():
            yield pytest.param(case, name, values, id=f"{case.name}-{name}")


@pytest.mark.parametrize("case,name,values", list(_vary_cases()))
def test_constructor_vmaps_over_each_hyperparameter(case, name, values):
    steps = grid(case)
    values = [case.params.get(name, values[0]), *values]

    def run(h):
        return case.build(**{**case.params, name: h})(steps)

    batched = jax.vmap(run)(jnp.asarray(values))
    for i, value in enumerate(values):
        np.testing.assert_allclose(batched[i], run(value), rtol=F32_RTOL, atol=1e-7,
                                   err_msg=f"{name}={value}")
    # and the constructor also runs under jit with the hyperparameter traced
    np.testing.assert_allclose(jax.jit(run)(jnp.asarray(values[1])), run(values[1]),
                               rtol=F32_RTOL, atol=1e-7)


def _value_cases():
    for case in CASES:
        for name in case.values:
            yield pytest.param(case, name, id=f"{case.name}-{name}")


@pytest.mark.parametrize("case,name", list(_value_cases()))
def test_gradient_wrt_values_is_finite(case, name):
    steps = grid(case)

    def total(h):
        return case.build(**{**case.params, name: h})(steps).sum()

    g = jax.grad(total)(jnp.asarray(case.params[name], jnp.float32))
    assert np.all(np.isfinite(g)), (name, g)
    assert np.any(g != 0), f"lr does not depend on {name}"


@pytest.mark.parametrize("case", CASES, ids=str)
def test_exact_values(case):
    # periodic schedules (cyclic, cycle, restarts) have no held value far out;
    # their finiteness there is test_no_overflow_at_int32_max
    assert 0 in case.exact, "registry: give the value at step 0"
    schedule = case.build(**case.params)
    for step, expected in case.exact.items():
        np.testing.assert_allclose(schedule(jnp.asarray(step)), expected, rtol=F32_RTOL,
                                   atol=1e-7, err_msg=f"step {step}")


@pytest.mark.parametrize("case", CASES, ids=str)
def test_no_overflow_at_int32_max(case):
    schedule = case.build(**case.params)
    steps = jnp.array([BIG - 1, BIG], jnp.int32)
    assert np.all(np.isfinite(schedule(steps)))
    assert np.all(np.isfinite(jax.jit(schedule)(steps)))
