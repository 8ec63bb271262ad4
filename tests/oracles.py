"""Exact float64 oracles of jaxlr's documented schedule semantics.

One plain-Python reference per case of ``tests/registry.py`` (``ORACLES[name]``),
used by the optax-call-mode property tests: ``ORACLES[case.name](t, **kwargs)``
is the learning rate at step ``t`` (a non-negative int, up to ``2**31 - 1``, or
a float) of ``case.build(**kwargs)``, as a Python float.

Each oracle is written from the formula in the jaxlr docstring and the
reference it names (Keras, PyTorch, TF, optax, Smith's CLR, SGDR), not from
jaxlr's code, with the standard library only (``math``, ``fractions``).
Every discontinuity (which piece, period, cycle or stair a step falls in) is
decided exactly with :class:`fractions.Fraction` from the float values of the
step and the hyperparameters, and every smooth part (cos, pow, exp, sqrt) is
evaluated in float64 from an exact remainder, so the value past a horizon is
exactly the final value. ``noisy_linear_cosine`` is only defined for
``initial_variance == 0`` (its noise is a jax draw): otherwise it returns None.
"""

from __future__ import annotations

import functools
import math
import operator
from fractions import Fraction
from typing import Callable

# ---------------------------------------------------------------- helpers


def _q(x):
    """``x`` (int, float, numpy scalar or Fraction) as an exact Fraction."""
    if isinstance(x, Fraction):
        return x
    try:
        return Fraction(operator.index(x))
    except TypeError:
        return Fraction(float(x))


def _progress(t, horizon):
    """Exact ``clip(t / horizon, 0, 1)``; 1 when ``horizon <= 0``."""
    t, horizon = _q(t), _q(horizon)
    if horizon <= 0:
        return Fraction(1)
    return min(max(t / horizon, Fraction(0)), Fraction(1))


def _lerp(v0, v1, p):
    """``v0 (1 - p) + v1 p`` computed exactly, then rounded once."""
    return float(_q(v0) * (1 - p) + _q(v1) * p)


def _hav(x):
    """``(1 + cos(pi x)) / 2 = cos(pi y)**2 = sin(pi (1/2 - y))**2``, ``y = x / 2 mod 1``.

    ``y`` and ``1/2 - y`` are exact Fractions, so the value is exactly 0 where
    ``x`` is an odd integer (the end of a cosine) and accurate near it.
    """
    y = (_q(x) / 2) % 1
    return math.sin(math.pi * float(Fraction(1, 2) - y)) ** 2


def _pow(base, exponent):
    """``base ** exponent`` for ``base >= 0``, ``inf`` on overflow."""
    try:
        return float(base) ** exponent
    except OverflowError:
        return math.inf


def _floor_div(t, size):
    """Exact ``floor(t / size)``."""
    return math.floor(_q(t) / _q(size))


def _restart_period(t, period, mul):
    """SGDR position of ``t``: ``(i, t - S_i, T_i)`` with ``T_i = P m^i``,
    ``S_i = P (m^i - 1)/(m - 1)`` (``P i`` when ``m == 1``), exactly."""
    t, period, mul = _q(t), _q(period), _q(mul)
    if mul == 1:
        i = _floor_div(t, period)
        return i, t - period * i, period

    def start(k):
        return period * (mul**k - 1) / (mul - 1)

    i = int(math.log1p(float(t * (mul - 1) / period)) / math.log(float(mul)))
    while i > 0 and start(i) > t:
        i -= 1
    while start(i + 1) <= t:
        i += 1
    return i, t - start(i), period * mul**i


# ---------------------------------------------------------------- primitives


def constant(t, value):
    """``v``."""
    return float(value)


def linear(t, init_value, end_value, transition_steps):
    """``v0 + (v1 - v0) min(t, T)/T`` (``v1`` at once when ``T == 0``)."""
    return _lerp(init_value, end_value, _progress(t, transition_steps))


def polynomial(t, init_value, end_value, decay_steps, power=1.0, cycle=False):
    """Keras ``PolynomialDecay``: ``(v0 - v1)(1 - t/T_t)^p + v1``, ``T_t = T`` (t clipped
    to T) or ``T ceil(t/T)`` (T at 0) with ``cycle``."""
    t, horizon = _q(t), _q(decay_steps)
    if cycle:
        horizon *= max(math.ceil(t / horizon), 1)
    remaining = (horizon - min(t, horizon)) / horizon
    return (init_value - end_value) * float(remaining) ** power + end_value


