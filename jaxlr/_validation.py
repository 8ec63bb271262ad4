"""Argument checks that run only on concrete values.

A hyperparameter may be a tracer (the constructor called under ``jit``,
``vmap`` or ``grad``); then it cannot be inspected and is left alone: the
documented domain applies and the formulas clamp with ``jnp.where``. When it is
concrete, an invalid value raises ``ValueError`` naming the function, the
argument and the value.
"""

from __future__ import annotations

import jax
import numpy as np


class NotANumber(ValueError):
    """A value that should be a number (or an array of numbers) is not."""


def _describe(x):
    if x is None:
        return "None, which is not a number"
    if isinstance(x, (str, bytes)):
        return f"the string {x!r}, not a number"
    return f"{x!r}"


def concrete(x):
    """``x`` as a float64 numpy array, or ``None`` when any part is traced.

    Raises ``NotANumber`` (a ``ValueError``) for ``None``, strings and
    anything else numpy cannot read as numbers.
    """
    if isinstance(x, jax.core.Tracer):
        return None
    if x is None or isinstance(x, (str, bytes)) or (
            isinstance(x, (list, tuple))
            and any(e is None or isinstance(e, (str, bytes)) for e in x)):
        raise NotANumber(f"expected a number or array of numbers, got {_describe(x)}")
    try:
        return np.asarray(x, dtype=np.float64)
    except (jax.errors.TracerArrayConversionError, jax.errors.ConcretizationTypeError):
        return None
    except (TypeError, ValueError) as e:
        raise NotANumber(f"expected a number or array of numbers, got {_describe(x)}") from e


def _fail(fn, name, value, requirement):
    raise ValueError(f"jaxlr.{fn}: {name} must be {requirement}, got {value!r}")


def check(fn, name, value, *, positive=False, nonneg=False, lo=None, hi=None,
          lo_open=False, hi_open=False, allow_inf=False):
    """Validate a numeric argument when it is concrete; return it unchanged."""
    try:
        v = concrete(value)
    except NotANumber as e:
        raise NotANumber(f"jaxlr.{fn}: {name} must be a number or array of numbers, "
                         f"got {_describe(value)}") from e
    if v is None:
        return value
    if np.isnan(v).any():
        _fail(fn, name, value, "a number (not NaN)")
    if not allow_inf and np.isinf(v).any():
        _fail(fn, name, value, "finite")
    if positive and (v <= 0).any():
        _fail(fn, name, value, "> 0")
    if nonneg and (v < 0).any():
        _fail(fn, name, value, ">= 0")
    if lo is not None and ((v <= lo) if lo_open else (v < lo)).any():
        _fail(fn, name, value, f"{'>' if lo_open else '>='} {lo}")
    if hi is not None and ((v >= hi) if hi_open else (v > hi)).any():
        _fail(fn, name, value, f"{'<' if hi_open else '<='} {hi}")
    return value


def check_schedule(fn, name, value):
    """Require a schedule: a callable ``step -> lr`` (checked when the combinator is built)."""
    if not callable(value):
        raise ValueError(f"jaxlr.{fn}: {name} must be a schedule (a callable step -> lr, "
                         f"e.g. jaxlr.constant(0.1)), got {_describe(value)}")
    return value


def check_sorted(fn, name, value):
    """Require a 1-D sequence in non-decreasing order (when concrete)."""
    v = concrete(value)
    if v is not None and np.any(np.diff(v) < 0):
        _fail(fn, name, value, "sorted in non-decreasing order")
    return value


def check_1d(fn, name, value):
    """Require a 1-D sequence (its length is structure, so this always runs)."""
    if not isinstance(value, (list, tuple)) and getattr(value, "ndim", None) != 1:
        _fail(fn, name, value, "a 1-D sequence")
    return value


def check_choice(fn, name, value, choices):
    """Require one of a fixed set of (static) options."""
    if value not in choices:
        _fail(fn, name, value, f"one of {sorted(choices)!r}")
    return value


def check_boundaries(fn, boundaries, pieces, pieces_name):
    """Require sorted boundaries >= 0 and exactly one more piece than boundaries."""
    check_1d(fn, "boundaries", boundaries)
    if len(pieces) != len(boundaries) + 1:
        raise ValueError(
            f"jaxlr.{fn}: {pieces_name} must have len(boundaries) + 1 = {len(boundaries) + 1} "
            f"entries, got {len(pieces)}: {pieces_name}={pieces!r}, boundaries={boundaries!r}")
    check(fn, "boundaries", boundaries, nonneg=True)
    check_sorted(fn, "boundaries", boundaries)
    return boundaries


def check_at_most(fn, name, value, bound, bound_text):
    """Require ``value <= bound`` when both are concrete; ``bound_text`` says what the bound is."""
    v, b = concrete(value), concrete(bound)
    if v is not None and b is not None and (v > b).any():
        _fail(fn, name, value, f"<= {bound_text} = {float(b):g}")
    return value
