"""Run a schedule comparison and write its results (JSON, CSV, Markdown, PNGs).

A :class:`Comparison` is data: dataset, model, batch size, epochs and its
:class:`Run` s. :func:`run_comparison` trains every run for every seed,
resuming whatever an interrupted call left (finished runs are kept as JSON,
the run in progress as a per-epoch checkpoint), and writes into ``out``:

- ``config.json``: the comparison, overrides, device, versions, wall times;
- ``metrics.json`` / ``metrics.csv``: per run, seed and epoch;
- ``results.md``: final and best accuracy per run (mean and spread over seeds)
  next to the published numbers;
- ``lr.png``, ``train_loss.png``, ``eval_acc.png``.

Every file is written atomically.
"""

from __future__ import annotations

import csv
import dataclasses
import datetime
import io
import json
import pathlib
import platform
import re
import shlex
from typing import Any, Callable, Mapping

import numpy as np

from jaxlr._io import atomic_write_text

__all__ = ["Comparison", "Run", "run_comparison"]


@dataclasses.dataclass(frozen=True)
class Run:
    """One line of a comparison: an optimizer, its hyperparameters and a schedule.

    ``schedule`` is ``(hparams, ScheduleInfo) -> optax.Schedule`` (``None``:
    the constant ``hparams["lr"]``); every number in ``hparams`` is traced.
    ``source``: where the settings come from (a paper, a reference README),
    for runs that are not the reference experiment's own.
    """

    label: str
    optimizer: str
    hparams: Mapping[str, float]
    schedule: Callable[..., Any] | None = None
    description: str = "constant"
    nesterov: bool = False
    plateau: Mapping[str, Any] | None = None
    source: str = ""

    @property
    def slug(self):
        return re.sub(r"[^a-z0-9]+", "-", self.label.lower()).strip("-")


@dataclasses.dataclass(frozen=True)
class Comparison:
    name: str
    title: str
    dataset: str
    model: str
    batch_size: int
    epochs: int
    seed: int
    runs: tuple
    published: Mapping[str, float] = dataclasses.field(default_factory=dict)
    published_spread: Mapping[str, float] = dataclasses.field(default_factory=dict)
    published_note: str = ""
    seed_note: str = ""  # why the first seed is what it is, for the progress line
    # runs beyond the reference experiment's (modern optimizers and schedules),
    # each held against the best of ``runs`` in results.md
    modern_runs: tuple = ()

    @property
    def all_runs(self):
        """The reference experiment's runs, then the modern ones."""
        return tuple(self.runs) + tuple(self.modern_runs)

    def uses_published_budget(self, epochs, dataset=None, max_train=None):
        """Whether a run with these settings is comparable with the published numbers."""
        return epochs == self.epochs and dataset in (None, self.dataset) and max_train is None

    @property
    def doc(self):
        import importlib

        module = importlib.import_module(f"jaxlr.comparisons.{self.name.replace('-', '_')}")
        return (module.__doc__ or "").strip()




def _versions():
    import jax
    import optax

    versions = {"python": platform.python_version(), "jax": jax.__version__,
                "optax": optax.__version__}
    try:
        import flax

        versions["flax"] = flax.__version__
    except ImportError:
        pass
    import jaxlr

    versions["jaxlr"] = jaxlr.__version__
    return versions


def _device():
    import os

    import jax

    d = jax.devices()[0]
    if d.platform == "cpu":
        return f"CPU ({os.cpu_count()} cores, {platform.machine()}, no accelerator)"
    return f"{d.platform.upper()}: {getattr(d, 'device_kind', str(d))} x{jax.device_count()}"


def _epochs(comparison, epochs):
    if epochs is not None and epochs < 1:
        raise ValueError(f"jaxlr: epochs must be >= 1, got {epochs!r}")
    return epochs or comparison.epochs


def load_data(comparison, dataset=None, data_dir=None, max_train=None, max_eval=None):
    """The comparison's dataset (or ``dataset``), optionally cut to its first
    ``max_train`` training and ``max_eval`` validation/test examples."""
    from jaxlr import data as data_lib

    return data_lib.subset(data_lib.load(dataset or comparison.dataset, data_dir), max_train,
                           max_eval)