def exponential(t, init_value, decay_rate, decay_steps, staircase=False, end_value=None):
    """Keras ``ExponentialDecay``: ``v0 r^(t/T)`` (``floor(t/T)`` if staircase), bounded
    by ``end_value`` from below if ``r < 1`` else from above."""
    ratio = _q(t) / _q(decay_steps)
    value = init_value * _pow(decay_rate, math.floor(ratio) if staircase else float(ratio))
    if end_value is None:
        return value
    return max(value, end_value) if decay_rate < 1.0 else min(value, end_value)


def natural_exp(t, init_value, decay_rate, decay_steps, staircase=False):
    """TF ``natural_exp_decay``: ``v0 exp(-r t/T)`` (``floor(t/T)`` if staircase)."""
    ratio = _q(t) / _q(decay_steps)
    exponent = -_q(decay_rate) * (math.floor(ratio) if staircase else ratio)
    try:
        return init_value * math.exp(float(exponent))
    except OverflowError:
        return math.copysign(math.inf, init_value)


def inverse_time(t, init_value, decay_rate, decay_steps=1.0, staircase=False):
    """Keras ``InverseTimeDecay``: ``v0 / (1 + r t/T)`` (``floor(t/T)`` if staircase)."""
    ratio = _q(t) / _q(decay_steps)
    return init_value / float(1 + _q(decay_rate) * (math.floor(ratio) if staircase else ratio))


def piecewise_constant(t, boundaries, values, inclusive=True):
    """``values[#{b : b <= t}]`` (``b < t`` with ``inclusive=False``, Keras)."""
    t = _q(t)
    passed = sum(1 for b in boundaries if (t >= _q(b) if inclusive else t > _q(b)))
    return float(values[passed])


def multistep(t, init_value, milestones, gamma=0.1):
    """torch ``MultiStepLR``: ``v0 gamma^#{m <= t}``."""
    t = _q(t)
    return init_value * _pow(gamma, sum(1 for m in milestones if t >= _q(m)))


def factor(t, init_value, factor, step_size=1, min_value=0.0):
    """MXNet ``FactorScheduler``: ``max(v_min, v0 f^floor(t/s))``."""
    return max(min_value, init_value * _pow(factor, _floor_div(t, step_size)))


def cosine(t, init_value, decay_steps, end_value=0.0, exponent=1.0):
    """Keras ``CosineDecay`` / optax: ``v1 + (v0 - v1) ((1 + cos(pi min(t,T)/T))/2)^e``."""
    return end_value + (init_value - end_value) * _hav(_progress(t, decay_steps)) ** exponent


def cosine_restarts(t, init_value, first_decay_steps, t_mul=2.0, m_mul=1.0, end_value=0.0):
    """SGDR / Keras ``CosineDecayRestarts``: ``v1 + (v0 - v1) m_mul^i (1 + cos(pi tau/T_i))/2``."""
    i, tau, length = _restart_period(t, first_decay_steps, t_mul)
    return end_value + (init_value - end_value) * _pow(m_mul, i) * _hav(tau / length)


def linear_cosine(t, init_value, decay_steps, num_periods=0.5, alpha=0.0, beta=0.001):
    """TF ``linear_cosine_decay``: ``v0 ((alpha + (T - s)/T)(1 + cos(2 pi n s/T))/2 + beta)``,
    ``s = min(t, T)``."""
    p = _progress(t, decay_steps)
    return init_value * ((alpha + float(1 - p)) * _hav(2 * _q(num_periods) * p) + beta)


def noisy_linear_cosine(t, init_value, decay_steps, initial_variance=1.0, variance_decay=0.55,
                        num_periods=0.5, alpha=0.0, beta=0.001, key_seed=None):
    """TF ``noisy_linear_cosine_decay`` with zero noise (``linear_cosine``); None otherwise."""
    if initial_variance != 0:
        return None
    return linear_cosine(t, init_value, decay_steps, num_periods, alpha, beta)


