"""Equivalence with timm's real schedulers (``timm.scheduler``), step for step.

Each test builds timm's own scheduler on a ``torch.optim.SGD`` optimizer and
drives it through its public API, the way timm's ``train.py`` does: with
``t_in_epochs=True`` it calls ``scheduler.step(t)`` (once per epoch), with
``t_in_epochs=False`` ``scheduler.step_update(t)`` (once per update); after
each call ``optimizer.param_groups[0]["lr"]`` is what timm gives for ``t``.
The other method must leave the lr alone (timm's ``t_in_epochs`` switch), and
the lr set by the constructor must be timm's value at ``t = 0``, the lr the
first epoch or update runs with. jaxlr's step is timm's ``t`` (epochs or
updates, whichever timm is stepped with), so ``ours(t)`` is compared with that
lr on a dense grid covering the warmup, every cycle and well past the horizon,
through ``equivalence.assert_matches("timm (real)", ...)`` (rtol 1e-6, atol
1e-12) in float64 (the ``x64`` fixture): timm computes in Python floats.

Each jaxlr expression is the one in README's timm table. The jaxlr side is
evaluated eagerly on a vector of steps, like ``tests/test_reference.py`` (which
checks the same rows against transcriptions of timm's source).

Importing: ``import timm`` runs ``timm/__init__.py``, which imports timm's
models and layers and through them torchvision. PyPI's torchvision is a CUDA
build whose extension does not load beside the CPU build of torch this project
pins (``RuntimeError: operator torchvision::nms does not exist``), so a plain
``import timm.scheduler`` fails here although ``timm.scheduler`` itself needs
only torch. The installed ``timm`` package is therefore registered without
running its ``__init__`` and ``timm.scheduler`` is imported from it: the code
under test is timm's own scheduler code, unmodified.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import math
import sys
import warnings

import jax
import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jaxlr  # noqa: E402
from equivalence import assert_matches, evaluate  # noqa: E402


def _import_timm_scheduler():
    """``timm.scheduler`` from the installed timm, without ``timm/__init__.py``."""
    if "timm.scheduler" in sys.modules:
        return sys.modules["timm.scheduler"]
    spec = importlib.util.find_spec("timm")
    if spec is None or spec.submodule_search_locations is None:
        pytest.skip("timm is not installed (pip install -e '.[dev]')", allow_module_level=True)
    stub = importlib.util.module_from_spec(spec)  # the package, its __init__ not run
    previous = sys.modules.get("timm")
    sys.modules["timm"] = stub
    try:
        return importlib.import_module("timm.scheduler")
    finally:
        if previous is None:
            del sys.modules["timm"]
        else:
            sys.modules["timm"] = previous


timm_scheduler = _import_timm_scheduler()
TIMM_VERSION = importlib.metadata.version("timm")
LIBRARY = "timm (real)"


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _optimizer(base_lr):
    param = torch.nn.Parameter(torch.zeros(1))
    param.grad = torch.ones(1)
    return torch.optim.SGD([param], lr=base_lr, momentum=0.9)


def timm_lrs(make_scheduler, n, base_lr, t_in_epochs=True):
    """timm's lr for ``t = 0 .. n-1``, and the lr its constructor set.

    ``make_scheduler(optimizer, t_in_epochs)`` builds the scheduler. Entry
    ``t`` is ``param_groups[0]["lr"]`` after ``step(t)`` (``t_in_epochs``) or
    ``step_update(t)``; the other method is called first and must not move it.
    """
    optimizer = _optimizer(base_lr)
    group = optimizer.param_groups[0]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make_scheduler(optimizer, t_in_epochs)
    initial = float(group["lr"])
    own, other = ((scheduler.step, scheduler.step_update) if t_in_epochs
                  else (scheduler.step_update, scheduler.step))
    lrs = []
    for t in range(n):
        before = group["lr"]
        other(t)
        assert group["lr"] == before, f"t_in_epochs={t_in_epochs}: the other step method moved the lr"
        own(t)
        lrs.append(float(group["lr"]))
    return initial, np.asarray(lrs, dtype=np.float64)


def check(schedule, make_scheduler, n, base_lr, t_in_epochs, label, initial_is_t0=True):
    """jaxlr ``schedule`` against timm's lrs for ``t < n``.

    ``initial_is_t0``: the constructor's lr equals timm's lr at ``t = 0`` (false
    only for timm's MultiStep with a milestone <= 1 and no warmup: its
    constructor sets the base lr, ``step(0)`` the decayed one).
    """
    initial, ref = timm_lrs(make_scheduler, n, base_lr, t_in_epochs)
    label = f"timm {TIMM_VERSION} {label}, t_in_epochs={t_in_epochs}"
    if initial_is_t0:
        assert math.isclose(initial, ref[0], rel_tol=1e-12), (label, initial, ref[0])
    assert_matches(LIBRARY, evaluate(schedule, n), ref, label)
    return initial


def _id(*parts):
    return "-".join(str(p) for p in parts)


def _warmup_id(w):
    return "nowarmup" if w is None else _id("W", *w)


def timm_warmup(schedule, warmup, base_lr):
    """README's timm warmup row: timm's ramp goes from ``warmup_lr_init`` to the
    base lr in both modes; ``warmup_prefix=True`` starts the schedule after it,
    ``False`` runs it on absolute steps."""
    if warmup is None:
        return schedule
    steps, init, prefix = warmup
    return jaxlr.warmup(schedule, steps, init_value=init, prefix=prefix, peak_value=base_lr)


def warmup_kwargs(warmup):
    if warmup is None:
        return {}
    steps, init, prefix = warmup
    return {"warmup_t": steps, "warmup_lr_init": init, "warmup_prefix": prefix}


def warmup_steps(warmup):
    return 0 if warmup is None else warmup[0]


def cycle_end(t_initial, cycle_mul, cycles):
    """``S_L``: the end of timm's cycle ``L`` (cycle ``i`` lasts ``t_initial * cycle_mul**i``)."""
    return sum(t_initial * cycle_mul**i for i in range(cycles))


