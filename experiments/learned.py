"""Learning the schedule vs searching for it, at equal training compute.

One schedule family for every method: a linear warmup of ``warmup`` updates
into an exponential decay with a half-life of ``half_life`` epochs, peak
``lr`` (``jaxlr.warmup(jaxlr.exponential(lr, 0.5, half_life * steps_per_epoch),
warmup, prefix=False)``), SGD with momentum held at the task's value. Each
method gets the same budget of training compute, ``B`` runs' worth of
member-epochs, and ends with one schedule (PBT: its winner's lr over the
run, followed through the copies); that schedule is then trained from scratch
at a held-out seed (``100 + s``) and its final evaluation loss and accuracy
are reported. Each method is repeated for tuning seeds ``s = 0..S-1``
(its random draws, noise and training keys), so the spread is the method's.

Methods (budget ``B`` runs of ``E`` epochs):

- ``grid``: ``B`` points of a fixed log grid; the best final eval loss wins.
- ``random``: ``B`` log-uniform points (seed ``s``); the best wins.
- ``hypergrad``: ``jaxlr.tune.tune(method="hypergrad")``, ``B`` meta-steps of
  Adam in log space from the centre of the box (one run + its backward each).
- ``es``: ``tune(method="es", pairs=2)``, ``B / 4`` meta-steps.
- ``pes``: ``tune(method="pes", pairs=2, truncation=T)``, ``B E / (4 T)`` meta-steps.
- ``pbt``: ``jaxlr.sweep.pbt`` with a population of ``B`` drawn like ``random``,
  ``ready_every=R``, truncation 25%, perturb x0.8 / x1.25.
- ``hd``: online hypergradient descent (``jaxlr.hypergradient_descent("sgdn")``,
  its lr learned within the run, no schedule), a grid of ``B`` (initial lr,
  hyper-lr) pairs; the best wins and is retrained (its lr learned anew).

The hypergradient's backward pass costs about two more forward passes: its
member-epochs count forward epochs only, and the wall time says the rest.

Run:
  python experiments/learned.py ionosphere --seeds 3 --out experiments/results/learned/ionosphere
  python experiments/learned.py d2l --data-dir ../shared/data --seeds 3 \
      --out experiments/results/learned/d2l
Interrupted, it resumes: each (method, seed) is saved under OUT/cache with
the identity of everything that determines it and a checksum.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import pathlib
import sys
import time

import jax.numpy as jnp
import numpy as np

import jaxlr
from jaxlr import data as data_lib
from jaxlr import engine, tune
from jaxlr.engine.identity import environment
from jaxlr.sweep import pbt, sweep

METHODS = ("grid", "random", "hypergrad", "es", "pes", "pbt", "hd")
# methods whose own objective is a final eval loss at their tuning seed (the search's best
# run, PBT's winner, the last hypergradient step's run); ES's is a smoothed mean, PES's a
# truncation's sum
OWN_OBJECTIVE = ("grid", "random", "hypergrad", "pbt", "hd")


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    dataset: str
    model: str
    epochs: int
    batch_size: int
    momentum: float
    box: dict              # name -> (low, high), log scale
    budget: int            # B, runs
    truncation: int        # PES truncation, epochs
    ready_every: int       # PBT
    grid: dict             # name -> values (product has B points)
    hd_grid: dict          # lr, hyper_lr -> values (product has B points)
    meta_lr: float
    max_train: int | None = None
    max_eval: int | None = None
    # the hand-designed schedules to draw the learned ones over: label -> lr(step, info)
    reference: str = ""


TASKS = {
    "ionosphere": Task(
        name="ionosphere", dataset="ionosphere", model="ionosphere_mlp", epochs=50,
        batch_size=28, momentum=0.8,
        box={"lr": (1e-3, 1.0), "warmup": (1.0, 100.0), "half_life": (2.0, 200.0)},
        budget=32, truncation=5, ready_every=5,
        grid={"lr": [0.01, 0.03, 0.1, 0.3], "warmup": [1.0, 30.0],
              "half_life": [3.0, 10.0, 30.0, 100.0]},
        hd_grid={"lr": [0.003, 0.01, 0.03, 0.1], "hyper_lr": [1e-5, 3e-5, 1e-4, 3e-4, 1e-3,
                                                                3e-3, 1e-2, 3e-2]},
        meta_lr=0.1, reference="ionosphere"),
    "d2l": Task(
        name="d2l", dataset="fashion_mnist", model="lenet", epochs=10, batch_size=256,
        momentum=0.0,
        box={"lr": (0.01, 1.0), "warmup": (1.0, 50.0), "half_life": (1.0, 50.0)},
        budget=16, truncation=2, ready_every=2,
        grid={"lr": [0.1, 0.2, 0.4, 0.8], "warmup": [1.0, 20.0], "half_life": [3.0, 30.0]},
        hd_grid={"lr": [0.05, 0.1, 0.2, 0.4], "hyper_lr": [1e-4, 1e-3, 1e-2, 1e-1]},
        meta_lr=0.1, max_train=6000, max_eval=2000, reference="d2l"),
}


def family(h, info):
    """Linear warmup of ``warmup`` updates into an exponential decay, half-life in epochs."""
    decay = jaxlr.exponential(h["lr"], 0.5, h["half_life"] * info.steps_per_epoch)
    return jaxlr.warmup(decay, h["warmup"], prefix=False)


def hd_optimizer(learning_rate, hyper_lr, momentum=0.0):
    """SGD with Nesterov momentum whose lr is learned online (Baydin et al. 2018)."""
    return jaxlr.hypergradient_descent("sgdn", learning_rate, hyper_lr, momentum=momentum)


def table_schedule(lrs):
    """A schedule that replays a learned lr table (PBT's winner)."""
    table = jnp.asarray(lrs, jnp.float32)

    def build(h, info):
        return lambda count: table[jnp.clip(count, 0, len(table) - 1)]

    return build


def _sgd(task):
    # momentum 0 for d2l: plain SGD; the torch-style sgd reads momentum either way
    return "keras_sgd" if task.name == "ionosphere" else "sgd"


def trainers(task, data):
    tr = engine.make_train(engine.TrainConfig(
        model=task.model, epochs=task.epochs, batch_size=task.batch_size,
        optimizer=_sgd(task), schedule=family, name=f"learned/{task.name}"), data)
    hd = engine.make_train(engine.TrainConfig(
        model=task.model, epochs=task.epochs, batch_size=task.batch_size,
        optimizer=hd_optimizer, name=f"learned/{task.name}/hd"), data)
    return tr, hd


def _centre(task):
    return {n: float(math.sqrt(lo * hi)) for n, (lo, hi) in task.box.items()}


def _draw(task, n, seed):
    rng = np.random.default_rng(seed)
    return [{k: float(np.exp(rng.uniform(np.log(lo), np.log(hi))))
             for k, (lo, hi) in task.box.items()} for _ in range(n)]


def _product(grid):
    import itertools

    names = list(grid)
    return [dict(zip(names, map(float, values)))
            for values in itertools.product(*(grid[n] for n in names))]


def _best(rows, finals):
    finals = np.where(np.isfinite(finals), finals, np.inf)
    return rows[int(np.argmin(finals))], float(np.min(finals))


def tune_method(task, method, trainer, hd_trainer, seed, progress):
    """Run one method with tuning seed ``seed``: what it learned and what it cost."""
    fixed = {"momentum": task.momentum}
    start = time.perf_counter()
    out = {"method": method, "seed": seed}
    if method in ("grid", "random", "hd"):
        target = hd_trainer if method == "hd" else trainer
        rows = (_product(task.hd_grid) if method == "hd" else
                _product(task.grid) if method == "grid" else _draw(task, task.budget, seed))
        if len(rows) > task.budget:  # a smaller --budget: an even thinning of the grid
            rows = [rows[int(i)] for i in np.linspace(0, len(rows) - 1, task.budget).round()]
        result = sweep(target, rows, base=fixed, seeds=[seed], progress=progress and method)
        finals = np.asarray(result.metrics["eval_loss"])[:, 0, -1]
        best, value = _best(rows, finals)
        out.update(hparams=best, objective=value, member_epochs=task.budget * task.epochs,
                   finals=finals.tolist(), candidates=rows)
    elif method in ("hypergrad", "es", "pes"):
        hp = {**_centre(task), **fixed}
        wrt = tuple(task.box)
        steps = {"hypergrad": task.budget, "es": task.budget // 4,
                 "pes": task.budget * task.epochs // (4 * task.truncation)}[method]
        result = tune.tune(trainer, hp, seed, wrt, method=method, meta_steps=steps,
                           meta_lr=task.meta_lr, sigma=0.1, pairs=2,
                           truncation=task.truncation, seed=seed,
                           progress=progress and method)
        final = {n: min(max(result.final[n], 1e-6), 1e6) for n in wrt}
        out.update(hparams=final, objective=result.objective[-1],
                   member_epochs=result.runs * task.epochs, tune=result.to_dict())
    elif method == "pbt":
        rows = _draw(task, task.budget, 1000 + seed)
        result = pbt(trainer, [{**r, **fixed} for r in rows],
                     [(seed, 1000 * (seed + 1) + i) for i in range(len(rows))],
                     ready_every=task.ready_every, fixed=("momentum",), seed=seed,
                     progress=progress and method)
        lineage = result.learned_schedule()
        out.update(lr_table=np.asarray(lineage.lr, np.float64).reshape(-1).tolist(),
                   objective=float(np.asarray(lineage.objective)[-1]),
                   member_epochs=task.budget * task.epochs,
                   lineage={"members": [int(m) for m in lineage.members],
                            "hparams": {k: np.asarray(v).tolist()
                                        for k, v in lineage.hparams.items()}},
                   diverged=np.asarray(result.diverged_counts).tolist())
    else:
        raise ValueError(f"learned.py: unknown method {method!r}")
    out["tune_seconds"] = time.perf_counter() - start
    return out


def eval_keys(seed, count):
    """The held-out seeds a tuning seed's schedule is retrained at: 100 (j + 1) + seed."""
    return [100 * (j + 1) + seed for j in range(count)]


def evaluate(task, data, method, learned, keys):
    """Train the learned schedule from scratch at each held-out seed of ``keys``."""
    fixed = {"momentum": task.momentum}
    if method == "pbt":
        target = engine.make_train(engine.TrainConfig(
            model=task.model, epochs=task.epochs, batch_size=task.batch_size,
            optimizer=_sgd(task), schedule=table_schedule(learned["lr_table"]),
            name="learned/pbt-replay"), data)
        hparams = fixed
    else:
        tr, hd = trainers(task, data)
        target = hd if method == "hd" else tr
        hparams = {**learned["hparams"], **fixed}
    out = []
    for key in keys:
        history = target(hparams, key)
        out.append({"key": key, "eval_loss": float(history.eval_loss[-1]),
                    "eval_acc": float(history.eval_acc[-1]),
                    "lr": np.asarray(history.lr, np.float64).reshape(-1).tolist(),
                    "eval_loss_curve": [float(v) for v in history.eval_loss],
                    "eval_acc_curve": [float(v) for v in history.eval_acc]})
    return out


# -- the cache: one file per (method, seed), reused only when its identity matches -------

def _digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


def code_digest(names):
    """SHA-256 of the source of the functions ``names`` (those here that determine a
    result's numbers; the report and figures do not)."""
    import inspect

    functions = [globals()[n] for n in names]
    return _digest([inspect.getsource(f) for f in functions])


TUNE_CODE = ("family", "hd_optimizer", "_sgd", "trainers", "_centre", "_draw", "_product",
             "_best", "tune_method")
EVAL_CODE = ("family", "hd_optimizer", "table_schedule", "_sgd", "trainers", "evaluate")


def cached(path, identity, compute):
    """``compute()``, or its result saved at ``path`` if saved under the same ``identity``
    (everything that determines it) and its checksum verifies."""
    path = pathlib.Path(path)
    identity = json.loads(json.dumps(identity))  # as it reads back (tuples are lists)
    if path.exists():
        try:
            saved = json.loads(path.read_text())
            body = saved["body"]
            if saved["identity"] == identity and saved["sha256"] == _digest(body):
                return body
            print(f"  {path.name}: stored identity or checksum differs, recomputing")
        except (json.JSONDecodeError, KeyError):
            print(f"  {path.name}: unreadable, recomputing")
    body = compute()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"identity": identity, "sha256": _digest(body), "body": body}))
    tmp.replace(path)
    return body


