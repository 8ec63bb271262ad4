"""Equivalence with PyTorch's ``torch.optim.lr_scheduler``, step for step.

For every scheduler, torch's own scheduler drives a real ``torch.optim.SGD``
(momentum 0.9) for ``n`` updates; the learning rate in
``optimizer.param_groups[0]["lr"]`` just before the ``(t+1)``-th
``optimizer.step()`` is what the matching jaxlr schedule must give at step
``t`` (jaxlr's ``step`` is the number of updates already applied). Torch's
schedulers compute in Python floats (float64), so every test runs under the
``x64`` fixture and builds its jaxlr schedule inside the test.

The jaxlr side is evaluated once per configuration, vectorised over a fixed
grid ``0 .. GRID - 1`` and cut to the ``n`` steps torch produced: one grid
shape for all tests means jax compiles each primitive once instead of once per
configuration.

ReduceLROnPlateau is compared decision for decision: torch's lr after each
``scheduler.step(metric)`` against ``state.value`` after each
``jaxlr.observe(state, metric)``; the same sequences are then replayed as a
``jax.lax.scan`` under ``jax.jit`` and under ``jax.vmap`` over configurations
and over metric sequences.

Every comparison goes through ``equivalence.assert_matches("torch", ...)``
(rtol 1e-6, atol 1e-12, tallied at the end of the run).
"""

from __future__ import annotations

import functools
import math
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
from torch.optim import lr_scheduler as tls  # noqa: E402

import jaxlr  # noqa: E402
from equivalence import assert_matches  # noqa: E402

GRID_SIZE = 512
BASE_LR = 0.1


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------


def _optimizer(base_lr):
    param = torch.nn.Parameter(torch.zeros(1))
    param.grad = torch.ones(1)
    return torch.optim.SGD([param], lr=base_lr, momentum=0.9)


def torch_lrs(make_scheduler, n, base_lr=BASE_LR):
    """The lr of each of torch's first ``n`` updates under ``make_scheduler(optimizer)``.

    Entry ``t`` is ``param_groups[0]["lr"]`` right before the ``(t+1)``-th
    ``optimizer.step()``; after it, ``scheduler.step()``.
    """
    optimizer = _optimizer(base_lr)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make_scheduler(optimizer)
        for _ in range(n):
            lrs.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            scheduler.step()
    return np.asarray(lrs, dtype=np.float64)


def ours_on_grid(schedule, n):
    """jaxlr's ``schedule`` at steps ``0 .. n-1`` from one vectorised call."""
    assert n <= GRID_SIZE, n
    values = np.asarray(schedule(np.arange(GRID_SIZE)))
    assert values.dtype == np.float64, values.dtype  # the x64 fixture is in effect
    return values[:n]


def check(schedule, reference, label):
    """``schedule`` (jaxlr) against torch's per-update lrs ``reference``."""
    assert_matches("torch", ours_on_grid(schedule, len(reference)), reference, label=label)


def torch_cosine_annealing(base_lr, t_max, eta_min):
    """CosineAnnealingLR for all t: the cosine continues back up after ``T_max``."""
    return jaxlr.cycle(
        jaxlr.join([jaxlr.cosine(base_lr, t_max, eta_min), jaxlr.cosine(eta_min, t_max, base_lr)],
                   [t_max]),
        2 * t_max)


# ---------------------------------------------------------------------------
# StepLR, MultiStepLR, ExponentialLR, MultiplicativeLR
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("step_size", [1, 3, 7, 25])
@pytest.mark.parametrize("gamma", [0.1, 0.5, 0.9])
def test_steplr(x64, step_size, gamma):
    """StepLR(step_size, gamma) == exponential(base, gamma, step_size, staircase=True)."""
    n = min(GRID_SIZE, max(60, 4 * step_size * 3))
    ref = torch_lrs(lambda opt: tls.StepLR(opt, step_size=step_size, gamma=gamma), n)
    ours = jaxlr.exponential(BASE_LR, gamma, step_size, staircase=True)
    check(ours, ref, f"StepLR(step_size={step_size}, gamma={gamma})")


@pytest.mark.parametrize("milestones", [
    [10, 20],
    [5, 30, 60],
    [7, 7, 30],            # repeated: gamma**2 at step 7
    [3, 3, 3, 12],         # repeated three times
    [40, 10, 25],          # unsorted
    [30, 5, 5, 18],        # unsorted and repeated
    [0, 4],                # a milestone at step 0 applies to the first update
    [1],
])
@pytest.mark.parametrize("gamma", [0.1, 0.5])
def test_multisteplr(x64, milestones, gamma):
    """MultiStepLR(milestones, gamma) == multistep(base, milestones, gamma)."""
    n = 3 * max(milestones) + 10
    ref = torch_lrs(lambda opt: tls.MultiStepLR(opt, milestones=milestones, gamma=gamma), n)
    check(jaxlr.multistep(BASE_LR, milestones, gamma), ref,
          f"MultiStepLR(milestones={milestones}, gamma={gamma})")


@pytest.mark.parametrize("gamma", [0.0, 0.5, 0.9, 0.97, 0.999, 1.0, 1.01])
def test_exponentiallr(x64, gamma):
    """ExponentialLR(gamma) == exponential(base, gamma, 1)."""
    n = 300
    ref = torch_lrs(lambda opt: tls.ExponentialLR(opt, gamma=gamma), n)
    check(jaxlr.exponential(BASE_LR, gamma, 1), ref, f"ExponentialLR(gamma={gamma})")


@pytest.mark.parametrize("gamma,every", [(0.95, 1), (0.5, 4), (0.8, 10)])
def test_multiplicativelr(x64, gamma, every):
    """MultiplicativeLR(lambda t: gamma every ``every`` steps, else 1)
    == exponential(base, gamma, every, staircase=True) (== exponential(base, gamma, 1) for every=1).
    """
    n = 120

    def lr_lambda(t):
        return gamma if t % every == 0 else 1.0

    ref = torch_lrs(lambda opt: tls.MultiplicativeLR(opt, lr_lambda=lr_lambda), n)
    check(jaxlr.exponential(BASE_LR, gamma, every, staircase=True), ref,
          f"MultiplicativeLR(gamma={gamma}, every={every})")
    if every == 1:
        check(jaxlr.exponential(BASE_LR, gamma, 1), ref, f"MultiplicativeLR(gamma={gamma})")


# ---------------------------------------------------------------------------
# LinearLR, ConstantLR, PolynomialLR
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("start_factor,end_factor,total_iters", [
    (1.0 / 3.0, 1.0, 5),   # torch's defaults
    (0.1, 1.0, 20),
    (0.01, 1.0, 100),
    (0.25, 0.75, 1),
    (1.0, 0.1, 20),        # decay
    (1.0, 0.0, 10),        # decay to zero
    (0.5, 0.25, 7),
    (0.9, 0.3, 33),
])
def test_linearlr(x64, start_factor, end_factor, total_iters):
    """LinearLR(start_factor, end_factor, total_iters)
    == linear(base * start_factor, base * end_factor, total_iters).
    """
    n = 3 * total_iters + 10
    ref = torch_lrs(lambda opt: tls.LinearLR(
        opt, start_factor=start_factor, end_factor=end_factor, total_iters=total_iters), n)
    ours = jaxlr.linear(BASE_LR * start_factor, BASE_LR * end_factor, total_iters)
    check(ours, ref, f"LinearLR({start_factor}, {end_factor}, {total_iters})")


