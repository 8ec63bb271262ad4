"""Primitive learning-rate schedules: pure, jit-compatible functions of the step.

Every factory returns an ``optax.Schedule``: ``schedule(step) -> lr`` where
``step`` is the 0-based number of updates already applied (what
``optax.scale_by_schedule`` passes), so the first update uses ``schedule(0)``.
Schedules are elementwise over any step shape and return the default float
dtype (float32; float64 under ``jax_enable_x64``). Each prints as the call that
built it (``warmup(cosine(0.1, 1000), 100)``; see :mod:`jaxlr.expressions`).

Every numeric hyperparameter may be a traced JAX array: the factories can be
called inside ``jax.jit``, ``jax.vmap`` and ``jax.grad``. Concrete invalid
values raise ``ValueError``; traced values are not inspected, and the domain in
each docstring applies. Structural options (``staircase``, ``mode``, ``cycle``,
``anneal``...) are static Python values.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp

from jaxlr import _core
from jaxlr import _validation as v
from jaxlr.combinators import join, restarts, warmup
from jaxlr.expressions import schedule_factory

__all__ = [
    "constant",
    "cosine",
    "cosine_restarts",
    "cyclic",
    "cyclic_momentum",
    "exponential",
    "factor",
    "inverse_sqrt",
    "inverse_time",
    "linear",
    "linear_cosine",
    "linear_decay_to_zero",
    "multistep",
    "natural_exp",
    "noisy_linear_cosine",
    "one_cycle",
    "one_cycle_momentum",
    "piecewise_constant",
    "polynomial",
    "power_law",
    "power_scheduler",
    "tanh_decay",
    "warmup_stable_cooldown",
    "warmup_stable_decay",
]


def _exponent(step, decay_steps, staircase):
    """``t / T``, or ``floor(t / T)`` found exactly when ``staircase``."""
    if staircase:
        return _core.floor_div(step, decay_steps)
    return _core.as_step(step) / decay_steps


@schedule_factory
def constant(value):
    r"""A constant learning rate.

    .. math:: \eta_t = v

    Args:
      value: the learning rate (finite).

    Returns:
      An ``optax.Schedule``.

    >>> import jaxlr
    >>> print(jaxlr.constant(0.3)([0, 10, 10_000]))
    [0.3 0.3 0.3]
    """
    v.check("constant", "value", value)
    value = _core.as_float(value)

    def schedule(step):
        return jnp.broadcast_to(value, _core.as_step(step).shape)

    return schedule


@schedule_factory
def linear(init_value, end_value, transition_steps):
    r"""Linear interpolation from ``init_value`` to ``end_value``, then holds.

    .. math:: \eta_t = v_0 + (v_1 - v_0)\,\min(t, T)/T

    With ``T = 0`` the schedule is ``end_value`` from step 0.

    Args:
      init_value: value at step 0.
      end_value: value from step ``transition_steps`` on.
      transition_steps: ``T >= 0``.

    Returns:
      An ``optax.Schedule``.

    References:
      ``torch.optim.lr_scheduler.LinearLR`` (with absolute values
      ``base_lr * start_factor`` and ``base_lr * end_factor``);
      ``optax.linear_schedule`` (``transition_begin`` is ``jaxlr.shift``).

    >>> import jaxlr
    >>> print(jaxlr.linear(1.0, 0.0, 4)([0, 1, 2, 4, 8]))
    [1.   0.75 0.5  0.   0.  ]
    """
    v.check("linear", "init_value", init_value)
    v.check("linear", "end_value", end_value)
    v.check("linear", "transition_steps", transition_steps, nonneg=True)
    init_value, end_value, transition_steps = map(
        _core.as_float, (init_value, end_value, transition_steps))

    def schedule(step):
        return _core.interpolate(init_value, end_value,
                                 _core.fraction(_core.as_step(step), transition_steps))

    return schedule


@schedule_factory
def polynomial(init_value, end_value, decay_steps, power=1.0, cycle=False):
    r"""Polynomial decay (Keras ``PolynomialDecay``).

    .. math:: \eta_t = (v_0 - v_1)\,(1 - \min(t, T)/T)^{p} + v_1

    With ``cycle=True`` the horizon is stretched to the next multiple of ``T``
    instead of holding: ``T_t = T \lceil t/T \rceil`` (``T`` at ``t = 0``) and
    ``\eta_t = (v_0 - v_1)(1 - t/T_t)^p + v_1``; so the value returns to
    ``v_1`` at every multiple of ``T`` and jumps up right after.

    The remaining fraction ``1 - t/T_t`` is computed as ``(T_t - t)/T_t`` from
    the exact remainder of ``t`` modulo ``T``: it is exactly 0 at and past the
    horizon (at every multiple of ``T`` with ``cycle``), never negative, so any
    power ``p >= 0`` is safe under ``jit``.

    Args:
      init_value: value at step 0.
      end_value: value at the horizon and after (Keras ``end_learning_rate``).
      decay_steps: ``T > 0``.
      power: ``p >= 0``.
      cycle: static; Keras's ``cycle``.

    Returns:
      An ``optax.Schedule``.

    References:
      Keras ``PolynomialDecay``; ``torch.optim.lr_scheduler.PolynomialLR``
      is ``polynomial(base_lr, 0.0, total_iters, power)``;
      ``optax.polynomial_schedule``.

    >>> import jaxlr
    >>> print(jaxlr.polynomial(1.0, 0.0, 4, power=2.0)([0, 2, 4, 6]))
    [1.   0.25 0.   0.  ]
    """
    v.check("polynomial", "init_value", init_value)
    v.check("polynomial", "end_value", end_value)
    v.check("polynomial", "decay_steps", decay_steps, positive=True)
    v.check("polynomial", "power", power, nonneg=True)
    init_value, end_value, decay_steps, power = map(
        _core.as_float, (init_value, end_value, decay_steps, power))

    def schedule(step):
        t = _core.as_step(step)
        if cycle:
            # T_t - t = T - (t mod T) inside a period, 0 on a multiple of T
            completed, into = _core.divmod_step(step, decay_steps)
            horizon = decay_steps * (completed + 1.0)
            rest = jnp.where(into > 0, (decay_steps - into) / horizon, 0.0)
            rest = jnp.where(t <= 0, 1.0, jnp.clip(rest, 0.0, 1.0))
        else:
            rest = _core.remaining(t, decay_steps)
        return _core.interpolate(end_value, init_value, _core.power(rest, power))

    return schedule


@schedule_factory
def exponential(init_value, decay_rate, decay_steps, staircase=False, end_value=None):
    r"""Exponential decay (Keras ``ExponentialDecay``).

    .. math:: \eta_t = v_0\, r^{t/T}
      \quad(\text{exponent } \lfloor t/T \rfloor \text{ if staircase})

    With ``end_value`` the value is bounded there: from below when ``r < 1``,
    from above when ``r >= 1`` (optax's convention).

    Args:
      init_value: value at step 0.
      decay_rate: ``r >= 0``.
      decay_steps: ``T > 0``.
      staircase: static; decay in discrete jumps every ``T`` steps.
      end_value: optional bound (``None`` for none; static choice).

    Returns:
      An ``optax.Schedule``.

    References:
      Keras ``ExponentialDecay``; ``torch.optim.lr_scheduler.StepLR(step_size,
      gamma)`` is ``exponential(base_lr, gamma, step_size, staircase=True)``;
      ``ExponentialLR(gamma)`` is ``exponential(base_lr, gamma, 1)``;
      ``optax.exponential_decay``.

    >>> import jaxlr
    >>> print(jaxlr.exponential(1.0, 0.5, 2, staircase=True)([0, 1, 2, 3, 4]))
    [1.   1.   0.5  0.5  0.25]
    """
    v.check("exponential", "init_value", init_value)
    v.check("exponential", "decay_rate", decay_rate, nonneg=True)
    v.check("exponential", "decay_steps", decay_steps, positive=True)
    if end_value is not None:
        v.check("exponential", "end_value", end_value)
        end_value = _core.as_float(end_value)
    init_value, decay_rate, decay_steps = map(
        _core.as_float, (init_value, decay_rate, decay_steps))

    def schedule(step):
        value = init_value * decay_rate ** _exponent(step, decay_steps, staircase)
        if end_value is None:
            return value
        return jnp.where(decay_rate < 1.0,
                         jnp.maximum(value, end_value), jnp.minimum(value, end_value))

    return schedule


@schedule_factory
def natural_exp(init_value, decay_rate, decay_steps, staircase=False):
    r"""Natural exponential decay (TF ``natural_exp_decay``).

    .. math:: \eta_t = v_0\, e^{-r\, t/T}
      \quad(\lfloor t/T \rfloor \text{ if staircase})

    Args:
      init_value: value at step 0.
      decay_rate: ``r`` (finite; ``r >= 0`` decays).
      decay_steps: ``T > 0``.
      staircase: static.

    Returns:
      An ``optax.Schedule``.

    References:
      ``tf.compat.v1.train.natural_exp_decay``.

    >>> import jaxlr
    >>> print(jaxlr.natural_exp(1.0, 1.0, 1)([0, 1]))
    [1.         0.36787945]
    """
    v.check("natural_exp", "init_value", init_value)
    v.check("natural_exp", "decay_rate", decay_rate)
    v.check("natural_exp", "decay_steps", decay_steps, positive=True)
    init_value, decay_rate, decay_steps = map(
        _core.as_float, (init_value, decay_rate, decay_steps))

    def schedule(step):
        return init_value * jnp.exp(-decay_rate * _exponent(step, decay_steps, staircase))

    return schedule


@schedule_factory
def inverse_time(init_value, decay_rate, decay_steps=1.0, staircase=False):
    r"""Inverse time decay (Keras ``InverseTimeDecay``).

    .. math:: \eta_t = \frac{v_0}{1 + r\, t/T}
      \quad(\lfloor t/T \rfloor \text{ if staircase})

    The legacy Keras optimizer argument ``decay`` ("time-based decay",
    ``lr / (1 + decay * iterations)``) is ``inverse_time(lr, decay, 1)``.

    Args:
      init_value: value at step 0.
      decay_rate: ``r >= 0``.
      decay_steps: ``T > 0``.
      staircase: static.

    Returns:
      An ``optax.Schedule``.

    References:
      Keras ``InverseTimeDecay``; Keras 2 ``SGD(decay=...)``.

    >>> import jaxlr
    >>> print(jaxlr.inverse_time(1.0, 0.5)([0, 2, 6]))
    [1.   0.5  0.25]
    """
    v.check("inverse_time", "init_value", init_value)
    v.check("inverse_time", "decay_rate", decay_rate, nonneg=True)
    v.check("inverse_time", "decay_steps", decay_steps, positive=True)
    init_value, decay_rate, decay_steps = map(
        _core.as_float, (init_value, decay_rate, decay_steps))

    def schedule(step):
        return init_value / (1.0 + decay_rate * _exponent(step, decay_steps, staircase))

    return schedule


@schedule_factory
def piecewise_constant(boundaries, values, inclusive=True):
    r"""Piecewise-constant values switching at boundaries.

    .. math:: \eta_t = v_i \quad\text{for } b_{i-1} \le t < b_i

    ``values[0]`` before ``boundaries[0]``; ``values[i]`` from
    ``boundaries[i-1]`` on (the boundary step itself takes the new value: the
    PyTorch and optax convention). With ``inclusive=False`` the switch is after
    the boundary, ``b_{i-1} < t \le b_i``: Keras ``PiecewiseConstantDecay``'s
    convention (equivalently, add 1 to every boundary).

    Args:
      boundaries: ``n`` sorted steps ``>= 0`` (may be traced; ``n`` is static).
      values: ``n + 1`` values.
      inclusive: static; whether a boundary step already takes the next value.

    Returns:
      An ``optax.Schedule``.

    References:
      Keras ``PiecewiseConstantDecay`` (``inclusive=False``);
      ``optax.piecewise_constant_schedule`` gives scales, not values.

    >>> import jaxlr
    >>> s = jaxlr.piecewise_constant([2, 4], [1.0, 0.5, 0.1])
    >>> print(s([0, 1, 2, 3, 4, 9]))
    [1.  1.  0.5 0.5 0.1 0.1]
    """
    v.check_1d("piecewise_constant", "values", values)
    v.check_boundaries("piecewise_constant", boundaries, values, "values")
    v.check("piecewise_constant", "values", values)
    boundaries = _core.as_float(boundaries)
    values = _core.as_float(values)

    def schedule(step):
        t = _core.as_step(step)[..., None]
        passed = t >= boundaries if inclusive else t > boundaries
        return values[jnp.sum(passed, axis=-1)]

    return schedule


@schedule_factory
def multistep(init_value, milestones, gamma=0.1):
    r"""Multiply by ``gamma`` at each milestone.

    .. math:: \eta_t = v_0\, \gamma^{\#\{m \in M : m \le t\}}

    Repeated milestones compound (``[3, 3]`` multiplies by ``gamma**2`` at
    step 3), as in PyTorch; order does not matter.

    Args:
      init_value: value at step 0.
      milestones: steps ``>= 0`` (may be traced; their number is static).
      gamma: ``>= 0``.

    Returns:
      An ``optax.Schedule``.

    References:
      ``torch.optim.lr_scheduler.MultiStepLR``; MXNet
      ``MultiFactorScheduler(step, factor)``, which is called with the 1-based
      update count ``n = t + 1`` and decays when ``n > s``, i.e. ``t >= s``: the
      same milestones; Keras/optax piecewise schedules of products.

    >>> import jaxlr
    >>> print(jaxlr.multistep(1.0, [2, 4], 0.5)([0, 1, 2, 3, 4, 5]))
    [1.   1.   0.5  0.5  0.25 0.25]
    """
    v.check_1d("multistep", "milestones", milestones)
    v.check("multistep", "init_value", init_value)
    v.check("multistep", "milestones", milestones, nonneg=True)
    v.check("multistep", "gamma", gamma, nonneg=True)
    init_value, milestones, gamma = map(_core.as_float, (init_value, milestones, gamma))

    def schedule(step):
        t = _core.as_step(step)[..., None]
        return init_value * gamma ** jnp.sum(t >= milestones, axis=-1).astype(t.dtype)

    return schedule


@schedule_factory
def factor(init_value, factor, step_size=1, min_value=0.0):
    r"""Multiply by ``factor`` every ``step_size`` steps, bounded below.

    .. math:: \eta_t = \max(v_{min},\ v_0\, f^{\lfloor t/s \rfloor})

    Args:
      init_value: value at step 0.
      factor: ``f >= 0``.
      step_size: ``s > 0``.
      min_value: lower bound (MXNet ``stop_factor_lr``).

    Returns:
      An ``optax.Schedule``.

    References:
      MXNet ``FactorScheduler(step, factor, stop_factor_lr)``: it is called with
      the 1-based update count ``n = t + 1`` and has decayed
      ``ceil(n/s) - 1 = floor(t/s)`` times, so the arguments carry over
      unchanged. d2l's ``FactorScheduler`` multiplies at every call: in d2l's
      training loop (the optimizer's lr for epoch 0, the e-th call's value for
      epoch e) it is ``factor(lr, f, 1, stop_factor_lr)`` on epochs; its k-th
      call (k = 0, 1, ...) returns ``shift(factor(lr, f, 1, stop), -1)(k)``.

    >>> import jaxlr
    >>> print(jaxlr.factor(1.0, 0.5, 2, min_value=0.3)([0, 1, 2, 3, 4, 9]))
    [1.  1.  0.5 0.5 0.3 0.3]
    """
    v.check("factor", "init_value", init_value)
    v.check("factor", "factor", factor, nonneg=True)
    v.check("factor", "step_size", step_size, positive=True)
    v.check("factor", "min_value", min_value)
    init_value, factor, step_size, min_value = map(
        _core.as_float, (init_value, factor, step_size, min_value))

    def schedule(step):
        return jnp.maximum(min_value, init_value * factor ** _core.floor_div(step, step_size))

    return schedule


@schedule_factory
def cosine(init_value, decay_steps, end_value=0.0, exponent=1.0):
    r"""Cosine annealing from ``init_value`` to ``end_value``, then holds.

    .. math:: \eta_t = v_1 + (v_0 - v_1)
      \left(\tfrac12\left(1 + \cos\tfrac{\pi \min(t, T)}{T}\right)\right)^{e}

    The shape is computed as ``sin(pi r / 2)**2`` of the remaining fraction
    ``r = (T - min(t, T)) / T`` (the same function): exactly ``end_value`` from
    the horizon on and accurate just before it, where ``1 + cos`` cancels.
    Past the horizon the value holds at ``end_value`` (Keras, optax).
    PyTorch's ``CosineAnnealingLR`` instead continues the cosine (back up to
    ``init_value`` at ``2T``); that is
    ``cycle(join([cosine(v0, T, v1), cosine(v1, T, v0)], [T]), 2 * T)``.

    Args:
      init_value: value at step 0.
      decay_steps: ``T > 0``.
      end_value: value at ``T`` and after (Keras ``alpha * init``, torch
        ``eta_min``).
      exponent: ``e > 0`` (optax's ``exponent``).

    Returns:
      An ``optax.Schedule``.

    References:
      Loshchilov & Hutter, SGDR (2017); ``torch.optim.lr_scheduler.
      CosineAnnealingLR`` for ``t <= T``; Keras ``CosineDecay``;
      ``optax.cosine_decay_schedule``.

    >>> import jaxlr
    >>> print(jaxlr.cosine(1.0, 4, end_value=0.2)([0, 2, 4, 100]).round(6))
    [1.  0.6 0.2 0.2]
    """
    v.check("cosine", "init_value", init_value)
    v.check("cosine", "decay_steps", decay_steps, positive=True)
    v.check("cosine", "end_value", end_value)
    v.check("cosine", "exponent", exponent, positive=True)
    init_value, decay_steps, end_value, exponent = map(
        _core.as_float, (init_value, decay_steps, end_value, exponent))

    def schedule(step):
        rest = _core.remaining(_core.as_step(step), decay_steps)
        shape = _core.half_cosine(rest)
        return _core.interpolate(end_value, init_value, _core.power(shape, exponent))

    return schedule


@schedule_factory
def cosine_restarts(init_value, first_decay_steps, t_mul=2.0, m_mul=1.0, end_value=0.0):
    r"""Cosine annealing with warm restarts (SGDR).

    Period ``i`` lasts ``T_i = T_0 t_{mul}^i`` steps and starts at
    ``S_i = \sum_{j<i} T_j``; within it, with ``\tau = t - S_i``,

    .. math:: \eta_t = v_1 + (v_0 - v_1)\, m_{mul}^i\,
      \tfrac12\left(1 + \cos\tfrac{\pi\tau}{T_i}\right)

    Note the floor ``v_1`` is not scaled by ``m_mul^i`` (Keras's ``alpha``).

    Args:
      init_value: peak of the first period.
      first_decay_steps: ``T_0 > 0``.
      t_mul: period multiplier ``>= 1``.
      m_mul: peak multiplier per restart, ``>= 0``.
      end_value: the floor (Keras ``alpha * init``, torch ``eta_min``).

    Returns:
      An ``optax.Schedule``.

    References:
      Loshchilov & Hutter, SGDR (2017); Keras ``CosineDecayRestarts``;
      ``torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(T_0, T_mult,
      eta_min)`` (integer ``T_mult``, ``m_mul = 1``). Any shape can restart
      this way: see ``jaxlr.restarts``.

    >>> import jaxlr
    >>> s = jaxlr.cosine_restarts(1.0, 2, t_mul=2.0, m_mul=0.5)
    >>> print(s([0, 1, 2, 4, 6]).round(6))
    [1.   0.5  0.5  0.25 0.25]
    """
    v.check("cosine_restarts", "init_value", init_value)
    v.check("cosine_restarts", "first_decay_steps", first_decay_steps, positive=True)
    v.check("cosine_restarts", "t_mul", t_mul, lo=1.0)
    v.check("cosine_restarts", "m_mul", m_mul, nonneg=True)
    v.check("cosine_restarts", "end_value", end_value)
    init_value, end_value = map(_core.as_float, (init_value, end_value))
    shape = restarts(cosine(1.0, first_decay_steps), first_decay_steps, t_mul, m_mul)

    def schedule(step):
        return end_value + (init_value - end_value) * shape(step)

    return schedule


@schedule_factory
def linear_cosine(init_value, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001):
    r"""Linear cosine decay (TF ``linear_cosine_decay``; Bello et al. 2017).

    With ``s = \min(t, T)``:

    .. math:: \eta_t = v_0 \left( \left(\alpha + \tfrac{T - s}{T}\right)
      \tfrac12\left(1 + \cos\left(2\pi n \tfrac{s}{T}\right)\right) + \beta \right)

    Args:
      init_value: ``v_0``.
      decay_steps: ``T > 0``.
      num_periods: ``n``, number of cosine periods in the decay.
      alpha, beta: as in TF.

    Returns:
      An ``optax.Schedule``.

    References:
      ``tf.compat.v1.train.linear_cosine_decay``; Bello et al., "Neural
      Optimizer Search with Reinforcement Learning", ICML 2017.

    >>> import jaxlr
    >>> print(jaxlr.linear_cosine(1.0, 10, beta=0.01)([0, 5, 10]).round(6))
    [1.01 0.26 0.01]
    """
    for name, value in (("init_value", init_value), ("num_periods", num_periods),
                        ("alpha", alpha), ("beta", beta)):
        v.check("linear_cosine", name, value)
    v.check("linear_cosine", "decay_steps", decay_steps, positive=True)
    init_value, decay_steps, num_periods, alpha, beta = map(
        _core.as_float, (init_value, decay_steps, num_periods, alpha, beta))
    terms = _linear_cosine_terms(decay_steps, num_periods)

    def schedule(step):
        linear_decayed, cosine_decayed, _ = terms(_core.as_step(step))
        return init_value * ((alpha + linear_decayed) * cosine_decayed + beta)

    return schedule


def _linear_cosine_terms(decay_steps, num_periods):
    def terms(t):
        s = jnp.minimum(t, decay_steps)
        linear_decayed = (decay_steps - s) / decay_steps
        cosine_decayed = 0.5 * (1.0 + jnp.cos(jnp.pi * 2.0 * num_periods * s / decay_steps))
        return linear_decayed, cosine_decayed, s

    return terms


@schedule_factory
def noisy_linear_cosine(init_value, decay_steps, key, initial_variance=1.0,
                        variance_decay=0.55, num_periods=0.5, alpha=0.0, beta=0.001):
    r"""Noisy linear cosine decay (TF ``noisy_linear_cosine_decay``), pure.

    As ``linear_cosine`` with Gaussian noise added to the linear term:

    .. math:: \eta_t = v_0 \left( \left(\alpha + \tfrac{T - s}{T} + \sigma_s z_t\right)
      \tfrac12\left(1 + \cos\left(2\pi n \tfrac{s}{T}\right)\right) + \beta \right),
      \quad \sigma_s^2 = \frac{\sigma_0^2}{(1 + s)^{d}}

    with ``s = min(t, T)`` (TF clips the step before computing the variance)
    and ``z_t ~ N(0, 1)`` drawn from ``jax.random.fold_in(key, t)``: unlike TF,
    which draws fresh noise at every call, the value at a step is a function of
    ``(key, t)``, so it is the same under jit, vmap and repeated calls.

    Args:
      init_value: ``v_0``.
      decay_steps: ``T > 0``.
      key: a ``jax.random`` key (may be traced).
      initial_variance: ``sigma_0^2 >= 0``.
      variance_decay: ``d``.
      num_periods, alpha, beta: as in ``linear_cosine``.

    Returns:
      An ``optax.Schedule``.

    References:
      ``tf.compat.v1.train.noisy_linear_cosine_decay``; Bello et al. 2017.

    >>> import jax, jaxlr
    >>> s = jaxlr.noisy_linear_cosine(1.0, 10, jax.random.key(0), initial_variance=0.0, beta=0.01)
    >>> print(s([0, 5, 10]).round(6))
    [1.01 0.26 0.01]
    """
    for name, value in (("init_value", init_value), ("num_periods", num_periods),
                        ("alpha", alpha), ("beta", beta), ("variance_decay", variance_decay)):
        v.check("noisy_linear_cosine", name, value)
    v.check("noisy_linear_cosine", "decay_steps", decay_steps, positive=True)
    v.check("noisy_linear_cosine", "initial_variance", initial_variance, nonneg=True)
    init_value, decay_steps, initial_variance, variance_decay, num_periods, alpha, beta = map(
        _core.as_float,
        (init_value, decay_steps, initial_variance, variance_decay, num_periods, alpha, beta))
    terms = _linear_cosine_terms(decay_steps, num_periods)

    def noise(t):
        # uint32 holds every step up to 2**32 - 1 without int32 overflow.
        index = jnp.floor(jnp.maximum(t, 0.0)).astype(jnp.uint32).reshape(-1)
        draw = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i)))(index)
        return draw.astype(t.dtype).reshape(t.shape)

    def schedule(step):
        t = _core.as_step(step)
        linear_decayed, cosine_decayed, s = terms(t)
        std = jnp.sqrt(initial_variance / (1.0 + s) ** variance_decay)
        noisy = linear_decayed + std * noise(t)
        return init_value * ((alpha + noisy) * cosine_decayed + beta)

    return schedule


@schedule_factory
def inverse_sqrt(init_value, timescale=1.0):
    r"""Inverse square-root decay.

    .. math:: \eta_t = v_0 \sqrt{\frac{\tau}{t + \tau}}

    Args:
      init_value: value at step 0.
      timescale: ``tau > 0``.

    Returns:
      An ``optax.Schedule``.

    References:
      d2l's ``SquareRootScheduler`` (``lr * (t + 1) ** -0.5``: ``tau = 1``);
      Hugging Face ``get_inverse_sqrt_schedule(W, timescale)`` is
      ``warmup(inverse_sqrt(lr, timescale), W)``; Vaswani et al. 2017 / T5.

    >>> import jaxlr
    >>> print(jaxlr.inverse_sqrt(1.0)([0, 3, 15]))
    [1.   0.5  0.25]
    """
    v.check("inverse_sqrt", "init_value", init_value)
    v.check("inverse_sqrt", "timescale", timescale, positive=True)
    init_value, timescale = map(_core.as_float, (init_value, timescale))

    def schedule(step):
        t = _core.as_step(step)
        return init_value * jnp.sqrt(timescale / (t + timescale))

    return schedule


_CYCLIC_MODES = ("triangular", "triangular2", "exp_range")


@schedule_factory
def cyclic(base_value, max_value, step_size_up, step_size_down=None, mode="triangular",
           gamma=1.0):
    r"""Cyclical learning rate (Smith 2017), as ``torch.optim.lr_scheduler.CyclicLR``.

    With period ``P = u + d``, cycle ``c = \lfloor 1 + t/P \rfloor`` and
    position ``x = 1 + t/P - c``:

    .. math:: \eta_t = b + (M - b)\, h(x)\, g, \quad
      h(x) = \begin{cases} x P/u & x \le u/P \\ (x - 1)/(u/P - 1) & \text{else}\end{cases}

    with ``g = 1`` (triangular), ``g = 2^{-(c-1)}`` (triangular2) or
    ``g = \gamma^t`` (exp_range).

    Args:
      base_value: lower bound ``b``.
      max_value: upper bound ``M`` (reached at ``t = u`` in the first cycle).
      step_size_up: ``u > 0``.
      step_size_down: ``d >= 0``; ``None`` means ``u``.
      mode: static, one of ``triangular``, ``triangular2``, ``exp_range``.
      gamma: ``exp_range`` factor per step, ``> 0`` (values stay in
        ``[b, M]`` for ``gamma <= 1``; above 1 they grow past ``M``, as torch's).

    Returns:
      An ``optax.Schedule`` (the learning rate; the momentum torch's
      ``CyclicLR`` cycles with it by default is ``jaxlr.cyclic_momentum``).

    References:
      L. N. Smith, "Cyclical Learning Rates for Training Neural Networks",
      WACV 2017; ``torch.optim.lr_scheduler.CyclicLR``.

    >>> import jaxlr
    >>> print(jaxlr.cyclic(0.0, 1.0, 2)([0, 1, 2, 3, 4]))
    [0.  0.5 1.  0.5 0. ]
    """
    v.check_choice("cyclic", "mode", mode, _CYCLIC_MODES)
    v.check("cyclic", "base_value", base_value)
    v.check("cyclic", "max_value", max_value)
    v.check("cyclic", "step_size_up", step_size_up, positive=True)
    if step_size_down is None:
        step_size_down = step_size_up
    v.check("cyclic", "step_size_down", step_size_down, nonneg=True)
    v.check("cyclic", "gamma", gamma, positive=True)
    base_value, max_value, up, down, gamma = map(
        _core.as_float, (base_value, max_value, step_size_up, step_size_down, gamma))
    period = up + down

    def schedule(step):
        # torch's x = 1 + t/P - cycle is tau / P; its two branches x/r and
        # (x - 1)/(r - 1) are tau/u and (P - tau)/d, which float32 computes
        # without the cancellation of x - 1. tau is the exact remainder of the
        # integer step, so the phase is exact at every int32 step.
        completed, tau = _core.divmod_step(step, period)
        height = jnp.where(tau <= up, tau / up, (period - tau) / _core.safe_positive(down))
        height = jnp.clip(height, 0.0, 1.0)
        if mode == "triangular":
            scale = 1.0
        elif mode == "triangular2":
            scale = 0.5**completed
        else:
            scale = gamma ** _core.as_step(step)
        weight = height * scale
        value = _core.interpolate(base_value, max_value, weight)
        if mode == "exp_range":
            # gamma > 1 grows past max_value, as torch's does
            value = jnp.where(weight <= 1.0, value,
                              base_value + (max_value - base_value) * weight)
        return value

    return schedule


@schedule_factory
def cyclic_momentum(step_size_up, step_size_down=None, mode="triangular", gamma=1.0,
                    base_momentum=0.8, max_momentum=0.9):
    r"""The momentum ``torch.optim.lr_scheduler.CyclicLR`` cycles, inversely to ``jaxlr.cyclic``.

    torch's ``CyclicLR`` has ``cycle_momentum=True`` by default: with the
    learning rate's triangle height ``h`` and scale ``g`` (see ``jaxlr.cyclic``),

    .. math:: m_t = m_{max} - (m_{max} - m_{base})\, h\, g

    the momentum is ``max_momentum`` where the learning rate is at its base
    and ``base_momentum`` at its peak: ``cyclic(max_momentum, base_momentum,
    step_size_up, step_size_down, mode, gamma)``, the same cycle read from the
    other end (so the two turn at the same steps).

    torch sets an SGD optimizer's ``momentum`` (overriding the optimizer's
    own, even SGD's default 0) or an Adam-family optimizer's ``beta1`` to this
    value before each update; in optax pass both through
    ``optax.inject_hyperparams``::

        tx = optax.inject_hyperparams(optax.sgd)(
            learning_rate=jaxlr.cyclic(base_lr, max_lr, up, down, mode, gamma),
            momentum=jaxlr.cyclic_momentum(up, down, mode, gamma))

    Args:
      step_size_up: ``u > 0``, as in ``cyclic``.
      step_size_down: ``d >= 0``; ``None`` means ``u``.
      mode: static, one of ``triangular``, ``triangular2``, ``exp_range``.
      gamma: ``exp_range`` factor per step, ``> 0``.
      base_momentum: ``m_base``, the momentum at the learning rate's peak
        (finite; torch's default 0.8).
      max_momentum: ``m_max``, the momentum at the learning rate's base
        (finite; torch's default 0.9).

    Returns:
      An ``optax.Schedule``.

    References:
      L. N. Smith, "A disciplined approach to neural network
      hyper-parameters: Part 1", 2018 (cyclical momentum);
      ``torch.optim.lr_scheduler.CyclicLR(cycle_momentum=True,
      base_momentum, max_momentum)``.

    >>> import jaxlr
    >>> print(jaxlr.cyclic_momentum(2)([0, 1, 2, 3, 4]))
    [0.9  0.85 0.8  0.85 0.9 ]
    """
    fn = "cyclic_momentum"
    v.check(fn, "base_momentum", base_momentum)
    v.check(fn, "max_momentum", max_momentum)
    v.check(fn, "step_size_up", step_size_up, positive=True)
    if step_size_down is not None:
        v.check(fn, "step_size_down", step_size_down, nonneg=True)
    v.check_choice(fn, "mode", mode, _CYCLIC_MODES)
    v.check(fn, "gamma", gamma, positive=True)
    return cyclic(max_momentum, base_momentum, step_size_up, step_size_down, mode, gamma)


_ONE_CYCLE_ANNEALS = ("cos", "linear")


@schedule_factory
def one_cycle(peak_value, total_steps, pct_start=0.3, div_factor=25.0, final_div_factor=1e4,
              anneal="cos", three_phase=False):
    r"""The 1cycle policy (Smith & Topin 2019), as ``torch.optim.lr_scheduler.OneCycleLR``.

    With ``v_i = peak / div_factor``, ``v_min = v_i / final_div_factor``,
    ``T = total_steps`` and ``e = pct_start * T - 1`` (a float, as in torch),
    two phases anneal ``v_i -> peak`` over ``[0, e]`` and ``peak -> v_min``
    over ``[e, T - 1]``. With ``three_phase=True``: ``v_i -> peak`` over
    ``[0, e]``, ``peak -> v_i`` over ``[e, 2 pct_start T - 2]``, then
    ``v_i -> v_min`` until ``T - 1``. Annealing is cosine
    (``v_b + (v_a - v_b)(1 + cos(pi p))/2``) or linear.

    Past the horizon (``t >= T - 1``) the value holds at ``v_min``; torch
    extrapolates the last phase at ``t = T`` and raises after it. As in torch,
    a phase end may be negative (``pct_start * T < 1``: the schedule starts
    inside the decay).

    torch's ``OneCycleLR`` also cycles the momentum by default
    (``cycle_momentum=True``), overriding the optimizer's own (even SGD's
    default 0): ``jaxlr.one_cycle_momentum`` is that momentum.

    Args:
      peak_value: the maximum learning rate (torch ``max_lr``).
      total_steps: ``T > 0``.
      pct_start: fraction of ``T`` spent rising, in ``(0, 1)``; traceable.
      div_factor: ``> 0``.
      final_div_factor: ``> 0``.
      anneal: static, ``"cos"`` or ``"linear"`` (torch ``anneal_strategy``).
      three_phase: static.

    Returns:
      An ``optax.Schedule``.

    References:
      L. N. Smith & N. Topin, "Super-Convergence", 2019;
      ``torch.optim.lr_scheduler.OneCycleLR``; fastai ``fit_one_cycle``.

    >>> import jaxlr
    >>> s = jaxlr.one_cycle(1.0, 11, pct_start=0.5, div_factor=10, anneal="linear")
    >>> print(s([0, 4.5, 10, 20]))
    [1.e-01 1.e+00 1.e-05 1.e-05]
    """
    v.check_choice("one_cycle", "anneal", anneal, _ONE_CYCLE_ANNEALS)
    v.check("one_cycle", "peak_value", peak_value)
    v.check("one_cycle", "total_steps", total_steps, positive=True)
    v.check("one_cycle", "pct_start", pct_start, lo=0.0, hi=1.0, lo_open=True, hi_open=True)
    v.check("one_cycle", "div_factor", div_factor, positive=True)
    v.check("one_cycle", "final_div_factor", final_div_factor, positive=True)
    peak_value, div_factor, final_div_factor = map(
        _core.as_float, (peak_value, div_factor, final_div_factor))
    initial = peak_value / div_factor
    minimum = initial / final_div_factor
    levels = ([initial, peak_value, initial, minimum] if three_phase
              else [initial, peak_value, minimum])
    return _one_cycle_phases(levels, total_steps, pct_start, anneal, three_phase)


@schedule_factory
def one_cycle_momentum(total_steps, pct_start=0.3, base_momentum=0.85, max_momentum=0.95,
                       anneal="cos", three_phase=False):
    r"""The momentum of the 1cycle policy, as ``torch.optim.lr_scheduler.OneCycleLR`` cycles it.

    The mirror image of ``jaxlr.one_cycle`` over the same phases: with
    ``T = total_steps`` and ``e = pct_start * T - 1`` (a float, as in torch),
    the momentum anneals ``m_max -> m_base`` over ``[0, e]`` while the
    learning rate rises, and ``m_base -> m_max`` over ``[e, T - 1]`` while it
    falls. With ``three_phase=True``: ``m_max -> m_base`` over ``[0, e]``,
    ``m_base -> m_max`` over ``[e, 2 pct_start T - 2]``, then ``m_max`` until
    ``T - 1``. In the phase ``[s, e']`` that holds ``t``, annealing from
    ``m_a`` to ``m_b`` with progress ``p = (t - s) / (e' - s)`` is

    .. math:: m_t = m_b + (m_a - m_b)\,\tfrac12\left(1 + \cos \pi p\right)
      \quad(\texttt{"cos"}), \qquad m_t = m_a + (m_b - m_a)\,p \quad(\texttt{"linear"})

    Past the horizon (``t >= T - 1``) the value holds at ``m_max``. Phases
    are chosen as in ``one_cycle`` (the same code computes both), so a
    ``one_cycle`` and a ``one_cycle_momentum`` with the same ``total_steps``,
    ``pct_start``, ``anneal`` and ``three_phase`` turn at the same steps.

    torch's ``cycle_momentum=True`` (its default) sets an SGD optimizer's
    ``momentum`` (overriding the optimizer's own, even SGD's default 0) or an
    Adam-family optimizer's ``beta1`` to this value before each update. In
    optax, pass both schedules through ``optax.inject_hyperparams``::

        tx = optax.inject_hyperparams(optax.sgd)(
            learning_rate=jaxlr.one_cycle(max_lr, T),
            momentum=jaxlr.one_cycle_momentum(T))
        tx = optax.inject_hyperparams(optax.adam)(   # torch cycles Adam's beta1
            learning_rate=jaxlr.one_cycle(max_lr, T),
            b1=jaxlr.one_cycle_momentum(T))

    (torch's SGD momentum buffer and optax's ``trace`` both start from the
    first gradient, and both use the momentum of the current step.)

    Args:
      total_steps: ``T > 0``.
      pct_start: fraction of ``T`` spent with the momentum falling, in
        ``(0, 1)``; traceable.
      base_momentum: ``m_base``, the momentum at the learning rate's peak
        (finite; torch ``base_momentum``).
      max_momentum: ``m_max``, the momentum at the start and end (finite;
        torch ``max_momentum``). Usually ``0 <= m_base <= m_max < 1``; any
        order is followed as given, as torch does.
      anneal: static, ``"cos"`` or ``"linear"`` (torch ``anneal_strategy``).
      three_phase: static.

    Returns:
      An ``optax.Schedule``.

    References:
      L. N. Smith, "A disciplined approach to neural network
      hyper-parameters: Part 1", 2018 (cyclical momentum);
      ``torch.optim.lr_scheduler.OneCycleLR(cycle_momentum=True,
      base_momentum, max_momentum)``; fastai ``fit_one_cycle(moms=...)``.

    >>> import jaxlr
    >>> m = jaxlr.one_cycle_momentum(11, pct_start=0.5, anneal="linear")
    >>> print(m([0, 4.5, 10, 20]))
    [0.95 0.85 0.95 0.95]
    >>> import jax.numpy as jnp, optax
    >>> tx = optax.inject_hyperparams(optax.sgd)(
    ...     learning_rate=jaxlr.one_cycle(0.1, 1000), momentum=jaxlr.one_cycle_momentum(1000))
    >>> state = tx.init(jnp.zeros(3))
    >>> print(state.hyperparams["learning_rate"], state.hyperparams["momentum"])
    0.004 0.95
    """
    v.check_choice("one_cycle_momentum", "anneal", anneal, _ONE_CYCLE_ANNEALS)
    v.check("one_cycle_momentum", "total_steps", total_steps, positive=True)
    v.check("one_cycle_momentum", "pct_start", pct_start, lo=0.0, hi=1.0, lo_open=True,
            hi_open=True)
    v.check("one_cycle_momentum", "base_momentum", base_momentum)
    v.check("one_cycle_momentum", "max_momentum", max_momentum)
    base_momentum, max_momentum = map(_core.as_float, (base_momentum, max_momentum))
    levels = ([max_momentum, base_momentum, max_momentum, max_momentum] if three_phase
              else [max_momentum, base_momentum, max_momentum])
    return _one_cycle_phases(levels, total_steps, pct_start, anneal, three_phase)


def _one_cycle_phases(levels, total_steps, pct_start, anneal, three_phase):
    """torch ``OneCycleLR``'s phases, phase ``i`` annealing ``levels[i] -> levels[i + 1]``.

    The phase ends are torch's floats: ``pct_start T - 1``, then (with
    ``three_phase``) ``2 pct_start T - 2``, and ``T - 1``; so ``levels`` has
    three values, or four with ``three_phase``.
    """
    total_steps, pct_start = map(_core.as_float, (total_steps, pct_start))
    last = total_steps - 1.0
    rise_end = pct_start * total_steps - 1.0
    if three_phase:
        ends = [rise_end, 2.0 * pct_start * total_steps - 2.0, last]
    else:
        ends = [rise_end, last]
    assert len(levels) == len(ends) + 1, (levels, ends)
    starts = [0.0, *ends[:-1]]

    def piece(start_value, end_value, steps):
        if anneal == "linear":
            return linear(start_value, end_value, jnp.maximum(steps, 0.0))
        annealed = cosine(start_value, _core.safe_positive(steps), end_value)

        # a phase of length <= 0 is at its end value at once, as linear's is
        # (torch divides by zero there)
        def cos_piece(t):
            return jnp.where(steps > 0, annealed(t), end_value)

        return cos_piece

    # torch's phase loop: the first phase whose end_step >= t, else the last;
    # each measured from the previous phase's end_step. Those ends may be
    # negative (pct_start * T < 1) or out of order (three phases), so this is
    # not a join: the selection below is torch's, condition for condition.
    phases = [(end, start, piece(a, b, end - start))
              for end, start, a, b in zip(ends, starts, levels[:-1], levels[1:])]

    def schedule(step):
        t = jnp.minimum(_core.as_step(step), last)
        _, start, anneal_fn = phases[-1]
        value = anneal_fn(jnp.maximum(t - start, 0.0))
        for end, start, anneal_fn in reversed(phases[:-1]):
            value = jnp.where(t <= end, anneal_fn(jnp.maximum(t - start, 0.0)), value)
        return value

    return schedule


_WSD_DECAYS = ("linear", "cosine", "1-sqrt", "power", "exp")


def _shaped_decay(init_value, end_value, decay_steps, shape):
    """``init_value -> end_value`` over ``decay_steps`` by ``shape(p, rest)`` (1 -> 0), then holds."""
    def schedule(step):
        t = _core.as_step(step)
        weight = shape(_core.fraction(t, decay_steps), _core.remaining(t, decay_steps))
        return _core.interpolate(end_value, init_value, weight)

    return schedule


def _check_decay(fn, decay, decay_power, decay_ratio):
    v.check_choice(fn, "decay", decay, _WSD_DECAYS)
    v.check(fn, "decay_power", decay_power, positive=True)
    v.check(fn, "decay_ratio", decay_ratio, lo=0.0, hi=1.0, lo_open=True, hi_open=True)


def _decay_tail(fn, decay, init_value, end_value, decay_steps, decay_power, decay_ratio):
    """The decay phase of ``warmup_stable_decay`` (and of the schedules built on it)."""
    _check_decay(fn, decay, decay_power, decay_ratio)
    if decay == "linear":
        return linear(init_value, end_value, decay_steps)
    if decay == "cosine":
        # D == 0 means "end_value at once"; cosine needs a positive horizon
        return join([cosine(init_value, _core.safe_positive(decay_steps), end_value),
                     constant(end_value)], [decay_steps])
    if decay == "exp":
        ratio = _core.as_float(decay_ratio)
        return _shaped_decay(init_value, end_value, decay_steps,
                             lambda p, rest: _core.normalized_exponential(rest, ratio))
    # "1-sqrt" is "power" with exponent 1/2: one formula for both
    exponent = _core.as_float(0.5 if decay == "1-sqrt" else decay_power)
    return _shaped_decay(init_value, end_value, decay_steps,
                         lambda p, rest: _core.one_minus_power(p, rest, exponent))


@schedule_factory
def warmup_stable_decay(peak_value, warmup_steps, stable_steps, decay_steps, end_value=0.0,
                        decay="linear", init_value=0.0, decay_power=0.5, decay_ratio=0.1):
    r"""Warmup-stable-decay (WSD, "trapezoid") schedule.

    Linear warmup ``init_value -> peak`` over ``W`` steps, ``peak`` for ``S``
    steps, then a decay ``peak -> end_value`` over ``D`` steps, then holds
    ``end_value``. With progress ``p`` of the decay phase (``p = 0`` at step
    ``W + S``, ``p = 1`` at ``W + S + D``) the value is
    ``end_value + (peak - end_value) f(p)`` with the decay shape ``f``:

    - ``linear``: ``1 - p`` (the trapezoid of Xing et al. 2018 and Zhai et
      al. 2022; Bergsma et al. 2025's decay to zero);
    - ``cosine``: ``(1 + cos(pi p)) / 2``;
    - ``1-sqrt``: ``1 - sqrt(p)`` (Hägele et al. 2024), the ``power`` shape
      with ``k = 1/2``;
    - ``power``: ``1 - p^k``, ``k = decay_power`` (``k = 1`` is ``linear``,
      ``k = 2`` the "square" cooldown);
    - ``exp``: ``(r^p - r) / (1 - r)``, ``r = decay_ratio``: an exponential
      decay to the fraction ``r``, rescaled to reach ``end_value``
      (``r = exp(-1)`` is IBM dolomite-engine's ``ExponentialScheduler``).

    Args:
      peak_value: the plateau value.
      warmup_steps: ``W >= 0``.
      stable_steps: ``S >= 0``.
      decay_steps: ``D >= 0``.
      end_value: final value (HF ``min_lr_ratio * lr``, timm ``lr_min``).
      decay: static, ``"linear"``, ``"cosine"``, ``"1-sqrt"``, ``"power"`` or ``"exp"``.
      init_value: warmup start (0 in HF before v4.50; later HF versions
        start the warmup at ``min_lr_ratio * lr``: pass ``end_value``).
      decay_power: ``k > 0`` of the ``power`` shape (timm ``decay_power``).
      decay_ratio: ``r`` in ``(0, 1)`` of the ``exp`` shape (timm ``decay_ratio``).

    Returns:
      An ``optax.Schedule``.

    References:
      Hu et al., MiniCPM (2024); Hägele et al., "Scaling Laws and
      Compute-Optimal Training Beyond Fixed Training Durations" (2024);
      Hugging Face ``get_wsd_schedule``; timm ``WSDLRScheduler``.

    >>> import jaxlr
    >>> s = jaxlr.warmup_stable_decay(1.0, 2, 2, 4)
    >>> print(s([0, 1, 2, 3, 4, 6, 8, 9]))
    [0.  0.5 1.  1.  1.  0.5 0.  0. ]
    >>> s = jaxlr.warmup_stable_decay(1.0, 0, 0, 4, decay="power", decay_power=2.0)
    >>> print(s([0, 2, 4]))
    [1.   0.75 0.  ]
    """
    fn = "warmup_stable_decay"
    v.check(fn, "peak_value", peak_value)
    v.check(fn, "warmup_steps", warmup_steps, nonneg=True)
    v.check(fn, "stable_steps", stable_steps, nonneg=True)
    v.check(fn, "decay_steps", decay_steps, nonneg=True)
    v.check(fn, "end_value", end_value)
    v.check(fn, "init_value", init_value)
    peak_value, warmup_steps, stable_steps, decay_steps, end_value, init_value = map(
        _core.as_float,
        (peak_value, warmup_steps, stable_steps, decay_steps, end_value, init_value))
    tail = _decay_tail(fn, decay, peak_value, end_value, decay_steps, decay_power, decay_ratio)
    # the ramp's target is the peak even when S = D = 0 (the inner schedule's
    # value at 0 is then already end_value)
    return warmup(join([constant(peak_value), tail], [stable_steps]), warmup_steps, init_value,
                  peak_value=peak_value)


@schedule_factory
def warmup_stable_cooldown(peak_value, total_steps, warmup_steps=0.0, cooldown_fraction=0.2,
                           decay="1-sqrt", end_value=0.0, init_value=0.0, decay_power=0.5,
                           decay_ratio=0.1):
    r"""Warmup, constant, then a cooldown over the last fraction of the run (Hägele et al. 2024).

    ``warmup_stable_decay`` given by the run's length: with ``T = total_steps``,
    ``W = warmup_steps`` and the cooldown ``D = f T`` (``f = cooldown_fraction``),

    .. math:: \eta_t = \mathrm{WSD}(v, W, T - W - D, D)(t)

    a linear warmup ``init_value -> v`` over ``W`` steps (counted inside
    ``T``), ``v`` until ``T - D``, then the ``decay`` shape down to
    ``end_value`` at ``T``, held after. Hägele et al. recommend the ``1-sqrt``
    cooldown over about 20% of training (the defaults); with
    ``decay="linear"`` this is the trapezoid (Xing et al. 2018; Zhai et al.
    2022).

    ``D = f T`` is not rounded (``f`` may be traced, and a traced value cannot
    be rounded to a Python int); the reference code rounds down,
    ``D = int(f T)``: where ``f T`` is not a whole number, pass
    ``cooldown_fraction=int(f * T) / T`` to get its boundaries. Its warmup
    starts at ``v / init_div_factor`` (``init_div_factor = 100``): pass
    ``init_value=v / 100``.

    Args:
      peak_value: ``v``, the constant value.
      total_steps: ``T >= 0``, the length of the run.
      warmup_steps: ``W >= 0``, with ``W + f T <= T`` (traced values are not
        checked: the stable phase is then empty).
      cooldown_fraction: ``f`` in ``[0, 1]``; traceable.
      decay: static, the cooldown shape: ``"linear"``, ``"cosine"``,
        ``"1-sqrt"``, ``"power"`` or ``"exp"`` (see ``warmup_stable_decay``).
      end_value: value at ``T`` and after.
      init_value: value at step 0.
      decay_power: ``k > 0`` of the ``power`` shape.
      decay_ratio: ``r`` in ``(0, 1)`` of the ``exp`` shape.

    Returns:
      An ``optax.Schedule``.

    References:
      A. Hägele, E. Bakouch, A. Kosson, L. Ben Allal, L. von Werra, M. Jaggi,
      "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
      Durations", NeurIPS 2024 (arXiv 2405.18392), and its code
      (``epfml/schedules-and-scaling``, ``wsd_schedule``).

    >>> import jaxlr
    >>> s = jaxlr.warmup_stable_cooldown(1.0, 100, 10, cooldown_fraction=0.2)
    >>> print(s([0, 5, 10, 79, 80, 85, 100]).round(4))
    [0.     0.5    1.     1.     1.     0.5    0.    ]
    """
    fn = "warmup_stable_cooldown"
    v.check(fn, "peak_value", peak_value)
    v.check(fn, "total_steps", total_steps, nonneg=True)
    v.check(fn, "warmup_steps", warmup_steps, nonneg=True)
    v.check(fn, "cooldown_fraction", cooldown_fraction, lo=0.0, hi=1.0)
    v.check(fn, "end_value", end_value)
    v.check(fn, "init_value", init_value)
    _check_decay(fn, decay, decay_power, decay_ratio)
    total, fraction = v.concrete(total_steps), v.concrete(cooldown_fraction)
    if total is not None and fraction is not None:
        v.check_at_most(fn, "warmup_steps", warmup_steps, total - fraction * total,
                        "total_steps * (1 - cooldown_fraction)")
    total_steps, warmup_steps, cooldown_fraction = map(
        _core.as_float, (total_steps, warmup_steps, cooldown_fraction))
    cooldown_steps = cooldown_fraction * total_steps
    stable_steps = total_steps - warmup_steps - cooldown_steps
    return warmup_stable_decay(peak_value, warmup_steps, jnp.maximum(stable_steps, 0.0),
                               cooldown_steps, end_value, decay, init_value, decay_power,
                               decay_ratio)


@schedule_factory
def linear_decay_to_zero(peak_value, total_steps, warmup_steps=0.0):
    r"""Linear warmup, then linear decay to zero at the end of the run ("D2Z").

    With ``T = total_steps`` and ``W = warmup_steps`` (counted inside ``T``):

    .. math:: \eta_t = \begin{cases} v\, t / W & t < W \\
      v\, (T - t) / (T - W) & W \le t < T \\ 0 & t \ge T \end{cases}

    that is ``warmup(linear(v, 0, T - W), W)``, or
    ``warmup_stable_decay(v, W, 0, T - W)``. The last update of the run
    (``t = T - 1``) uses ``v / (T - W)``.

    Args:
      peak_value: ``v``, the value at the end of the warmup.
      total_steps: ``T >= 0``, the step at which the value reaches 0.
      warmup_steps: ``0 <= W <= T``.

    Returns:
      An ``optax.Schedule``.

    References:
      S. Bergsma, N. Dey, G. Gosal, G. Gray, D. Soboleva, J. Hestness,
      "Straight to Zero: Why Linearly Decaying the Learning Rate to Zero
      Works Best for LLMs", ICLR 2025 (arXiv 2502.15938).

    >>> import jaxlr
    >>> print(jaxlr.linear_decay_to_zero(1.0, 10, warmup_steps=2)([0, 1, 2, 6, 10, 12]))
    [0.  0.5 1.  0.5 0.  0. ]
    """
    fn = "linear_decay_to_zero"
    v.check(fn, "peak_value", peak_value)
    v.check(fn, "total_steps", total_steps, nonneg=True)
    v.check(fn, "warmup_steps", warmup_steps, nonneg=True)
    v.check_at_most(fn, "warmup_steps", warmup_steps, total_steps, "total_steps")
    total_steps, warmup_steps = map(_core.as_float, (total_steps, warmup_steps))
    return warmup_stable_decay(peak_value, warmup_steps, 0.0,
                               jnp.maximum(total_steps - warmup_steps, 0.0))


@schedule_factory
def tanh_decay(init_value, decay_steps, end_value=0.0, lower=-7.0, upper=3.0):
    r"""Hyperbolic-tangent decay (HTD, Hsueh et al. 2019), timm's ``TanhLRScheduler`` shape.

    With progress ``p = min(t, T) / T``:

    .. math:: \eta_t = v_1 + (v_0 - v_1)\,
      \tfrac12\left(1 - \tanh\left(L (1 - p) + U p\right)\right)

    computed as ``sigmoid(-2 x)`` (the same function, without the
    cancellation of ``1 - tanh x`` for large ``x``). The shape does not reach
    its ends: it starts at ``v_1 + (v_0 - v_1)(1 - tanh L)/2`` (just below
    ``v_0``) and ends at ``v_1 + (v_0 - v_1)(1 - tanh U)/2`` (just above
    ``v_1``), where it holds past ``T``. timm instead drops to ``lr_min``
    once its last cycle is over: ``join([tanh_decay(v, T, lr_min), constant(lr_min)],
    [T])``; its restarts are ``jaxlr.restarts`` of this shape.

    Args:
      init_value: ``v_0`` (timm's base lr).
      decay_steps: ``T > 0``.
      end_value: ``v_1`` (timm ``lr_min``).
      lower: ``L``, the tanh argument at ``t = 0`` (timm ``lb``, default -7;
        the paper's experiments use -6).
      upper: ``U > L``, the tanh argument at ``t = T`` (timm ``ub``, paper 3).

    Returns:
      An ``optax.Schedule``.

    References:
      B.-Y. Hsueh, W. Li, I-C. Wu, "Stochastic Gradient Descent with
      Hyperbolic-Tangent Decay on Classification", WACV 2019 (arXiv
      1806.01593); timm ``TanhLRScheduler``.

    >>> import jaxlr
    >>> print(jaxlr.tanh_decay(1.0, 10, lower=-3.0, upper=3.0)([0, 5, 10, 20]).round(4))
    [0.9975 0.5    0.0025 0.0025]
    """
    fn = "tanh_decay"
    v.check(fn, "init_value", init_value)
    v.check(fn, "decay_steps", decay_steps, positive=True)
    v.check(fn, "end_value", end_value)
    v.check(fn, "lower", lower)
    v.check(fn, "upper", upper)
    lo, hi = v.concrete(lower), v.concrete(upper)
    if lo is not None and hi is not None and lo >= hi:
        raise ValueError(f"jaxlr.tanh_decay: lower must be < upper={upper!r}, got {lower!r}")
    init_value, decay_steps, end_value, lower, upper = map(
        _core.as_float, (init_value, decay_steps, end_value, lower, upper))

    def schedule(step):
        t = _core.as_step(step)
        argument = (lower * _core.remaining(t, decay_steps)
                    + upper * _core.fraction(t, decay_steps))
        # (1 - tanh x) / 2 == sigmoid(-2 x)
        return _core.interpolate(end_value, init_value, jax.nn.sigmoid(-2.0 * argument))

    return schedule


@schedule_factory
def power_law(scale, exponent, max_value):
    r"""A capped power law of the step: ``min(max_value, scale * t ** exponent)``.

    .. math:: \eta_t = \min\left(\eta_{max},\ c\, t^{b}\right)

    At ``t = 0`` a negative exponent gives ``max_value`` (``c t^b`` is
    unbounded there). It is the body of Shen et al.'s Power scheduler
    (``jaxlr.power_scheduler``); shifted, it is any ``c (t + s)^b``:
    ``shift(power_law(c, b, m), -s)(t) = min(m, c (t + s)^b)``, e.g. timm
    WSD's ``power`` stable phase ``v (1 + t/tau)^{-p}`` is
    ``shift(power_law(v tau^p, -p, v), -tau)``.

    Args:
      scale: ``c >= 0``.
      exponent: ``b <= 0``.
      max_value: ``eta_max``, the cap (finite).

    Returns:
      An ``optax.Schedule``.

    References:
      Y. Shen et al., "Power Scheduler: A Batch Size and Token Number
      Agnostic Learning Rate Scheduler", 2024 (arXiv 2408.13359).

    >>> import jaxlr
    >>> print(jaxlr.power_law(1.0, -0.5, 0.8)([0, 1, 4, 16]))
    [0.8  0.8  0.5  0.25]
    """
    fn = "power_law"
    v.check(fn, "scale", scale, nonneg=True)
    v.check(fn, "exponent", exponent, hi=0.0)
    v.check(fn, "max_value", max_value)
    scale, exponent, max_value = map(_core.as_float, (scale, exponent, max_value))

    def schedule(step):
        t = _core.as_step(step)
        positive = t > 0
        # t ** b is computed at t > 0 only, so that no inf enters a gradient
        value = scale * jnp.where(positive, t, 1.0) ** exponent
        at_zero = jnp.where(exponent < 0, max_value, scale)
        return jnp.minimum(jnp.where(positive, value, at_zero), max_value)

    return schedule


@schedule_factory
def power_scheduler(peak_value, warmup_steps, batch_size, sequence_length, a=4.6, b=-0.51,
                    total_steps=None, decay_steps=0.0, decay="exp", end_value=0.0,
                    decay_power=0.5, decay_ratio=math.exp(-1.0)):
    r"""Shen et al.'s Power scheduler: a warmup, a power law of the tokens seen, a final decay.

    With ``n = t \beta \ell`` tokens after ``t`` updates of ``\beta``
    sequences (``batch_size``) of ``\ell`` tokens (``sequence_length``), the
    paper's learning rate is

    .. math:: \eta_{power}(n) = \min(\eta_{max},\ \beta\, a\, n^{b}), \qquad
      \eta_t = \begin{cases} \tfrac{t}{W}\,\eta_{power}(W \beta \ell) & t < W \\
        \eta_{power}(t \beta \ell) & W \le t \le N - D \\
        f\!\left(\tfrac{t - (N - D)}{D}\right)\eta_{power}((N - D) \beta \ell) & t > N - D
      \end{cases}

    with ``W = warmup_steps``, ``N = total_steps``, ``D = decay_steps`` and
    the decay shape ``f`` (``1 -> 0``; mapped onto ``[end_value,
    eta_power]``). As a composition::

        body = power_law(beta * a * (beta * ell) ** b, b, peak_value)
        body = join([body, warmup_stable_decay(body(N - D), 0, 0, D, end_value, decay)],
                    [N - D])                            # without total_steps: no decay
        warmup(body, W, prefix=False)                   # ramps 0 -> body(W)

    ``total_steps=None`` (the default) has no decay phase: the schedule needs
    no horizon, which is the paper's point (continual training, early
    stopping). The default decay is exponential, normalised to end at
    ``end_value`` (``decay_ratio = exp(-1)``: IBM dolomite-engine's
    ``ExponentialScheduler``, by the paper's authors); any
    ``warmup_stable_decay`` shape can be chosen.

    Defaults ``a = 4.6``, ``b = -0.51`` (with ``eta_max = 0.02`` and muP): the
    fit the paper reports, as we read it; ``b = -0.51`` is also in IBM's
    dolomite-engine configs, while ``a`` could not be checked against the
    paper's text when this was written, so pass both explicitly to reproduce
    the paper. They depend on its parametrisation and batch size unit
    (sequences); for another setup, fit ``a`` and ``b`` anew.
    IBM's ``PowerScheduler`` (dolomite-engine: ``min(lr, a' (c t)^b)`` with
    ``a' = batch_size * a`` and ``c = batch_size * sequence_length``) is this
    schedule without decay.

    Args:
      peak_value: ``eta_max``, the cap.
      warmup_steps: ``W >= 0``.
      batch_size: ``beta > 0``, sequences per update.
      sequence_length: ``ell > 0``, tokens per sequence.
      a: ``a >= 0`` (paper: 4.6).
      b: ``b <= 0`` (paper: -0.51).
      total_steps: ``N >= D``, or ``None`` (static choice) for no decay.
      decay_steps: ``D >= 0``, the decay at the end of ``N`` steps (0 without
        ``total_steps``).
      decay: static, a ``warmup_stable_decay`` shape (default ``"exp"``).
      end_value: value at ``N`` and after.
      decay_power: ``k > 0`` of the ``power`` shape.
      decay_ratio: ``r`` in ``(0, 1)`` of the ``exp`` shape.

    Returns:
      An ``optax.Schedule``.

    References:
      Y. Shen, M. Stallone, M. Mishra, G. Zhang, S. Tan, A. Prasad, A. Meza
      Soria, D. D. Cox, R. Panda, "Power Scheduler: A Batch Size and Token
      Number Agnostic Learning Rate Scheduler", 2024 (arXiv 2408.13359).

    >>> import jaxlr
    >>> s = jaxlr.power_scheduler(0.02, 100, batch_size=1024, sequence_length=4096)
    >>> print(s([0, 50, 100, 10_000, 100_000]).round(4))
    [0.     0.01   0.02   0.018  0.0056]
    >>> s = jaxlr.power_scheduler(0.02, 100, 1024, 4096, total_steps=100_000, decay_steps=10_000)
    >>> print(s([90_000, 95_000, 100_000]).round(4))
    [0.0059 0.0022 0.    ]
    """
    fn = "power_scheduler"
    v.check(fn, "peak_value", peak_value)
    v.check(fn, "warmup_steps", warmup_steps, nonneg=True)
    v.check(fn, "batch_size", batch_size, positive=True)
    v.check(fn, "sequence_length", sequence_length, positive=True)
    v.check(fn, "a", a, nonneg=True)
    v.check(fn, "b", b, hi=0.0)
    v.check(fn, "decay_steps", decay_steps, nonneg=True)
    _check_decay(fn, decay, decay_power, decay_ratio)
    v.check(fn, "end_value", end_value)
    batch_size, sequence_length, a, b = map(_core.as_float, (batch_size, sequence_length, a, b))
    body = power_law(batch_size * a * (batch_size * sequence_length) ** b, b, peak_value)
    if total_steps is None:
        if v.concrete(decay_steps) is None or v.concrete(decay_steps).any():
            raise ValueError(f"jaxlr.{fn}: decay_steps must be 0 without total_steps (no decay "
                             f"phase), got {decay_steps!r}")
    else:
        v.check(fn, "total_steps", total_steps, nonneg=True)
        v.check_at_most(fn, "decay_steps", decay_steps, total_steps, "total_steps")
        total_steps, decay_steps = map(_core.as_float, (total_steps, decay_steps))
        decay_start = jnp.maximum(total_steps - decay_steps, 0.0)
        start_value = body(decay_start)
        tail = _decay_tail(fn, decay, start_value, _core.as_float(end_value), decay_steps,
                           decay_power, decay_ratio)
        body = join([body, tail], [decay_start])
    return warmup(body, warmup_steps, prefix=False)