def train_config(comparison, run, epochs=None):
    """The :class:`jaxlr.engine.TrainConfig` of one run of a comparison."""
    from jaxlr.engine import TrainConfig

    return TrainConfig(model=comparison.model, epochs=_epochs(comparison, epochs),
                       batch_size=comparison.batch_size, optimizer=run.optimizer,
                       nesterov=run.nesterov, schedule=run.schedule, plateau=run.plateau,
                       name=f"{comparison.name}/{run.label}")


def select_runs(comparison, names=None):
    """The runs of ``comparison`` that ``names`` names, in the comparison's order.

    ``names``: run labels (or their slugs, e.g. ``cosine-warmup``), and the
    groups ``reference`` (the experiment's own runs) and ``modern``; ``None``:
    every run.
    """
    if names is None:
        return comparison.all_runs
    if isinstance(names, str):
        names = [names]
    groups = {"reference": comparison.runs, "modern": comparison.modern_runs}
    chosen = set()
    for name in names:
        key = name.strip()
        if key in groups:
            chosen.update(r.label for r in groups[key])
            continue
        match = [r for r in comparison.all_runs if key in (r.label, r.slug)]
        if not match:
            raise ValueError(f"{comparison.name} has no run {key!r}; its runs: "
                             f"{[r.label for r in comparison.all_runs]}, or 'reference' / "
                             "'modern'")
        chosen.add(match[0].label)
    if not chosen:
        raise ValueError(f"no run of {comparison.name} selected by {list(names)!r}")
    return tuple(r for r in comparison.all_runs if r.label in chosen)


def find_run(comparison, label=None):
    """A run of a comparison by label (default: the first)."""
    if label is None:
        return comparison.runs[0]
    for run in comparison.all_runs:
        if run.label == label:
            return run
    raise ValueError(f"jaxlr: {comparison.name} has no run {label!r}; runs: "
                     f"{[r.label for r in comparison.all_runs]}")