@pytest.mark.parametrize("factor", [1.0 / 3.0, 0.5, 0.1, 0.9])
@pytest.mark.parametrize("total_iters", [1, 5, 20])
def test_constantlr(x64, factor, total_iters):
    """ConstantLR(factor, total_iters)
    == piecewise_constant([total_iters], [base * factor, base])
    == join([constant(base * factor), constant(base)], [total_iters]).
    """
    n = 3 * total_iters + 10
    ref = torch_lrs(lambda opt: tls.ConstantLR(opt, factor=factor, total_iters=total_iters), n)
    label = f"ConstantLR(factor={factor}, total_iters={total_iters})"
    check(jaxlr.piecewise_constant([total_iters], [BASE_LR * factor, BASE_LR]), ref, label)
    check(jaxlr.join([jaxlr.constant(BASE_LR * factor), jaxlr.constant(BASE_LR)], [total_iters]),
          ref, label + " via join")


def readme_linearlr(base_lr, start_factor, end_factor, total_iters):
    """README's ``LinearLR`` row: with ``total_iters == 0`` torch never leaves
    ``start_factor`` (its step ``t >= 1`` branch keeps the current lr once
    ``t > total_iters``), where ``linear`` would jump to the end value."""
    if total_iters == 0:
        return jaxlr.constant(base_lr * start_factor)
    return jaxlr.linear(base_lr * start_factor, base_lr * end_factor, total_iters)


def readme_constantlr(base_lr, factor, total_iters):
    """README's ``ConstantLR`` row: with ``total_iters == 0`` torch never
    restores the base lr (it only does so at step ``t == total_iters >= 1``)."""
    if total_iters == 0:
        return jaxlr.constant(base_lr * factor)
    return jaxlr.piecewise_constant([total_iters], [base_lr * factor, base_lr])


@pytest.mark.parametrize("total_iters", [0, 1, 2, 9])
@pytest.mark.parametrize("start_factor,end_factor", [(0.5, 0.25), (0.1, 1.0), (1.0, 0.0)])
def test_linearlr_readme_row(x64, start_factor, end_factor, total_iters):
    """README's ``LinearLR`` row, ``total_iters = 0`` included: ``T = 0`` is
    ``constant(v * start_factor)``, ``T >= 1`` is ``linear(v * start_factor,
    v * end_factor, T)``; at ``T = 0`` the ``linear`` form does not hold."""
    n = 40
    ref = torch_lrs(lambda opt: tls.LinearLR(
        opt, start_factor=start_factor, end_factor=end_factor, total_iters=total_iters), n)
    label = f"LinearLR({start_factor}, {end_factor}, total_iters={total_iters})"
    check(readme_linearlr(BASE_LR, start_factor, end_factor, total_iters), ref, label)
    general = ours_on_grid(
        jaxlr.linear(BASE_LR * start_factor, BASE_LR * end_factor, total_iters), n)
    if total_iters == 0 and start_factor != end_factor:
        assert not np.allclose(general, ref), label
    elif total_iters >= 1:
        assert_matches("torch", general, ref, label + " via linear")


@pytest.mark.parametrize("total_iters", [0, 1, 2, 9])
@pytest.mark.parametrize("factor", [1.0 / 3.0, 0.5, 0.9])
def test_constantlr_readme_row(x64, factor, total_iters):
    """README's ``ConstantLR`` row, ``total_iters = 0`` included: ``T = 0`` is
    ``constant(v * factor)``, ``T >= 1`` is ``piecewise_constant([T], [v * factor,
    v])``; at ``T = 0`` the ``piecewise_constant`` form does not hold."""
    n = 40
    ref = torch_lrs(lambda opt: tls.ConstantLR(opt, factor=factor, total_iters=total_iters), n)
    label = f"ConstantLR(factor={factor}, total_iters={total_iters})"
    check(readme_constantlr(BASE_LR, factor, total_iters), ref, label)
    general = ours_on_grid(
        jaxlr.piecewise_constant([total_iters], [BASE_LR * factor, BASE_LR]), n)
    if total_iters == 0:
        assert not np.allclose(general, ref), label
    else:
        assert_matches("torch", general, ref, label + " via piecewise_constant")


@pytest.mark.parametrize("power", [0.0, 0.3, 0.5, 1.0, 1.5, 2.0, 3.0])
@pytest.mark.parametrize("total_iters", [4, 17, 50])
def test_polynomiallr(x64, power, total_iters):
    """PolynomialLR(total_iters, power) == polynomial(base, 0, total_iters, power)."""
    n = 3 * total_iters + 10
    ref = torch_lrs(lambda opt: tls.PolynomialLR(opt, total_iters=total_iters, power=power), n)
    check(jaxlr.polynomial(BASE_LR, 0.0, total_iters, power), ref,
          f"PolynomialLR(total_iters={total_iters}, power={power})")


# ---------------------------------------------------------------------------
# CosineAnnealingLR, CosineAnnealingWarmRestarts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("t_max", [1, 5, 10, 37, 100])
@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosineannealinglr_to_horizon(x64, t_max, eta_min):
    """CosineAnnealingLR(T_max, eta_min) for t <= T_max == cosine(base, T_max, eta_min)."""
    n = t_max + 1
    ref = torch_lrs(lambda opt: tls.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), n)
    check(jaxlr.cosine(BASE_LR, t_max, eta_min), ref,
          f"CosineAnnealingLR(T_max={t_max}, eta_min={eta_min}), t <= T_max")


@pytest.mark.parametrize("t_max", [1, 2, 5, 10, 37, 100])
@pytest.mark.parametrize("eta_min", [0.0, 0.01])
def test_cosineannealinglr_full_range(x64, t_max, eta_min):
    """CosineAnnealingLR(T_max, eta_min) for all t (torch's cosine goes back up after T_max)
    == cycle(join([cosine(base, T, eta_min), cosine(eta_min, T, base)], [T]), 2 * T).
    """
    n = min(GRID_SIZE, 4 * t_max + 3)
    ref = torch_lrs(lambda opt: tls.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min), n)
    check(torch_cosine_annealing(BASE_LR, t_max, eta_min), ref,
          f"CosineAnnealingLR(T_max={t_max}, eta_min={eta_min}), t < {n}")