def inverse_sqrt(t, init_value, timescale=1.0):
    """``v0 sqrt(tau / (t + tau))`` (d2l ``SquareRootScheduler`` for tau = 1)."""
    tau = _q(timescale)
    return init_value * math.sqrt(tau / (_q(t) + tau))


def cyclic(t, base_value, max_value, step_size_up, step_size_down=None, mode="triangular",
           gamma=1.0):
    """torch ``CyclicLR`` (Smith 2017): cycle ``c = floor(1 + t/P)``, triangle height,
    scale 1 / ``2^-(c-1)`` / ``gamma^t``; ``P = u + d`` is a float sum, as in torch."""
    down = step_size_up if step_size_down is None else step_size_down
    t, up, down, period = _q(t), _q(step_size_up), _q(down), _q(float(step_size_up) + down)
    completed = _floor_div(t, period)  # c - 1
    tau = t - period * completed
    height = tau / up if tau <= up else (period - tau) / down
    if mode == "triangular":
        scale = 1.0
    elif mode == "triangular2":
        scale = math.ldexp(1.0, -completed)
    else:
        scale = _pow(gamma, float(t))
    return base_value + (max_value - base_value) * float(height) * scale


def _one_cycle_phases(t, levels, total_steps, pct_start, anneal, three_phase):
    """torch ``OneCycleLR``'s phase loop: the first phase whose (float) end step ``>= t``,
    else the last, annealed ``levels[i] -> levels[i + 1]`` from the previous end; holds
    the last level from ``T - 1`` on."""
    last = float(total_steps) - 1.0
    ends = [float(pct_start * total_steps) - 1.0]  # torch's float phase ends
    if three_phase:
        ends.append(float(2 * pct_start * total_steps) - 2.0)
    ends.append(last)
    t = min(_q(t), _q(last))
    start = Fraction(0)
    for k, end in enumerate(ends):
        if t <= _q(end) or k == len(ends) - 1:
            v_a, v_b = levels[k], levels[k + 1]
            length = _q(end) - start
            pct = (t - start) / length if length > 0 else Fraction(1)
            if anneal == "cos":
                return v_b + (v_a - v_b) * _hav(pct)
            return _lerp(v_a, v_b, pct)
        start = _q(end)


def one_cycle(t, peak_value, total_steps, pct_start=0.3, div_factor=25.0,
              final_div_factor=1e4, anneal="cos", three_phase=False):
    """torch ``OneCycleLR``'s lr: ``v_i -> peak -> v_min`` (three phases: ``v_i -> peak ->
    v_i -> v_min``), ``v_i = peak / div_factor``, ``v_min = v_i / final_div_factor``."""
    initial = peak_value / div_factor
    minimum = initial / final_div_factor
    levels = ([initial, peak_value, initial, minimum] if three_phase
              else [initial, peak_value, minimum])
    return _one_cycle_phases(t, levels, total_steps, pct_start, anneal, three_phase)


def one_cycle_momentum(t, total_steps, pct_start=0.3, base_momentum=0.85, max_momentum=0.95,
                       anneal="cos", three_phase=False):
    """torch ``OneCycleLR``'s momentum (``cycle_momentum=True``): ``max -> base -> max``
    (three phases: ``max -> base -> max -> max``)."""
    levels = ([max_momentum, base_momentum, max_momentum, max_momentum] if three_phase
              else [max_momentum, base_momentum, max_momentum])
    return _one_cycle_phases(t, levels, total_steps, pct_start, anneal, three_phase)


def _decay_shape(p, decay, decay_power=0.5, decay_ratio=0.1):
    """The WSD decay factor (1 -> 0) at exact progress ``p``: ``1 - p``, ``(1 + cos(pi p))/2``,
    ``1 - sqrt(p)``, ``1 - p^k``, ``(r^p - r)/(1 - r)`` (timm ``WSDLRScheduler._decay``)."""
    if decay == "linear":
        return float(1 - p)
    if decay == "cosine":
        return _hav(p)
    if decay == "1-sqrt":
        return 1.0 - math.sqrt(p)
    if decay == "power":
        return 1.0 - float(p) ** decay_power
    r = decay_ratio
    return (r ** float(p) - r) / (1.0 - r)