def run_comparison(comparison, *, epochs=None, seeds=1, dataset=None, data_dir=None, out=None,
                   max_train=None, max_eval=None, progress=True, log=None, command=None,
                   strategy="auto", store=None, runs=None):
    """Train every run of ``comparison`` for ``seeds`` seeds and write the results.

    Args:
      comparison: a :class:`Comparison`.
      epochs: override of the number of epochs.
      seeds: seeds per run (``comparison.seed``, ``+1``, ...).
      dataset: override of the dataset (e.g. ``cifar10`` when its files are given).
      data_dir: where the dataset files are (see :func:`jaxlr.data.load`).
      out: results directory (default ``jaxlr-results/NAME``).
      max_train: train on the first ``max_train`` examples only (a smaller run;
        recorded in ``config.json`` and ``results.md``).
      max_eval: evaluate on the first ``max_eval`` validation/test examples only.
      progress: show progress bars (one per run: its name, seeds, epoch,
        loss, accuracy and lr); result lines are printed above them.
      log: where to print one line per finished run (default: print, above
        the progress bars).
      command: the command line that ran this, for the records (default: the
        ``jaxlr compare`` line equivalent to these arguments).
      strategy: how several seeds run (``jaxlr.sweep.STRATEGIES``): ``auto``
        vmaps them into one program where that is faster (dense models,
        accelerators) and runs them one after another otherwise.

      store: the run store (a :class:`jaxlr.engine.RunStore` or a directory;
        default ``OUT/store``).
      runs: which runs (see :func:`select_runs`; default all); results.md
        and the figures hold those.

    Every run is saved to the run store after every epoch, under
    everything that determines its numbers; an interrupted call resumes, a
    repeated one reuses what is finished, and a changed one recomputes.

    Returns:
      A dict ``label -> list of History`` (one per seed).
    """
    from jaxlr import engine, sweep as sweep_lib
    from jaxlr.engine import backend
    from jaxlr.engine.driver import write_above_bars
    from jaxlr.engine.store import RunStore, as_store

    if not isinstance(seeds, int) or seeds < 1:
        raise ValueError(f"jaxlr compare: seeds must be >= 1, got {seeds!r}")
    if log is None:
        log = write_above_bars if progress else print
    epochs = _epochs(comparison, epochs)
    selected = select_runs(comparison, runs)
    dataset_name = dataset or comparison.dataset
    out = pathlib.Path(out or pathlib.Path("jaxlr-results") / comparison.name)
    ds = load_data(comparison, dataset, data_dir, max_train, max_eval)
    if command is None:
        command = " ".join(["jaxlr compare", comparison.name]
                           + [f"--{k.replace('_', '-')} {v}" for k, v in
                              dict(epochs=epochs if epochs != comparison.epochs else None,
                                   seeds=seeds if seeds != 1 else None, dataset=dataset,
                                   data_dir=data_dir, max_train=max_train,
                                   max_eval=max_eval, out=out,
                                   runs=None if runs is None else shlex.quote(",".join(
                                       r.label for r in selected))).items()
                              if v is not None])
    settings = dict(command=command, comparison=comparison.name, dataset=dataset_name,
                    data_source=ds.source,
                    epochs=epochs, seeds=seeds, batch_size=comparison.batch_size,
                    runs_selected=[r.label for r in selected],
                    model=comparison.model, train_examples=len(ds.x_train),
                    eval_examples=len(ds.eval_split[0]), eval_split=ds.eval_split[2],
                    published_budget=comparison.uses_published_budget(epochs, dataset,
                                                                      max_train))
    store = RunStore(out / "store", log=log) if store is None else as_store(store)
    seed_list = list(range(comparison.seed, comparison.seed + seeds))
    plan = []
    for run in selected:
        trainer = engine.make_train(train_config(comparison, run, epochs), ds)
        chosen = backend.choose_strategy(trainer, strategy)
        plan.append((run, trainer, len(seed_list) > 1 and chosen in ("vmap", "sharded"), chosen))
    log(_plan_line(comparison, plan, seed_list, store, epochs))
    histories, wall = {}, {}
    for i, (run, trainer, batched, chosen) in enumerate(plan):
        def label(seeds):
            return progress and f"[{i + 1}/{len(plan)}] {run.label}, {sweep_lib.seeds_text(seeds)}"

        if batched:
            # all seeds as one vmapped program, saved every epoch like a single run
            result = sweep_lib.sweep(trainer, [dict(run.hparams)], seeds=seed_list,
                                     strategy=chosen, progress=label(seed_list), store=store)
            done = [sweep_lib.member_history(result, 0, i) for i in range(len(seed_list))]
        else:
            done = [engine.run(trainer, run.hparams, seed, store=store, progress=label([seed]))
                    for seed in seed_list]
        histories[run.label] = done
        # all epochs, also those before an interruption; compilation included
        wall[run.label] = float(sum(sum(h.epoch_seconds) for h in done))
        for seed, history in zip(seed_list, done):
            status = (f"diverged at epoch {history.diverged_epoch}"
                      if history.diverged_epoch is not None else
                      f"{history.eval_split} acc {history.eval_acc[-1]:.4f}, "
                      f"train loss {history.train_loss[-1]:.4f}")
            took = (f"{sum(history.epoch_seconds):.1f} s, all {len(seed_list)} seeds in one "
                    "program" if batched else f"{sum(history.epoch_seconds):.1f} s")
            log(f"{comparison.name}: {run.label} seed {seed}: {status} ({took})")
    _write_results(comparison, settings, histories, wall, out)
    return histories


def _plan_line(comparison, plan, seed_list, store, epochs):
    """What the call will do, and what the store already holds of it."""
    from jaxlr import sweep as sweep_lib

    finished = partial = 0
    for run, trainer, batched, chosen in plan:
        # seeds that do not run batched are single runs: the sequential layout's records
        held = sweep_lib.saved(trainer, [dict(run.hparams)], seeds=seed_list,
                               strategy=chosen if batched else "sequential", store=store)
        finished, partial = finished + held.finished, partial + held.partial
    total = len(plan) * len(seed_list)
    why = f" ({comparison.seed_note})" if comparison.seed_note else ""
    return (f"{comparison.name}: {len(plan)} runs x {len(seed_list)} seed(s) = {total} "
            f"training runs, {epochs} epochs each, {sweep_lib.seeds_text(seed_list)}{why}"
            + sweep_lib.Saved(finished, partial, total).note(store.directory))