@pytest.mark.parametrize("t_0", [1, 3, 10])
@pytest.mark.parametrize("t_mult", [1, 2, 3])
@pytest.mark.parametrize("eta_min", [0.0, 0.001])
def test_cosineannealingwarmrestarts(x64, t_0, t_mult, eta_min):
    """CosineAnnealingWarmRestarts(T_0, T_mult, eta_min)
    == cosine_restarts(base, T_0, T_mult, 1.0, eta_min).
    """
    # four periods and a bit of the fifth
    n = min(GRID_SIZE, sum(t_0 * t_mult**i for i in range(4)) + t_0 * t_mult**4 // 2 + 2)
    ref = torch_lrs(lambda opt: tls.CosineAnnealingWarmRestarts(
        opt, T_0=t_0, T_mult=t_mult, eta_min=eta_min), n)
    check(jaxlr.cosine_restarts(BASE_LR, t_0, float(t_mult), 1.0, eta_min), ref,
          f"CosineAnnealingWarmRestarts(T_0={t_0}, T_mult={t_mult}, eta_min={eta_min})")


# ---------------------------------------------------------------------------
# CyclicLR, OneCycleLR (lr and momentum)
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode,gamma", [
    ("triangular", 1.0), ("triangular2", 1.0), ("exp_range", 0.99), ("exp_range", 0.9995)])
@pytest.mark.parametrize("step_size_up,step_size_down", [
    (4, None), (1, None), (10, None), (5, 2), (3, 8), (7, 1), (6, 0),
    (2.5, 1.5), (0.5, None)])  # torch takes float step sizes too
def test_cycliclr(x64, mode, gamma, step_size_up, step_size_down):
    """CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma)
    == cyclic(base_lr, max_lr, step_size_up, step_size_down, mode, gamma).
    """
    base_lr, max_lr = 0.01, 0.1
    period = step_size_up + (step_size_up if step_size_down is None else step_size_down)
    n = min(GRID_SIZE, int(4 * period) + 3)
    ref = torch_lrs(lambda opt: tls.CyclicLR(
        opt, base_lr=base_lr, max_lr=max_lr, step_size_up=step_size_up,
        step_size_down=step_size_down, mode=mode, gamma=gamma, cycle_momentum=False), n)
    ours = jaxlr.cyclic(base_lr, max_lr, step_size_up, step_size_down, mode=mode, gamma=gamma)
    check(ours, ref, f"CyclicLR(up={step_size_up}, down={step_size_down}, mode={mode}, "
                     f"gamma={gamma})")


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total_steps,pct_start,div_factor,final_div_factor", [
    (100, 0.3, 25.0, 1e4),   # torch's defaults
    (50, 0.25, 10.0, 100.0),
    (37, 0.45, 5.0, 1e3),    # fractional phase ends
    (20, 0.1, 25.0, 1e4),    # rise ends at step 1
    (10, 0.15, 25.0, 1e4),   # rise ends at step 0.5
    (13, 0.1, 10.0, 1e3),    # rise ends at step 0.3 (three-phase: fall ends at 0.6)
    (7, 0.5, 2.0, 10.0),
    (250, 0.05, 100.0, 1e2),
])
def test_onecyclelr(x64, anneal, three_phase, total_steps, pct_start, div_factor,
                    final_div_factor):
    """OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, div_factor,
    final_div_factor, three_phase) == one_cycle(max_lr, total_steps, pct_start, div_factor,
    final_div_factor, anneal, three_phase), for steps 0 .. total_steps - 1.

    Documented convention: past the horizon jaxlr holds the final value, while
    torch extrapolates the last phase once (t = total_steps) and then raises;
    only the ``total_steps`` updates torch defines are compared.
    """
    max_lr = 0.1
    n = total_steps
    ref = torch_lrs(lambda opt: tls.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start,
        anneal_strategy=anneal, div_factor=div_factor, final_div_factor=final_div_factor,
        three_phase=three_phase, cycle_momentum=False), n)
    ours = jaxlr.one_cycle(max_lr, total_steps, pct_start, div_factor, final_div_factor,
                           anneal=anneal, three_phase=three_phase)
    check(ours, ref, f"OneCycleLR(total_steps={total_steps}, pct_start={pct_start}, "
                     f"div={div_factor}, final_div={final_div_factor}, {anneal}, "
                     f"three_phase={three_phase})")


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("total_steps,pct_start", [(10, 0.05), (5, 0.1), (3, 0.25)])
def test_onecyclelr_rise_shorter_than_one_step(x64, anneal, three_phase, total_steps, pct_start):
    """OneCycleLR with pct_start * total_steps < 1 == one_cycle(...) (same mapping as above).

    Torch's first phase then ends at the negative step ``pct_start * total_steps - 1``
    (and, with three_phase, the second at ``2 pct_start total_steps - 2``, even lower),
    so from step 0 on it is in its last phase, measured from that negative start: a
    valid schedule (``pct_start`` is in jaxlr's documented domain (0, 1)).
    """
    max_lr = 0.1
    n = total_steps
    ref = torch_lrs(lambda opt: tls.OneCycleLR(
        opt, max_lr=max_lr, total_steps=total_steps, pct_start=pct_start,
        anneal_strategy=anneal, three_phase=three_phase, cycle_momentum=False), n)
    ours = jaxlr.one_cycle(max_lr, total_steps, pct_start, anneal=anneal, three_phase=three_phase)
    check(ours, ref, f"OneCycleLR(total_steps={total_steps}, pct_start={pct_start}, {anneal}, "
                     f"three_phase={three_phase})")


def torch_lrs_and_momentums(scheduler_cls, n, optimizer="sgd", **kwargs):
    """lr and momentum of each of torch's first ``n`` updates under ``scheduler_cls(**kwargs)``
    (``OneCycleLR`` or ``CyclicLR``) with its default ``cycle_momentum=True``:
    ``param_groups[0]["momentum"]`` for SGD (whose own momentum, default 0, the scheduler
    overrides), ``["betas"][0]`` for Adam."""
    param = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    param.grad = torch.ones(1, dtype=torch.float64)
    opt = (torch.optim.SGD([param], lr=BASE_LR) if optimizer == "sgd"
           else torch.optim.Adam([param], lr=BASE_LR))
    group = opt.param_groups[0]
    lrs, momentums = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = scheduler_cls(opt, **kwargs)
        for _ in range(n):
            lrs.append(float(group["lr"]))
            momentums.append(float(group["momentum"] if optimizer == "sgd" else group["betas"][0]))
            opt.step()
            scheduler.step()
    return np.asarray(lrs), np.asarray(momentums)


def _one_cycle_momentum_draws(seed, count, momentum_hi=1.0):
    """OneCycleLR settings drawn at random over the domain torch and the grid allow: integer
    ``total_steps`` in ``1 .. GRID_SIZE`` (short ones often), ``pct_start`` in ``(0, 1)``
    (rises shorter than a step included), momenta in ``[0, momentum_hi)`` in either order."""
    rng = np.random.default_rng(seed)
    draws = []
    while len(draws) < count:
        total = int(rng.integers(1, 25) if rng.random() < 0.4 else rng.integers(25, GRID_SIZE + 1))
        pct = float(rng.uniform(0.001, 0.999))
        base, top = (float(x) for x in rng.uniform(0.0, momentum_hi, 2))
        if rng.random() < 0.1:
            base, top = 0.85, 0.95  # torch's defaults
        # torch divides by zero in a phase of length 0 (pct_start * T == 1): not comparable
        if float(pct * total) - 1 == 0.0:
            continue
        draws.append(dict(total_steps=total, pct_start=pct, base_momentum=base,
                          max_momentum=top, max_lr=float(10 ** rng.uniform(-4, 0))))
    return draws


