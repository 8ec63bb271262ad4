"""Figures read at any size: one-epoch runs, equal curves, crowded heatmaps, big sweeps.

Inputs are small hand-built histories and sweep results; nothing is trained.
The figures' artists (lines, markers, ticks, legend texts, label boxes) are
checked, as well as the files written.
"""

import re

import numpy as np
import optax
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import PolyCollection

from jaxlr import plot
from jaxlr.engine.driver import History
from jaxlr.sweep.results import SweepResult

PNG = b"\x89PNG\r\n\x1a\n"


def _history(train_loss, eval_acc, lr):
    """A run's history; ``lr`` is ``[epoch, step]``."""
    n = len(train_loss)
    return History(train_loss=list(train_loss), train_acc=list(eval_acc),
                   eval_loss=list(train_loss), eval_acc=list(eval_acc), lr=[list(e) for e in lr],
                   epoch_seconds=[1.0] * n)


def _comparison(epochs, seeds=2, steps=4):
    """Four runs; ``constant`` and ``also-constant`` use the same lr but train differently."""
    lrs = {"constant": lambda t: 0.01 + 0 * t, "also-constant": lambda t: 0.01 + 0 * t,
           "decay": lambda t: 0.01 / (1 + 0.1 * t), "exp": lambda t: 0.01 * 0.9 ** t}
    histories = {}
    for i, (label, lr) in enumerate(lrs.items()):
        t = np.arange(epochs * steps, dtype=float).reshape(epochs, steps)
        histories[label] = [
            _history(train_loss=(1 + 0.1 * i + 0.01 * s) * 0.8 ** np.arange(epochs),
                     eval_acc=0.5 + 0.05 * i + 0.01 * s + 0.01 * np.arange(epochs), lr=lr(t))
            for s in range(seeds)]
    return histories


def _lr_penalty(lr):
    """0 at lr=0.01, growing either side, unevenly so that no two curves are equal."""
    x = np.log10(lr / 1e-2)
    return (0.05 if x < 0 else 0.08) * x ** 2


def _sweep(axes, epochs=5, seeds=2, quality=None):
    """A grid sweep over ``axes`` (name -> values) with accuracy ``quality(config)`` at the end."""
    names = list(axes)
    mesh = np.meshgrid(*axes.values(), indexing="ij")
    configs = [dict(zip(names, map(float, v))) for v in zip(*(m.ravel() for m in mesh))]
    quality = quality or (lambda c: 0.9 - _lr_penalty(c["lr"]))
    final = np.array([quality(c) for c in configs])
    rise = 1 - np.exp(-np.arange(1, epochs + 1) / 2)
    acc = final[:, None, None] * rise / rise[-1] + 0.001 * np.arange(seeds)[None, :, None]
    metrics = dict(train_loss=1 - acc, train_acc=acc, eval_loss=1 - acc, eval_acc=acc,
                   diverged_step=-np.ones((len(configs), seeds), int))
    return SweepResult(swept=tuple(names), configs=configs, seeds=list(range(seeds)),
                       metrics=metrics, strategy="vmap", seconds=1.0, steps_per_epoch=10)


def _legend_texts(fig):
    legend = fig.axes[0].get_legend() or fig.legends[0]
    return [t.get_text() for t in legend.get_texts()]


def _data_lines(ax):
    return [line for line in ax.get_lines() if len(line.get_xdata())]


def _assert_integer_ticks(ax):
    lo, hi = ax.get_xlim()
    ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def _assert_apart(labels):
    """No two drawn tick labels' boxes overlap."""
    boxes = [t.get_window_extent() for t in labels if t.get_text()]
    for i, p in enumerate(boxes):
        for q in boxes[i + 1:]:
            assert not p.overlaps(q), (p, q)


# --- figure_path and plot_schedules ------------------------------------------------------------


def test_figure_path_appends_png_unless_the_suffix_is_a_format(tmp_path):
    assert plot.figure_path(tmp_path / "a" / "lr") == tmp_path / "a" / "lr.png"
    assert plot.figure_path(tmp_path / "lr.PNG") == tmp_path / "lr.PNG"
    assert plot.figure_path(tmp_path / "lr.svg") == tmp_path / "lr.svg"
    assert plot.figure_path(str(tmp_path / "run.v2")) == tmp_path / "run.v2.png"


def test_plot_schedules_creates_folders_and_appends_png(tmp_path):
    target = tmp_path / "new" / "deeper" / "schedules"
    fig = plot.plot_schedules({"cos": optax.cosine_decay_schedule(0.1, 50)}, 60, path=target)
    written = plot.figure_path(target)
    assert written == tmp_path / "new" / "deeper" / "schedules.png"
    assert written.read_bytes()[:8] == PNG
    assert not target.exists()
    assert sorted(p.name for p in written.parent.iterdir()) == ["schedules.png"]  # no temporaries
    assert fig.axes[0].get_legend() is not None


def test_plot_schedules_writes_the_format_its_suffix_names(tmp_path):
    plot.plot_schedules({"c": optax.constant_schedule(0.1)}, 5, path=tmp_path / "lr.svg")
    assert b"<svg" in (tmp_path / "lr.svg").read_bytes()[:500]