# ---------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------

def _summary(histories):
    final = np.array([h.eval_acc[-1] if h.eval_acc else np.nan for h in histories])
    best = np.array([max(h.eval_acc) if h.eval_acc else np.nan for h in histories])
    diverged = [h.diverged_epoch for h in histories if h.diverged_epoch is not None]
    return final, best, diverged


def _fmt(values):
    values = values[np.isfinite(values)]
    if not len(values):
        return "—"
    if len(values) == 1:
        return f"{values[0]:.4f}"
    return f"{values.mean():.4f} ± {values.std(ddof=1):.4f}"


def _results_markdown(comparison, settings, histories, wall):
    split = settings["eval_split"]
    lines = [f"# {comparison.title}", "",
             f"`{settings['command']}`", "",
             f"{settings['dataset']} "
             f"({settings['train_examples']} training examples, {settings['eval_examples']} "
             f"{split} examples), model `{settings['model']}`, batch {settings['batch_size']}, "
             f"{settings['epochs']} epochs, {settings['seeds']} seed(s); device "
             f"{settings['device']}.", ""]
    published = bool(comparison.published) and settings.get("published_budget", True)
    header = f"| run | schedule | final {split} acc | best {split} acc | diverged | wall (s) |"
    rule = "| --- | --- | ---: | ---: | --- | ---: |"
    if published:
        header += " published |"
        rule += " ---: |"
        if comparison.published_spread:
            header += " published median |"
            rule += " ---: |"
    lines += [header, rule]
    runs = {r.label: r for r in comparison.all_runs}
    reference = [r.label for r in comparison.runs if r.label in histories]
    modern = [r.label for r in comparison.modern_runs if r.label in histories]
    for label in reference:
        final, best, diverged = _summary(histories[label])
        row = (f"| {label} | {runs[label].description} | {_fmt(final)} | {_fmt(best)} | "
               f"{_diverged(diverged)} | {wall[label]:.1f} |")
        if published:
            p = comparison.published.get(label)
            row += f" {p:.3f} |" if p is not None else " — |"
            if comparison.published_spread:
                m = comparison.published_spread.get(label)
                row += f" {m:.3f} |" if m is not None else " — |"
        lines.append(row)
    lines += ["", "Final: after the last epoch; best: the highest over epochs; with several "
              "seeds, mean ± sample standard deviation.", ""]
    if comparison.published_note and published:
        lines += [f"Published: {comparison.published_note}", ""]
    elif comparison.published:
        lines += [f"Published numbers are not shown: they are for {comparison.epochs} epochs "
                  f"on the full {comparison.dataset} data, and this run used "
                  f"{settings['epochs']} epoch(s) on {settings['train_examples']} "
                  f"{settings['dataset']} training examples.", ""]
    if modern:
        lines += _modern_markdown(comparison, histories, wall, reference, modern, split)
    lines += ["![learning rate](lr.png)", "", "![training loss](train_loss.png)", "",
              f"![{split} accuracy](eval_acc.png)", "", "## The comparison", "", comparison.doc,
              ""]
    return "\n".join(lines)


def _diverged(epochs):
    return ", ".join(f"epoch {e}" for e in epochs) or "no"


def _final_stats(histories):
    """Mean, sample standard deviation (0 for one seed) and count of the finite final accs."""
    final = _summary(histories)[0]
    final = final[np.isfinite(final)]
    return (final.mean() if len(final) else np.nan,
            final.std(ddof=1) if len(final) > 1 else 0.0, len(final))


def _versus(stats, best):
    """The difference of two runs' mean final accs, and its standard error."""
    (m, sd, n), (bm, bsd, bn) = stats, best
    return m - bm, float(np.sqrt(sd ** 2 / n + bsd ** 2 / bn))


def _verdict(d, se):
    word = ("beats" if d > 0 else "behind") + (" clearly" if abs(d) > 2 * se > 0 else "")
    return f"{word}: {d:+.4f} ± {se:.4f}" if se > 0 else f"{word}: {d:+.4f}"


