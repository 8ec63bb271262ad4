"""The ``jaxlr`` command.

``jaxlr plot EXPR...`` draws schedules written as jaxlr expressions, e.g.
``"warmup(cosine(0.1, 1000), 100)"``, read by :func:`jaxlr.parse_schedule`
(parsed with ``ast``, never ``eval``-ed). Every mistake is answered with one
line (see :func:`main`).
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import typing

import jaxlr
from jaxlr.expressions import parse_schedule

__all__ = ["build_parser", "main", "parse_schedule"]


class CommandError(Exception):
    """A mistake in a command line: printed as one line, exit status 2."""


def _writable_dir(path, option="--out"):
    """Create ``path`` (and its parents) and check that files can be written there.

    Runs before any work, so a read-only or mistyped folder fails in a second,
    not after an hour of training.
    """
    import os
    import pathlib
    import tempfile

    path = pathlib.Path(path)
    if path.exists() and not path.is_dir():
        raise CommandError(f"{option} {path}: exists and is not a folder; choose another {option}")
    try:
        path.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=path, prefix=".jaxlr-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise CommandError(f"{option} {path}: cannot write there ({e.strerror or e}); choose "
                           f"another {option}") from None
    return path


def _plot(args):
    from jaxlr.plot import figure_path, plot_schedules

    labels = args.label or []
    if labels and len(labels) != len(args.schedules):
        raise CommandError(f"--label given {len(labels)} time(s) for {len(args.schedules)} "
                           "expression(s): give one --label per expression, in order, or none")
    out = figure_path(args.out)
    _writable_dir(out.parent, "--out")
    schedules = {}
    for i, text in enumerate(args.schedules):
        label = labels[i] if labels else text
        if label in schedules:
            raise CommandError(f"two expressions have the label {label!r}: give distinct "
                               "--label values")
        schedules[label] = parse_schedule(text)
    plot_schedules(schedules, args.steps, start=args.start, log=args.log, title=args.title,
                   path=out)
    print(f"wrote {out} ({len(schedules)} schedule(s), steps {args.start}.."
          f"{args.start + args.steps - 1})")


def _compare(args):
    from jaxlr.compare import run_comparison
    from jaxlr.comparisons import COMPARISONS

    if args.list:
        for name, c in COMPARISONS.items():
            print(f"{name:<14} {c.title} ({c.dataset}, {c.epochs} epochs, "
                  f"{len(c.all_runs)} runs)")
            for group, runs in (("reference", c.runs), ("modern", c.modern_runs)):
                if runs:
                    print(f"{'':<14}   {group}: " + ", ".join(r.label for r in runs))
        return
    comparison = COMPARISONS[args.name]
    runs = None
    if args.runs is not None:
        from jaxlr.compare import select_runs

        runs = [name for name in args.runs.split(",") if name.strip()]
        try:
            select_runs(comparison, runs)
        except ValueError as e:
            raise CommandError(f"--runs {args.runs}: {e}") from None
    out = _writable_dir(args.out or f"jaxlr-results/{comparison.name}")
    args.store = _store(out, progress=not args.no_progress)
    run_comparison(comparison, epochs=args.epochs, seeds=args.seeds, dataset=args.dataset,
                   data_dir=args.data_dir, out=out, max_train=args.max_train,
                   max_eval=args.max_eval, progress=not args.no_progress,
                   command="jaxlr compare " + " ".join(args.argv), store=args.store, runs=runs)
    print(f"wrote {out}/: results.md, metrics.json, metrics.csv, config.json, lr.png, "
          "train_loss.png, eval_acc.png")


def _store(out, progress):
    """The run store in ``out``; its messages printed above the progress bars when shown."""
    from jaxlr import engine
    from jaxlr.engine.driver import write_above_bars

    return engine.RunStore(out / "store", log=(
        (lambda message: write_above_bars(message, file=sys.stderr)) if progress else None))


class _Target(typing.NamedTuple):
    """What ``sweep`` and ``lr-find`` run: a comparison's run or a user's task."""

    name: str
    results: str  # default output folder of a command: results.format(command)
    note: str
    config: object
    data: object
    hparams: dict
    seed: int
    optimizer: object


def _task(args):
    """The :class:`_Target` of ``args.name``: a comparison's run or a user task."""
    from jaxlr import compare, data as data_lib
    from jaxlr.comparisons import COMPARISONS

    if args.name in COMPARISONS:
        comparison = COMPARISONS[args.name]
        run = compare.find_run(comparison, args.run)
        ds = compare.load_data(comparison, args.dataset, args.data_dir, args.max_train,
                               args.max_eval)
        config = compare.train_config(comparison, run, getattr(args, "epochs", None))
        return _Target(comparison.name,
                       f"jaxlr-results/{comparison.name}/{{}}-{run.slug}",
                       f"(other settings of run '{run.label}')", config, ds, dict(run.hparams),
                       comparison.seed, run.optimizer)
    if ":" not in args.name:
        raise CommandError(f"unknown comparison {args.name!r}: use one of "
                           f"{', '.join(sorted(COMPARISONS))}, or your own task as MODULE:NAME")
    from jaxlr.task import load_task

    for option in ("run", "dataset", "data_dir"):
        if getattr(args, option) is not None:
            raise CommandError(f"--{option.replace('_', '-')} applies to the built-in "
                               f"comparisons, not to a task ({args.name})")
    task = load_task(args.name)
    config = task.config
    epochs = getattr(args, "epochs", None)  # lr-find sets its own
    if epochs is not None:
        config = dataclasses.replace(config, epochs=epochs)
    ds = data_lib.subset(task.data, args.max_train, args.max_eval)
    name = task.name or config.name
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return _Target(name, f"jaxlr-results/{slug}/{{}}", "", config, ds, dict(task.hparams),
                   task.seed, config.optimizer)