def warmup_stable_decay(t, peak_value, warmup_steps, stable_steps, decay_steps, end_value=0.0,
                        decay="linear", init_value=0.0, decay_power=0.5, decay_ratio=0.1):
    """WSD: linear ``v_init -> peak`` over W, ``peak`` for S, then ``peak -> end`` over D by
    the decay shape (``_decay_shape``), then ``end``."""
    t = _q(t)
    if t < _q(warmup_steps):
        return _lerp(init_value, peak_value, t / _q(warmup_steps))
    u = t - _q(warmup_steps) - _q(stable_steps)
    if u < 0:
        return float(peak_value)
    p = _progress(u, decay_steps)
    if decay == "linear":
        return _lerp(peak_value, end_value, p)
    return end_value + (peak_value - end_value) * _decay_shape(p, decay, decay_power, decay_ratio)


def warmup_stable_cooldown(t, peak_value, total_steps, warmup_steps=0.0, cooldown_fraction=0.2,
                           decay="1-sqrt", end_value=0.0, init_value=0.0, decay_power=0.5,
                           decay_ratio=0.1):
    """Hägele et al.: warmup over W (inside T), ``peak`` until ``T - f T``, then the cooldown
    over ``D = f T`` to ``end`` at ``T``."""
    cooldown = _q(cooldown_fraction) * _q(total_steps)
    stable = max(_q(total_steps) - _q(warmup_steps) - cooldown, Fraction(0))
    return warmup_stable_decay(t, peak_value, warmup_steps, stable, cooldown, end_value, decay,
                               init_value, decay_power, decay_ratio)


def linear_decay_to_zero(t, peak_value, total_steps, warmup_steps=0.0):
    """D2Z (Bergsma et al. 2025): ``v t / W`` for ``t < W``, ``v (T - t)/(T - W)`` until ``T``,
    then 0."""
    t, total, width = _q(t), _q(total_steps), _q(warmup_steps)
    if t < width:
        return float(_q(peak_value) * t / width)
    if t >= total:
        return 0.0
    return float(_q(peak_value) * (total - t) / (total - width))


def tanh_decay(t, init_value, decay_steps, end_value=0.0, lower=-7.0, upper=3.0):
    """Hsueh et al. / timm ``TanhLRScheduler``: ``v1 + (v0 - v1)(1 - tanh(L (1 - p) + U p))/2``,
    ``p = min(t, T)/T``."""
    p = _progress(t, decay_steps)
    x = float(_q(lower) * (1 - p) + _q(upper) * p)
    return end_value + (init_value - end_value) * 0.5 * (1.0 - math.tanh(x))


def power_law(t, scale, exponent, max_value):
    """``min(eta_max, c t^b)``; at ``t = 0`` ``eta_max`` for ``b < 0``, ``min(eta_max, c)`` for
    ``b = 0``."""
    if t == 0:
        return float(max_value) if exponent < 0 else min(float(max_value), float(scale))
    return min(float(max_value), scale * _pow(float(t), exponent))


def power_scheduler(t, peak_value, warmup_steps, batch_size, sequence_length, a=4.6, b=-0.51,
                    total_steps=None, decay_steps=0.0, decay="exp", end_value=0.0,
                    decay_power=0.5, decay_ratio=math.exp(-1.0)):
    """Shen et al. 2024, eq. for the Power scheduler with ``n = t beta ell`` tokens:
    ``eta_power(n) = min(eta_max, beta a n^b)``; ``t/W eta_power(W beta ell)`` for ``t < W``,
    ``eta_power`` until ``N - D``, then ``f(p) eta_power((N - D) beta ell)`` (mapped onto
    ``[end, eta_power]``), ``end`` from ``N`` on."""
    def eta_power(steps):
        tokens = float(steps) * batch_size * sequence_length
        if tokens == 0:
            return float(peak_value) if b < 0 else min(float(peak_value), batch_size * a)
        return min(float(peak_value), batch_size * a * _pow(tokens, b))

    t = _q(t)
    if t < _q(warmup_steps):
        # the ramp's end is the schedule at W (a decay may have begun before W)
        return float(t / _q(warmup_steps)) * power_scheduler(
            warmup_steps, peak_value, 0.0, batch_size, sequence_length, a, b, total_steps,
            decay_steps, decay, end_value, decay_power, decay_ratio)
    if total_steps is None or t < _q(total_steps) - _q(decay_steps):
        return eta_power(t)
    start = max(_q(total_steps) - _q(decay_steps), Fraction(0))
    top = eta_power(start)
    p = _progress(t - start, decay_steps)
    if decay == "linear":
        return _lerp(top, end_value, p)
    return end_value + (top - end_value) * _decay_shape(p, decay, decay_power, decay_ratio)


