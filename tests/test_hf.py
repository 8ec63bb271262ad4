"""Equivalence with Hugging Face transformers' real schedules, step for step.

Each test builds the schedule with ``transformers.optimization``'s own
``get_*_schedule*`` function on a real ``torch.optim.SGD`` optimizer (a torch
``LambdaLR``) and drives it the way HF's ``Trainer`` does: the lr in
``optimizer.param_groups[0]["lr"]`` right before the ``(t+1)``-th
``optimizer.step()`` is what the matching jaxlr schedule must give at step
``t`` (jaxlr's step is the number of updates already applied); after it,
``scheduler.step()``. The jaxlr expression is the one in README's Hugging Face
table; the comparison covers the warmup, the decay and well past
``num_training_steps`` (for the cosine with ``num_cycles`` and the inverse
square root, whose HF lambdas keep going), through
``equivalence.assert_matches("hf (real)", ...)`` (rtol 1e-6, atol 1e-12) in
float64 (the ``x64`` fixture): HF's lambdas and torch's ``LambdaLR`` compute in
Python floats.

Only ``transformers.optimization`` is imported (``transformers/__init__`` is
lazy, so the models are not loaded).
"""

from __future__ import annotations

import importlib.metadata
import inspect
import warnings

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hf = pytest.importorskip("transformers.optimization")

import jaxlr  # noqa: E402
from equivalence import assert_matches, evaluate  # noqa: E402
from porting import hf_wsd  # noqa: E402

LIBRARY = "hf (real)"
HF_VERSION = importlib.metadata.version("transformers")
LR = 3e-4


def _id(*parts):
    return "-".join(str(p) for p in parts)


def hf_lrs(make_scheduler, n, base_lr=LR):
    """The lr of each of the first ``n`` updates under HF's ``make_scheduler(optimizer)``."""
    param = torch.nn.Parameter(torch.zeros(1))
    param.grad = torch.ones(1)
    optimizer = torch.optim.SGD([param], lr=base_lr, momentum=0.9)
    group = optimizer.param_groups[0]
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = make_scheduler(optimizer)
        assert isinstance(scheduler, torch.optim.lr_scheduler.LambdaLR), type(scheduler)
        for _ in range(n):
            lrs.append(float(group["lr"]))
            optimizer.step()
            scheduler.step()
    return np.asarray(lrs, dtype=np.float64)


def check(ours, make_scheduler, n, label):
    """jaxlr ``ours`` against HF's lrs for the first ``n`` updates."""
    ref = hf_lrs(make_scheduler, n)
    assert_matches(LIBRARY, evaluate(ours, n), ref, f"transformers {HF_VERSION} {label}")


# ---------------------------------------------------------------------------
# constant, linear
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("warmup_steps", [0, 1, 10, 50])
def test_constant_schedule_with_warmup(x64, warmup_steps):
    """``get_constant_schedule_with_warmup(W)`` == ``warmup(constant(v), W)``."""
    check(jaxlr.warmup(jaxlr.constant(LR), warmup_steps),
          lambda opt: hf.get_constant_schedule_with_warmup(opt, warmup_steps),
          3 * max(warmup_steps, 30), f"constant_with_warmup({warmup_steps})")


@pytest.mark.parametrize("warmup_steps,total", [(0, 100), (10, 100), (50, 60), (1, 30), (7, 8),
                                                (13, 77)])
def test_linear_schedule_with_warmup(x64, warmup_steps, total):
    """``get_linear_schedule_with_warmup(W, N)`` == ``warmup(linear(v, 0, N - W), W)``."""
    check(jaxlr.warmup(jaxlr.linear(LR, 0.0, total - warmup_steps), warmup_steps),
          lambda opt: hf.get_linear_schedule_with_warmup(opt, warmup_steps, total),
          3 * total, f"linear_with_warmup{(warmup_steps, total)}")


