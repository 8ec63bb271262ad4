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


def _curves(ax, histories, field):
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


def _log_axis(values):
    values = np.asarray(values, float)
    return bool(np.all(values > 0) and values.max() / values.min() > 20)


def plot_sweep(result, out, metric="eval_acc", title="sweep", eval_split="test"):
    """Figures of a :class:`jaxlr.sweep.SweepResult`, written into ``out``.

    - one swept hyperparameter: ``final.png``, the final metric against it
      (log axis when it spans decades), mean over seeds with a min-max band,
      diverged configurations marked at the bottom;
    - two: ``heatmap.png`` of the mean final metric;
    - always ``curves.png``: the metric per epoch for every configuration
      (mean over seeds), coloured by the first swept hyperparameter.

    Returns the list of files written.
    """
    import pathlib

    from matplotlib import colormaps
    from matplotlib.colors import LogNorm, Normalize

    out = pathlib.Path(out)
    final = result.final(metric)
    label = f"final {eval_split} {metric.split('_', 1)[1]}" if "_" in metric else metric
    written = []
    names = list(result.swept)
    if len(names) == 1:
        name = names[0]
        x = np.array([c[name] for c in result.configs])
        order = np.argsort(x)
        fig = Figure(figsize=(8, 4.2), dpi=120, layout="constrained")
        ax = fig.add_subplot()
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(np.isfinite(final), final, np.nan), 1)
        ax.plot(x[order], mean[order], marker="o", markersize=3, label="mean over seeds")
        if final.shape[1] > 1:
            lo, hi = np.nanmin(final, 1), np.nanmax(final, 1)
            ax.fill_between(x[order], lo[order], hi[order], alpha=0.25, linewidth=0,
                            label="min-max over seeds")
        diverged = (result.diverged_step >= 0).any(1)
        if diverged.any():
            bottom = np.nanmin(final) if np.isfinite(final).any() else 0.0
            ax.scatter(x[diverged], np.full(diverged.sum(), bottom), marker="x", color="C3",
                       label="diverged")
        if _log_axis(x):
            ax.set_xscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3, which="both")
        ax.legend(fontsize="small")
        ax.set_title(title)
        atomic_write_bytes(out / "final.png", _png_bytes(fig))
        written.append(out / "final.png")
    elif len(names) == 2:
        a, b = names
        xs = sorted({c[a] for c in result.configs})
        ys = sorted({c[b] for c in result.configs})
        grid = np.full((len(ys), len(xs)), np.nan)
        with np.errstate(all="ignore"):
            mean = np.nanmean(np.where(np.isfinite(final), final, np.nan), 1)
        for k, c in enumerate(result.configs):
            grid[ys.index(c[b]), xs.index(c[a])] = mean[k]
        fig = Figure(figsize=(8, 5.5), dpi=120, layout="constrained")
        ax = fig.add_subplot()
        image = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1), grid,
                              cmap="viridis", shading="flat")
        fig.colorbar(image, ax=ax, label=f"{label} (mean over seeds; blank: diverged)")
        for axis, values, set_ticks, set_labels in ((a, xs, ax.set_xticks, ax.set_xticklabels),
                                                    (b, ys, ax.set_yticks, ax.set_yticklabels)):
            step = max(1, len(values) // 8)
            idx = np.arange(0, len(values), step)
            set_ticks(idx + 0.5)
            set_labels([f"{values[i]:.3g}" for i in idx])
        ax.set_xlabel(a)
        ax.set_ylabel(b)
        ax.set_title(title)
        atomic_write_bytes(out / "heatmap.png", _png_bytes(fig))
        written.append(out / "heatmap.png")

    fig = Figure(figsize=(8, 4.2), dpi=120, layout="constrained")
    ax = fig.add_subplot()
    first = names[0] if names else None
    values = np.array([c[first] for c in result.configs]) if first else np.zeros(len(final))
    norm = (LogNorm if _log_axis(values) else Normalize)(values.min(), max(values.max(),
                                                                           values.min() + 1e-12))
    cmap = colormaps["viridis"]
    epochs = np.arange(1, getattr(result, metric).shape[2] + 1)
    with np.errstate(all="ignore"):
        curves = np.nanmean(getattr(result, metric), 1)
    for k in range(len(result.configs)):
        ax.plot(epochs, curves[k], color=cmap(norm(values[k])), linewidth=1, alpha=0.8)
    if first:
        from matplotlib.cm import ScalarMappable

        fig.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax, label=first)
    ax.set_xlabel("epoch")
    ax.set_ylabel(label.replace("final ", ""))
    ax.grid(True, alpha=0.3)
    ax.set_title(f"{title}: learning curves")
    atomic_write_bytes(out / "curves.png", _png_bytes(fig))
    written.append(out / "curves.png")
    return written