def cyclic_momentum(t, step_size_up, step_size_down=None, mode="triangular", gamma=1.0,
                    base_momentum=0.8, max_momentum=0.9):
    """torch ``CyclicLR``'s momentum: ``m_max - (m_max - m_base) h g`` (the lr's cycle read
    from ``max_momentum`` to ``base_momentum``)."""
    return cyclic(t, max_momentum, base_momentum, step_size_up, step_size_down, mode, gamma)


# ---------------------------------------------------------------- combinators


def _warmup(t, inner, warmup_steps, init_value=0.0, mode="linear", prefix=True,
            peak_value=None):
    """``jaxlr.warmup``: ramp ``init -> v*`` with ``p = t/W`` for ``t < W``, then
    ``inner(t - W)`` (prefix, ``v* = inner(0)``) or ``inner(t)`` (``v* = inner(W)``)."""
    t, width = _q(t), _q(warmup_steps)
    if t >= width:
        return inner(t - width if prefix else t)
    target = peak_value if peak_value is not None else inner(Fraction(0) if prefix else width)
    p = t / width
    if mode == "linear":
        return init_value + (target - init_value) * float(p)
    if mode == "cosine":
        return init_value + (target - init_value) * math.sin(math.pi * float(p) / 2) ** 2
    if mode == "exponential":
        return init_value * (target / init_value) ** float(p)
    return float(init_value)


def _join(t, pieces, boundaries):
    """``jaxlr.join``: piece ``i`` at ``t - b_{i-1}`` for ``b_{i-1} <= t < b_i``."""
    t = _q(t)
    i = sum(1 for b in boundaries if t >= _q(b))
    return pieces[i](t - (_q(boundaries[i - 1]) if i else 0))


def _restarts(t, inner, period, period_mul=1.0, value_mul=1.0):
    """``jaxlr.restarts``: ``mu^i s((t - S_i) P / T_i)`` (SGDR periods)."""
    i, tau, length = _restart_period(t, period, period_mul)
    return _pow(value_mul, i) * inner(tau * _q(period) / length)


def _inner(t):
    """The registry's combinator inner schedule ``cosine(1.0, 100, 0.1)``."""
    return cosine(t, 1.0, 100, 0.1)


def _warmup_case(mode, prefix):
    def oracle(t, init_value, warmup_steps, peak):
        """``warmup(scale(cosine(1, 100, 0.1), peak), W, init_value, mode, prefix)``."""
        return _warmup(t, lambda s: peak * _inner(s), warmup_steps, init_value, mode, prefix)

    return oracle


def _warmup_peak_value(t, peak_value, warmup_steps):
    """``warmup(cosine(1, 100, 0.1), W, prefix=False, peak_value=v*)``: ``v* t/W``, then cosine."""
    return _warmup(t, _inner, warmup_steps, 0.0, "linear", False, peak_value)


def _join_case(t, boundaries, v):
    """``join([constant(v), linear(1, 0.5, 10), cosine(1, 100, 0.1)], boundaries)``."""
    pieces = [lambda s: float(v), lambda s: linear(s, 1.0, 0.5, 10), _inner]
    return _join(t, pieces, boundaries)


def _cycle_case(t, period, v):
    """``cycle(linear(v, 0, 10), P)``: ``s(t mod P)``."""
    t, period = _q(t), _q(period)
    return linear(t - period * _floor_div(t, period), v, 0.0, 10)


def _restarts_case(t, period, period_mul, value_mul):
    """``restarts(linear(1, 0, P), P, m, mu)``."""
    return _restarts(t, lambda s: linear(s, 1.0, 0.0, period), period, period_mul, value_mul)


