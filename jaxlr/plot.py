"""Matplotlib figures of schedules, comparisons and sweeps.

Only this module (and the CLI that calls it) imports matplotlib; it uses the
object-oriented ``Figure`` API, so no GUI backend is ever needed.

The figures have to read at any size: a one-epoch run and a three-hundred
configuration sweep go through the same code. So lines with few points get
markers, epoch axes have integer ticks, a log axis is used only where the
values span a decade, curves that coincide are told apart by interleaved
dashes and a legend note, and a sweep's learning curves show its best
configurations over an envelope of all of them.
"""

from __future__ import annotations

import math
import pathlib
import textwrap
import warnings

import numpy as np
from matplotlib.backend_bases import FigureCanvasBase
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from jaxlr._io import atomic_write_bytes

# Evaluating every step is cheap (one vectorised call); past this many steps a
# plot samples them evenly instead, which a figure's resolution cannot tell apart.
MAX_POINTS = 200_000

# A line of one or two points without markers draws nothing visible (a single
# point) or reads as a continuous curve; up to this many points each is marked.
FEW_POINTS = 20

# Beyond about eight labels on a heatmap axis the labels of 1e-3-style values collide.
MAX_TICK_LABELS = 8

# Sweep learning curves draw this many configurations, best first, by default.
TOP_CONFIGS = 5

# Marker shapes of equal curves with few points, drawn largest first.
_MARKERS = ("o", "s", "^", "D", "v", "P")

# Length of one dash, in line widths (matplotlib scales dash patterns by the width).
_DASH = 3.0


