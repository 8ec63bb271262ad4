"""The learning-rate range test (Smith 2017), vmapped over seeds.

Train for ``num_steps`` updates while the lr grows exponentially from
``min_lr`` to ``max_lr`` (``exponential(min_lr, max_lr / min_lr, num_steps - 1)``),
recording the loss of every batch. As fastai and PyTorch Lightning do, the
curve is an exponential moving average of the loss with bias correction,
``avg_t = beta avg_{t-1} + (1 - beta) loss_t``, ``smooth_t = avg_t / (1 - beta^(t+1))``,
and it stops at the first step whose smoothed loss exceeds
``stop_factor`` (4) times the best so far.

Two suggestions, on the seed-averaged smoothed curve up to the earliest stop:

- ``steepest``: the lr where the smoothed loss falls fastest against log lr
  (``argmin`` of ``np.gradient(loss, log lr)``; Lightning's suggestion, which
  skips the first 10 points; so does this);
- ``valley``: fastai's ``valley``: find the longest stretch over which the loss
  keeps decreasing (longest decreasing subsequence) and take the point
  ``floor(L/3) + floor(L/6)`` steps into it (about half-way, biased early).

References: L. N. Smith, "Cyclical Learning Rates for Training Neural
Networks", 2017; fastai ``LRFinder``/``valley``; Lightning ``Tuner.lr_find``.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

import jaxlr

__all__ = ["LRFindResult", "lr_find", "steepest", "valley"]


@dataclasses.dataclass
class LRFindResult:
    """``lrs [N]``; ``losses``, ``smoothed [seed, N]`` (smoothed is NaN after
    each seed's stop); ``stop_step [seed]``; suggestions ``steepest`` and ``valley``."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    stop_step: np.ndarray
    curve: np.ndarray
    steepest: float
    valley: float

    def plot(self, path=None, title="learning-rate range test"):
        from matplotlib.figure import Figure

        fig = Figure(figsize=(8, 4.2), dpi=120, layout="constrained")
        ax = fig.add_subplot()
        for s in range(len(self.losses)):
            ax.plot(self.lrs, self.smoothed[s], color="C0", alpha=0.35, linewidth=1)
        ax.plot(self.lrs, self.curve, color="C0", linewidth=2, label="smoothed loss (mean)")
        for value, name, color in ((self.steepest, "steepest", "C3"),
                                   (self.valley, "valley", "C2")):
            if np.isfinite(value):
                ax.axvline(value, color=color, linestyle="--",
                           label=f"{name}: {value:.2e}")
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        finite = self.curve[np.isfinite(self.curve)]
        if len(finite):
            low = np.nanmin(self.smoothed)
            ax.set_ylim(low - 0.05 * abs(low), max(finite[0], np.nanmax(finite[:10])) * 1.5)
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize="small")
        ax.set_title(title)
        if path is not None:
            from jaxlr.plot import write_figure

            write_figure(fig, path)
        return fig


def _smooth(losses, beta, stop_factor):
    smoothed = np.full(len(losses), np.nan)
    avg, best = 0.0, math.inf
    for t, loss in enumerate(losses):
        avg = beta * avg + (1.0 - beta) * loss
        value = avg / (1.0 - beta ** (t + 1))
        if not np.isfinite(value) or (t > 0 and value > stop_factor * best):
            return smoothed, t
        smoothed[t] = value
        best = min(best, value)
    return smoothed, len(losses)


def steepest(lrs, losses, skip_start=10):
    """The lr of the steepest descent of ``losses`` against ``log(lrs)``."""
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    ok = np.isfinite(losses)
    lrs, losses = lrs[ok], losses[ok]
    if len(losses) <= skip_start + 2:
        return float("nan")
    grads = np.gradient(losses, np.log(lrs))[skip_start:]
    return float(lrs[skip_start + int(np.argmin(grads))])


