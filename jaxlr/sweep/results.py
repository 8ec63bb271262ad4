"""A sweep's results: stacked metrics ``[config, seed, ...]``, rankings, tables and files."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np

from jaxlr._io import atomic_write_bytes
from jaxlr.sweep.space import seed_text

__all__ = ["SweepResult", "load", "member_history", "ranking_markdown", "save", "table_csv"]


@dataclasses.dataclass
class SweepResult:
    """Stacked metrics of a sweep, ``metrics[name]`` with axes ``[config, seed, ...]``.

    For a trainer: ``train_loss``, ``train_acc``, ``eval_loss``, ``eval_acc``
    (and ``eval_<name>``) are ``[config, seed, epoch]``; ``lr`` and
    ``step_loss`` (each batch's loss) ``[config, seed, epoch, step]``;
    ``diverged_step`` ``[config, seed]`` (-1: never diverged). Each is also an
    attribute (``result.eval_acc``). For a bare function, its outputs.
    ``configs`` holds each configuration's full hyperparameters, ``swept``
    the names that vary; ``reused`` counts the parts loaded from the run store.
    """

    swept: tuple
    configs: list
    seeds: list
    metrics: dict
    strategy: str
    seconds: float
    steps_per_epoch: int | None = None
    eval_split: str = "test"
    reused: int = 0
    parts: int = 1

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(name)

    def default_metric(self):
        """``eval_acc`` when it is defined (classification), else ``eval_loss``."""
        acc = self.metrics.get("eval_acc")
        if acc is not None and np.isfinite(acc).any():
            return "eval_acc"
        if "eval_loss" in self.metrics:
            return "eval_loss"
        if len(self.metrics) == 1:
            return next(iter(self.metrics))
        raise ValueError(f"jaxlr.sweep: say which metric ranks the configurations, one of "
                         f"{sorted(self.metrics)}")

    def final(self, metric=None):
        """``[config, seed]``: the metric after the last epoch (NaN once diverged)."""
        metric = metric or self.default_metric()
        values = np.array(self.metrics[metric], dtype=float)
        if values.ndim > 2:
            values = values[..., -1]
        if "diverged_step" in self.metrics:
            values[np.asarray(self.metrics["diverged_step"]) >= 0] = np.nan
        return values

    def ranking(self, metric=None, higher_is_better=None):
        """Configurations best first: ``(config, mean, std, diverged seeds)`` over seeds.

        ``higher_is_better`` defaults to True for accuracies, False for losses.
        A configuration with any diverged seed ranks after all that never diverged.
        """
        metric = metric or self.default_metric()
        if higher_is_better is None:
            higher_is_better = "loss" not in metric
        final = self.final(metric)
        diverged = (np.asarray(self.metrics["diverged_step"]) >= 0 if "diverged_step"
                    in self.metrics else np.zeros(final.shape, bool))
        rows = []
        for k, config in enumerate(self.configs):
            ok = final[k][np.isfinite(final[k])]
            mean = float(ok.mean()) if len(ok) else float("nan")
            std = float(ok.std(ddof=1)) if len(ok) > 1 else 0.0
            rows.append((config, mean, std, int(diverged[k].sum())))
        sign = -1.0 if higher_is_better else 1.0
        return sorted(rows, key=lambda r: (r[3] > 0, math.isnan(r[1]),
                                           sign * (0.0 if math.isnan(r[1]) else r[1])))


def member_history(result, k, s):
    """Configuration ``k``, seed index ``s`` of a trainer sweep as a :class:`jaxlr.engine.History`.

    A diverged member's history stops at the epoch it diverged in, as a single
    run's does; ``epoch_seconds`` share the sweep's wall time equally.
    """
    from jaxlr.engine import History

    m = result.metrics
    step = int(m["diverged_step"][k, s])
    total = m["train_loss"].shape[2]
    epochs = total if step < 0 else step // result.steps_per_epoch + 1
    share = result.seconds / (m["train_loss"].shape[0] * m["train_loss"].shape[1] * total)
    extra = {n: m[n][k, s, :epochs].tolist() for n in m
             if n.startswith("eval_") and n not in ("eval_loss", "eval_acc")}
    return History(
        train_loss=m["train_loss"][k, s, :epochs].tolist(),
        train_acc=m["train_acc"][k, s, :epochs].tolist(),
        eval_loss=m["eval_loss"][k, s, :epochs].tolist(),
        eval_acc=m["eval_acc"][k, s, :epochs].tolist(), lr=m["lr"][k, s, :epochs].tolist(),
        epoch_seconds=[share] * epochs, diverged_epoch=None if step < 0 else epochs - 1,
        eval_split=result.eval_split, diverged_step=None if step < 0 else step,
        step_loss=m["step_loss"][k, s, :epochs].tolist(), extra=extra)


def save(result, path):
    """Write a :class:`SweepResult` to a compressed ``.npz`` (atomically)."""
    meta = dict(swept=list(result.swept), configs=result.configs, seeds=result.seeds,
                strategy=result.strategy, seconds=result.seconds,
                steps_per_epoch=result.steps_per_epoch, eval_split=result.eval_split)
    buf = io.BytesIO()
    np.savez_compressed(buf, meta=json.dumps(meta),
                        **{f"m/{k}": np.asarray(v) for k, v in result.metrics.items()})
    atomic_write_bytes(path, buf.getvalue())


def load(path):
    """The :class:`SweepResult` that :func:`save` wrote.

    Raises:
      ValueError: naming ``path``, when it is not a complete sweep file.
    """
    import zipfile

    try:
        with np.load(path, allow_pickle=False) as f:
            meta = json.loads(str(f["meta"]))
            metrics = {k[2:]: f[k] for k in f.files if k.startswith("m/")}
        meta["swept"] = tuple(meta["swept"])
        meta["seeds"] = [tuple(s) if isinstance(s, list) else s for s in meta["seeds"]]
        return SweepResult(metrics=metrics, **meta)
    except (zipfile.BadZipFile, EOFError, KeyError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: not a complete jaxlr sweep file written by "
                         f"jaxlr.sweep.save ({type(e).__name__}: {e})") from None


def table_csv(result, metric=None):
    """One row per configuration and seed: hyperparameters, final metric, diverged step."""
    metric = metric or result.default_metric()
    names = list(result.configs[0])
    lines = [",".join([*names, "seed", f"final_{metric}", "diverged_step"])]
    final = np.asarray(result.metrics[metric], dtype=float)
    final = final[..., -1] if final.ndim > 2 else final
    diverged = result.metrics.get("diverged_step", np.full(final.shape, -1))
    for k, config in enumerate(result.configs):
        for s, seed in enumerate(result.seeds):
            lines.append(",".join([*(f"{config[n]:.6g}" for n in names), seed_text(seed),
                                   f"{final[k, s]:.6g}", str(int(diverged[k, s]))]))
    return "\n".join(lines) + "\n"


def ranking_markdown(result, title, command, metric=None, top=50):
    """The ranked configurations as a Markdown table (the ``top`` best)."""
    metric = metric or result.default_metric()
    rows = result.ranking(metric)
    names = list(result.swept)
    what = {"eval_acc": f"final {result.eval_split} accuracy",
            "eval_loss": f"final {result.eval_split} loss"}.get(metric, f"final {metric}")
    lines = [f"# {title}", "", f"`{command}`", "",
             f"{len(result.configs)} configurations x {len(result.seeds)} seed(s), strategy "
             f"`{result.strategy}`, {result.seconds:.1f} s; {what}, mean ± "
             "sample std over seeds; diverged seeds excluded from the mean.", "",
             "| rank | " + " | ".join(names) + " | mean | std | diverged seeds |",
             "| ---: | " + " | ".join("---:" for _ in names) + " | ---: | ---: | ---: |"]
    for i, (config, mean, std, diverged) in enumerate(rows[:top] if top else rows, 1):
        values = " | ".join(f"{config[n]:.4g}" for n in names)
        spread = f"{std:.4f}" if len(result.seeds) > 1 else "—"
        lines.append(f"| {i} | {values} | {mean:.4f} | {spread} | {diverged} |")
    if top and len(rows) > top:
        lines += ["", f"{len(rows) - top} more in `sweep.csv` (every configuration and seed)."]
    return "\n".join(lines) + "\n"