# (warmup_t, warmup_lr_init, warmup_prefix)
WARMUPS = [None, (5, 0.0, True), (7, 2.3e-5, False), (13, 1e-4, True), (3, 0.0, False)]
T_IN_EPOCHS = pytest.mark.parametrize("t_in_epochs", [True, False], ids=["epochs", "updates"])


# ---------------------------------------------------------------------------
# CosineLRScheduler
# ---------------------------------------------------------------------------


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", WARMUPS, ids=_warmup_id)
@pytest.mark.parametrize("base_lr,t_initial,lr_min", [
    (0.1, 100, 0.0), (0.037, 37, 3.7e-4), (1.0, 10, 1e-5), (0.05, 1, 0.0)])
def test_cosine_single_cycle(x64, base_lr, t_initial, lr_min, warmup, t_in_epochs):
    """``CosineLRScheduler(t_initial, lr_min)`` (``cycle_limit=1``) ==
    ``cosine(v, T, lr_min)`` in timm's warmup."""
    n = 3 * (t_initial + warmup_steps(warmup)) + 20
    schedule = timm_warmup(jaxlr.cosine(base_lr, t_initial, end_value=lr_min), warmup, base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.CosineLRScheduler(opt, t_initial=t_initial, lr_min=lr_min,
                                                t_in_epochs=t_in_epochs, **warmup_kwargs(warmup))

    check(schedule, make, n, base_lr, t_in_epochs,
          f"CosineLRScheduler{(base_lr, t_initial, lr_min, warmup)}")


COSINE_CYCLES = [  # (base_lr, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit)
    (0.1, 20, 1.0, 1.0, 1e-3, 3),
    (0.1, 20, 1.0, 0.5, 0.0, 4),
    (0.1, 10, 2.0, 1.0, 0.0, 4),
    (0.1, 10, 2.0, 0.8, 0.0, 3),
    (0.037, 37, 1.37, 0.73, 0.0, 3),
    (0.2, 13, 1.5, 1.0, 2.3e-4, 5),
    (0.1, 8, 1.5, 0.9, 0.0, None),    # cycle_limit 10**6: no end within the grid
    (0.1, 25, 1.0, 0.6, 0.0, None),
    (0.3, 9, 1.0, 1.0, 1e-3, None),
    (0.1, 30, 1.0, 0.5, 0.0, 1),
]


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (7, 0.0, False)], ids=_warmup_id)
@pytest.mark.parametrize("base_lr,t_initial,cycle_mul,cycle_decay,lr_min,cycle_limit",
                         COSINE_CYCLES, ids=[_id(*c) for c in COSINE_CYCLES])