def valley(lrs, losses):
    """fastai's ``valley`` suggestion (longest decreasing run, a third + a sixth in)."""
    lrs, losses = np.asarray(lrs), np.asarray(losses)
    ok = np.isfinite(losses)
    lrs, losses = lrs[ok], losses[ok]
    n = len(losses)
    if n < 2:
        return float("nan")
    lds = [1] * n
    max_start = max_end = 0
    for i in range(1, n):
        for j in range(i):
            if losses[i] < losses[j] and lds[i] < lds[j] + 1:
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    return float(lrs[max_start + int(sections) + int(sections / 2)])


def lr_find(config, data, base=None, min_lr=1e-7, max_lr=10.0, num_steps=100, seeds=1, seed=0,
            beta=0.98, stop_factor=4.0, store=None, progress=False):
    """Run the range test with ``config``'s model, optimizer and batch size.

    Args:
      config: a :class:`jaxlr.engine.TrainConfig` (its schedule, epochs and
        plateau are replaced by the ramp).
      data: a dataset (:mod:`jaxlr.data`).
      base: other hyperparameters of the optimizer (e.g. ``momentum``); an
        ``lr`` in it is ignored (the ramp sets the lr); any other name the
        optimizer does not read is an error.
      min_lr, max_lr: the ramp's ends, ``0 < min_lr < max_lr``.
      num_steps: updates in the ramp (``> 10``).
      seeds: seeds, run as one vmapped program.
      seed: first seed.
      beta: smoothing factor in ``[0, 1)``.
      stop_factor: stop once the smoothed loss exceeds this times the best (``> 1``).
      store: a :class:`jaxlr.engine.RunStore` (or directory) to save and reuse the ramp.
      progress: show a progress bar (per epoch of the ramp); a string is its label.

    Returns:
      An :class:`LRFindResult`.
    """
    from jaxlr import engine, sweep as sweep_lib

    if not 0 < min_lr < max_lr:
        raise ValueError(f"jaxlr.lr_find: need 0 < min_lr < max_lr, got min_lr={min_lr!r}, "
                         f"max_lr={max_lr!r}")
    if num_steps <= 10:
        raise ValueError(f"jaxlr.lr_find: num_steps must be > 10, got {num_steps!r}")
    if seeds < 1:
        raise ValueError(f"jaxlr.lr_find: seeds must be >= 1, got {seeds!r}")
    if not 0 <= beta < 1:
        raise ValueError(f"jaxlr.lr_find: beta must be in [0, 1), got {beta!r}")
    if stop_factor <= 1:
        raise ValueError(f"jaxlr.lr_find: stop_factor must be > 1, got {stop_factor!r}")
    steps_per_epoch = math.ceil(len(data.x_train) / config.batch_size)
    ramp = dataclasses.replace(
        config, epochs=math.ceil(num_steps / steps_per_epoch), plateau=None,
        schedule=lambda h, info: jaxlr.exponential(h["min_lr"], h["max_lr"] / h["min_lr"],
                                                   num_steps - 1))
    trainer = engine.make_train(ramp, data)
    # the ramp is the lr: a base "lr" (a run's own setting) has nothing to set
    hparams = {**{k: v for k, v in dict(base or {}).items() if k != "lr"},
               "min_lr": min_lr, "max_lr": max_lr}
    out = sweep_lib.sweep(trainer, [hparams], seeds=seeds, seed=seed, strategy="vmap",
                          store=store, progress=progress)
    losses = out.step_loss[0].reshape(seeds, -1)[:, :num_steps]
    lrs = out.lr[0].reshape(seeds, -1)[0, :num_steps]
    smoothed, stops = zip(*(_smooth(row, beta, stop_factor) for row in losses))
    smoothed, stops = np.stack(smoothed), np.array(stops)
    # the seed-mean curve, up to the earliest stop (every seed still defined there)
    curve = np.full(num_steps, np.nan)
    curve[:stops.min()] = smoothed[:, :stops.min()].mean(0)
    return LRFindResult(lrs=np.asarray(lrs, float), losses=np.asarray(losses, float),
                        smoothed=smoothed, stop_step=stops, curve=curve,
                        steepest=steepest(lrs, curve), valley=valley(lrs, curve))