# ---------------------------------------------------------------------------
# cosine (num_cycles), cosine with hard restarts
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("warmup_steps,total", [(0, 100), (10, 100), (3, 50), (1, 2)])
def test_cosine_schedule_with_warmup_training_steps(x64, warmup_steps, total):
    """``get_cosine_schedule_with_warmup(W, N)`` == ``warmup(cosine(v, N - W), W)``
    for ``t <= N`` (past ``N`` HF's half cosine rises again; see the next test)."""
    check(jaxlr.warmup(jaxlr.cosine(LR, total - warmup_steps), warmup_steps),
          lambda opt: hf.get_cosine_schedule_with_warmup(opt, warmup_steps, total),
          total + 1, f"cosine_with_warmup t<=N{(warmup_steps, total)}")


HF_COSINE = [  # (num_warmup_steps, num_training_steps, num_cycles)
    (0, 100, 0.5), (10, 100, 0.5), (20, 80, 1.0), (5, 105, 0.75), (0, 60, 2.0), (10, 110, 0.3),
    (3, 50, 0.5), (7, 47, 1.5), (0, 90, 3.0),
]


@pytest.mark.parametrize("warmup_steps,total,num_cycles", HF_COSINE,
                         ids=[_id(*c) for c in HF_COSINE])
def test_cosine_schedule_with_warmup(x64, warmup_steps, total, num_cycles):
    """``get_cosine_schedule_with_warmup(W, N, c)`` on all steps ==
    ``warmup(cycle(join([cosine(v, H), cosine(0, H, v)], [H]), 2 H), W)``,
    ``H = (N - W) / (2 c)``."""
    half = (total - warmup_steps) / (2 * num_cycles)
    wave = jaxlr.cycle(jaxlr.join([jaxlr.cosine(LR, half), jaxlr.cosine(0.0, half, LR)], [half]),
                       2 * half)
    check(jaxlr.warmup(wave, warmup_steps),
          lambda opt: hf.get_cosine_schedule_with_warmup(opt, warmup_steps, total,
                                                         num_cycles=num_cycles),
          3 * total, f"cosine_with_warmup{(warmup_steps, total, num_cycles)}")


HF_HARD = [  # (num_warmup_steps, num_training_steps, num_cycles)
    (0, 100, 1), (10, 100, 2), (5, 95, 3), (0, 90, 3), (20, 120, 4), (0, 100, 3), (7, 57, 1.5),
    (3, 43, 5), (0, 64, 8),
]


@pytest.mark.parametrize("warmup_steps,total,num_cycles", HF_HARD, ids=[_id(*c) for c in HF_HARD])
def test_cosine_with_hard_restarts(x64, warmup_steps, total, num_cycles):
    """``get_cosine_with_hard_restarts_schedule_with_warmup(W, N, c)`` ==
    ``warmup(join([cycle(cosine(v, L), L), constant(0)], [N - W]), W)``,
    ``L = (N - W) / c`` (0 from step ``N`` on)."""
    period = (total - warmup_steps) / num_cycles
    body = jaxlr.join([jaxlr.cycle(jaxlr.cosine(LR, period), period), jaxlr.constant(0.0)],
                      [total - warmup_steps])
    check(jaxlr.warmup(body, warmup_steps),
          lambda opt: hf.get_cosine_with_hard_restarts_schedule_with_warmup(
              opt, warmup_steps, total, num_cycles=num_cycles),
          3 * total, f"cosine_hard_restarts{(warmup_steps, total, num_cycles)}")


# ---------------------------------------------------------------------------
# polynomial, inverse square root
# ---------------------------------------------------------------------------

HF_POLY = [  # (num_warmup_steps, num_training_steps, lr_end, power)
    (0, 100, 1e-7, 1.0), (10, 100, 1e-7, 2.0), (10, 100, 1e-4, 0.5), (20, 50, 0.0, 3.0),
    (1, 40, 1e-5, 1.0), (5, 45, 2e-5, 1.7), (0, 30, 0.0, 0.3),
]


@pytest.mark.parametrize("warmup_steps,total,lr_end,power", HF_POLY, ids=[_id(*c) for c in HF_POLY])
def test_polynomial_decay_schedule_with_warmup(x64, warmup_steps, total, lr_end, power):
    """``get_polynomial_decay_schedule_with_warmup(W, N, e, p)`` ==
    ``warmup(polynomial(v, e, N - W, p), W)``."""
    check(jaxlr.warmup(jaxlr.polynomial(LR, lr_end, total - warmup_steps, power=power),
                       warmup_steps),
          lambda opt: hf.get_polynomial_decay_schedule_with_warmup(
              opt, warmup_steps, total, lr_end=lr_end, power=power),
          3 * total, f"polynomial_with_warmup{(warmup_steps, total, lr_end, power)}")


