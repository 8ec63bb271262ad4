"""Combinators: functions from schedules to schedules.

Each takes ``optax.Schedule`` s (any callable ``step -> lr``) and returns one;
every numeric argument may be traced, so a combinator can be built inside
``jit``/``vmap``/``grad`` like the primitives. Children are evaluated on the
clamped step ``max(t', 0)`` they see, so a child is never asked for a negative
step. The schedule a combinator returns prints as the call that built it, its
children as theirs (see :mod:`jaxlr.expressions`).
"""

from __future__ import annotations

import jax.numpy as jnp

from jaxlr import _core
from jaxlr import _validation as v
from jaxlr.expressions import schedule_factory

__all__ = [
    "add",
    "clip",
    "cycle",
    "join",
    "linear_scaling",
    "multiply",
    "per_epoch",
    "restarts",
    "scale",
    "shift",
    "staircase",
    "warmup",
]

_WARMUP_MODES = ("linear", "constant", "exponential", "cosine")


@schedule_factory
def warmup(schedule, warmup_steps, init_value=0.0, mode="linear", prefix=True, peak_value=None):
    r"""Prepend (or overlay) a warmup of ``warmup_steps`` steps.

    For ``t < W`` the value ramps from ``init_value`` toward a target ``v*``
    with ``p = t / W``:

    - ``linear``: ``v_0 + (v* - v_0) p``
    - ``cosine``: ``v_0 + (v* - v_0) (1 - cos(pi p)) / 2``
    - ``exponential``: ``v_0 (v*/v_0)^p`` (needs ``v_0 > 0``)
    - ``constant``: ``v_0`` (Goyal et al.'s constant warmup)

    For ``t >= W`` the wrapped schedule takes over.

    Two conventions for where the wrapped schedule's clock starts:

    - ``prefix=True`` (default): the schedule starts after the warmup, seeing
      ``t - W``; the ramp's target is ``schedule(0)``. This is d2l's
      ``CosineScheduler(warmup_steps=W)`` (the cosine's horizon is
      ``max_update - W``; MXNet's, called with the 1-based ``t + 1``, is that
      expression wrapped in ``shift(..., -1)``), Keras 3 ``CosineDecay(warmup_steps=W,
      warmup_target=v*)`` (the decay's horizon is ``decay_steps``, after the
      warmup), timm ``warmup_prefix=True`` and Hugging Face's ``*_with_warmup``.
    - ``prefix=False``: the schedule runs on absolute steps, so its first ``W``
      steps are replaced; the ramp's target is ``schedule(W)``, the value it
      hands over to. timm's default (``warmup_prefix=False``) ramps to the base
      lr instead: pass ``peak_value=base_lr``.

    ``peak_value``, when given, overrides the ramp's target in both modes.

    Args:
      schedule: the schedule after warmup.
      warmup_steps: ``W >= 0`` (``0`` means no warmup).
      init_value: value at step 0.
      mode: static; ``linear``, ``constant``, ``exponential`` or ``cosine``.
      prefix: static; see above.
      peak_value: optional ramp target (static choice of ``None``).

    Returns:
      An ``optax.Schedule``.

    References:
      Goyal et al., "Accurate, Large Minibatch SGD" (2017); d2l
      "Learning Rate Scheduling"; timm ``Scheduler``; Keras 3 ``CosineDecay``.

    >>> import jaxlr
    >>> s = jaxlr.warmup(jaxlr.constant(1.0), 4)
    >>> print(s([0, 1, 2, 4, 8]))
    [0.   0.25 0.5  1.   1.  ]
    """
    v.check_schedule("warmup", "schedule", schedule)
    v.check_choice("warmup", "mode", mode, _WARMUP_MODES)
    v.check("warmup", "warmup_steps", warmup_steps, nonneg=True)
    v.check("warmup", "init_value", init_value)
    if mode == "exponential":
        v.check("warmup", "init_value", init_value, positive=True)
    if peak_value is not None:
        v.check("warmup", "peak_value", peak_value)
        peak_value = _core.as_float(peak_value)
    warmup_steps, init_value = map(_core.as_float, (warmup_steps, init_value))

    def wrapped(step):
        t = _core.as_step(step)
        if prefix:
            value = schedule(jnp.maximum(t - warmup_steps, 0.0))
            target = schedule(jnp.zeros((), t.dtype))
        else:
            value = schedule(t)
            target = schedule(warmup_steps)
        if peak_value is not None:
            target = peak_value
        p = _core.fraction(t, warmup_steps)
        if mode == "linear":
            ramp = _core.interpolate(init_value, target, p)
        elif mode == "cosine":
            # (1 - cos(pi p)) / 2, the cosine shape at remaining fraction p
            ramp = _core.interpolate(init_value, target, _core.half_cosine(p))
        elif mode == "exponential":
            ramp = _core.between(init_value * (target / init_value) ** p, init_value, target)
        else:
            ramp = jnp.broadcast_to(init_value, t.shape)
        return jnp.where(t < warmup_steps, ramp, value)

    return wrapped