def _modern_markdown(comparison, histories, wall, reference, modern, split):
    """The modern rows, each held against the reference run with the best mean final acc."""
    stats = {label: _final_stats(histories[label]) for label in (*reference, *modern)}
    scored = [label for label in reference if np.isfinite(stats[label][0])]
    best = max(scored, key=lambda label: stats[label][0]) if scored else None
    runs = {r.label: r for r in comparison.modern_runs}
    lines = ["## Modern optimizers and schedules", ""]
    if best is not None:
        which = ("the reference run" if len(reference) == len(comparison.runs) else
                 f"the reference run (of the {len(reference)} of {len(comparison.runs)} "
                 "trained here)")
        lines += [f"Held against {which} with the best mean final {split} accuracy, "
                  f"**{best}** ({_fmt(_summary(histories[best])[0])}). "
                  "Difference: the modern run's mean minus that run's, ± the standard error "
                  "of the difference, sqrt(s1²/n1 + s2²/n2); \"beats\" when the difference "
                  "is positive, \"clearly\" when it is more than twice its standard error.",
                  ""]
    lines += [f"| run | settings | final {split} acc | best {split} acc | diverged | "
              f"wall (s) | vs {best or 'best reference run'} |",
              "| --- | --- | ---: | ---: | --- | ---: | --- |"]
    ahead = []
    for label in modern:
        final, best_acc, diverged = _summary(histories[label])
        versus = "—" if best is None else "no finite result"
        if best is not None and np.isfinite(stats[label][0]):
            d, se = _versus(stats[label], stats[best])
            versus = _verdict(d, se)
            if d > 0:
                ahead.append((d, label, se))
        lines.append(f"| {label} | {runs[label].description} | {_fmt(final)} | "
                     f"{_fmt(best_acc)} | {_diverged(diverged)} | {wall[label]:.1f} | "
                     f"{versus} |")
    lines.append("")
    if best is not None:
        winners = [f"{label} ({d:+.4f} ± {se:.4f})" for d, label, se in sorted(ahead,
                                                                               reverse=True)]
        lines += [f"Beat {best}: {', '.join(winners)}." if winners else
                  f"None of these beat {best}.", ""]
    lines += ["Settings and their sources: "
              + "; ".join(f"{label}: {runs[label].source}" for label in modern
                          if runs[label].source) + ".", ""]
    return lines


def _metrics_csv(histories):
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["run", "seed_index", "epoch", "train_loss", "train_acc", "eval_loss", "eval_acc",
                "lr_first_step", "lr_last_step", "epoch_seconds"])
    for label, hs in histories.items():
        for s, h in enumerate(hs):
            for e in range(h.epochs_done):
                w.writerow([label, s, e, h.train_loss[e], h.train_acc[e], h.eval_loss[e],
                            h.eval_acc[e], h.lr[e][0], h.lr[e][-1], round(h.epoch_seconds[e], 4)])
    return buf.getvalue()


def _write_results(comparison, settings, histories, wall, out):
    from jaxlr import plot

    settings = dict(settings, device=_device(), versions=_versions(),
                    finished=datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"),
                    wall_seconds={k: round(v, 2) for k, v in wall.items()},
                    runs=[dict(label=r.label, optimizer=r.optimizer, hparams=dict(r.hparams),
                               schedule=r.description, nesterov=r.nesterov,
                               plateau=dict(r.plateau) if r.plateau else None,
                               source=r.source or None)
                          for r in comparison.all_runs if r.label in histories])
    atomic_write_text(out / "config.json", json.dumps(settings, indent=2))
    atomic_write_text(out / "metrics.json", json.dumps(
        {label: [h.to_dict() for h in hs] for label, hs in histories.items()}))
    atomic_write_text(out / "metrics.csv", _metrics_csv(histories))
    atomic_write_text(out / "results.md", _results_markdown(comparison, settings, histories, wall))
    groups = None
    if any(r.label in histories for r in comparison.modern_runs):
        groups = [(f"{comparison.name}'s own runs", [r.label for r in comparison.runs]),
                  ("modern optimizers and schedules", [r.label for r in comparison.modern_runs])]
    plot.plot_comparison(comparison.title, histories, out, settings["eval_split"], groups)
