"""The documented domain of every registry case, for random hyperparameter draws.

``DOMAINS[case.name]`` says, for the schedule ``case.build(**kw)``:

- ``draw(rng) -> kw``: hyperparameters drawn at random over the whole domain
  its docstring documents (tiny and huge step counts, fractional ones, zero
  where allowed, non-integer powers below and above 1, non-integer ``t_mul``,
  zero and non-zero floors);
- ``bounds(kw) -> (lo, hi)``: the range every value must lie in;
- ``marks(kw)``: the steps where something happens (horizons, boundaries,
  phase ends), around which the test evaluates densely;
- ``period(kw)``: for schedules periodic in the integer step (their phase is
  exact at every int32 step), the period; ``None`` otherwise;
- ``steps_between(kw)``: step lengths whose multiples are discontinuities or
  kinks (staircases, cycles, restarts with ``t_mul = 1``), so that the test can
  find every edge near a step: ``edges(kw, lo, hi)`` lists the edges in
  ``[lo, hi]``, or ``None`` when there are too many to list (the interval then
  spans a whole pattern).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Callable

import numpy as np

INF = math.inf


MAX_EDGES = 64


@dataclasses.dataclass(frozen=True)
class Domain:
    draw: Callable
    bounds: Callable
    marks: Callable
    period: Callable = lambda kw: None
    steps_between: Callable = lambda kw: []
    offsets: Callable = lambda kw: [0.0]  # edges at k * length + offset
    restarts: Callable = lambda kw: None  # (period, t_mul) of SGDR restarts

    def edges(self, kw, lo, hi):
        found = [m for m in self.marks(kw) if lo <= m <= hi]
        lengths = list(self.steps_between(kw))
        if self.period(kw) is not None:
            lengths.append(self.period(kw))
        for length in lengths:
            for offset in self.offsets(kw):
                first, last = math.ceil((lo - offset) / length), math.floor((hi - offset) / length)
                if last - first + 1 > MAX_EDGES:
                    return None
                found += [k * length + offset for k in range(first, last + 1)]
        if self.restarts(kw) is not None:
            period, mul = self.restarts(kw)
            i, start, length = restart_at(lo, period, mul)
            while start <= hi:
                if start >= lo:
                    found.append(start)
                if len(found) > MAX_EDGES:
                    return None
                start, length = start + length, length * mul
        return found


def restart_at(t, period, mul):
    """``(i, S_i, T_i)`` of the SGDR period holding step ``t`` (float64 is enough here:
    the edges only widen the reference's neighbourhood)."""
    if mul == 1.0:
        i = math.floor(t / period)
        return i, i * period, period
    i = max(0, math.floor(math.log1p(t * (mul - 1) / period) / math.log(mul)))
    start = period * (mul**i - 1) / (mul - 1)
    return i, start, period * mul**i


# ------------------------------------------------------------------ draws


def value(rng, zero=0.0):
    """A learning-rate-like value, log-uniform over [1e-5, 10]; 0 with probability ``zero``."""
    if rng.random() < zero:
        return 0.0
    return float(10 ** rng.uniform(-5, 1))


def steps(rng, zero=0.0):
    """A step count: mostly small integers, also large and huge ones and fractions."""
    u = rng.random()
    if u < zero:
        return 0.0
    u = rng.random()
    if u < 0.45:
        return float(rng.integers(1, 200))
    if u < 0.7:
        return float(int(10 ** rng.uniform(np.log10(200), 6)))
    if u < 0.85:
        return float(int(10 ** rng.uniform(6, np.log10(2**30))))
    return float(10 ** rng.uniform(np.log10(0.05), 3))  # fractional


def rate(rng, lo=0.0, hi=1.0, above=0.0, above_hi=2.0):
    """A multiplier in [lo, hi] (0 and 1 with some probability), above ``hi`` with prob ``above``."""
    u = rng.random()
    if u < above:
        return float(rng.uniform(hi, above_hi))
    u = rng.random()
    if u < 0.1:
        return lo
    if u < 0.2:
        return hi
    return float(rng.uniform(lo, hi))


def exponent(rng):
    """A power in [0, 4]: non-integer below and above 1, and the integers 0, 1, 2."""
    u = rng.random()
    if u < 0.15:
        return float(rng.choice([0.0, 1.0, 2.0]))
    if u < 0.55:
        return float(rng.uniform(0.0, 1.0))
    return float(rng.uniform(1.0, 4.0))


def sorted_steps(rng, n, zero=0.1):
    return sorted(steps(rng, zero) for _ in range(n))


def span(*xs):
    finite = [x for x in xs]
    return (min(finite), max(finite))


def growth_bounds(v0, r, floor=0.0):
    """Bounds of ``v0 r**x`` for ``x >= 0``: decays to ``floor`` for ``r <= 1``, grows for ``r > 1``."""
    return (floor, v0) if r <= 1.0 else (v0, INF)


# ------------------------------------------------------------------ cases


def _linear(rng):
    return dict(init_value=value(rng, 0.1), end_value=value(rng, 0.3),
                transition_steps=steps(rng, zero=0.1))


def _polynomial(rng):
    return dict(init_value=value(rng), end_value=value(rng, 0.4), decay_steps=steps(rng),
                power=exponent(rng))


def _cyclic(rng, gamma=False):
    base, top = sorted([value(rng, 0.3), value(rng)])
    kw = dict(base_value=base, max_value=top, step_size_up=steps(rng))
    if rng.random() < 0.7:
        kw["step_size_down"] = steps(rng, zero=0.1)
    if gamma:
        kw["gamma"] = float(1.0 - 10 ** rng.uniform(-7, -0.5)) if rng.random() < 0.9 else 1.0
    return kw


def _cyclic_period(kw):
    return kw["step_size_up"] + kw.get("step_size_down", kw["step_size_up"])


def _one_cycle(rng):
    return dict(peak_value=value(rng), total_steps=steps(rng), pct_start=float(rng.uniform(0.01, 0.99)),
                div_factor=float(10 ** rng.uniform(-0.5, 3)),
                final_div_factor=float(10 ** rng.uniform(0, 5)))


def _one_cycle_bounds(kw):
    initial = kw["peak_value"] / kw["div_factor"]
    return span(kw["peak_value"], initial, initial / kw["final_div_factor"])


def _one_cycle_marks(kw):
    t, pct = kw["total_steps"], kw["pct_start"]
    return [pct * t - 1, 2 * pct * t - 2, t - 1, t]


def _one_cycle_momentum(rng):
    u = rng.random()
    if u < 0.8:  # the usual range, either order
        base, top = (float(x) for x in rng.uniform(0.0, 1.0, 2))
    elif u < 0.9:
        base = top = float(rng.uniform(0.0, 1.0))
    else:  # any finite values
        base, top = (float(x) for x in rng.uniform(-2.0, 2.0, 2))
    return dict(total_steps=steps(rng), pct_start=float(rng.uniform(0.01, 0.99)),
                base_momentum=base, max_momentum=top)


def _wsd(rng):
    return dict(peak_value=value(rng), warmup_steps=steps(rng, 0.2), stable_steps=steps(rng, 0.2),
                decay_steps=steps(rng, 0.2), end_value=value(rng, 0.4), init_value=value(rng, 0.4))


def _wsd_bounds(kw):
    return span(kw["peak_value"], kw["end_value"], kw.get("init_value", 0.0))


def _wsd_marks(kw):
    w, s, d = kw["warmup_steps"], kw["stable_steps"], kw["decay_steps"]
    return [w, w + s, w + s + d]


def _decay_power(rng):
    """A ``power`` decay exponent k > 0: below and above 1, tiny and large, and 1/2, 1, 2."""
    u = rng.random()
    if u < 0.2:
        return float(rng.choice([0.5, 1.0, 2.0]))
    return float(10 ** rng.uniform(-2, 1))


def _decay_ratio(rng):
    """An ``exp`` decay ratio r in (0, 1): tiny, near 1, 0.1 and exp(-1)."""
    u = rng.random()
    if u < 0.2:
        return float(rng.choice([0.1, math.exp(-1.0)]))
    if u < 0.35:
        return float(1.0 - 10 ** rng.uniform(-6, -1))
    return float(10 ** rng.uniform(-8, -1e-3))


WSD_DECAYS = ("linear", "cosine", "1-sqrt", "power", "exp")


def _decay_choice(rng):
    """A ``warmup_stable_decay`` decay shape and its parameter, as keyword arguments."""
    decay = str(rng.choice(WSD_DECAYS))
    kw = dict(decay=decay)
    if decay == "power":
        kw["decay_power"] = _decay_power(rng)
    elif decay == "exp":
        kw["decay_ratio"] = _decay_ratio(rng)
    return kw


def _cooldown(rng):
    total = steps(rng, 0.05)
    fraction = rate(rng, 0.0, 1.0)
    room = total - fraction * total  # as the constructor checks it
    return dict(peak_value=value(rng), total_steps=total,
                warmup_steps=rate(rng, 0.0, 1.0) * room if rng.random() < 0.9 else 0.0,
                cooldown_fraction=fraction, end_value=value(rng, 0.4),
                init_value=value(rng, 0.4), **_decay_choice(rng))


def _cooldown_marks(kw):
    total, fraction = kw["total_steps"], kw["cooldown_fraction"]
    return [kw["warmup_steps"], total - fraction * total, total]


def _d2z(rng):
    total = steps(rng, 0.05)
    return dict(peak_value=value(rng), total_steps=total,
                warmup_steps=rate(rng, 0.0, 1.0) * total)


def _tanh(rng):
    lower = float(rng.uniform(-10.0, 2.0))
    return dict(init_value=value(rng), decay_steps=steps(rng), end_value=value(rng, 0.4),
                lower=lower, upper=lower + float(10 ** rng.uniform(-2, 1.2)))


def _power_law(rng):
    return dict(scale=float(10 ** rng.uniform(-4, 3)) if rng.random() > 0.05 else 0.0,
                exponent=-float(rng.uniform(0.0, 2.0)) if rng.random() > 0.1 else 0.0,
                max_value=value(rng))


def _power_law_kink(scale, exponent, max_value):
    """The step where ``scale t^b`` meets the cap, if any."""
    if scale <= 0 or exponent >= 0 or max_value <= 0:
        return []
    try:
        return [(max_value / scale) ** (1.0 / exponent)]
    except OverflowError:
        return []


def _power_scheduler(rng):
    kw = dict(peak_value=value(rng), warmup_steps=steps(rng, 0.2),
              batch_size=float(10 ** rng.uniform(0, 4)),
              sequence_length=float(10 ** rng.uniform(0, 4.5)),
              a=4.6 if rng.random() < 0.2 else float(10 ** rng.uniform(-1, 2)),
              b=-0.51 if rng.random() < 0.2 else (
                  0.0 if rng.random() < 0.05 else -float(rng.uniform(0.0, 1.5))))
    if rng.random() < 0.75:
        total = steps(rng, 0.05)
        kw.update(total_steps=total, decay_steps=rate(rng, 0.0, 1.0) * total,
                  end_value=value(rng, 0.4), **_decay_choice(rng))
    return kw


def _power_scheduler_coefficient(kw):
    beta = kw["batch_size"]
    return beta * kw["a"] * (beta * kw["sequence_length"]) ** kw["b"]


def _power_scheduler_marks(kw):
    marks = [kw["warmup_steps"]]
    if kw.get("total_steps") is not None:
        marks += [kw["total_steps"] - kw["decay_steps"], kw["total_steps"]]
    return marks + _power_law_kink(_power_scheduler_coefficient(kw), kw["b"], kw["peak_value"])


def _cyclic_momentum(rng):
    base, top = (float(x) for x in rng.uniform(0.0, 1.0, 2))
    if rng.random() < 0.1:
        base, top = 0.8, 0.9
    kw = dict(step_size_up=steps(rng), base_momentum=base, max_momentum=top)
    if rng.random() < 0.7:
        kw["step_size_down"] = steps(rng, zero=0.1)
    kw["mode"] = str(rng.choice(["triangular", "triangular2", "exp_range"]))
    if kw["mode"] == "exp_range":
        kw["gamma"] = float(1.0 - 10 ** rng.uniform(-7, -0.5)) if rng.random() < 0.9 else 1.0
    return kw


def _warmup(mode):
    def draw(rng):
        init = value(rng, 0.0 if mode == "exponential" else 0.3)
        return dict(init_value=init, warmup_steps=steps(rng, 0.1), peak=value(rng))

    return draw


def _warmup_bounds(kw):
    return span(kw["init_value"], 0.1 * kw["peak"], kw["peak"])


def _inner_marks(offset=0.0):
    # the combinators' inner schedule is cosine(1.0, 100, 0.1)
    return [offset, offset + 100]


def _restarts_draw(rng):
    u = rng.random()
    m = 1.0 if u < 0.3 else float(rng.choice([2.0, 3.0])) if u < 0.45 else float(
        rng.uniform(1.0, 3.0))
    return m


def _restart_marks(period, m, count=6):
    starts, s, length = [], 0.0, period
    for _ in range(count):
        s += length
        length *= m
        starts.append(s)
    return starts


DOMAINS = {
    "constant": Domain(lambda rng: dict(value=value(rng, 0.1)),
                       lambda kw: (kw["value"], kw["value"]), lambda kw: []),
    "linear": Domain(_linear, lambda kw: span(kw["init_value"], kw["end_value"]),
                     lambda kw: [kw["transition_steps"]]),
    "polynomial": Domain(_polynomial, lambda kw: span(kw["init_value"], kw["end_value"]),
                         lambda kw: [kw["decay_steps"]]),
    "polynomial_cycle": Domain(_polynomial, lambda kw: span(kw["init_value"], kw["end_value"]),
                               lambda kw: [k * kw["decay_steps"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['decay_steps']]),
    "exponential": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, 0.0, 1.0, above=0.2),
                         decay_steps=steps(rng)),
        lambda kw: growth_bounds(kw["init_value"], kw["decay_rate"]),
        lambda kw: [kw["decay_steps"]]),
    "exponential_staircase_bounded": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, 0.0, 1.0, above=0.2),
                         decay_steps=steps(rng), end_value=value(rng, 0.3)),
        lambda kw: span(kw["init_value"], kw["end_value"]),
        lambda kw: [k * kw["decay_steps"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['decay_steps']]),
    "natural_exp": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, -1.0, 2.0),
                         decay_steps=steps(rng)),
        lambda kw: growth_bounds(kw["init_value"], math.exp(-kw["decay_rate"])),
        lambda kw: [kw["decay_steps"]]),
    "natural_exp_staircase": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, -1.0, 2.0),
                         decay_steps=steps(rng)),
        lambda kw: growth_bounds(kw["init_value"], math.exp(-kw["decay_rate"])),
        lambda kw: [k * kw["decay_steps"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['decay_steps']]),
    "inverse_time": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, 0.0, 5.0),
                         decay_steps=steps(rng)),
        lambda kw: (0.0, kw["init_value"]), lambda kw: [kw["decay_steps"]]),
    "inverse_time_staircase": Domain(
        lambda rng: dict(init_value=value(rng), decay_rate=rate(rng, 0.0, 5.0),
                         decay_steps=steps(rng)),
        lambda kw: (0.0, kw["init_value"]),
        lambda kw: [k * kw["decay_steps"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['decay_steps']]),
    "piecewise_constant": Domain(
        lambda rng: dict(boundaries=sorted_steps(rng, 2), values=[value(rng, 0.2) for _ in range(3)]),
        lambda kw: span(*kw["values"]), lambda kw: list(kw["boundaries"])),
    "piecewise_constant_keras": Domain(
        lambda rng: dict(boundaries=sorted_steps(rng, 2), values=[value(rng, 0.2) for _ in range(3)]),
        lambda kw: span(*kw["values"]), lambda kw: list(kw["boundaries"])),
    "multistep": Domain(
        lambda rng: dict(init_value=value(rng), milestones=[steps(rng, 0.1) for _ in range(3)],
                         gamma=rate(rng, 0.0, 1.0, above=0.2)),
        lambda kw: span(kw["init_value"], kw["init_value"] * kw["gamma"] ** 3),
        lambda kw: list(kw["milestones"])),
    "factor": Domain(
        lambda rng: dict(init_value=value(rng), factor=rate(rng, 0.0, 1.0, above=0.15, above_hi=1.5),
                         step_size=steps(rng), min_value=value(rng, 0.3)),
        lambda kw: ((max(kw["min_value"], 0.0), max(kw["min_value"], kw["init_value"]))
                    if kw["factor"] <= 1.0 else (max(kw["min_value"], kw["init_value"]), INF)),
        lambda kw: [k * kw["step_size"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['step_size']]),
    "cosine": Domain(
        lambda rng: dict(init_value=value(rng), decay_steps=steps(rng), end_value=value(rng, 0.4),
                         exponent=exponent(rng) or 1.0),
        lambda kw: span(kw["init_value"], kw["end_value"]), lambda kw: [kw["decay_steps"]]),
    "cosine_restarts": Domain(
        lambda rng: dict(init_value=value(rng), first_decay_steps=steps(rng),
                         t_mul=_restarts_draw(rng), m_mul=rate(rng, 0.0, 1.0),
                         end_value=value(rng, 0.4)),
        lambda kw: span(kw["init_value"], kw["end_value"]),
        lambda kw: _restart_marks(kw["first_decay_steps"], kw["t_mul"]),
        lambda kw: kw["first_decay_steps"] if kw["t_mul"] == 1.0 else None,
        restarts=lambda kw: (kw['first_decay_steps'], kw['t_mul'])),
    "linear_cosine": Domain(
        lambda rng: dict(init_value=value(rng), decay_steps=steps(rng),
                         num_periods=float(rng.uniform(0, 5)), alpha=rate(rng, 0.0, 1.0),
                         beta=rate(rng, 0.0, 0.1)),
        lambda kw: (kw["init_value"] * kw["beta"],
                    kw["init_value"] * (1 + kw["alpha"] + kw["beta"])),
        lambda kw: [kw["decay_steps"]]),
    # the oracle covers zero noise only (TF draws fresh noise at every call)
    "noisy_linear_cosine": Domain(
        lambda rng: dict(init_value=value(rng), decay_steps=steps(rng), initial_variance=0.0,
                         key_seed=int(rng.integers(0, 2**31))),
        lambda kw: (0.001 * kw["init_value"], 1.001 * kw["init_value"]),
        lambda kw: [kw["decay_steps"]]),
    "inverse_sqrt": Domain(
        lambda rng: dict(init_value=value(rng), timescale=steps(rng)),
        lambda kw: (0.0, kw["init_value"]), lambda kw: []),
    "cyclic": Domain(_cyclic, lambda kw: span(kw["base_value"], kw["max_value"]),
                     lambda kw: [kw["step_size_up"], _cyclic_period(kw)], _cyclic_period,
        steps_between=lambda kw: [_cyclic_period(kw)],
        offsets=lambda kw: [0.0, kw['step_size_up']]),
    "cyclic_triangular2": Domain(
        _cyclic, lambda kw: span(kw["base_value"], kw["max_value"]),
        lambda kw: [kw["step_size_up"], _cyclic_period(kw), 2 * _cyclic_period(kw)],
        _cyclic_period,
        steps_between=lambda kw: [_cyclic_period(kw)],
        offsets=lambda kw: [0.0, kw['step_size_up']]),
    "cyclic_exp_range": Domain(
        lambda rng: _cyclic(rng, gamma=True), lambda kw: span(kw["base_value"], kw["max_value"]),
        lambda kw: [kw["step_size_up"], _cyclic_period(kw)], _cyclic_period,
        steps_between=lambda kw: [_cyclic_period(kw)],
        offsets=lambda kw: [0.0, kw['step_size_up']]),
    "one_cycle": Domain(_one_cycle, _one_cycle_bounds, _one_cycle_marks),
    "one_cycle_linear_three_phase": Domain(_one_cycle, _one_cycle_bounds, _one_cycle_marks),
    **{name: Domain(_one_cycle_momentum,
                    lambda kw: span(kw["base_momentum"], kw["max_momentum"]), _one_cycle_marks)
       for name in ("one_cycle_momentum", "one_cycle_momentum_linear_three_phase")},
    "warmup_stable_decay": Domain(_wsd, _wsd_bounds, _wsd_marks),
    "warmup_stable_decay_cosine": Domain(_wsd, _wsd_bounds, _wsd_marks),
    "warmup_stable_decay_1sqrt": Domain(_wsd, _wsd_bounds, _wsd_marks),
    "warmup_stable_decay_power": Domain(
        lambda rng: dict(_wsd(rng), decay_power=_decay_power(rng)), _wsd_bounds, _wsd_marks),
    "warmup_stable_decay_exp": Domain(
        lambda rng: dict(_wsd(rng), decay_ratio=_decay_ratio(rng)), _wsd_bounds, _wsd_marks),
    "warmup_stable_cooldown": Domain(_cooldown, _wsd_bounds, _cooldown_marks),
    "linear_decay_to_zero": Domain(_d2z, lambda kw: span(0.0, kw["peak_value"]),
                                   lambda kw: [kw["warmup_steps"], kw["total_steps"]]),
    "tanh_decay": Domain(_tanh, lambda kw: span(kw["init_value"], kw["end_value"]),
                         lambda kw: [kw["decay_steps"]]),
    "power_law": Domain(_power_law, lambda kw: span(0.0, kw["max_value"]),
                        lambda kw: _power_law_kink(**kw)),
    "power_scheduler": Domain(
        _power_scheduler, lambda kw: span(0.0, kw["peak_value"], kw.get("end_value", 0.0)),
        _power_scheduler_marks),
    "cyclic_momentum": Domain(
        _cyclic_momentum, lambda kw: span(kw["base_momentum"], kw["max_momentum"]),
        lambda kw: [kw["step_size_up"], _cyclic_period(kw)], _cyclic_period,
        steps_between=lambda kw: [_cyclic_period(kw)],
        offsets=lambda kw: [0.0, kw['step_size_up']]),
    **{f"warmup_{mode}_{'prefix' if prefix else 'absolute'}": Domain(
        _warmup(mode), _warmup_bounds,
        (lambda prefix: lambda kw: [kw["warmup_steps"],
                                    *_inner_marks(kw["warmup_steps"] if prefix else 0.0)])(prefix))
       for mode in ("linear", "constant", "exponential", "cosine") for prefix in (True, False)},
    "warmup_peak_value": Domain(
        lambda rng: dict(peak_value=value(rng), warmup_steps=steps(rng, 0.1)),
        lambda kw: span(0.0, 0.1, 1.0, kw["peak_value"]),
        lambda kw: [kw["warmup_steps"], 100]),
    "join": Domain(
        lambda rng: dict(boundaries=sorted_steps(rng, 2), v=value(rng)),
        lambda kw: span(kw["v"], 0.1, 1.0),
        lambda kw: [*kw["boundaries"], kw["boundaries"][0] + 10, kw["boundaries"][1] + 100]),
    "cycle": Domain(
        lambda rng: dict(period=steps(rng), v=value(rng)), lambda kw: (0.0, kw["v"]),
        lambda kw: [10, kw["period"], 2 * kw["period"]], lambda kw: kw["period"]),
    "restarts": Domain(
        lambda rng: dict(period=steps(rng), period_mul=_restarts_draw(rng),
                         value_mul=rate(rng, 0.0, 1.0)),
        lambda kw: (0.0, 1.0),
        lambda kw: _restart_marks(kw["period"], kw["period_mul"]),
        lambda kw: kw["period"] if kw["period_mul"] == 1.0 else None,
        restarts=lambda kw: (kw['period'], kw['period_mul'])),
    "shift": Domain(
        lambda rng: dict(steps=steps(rng) * (-1 if rng.random() < 0.2 else 1), v=value(rng)),
        lambda kw: (0.0, kw["v"]), lambda kw: [kw["steps"], kw["steps"] + 10]),
    "scale": Domain(
        lambda rng: dict(factor=float(rng.uniform(-2.0, 10.0))),
        lambda kw: span(kw["factor"], 0.1 * kw["factor"]), lambda kw: [100]),
    "multiply": Domain(
        lambda rng: dict(v=value(rng, 0.1), w=value(rng, 0.2)),
        lambda kw: (0.1 * kw["v"] * min(kw["w"], 1.0), kw["v"] * max(kw["w"], 1.0)),
        lambda kw: [10, 100]),
    "add": Domain(
        lambda rng: dict(v=value(rng, 0.2), w=value(rng, 0.1)),
        lambda kw: (kw["v"] + 0.1 * kw["w"], kw["v"] + kw["w"]), lambda kw: [100]),
    "clip": Domain(
        lambda rng: dict(zip(("min_value", "max_value"), sorted([value(rng, 0.2), value(rng)]))),
        lambda kw: (kw["min_value"], kw["max_value"]), lambda kw: [100]),
    "staircase": Domain(
        lambda rng: dict(step_size=steps(rng)), lambda kw: (0.0, 1.0),
        lambda kw: [kw["step_size"], 2 * kw["step_size"], 100],
        steps_between=lambda kw: [kw['step_size']]),
    "per_epoch": Domain(
        lambda rng: dict(steps_per_epoch=steps(rng), rate=rate(rng, 0.0, 1.0, above=0.1)),
        lambda kw: growth_bounds(1.0, kw["rate"]),
        lambda kw: [k * kw["steps_per_epoch"] for k in (1, 2, 3)],
        steps_between=lambda kw: [kw['steps_per_epoch']]),
}