@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_onecyclelr_momentum(x64, anneal, three_phase, optimizer):
    """OneCycleLR(max_lr, total_steps, pct_start, anneal_strategy, three_phase,
    base_momentum, max_momentum) cycles SGD's momentum (Adam's beta1)
    == one_cycle_momentum(total_steps, pct_start, base_momentum, max_momentum, anneal,
    three_phase), for steps 0 .. total_steps - 1, over random settings; its lr
    == one_cycle(max_lr, total_steps, pct_start, ...) at the same time."""
    seed = [ord(c) for c in f"{anneal} {three_phase} {optimizer}"]
    for kw in _one_cycle_momentum_draws(seed, 16 if optimizer == "sgd" else 6):
        total, pct = kw["total_steps"], kw["pct_start"]
        ref_lr, ref_m = torch_lrs_and_momentums(
            tls.OneCycleLR, total, optimizer, anneal_strategy=anneal, three_phase=three_phase, **kw)
        label = f"OneCycleLR({kw}, {anneal}, three_phase={three_phase}) {optimizer}"
        momentum = jaxlr.one_cycle_momentum(total, pct, kw["base_momentum"], kw["max_momentum"],
                                            anneal=anneal, three_phase=three_phase)
        check(momentum, ref_m, label + " momentum")
        check(jaxlr.one_cycle(kw["max_lr"], total, pct, anneal=anneal, three_phase=three_phase),
              ref_lr, label + " lr")


def test_onecyclelr_momentum_defaults(x64):
    """OneCycleLR's default momentum (0.85, 0.95, cos, two phases) == one_cycle_momentum(T)."""
    _, ref = torch_lrs_and_momentums(tls.OneCycleLR, 100, max_lr=0.1, total_steps=100)
    check(jaxlr.one_cycle_momentum(100), ref, "OneCycleLR(total_steps=100) momentum")


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_cycliclr_momentum(x64, optimizer):
    """CyclicLR(base_lr, max_lr, step_size_up, step_size_down, mode, gamma, base_momentum,
    max_momentum) cycles SGD's momentum (Adam's beta1) inversely to the lr ==
    cyclic_momentum(step_size_up, step_size_down, mode, gamma, base_momentum, max_momentum),
    over random settings (integer and fractional step sizes, every mode, either order of the
    momenta, torch's defaults 0.8 / 0.9); its lr == cyclic(...) at the same time."""
    rng = np.random.default_rng([ord(c) for c in f"cyclic momentum {optimizer}"])
    for k in range(12 if optimizer == "sgd" else 4):
        up = float(rng.integers(1, 40)) if rng.random() < 0.7 else float(rng.uniform(0.3, 30))
        down = None if rng.random() < 0.3 else (
            float(rng.integers(0, 40)) if rng.random() < 0.7 else float(rng.uniform(0.3, 30)))
        mode = ["triangular", "triangular2", "exp_range"][k % 3]
        gamma = float(1.0 - 10 ** rng.uniform(-5, -1)) if mode == "exp_range" else 1.0
        base, top = (0.8, 0.9) if k < 3 else tuple(float(x) for x in rng.uniform(0, 1, 2))
        base_lr, max_lr = sorted(float(x) for x in 10 ** rng.uniform(-4, 0, 2))
        period = up + (up if down is None else down)
        n = min(GRID_SIZE, int(4 * period) + 3)
        ref_lr, ref_m = torch_lrs_and_momentums(
            tls.CyclicLR, n, optimizer, base_lr=base_lr, max_lr=max_lr, step_size_up=up,
            step_size_down=down, mode=mode, gamma=gamma, base_momentum=base, max_momentum=top)
        label = f"CyclicLR({base_lr}, {max_lr}, {up}, {down}, {mode}, {gamma}, {base}, {top})"
        check(jaxlr.cyclic_momentum(up, down, mode, gamma, base, top), ref_m,
              f"{label} {optimizer} momentum")
        check(jaxlr.cyclic(base_lr, max_lr, up, down, mode, gamma), ref_lr,
              f"{label} {optimizer} lr")


def _tiny_regression(seed=0):
    """A 4-8-1 tanh network's initial weights and a batch of 32 (float64 numpy)."""
    rng = np.random.default_rng(seed)
    params = dict(w1=rng.normal(size=(4, 8)) / 2, b1=rng.normal(size=8) / 10,
                  w2=rng.normal(size=(8, 1)) / 3, b2=np.zeros(1))
    x = rng.normal(size=(32, 4))
    y = np.sin(x @ rng.normal(size=(4, 1)))
    return params, x, y


def _mse(params, x, y, lib):
    hidden = lib.tanh(x @ params["w1"] + params["b1"])
    return ((hidden @ params["w2"] + params["b2"] - y) ** 2).mean()


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("anneal,three_phase", [("cos", False), ("linear", True)])
def test_onecyclelr_with_momentum_trains_like_torch(x64, optimizer, anneal, three_phase):
    """A tiny network trained 40 steps by torch SGD (Adam) + OneCycleLR (cycle_momentum) and by
    optax.inject_hyperparams(optax.sgd)(learning_rate=one_cycle, momentum=one_cycle_momentum)
    (optax.adam with b1=one_cycle_momentum), from the same weights and data, in float64:
    the parameters agree after every step."""
    import optax

    steps, max_lr = 40, (0.5 if optimizer == "sgd" else 0.05)
    setting = dict(total_steps=steps, pct_start=0.3, base_momentum=0.8, max_momentum=0.95)
    init, x, y = _tiny_regression()

    params = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in init.items()}
    opt = (torch.optim.SGD(params.values(), lr=max_lr, momentum=0.9) if optimizer == "sgd"
           else torch.optim.Adam(params.values(), lr=max_lr))
    xt, yt = torch.tensor(x), torch.tensor(y)
    theirs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = tls.OneCycleLR(opt, max_lr=max_lr, anneal_strategy=anneal,
                                   three_phase=three_phase, **setting)
        for _ in range(steps):
            opt.zero_grad()
            _mse(params, xt, yt, torch).backward()
            opt.step()
            scheduler.step()
            theirs.append({k: p.detach().numpy().copy() for k, p in params.items()})

    lr = jaxlr.one_cycle(max_lr, steps, 0.3, anneal=anneal, three_phase=three_phase)
    momentum = jaxlr.one_cycle_momentum(steps, 0.3, 0.8, 0.95, anneal=anneal,
                                        three_phase=three_phase)
    tx = (optax.inject_hyperparams(optax.sgd)(learning_rate=lr, momentum=momentum)
          if optimizer == "sgd" else
          optax.inject_hyperparams(optax.adam)(learning_rate=lr, b1=momentum))
    ours = {k: jnp.asarray(v) for k, v in init.items()}
    state = tx.init(ours)

    @jax.jit
    def step(params, state):
        grads = jax.grad(_mse)(params, jnp.asarray(x), jnp.asarray(y), jnp)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state

    for t in range(steps):
        ours, state = step(ours, state)
        for k in init:
            assert ours[k].dtype == jnp.float64
            np.testing.assert_allclose(np.asarray(ours[k]), theirs[t][k], rtol=1e-9, atol=1e-12,
                                       err_msg=f"{optimizer} {anneal} three_phase={three_phase} "
                                               f"{k} after step {t + 1}")
    moved = max(float(np.abs(theirs[-1][k] - init[k]).max()) for k in init)
    assert moved > 1e-2  # the test trained something


