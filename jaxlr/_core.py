"""Arithmetic shared by schedules and combinators: dtypes, steps, safe ratios.

Everything here is a small pure ``jnp`` function. Keeping these in one place is
what gives every schedule the same float conventions (GUIDE section 3).
"""

from __future__ import annotations

import jax.numpy as jnp


def float_dtype():
    """The default float dtype: float32, or float64 under ``jax_enable_x64``."""
    return jnp.result_type(float)


def as_float(x):
    """``x`` as an array of the default float dtype (works on tracers)."""
    return jnp.asarray(x, dtype=float_dtype())


def as_step(step):
    """The step as a float array.

    Casting *before* any arithmetic is what keeps ``step + 1`` or
    ``step * k`` from overflowing int32 near 2**31. float32 holds every
    integer step exactly up to 2**24; under x64 up to 2**53.
    """
    return jnp.asarray(step).astype(float_dtype())


def safe_positive(x):
    """``x`` where it is > 0, else 1: a denominator that never divides by zero.

    Used with ``jnp.where`` so that the branch not taken cannot produce NaN in
    either the value or its gradient.
    """
    return jnp.where(x > 0, x, jnp.ones_like(x))


def fraction(t, horizon):
    """Progress ``clip(t / horizon, 0, 1)``; 1 when ``horizon <= 0``."""
    return jnp.where(horizon > 0, jnp.clip(t / safe_positive(horizon), 0.0, 1.0), 1.0)


def floor_div(t, size):
    """``floor(t / size)`` made exact for integer-valued floats.

    A float quotient can round up across an integer (e.g. ``(k*s - 1) / s``
    in float32 for large ``k``); one correction step on each side fixes it
    because the products ``q * size`` of small integers are exact.
    """
    q = jnp.floor(t / size)
    q = jnp.where(q * size > t, q - 1, q)
    return jnp.where((q + 1) * size <= t, q + 1, q)


def restart_position(t, period, period_mul):
    """Where step ``t`` falls in SGDR periods of length ``period * period_mul**i``.

    Returns ``(i, tau, length)``: the 0-based period index, the steps since
    that period began, and that period's length. Period ``i`` starts at
    ``S_i = period * (m**i - 1) / (m - 1)`` (``period * i`` when ``m == 1``),
    so ``i = floor(log(1 + t (m - 1) / period) / log m)`` (Loshchilov & Hutter
    2017, the formula of Keras ``CosineDecayRestarts``); one correction step
    each way removes the float error of the logarithm at exact boundaries.
    """
    geometric = period_mul != 1.0
    m = jnp.where(geometric, period_mul, 2.0)  # any value != 1 keeps the unused branch finite
    i_geo = jnp.floor(jnp.log1p(t / period * (m - 1.0)) / jnp.log(m))
    i = jnp.where(geometric, i_geo, floor_div(t, period))

    def start(k):
        return jnp.where(geometric, period * (m**k - 1.0) / (m - 1.0), period * k)

    i = jnp.where(t < start(i), i - 1, i)
    i = jnp.where(t >= start(i + 1), i + 1, i)
    length = period * jnp.where(geometric, m**i, 1.0)
    return i, t - start(i), length