@schedule_factory
def join(schedules, boundaries):
    r"""Sequence schedules: piece ``i`` runs from ``boundaries[i-1]`` on.

    .. math:: \eta_t = s_i(t - b_{i-1}) \quad\text{for } b_{i-1} \le t < b_i

    Each piece sees the steps since its own boundary (``b_{-1} = 0``); the
    boundary step belongs to the next piece (optax ``join_schedules``,
    PyTorch ``SequentialLR``).

    Args:
      schedules: ``n + 1`` schedules (their number is static).
      boundaries: ``n`` sorted steps ``>= 0``; may be traced, even fractional.

    Returns:
      An ``optax.Schedule``.

    >>> import jaxlr
    >>> s = jaxlr.join([jaxlr.constant(1.0), jaxlr.linear(0.5, 0.0, 2)], [3])
    >>> print(s([0, 2, 3, 4, 5]))
    [1.   1.   0.5  0.25 0.  ]
    """
    schedules = list(schedules)
    for i, piece in enumerate(schedules):
        v.check_schedule("join", f"schedules[{i}]", piece)
    v.check_boundaries("join", boundaries, schedules, "schedules")
    boundaries = _core.as_float(boundaries)

    def schedule(step):
        t = _core.as_step(step)
        value = schedules[0](t)
        for i, piece in enumerate(schedules[1:]):
            start = boundaries[i]
            value = jnp.where(t >= start, piece(jnp.maximum(t - start, 0.0)), value)
        return value

    return schedule


@schedule_factory
def cycle(schedule, period):
    r"""Repeat the first ``period`` steps of a schedule: ``s(t mod P)``.

    ``t mod P`` is the exact remainder of the integer step, so the phase is
    exact at every int32 step (in float32 too, for a period float32 holds).

    Args:
      schedule: the schedule to repeat.
      period: ``P > 0``.

    Returns:
      An ``optax.Schedule``.

    >>> import jaxlr
    >>> print(jaxlr.cycle(jaxlr.linear(1.0, 0.0, 2), 3)([0, 1, 2, 3, 4]))
    [1.  0.5 0.  1.  0.5]
    """
    v.check_schedule("cycle", "schedule", schedule)
    v.check("cycle", "period", period, positive=True)
    period = _core.as_float(period)

    def cycled(step):
        # the exact remainder of the integer step: exact phase at every int32 step
        return schedule(_core.divmod_step(step, period)[1])

    return cycled