def _axis(option, name, spec, positive):
    """The values of one swept hyperparameter, checked: finite (and > 0 for an lr)."""
    import numpy as np

    from jaxlr import sweep

    try:
        values = sweep.parse_values(spec)
    except ValueError as e:
        raise CommandError(f"{option}: {e}") from None
    bad = [float(v) for v in values if not np.isfinite(v) or (positive and v <= 0)]
    if bad:
        need = "finite and > 0" if positive else "finite"
        raise CommandError(f"{option} {spec}: {name} values must be {need}, got "
                           f"{', '.join(repr(b) for b in bad)}")
    return values


def _sweep_axes(args):
    from jaxlr import sweep

    axes = {}
    if args.lr:
        axes["lr"] = _axis("--lr", "lr", args.lr, positive=True)
    for item in args.param or []:
        pname, sep, spec = item.partition("=")
        if not sep or not pname:
            raise CommandError(f"--param needs NAME=VALUES (e.g. decay=0:0.01:lin:5), "
                               f"got {item!r}")
        if pname in axes:
            first = "--lr" if pname == "lr" and args.lr else f"--param {pname}=..."
            raise CommandError(f"{pname} is swept twice ({first} and --param {item}): give "
                               "its values once")
        axes[pname] = _axis(f"--param {pname}=", pname, spec, positive=pname == "lr")
    if not axes:
        raise CommandError("nothing to sweep: give --lr VALUES and/or --param NAME=VALUES")
    if args.random_seed is not None and args.random is None:
        raise CommandError(f"--random-seed {args.random_seed} is only read with --random N")
    if args.chunk_size is not None and args.strategy != "chunked":
        raise CommandError(f"--chunk-size {args.chunk_size} is only read with --strategy "
                           f"chunked (this sweep: --strategy {args.strategy})")
    if args.random is not None:
        if "lr" not in axes:
            raise CommandError("--random N samples the lr between the ends of --lr: give --lr "
                               "LOW:HIGH")
        if len(axes) > 1:
            raise CommandError(f"--random samples the lr only; drop --param "
                               f"{', '.join(n for n in axes if n != 'lr')} or sweep a grid "
                               "without --random")
        return sweep.log_uniform(args.random_seed or 0, args.random, *axes["lr"][[0, -1]])
    return sweep.grid(**axes)