# ---------------------------------------------------------------------------
# SequentialLR, ChainedScheduler, LambdaLR
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("start_factor,warmup_iters,t_max,eta_min", [
    (0.1, 5, 20, 0.0),
    (0.01, 10, 50, 0.001),
    (1.0 / 3.0, 1, 8, 0.0),
    (0.5, 20, 30, 0.01),
])
def test_sequentiallr_warmup_cosine(x64, start_factor, warmup_iters, t_max, eta_min):
    """SequentialLR([LinearLR(start_factor, 1, W), CosineAnnealingLR(T, eta_min)], [W])
    == join([linear(base * start_factor, base, W), <CosineAnnealingLR(T, eta_min)>], [W])
    with <CosineAnnealingLR> = cycle(join([cosine(b, T, e), cosine(e, T, b)], [T]), 2 T);
    up to W + T also == warmup(cosine(base, T, eta_min), W, init_value=base * start_factor).
    """
    w = warmup_iters
    n = min(GRID_SIZE, w + 3 * t_max + 2)

    def make(opt):
        warm = tls.LinearLR(opt, start_factor=start_factor, end_factor=1.0, total_iters=w)
        cos = tls.CosineAnnealingLR(opt, T_max=t_max, eta_min=eta_min)
        return tls.SequentialLR(opt, [warm, cos], milestones=[w])

    ref = torch_lrs(make, n)
    label = f"SequentialLR(LinearLR({start_factor}, 1, {w}), CosineAnnealingLR({t_max}, {eta_min}))"
    full = jaxlr.join([jaxlr.linear(BASE_LR * start_factor, BASE_LR, w),
                       torch_cosine_annealing(BASE_LR, t_max, eta_min)], [w])
    check(full, ref, label)
    to_horizon = ref[:w + t_max + 1]
    check(jaxlr.join([jaxlr.linear(BASE_LR * start_factor, BASE_LR, w),
                      jaxlr.cosine(BASE_LR, t_max, eta_min)], [w]),
          to_horizon, label + " via join, t <= W + T")
    check(jaxlr.warmup(jaxlr.cosine(BASE_LR, t_max, eta_min), w,
                       init_value=BASE_LR * start_factor),
          to_horizon, label + " via warmup, t <= W + T")


@pytest.mark.parametrize("factor,const_iters,milestone,gamma", [
    (0.1, 20, 20, 0.9),    # torch's SequentialLR docstring example
    (0.5, 3, 3, 0.95),
    (0.25, 5, 12, 0.8),    # ConstantLR ends before the milestone
    (0.5, 10, 4, 0.99),    # milestone before ConstantLR ends
])
def test_sequentiallr_constant_exponential(x64, factor, const_iters, milestone, gamma):
    """SequentialLR([ConstantLR(factor, K), ExponentialLR(gamma)], [M])
    == join([piecewise_constant([K], [base * factor, base]), exponential(base, gamma, 1)], [M]).
    """
    n = 3 * milestone + 60

    def make(opt):
        const = tls.ConstantLR(opt, factor=factor, total_iters=const_iters)
        expo = tls.ExponentialLR(opt, gamma=gamma)
        return tls.SequentialLR(opt, [const, expo], milestones=[milestone])

    ref = torch_lrs(make, n)
    ours = jaxlr.join([jaxlr.piecewise_constant([const_iters], [BASE_LR * factor, BASE_LR]),
                       jaxlr.exponential(BASE_LR, gamma, 1)], [milestone])
    check(ours, ref, f"SequentialLR(ConstantLR({factor}, {const_iters}), "
                     f"ExponentialLR({gamma}), [{milestone}])")


@pytest.mark.parametrize("w,t_max,step_size,gamma", [
    (5, 20, 10, 0.5),
    (10, 40, 7, 0.1),
    (1, 5, 3, 0.9),
])
def test_sequentiallr_three_pieces(x64, w, t_max, step_size, gamma):
    """SequentialLR([LinearLR(0.1, 1, W), CosineAnnealingLR(T, 0.001), StepLR(s, gamma)],
    [W, W + T])
    == join([linear(0.1 b, b, W), cosine(b, T, 0.001),
             exponential(b, gamma, s, staircase=True)], [W, W + T]).
    """
    n = min(GRID_SIZE, 3 * (w + t_max) + 3 * step_size)

    def make(opt):
        warm = tls.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=w)
        cos = tls.CosineAnnealingLR(opt, T_max=t_max, eta_min=0.001)
        step = tls.StepLR(opt, step_size=step_size, gamma=gamma)
        return tls.SequentialLR(opt, [warm, cos, step], milestones=[w, w + t_max])

    ref = torch_lrs(make, n)
    ours = jaxlr.join([jaxlr.linear(0.1 * BASE_LR, BASE_LR, w),
                       jaxlr.cosine(BASE_LR, t_max, 0.001),
                       jaxlr.exponential(BASE_LR, gamma, step_size, staircase=True)],
                      [w, w + t_max])
    check(ours, ref, f"SequentialLR(LinearLR(0.1, 1, {w}), CosineAnnealingLR({t_max}, 0.001), "
                     f"StepLR({step_size}, {gamma}))")


@pytest.mark.parametrize("start_factor,w,gamma", [
    (0.1, 5, 0.95), (0.01, 20, 0.99), (0.5, 1, 0.9), (1.0 / 3.0, 10, 0.999)])
def test_chained_warmup_exponential(x64, start_factor, w, gamma):
    """ChainedScheduler([LinearLR(start_factor, 1, W), ExponentialLR(gamma)])
    == multiply(linear(start_factor, 1, W), exponential(base, gamma, 1)).
    """
    n = 3 * w + 100

    def make(opt):
        return tls.ChainedScheduler([
            tls.LinearLR(opt, start_factor=start_factor, end_factor=1.0, total_iters=w),
            tls.ExponentialLR(opt, gamma=gamma)])

    ref = torch_lrs(make, n)
    ours = jaxlr.multiply(jaxlr.linear(start_factor, 1.0, w), jaxlr.exponential(BASE_LR, gamma, 1))
    check(ours, ref, f"ChainedScheduler(LinearLR({start_factor}, 1, {w}), ExponentialLR({gamma}))")