def _shift_case(t, steps, v):
    """``shift(linear(v, 0, 10), k)``: ``s(max(t - k, 0))``."""
    return linear(max(_q(t) - _q(steps), Fraction(0)), v, 0.0, 10)


def _scale_case(t, factor):
    """``scale(cosine(1, 100, 0.1), c)``: ``c s(t)``."""
    return factor * _inner(t)


def _multiply_case(t, v, w):
    """``multiply(constant(v), linear(w, 1, 10), cosine(1, 100, 0.1))``."""
    return v * linear(t, w, 1.0, 10) * _inner(t)


def _add_case(t, v, w):
    """``add(constant(v), scale(cosine(1, 100, 0.1), w))``."""
    return v + w * _inner(t)


def _clip_case(t, min_value, max_value):
    """``clip(cosine(1, 100, 0.1), lo, hi)``."""
    return min(max(_inner(t), min_value), max_value)


def _staircase_case(t, step_size):
    """``staircase(linear(1, 0, 100), k)``: ``s(k floor(t/k))``."""
    return linear(_q(step_size) * _floor_div(t, step_size), 1.0, 0.0, 100)


def _per_epoch_case(t, steps_per_epoch, rate):
    """``per_epoch(exponential(1, r, 1), n)``: ``r^floor(t/n)``."""
    return exponential(_floor_div(t, steps_per_epoch), 1.0, rate, 1)


_p = functools.partial

ORACLES: dict[str, Callable[..., float]] = {
    "constant": constant,
    "linear": linear,
    "polynomial": polynomial,
    "polynomial_cycle": _p(polynomial, cycle=True),
    "exponential": exponential,
    "exponential_staircase_bounded": _p(exponential, staircase=True),
    "natural_exp": natural_exp,
    "natural_exp_staircase": _p(natural_exp, staircase=True),
    "inverse_time": inverse_time,
    "inverse_time_staircase": _p(inverse_time, staircase=True),
    "piecewise_constant": piecewise_constant,
    "piecewise_constant_keras": _p(piecewise_constant, inclusive=False),
    "multistep": multistep,
    "factor": factor,
    "cosine": cosine,
    "cosine_restarts": cosine_restarts,
    "linear_cosine": linear_cosine,
    "noisy_linear_cosine": noisy_linear_cosine,
    "inverse_sqrt": inverse_sqrt,
    "cyclic": cyclic,
    "cyclic_triangular2": _p(cyclic, mode="triangular2"),
    "cyclic_exp_range": _p(cyclic, mode="exp_range"),
    "one_cycle": one_cycle,
    "one_cycle_linear_three_phase": _p(one_cycle, anneal="linear", three_phase=True),
    "one_cycle_momentum": one_cycle_momentum,
    "one_cycle_momentum_linear_three_phase": _p(one_cycle_momentum, anneal="linear",
                                                three_phase=True),
    "warmup_stable_decay": warmup_stable_decay,
    "warmup_stable_decay_cosine": _p(warmup_stable_decay, decay="cosine"),
    "warmup_stable_decay_1sqrt": _p(warmup_stable_decay, decay="1-sqrt"),
    "warmup_stable_decay_power": _p(warmup_stable_decay, decay="power"),
    "warmup_stable_decay_exp": _p(warmup_stable_decay, decay="exp"),
    "warmup_stable_cooldown": warmup_stable_cooldown,
    "linear_decay_to_zero": linear_decay_to_zero,
    "tanh_decay": tanh_decay,
    "power_law": power_law,
    "power_scheduler": power_scheduler,
    "cyclic_momentum": cyclic_momentum,
    **{f"warmup_{mode}_{'prefix' if prefix else 'absolute'}": _warmup_case(mode, prefix)
       for mode in ("linear", "constant", "exponential", "cosine") for prefix in (True, False)},
    "warmup_peak_value": _warmup_peak_value,
    "join": _join_case,
    "cycle": _cycle_case,
    "restarts": _restarts_case,
    "shift": _shift_case,
    "scale": _scale_case,
    "multiply": _multiply_case,
    "add": _add_case,
    "clip": _clip_case,
    "staircase": _staircase_case,
    "per_epoch": _per_epoch_case,
}
