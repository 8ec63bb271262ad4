"""Arithmetic shared by schedules and combinators: dtypes, steps, exact fractions.

Everything here is a small pure ``jnp`` function. Keeping these in one place is
what gives every schedule the same float conventions. Three facts shape them:

- Under ``jax.jit`` XLA rewrites ``x / c`` for a constant ``c`` into
  ``x * (1 / c)``, so ``t / T`` at ``t = T`` can be a few ulps away from 1 and
  ``1 - t / T`` a tiny negative number (NaN under a non-integer power).
  Fractions are therefore forced to their exact value at both ends, remaining
  fractions are computed as ``(T - t) / T`` from an exact numerator, and
  bases of powers are clamped at 0.
- float32 holds every integer only up to 2**24. Periodic schedules reduce the
  *integer* step modulo their period (``divmod_step``) before any float32
  arithmetic, so their phase is exact at every int32 step.
- ``floor`` of a rounded quotient can land one period off at a boundary, so
  period indices are checked against the boundary itself.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

# An integer step is split as hi + lo with lo = step mod 2**12: both parts are
# exact in float32 for every int32 step (hi has at most 19 significant bits).
_LO_BITS = 12


def float_dtype():
    """The default float dtype: float32, or float64 under ``jax_enable_x64``."""
    return jnp.result_type(float)


def as_float(x):
    """``x`` as an array of the default float dtype (works on tracers)."""
    return jnp.asarray(x, dtype=float_dtype())


def _host_integer(step):
    """``step`` as a numpy integer array if it is a concrete host integer, else None.

    Python and numpy integers go through numpy so that an int64 step beyond the
    int32 range is converted by value (``jnp.asarray`` would wrap a numpy int64
    without x64 and reject a Python int).
    """
    if isinstance(step, (jax.Array, jax.core.Tracer)):
        return None
    if isinstance(step, (bool, np.bool_)):
        return None
    if isinstance(step, int):
        return np.asarray(step, dtype=np.int64)
    if isinstance(step, (np.ndarray, np.generic, list, tuple)):
        host = np.asarray(step)
        if np.issubdtype(host.dtype, np.integer):
            return host
    return None


def as_step(step):
    """The step as a float array of the default dtype.

    Casting *before* any arithmetic is what keeps ``step + 1`` or
    ``step * k`` from overflowing int32 near 2**31. float32 holds every
    integer step exactly up to 2**24 (above it, steps are rounded to float32's
    spacing: 2 at 2**24, 128 at 2**31); under x64 up to 2**53. A host integer
    step beyond the int32 range (a numpy int64, a Python int) is converted by
    value, never wrapped.
    """
    host = _host_integer(step)
    if host is not None:
        return jnp.asarray(host.astype(np.float64), dtype=float_dtype())
    return jnp.asarray(step).astype(float_dtype())


def _step_parts(step):
    """``(hi, lo)``: floats with ``hi + lo == step`` exactly, for an integer step
    (a jax integer array or a host integer array).

    ``lo = step mod 2**12`` and ``hi = step - lo`` are each exact in float32
    for every int32 step.
    """
    host = _host_integer(step)
    if host is not None:
        lo = np.mod(host, 2**_LO_BITS)
        return as_float((host - lo).astype(np.float64)), as_float(lo.astype(np.float64))
    lo = jnp.mod(step, 2**_LO_BITS)
    return as_float(step - lo), as_float(lo)


def _mod(x, size):
    """``x mod size`` in ``[0, size)``; ``lax.rem`` (IEEE fmod) is exact."""
    r = lax.rem(x, size)
    return jnp.where(r < 0, r + size, r)


def divmod_step(step, size):
    """``(q, r)`` with ``q = floor(step / size)`` and ``r = step - q * size``, as floats.

    For an integer step (int32, or a host int64) ``r`` is exact for every
    ``size > 0``: with integer arithmetic when ``size`` is a whole number (one
    ``lax.cond`` picks the branch; under ``vmap`` over ``size`` both run), else
    from the exact parts of ``_step_parts`` with the exact ``fmod``; never from
    a rounded quotient. ``q`` is then exact while the float dtype holds it.
    A float step is taken as it is: ``floor(t / size)`` checked against the
    boundary ``q * size`` (exact for integer-valued steps and sizes below 2**24
    in float32).
    """
    size = as_float(size)
    host = _host_integer(step)
    if host is not None:
        fits = np.iinfo(np.int64 if float_dtype() == jnp.float64 else np.int32)
        if host.size and (host.min() < fits.min or host.max() > fits.max):
            return _divmod_parts(step, size)
        step = jnp.asarray(host)
    step = jnp.asarray(step)
    if not jnp.issubdtype(step.dtype, jnp.integer):
        return _divmod_float(as_float(step), size)
    # a bound the float dtype holds exactly, so that the cast below cannot overflow
    limit = 2.0 ** (jnp.iinfo(step.dtype).bits - 2)
    whole = jnp.all((size == jnp.floor(size)) & (size <= limit))

    def integer(_):
        n = jnp.clip(size, 1.0, limit).astype(step.dtype)
        return as_float(jnp.floor_divide(step, n)), as_float(jnp.remainder(step, n))

    return lax.cond(whole, integer, lambda _: _divmod_parts(step, size), None)


def _divmod_parts(step, size):
    """``divmod_step`` of an integer step by any float size, via exact ``fmod``."""
    hi, lo = _step_parts(step)
    # both remainders are exact and below size, so is their sum up to one
    # rounding at the scale of size
    r = _mod(_mod(hi, size) + _mod(lo, size), size)
    r = jnp.where(r >= size, r - size, r)
    q = jnp.round(((hi - r) + lo) / size)
    return q, r


def _divmod_float(t, size):
    """``divmod_step`` of a float step: the quotient corrected against ``q * size``."""
    q = jnp.floor(t / size)
    q = jnp.where(q * size > t, q - 1, q)
    q = jnp.where((q + 1) * size <= t, q + 1, q)
    r = jnp.clip(t - q * size, 0.0, jnp.maximum(size - jnp.finfo(t.dtype).eps * size, 0.0))
    return q, r


def floor_div(step, size):
    """``floor(step / size)``, checked against the boundary (see ``divmod_step``)."""
    return divmod_step(step, size)[0]


def safe_positive(x):
    """``x`` where it is > 0, else 1: a denominator that never divides by zero.

    Used with ``jnp.where`` so that the branch not taken cannot produce NaN in
    either the value or its gradient.
    """
    return jnp.where(x > 0, x, jnp.ones_like(x))


def fraction(t, horizon):
    """Progress ``t / horizon`` clipped to ``[0, 1]``: exactly 0 at ``t <= 0``
    and exactly 1 at ``t >= horizon`` (also when ``horizon <= 0``)."""
    p = jnp.clip(t / safe_positive(horizon), 0.0, 1.0)
    return jnp.where(t >= horizon, 1.0, jnp.where(t <= 0, 0.0, p))


def remaining(t, horizon):
    """The remaining fraction ``(horizon - t) / horizon`` clipped to ``[0, 1]``.

    Computed from the exact numerator ``horizon - min(t, horizon)``, so it is
    exactly 0 from the horizon on and accurate (no cancellation) near it, where
    ``1 - t / horizon`` is a few ulps off and may be negative. Exactly 1 at
    ``t <= 0``; 0 for every ``t`` when ``horizon <= 0``.
    """
    r = jnp.clip((horizon - jnp.minimum(t, horizon)) / safe_positive(horizon), 0.0, 1.0)
    return jnp.where(t >= horizon, 0.0, jnp.where(t <= 0, 1.0, r))


def power(base, exponent):
    """``max(base, 0) ** exponent`` with ``0 ** 0 = 1`` and finite gradients.

    The double ``where`` keeps ``d/d exponent`` (``log 0``) and
    ``d/d base`` (``exponent * 0 ** (exponent - 1)``) out of the gradient at a
    zero base.
    """
    positive = base > 0
    safe = jnp.where(positive, base, 1.0)
    return jnp.where(positive, safe**exponent, jnp.where(exponent == 0, 1.0, 0.0))


def interpolate(start, end, weight):
    """``start`` at ``weight = 0``, ``end`` at ``weight = 1``, linear between.

    Exact at both ends (the form ``start (1 - w) + end w``) and never outside
    ``[min(start, end), max(start, end)]`` (rounding between the ends is
    clipped), for any ``weight`` in ``[0, 1]``.
    """
    return between(start * (1.0 - weight) + end * weight, start, end)


def between(value, start, end):
    """``value`` clipped to ``[min(start, end), max(start, end)]``."""
    return jnp.clip(value, jnp.minimum(start, end), jnp.maximum(start, end))


def half_cosine(rest):
    """``(1 + cos(pi (1 - rest))) / 2 = sin(pi rest / 2) ** 2`` for ``rest`` in ``[0, 1]``.

    The cosine annealing shape as a function of the *remaining* fraction: the
    sine form has no cancellation near the end (``rest -> 0``), where
    ``1 + cos(pi p)`` loses every digit, and it is never negative.
    """
    return jnp.sin(0.5 * jnp.pi * rest) ** 2


def _snap(x):
    """``x`` rounded to the nearest integer when it is one up to a few ulps.

    A boundary computed from hyperparameters (``P (m**k - 1) / (m - 1)``) that
    is mathematically an integer comes out a few ulps off under float
    arithmetic and jit's reciprocal rewrite; snapping it makes an integer step
    that lands on it exactly compare as on or after it.
    """
    nearest = jnp.round(x)
    tolerance = 8.0 * jnp.finfo(x.dtype).eps * jnp.abs(x)
    return jnp.where(jnp.abs(x - nearest) <= tolerance, nearest, x)


def restart_position(step, period, period_mul):
    """Where ``step`` falls in SGDR periods of length ``period * period_mul**i``.

    Returns ``(i, tau, length)``: the 0-based period index, the steps since
    that period began (in ``[0, length)``) and that period's length. Period
    ``i`` starts at ``S_i = period * (m**i - 1) / (m - 1)`` (``period * i`` when
    ``m == 1``, found with the exact ``divmod_step``). For ``m > 1``,
    ``i = floor(log(1 + t (m - 1) / period) / log m)`` (Loshchilov & Hutter
    2017, the formula of Keras ``CosineDecayRestarts``), then checked against
    ``S_i`` and ``S_{i+1}`` themselves, snapped to the integer they equal up to
    rounding, so an integer step on a period start always restarts.
    """
    period = as_float(period)
    period_mul = as_float(period_mul)
    t = as_step(step)
    geometric = period_mul != 1.0
    m = jnp.where(geometric, period_mul, 2.0)  # any value != 1 keeps the unused branch finite
    # m - 1 is exact; log1p/expm1 keep m**k - 1 accurate for m near 1, where
    # the subtraction would cancel every digit of m**k
    growth = m - 1.0
    log_m = jnp.log1p(growth)
    i = jnp.floor(jnp.log1p(t / period * growth) / log_m)

    def start(k):
        return _snap(period * (jnp.expm1(k * log_m) / growth))

    i = jnp.where(t < start(i), i - 1, i)
    i = jnp.where(t >= start(i + 1), i + 1, i)
    i = jnp.maximum(i, 0.0)
    length_geo = period * jnp.exp(i * log_m)
    tau_geo = jnp.clip(t - start(i), 0.0, length_geo)
    q, r = divmod_step(step, period)
    return (jnp.where(geometric, i, q), jnp.where(geometric, tau_geo, r),
            jnp.where(geometric, length_geo, period))


def one_minus_power(progress, rest, exponent):
    """``1 - p ** k`` for a progress ``p`` in ``[0, 1]`` with remaining fraction
    ``rest = 1 - p`` (both as ``fraction``/``remaining`` give them) and ``k > 0``.

    Computed as ``-expm1(k log p)``, with ``log p`` taken from ``p`` itself in
    the first half and as ``log1p(-rest)`` in the second: each is accurate to a
    few ulps where it is used, so the value is accurate relative to itself at
    both ends (``1 - p**k`` cancels every digit near ``p = 1``). Exactly 1 at
    ``p = 0`` and exactly 0 at ``rest = 0``; finite gradients everywhere.
    """
    first_half = progress < 0.5
    safe_p = jnp.where(progress > 0, progress, 1.0)
    safe_rest = jnp.where(first_half, 0.0, rest)
    log_p = jnp.where(first_half, jnp.log(safe_p), jnp.log1p(-safe_rest))
    return jnp.where(progress > 0, -jnp.expm1(exponent * log_p), 1.0)


def normalized_exponential(rest, ratio):
    """``(r ** p - r) / (1 - r)`` with ``p = 1 - rest``, for ``0 < r < 1``.

    An exponential decay ``r ** p`` rescaled to fall from exactly 1 at ``p = 0``
    to exactly 0 at ``p = 1``. ``r ** p - r = r expm1(-rest log r)`` keeps the
    digits near the end, where the difference cancels.
    """
    return ratio * jnp.expm1(-rest * jnp.log(ratio)) / (1.0 - ratio)