@pytest.mark.parametrize("w,step_size,gamma", [(5, 10, 0.5), (12, 4, 0.8), (3, 3, 0.1)])
def test_chained_warmup_steplr(x64, w, step_size, gamma):
    """ChainedScheduler([LinearLR(0.2, 1, W), StepLR(s, gamma)])
    == multiply(linear(0.2, 1, W), exponential(base, gamma, s, staircase=True)).
    """
    n = 3 * (w + step_size) + 30

    def make(opt):
        return tls.ChainedScheduler([
            tls.LinearLR(opt, start_factor=0.2, end_factor=1.0, total_iters=w),
            tls.StepLR(opt, step_size=step_size, gamma=gamma)])

    ref = torch_lrs(make, n)
    ours = jaxlr.multiply(jaxlr.linear(0.2, 1.0, w),
                          jaxlr.exponential(BASE_LR, gamma, step_size, staircase=True))
    check(ours, ref, f"ChainedScheduler(LinearLR(0.2, 1, {w}), StepLR({step_size}, {gamma}))")


@pytest.mark.parametrize("factor,k,milestones,gamma", [
    (0.5, 4, [10, 20], 0.5), (0.1, 10, [5, 5, 30], 0.3)])
def test_chained_constant_multistep_exponential(x64, factor, k, milestones, gamma):
    """ChainedScheduler([ConstantLR(factor, K), MultiStepLR(milestones, gamma),
    ExponentialLR(0.99)])
    == multiply(piecewise_constant([K], [factor, 1]), multistep(1, milestones, gamma),
                exponential(base, 0.99, 1)).
    """
    n = 3 * max(milestones) + 10

    def make(opt):
        return tls.ChainedScheduler([
            tls.ConstantLR(opt, factor=factor, total_iters=k),
            tls.MultiStepLR(opt, milestones=milestones, gamma=gamma),
            tls.ExponentialLR(opt, gamma=0.99)])

    ref = torch_lrs(make, n)
    ours = jaxlr.multiply(jaxlr.piecewise_constant([k], [factor, 1.0]),
                          jaxlr.multistep(1.0, milestones, gamma),
                          jaxlr.exponential(BASE_LR, 0.99, 1))
    check(ours, ref, f"ChainedScheduler(ConstantLR({factor}, {k}), MultiStepLR({milestones}, "
                     f"{gamma}), ExponentialLR(0.99))")


@pytest.mark.parametrize("w,t_max", [(5, 50), (20, 100), (1, 10)])
def test_chained_warmup_cosine(x64, w, t_max):
    """ChainedScheduler([LinearLR(0.1, 1, W), CosineAnnealingLR(T, eta_min=0)]), for t <= T
    == multiply(linear(0.1, 1, W), cosine(base, T)).

    CosineAnnealingLR is multiplicative (a ratio of cosines) only with
    eta_min = 0 and up to T (at T + 1 it switches to an additive step), so only
    that range is compared.
    """
    n = t_max + 1

    def make(opt):
        return tls.ChainedScheduler([
            tls.LinearLR(opt, start_factor=0.1, end_factor=1.0, total_iters=w),
            tls.CosineAnnealingLR(opt, T_max=t_max)])

    ref = torch_lrs(make, n)
    ours = jaxlr.multiply(jaxlr.linear(0.1, 1.0, w), jaxlr.cosine(BASE_LR, t_max))
    check(ours, ref, f"ChainedScheduler(LinearLR(0.1, 1, {w}), CosineAnnealingLR({t_max}))")


@pytest.mark.parametrize("w", [1, 5, 20, 64])
def test_lambdalr_linear_warmup(x64, w):
    """LambdaLR(lambda t: min(1, t / W)) == warmup(constant(base), W) == linear(0, base, W);
    LambdaLR(lambda t: min(1, (t + 1) / W)) == shift(linear(0, base, W), -1).
    """
    n = 3 * w + 10
    ref = torch_lrs(lambda opt: tls.LambdaLR(opt, lambda t: min(1.0, t / w)), n)
    label = f"LambdaLR(min(1, t/{w}))"
    check(jaxlr.warmup(jaxlr.constant(BASE_LR), w), ref, label + " via warmup")
    check(jaxlr.linear(0.0, BASE_LR, w), ref, label + " via linear")
    ref1 = torch_lrs(lambda opt: tls.LambdaLR(opt, lambda t: min(1.0, (t + 1) / w)), n)
    check(jaxlr.shift(jaxlr.linear(0.0, BASE_LR, w), -1), ref1,
          f"LambdaLR(min(1, (t+1)/{w})) via shift")


@pytest.mark.parametrize("w,decay_steps", [(5, 50), (10, 100), (1, 20), (30, 30)])
def test_lambdalr_warmup_then_decay(x64, w, decay_steps):
    """LambdaLR with a linear warmup to 1 over W steps then a cosine (or linear) decay to 0
    over D steps (Hugging Face's cosine/linear "with_warmup" lambdas)
    == warmup(cosine(base, D), W) and warmup(linear(base, 0, D), W).
    """
    n = min(GRID_SIZE, w + 3 * decay_steps)

    def cosine_lambda(t):
        if t < w:
            return t / w
        p = min(t - w, decay_steps) / decay_steps
        return 0.5 * (1.0 + math.cos(math.pi * p))

    def linear_lambda(t):
        if t < w:
            return t / w
        return max(0.0, (decay_steps - (t - w)) / decay_steps)

    ref = torch_lrs(lambda opt: tls.LambdaLR(opt, cosine_lambda), n)
    check(jaxlr.warmup(jaxlr.cosine(BASE_LR, decay_steps), w), ref,
          f"LambdaLR(warmup {w} + cosine {decay_steps})")
    ref = torch_lrs(lambda opt: tls.LambdaLR(opt, linear_lambda), n)
    check(jaxlr.warmup(jaxlr.linear(BASE_LR, 0.0, decay_steps), w), ref,
          f"LambdaLR(warmup {w} + linear {decay_steps})")


@pytest.mark.parametrize("timescale", [1.0, 10.0, 1000.0])
def test_lambdalr_inverse_sqrt(x64, timescale):
    """LambdaLR(lambda t: 1 / sqrt(1 + t / tau)) == inverse_sqrt(base, tau)."""
    n = 400
    ref = torch_lrs(lambda opt: tls.LambdaLR(opt, lambda t: 1.0 / math.sqrt(1.0 + t / timescale)),
                    n)
    check(jaxlr.inverse_sqrt(BASE_LR, timescale), ref, f"LambdaLR(inverse sqrt, tau={timescale})")


# ---------------------------------------------------------------------------
# ReduceLROnPlateau
# ---------------------------------------------------------------------------

SEQ_LEN = 48