def figure_path(path):
    """The file a figure for ``path`` is written to.

    ``path`` itself when its suffix names a format matplotlib writes (``.png``,
    ``.svg``, ``.pdf``, ...), else ``path`` with ``.png`` appended, so
    ``--out run.v2`` writes ``run.v2.png``. :func:`plot_schedules` writes there;
    a caller that reports the file it wrote should print this path.

    >>> figure_path("out/lr").as_posix()
    'out/lr.png'
    >>> figure_path("out/lr.svg").as_posix()
    'out/lr.svg'
    >>> figure_path("run.v2").as_posix()
    'run.v2.png'
    """
    path = pathlib.Path(path)
    if path.suffix[1:].lower() in FigureCanvasBase.get_supported_filetypes():
        return path
    return path.with_name(path.name + ".png")


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

    Schedules that give the same learning rate at every drawn step are dashed
    over each other and marked "(same as ...)" in the legend.

    Args:
      schedules: a mapping ``label -> optax.Schedule``.
      num_steps: how many steps to draw.
      start: first step.
      log: log-scale learning-rate axis, where the positive rates span at least
        a decade (over less, a log axis shows hardly any labelled tick, so the
        axis stays linear).
      title: optional figure title.
      path: if given, the file to write, atomically, creating missing folders:
        :func:`figure_path` of it (``.png`` appended when it names no format).

    Returns:
      The ``matplotlib.figure.Figure``.
    """
    steps = schedule_steps(num_steps, start)
    curves = {}
    for label, schedule in schedules.items():
        # optax.constant_schedule ignores the step's shape; a jaxlr schedule keeps it
        lr = np.broadcast_to(np.asarray(schedule(steps), dtype=float), steps.shape)
        if not np.all(np.isfinite(lr)):
            bad = int(steps[~np.isfinite(lr)][0])
            raise ValueError(f"jaxlr.plot: schedule {label!r} is not finite at step {bad}")
        curves[label] = (steps, lr)
    fig, ax = _new_axes(figsize=(10, 4.2))
    _draw_lines(ax, curves, same="")
    _fit_axis(ax, "y", [lr for _, lr in curves.values()], log=log, from_zero=True)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("step (updates applied)")
    ax.set_ylabel("learning rate")
    if title:
        _title(ax, title)
    _finish(ax)
    if path is not None:
        write_figure(fig, figure_path(path))
    return fig


def comparison_figures(title, histories, eval_split="test", groups=None):
    """The figures of a comparison: ``{"lr.png", "train_loss.png", "eval_acc.png"} -> Figure``.

    ``lr.png``: the learning rate each run used at each step (first seed);
    runs with the same rates are dashed over each other and marked in the
    legend; a log axis where the rates span two decades. The other two: the
    mean over seeds per epoch, shaded between the lowest and highest seed (one
    legend entry says so).

    Args:
      title: figure title prefix.
      histories: ``label -> [History per seed]``.
      eval_split: ``test`` or ``validation`` (axis label).
      groups: optional ``[(heading, [labels])]``: one panel per group (e.g. a
        reference experiment's runs, then modern optimizers), stacked, so that
        no figure has more lines than colours; default one panel of all runs.
    """
    panels = _panels(histories, groups)
    figures = {"lr.png": _panel_figure(title, "learning rate", panels, _draw_lr)}
    for name, field, ylabel, log in (("train_loss.png", "train_loss", "training loss", True),
                                     ("eval_acc.png", "eval_acc", f"{eval_split} accuracy",
                                      False)):
        figures[name] = _panel_figure(
            title, ylabel, panels,
            lambda ax, hs, field=field, ylabel=ylabel, log=log: _draw_epochs(ax, hs, field,
                                                                           ylabel, log),
            same_y=True)
    return figures


def plot_comparison(title, histories, out, eval_split="test", groups=None):
    """Write ``lr.png``, ``train_loss.png`` and ``eval_acc.png`` for a comparison.

    Args:
      title: figure title prefix.
      histories: ``label -> [History per seed]``; curves are means over seeds
        with a min-max band (see :func:`comparison_figures`).
      out: directory to write into (created if missing).
      eval_split: ``test`` or ``validation`` (axis label).
      groups: panels, as for :func:`comparison_figures`.

    Returns:
      The list of files written.
    """
    out = pathlib.Path(out)
    written = []
    for name, fig in comparison_figures(title, histories, eval_split, groups).items():
        write_figure(fig, out / name)
        written.append(out / name)
    return written


def sweep_figures(result, metric=None, title="sweep", eval_split="test", top=TOP_CONFIGS):
    """The figures of a :class:`jaxlr.sweep.SweepResult`, ``file name -> Figure``.

    - one swept hyperparameter: ``final.png``, the final metric against it
      (log axis when it spans decades), mean over seeds with a min-max band,
      diverged configurations marked at the bottom;
    - two: ``heatmap.png`` of the mean final metric, at most
      :data:`MAX_TICK_LABELS` labels per axis, the best configuration starred;
    - ``curves.png`` whenever the metric has an epoch axis: the metric per
      epoch (mean over seeds) of the ``top`` best configurations, labelled
      with every swept value and their final metric, over the 10-90%
      quantile envelope and median of all configurations (min-max when there
      are fewer than 20); with at most ``top`` configurations, all of them.

    ``metric`` defaults to ``result.default_metric()``; accuracies rank higher
    first, losses lower first, as :meth:`SweepResult.ranking` does.
    """
    metric = metric or result.default_metric()
    label = f"final {eval_split} {metric.split('_', 1)[1]}" if "_" in metric else metric
    names = list(result.swept)
    figures = {}
    if len(names) == 1:
        figures["final.png"] = _final_figure(result, metric, names[0], label, title)
    elif len(names) == 2:
        figures["heatmap.png"] = _heatmap_figure(result, metric, names, label, title)
    if np.ndim(getattr(result, metric)) == 3:
        figures["curves.png"] = _sweep_curves_figure(result, metric, label.replace("final ", ""),
                                                     title, top)
    return figures


def plot_sweep(result, out, metric="eval_acc", title="sweep", eval_split="test",
               top=TOP_CONFIGS):
    """Write the figures of :func:`sweep_figures` into ``out`` (created if missing).

    Returns the list of files written.
    """
    out = pathlib.Path(out)
    written = []
    for name, fig in sweep_figures(result, metric, title, eval_split, top).items():
        write_figure(fig, out / name)
        written.append(out / name)
    return written


# --- comparison figures ------------------------------------------------------------------------


def _panels(histories, groups):
    """``[(heading or None, label -> histories)]``: the groups that have runs, or one of all."""
    if not groups:
        return [(None, histories)]
    panels = [(heading, {label: histories[label] for label in labels if label in histories})
              for heading, labels in groups]
    return [(heading, hs) for heading, hs in panels if hs]


def _panel_figure(title, what, panels, draw, same_y=False):
    """One axes per panel, stacked; ``draw(ax, histories)`` fills each.

    ``same_y``: the panels get one y range (and scale), so that their curves compare.
    """
    fig = Figure(figsize=(10, 4.2 if len(panels) == 1 else 3.6 * len(panels)), dpi=120,
                 layout="constrained")
    axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
    for i, (ax, (heading, hs)) in enumerate(zip(axes, panels)):
        draw(ax, hs)
        text = f"{title}: {what}" if i == 0 else ""
        if heading:
            text = f"{text}\n{heading}" if text else heading
        _title(ax, text)
    if same_y and len(axes) > 1:
        log = any(ax.get_yscale() == "log" for ax in axes)
        lows, highs = zip(*(ax.get_ylim() for ax in axes))
        for ax in axes:
            if log:
                ax.set_yscale("log")
            ax.set_ylim(min(lows), max(highs))
    return fig


def _draw_lr(ax, histories):
    curves = {}
    for label, hs in histories.items():
        lr = np.concatenate([np.asarray(e, dtype=float).ravel() for e in hs[0].lr]) \
            if hs[0].lr else np.zeros(0)
        curves[label] = (np.arange(len(lr)), lr)
    _draw_lines(ax, curves, same="lr")
    rates = [lr for _, lr in curves.values()]
    positive = np.concatenate([r[np.isfinite(r) & (r > 0)] for r in rates] or [[]])
    # adaptive methods' lrs (d x lr) sit decades below SGD's
    spans = positive.size and positive.max() >= 100 * positive.min()
    _fit_axis(ax, "y", rates, log=bool(spans), from_zero=True)
    ax.xaxis.set_major_locator(_integer_ticks())
    ax.set_xlabel("step (updates applied)")
    ax.set_ylabel("learning rate used")
    _finish(ax)


def _draw_epochs(ax, histories, field, ylabel, log):
    stats = {label: _seed_stats(hs, field) for label, hs in histories.items()}
    stats = {label: s for label, s in stats.items() if s is not None}
    lines = _draw_lines(ax, {label: (epochs, mean) for label, (epochs, mean, *_) in stats.items()},
                        same="curve")
    seeds = sorted({n for *_, n in stats.values() if n > 1})
    for label, (epochs, _, lo, hi, n) in stats.items():
        if n > 1:
            _band(ax, epochs, lo, hi, color=lines[label].get_color(), alpha=0.2, epochs=True)
    extra = []
    if seeds:
        count = f"{seeds[0]} seeds" if len(seeds) == 1 else "seeds"
        extra.append(Patch(facecolor="grey", alpha=0.35, label=f"shaded: min-max over {count}"))
    _fit_axis(ax, "y", [v for s in stats.values() for v in s[1:4]], log=log)
    _epoch_axis(ax, max((len(s[0]) for s in stats.values()), default=1))
    ax.set_ylabel(f"{ylabel} (mean over seeds)" if seeds else ylabel)
    _finish(ax, extra)


def _seed_stats(hs, field):
    """``(epochs, mean, min, max, seeds)`` over the epochs every seed reached, or None."""
    values = [np.asarray(getattr(h, field), dtype=float) for h in hs]
    n = min(len(v) for v in values)
    if n == 0:
        return None
    stacked = np.stack([v[:n] for v in values])
    return np.arange(1, n + 1), stacked.mean(0), stacked.min(0), stacked.max(0), len(hs)


# --- sweep figures -----------------------------------------------------------------------------


def _mean_over_seeds(values):
    """Mean over axis 1 of the finite values; NaN where a configuration has none."""
    values = np.asarray(values, dtype=float)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)  # all-diverged configurations
        return np.nanmean(np.where(np.isfinite(values), values, np.nan), 1)


def _final_figure(result, metric, name, label, title):
    final = result.final(metric)
    x = np.array([c[name] for c in result.configs], dtype=float)
    order = np.argsort(x)
    mean = _mean_over_seeds(final)
    fig, ax = _new_axes(figsize=(8, 4.2))
    few = len(x) <= FEW_POINTS
    ax.plot(x[order], mean[order], marker="o", markersize=5 if few else 2.5, linewidth=1.4,
            label="mean over seeds")
    if final.shape[1] > 1:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            lo, hi = np.nanmin(final, 1), np.nanmax(final, 1)
        _band(ax, x[order], lo[order], hi[order], alpha=0.25, label="min-max over seeds")
    diverged = (np.asarray(result.diverged_step) >= 0).any(1) \
        if "diverged_step" in result.metrics else np.zeros(len(x), bool)
    if diverged.any():
        bottom = np.nanmin(final) if np.isfinite(final).any() else 0.0
        ax.scatter(x[diverged], np.full(diverged.sum(), bottom), marker="x", color="C3",
                   label="diverged")
    _fit_axis(ax, "x", [x], log=True)
    ax.set_xlabel(name)
    ax.set_ylabel(label)
    _title(ax, title)
    ax.grid(True, alpha=0.3, which="both")
    ax.legend(fontsize="small")
    return fig


def _heatmap_figure(result, metric, names, label, title):
    a, b = names
    xs = sorted({c[a] for c in result.configs})
    ys = sorted({c[b] for c in result.configs})
    grid = np.full((len(ys), len(xs)), np.nan)
    mean = _mean_over_seeds(result.final(metric))
    for k, c in enumerate(result.configs):
        grid[ys.index(c[b]), xs.index(c[a])] = mean[k]
    fig, ax = _new_axes(figsize=(8, 5.5))
    image = ax.pcolormesh(np.arange(len(xs) + 1), np.arange(len(ys) + 1), grid,
                          cmap="viridis", shading="flat")
    fig.colorbar(image, ax=ax, label=f"{label} (mean over seeds; blank: diverged)")
    best, best_mean, *_ = result.ranking(metric)[0]
    if math.isfinite(best_mean):
        ax.plot(xs.index(best[a]) + 0.5, ys.index(best[b]) + 0.5, linestyle="none", marker="*",
                markersize=14, color="white", markeredgecolor="black",
                label=f"best: {_config_label(best, names)}: {best_mean:.4g}")
        fig.legend(fontsize="small", loc="outside lower center", frameon=False)
    _label_cells(ax.xaxis, xs)
    _label_cells(ax.yaxis, ys)
    ax.set_xlabel(a)
    ax.set_ylabel(b)
    _title(ax, title)
    _unclutter_x_labels(fig, ax)
    return fig


def _label_cells(axis, values):
    """Label at most :data:`MAX_TICK_LABELS` cell centres, evenly spread, compactly formatted."""
    idx = _thinned(len(values))
    axis.set_ticks(idx + 0.5, _tick_labels([values[i] for i in idx]))


def _thinned(n, most=MAX_TICK_LABELS):
    """Every ``ceil(n / most)``-th index from 0: at most ``most`` of them, evenly spaced."""
    return np.arange(0, n, max(1, math.ceil(n / most)))


def _unclutter_x_labels(fig, ax):
    """Tilt the x labels when, drawn level, two of them overlap."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig).draw()
    boxes = [t.get_window_extent() for t in ax.get_xticklabels() if t.get_text()]
    if any(p.overlaps(q) for p, q in zip(boxes, boxes[1:])):
        for text in ax.get_xticklabels():
            text.set_rotation(40)
            text.set_horizontalalignment("right")
            text.set_rotation_mode("anchor")


def _sweep_curves_figure(result, metric, ylabel, title, top):
    curves = _mean_over_seeds(getattr(result, metric))
    epochs = np.arange(1, curves.shape[1] + 1)
    index = {id(c): k for k, c in enumerate(result.configs)}
    ranked = [(index[id(c)], mean, diverged) for c, mean, _, diverged in result.ranking(metric)]
    names = list(result.swept)
    best = {}
    for rank, (k, mean, diverged) in enumerate(ranked[:top]):
        final = f"{mean:.4g}" if math.isfinite(mean) else "diverged"
        if diverged and math.isfinite(mean):
            final += f" ({diverged} of {len(result.seeds)} seeds diverged)"
        best[f"{rank + 1}. {_config_label(result.configs[k], names)}: {final}"] = (epochs,
                                                                                   curves[k])
    fig, ax = _new_axes(figsize=(10, 4.2))
    _draw_lines(ax, best, same="curve", names={label: "#" + label.split(".")[0] for label in best})
    drawn, extra = [y for _, y in best.values()], []
    if len(ranked) > top:
        envelope, patch = _envelope(ax, epochs, curves)
        drawn, extra = [*drawn, *envelope], [patch]
    _fit_axis(ax, "y", drawn, log="loss" in metric)
    _epoch_axis(ax, len(epochs))
    ax.set_ylabel(f"{ylabel} (mean over seeds)")
    what = f"best {top} of {len(ranked)}" if len(ranked) > top else f"all {len(ranked)}"
    _title(ax, f"{title}: learning curves, {what} configurations")
    _finish(ax, extra)
    return fig


def _envelope(ax, epochs, curves):
    """Grey band and median of every configuration's curve: ``(lo, median, hi)``, band legend.

    With fewer than 20 curves a 10-90% quantile is an interpolation between two
    of them, so the band is then the plain min-max.
    """
    n = len(curves)
    q = (10, 90) if n >= 20 else (0, 100)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # epochs where every config diverged
        lo, mid, hi = np.nanpercentile(curves, (q[0], 50, q[1]), axis=0)
    what = "10-90% quantile" if q == (10, 90) else "min-max"
    _band(ax, epochs, lo, hi, color="0.6", alpha=0.3, zorder=1, epochs=True)
    ax.plot(epochs, mid, color="0.35", linestyle="--", linewidth=1.2, zorder=1.5,
            label=f"median of all {n} configs", **_markers(len(epochs), size=3))
    return (lo, mid, hi), Patch(facecolor="0.6", alpha=0.3,
                                label=f"shaded: {what} of all {n} configs")


def _config_label(config, names):
    return ", ".join(f"{n}={_number(config[n])}" for n in names)


def _number(value):
    return f"{value:.3g}" if isinstance(value, (int, float, np.number)) else str(value)


# --- shared pieces -----------------------------------------------------------------------------


def _new_axes(figsize):
    fig = Figure(figsize=figsize, dpi=120, layout="constrained")
    return fig, fig.add_subplot()


def _title(ax, text, width=64):
    # experiment titles run long ("ionosphere: sweep of lr, decay (other settings of run
    # ...)"); past about 64 characters one line is wider than the axes of these figures
    ax.set_title("\n".join(textwrap.fill(line, width, break_on_hyphens=False)
                           for line in text.split("\n")))


def _finish(ax, extra=()):
    """Grid, and a legend right of the axes (labels can be long) with the ``extra`` handles last."""
    ax.grid(True, alpha=0.3)
    handles = [*ax.get_legend_handles_labels()[0], *extra]
    if handles:
        ax.legend(handles=handles, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False)


def _markers(n, size=4):
    return {"marker": "o", "markersize": size} if n <= FEW_POINTS else {}


def _draw_lines(ax, curves, same, names=None, linewidth=1.6):
    """Draw ``label -> (x, y)``; returns ``label -> Line2D``.

    A curve equal to an earlier one would hide it, so the group of equal curves
    is drawn as the first solid and the others in interleaved dashes on top:
    with ``n`` equal curves each colour shows on 1/n of the line. The legend
    says "(same ``same`` as FIRST)", FIRST given by ``names[label]`` if any.
    """
    lines = {}
    for (label, (x, y)), (first, member, size) in zip(curves.items(), _equal_groups(curves)):
        style, shown = _markers(len(x)), label
        if member:
            # member i of n: a dash of one unit in every n, shifted by i-1 units
            style["linestyle"] = ((member - 1) * _DASH, (_DASH, (size - 1) * _DASH))
            first = (names or {}).get(first, first)
            shown = f"{label} (same {same} as {first})" if same else f"{label} (same as {first})"
        if size > 1 and style.get("marker"):
            # equal points: each later marker smaller and of another shape, so all show
            style.update(marker=_MARKERS[member % len(_MARKERS)],
                         markersize=4 + 2.5 * (size - 1 - member))
        lines[label], = ax.plot(x, y, label=shown, linewidth=linewidth, **style)
    return lines


def _equal_groups(curves):
    """Per curve: ``(label of the first equal curve, index in its group, group size)``."""
    firsts, groups = [], []
    for label, (x, y) in curves.items():
        for first in firsts:
            fx, fy = curves[first]
            if np.shape(fy) == np.shape(y) and np.array_equal(fx, x) and \
                    np.allclose(fy, y, rtol=1e-6, atol=0, equal_nan=True):
                groups.append(first)
                break
        else:
            firsts.append(label)
            groups.append(label)
    out = []
    for label, first in zip(curves, groups):
        members = [m for m, f in zip(curves, groups) if f == first]
        out.append((first, members.index(label), len(members)))
    return out


def _band(ax, x, lo, hi, epochs=False, **kwargs):
    """``fill_between``; over a single epoch, where it would have no width, a bar around it."""
    x = np.asarray(x, dtype=float)
    if epochs and len(x) == 1:
        x, lo, hi = x[0] + np.array([-0.08, 0.08]), np.repeat(lo, 2), np.repeat(hi, 2)
    return ax.fill_between(x, lo, hi, linewidth=0, **kwargs)


def _integer_ticks():
    # min_n_ticks=1: with the default 2, a one-epoch axis falls back to fractional ticks
    return MaxNLocator(integer=True, min_n_ticks=1)


def _epoch_axis(ax, num_epochs):
    """Integer epoch ticks, with room either side of runs too short for automatic margins."""
    ax.xaxis.set_major_locator(_integer_ticks())
    if num_epochs <= 3:
        ax.set_xlim(0.5, num_epochs + 0.5)
    ax.set_xlabel("epoch")


def _fit_axis(ax, which, arrays, log=False, from_zero=False):
    """Scale and limits of the ``which`` ("x" or "y") axis for the finite values drawn on it.

    Log scale (when ``log``) only where the positive values span a decade: over
    less, and for a single value, a log axis shows one labelled tick or none,
    while a linear one gets evenly labelled ticks (matplotlib frames a single
    value within 5% of it). ``from_zero`` starts a non-negative axis at zero.
    """
    values = np.concatenate([np.asarray(a, dtype=float).ravel() for a in arrays] or [[]])
    values = values[np.isfinite(values)]
    if values.size == 0:
        return
    positive = values[values > 0]
    if log and positive.size and positive.max() >= 10 * positive.min():
        getattr(ax, f"set_{which}scale")("log")
    elif from_zero and values.min() >= 0 and values.max() > 0:
        getattr(ax, f"set_{which}lim")(0, values.max() * 1.05)


def _tick_labels(values):
    """Short labels that tell ``values`` apart: exact when three digits say a value
    (``0.125``, ``128``), else the fewest digits within 5% of it.

    Values spanning a decade or more, or very small or large, read as ``1e-3``
    (the exponent without padding); others positionally (``0.05``, ``128``).
    """
    if not all(isinstance(v, (int, float, np.number)) for v in values):
        return [str(v) for v in values]
    values = np.asarray(values, dtype=float)
    size = np.abs(values[values != 0])
    scientific = size.size > 0 and (size.max() >= 10 * size.min() and (values > 0).all()
                                    or size.max() < 1e-3 or size.max() >= 1e5)
    exact = [_exact_label(v, scientific) for v in values]
    for digits in range(1, 7):
        labels = [e or _short(v, digits, scientific) for e, v in zip(exact, values)]
        if len(set(labels)) == len(labels) and all(
                abs(float(t) - v) <= 0.05 * abs(v) for t, v in zip(labels, values)):
            break
    return labels


def _exact_label(value, scientific):
    """The label of ``value`` with at most three digits that reads back as it, or None."""
    for digits in range(1, 4):
        label = _short(value, digits, scientific)
        if math.isclose(float(label), value, rel_tol=1e-9):
            return label
    return None


def _short(value, digits, scientific):
    if scientific and value != 0:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        if "." in mantissa:
            mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return np.format_float_positional(value, precision=digits, unique=True, fractional=False,
                                      trim="-")


def write_figure(fig, path):
    """Write ``fig`` to ``path`` atomically (folders created), in the format its suffix names."""
    atomic_write_bytes(path, _figure_bytes(fig, pathlib.Path(path).suffix[1:].lower() or "png"))


def _figure_bytes(fig, fmt="png"):
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format=fmt)
    return buf.getvalue()