def test_cosine_cycles(x64, base_lr, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit,
                       warmup, t_in_epochs):
    """``CosineLRScheduler(T, lr_min, cycle_mul=m, cycle_decay=g, cycle_limit=L)``
    with ``lr_min == 0`` or ``g == 1`` == ``join([restarts(cosine(v, T, lr_min), T,
    m, g), constant(lr_min)], [S_L])`` (no join for an unbounded ``L``), in
    timm's warmup."""
    shape = jaxlr.restarts(jaxlr.cosine(base_lr, t_initial, end_value=lr_min), t_initial,
                           cycle_mul, cycle_decay)
    if cycle_limit is None:
        limit, n = 10**6, 300
    else:
        limit = cycle_limit
        horizon = cycle_end(t_initial, cycle_mul, cycle_limit)
        shape = jaxlr.join([shape, jaxlr.constant(lr_min)], [horizon])
        n = int(horizon) + 2 * t_initial + warmup_steps(warmup) + 20
    schedule = timm_warmup(shape, warmup, base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.CosineLRScheduler(
            opt, t_initial=t_initial, lr_min=lr_min, cycle_mul=cycle_mul,
            cycle_decay=cycle_decay, cycle_limit=limit, t_in_epochs=t_in_epochs,
            **warmup_kwargs(warmup))

    check(schedule, make, n, base_lr, t_in_epochs,
          f"CosineLRScheduler cycles{(base_lr, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit, warmup)}")


COSINE_CYCLES_GENERAL = [  # lr_min > 0 and cycle_decay != 1: (base_lr, T, m, g, lr_min, L)
    (0.1, 20, 1.0, 0.5, 1e-3, 3), (0.1, 10, 2.0, 0.8, 1e-3, 4), (0.037, 17, 1.37, 0.73, 3.7e-3, 3),
]


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (7, 0.0, False)], ids=_warmup_id)
@pytest.mark.parametrize("base_lr,t_initial,cycle_mul,cycle_decay,lr_min,cycle_limit",
                         COSINE_CYCLES_GENERAL, ids=[_id(*c) for c in COSINE_CYCLES_GENERAL])
def test_cosine_cycles_any_floor(x64, base_lr, t_initial, cycle_mul, cycle_decay, lr_min,
                                 cycle_limit, warmup, t_in_epochs):
    """Any ``lr_min``/``cycle_decay``, finite ``cycle_limit`` L (timm decays only
    the part above the floor): ``join([cosine(v g^i, T m^i, lr_min) for i < L] +
    [constant(lr_min)], [S_1, ..., S_L])``, in timm's warmup."""
    pieces = [jaxlr.cosine(base_lr * cycle_decay**i, t_initial * cycle_mul**i, end_value=lr_min)
              for i in range(cycle_limit)]
    starts = [cycle_end(t_initial, cycle_mul, i + 1) for i in range(cycle_limit)]
    schedule = timm_warmup(jaxlr.join(pieces + [jaxlr.constant(lr_min)], starts), warmup, base_lr)
    n = int(starts[-1]) + 2 * t_initial + warmup_steps(warmup) + 20

    def make(opt, t_in_epochs):
        return timm_scheduler.CosineLRScheduler(
            opt, t_initial=t_initial, lr_min=lr_min, cycle_mul=cycle_mul,
            cycle_decay=cycle_decay, cycle_limit=cycle_limit, t_in_epochs=t_in_epochs,
            **warmup_kwargs(warmup))

    check(schedule, make, n, base_lr, t_in_epochs,
          f"CosineLRScheduler any floor{(base_lr, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit, warmup)}")


# ---------------------------------------------------------------------------
# StepLRScheduler, MultiStepLRScheduler
# ---------------------------------------------------------------------------


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", WARMUPS, ids=_warmup_id)
@pytest.mark.parametrize("base_lr,decay_t,decay_rate", [
    (0.1, 10, 0.5), (0.1, 30, 0.1), (0.037, 7, 0.37), (0.1, 1, 0.97), (0.1, 2.5, 0.5)])
def test_step(x64, base_lr, decay_t, decay_rate, warmup, t_in_epochs):
    """``StepLRScheduler(decay_t, decay_rate)`` == ``exponential(v, r, d,
    staircase=True)`` in timm's warmup (timm's default here is
    ``warmup_prefix=True``)."""
    n = int(6 * decay_t) + warmup_steps(warmup) + 40
    schedule = timm_warmup(jaxlr.exponential(base_lr, decay_rate, decay_t, staircase=True),
                           warmup, base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.StepLRScheduler(opt, decay_t=decay_t, decay_rate=decay_rate,
                                              t_in_epochs=t_in_epochs, **warmup_kwargs(warmup))

    check(schedule, make, n, base_lr, t_in_epochs,
          f"StepLRScheduler{(base_lr, decay_t, decay_rate, warmup)}")


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (7, 0.0, False)], ids=_warmup_id)
@pytest.mark.parametrize("decay_rate", [0.1, 0.37])
@pytest.mark.parametrize("decay_t", [
    [30, 60], [10, 20, 25], [7, 7, 19],   # repeated: decay_rate**2 at once
    [1, 13], [2], [3, 4, 5]], ids=lambda ms: _id("ms", *ms))