def test_equal_schedules_are_dashed_apart_and_named_in_the_legend():
    fig = plot.plot_schedules({"a": optax.constant_schedule(0.1),
                               "cos": optax.cosine_decay_schedule(0.1, 100),
                               "b": optax.constant_schedule(0.1),
                               "c": optax.constant_schedule(0.1)}, 100)
    lines = dict(zip(["a", "cos", "b", "c"], _data_lines(fig.axes[0])))
    assert lines["a"].get_linestyle() == "-" and lines["cos"].get_linestyle() == "-"
    assert lines["b"].get_linestyle() == "--" and lines["c"].get_linestyle() == "--"
    # b and c dash in turns over a: their dash patterns are offset from each other
    assert lines["b"]._dash_pattern != lines["c"]._dash_pattern
    assert _legend_texts(fig) == ["a", "cos", "b (same as a)", "c (same as a)"]


def test_a_one_step_schedule_is_a_marked_point_on_a_linear_axis():
    fig = plot.plot_schedules({"c": optax.constant_schedule(0.1)}, 1, log=True)
    ax = fig.axes[0]
    line, = _data_lines(ax)
    assert line.get_marker() == "o"
    assert ax.get_yscale() == "linear"  # one value: a log axis would show no labelled tick
    lo, hi = ax.get_ylim()
    assert lo < 0.1 < hi
    _assert_integer_ticks(ax)


def test_log_is_kept_where_the_schedule_spans_decades():
    fig = plot.plot_schedules({"exp": optax.exponential_decay(1.0, 10, 0.1)}, 40, log=True)
    assert fig.axes[0].get_yscale() == "log"


# --- comparisons -------------------------------------------------------------------------------


@pytest.mark.parametrize("epochs", [1, 2, 3])
def test_short_comparison_curves_have_markers_integer_epochs_and_linear_axes(epochs):
    figures = plot.comparison_figures("t", _comparison(epochs))
    for name in ("train_loss.png", "eval_acc.png"):
        ax = figures[name].axes[0]
        lines = _data_lines(ax)
        assert len(lines) == 4
        assert all(line.get_marker() not in (None, "None", "") for line in lines)
        _assert_integer_ticks(ax)
        lo, hi = ax.get_xlim()
        assert lo <= 0.5 and hi >= epochs + 0.5  # a point or band at either end is not cut
        # the losses span less than a decade: a linear axis, with labelled ticks
        assert ax.get_yscale() == "linear"
        assert len([t for t in ax.get_yticks() if ax.get_ylim()[0] <= t <= ax.get_ylim()[1]]) >= 3
    lr_lines = _data_lines(figures["lr.png"].axes[0])
    assert all(line.get_marker() not in (None, "None", "") for line in lr_lines)
    # the two equal lr curves: different marker shapes, the later one smaller
    assert lr_lines[0].get_marker() != lr_lines[1].get_marker()
    assert lr_lines[0].get_markersize() > lr_lines[1].get_markersize()


def test_a_single_value_gets_limits_around_it():
    h = {"one": [_history([0.7], [0.5], [[0.01]])]}
    figures = plot.comparison_figures("t", h)
    for name, value in (("train_loss.png", 0.7), ("eval_acc.png", 0.5), ("lr.png", 0.01)):
        lo, hi = figures[name].axes[0].get_ylim()
        assert lo < value < hi and hi - lo > 0.05 * value, name


def test_long_comparisons_drop_markers_and_keep_log_loss_across_decades():
    figures = plot.comparison_figures("t", _comparison(30, steps=5))
    ax = figures["train_loss.png"].axes[0]
    assert ax.get_yscale() == "log"  # 0.8**29: three decades
    assert all(line.get_marker() in (None, "None", "") for line in _data_lines(ax))
    _assert_integer_ticks(ax)


def test_identical_lr_runs_are_distinguishable_and_named():
    fig = plot.comparison_figures("t", _comparison(3))["lr.png"]
    lines = _data_lines(fig.axes[0])
    assert [line.get_linestyle() for line in lines] == ["-", "--", "-", "-"]
    assert lines[0].get_color() != lines[1].get_color()
    assert _legend_texts(fig)[1] == "also-constant (same lr as constant)"
    assert sum("same" in t for t in _legend_texts(fig)) == 1


def test_the_seed_band_is_explained_once_in_the_legend():
    figures = plot.comparison_figures("t", _comparison(5, seeds=3))
    for name in ("train_loss.png", "eval_acc.png"):
        ax = figures[name].axes[0]
        bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
        assert len(bands) == 4
        texts = _legend_texts(figures[name])
        assert [t for t in texts if "shaded" in t] == ["shaded: min-max over 3 seeds"]
        assert "mean over seeds" in ax.get_ylabel()


def test_one_seed_has_no_band_and_no_band_legend():
    figures = plot.comparison_figures("t", _comparison(5, seeds=1))
    ax = figures["train_loss.png"].axes[0]
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert not any("shaded" in t for t in _legend_texts(figures["train_loss.png"]))