# -- the report ---------------------------------------------------------------------

def _stats(values):
    v = np.asarray(values, np.float64)
    return float(np.mean(v)), float(np.std(v, ddof=1)) if len(v) > 1 else 0.0


def reference_lrs(task, info):
    """The task's hand-designed schedules (its comparison's runs), lr per update."""
    from jaxlr.comparisons import COMPARISONS

    comparison = COMPARISONS[task.reference]
    steps = jnp.arange(info.total_steps, dtype=jnp.int32)
    out = {}
    for run in comparison.runs:
        if run.optimizer not in ("sgd", "keras_sgd") or run.plateau is not None:
            continue
        h = {k: jnp.float32(v) for k, v in run.hparams.items()}
        if run.schedule is None:
            lrs = np.full(info.total_steps, float(run.hparams["lr"]))
        else:
            lrs = np.asarray(run.schedule(h, info)(steps), np.float64)
        out[run.label] = lrs
    return out


def figures(task, info, rows, out):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from jaxlr.plot import write_figure

    fig, ax = plt.subplots(figsize=(10, 5.5), constrained_layout=True)
    for label, lrs in reference_lrs(task, info).items():
        ax.plot(lrs, color="0.6", linestyle=":", linewidth=1.2)
        ax.annotate(label, (len(lrs) - 1, lrs[-1]), fontsize=7, color="0.4")
    for i, method in enumerate(METHODS):
        lrs = rows[method]["evaluations"][0][0]["lr"]
        ax.plot(lrs, color=f"C{i}", linewidth=1.6, label=f"{method} (seed 0)")
    ax.set(yscale="log", xlabel="update", ylabel="learning rate",
           title=f"{task.name}: learned schedules (seed 0) over the hand-designed ones (grey)")
    ax.legend(fontsize="small", ncol=2)
    write_figure(fig, out / "schedules.png")
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(9, 4.8), constrained_layout=True)
    for i, method in enumerate(METHODS):
        curves = np.asarray([e["eval_loss_curve"] for ev in rows[method]["evaluations"]
                             for e in ev])
        epochs = np.arange(1, curves.shape[1] + 1)
        mean = np.nanmean(curves, axis=0)
        ax.plot(epochs, mean, color=f"C{i}", label=method)
        ax.fill_between(epochs, np.nanmin(curves, 0), np.nanmax(curves, 0), color=f"C{i}",
                        alpha=0.12)
    ax.set(yscale="log", xlabel="epoch", ylabel="eval loss",
           title=f"{task.name}: the learned schedules retrained at held-out seeds "
                 "(mean, min-max)")
    ax.legend(fontsize="small", ncol=2)
    write_figure(fig, out / "eval_loss.png")
    plt.close(fig)