def _sweep(args):
    from jaxlr import engine, sweep
    from jaxlr._io import atomic_write_text
    from jaxlr.plot import plot_sweep

    configs = _sweep_axes(args)
    name, results, note, config, ds, base, first_seed, _ = _task(args)
    out = _writable_dir(args.out or results.format("sweep"))
    args.store = _store(out, progress=not args.no_progress)
    command = "jaxlr sweep " + " ".join(args.argv)
    trainer = engine.make_train(config, ds)
    chunk_size = args.chunk_size or 64
    held = sweep.saved(trainer, configs, base=base, seeds=args.seeds, seed=first_seed,
                       strategy=args.strategy, chunk_size=chunk_size, store=args.store)
    seeds = sweep.seeds_text(range(first_seed, first_seed + args.seeds))
    print(f"{name}: {held.total // args.seeds} configs x {args.seeds} {seeds} = {held.total} "
          f"runs, {config.epochs} epochs each" + held.note(args.store.directory))
    result = sweep.sweep(trainer, configs, base=base, seeds=args.seeds, seed=first_seed,
                         strategy=args.strategy, chunk_size=chunk_size,
                         progress=not args.no_progress, store=args.store)
    if result.reused == result.parts and result.strategy != "sequential":
        print(f"{out}: already computed (run store), re-rendering")
    sweep.save(result, out / "sweep.npz")
    atomic_write_text(out / "sweep.csv", sweep.table_csv(result))
    title = f"{name}: sweep of {', '.join(result.swept)} {note}".rstrip()
    atomic_write_text(out / "ranking.md", sweep.ranking_markdown(result, title, command))
    metric = result.default_metric()
    plot_sweep(result, out, metric=metric, title=title, eval_split=result.eval_split)
    best, mean, std, _ = result.ranking()[0]
    spread = f" ± {std:.4f}" if len(result.seeds) > 1 else ""
    what = "acc" if metric == "eval_acc" else "loss"
    print(f"best: {', '.join(f'{n}={best[n]:.4g}' for n in result.swept)}: "
          f"{result.eval_split} {what} {mean:.4f}{spread}; {len(result.configs)} configs x "
          f"{len(result.seeds)} seeds in {result.seconds:.1f} s ({result.strategy}); "
          f"wrote {out}/: sweep.npz, sweep.csv, ranking.md and plots")


def _lr_find(args):
    import json

    from jaxlr import lr_find
    from jaxlr._io import atomic_write_text
    from jaxlr.engine.optimizers import optimizer_arguments

    if not args.min_lr < args.max_lr:
        raise CommandError(f"--min-lr {args.min_lr:g} must be below --max-lr {args.max_lr:g}")
    name, results, note, config, ds, base, first_seed, optimizer = _task(args)
    out = _writable_dir(args.out or results.format("lr-find"))
    # the optimizer's own settings (momentum...); the run's schedule settings do not apply
    reads = optimizer_arguments(optimizer)
    base = {k: v for k, v in base.items() if k in reads}
    result = lr_find.lr_find(config, ds, base=base, min_lr=args.min_lr, max_lr=args.max_lr,
                             num_steps=args.steps, seeds=args.seeds, seed=first_seed,
                             progress=not args.no_progress and f"{name}: lr range test, "
                                                               f"{args.steps} updates")
    result.plot(out / "lr_find.png", title=f"{name}: lr range test {note}".rstrip())
    atomic_write_text(out / "lr_find.json", json.dumps({
        "command": "jaxlr lr-find " + " ".join(args.argv), "steepest": result.steepest,
        "valley": result.valley, "lrs": result.lrs.tolist(), "curve": result.curve.tolist(),
        "stop_step": result.stop_step.tolist()}))
    print(f"suggested lr: steepest {result.steepest:.3g}, valley {result.valley:.3g} "
          f"({args.seeds} seed(s)); wrote {out}/lr_find.png, lr_find.json")


def _datasets(args):
    from jaxlr.data import describe

    for line in describe(args.data_dir):
        print(line)