def _metric_sequences():
    """Named metric sequences of one length (one scan shape), from a seeded RNG."""
    rng = np.random.default_rng(20240611)
    L = SEQ_LEN
    noisy = 1.0 + 0.1 * rng.standard_normal(L)
    walk = 5.0 + 0.1 * np.cumsum(rng.standard_normal(L))
    with_nan = 1.0 + 0.1 * rng.standard_normal(L)
    with_nan[[0, 5, 6, 7, 20, 33, 34, 47]] = np.nan
    with_inf = 1.0 + 0.1 * rng.standard_normal(L)
    with_inf[[3, 10, 11]] = np.inf
    with_inf[[17, 40]] = -np.inf
    with_inf[30] = np.nan
    seqs = {
        "noisy": noisy,
        "random_walk": walk,
        "plateau": np.ones(L),
        "falling": np.linspace(1.0, 0.1, L),
        "rising": np.linspace(0.1, 1.0, L),
        "fall_then_plateau": np.concatenate([np.linspace(1.0, 0.5, 12), np.full(L - 12, 0.5)]),
        "rise_then_plateau": np.concatenate([np.linspace(0.5, 1.0, 12), np.full(L - 12, 1.0)]),
        # relative changes of 5e-5 per step: below a 1e-4 threshold step by step,
        # above it cumulatively
        "small_steps": (1.0 - 5e-5) ** np.arange(L),
        "small_steps_up": (1.0 + 5e-5) ** np.arange(L),
        "zigzag": np.where(np.arange(L) % 2 == 0, 1.0, 1.5) - 0.004 * np.arange(L),
        "with_nan": with_nan,
        "with_inf": with_inf,
        "negative_noisy": -2.0 + 0.05 * rng.standard_normal(L),
        "negative_falling": -np.linspace(0.1, 3.0, L),
        "negative_rising": np.linspace(-3.0, -0.1, L),
        "crossing_zero": np.linspace(0.5, -0.5, L) + 0.02 * rng.standard_normal(L),
        "steps_and_spikes": np.repeat([1.0, 0.8, 0.8, 0.5, 0.7, 0.4], L // 6) + np.where(
            np.arange(L) % 9 == 4, 10.0, 0.0),
    }
    for name, seq in seqs.items():
        assert seq.shape == (L,), name
    return seqs


SEQUENCES = _metric_sequences()
SEQUENCE_NAMES = sorted(SEQUENCES)


def torch_plateau_lrs(metrics, base_lr=BASE_LR, **kwargs):
    """Torch's lr after each ``ReduceLROnPlateau.step(metric)`` (one optimizer step each)."""
    optimizer = _optimizer(base_lr)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = tls.ReduceLROnPlateau(optimizer, **kwargs)
        for m in metrics:
            optimizer.step()
            scheduler.step(float(m))
            lrs.append(float(optimizer.param_groups[0]["lr"]))
    return np.asarray(lrs, dtype=np.float64)


def _jaxlr_kwargs(torch_kwargs, base_lr=BASE_LR):
    """reduce_on_plateau's arguments for torch's ReduceLROnPlateau(**torch_kwargs)."""
    kw = dict(torch_kwargs)
    if "min_lr" in kw:
        kw["min_value"] = kw.pop("min_lr")
    kw["init_value"] = base_lr
    return kw


_observe_jit = jax.jit(jaxlr.observe)


def jaxlr_plateau_values(metrics, observe=jaxlr.observe, base_lr=BASE_LR, **torch_kwargs):
    """``state.value`` after each ``observe(state, metric)``, one observation at a time."""
    tx = jaxlr.reduce_on_plateau(**_jaxlr_kwargs(torch_kwargs, base_lr))
    state = tx.init(jnp.zeros(1))
    values = []
    for m in metrics:
        state = observe(state, float(m))
        values.append(float(state.value))
    return np.asarray(values)


@functools.lru_cache(maxsize=None)
def _scan_runner(mode, threshold_mode):
    """A jitted ``lax.scan`` of ``observe`` over a metric sequence; every numeric
    hyperparameter is a traced argument (``mode``/``threshold_mode`` are static)."""

    def run(metrics, factor, patience, threshold, cooldown, min_value, init_value, eps):
        tx = jaxlr.reduce_on_plateau(
            factor=factor, patience=patience, mode=mode, threshold=threshold,
            threshold_mode=threshold_mode, cooldown=cooldown, min_value=min_value,
            init_value=init_value, eps=eps)
        state = tx.init(None)

        def body(state, m):
            state = jaxlr.observe(state, m)
            return state, state.value

        return jax.lax.scan(body, state, metrics)[1]

    return run


def _scan_args(factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0,
               base_lr=BASE_LR, eps=1e-8):
    return (jnp.asarray(factor), jnp.asarray(patience, jnp.int32), jnp.asarray(threshold),
            jnp.asarray(cooldown, jnp.int32), jnp.asarray(min_lr), jnp.asarray(base_lr),
            jnp.asarray(eps))


@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode,threshold", [
    ("rel", 1e-4), ("rel", 0.05), ("abs", 1e-4), ("abs", 0.05)])
@pytest.mark.parametrize("patience", [0, 1, 3])
@pytest.mark.parametrize("cooldown", [0, 2])
@pytest.mark.parametrize("factor,min_lr", [(0.5, 0.0), (0.1, 1e-3)])
def test_reducelronplateau(x64, mode, threshold_mode, threshold, patience, cooldown, factor,
                           min_lr):
    """ReduceLROnPlateau(mode, factor, patience, threshold, threshold_mode, cooldown, min_lr):
    torch's lr after each scheduler.step(m) == state.value of
    reduce_on_plateau(factor, patience, mode, threshold, threshold_mode, cooldown,
    min_value=min_lr, init_value=base_lr) after each observe(state, m), on every metric
    sequence; step by step (observe jitted once), and as a jitted lax.scan.
    """
    kwargs = dict(mode=mode, factor=factor, patience=patience, threshold=threshold,
                  threshold_mode=threshold_mode, cooldown=cooldown, min_lr=min_lr)
    run = jax.jit(_scan_runner(mode, threshold_mode))
    args = _scan_args(factor, patience, threshold, cooldown, min_lr)
    for name in SEQUENCE_NAMES:
        metrics = SEQUENCES[name]
        ref = torch_plateau_lrs(metrics, **kwargs)
        label = f"ReduceLROnPlateau({kwargs}) on {name}"
        ours = jaxlr_plateau_values(metrics, observe=_observe_jit, **kwargs)
        assert_matches("torch", ours, ref, label=label)
        assert_matches("torch", run(jnp.asarray(metrics), *args), ref, label=label + " (scan)")


@pytest.mark.parametrize("mode,threshold_mode,patience,cooldown", [
    ("min", "rel", 0, 0), ("min", "abs", 1, 2), ("max", "rel", 3, 2), ("max", "abs", 2, 1)])