def test_plot_comparison_writes_its_three_files(tmp_path):
    written = plot.plot_comparison("t", _comparison(1), tmp_path / "new")
    assert [p.name for p in written] == ["lr.png", "train_loss.png", "eval_acc.png"]
    assert all(p.read_bytes()[:8] == PNG for p in written)


# --- sweeps ------------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [12, 25, 40])
def test_heatmap_tick_labels_are_few_compact_and_apart(n):
    lrs = np.geomspace(1e-4, 1.0, n)
    decays = np.linspace(0.0, 0.01, n)
    fig = plot.sweep_figures(_sweep({"lr": lrs, "decay": decays}, epochs=2))["heatmap.png"]
    FigureCanvasAgg(fig).draw()
    ax = fig.axes[0]
    for labels, values, pattern in ((ax.get_xticklabels(), lrs, r"^\d(\.\d)?e-?\d$"),
                                    (ax.get_yticklabels(), decays, r"^0(\.\d{1,4})?$")):
        texts = [t.get_text() for t in labels]
        assert 2 <= len(texts) <= plot.MAX_TICK_LABELS, texts
        assert all(re.match(pattern, t) for t in texts), texts
        # each label names the value of its cell (tick at the centre of cell i)
        for tick, text in zip(ax.get_xticks() if values is lrs else ax.get_yticks(), texts):
            value = values[int(tick)]
            assert abs(float(text) - value) <= 0.05 * abs(value), (text, value)
        _assert_apart(labels)


def test_heatmap_stars_the_best_configuration():
    r = _sweep({"lr": np.geomspace(1e-4, 1, 9), "decay": [0.0, 0.01]},
               quality=lambda c: 0.9 - _lr_penalty(c["lr"]) - c["decay"])
    fig = plot.sweep_figures(r)["heatmap.png"]
    assert _legend_texts(fig) == ["best: lr=0.01, decay=0: 0.9005"]


def _legend_lines(texts):
    return [t for t in texts if re.match(r"^\d+\. ", t)]


def test_curves_of_300_configs_show_the_best_k_over_a_band():
    r = _sweep({"lr": np.geomspace(1e-4, 1.0, 25), "decay": np.linspace(0, 0.011, 12)},
               quality=lambda c: 0.9 - _lr_penalty(c["lr"]) - c["decay"])
    assert len(r.configs) == 300
    fig = plot.sweep_figures(r, top=5)["curves.png"]
    ax = fig.axes[0]
    assert len(_data_lines(ax)) <= 5 + 2
    assert [c for c in ax.collections if isinstance(c, PolyCollection)]
    texts = _legend_texts(fig)
    best = _legend_lines(texts)
    assert len(best) == 5 and all("lr=" in t and "decay=" in t for t in best)
    assert best[0] == "1. lr=0.01, decay=0: 0.9005"
    assert any("10-90% quantile of all 300 configs" in t for t in texts)
    assert any("median of all 300" in t for t in texts)


def test_curves_rank_losses_lowest_first():
    r = _sweep({"lr": np.geomspace(1e-4, 1.0, 25)})
    fig = plot.sweep_figures(r, metric="eval_loss", top=3)["curves.png"]
    best = _legend_lines(_legend_texts(fig))
    assert len(best) == 3 and best[0] == "1. lr=0.01: 0.0995"


def test_few_configurations_are_all_drawn_and_labelled():
    r = _sweep({"lr": [0.001, 0.01, 0.1]}, epochs=1)
    fig = plot.sweep_figures(r, top=5)["curves.png"]
    ax = fig.axes[0]
    lines = _data_lines(ax)
    assert len(lines) == 3 and all(line.get_marker() == "o" for line in lines)
    assert not [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(_legend_lines(_legend_texts(fig))) == 3
    _assert_integer_ticks(ax)


def test_a_diverged_seed_is_named_in_the_curves_legend():
    r = _sweep({"lr": [0.001, 0.01]}, epochs=2)
    r.metrics["diverged_step"][1, 0] = 3
    best = _legend_lines(_legend_texts(plot.sweep_figures(r)["curves.png"]))
    assert best[1].endswith("(1 of 2 seeds diverged)")


def test_final_of_one_short_configuration_is_marked_and_framed():
    r = _sweep({"lr": [0.01]}, epochs=1, seeds=1)
    ax = plot.sweep_figures(r)["final.png"].axes[0]
    line, = _data_lines(ax)
    assert line.get_marker() == "o"
    for limits, value in ((ax.get_xlim(), 0.01), (ax.get_ylim(), r.final("eval_acc")[0, 0])):
        assert limits[0] < value < limits[1]
    assert ax.get_xscale() == "linear"


def test_plot_sweep_writes_and_returns_its_files(tmp_path):
    one = plot.plot_sweep(_sweep({"lr": np.geomspace(1e-3, 1, 5)}), tmp_path / "one")
    two = plot.plot_sweep(_sweep({"lr": [0.01, 0.1], "decay": [0, 0.1]}), tmp_path / "two")
    assert [p.name for p in one] == ["final.png", "curves.png"]
    assert [p.name for p in two] == ["heatmap.png", "curves.png"]
    assert all(p.read_bytes()[:8] == PNG for p in one + two)