def _int_at_least(low):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"must be >= {low}, got {value}")
        return value

    parse.__name__ = f"integer >= {low}"
    return parse


def _positive_float(text):
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text}")
    return value


class _Parser(argparse.ArgumentParser):
    """Usage mistakes as one line: what is wrong and where to look."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


class _Help(argparse.RawDescriptionHelpFormatter):
    pass


def _data_args(parser):
    parser.add_argument("--dataset", help="train on another dataset than the comparison's "
                                          "(e.g. cifar10, cifar100; default: the comparison's "
                                          "own)")
    parser.add_argument("--data-dir", help="folder with the dataset files (default: "
                                           "$JAXLR_DATA_DIR, then the package's own copy "
                                           "where it ships one; see jaxlr datasets)")
    parser.add_argument("--max-train", type=_int_at_least(1), metavar="N",
                        help="train on the first N examples only, a smaller run (default: all)")
    parser.add_argument("--max-eval", type=_int_at_least(1), metavar="N",
                        help="evaluate on the first N validation/test examples only "
                             "(default: all)")


def _run_args(parser, comparisons):
    parser.add_argument("name", metavar="NAME",
                        help=f"a comparison ({', '.join(sorted(comparisons))}) or your own "
                             "task as MODULE:NAME (a jaxlr.task.Task, see README)")
    parser.add_argument("--run", help="which run of a comparison, by label (default: its "
                                      "first; jaxlr compare --list shows them)")


def build_parser():
    parser = _Parser(
        prog="jaxlr",
        description="Learning-rate schedules for JAX/Optax: plot them, compare them on real "
                    "training runs, sweep them, see which datasets are available.")
    parser.add_argument("--version", action="version", version=f"jaxlr {jaxlr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plot = sub.add_parser(
        "plot", help="draw one or several schedules to a PNG",
        description="Draw schedules, each written as a jaxlr expression (see "
                    "jaxlr.parse_schedule), to an image file.",
        epilog='example: jaxlr plot "cosine(0.1, 1000)" '
               '"warmup(cosine(0.1, 900), 100)" --steps 1200 --out lr.png',
        formatter_class=_Help)
    plot.add_argument("schedules", nargs="+", metavar="EXPR",
                      help='a jaxlr expression, e.g. "one_cycle(0.1, 1000)"')
    plot.add_argument("--steps", type=_int_at_least(1), required=True,
                      help="number of steps to draw (required)")
    plot.add_argument("--start", type=_int_at_least(0), default=0,
                      help="first step (default 0)")
    plot.add_argument("--out", default="schedules.png",
                      help="output file; .png is added when it has no extension, missing "
                           "folders are created (default schedules.png)")
    plot.add_argument("--label", action="append",
                      help="legend label, once per EXPR in order (default: the expressions)")
    plot.add_argument("--log", action="store_true",
                      help="log-scale learning-rate axis (default: linear)")
    plot.add_argument("--title", help="figure title (default: none)")
    plot.set_defaults(handler=_plot)

    from jaxlr.comparisons import COMPARISONS  # light: definitions only
    from jaxlr.sweep import STRATEGIES

    compare = sub.add_parser(
        "compare", help="train the runs of a schedule comparison and write results + plots",
        description="Train every run of a comparison (default: ionosphere, seconds on a CPU) "
                    "and write jaxlr-results/NAME/: config.json, metrics.json/.csv, "
                    "results.md and PNGs of lr, training loss and accuracy. Every run is "
                    "saved after every epoch in OUT/store: an interrupted call resumes where "
                    "it stopped when run again with the same options, and finished runs are "
                    "reused.",
        epilog="examples:\n  jaxlr compare\n  jaxlr compare d2l --data-dir ../shared/data\n"
               "  jaxlr compare keras-cifar10 --dataset cifar10 --data-dir ~/data --seeds 3",
        formatter_class=_Help)
    compare.add_argument("name", nargs="?", default="ionosphere", choices=sorted(COMPARISONS),
                         metavar="NAME",
                         help=f"which comparison: {', '.join(sorted(COMPARISONS))} "
                              "(default: ionosphere)")
    compare.add_argument("--epochs", type=_int_at_least(1),
                         help="override the number of epochs (default: the comparison's; "
                              "published numbers are shown only with it)")
    compare.add_argument("--seeds", type=_int_at_least(1), default=1,
                         help="seeds per run, counted from the comparison's first seed "
                              "(default 1)")
    _data_args(compare)
    compare.add_argument("--runs", metavar="LIST",
                         help="comma-separated run labels to train, or 'reference' (the "
                              "experiment's own runs) and 'modern' (default: every run; "
                              "jaxlr compare --list names them)")
    compare.add_argument("--out", help="results folder (default jaxlr-results/NAME)")
    compare.add_argument("--no-progress", action="store_true",
                         help="no progress bars (default: shown)")
    compare.add_argument("--list", action="store_true",
                         help="list the comparisons and exit")
    compare.set_defaults(handler=_compare)

    sweep = sub.add_parser(
        "sweep", help="train many lrs / hyperparameters x seeds of a comparison's run at once",
        description="Sweep hyperparameters of one run of a comparison (default: its first run), "
                    "or of your own task (MODULE:NAME), "
                    "in one compiled program, and write sweep.npz, sweep.csv, ranking.md and plots "
                    "(final accuracy vs lr, a heatmap for two hyperparameters, learning curves). "
                    "A finished sweep is not recomputed when run again; an interrupted one "
                    "resumes after its last finished epoch.",
        epilog="examples:\n  jaxlr sweep ionosphere --lr 1e-4:1:log:32 --seeds 3\n"
               "  jaxlr sweep ionosphere --run time-based --lr 1e-3:1:log:40 "
               "--param decay=0:0.02:lin:25\n"
               "  jaxlr sweep adam-lr --lr 1e-5:1e-1 --random 32 --data-dir ../shared/data\n"
               "  jaxlr sweep mypackage.tasks:task --lr 1e-4:1e-1:log:16 --seeds 3",
        formatter_class=_Help)
    _run_args(sweep, COMPARISONS)
    sweep.add_argument("--lr", metavar="VALUES",
                       help="lr values, finite and > 0: LOW:HIGH:log:N, LOW:HIGH:lin:N or "
                            "V1,V2,... (default: not swept, the run's own lr)")
    sweep.add_argument("--param", action="append", metavar="NAME=VALUES",
                       help="another hyperparameter to sweep (grid product), same syntax; "
                            "repeat for more (default: none)")
    sweep.add_argument("--random", type=_int_at_least(1), metavar="N",
                       help="instead of a grid, N log-uniform samples of the lr between the "
                            "--lr ends (default: a grid)")
    sweep.add_argument("--random-seed", type=int,
                       help="seed of the --random samples (default 0)")
    sweep.add_argument("--seeds", type=_int_at_least(1), default=1,
                       help="seeds per configuration, counted from the run's first seed "
                            "(default 1)")
    sweep.add_argument("--strategy", default="auto", choices=STRATEGIES,
                       help="how members run: one vmapped program, chunks of it, one after "
                            "another, or sharded over devices (default auto: what is fastest "
                            "for this model and machine)")
    sweep.add_argument("--chunk-size", type=_int_at_least(1),
                       help="members per chunk with --strategy chunked (default 64)")
    sweep.add_argument("--epochs", type=_int_at_least(1),
                       help="override the number of epochs (default: the run's)")
    _data_args(sweep)
    sweep.add_argument("--out", help="output folder (default jaxlr-results/NAME/sweep-RUN)")
    sweep.add_argument("--no-progress", action="store_true",
                       help="no progress bar (default: shown)")
    sweep.set_defaults(handler=_sweep)

    finder = sub.add_parser(
        "lr-find", help="learning-rate range test (Smith 2017) with a suggested lr",
        description="Ramp the lr exponentially from --min-lr to --max-lr over --steps updates "
                    "of a comparison's run (or your task), plot the smoothed loss against the "
                    "lr and suggest an lr (steepest descent, and fastai's valley).",
        epilog="example:\n  jaxlr lr-find ionosphere --seeds 3",
        formatter_class=_Help)
    _run_args(finder, COMPARISONS)
    finder.add_argument("--min-lr", type=_positive_float, default=1e-7,
                        help="lr of the first update of the ramp (default 1e-7)")
    finder.add_argument("--max-lr", type=_positive_float, default=10.0,
                        help="lr of the last update of the ramp (default 10)")
    finder.add_argument("--steps", type=_int_at_least(11), default=100,
                        help="updates in the ramp, each at a larger lr (default 100)")
    finder.add_argument("--seeds", type=_int_at_least(1), default=1,
                        help="seeds, one vmapped program; the suggestion uses their mean "
                             "curve (default 1)")
    _data_args(finder)
    finder.add_argument("--out", help="output folder (default jaxlr-results/NAME/lr-find-RUN)")
    finder.add_argument("--no-progress", action="store_true",
                        help="no progress bar (default: shown)")
    finder.set_defaults(handler=_lr_find)

    datasets = sub.add_parser("datasets", help="show which datasets are found where",
                              description="For each dataset, where it would be loaded from, "
                                          "or what is missing.")
    datasets.add_argument("--data-dir", help="folder with dataset files "
                                             "(default $JAXLR_DATA_DIR)")
    datasets.set_defaults(handler=_datasets)
    return parser


def _interrupted(args):
    """What an interrupted command leaves behind, in one line."""
    from jaxlr.engine.driver import saved_progress

    store = getattr(args, "store", None)
    if store is None:
        return "nothing was written"
    if not store.written:
        return (f"nothing new was saved (finished work from earlier calls stays in "
                f"{store.directory})")
    finished = partial = 0
    epochs = []
    for meta in store.written.values():
        done, complete = saved_progress(meta)
        members = meta.get("members", 1)
        if complete:
            finished += members
        else:
            partial += members
            epochs.append((done, meta.get("epochs")))
    parts = [f"{finished} run(s) finished"] if finished else []
    if partial:
        where = ", ".join(sorted({f"epoch {d} of {e}" for d, e in epochs}))
        parts.append(f"{partial} run(s) saved up to {where}")
    return (f"saved in {store.directory}: {'; '.join(parts)}. Run the same command again to "
            "resume: finished runs are reused, the others continue after their last saved "
            "epoch")


def _one_line(error):
    """An exception as one line for the terminal, naming the file when there is one."""
    if isinstance(error, OSError):
        name = error.filename
        text = error.strerror or str(error)
        return f"{name}: {text}" if name else text
    text = str(error).strip().splitlines()
    text = text[0] if text else ""
    if isinstance(error, (ValueError, TypeError, CommandError)):
        return text or type(error).__name__
    return (f"{type(error).__name__}: {text} (unexpected; JAXLR_TRACEBACK=1 shows where it "
            "happened)")


def main(argv=None):
    """Run the ``jaxlr`` command; return its exit status.

    Mistakes and failures are printed as one line on stderr (exit status 2 for
    a wrong command line, 1 for a failure while running, 130 for Ctrl-C); set
    ``JAXLR_TRACEBACK=1`` to see the Python traceback instead.
    """
    import os

    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:  # --help, --version, or a usage error already printed
        return e.code
    args.argv = list(sys.argv[1:] if argv is None else argv)[1:]
    if args.command is None:
        parser.print_help()
        return 0
    prog = f"jaxlr {args.command}"
    try:
        args.handler(args)
    except KeyboardInterrupt:
        if os.environ.get("JAXLR_TRACEBACK"):
            raise
        print(f"\n{prog}: interrupted; {_interrupted(args)}.", file=sys.stderr)
        return 130
    except Exception as e:  # noqa: BLE001 - the command's last word: one line, never a traceback
        if os.environ.get("JAXLR_TRACEBACK"):
            raise
        status = 2 if isinstance(e, (CommandError, ValueError, TypeError)) else 1
        print(f"{prog}: error: {_one_line(e)}", file=sys.stderr)
        return status
    return 0


if __name__ == "__main__":
    sys.exit(main())