@pytest.mark.parametrize("warmup_steps,timescale", [(0, None), (10, None), (100, None), (10, 50),
                                                    (0, 25), (40, 10), (1, None)])
def test_inverse_sqrt_schedule(x64, warmup_steps, timescale):
    """``get_inverse_sqrt_schedule(W, tau)`` == ``warmup(inverse_sqrt(v, tau), W)``
    (``tau`` defaults to ``W``, or 10,000 for ``W = 0``)."""
    tau = timescale if timescale is not None else (warmup_steps or 10_000)
    check(jaxlr.warmup(jaxlr.inverse_sqrt(LR, tau), warmup_steps),
          lambda opt: hf.get_inverse_sqrt_schedule(opt, warmup_steps, timescale=timescale),
          600, f"inverse_sqrt{(warmup_steps, timescale)}")


# ---------------------------------------------------------------------------
# warmup-stable-decay
# ---------------------------------------------------------------------------

WSD_PARAMS = inspect.signature(hf.get_wsd_schedule).parameters if hasattr(
    hf, "get_wsd_schedule") else {}
needs_wsd = pytest.mark.skipif(not WSD_PARAMS, reason=f"transformers {HF_VERSION} has no "
                               "get_wsd_schedule")


WARMUP_TYPES = ["linear", "cosine", "1-sqrt"] if "warmup_type" in WSD_PARAMS else ["linear"]


@needs_wsd
@pytest.mark.parametrize("warmup_type", WARMUP_TYPES)
@pytest.mark.parametrize("min_lr_ratio", [0.0, 0.1])
@pytest.mark.parametrize("decay_type", ["linear", "cosine", "1-sqrt"])
def test_wsd_schedule(x64, decay_type, min_lr_ratio, warmup_type):
    """``get_wsd_schedule(W, D, num_stable_steps=S, warmup_type, decay_type,
    min_lr_ratio=r)`` == ``warmup_stable_decay(v, W, S, D, end_value=r v,
    decay, init_value=r v)`` (linear warmup), ``warmup(warmup_stable_decay(v,
    0, S, D, r v, decay), W, r v, mode="cosine")`` (cosine warmup)."""
    w, s, d = 10, 30, 20
    kwargs = {"warmup_type": warmup_type} if "warmup_type" in WSD_PARAMS else {}
    check(hf_wsd(LR, w, s, d, decay_type, min_lr_ratio, warmup_type),
          lambda opt: hf.get_wsd_schedule(opt, w, d, num_stable_steps=s, decay_type=decay_type,
                                          min_lr_ratio=min_lr_ratio, **kwargs),
          3 * (w + s + d), f"wsd{(w, s, d, decay_type, min_lr_ratio, warmup_type)}")


@needs_wsd
@pytest.mark.parametrize("warmup_steps,decay_steps,total,decay_type,min_lr_ratio",
                         [(10, 30, 100, "linear", 0.0), (0, 25, 80, "cosine", 0.05),
                          (5, 1, 40, "1-sqrt", 0.2), (20, 60, 80, "linear", 0.1),
                          (7, 13, 50, "cosine", 0.3)])
def test_wsd_schedule_training_steps(x64, warmup_steps, decay_steps, total, decay_type,
                                     min_lr_ratio):
    """``get_wsd_schedule(W, D, num_training_steps=N)``: ``S = N - W - D``, then as
    ``test_wsd_schedule`` (linear warmup, HF's default)."""
    stable = total - warmup_steps - decay_steps
    check(hf_wsd(LR, warmup_steps, stable, decay_steps, decay_type, min_lr_ratio, "linear"),
          lambda opt: hf.get_wsd_schedule(opt, warmup_steps, decay_steps,
                                          num_training_steps=total, decay_type=decay_type,
                                          min_lr_ratio=min_lr_ratio),
          3 * total, f"wsd N{(warmup_steps, decay_steps, total, decay_type, min_lr_ratio)}")