@schedule_factory
def restarts(schedule, period, period_mul=1.0, value_mul=1.0):
    r"""Warm restarts of any schedule (SGDR generalised to any shape).

    Period ``i`` lasts ``T_i = P m^i`` steps (``m = period_mul``) and starts at
    ``S_i = \sum_{j<i} T_j``. ``schedule`` is written for the first period,
    ``[0, P)``; period ``i`` replays it stretched to ``T_i`` and scaled by
    ``value_mul^i``:

    .. math:: \eta_t = \mu^i\, s\!\left((t - S_i) \tfrac{P}{T_i}\right)

    ``restarts(cosine(v, P), P, 2.0)`` is SGDR with ``T_mult = 2``
    (``jaxlr.cosine_restarts`` adds the unscaled floor of Keras's ``alpha``).

    An integer step on a period start ``S_i`` always restarts, for any
    ``period_mul``: the period index is checked against ``S_i`` itself, which is
    snapped to the integer it equals up to rounding. With ``period_mul = 1``
    the position is the exact remainder of the integer step.

    Args:
      schedule: the shape of the first period.
      period: ``P > 0``.
      period_mul: ``m >= 1``.
      value_mul: ``mu >= 0``.

    Returns:
      An ``optax.Schedule``.

    References:
      Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm
      Restarts", ICLR 2017.

    >>> import jaxlr
    >>> s = jaxlr.restarts(jaxlr.linear(1.0, 0.0, 2), 2, period_mul=2.0, value_mul=0.5)
    >>> print(s([0, 1, 2, 3, 4, 5, 6]))
    [1.    0.5   0.5   0.375 0.25  0.125 0.25 ]
    """
    v.check_schedule("restarts", "schedule", schedule)
    v.check("restarts", "period", period, positive=True)
    v.check("restarts", "period_mul", period_mul, lo=1.0)
    v.check("restarts", "value_mul", value_mul, nonneg=True)
    period, period_mul, value_mul = map(_core.as_float, (period, period_mul, value_mul))

    def restarted(step):
        i, tau, length = _core.restart_position(step, period, period_mul)
        return value_mul**i * schedule(tau * (period / length))

    return restarted


@schedule_factory
def shift(schedule, steps):
    r"""Delay a schedule by ``steps``: ``s(max(t - steps, 0))``.

    Before ``steps`` it holds ``s(0)``. A negative ``steps`` advances the
    schedule (``shift(s, -1)(t) = s(t + 1)``), e.g. to port a scheduler that is
    called with 1-based update counts (MXNet).

    Args:
      schedule: the schedule to delay.
      steps: any finite number (optax's ``transition_begin``).

    Returns:
      An ``optax.Schedule``.

    >>> import jaxlr
    >>> print(jaxlr.shift(jaxlr.linear(1.0, 0.0, 2), 2)([0, 2, 3, 4]))
    [1.  1.  0.5 0. ]
    """
    v.check_schedule("shift", "schedule", schedule)
    v.check("shift", "steps", steps)
    steps = _core.as_float(steps)

    def shifted(step):
        return schedule(jnp.maximum(_core.as_step(step) - steps, 0.0))

    return shifted


@schedule_factory
def scale(schedule, factor):
    r"""Multiply a schedule by a constant: ``c * s(t)``.

    Lets a unit-peak *shape* carry a separately swept peak lr (big_vision).

    >>> import jaxlr
    >>> print(jaxlr.scale(jaxlr.linear(1.0, 0.0, 2), 0.1)([0, 1]))
    [0.1  0.05]
    """
    v.check_schedule("scale", "schedule", schedule)
    v.check("scale", "factor", factor)
    factor = _core.as_float(factor)

    def scaled(step):
        return factor * schedule(step)

    return scaled


@schedule_factory
def multiply(*schedules):
    r"""Pointwise product of schedules: ``s_1(t) s_2(t) ...``.

    PyTorch's ``ChainedScheduler`` of multiplicative schedulers, e.g. a warmup
    factor times a decay: ``multiply(linear(0.1, 1.0, W), cosine(lr, T))``.

    >>> import jaxlr
    >>> s = jaxlr.multiply(jaxlr.constant(0.5), jaxlr.linear(1.0, 0.0, 2))
    >>> print(s([0, 1, 2]))
    [0.5  0.25 0.  ]
    """
    return _fold(schedules, jnp.multiply, "multiply")


@schedule_factory
def add(*schedules):
    r"""Pointwise sum of schedules: ``s_1(t) + s_2(t) + ...``.

    For shapes that are sums, e.g. a floor plus a decaying part whose
    amplitude restarts: ``add(constant(v_min), restarts(cosine(v - v_min, T), T))``.

    >>> import jaxlr
    >>> s = jaxlr.add(jaxlr.constant(0.1), jaxlr.linear(1.0, 0.0, 2))
    >>> print(s([0, 1, 2]))
    [1.1 0.6 0.1]
    """
    return _fold(schedules, jnp.add, "add")