def test_reducelronplateau_eager(x64, mode, threshold_mode, patience, cooldown):
    """ReduceLROnPlateau vs reduce_on_plateau + observe, un-jitted (op-by-op) observe."""
    kwargs = dict(mode=mode, threshold_mode=threshold_mode, patience=patience,
                  cooldown=cooldown, factor=0.5, threshold=0.01)
    for name in ["noisy", "with_nan", "negative_noisy", "steps_and_spikes"]:
        metrics = SEQUENCES[name][:24]
        ref = torch_plateau_lrs(metrics, **kwargs)
        assert_matches("torch", jaxlr_plateau_values(metrics, **kwargs), ref,
                       label=f"ReduceLROnPlateau({kwargs}) on {name}, eager")


@pytest.mark.parametrize("base_lr,factor,eps,min_lr", [
    (1e-6, 0.5, 1e-8, 0.0),     # reductions stop once a cut would change the lr by <= eps
    (1e-6, 0.1, 1e-8, 0.0),
    (0.1, 0.5, 0.0, 0.0),       # eps = 0: every reduction applies
    (0.1, 0.5, 0.01, 0.0),      # large eps: a cut of 0.1 -> 0.05 applies, 0.05 -> 0.025 applies...
    (0.1, 0.9, 1e-8, 0.05),     # min_lr reached after a few cuts, then held
    (0.1, 0.0, 1e-8, 1e-4),     # factor 0: straight to min_lr
])
def test_reducelronplateau_eps_min_lr(x64, base_lr, factor, eps, min_lr):
    """ReduceLROnPlateau(factor, patience=0, min_lr, eps) on a plateau and on noise
    == reduce_on_plateau(factor, 0, min_value=min_lr, init_value=base_lr, eps=eps) + observe."""
    kwargs = dict(factor=factor, patience=0, eps=eps, min_lr=min_lr)
    run = jax.jit(_scan_runner("min", "rel"))
    args = _scan_args(factor, 0, 1e-4, 0, min_lr, base_lr, eps)
    for name in ["plateau", "noisy", "rising"]:
        metrics = SEQUENCES[name]
        ref = torch_plateau_lrs(metrics, base_lr=base_lr, **kwargs)
        label = f"ReduceLROnPlateau(base_lr={base_lr}, {kwargs}) on {name}"
        ours = jaxlr_plateau_values(metrics, observe=_observe_jit, base_lr=base_lr, **kwargs)
        assert_matches("torch", ours, ref, label=label)
        assert_matches("torch", run(jnp.asarray(metrics), *args), ref, label=label + " (scan)")


@pytest.mark.parametrize("mode,threshold_mode", [("min", "rel"), ("max", "abs")])
def test_reducelronplateau_vmap_over_configs(x64, mode, threshold_mode):
    """ReduceLROnPlateau for several (factor, patience, cooldown, threshold, min_lr) at once
    == jit(vmap(scan of observe)) over those hyperparameters, one row per torch run."""
    configs = [
        # factor, patience, threshold, cooldown, min_lr
        (0.5, 0, 1e-4, 0, 0.0),
        (0.1, 1, 1e-4, 2, 1e-3),
        (0.5, 3, 0.05, 0, 0.0),
        (0.2, 2, 0.01, 1, 0.0),
        (0.9, 0, 0.0, 3, 0.05),
        (0.0, 1, 1e-4, 0, 1e-4),
    ]
    cols = [np.asarray(c) for c in zip(*configs)]
    factor, patience, threshold, cooldown, min_lr = cols
    run = jax.jit(jax.vmap(_scan_runner(mode, threshold_mode),
                           in_axes=(None, 0, 0, 0, 0, 0, None, None)))
    for name in ["noisy", "with_nan", "negative_noisy", "zigzag"]:
        metrics = SEQUENCES[name]
        ours = np.asarray(run(jnp.asarray(metrics), jnp.asarray(factor),
                              jnp.asarray(patience, jnp.int32), jnp.asarray(threshold),
                              jnp.asarray(cooldown, jnp.int32), jnp.asarray(min_lr),
                              jnp.asarray(BASE_LR), jnp.asarray(1e-8)))
        assert ours.shape == (len(configs), SEQ_LEN)
        for row, (f, p, th, cd, ml) in zip(ours, configs):
            kwargs = dict(mode=mode, threshold_mode=threshold_mode, factor=f, patience=p,
                          threshold=th, cooldown=cd, min_lr=ml)
            ref = torch_plateau_lrs(metrics, **kwargs)
            assert_matches("torch", row, ref, label=f"ReduceLROnPlateau({kwargs}) on {name}, vmap")


@pytest.mark.parametrize("mode,threshold_mode,patience,cooldown", [
    ("min", "rel", 1, 0), ("max", "rel", 0, 2), ("min", "abs", 2, 1)])
def test_reducelronplateau_vmap_over_sequences(x64, mode, threshold_mode, patience, cooldown):
    """ReduceLROnPlateau on every metric sequence == jit(vmap(scan of observe)) over the
    stacked sequences."""
    kwargs = dict(mode=mode, threshold_mode=threshold_mode, patience=patience,
                  cooldown=cooldown, factor=0.5, threshold=0.01, min_lr=1e-4)
    run = jax.jit(jax.vmap(_scan_runner(mode, threshold_mode),
                           in_axes=(0,) + (None,) * 7))
    stacked = jnp.asarray(np.stack([SEQUENCES[n] for n in SEQUENCE_NAMES]))
    ours = np.asarray(run(stacked, *_scan_args(0.5, patience, 0.01, cooldown, 1e-4)))
    for row, name in zip(ours, SEQUENCE_NAMES):
        ref = torch_plateau_lrs(SEQUENCES[name], **kwargs)
        assert_matches("torch", row, ref, label=f"ReduceLROnPlateau({kwargs}) on {name}, vmap")


@pytest.mark.parametrize("patience,cooldown", [(0, 0), (2, 1)])
def test_reducelronplateau_in_optax_chain(x64, patience, cooldown):
    """torch: SGD(lr) + ReduceLROnPlateau, optimizer.step() then scheduler.step(m) each epoch
    == optax.chain(optax.sgd(1.0), reduce_on_plateau(..., init_value=lr)) with
    tx.update(grads, state, params, value=m): the update is scaled by the current lr first,
    then m is observed. Compared: the lr used by each update."""
    import optax

    metrics = SEQUENCES["noisy"][:24]
    kwargs = dict(factor=0.5, patience=patience, cooldown=cooldown, threshold=0.01)
    # torch: the lr each optimizer.step() used
    optimizer = _optimizer(BASE_LR)
    used = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = tls.ReduceLROnPlateau(optimizer, **kwargs)
        for m in metrics:
            used.append(float(optimizer.param_groups[0]["lr"]))
            optimizer.step()
            scheduler.step(float(m))
    tx = optax.chain(optax.sgd(1.0), jaxlr.reduce_on_plateau(init_value=BASE_LR, **kwargs))
    params = jnp.zeros(1)
    state = tx.init(params)
    update = jax.jit(tx.update)
    ours = []
    for m in metrics:
        updates, state = update(jnp.ones(1), state, params, value=float(m))
        ours.append(-float(updates[0]))
    assert_matches("torch", ours, used, label=f"ReduceLROnPlateau({kwargs}) in optax.chain")