# the loss of a model that has learned nothing (uniform over the classes); a retrain whose
# final eval loss is within 3% of it is counted "at chance" (stuck on the plateau)
CHANCE_LOSS = {"ionosphere": math.log(2), "d2l": math.log(10)}


def _retrains(row):
    """Every held-out retrain's final eval loss, ``[tuning seed, retrain]``."""
    return np.asarray([[e["eval_loss"] for e in ev] for ev in row["evaluations"]], np.float64)


def _paired(rows, method, base="grid"):
    """Mean and standard error of ``loss[method] - loss[base]`` over tuning seeds (each pair
    retrained at the same held-out seed)."""
    d = np.asarray(rows[method]["loss"], np.float64) - np.asarray(rows[base]["loss"], np.float64)
    se = float(np.std(d, ddof=1) / math.sqrt(len(d))) if len(d) > 1 else float("nan")
    return float(np.mean(d)), se


def report(task, rows, settings, command):
    lines = [f"# Learning the schedule vs searching for it: {task.name}", "",
             f"Command: `{command}`", "",
             f"Setting: {settings['setting']}", "",
             "Each method had the same training budget (member-epochs, forward); its "
             f"learned schedule was retrained from scratch at {settings.get('eval_seeds', 1)} "
             "held-out seeds (100 (j+1) + s, s the tuning seed; a tuning seed's score is "
             "their mean) and evaluated on the "
             f"{settings['eval_split']} split after the last epoch (the split every "
             "method also tuned on: the seeds are held out, the examples are not). "
             f"Mean ± sample std over {settings['seeds']} tuning seeds. \"vs grid\": the "
             "difference in final eval loss from grid search, paired by seed (both "
             "retrained at the same held-out seed), mean ± standard error; negative is "
             "better than grid. \"Its own tuning objective\": the final eval loss the "
             "method itself reached at its tuning seed (mean over seeds), before the "
             "retraining. \"At chance\": retrains whose final eval loss is within 3% of "
             "that of a uniform prediction (stuck on the initial plateau), and the median "
             "over all retrains.", "",
             "| method | final eval loss | vs grid (paired) | final eval acc | at chance | "
             "median loss | its own tuning objective | member-epochs | tuning wall s "
             "(mean) | learned (seed 0) |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]

    def mean_loss(m):
        return _stats(rows[m]["loss"])[0] if np.all(np.isfinite(rows[m]["loss"])) else np.inf

    order = sorted(rows, key=mean_loss)
    for m in order:
        r = rows[m]
        lm, ls = _stats(r["loss"])
        am, as_ = _stats(r["acc"])
        dm, dse = _paired(rows, m)
        versus = "—" if m == "grid" else f"{dm:+.4f} ± {dse:.4f}"
        own = (f"{np.mean(r['objective']):.4f}" if m in OWN_OBJECTIVE else "—")
        every = _retrains(r)
        stuck = int(np.sum(every >= 0.97 * CHANCE_LOSS[task.name]))
        lines.append(f"| {m} | {lm:.4f} ± {ls:.4f} | {versus} | {am:.4f} ± {as_:.4f} | "
                     f"{stuck}/{every.size} | {np.median(every):.4f} | {own} | "
                     f"{r['member_epochs']:.0f} | {r['seconds']:.1f} | {r['learned']} |")
    best = order[0]
    if best == "grid":
        runner = order[1]
        dm, dse = _paired(rows, runner)
        verdict = (f"No method beat grid search ({_stats(rows['grid']['loss'])[0]:.4f}); "
                   f"the closest, **{runner}**, was {dm:+.4f} ± {dse:.4f} from it (paired).")
    else:
        dm, dse = _paired(rows, best)
        verdict = (f"Lowest mean final eval loss: **{best}** ({mean_loss(best):.4f}), "
                   f"{dm:+.4f} ± {dse:.4f} from grid search (paired; "
                   f"{abs(dm) / dse if dse > 0 else float('nan'):.1f} standard errors).")
    worse = [m for m in order if m != "grid" and _paired(rows, m)[0] > 2 * _paired(rows, m)[1]]
    if worse:
        verdict += (" More than two standard errors worse than grid: "
                    + ", ".join(worse) + ".")
    return "\n".join(lines + ["", verdict, ""]) + "\n"


def _learned_text(method, body):
    if method == "pbt":
        lrs = np.asarray(body["lr_table"])
        return f"lr table {lrs[0]:.3g} → max {lrs.max():.3g} → {lrs[-1]:.3g}"
    h = body["hparams"]
    return ", ".join(f"{k} {v:.3g}" for k, v in sorted(h.items()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("task", choices=sorted(TASKS))
    parser.add_argument("--seeds", type=int, default=3, help="tuning seeds")
    parser.add_argument("--eval-seeds", type=int, default=3,
                        help="held-out retrains of each tuning seed's schedule")
    parser.add_argument("--methods", default=",".join(METHODS))
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--out", default="jaxlr-results/learned")
    parser.add_argument("--epochs", type=int, default=None, help="override (tests)")
    parser.add_argument("--budget", type=int, default=None, help="override (tests)")
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--max-eval", type=int, default=None)
    parser.add_argument("--no-progress", action="store_true")
    parser.add_argument("--report-only", action="store_true",
                        help="rewrite results.md and the figures from OUT/results.json")
    args = parser.parse_args(argv)
    task = TASKS[args.task]
    overrides = {k: v for k, v in (("epochs", args.epochs), ("budget", args.budget),
                                   ("max_train", args.max_train), ("max_eval", args.max_eval))
                 if v is not None}
    task = dataclasses.replace(task, **overrides)
    # shorter runs (--epochs): the largest PES truncation that divides them, PBT's interval
    # at most the run
    task = dataclasses.replace(
        task, truncation=max(d for d in range(1, task.truncation + 1) if task.epochs % d == 0),
        ready_every=min(task.ready_every, task.epochs))
    methods = [m for m in args.methods.split(",") if m]
    unknown = sorted(set(methods) - set(METHODS))
    if unknown:
        parser.error(f"--methods: unknown {unknown}; choose from {list(METHODS)}")
    if args.seeds < 1:
        parser.error(f"--seeds must be >= 1, got {args.seeds}")
    if args.eval_seeds < 1:
        parser.error(f"--eval-seeds must be >= 1, got {args.eval_seeds}")
    out = pathlib.Path(args.out)
    if args.report_only:
        saved = json.loads((out / "results.json").read_text())
        rows, settings = saved["rows"], saved["settings"]
        info = engine.ScheduleInfo(rows["grid"]["steps_per_epoch"], task.epochs) \
            if "steps_per_epoch" in rows["grid"] else None
        if info is None:
            total = len(rows["grid"]["evaluations"][0][0]["lr"])
            info = engine.ScheduleInfo(total // task.epochs, task.epochs)
        figures(task, info, rows, out)
        command = settings.get("command")
        if command is None:  # results.json written before it recorded the command
            import re

            command = re.search(r"Command: `(.*?)`", (out / "results.md").read_text()).group(1)
        (out / "results.md").write_text(report(task, rows, settings, command))
        print(f"rewrote {out / 'results.md'} and the figures")
        return
    data = data_lib.subset(data_lib.load(task.dataset, args.data_dir), task.max_train,
                           task.max_eval)
    trainer, hd_trainer = trainers(task, data)
    progress = not args.no_progress
    start = time.perf_counter()
    rows = {}
    for method in methods:
        bodies, evaluations = [], []
        for seed in range(args.seeds):
            identity = {"task": dataclasses.asdict(task), "method": method, "seed": seed,
                        "trainer": (hd_trainer if method == "hd" else trainer).identity(),
                        "environment": environment(), "code": code_digest(TUNE_CODE)}
            tuned = cached(out / "cache" / f"{method}-seed{seed}.json", identity, lambda: (
                tune_method(task, method, trainer, hd_trainer, seed, progress)))
            keys = eval_keys(seed, args.eval_seeds)
            evaluation = cached(out / "cache" / f"{method}-seed{seed}-eval.json", {
                # what evaluate reads of what was learned
                "learned": {k: tuned.get(k) for k in ("hparams", "lr_table")},
                "keys": keys, "task": dataclasses.asdict(task),
                "environment": environment(), "code": code_digest(EVAL_CODE)},
                lambda: evaluate(task, data, method, tuned, keys))
            bodies.append({"tuned": tuned})
            evaluations.append(evaluation)
            loss = [e["eval_loss"] for e in evaluation]
            print(f"{method} seed {seed}: tuned in {tuned['tune_seconds']:.1f} s, held-out "
                  f"eval loss {np.mean(loss):.4f} (seeds {keys}: "
                  f"{', '.join(f'{v:.4f}' for v in loss)})", flush=True)
        # a tuning seed's score: the mean over its held-out retrains
        rows[method] = {"loss": [float(np.mean([e["eval_loss"] for e in ev]))
                                 for ev in evaluations],
                        "acc": [float(np.mean([e["eval_acc"] for e in ev]))
                                for ev in evaluations],
                        "member_epochs": float(np.mean([b["tuned"]["member_epochs"]
                                                        for b in bodies])),
                        "seconds": float(np.mean([b["tuned"]["tune_seconds"] for b in bodies])),
                        "learned": _learned_text(method, bodies[0]["tuned"]),
                        "objective": [b["tuned"]["objective"] for b in bodies],
                        "evaluations": evaluations, "tuned": [b["tuned"] for b in bodies]}
    wall = time.perf_counter() - start
    command = "python " + " ".join([pathlib.Path(sys.argv[0]).as_posix(), *(argv or sys.argv[1:])])
    settings = {"setting": (f"{task.model} on {data.name} ({len(data.x_train)} training "
                            f"examples), {task.epochs} epochs, batch {task.batch_size}, "
                            f"budget {task.budget} runs per method and seed"),
                "seeds": args.seeds, "eval_seeds": args.eval_seeds,
                "eval_split": trainer.eval_split, "command": command,
                "task": dataclasses.asdict(task), "wall_seconds": wall,
                "environment": environment()}
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps({"settings": settings, "rows": rows}))
    if set(methods) == set(METHODS):
        figures(task, trainer.info, rows, out)
        (out / "results.md").write_text(report(task, rows, settings, command))
    print(f"wall {wall:.1f} s; wrote {out}")


if __name__ == "__main__":
    main()