def test_multistep(x64, decay_t, decay_rate, warmup, t_in_epochs):
    """``MultiStepLRScheduler(decay_t, decay_rate)`` == ``multistep(v, [m - 1 for m
    in ms], r)`` in timm's warmup: timm counts the milestones ``<= t + 1``
    (``bisect_right(decay_t, t + 1)``), so milestone ``m`` applies from ``t = m - 1``,
    one step before PyTorch's ``MultiStepLR``."""
    base_lr = 0.1
    n = 3 * max(decay_t) + warmup_steps(warmup) + 20
    schedule = timm_warmup(jaxlr.multistep(base_lr, [m - 1 for m in decay_t], decay_rate),
                           warmup, base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.MultiStepLRScheduler(opt, decay_t=decay_t, decay_rate=decay_rate,
                                                   t_in_epochs=t_in_epochs,
                                                   **warmup_kwargs(warmup))

    # timm's constructor sets the base lr, not its value at t = 0, which a
    # milestone <= 1 has already decayed.
    initial_is_t0 = warmup is not None or min(decay_t) > 1
    initial = check(schedule, make, n, base_lr, t_in_epochs,
                    f"MultiStepLRScheduler{(decay_t, decay_rate, warmup)}", initial_is_t0)
    if not initial_is_t0:
        assert initial == base_lr, initial


def test_multistep_decays_one_step_before_milestone():
    """The convention the README row encodes, pinned on timm itself: with
    ``decay_t=[10]`` the lr is decayed at ``t = 9``, not at ``t = 8``."""
    _, lrs = timm_lrs(lambda opt, e: timm_scheduler.MultiStepLRScheduler(
        opt, decay_t=[10], decay_rate=0.5, t_in_epochs=e), 12, 0.1)
    assert lrs[8] == 0.1 and lrs[9] == 0.05 and lrs[10] == 0.05, lrs


# ---------------------------------------------------------------------------
# PolyLRScheduler
# ---------------------------------------------------------------------------


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", WARMUPS, ids=_warmup_id)
@pytest.mark.parametrize("base_lr,t_initial,power,lr_min", [
    (0.1, 100, 0.5, 0.0), (0.037, 37, 1.7, 3.7e-4), (0.1, 50, 1.0, 0.0), (1.0, 20, 2.5, 1e-3),
    (0.1, 64, 0.9, 1e-5)])
def test_poly_single_cycle(x64, base_lr, t_initial, power, lr_min, warmup, t_in_epochs):
    """``PolyLRScheduler(t_initial, power, lr_min)`` (``cycle_limit=1``) ==
    ``polynomial(v, lr_min, T, p)`` in timm's warmup."""
    n = 3 * (t_initial + warmup_steps(warmup)) + 20
    schedule = timm_warmup(jaxlr.polynomial(base_lr, lr_min, t_initial, power=power), warmup,
                           base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.PolyLRScheduler(opt, t_initial=t_initial, power=power,
                                              lr_min=lr_min, t_in_epochs=t_in_epochs,
                                              **warmup_kwargs(warmup))

    check(schedule, make, n, base_lr, t_in_epochs,
          f"PolyLRScheduler{(base_lr, t_initial, power, lr_min, warmup)}")


POLY_CYCLES = [  # (t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit)
    (20, 0.5, 0.0, 1.0, 0.5, 4), (20, 2.0, 1e-3, 1.0, 1.0, None), (10, 1.0, 0.0, 2.0, 0.8, 4),
    (13, 1.7, 0.0, 1.37, 0.73, 3),
]


@T_IN_EPOCHS
@pytest.mark.parametrize("t_initial,power,lr_min,cycle_mul,cycle_decay,cycle_limit",
                         POLY_CYCLES, ids=[_id(*c) for c in POLY_CYCLES])
def test_poly_cycles(x64, t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit,
                     t_in_epochs):
    """``PolyLRScheduler`` cycles (``lr_min == 0`` or ``cycle_decay == 1``) ==
    ``join([restarts(polynomial(v, lr_min, T, p), T, m, g), constant(lr_min)], [S_L])``,
    the cosine row with ``polynomial`` as the cycle's shape."""
    base_lr = 0.1
    shape = jaxlr.restarts(jaxlr.polynomial(base_lr, lr_min, t_initial, power=power), t_initial,
                           cycle_mul, cycle_decay)
    if cycle_limit is None:
        limit, n = 10**6, 300
    else:
        limit = cycle_limit
        horizon = cycle_end(t_initial, cycle_mul, cycle_limit)
        shape = jaxlr.join([shape, jaxlr.constant(lr_min)], [horizon])
        n = int(horizon) + 2 * t_initial + 20

    def make(opt, t_in_epochs):
        return timm_scheduler.PolyLRScheduler(
            opt, t_initial=t_initial, power=power, lr_min=lr_min, cycle_mul=cycle_mul,
            cycle_decay=cycle_decay, cycle_limit=limit, t_in_epochs=t_in_epochs)

    check(shape, make, n, base_lr, t_in_epochs,
          f"PolyLRScheduler cycles{(t_initial, power, lr_min, cycle_mul, cycle_decay, cycle_limit)}")


# ---------------------------------------------------------------------------
# WSDLRScheduler (timm >= 1.0.2x)
# ---------------------------------------------------------------------------


@pytest.mark.skipif(not hasattr(timm_scheduler, "WSDLRScheduler"),
                    reason="this timm has no WSDLRScheduler")
@T_IN_EPOCHS
@pytest.mark.parametrize("warmup_t,warmup_lr_init", [(0, 0.0), (10, 1e-4), (7, 2.3e-5)])
@pytest.mark.parametrize("decay_fn", ["linear", "cosine", "1-sqrt"])
@pytest.mark.parametrize("base_lr,t_initial,decay_t,lr_min", [
    (0.1, 80, 30, 0.0), (0.1, 80, 30, 1e-3), (0.037, 37, 37, 3.7e-4), (0.1, 50, 1, 0.0),
    (1.0, 41, 13, 2e-3)])
def test_wsd(x64, base_lr, t_initial, decay_t, lr_min, decay_fn, warmup_t, warmup_lr_init,
             t_in_epochs):
    """``WSDLRScheduler(T, d, lr_min, decay_fn, warmup_t=W, warmup_lr_init=i)``
    (stable_fn ``constant``; the warmup is always a prefix and ``T`` counts stable
    + decay) == ``warmup_stable_decay(v, W, T - d, d, lr_min, decay_fn,
    init_value=i)``."""
    n = 3 * (t_initial + warmup_t) + 20
    schedule = jaxlr.warmup_stable_decay(base_lr, warmup_t, t_initial - decay_t, decay_t,
                                         end_value=lr_min, decay=decay_fn,
                                         init_value=warmup_lr_init)

    def make(opt, t_in_epochs):
        return timm_scheduler.WSDLRScheduler(
            opt, t_initial=t_initial, decay_t=decay_t, lr_min=lr_min, decay_fn=decay_fn,
            warmup_t=warmup_t, warmup_lr_init=warmup_lr_init, t_in_epochs=t_in_epochs)

    check(schedule, make, n, base_lr, t_in_epochs,
          f"WSDLRScheduler{(base_lr, t_initial, decay_t, lr_min, decay_fn, warmup_t, warmup_lr_init)}")



# ---------------------------------------------------------------------------
# Cycles with any floor and cycle decay (Cosine, Poly, Tanh), over random settings
# ---------------------------------------------------------------------------


def timm_cycles(shape, base_lr, t_initial, cycle_mul, cycle_decay, lr_min, cycle_limit):
    """README's timm cycles row for any ``lr_min`` and ``cycle_decay``.

    timm's cycle ``i`` runs from the decayed peak ``v g^i`` to the undecayed floor
    ``lr_min``: ``lr_min + (v g^i - lr_min) h(tau)`` is ``v g^i h + lr_min (1 - h)``,
    a sum of two restarts of the cycle's shape ``h``::

        add(restarts(shape(v, T, 0), T, m, g), restarts(shape(0, T, lr_min), T, m))

    then ``lr_min`` from the end ``S_L`` of cycle ``L`` on
    (``join([..., constant(lr_min)], [S_L])``; no join for an unbounded ``L``).
    ``shape(v0, T, v1)`` is the cycle from ``v0`` to ``v1``: ``cosine(v0, T, v1)``,
    ``polynomial(v0, v1, T, p)`` or ``tanh_decay(v0, T, v1, lb, ub)``.
    """
    schedule = jaxlr.add(
        jaxlr.restarts(shape(base_lr, t_initial, 0.0), t_initial, cycle_mul, cycle_decay),
        jaxlr.restarts(shape(0.0, t_initial, lr_min), t_initial, cycle_mul))
    if cycle_limit is None:
        return schedule
    return jaxlr.join([schedule, jaxlr.constant(lr_min)],
                      [cycle_end(t_initial, cycle_mul, cycle_limit)])


CYCLE_KINDS = {
    # kind: (timm class, its own keyword arguments from a draw, the cycle shape)
    "cosine": (lambda: timm_scheduler.CosineLRScheduler, lambda kw: {},
               lambda kw: lambda v0, t, v1: jaxlr.cosine(v0, t, v1)),
    "poly": (lambda: timm_scheduler.PolyLRScheduler, lambda kw: {"power": kw["power"]},
             lambda kw: lambda v0, t, v1: jaxlr.polynomial(v0, v1, t, kw["power"])),
    "tanh": (lambda: timm_scheduler.TanhLRScheduler, lambda kw: {"lb": kw["lb"], "ub": kw["ub"]},
             lambda kw: lambda v0, t, v1: jaxlr.tanh_decay(v0, t, v1, kw["lb"], kw["ub"])),
}
CYCLE_DRAWS = 16  # per kind


def _cycle_draws(kind, count):
    """timm cycle settings at random: integer and fractional ``t_initial``, ``cycle_mul``
    1, 2 or any value in ``(1, 3)`` (integer ``cycle_mul >= 3`` is
    ``test_timm_cycle_start_rounding``), ``cycle_decay`` 1, below or above 1, ``lr_min`` 0
    or up to above the base lr, ``cycle_limit`` 0 to 6 or unbounded, no warmup or either
    warmup mode, epochs or updates."""
    rng = np.random.default_rng([ord(c) for c in f"timm cycles {kind}"])
    draws = []
    for _ in range(count):
        u = rng.random()
        cycle_mul = 1.0 if u < 0.3 else 2.0 if u < 0.45 else float(rng.uniform(1.0, 3.0))
        u = rng.random()
        cycle_decay = 1.0 if u < 0.15 else float(rng.uniform(1.0, 1.5)) if u < 0.25 else float(
            rng.uniform(0.05, 1.0))
        base_lr = float(10 ** rng.uniform(-4, 0))
        u = rng.random()
        lr_min = 0.0 if u < 0.2 else base_lr * float(10 ** rng.uniform(-4, 0.3))
        t_initial = (int(rng.integers(1, 60)) if rng.random() < 0.8
                     else float(rng.uniform(0.5, 40.0)))
        limit = None if rng.random() < 0.35 else int(rng.integers(0, 7))
        u = rng.random()
        warmup = (None if u < 0.3 else
                  (int(rng.integers(1, 25)), base_lr * float(rng.choice([0.0, 10 ** rng.uniform(-3, 0)])),
                   bool(u < 0.65)))
        lb = float(rng.uniform(-10.0, 1.0))
        draws.append(dict(base_lr=base_lr, t_initial=t_initial, cycle_mul=cycle_mul,
                          cycle_decay=cycle_decay, lr_min=lr_min, cycle_limit=limit,
                          warmup=warmup, t_in_epochs=bool(rng.random() < 0.5),
                          power=float(10 ** rng.uniform(-1, 0.6)),
                          lb=lb, ub=lb + float(10 ** rng.uniform(-1, 1.1))))
    return draws


@T_IN_EPOCHS
@pytest.mark.parametrize("warmup", [None, (5, 1e-4, True), (7, 0.0, False)], ids=_warmup_id)
@pytest.mark.parametrize("base_lr,t_initial,lr_min,lb,ub", [
    (0.1, 100, 0.0, -7.0, 3.0), (0.037, 37, 3.7e-4, -6.0, 4.0), (1.0, 10, 1e-5, -2.0, 2.0)])
def test_tanh_single_cycle(x64, base_lr, t_initial, lr_min, lb, ub, warmup, t_in_epochs):
    """``TanhLRScheduler(T, lb, ub, lr_min)`` (``cycle_limit=1``) ==
    ``join([tanh_decay(v, T, lr_min, lb, ub), constant(lr_min)], [T])`` in timm's warmup
    (``warmup_prefix=False`` ramps to the schedule's value at ``W``: ``prefix=False``
    without ``peak_value``). Without warmup timm's constructor sets the base lr, above
    the lr of ``t = 0``."""
    n = 3 * (t_initial + warmup_steps(warmup)) + 20
    schedule = jaxlr.join([jaxlr.tanh_decay(base_lr, t_initial, lr_min, lb, ub),
                           jaxlr.constant(lr_min)], [t_initial])
    if warmup is not None and not warmup[2]:
        schedule = jaxlr.warmup(schedule, warmup[0], init_value=warmup[1], prefix=False)
    else:
        schedule = timm_warmup(schedule, warmup, base_lr)

    def make(opt, t_in_epochs):
        return timm_scheduler.TanhLRScheduler(opt, t_initial=t_initial, lb=lb, ub=ub,
                                              lr_min=lr_min, t_in_epochs=t_in_epochs,
                                              **warmup_kwargs(warmup))

    initial = check(schedule, make, n, base_lr, t_in_epochs,
                    f"TanhLRScheduler{(base_lr, t_initial, lr_min, lb, ub, warmup)}",
                    initial_is_t0=warmup is not None)
    assert warmup is not None or initial == base_lr


@pytest.mark.parametrize("kind", list(CYCLE_KINDS))
def test_cycles_any_floor_random(x64, kind):
    """timm ``CosineLRScheduler`` / ``PolyLRScheduler`` / ``TanhLRScheduler`` cycles with
    any ``lr_min``, ``cycle_decay``, ``cycle_mul`` and ``cycle_limit`` (bounded or not),
    in either warmup mode == ``timm_cycles`` (README's row) in timm's warmup. timm's
    tanh warmup with ``warmup_prefix=False`` ramps to its schedule at ``warmup_t``
    (``self._get_lr(self.warmup_t)``), not to the base lr: ``warmup(s, W, i,
    prefix=False)``, jaxlr's default target."""
    cls, own_kwargs, shape = CYCLE_KINDS[kind]
    for kw in _cycle_draws(kind, CYCLE_DRAWS):
        base_lr, t_initial, warmup = kw["base_lr"], kw["t_initial"], kw["warmup"]
        schedule = timm_cycles(shape(kw), base_lr, t_initial, kw["cycle_mul"],
                               kw["cycle_decay"], kw["lr_min"], kw["cycle_limit"])
        if kind == "tanh" and warmup is not None and not warmup[2]:
            schedule = jaxlr.warmup(schedule, warmup[0], init_value=warmup[1], prefix=False)
        else:
            schedule = timm_warmup(schedule, warmup, base_lr)
        limit = 10**6 if kw["cycle_limit"] is None else kw["cycle_limit"]
        end = cycle_end(t_initial, kw["cycle_mul"], min(limit, 12))
        n = int(min(end, 360) + 2 * t_initial + warmup_steps(warmup) + 20)

        def make(opt, t_in_epochs, kw=kw, limit=limit):
            return cls()(opt, t_initial=kw["t_initial"], lr_min=kw["lr_min"],
                         cycle_mul=kw["cycle_mul"], cycle_decay=kw["cycle_decay"],
                         cycle_limit=limit, t_in_epochs=t_in_epochs,
                         **warmup_kwargs(kw["warmup"]), **own_kwargs(kw))

        # without warmup timm's constructor sets the base lr, which is the lr at t = 0
        # unless the tanh shape starts below it ((1 - tanh(lb)) / 2 < 1) or no cycle runs
        initial_is_t0 = warmup is not None or (kind != "tanh" and limit > 0)
        initial = check(schedule, make, n, base_lr, kw["t_in_epochs"],
                        f"{cls().__name__} {kw}", initial_is_t0)
        if not initial_is_t0:
            assert initial == base_lr, initial


def test_timm_cycle_start_rounding():
    """A difference kept on purpose: timm finds the cycle of ``t`` as
    ``floor(log(1 - t/T (1 - m), m))``, which rounds below an exact cycle start for some
    integer ``m``: with ``T = 2, m = 3`` cycle 5 starts at ``t = 242`` (``1 + 242/2 * 2 =
    243 = 3**5``, ``math.log(243, 3) = 4.999...``), and timm gives the end of cycle 4
    (``lr_min``) there, one step late. jaxlr restarts at every exact cycle start."""
    kwargs = dict(t_initial=2, lr_min=1e-3, cycle_mul=3.0, cycle_limit=10**6)
    _, lrs = timm_lrs(lambda opt, e: timm_scheduler.CosineLRScheduler(opt, t_in_epochs=e,
                                                                      **kwargs), 250, 0.1)
    assert math.log(243, 3) < 5
    assert lrs[242] == pytest.approx(1e-3) and lrs[80] == pytest.approx(0.1)  # 80 = S_4
    with jax.enable_x64(True):
        ours = evaluate(timm_cycles(lambda v0, t, v1: jaxlr.cosine(v0, t, v1), 0.1, 2, 3.0, 1.0,
                                    1e-3, None), 250)
    assert ours[242] == pytest.approx(0.1)
    mask = np.arange(250) != 242
    assert_matches(LIBRARY, ours[mask], lrs[mask], "CosineLRScheduler T=2, m=3 off the start")


# ---------------------------------------------------------------------------
# WSDLRScheduler: every decay_fn and stable_fn, over random settings
# ---------------------------------------------------------------------------

WSD_DRAWS = 24


def timm_wsd(base_lr, t_initial, decay_t, lr_min, decay_fn, decay_power, decay_ratio,
             warmup_t, warmup_lr_init, stable_fn="constant", stable_timescale=None,
             stable_power=0.5):
    """README's timm WSD rows. ``stable_fn='constant'``: ``warmup_stable_decay(v, W, T - d,
    d, lr_min, decay_fn, init_value=i, decay_power=k, decay_ratio=r)``. ``rsqrt``/``power``
    (``s(t) = v (1 + t/tau)^-p``, ``p = 1/2`` for ``rsqrt``, ``tau`` defaulting to ``W``):
    timm's ``lr_min + (max(s, lr_min) - lr_min) f`` is ``lr_min + max(s - lr_min, 0) f``::

        s = shift(power_law(v tau**p, -p, v), -tau)
        f = warmup_stable_decay(1, 0, T - d, d, 0, decay_fn, decay_power=k, decay_ratio=r)
        warmup(add(constant(lr_min), multiply(clip(add(s, constant(-lr_min)), 0), f)), W, i)
    """
    if stable_fn == "constant":
        return jaxlr.warmup_stable_decay(base_lr, warmup_t, t_initial - decay_t, decay_t,
                                         end_value=lr_min, decay=decay_fn,
                                         init_value=warmup_lr_init, decay_power=decay_power,
                                         decay_ratio=decay_ratio)
    tau = warmup_t if stable_timescale is None else stable_timescale
    p = 0.5 if stable_fn == "rsqrt" else stable_power
    stable = jaxlr.shift(jaxlr.power_law(base_lr * tau**p, -p, base_lr), -tau)
    factor = jaxlr.warmup_stable_decay(1.0, 0, t_initial - decay_t, decay_t, decay=decay_fn,
                                       decay_power=decay_power, decay_ratio=decay_ratio)
    above = jaxlr.clip(jaxlr.add(stable, jaxlr.constant(-lr_min)), min_value=0.0)
    return jaxlr.warmup(jaxlr.add(jaxlr.constant(lr_min), jaxlr.multiply(above, factor)),
                        warmup_t, init_value=warmup_lr_init)


@pytest.mark.skipif(not hasattr(timm_scheduler, "WSDLRScheduler"),
                    reason="this timm has no WSDLRScheduler")
def test_wsd_random(x64):
    """timm ``WSDLRScheduler`` with every ``decay_fn`` (``power``: ``decay_power``,
    ``exp``: ``decay_ratio``) and ``stable_fn``, random lengths, ``lr_min`` and warmup
    == ``timm_wsd`` (README's rows), epochs or updates."""
    rng = np.random.default_rng([ord(c) for c in "timm wsd"])
    for _ in range(WSD_DRAWS):
        base_lr = float(10 ** rng.uniform(-4, 0))
        t_initial = int(rng.integers(1, 200))
        decay_t = int(rng.integers(1, t_initial + 1))
        warmup_t = int(rng.integers(0, 30)) if rng.random() < 0.8 else 0
        stable_fn = str(rng.choice(["constant", "constant", "rsqrt", "power"]))
        timescale = None
        if stable_fn != "constant" and (warmup_t == 0 or rng.random() < 0.4):
            timescale = float(10 ** rng.uniform(-1, 2.5))
        kw = dict(
            t_initial=t_initial, decay_t=decay_t,
            lr_min=0.0 if rng.random() < 0.25 else base_lr * float(10 ** rng.uniform(-4, -0.1)),
            decay_fn=str(rng.choice(["linear", "cosine", "1-sqrt", "power", "exp"])),
            decay_power=float(10 ** rng.uniform(-1.5, 1)),
            decay_ratio=float(10 ** rng.uniform(-6, -0.001)),
            warmup_t=warmup_t, warmup_lr_init=base_lr * float(rng.choice([0.0, 0.01, 0.5])),
            stable_fn=stable_fn, stable_timescale=timescale,
            stable_power=float(rng.uniform(0.05, 2.0)))
        schedule = timm_wsd(base_lr, **kw)
        n = 3 * (t_initial + warmup_t) + 20

        def make(opt, t_in_epochs, kw=kw):
            return timm_scheduler.WSDLRScheduler(opt, t_in_epochs=t_in_epochs, **kw)

        check(schedule, make, n, base_lr, bool(rng.random() < 0.5),
              f"WSDLRScheduler{(base_lr, kw)}")