def _fold(schedules, combine, name):
    """``combine`` the values of several schedules pointwise, left to right."""
    if not schedules:
        raise ValueError(f"jaxlr.{name}: schedules must be at least one schedule, got none")
    for i, s in enumerate(schedules):
        v.check_schedule(name, f"schedules[{i}]", s)

    def combined(step):
        value = schedules[0](step)
        for s in schedules[1:]:
            value = combine(value, s(step))
        return value

    return combined


@schedule_factory
def clip(schedule, min_value=None, max_value=None):
    r"""Bound a schedule: ``clip(s(t), min_value, max_value)``.

    Either bound may be ``None`` (a static choice).

    >>> import jaxlr
    >>> print(jaxlr.clip(jaxlr.linear(1.0, 0.0, 4), 0.3, 0.6)([0, 2, 4]))
    [0.6 0.5 0.3]
    """
    v.check_schedule("clip", "schedule", schedule)
    if min_value is not None:
        v.check("clip", "min_value", min_value, allow_inf=True)
    if max_value is not None:
        v.check("clip", "max_value", max_value, allow_inf=True)
    if min_value is not None and max_value is not None:
        lo, hi = v.concrete(min_value), v.concrete(max_value)
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(
                f"jaxlr.clip: min_value must be <= max_value={max_value!r}, got {min_value!r}")

    def clipped(step):
        return jnp.clip(schedule(step), min_value, max_value)

    return clipped


@schedule_factory
def staircase(schedule, step_size):
    r"""Hold each value for ``step_size`` steps: ``s(k \lfloor t/k \rfloor)``.

    >>> import jaxlr
    >>> print(jaxlr.staircase(jaxlr.linear(1.0, 0.0, 4), 2)([0, 1, 2, 3, 4]))
    [1.  1.  0.5 0.5 0. ]
    """
    v.check_schedule("staircase", "schedule", schedule)
    v.check("staircase", "step_size", step_size, positive=True)
    step_size = _core.as_float(step_size)

    def stepped(step):
        return schedule(step_size * _core.floor_div(step, step_size))

    return stepped


@schedule_factory
def per_epoch(schedule, steps_per_epoch):
    r"""Run an epoch-indexed schedule per step: ``s(\lfloor t / n \rfloor)``.

    Keras's ``LearningRateScheduler`` callback and d2l's PyTorch loop set the
    lr once per epoch from a function of the 0-based epoch; this gives the same
    lr at every step of that epoch.

    Args:
      schedule: a schedule whose argument is the epoch.
      steps_per_epoch: ``n > 0`` updates per epoch.

    >>> import jaxlr
    >>> print(jaxlr.per_epoch(jaxlr.exponential(1.0, 0.5, 1), 3)([0, 2, 3, 6]))
    [1.   1.   0.5  0.25]
    """
    v.check_schedule("per_epoch", "schedule", schedule)
    v.check("per_epoch", "steps_per_epoch", steps_per_epoch, positive=True)
    steps_per_epoch = _core.as_float(steps_per_epoch)

    def epochwise(step):
        return schedule(_core.floor_div(step, steps_per_epoch))

    return epochwise


def linear_scaling(base_value, batch_size, base_batch_size=256):
    r"""The linear scaling rule: ``base_value * batch_size / base_batch_size``.

    Goyal et al. 2017: "when the minibatch size is multiplied by k, multiply
    the learning rate by k" (0.1 for batch 256). Returns a scalar array, to be
    passed as a schedule's value, e.g. ``cosine(linear_scaling(0.1, 1024), T)``.

    >>> import jaxlr
    >>> print(jaxlr.linear_scaling(0.1, 1024))
    0.4
    """
    v.check("linear_scaling", "base_value", base_value)
    v.check("linear_scaling", "batch_size", batch_size, positive=True)
    v.check("linear_scaling", "base_batch_size", base_batch_size, positive=True)
    return _core.as_float(base_value) * _core.as_float(batch_size) / _core.as_float(
        base_batch_size)
