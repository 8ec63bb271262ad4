"""Matplotlib figures of schedules.

Only this module (and the CLI that calls it) imports matplotlib; it uses the
object-oriented ``Figure`` API, so no GUI backend is ever needed.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from jaxlr._io import atomic_write_bytes

# Evaluating every step is cheap (one vectorised call); past this many steps a
# plot samples them evenly instead, which a figure's resolution cannot tell apart.
MAX_POINTS = 200_000


def schedule_steps(num_steps, start=0):
    """The integer steps at which to draw a schedule over ``[start, start + num_steps)``."""
    if num_steps <= 0:
        raise ValueError(f"jaxlr.plot: num_steps must be > 0, got {num_steps!r}")
    if start < 0:
        raise ValueError(f"jaxlr.plot: start must be >= 0, got {start!r}")
    if num_steps <= MAX_POINTS:
        return np.arange(start, start + num_steps)
    return np.unique(np.linspace(start, start + num_steps - 1, MAX_POINTS).round().astype(np.int64))


def plot_schedules(schedules, num_steps, start=0, log=False, title=None, path=None):
    """Draw learning rate against step for one or several schedules.

    Args:
      schedules: a mapping ``label -> optax.Schedule``.
      num_steps: how many steps to draw.
      start: first step.
      log: log-scale learning-rate axis.
      title: optional figure title.
      path: if given, the PNG (or any format matplotlib knows) to write.

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    steps = schedule_steps(num_steps, start)
    fig = Figure(figsize=(10, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    for label, schedule in schedules.items():
        lr = np.asarray(schedule(steps))
        if not np.all(np.isfinite(lr)):
            bad = int(steps[~np.isfinite(lr)][0])
            raise ValueError(f"jaxlr.plot: schedule {label!r} is not finite at step {bad}")
        ax.plot(steps, lr, label=label, linewidth=1.6)
    ax.set_xlabel("step (updates applied)")
    ax.set_ylabel("learning rate")
    if log:
        ax.set_yscale("log")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    if title:
        ax.set_title(title)
    if path is not None:
        fig.savefig(path)
    return fig


def _curves(ax, histories, field, label_suffix=""):
    for label, hs in histories.items():
        values = [np.asarray(getattr(h, field), dtype=float) for h in hs]
        n = min(len(v) for v in values)
        if n == 0:
            continue
        stacked = np.stack([v[:n] for v in values])
        epochs = np.arange(1, n + 1)
        line, = ax.plot(epochs, stacked.mean(0), label=label, linewidth=1.6)
        if len(hs) > 1:
            ax.fill_between(epochs, stacked.min(0), stacked.max(0), color=line.get_color(),
                            alpha=0.2, linewidth=0)


def plot_comparison(title, histories, out, eval_split="test"):
    """Write ``lr.png``, ``train_loss.png`` and ``eval_acc.png`` for a comparison.

    Args:
      title: figure title prefix.
      histories: ``label -> [History per seed]``; curves are means over seeds
        with a min-max band.
      out: directory to write into.
      eval_split: ``test`` or ``validation`` (axis label).
    """
    import pathlib

    out = pathlib.Path(out)
    figures = {}

    fig = Figure(figsize=(10, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    for label, hs in histories.items():
        lr = np.concatenate([np.asarray(e, dtype=float) for e in hs[0].lr]) if hs[0].lr else []
        ax.plot(np.arange(len(lr)), lr, label=label, linewidth=1.4)
    ax.set_xlabel("step (updates applied)")
    ax.set_ylabel("learning rate used")
    ax.set_title(f"{title}: learning rate")
    figures["lr.png"] = (fig, ax)

    for name, field, ylabel, log in (("train_loss.png", "train_loss", "training loss", True),
                                     ("eval_acc.png", "eval_acc", f"{eval_split} accuracy",
                                      False)):
        fig = Figure(figsize=(10, 4.2), dpi=120, layout="constrained")
        ax = fig.add_subplot()
        _curves(ax, histories, field)
        ax.set_xlabel("epoch")
        ax.set_ylabel(ylabel)
        if log:
            ax.set_yscale("log")
        ax.set_title(f"{title}: {ylabel}")
        figures[name] = (fig, ax)

    for name, (fig, ax) in figures.items():
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        atomic_write_bytes(out / name, _png_bytes(fig))


def _png_bytes(fig):
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
