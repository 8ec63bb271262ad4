"""The ``jaxlr`` command.

``jaxlr plot EXPR...`` draws schedules written as jaxlr expressions, e.g.
``"warmup(cosine(0.1, 1000), 100)"``. Expressions are parsed with ``ast`` and
may only call jaxlr's public schedules and combinators with literal arguments
(numbers and arithmetic on them, strings, lists, ``key(seed)``); nothing
is ``eval``-ed.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import operator
import sys
import typing

import jaxlr


def _callables():
    import jax

    names = {n: getattr(jaxlr, n) for n in jaxlr.__all__
             if n[0].islower() and n not in ("observe", "reduce_on_plateau", "linear_scaling")}
    names["key"] = jax.random.key
    names["linear_scaling"] = jaxlr.linear_scaling
    return names


def parse_schedule(text):
    """Build a schedule from a jaxlr expression such as ``"cosine(0.1, 1000)"``.

    Raises:
      ValueError: if the text is not a call of a jaxlr schedule or combinator
        with literal arguments; the message names what is not allowed.
    """
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not a valid expression: {text!r} ({e.msg})") from None
    allowed = _callables()

    def build(node):
        if isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name) or node.func.id not in allowed:
                name = ast.unparse(node.func)
                raise ValueError(f"unknown schedule {name!r} in {text!r}; "
                                 f"known: {', '.join(sorted(allowed))}")
            args = [build(a) for a in node.args]
            kwargs = {k.arg: build(k.value) for k in node.keywords}
            return allowed[node.func.id](*args, **kwargs)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [build(e) for e in node.elts]
        if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str, bool)):
            return node.value
        if isinstance(node, ast.Constant) and node.value is None:
            return None
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = build(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = build(node.left), build(node.right)
            if not all(isinstance(x, (int, float)) for x in (left, right)):
                _reject(node, text)
            if isinstance(node.op, ast.Pow):  # floats: a huge power overflows, never hangs
                left = float(left)
            try:
                return _ARITHMETIC[type(node.op)](left, right)
            except (OverflowError, ZeroDivisionError) as e:
                raise ValueError(f"{ast.unparse(node)!r} in {text!r}: arithmetic overflow or division by zero ({e})") from None
        return _reject(node, text)

    schedule = build(tree.body)
    if not callable(schedule):
        raise ValueError(f"{text!r} is not a schedule (it evaluates to {schedule!r})")
    return schedule


# arithmetic on literals, e.g. ``30 * 235`` steps
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv, ast.Pow: operator.pow}


def _reject(node, text):
    raise ValueError(f"not allowed in a schedule expression: {ast.unparse(node)!r} in {text!r} "
                     "(use literal numbers, strings, lists and jaxlr calls)")


def _plot(args):
    from jaxlr.plot import plot_schedules

    labels = args.label or []
    if len(labels) > len(args.schedules):
        raise ValueError(f"--label given {len(labels)} times for {len(args.schedules)} schedules")
    schedules = {}
    for i, text in enumerate(args.schedules):
        label = labels[i] if i < len(labels) else text
        schedules[label] = parse_schedule(text)
    plot_schedules(schedules, args.steps, start=args.start, log=args.log, title=args.title,
                   path=args.out)
    print(f"wrote {args.out} ({len(schedules)} schedule(s), steps {args.start}.."
          f"{args.start + args.steps - 1})")


def _compare(args):
    from jaxlr.compare import run_comparison
    from jaxlr.comparisons import COMPARISONS

    if args.list:
        for name, c in COMPARISONS.items():
            print(f"{name:<14} {c.title} ({c.dataset}, {c.epochs} epochs, {len(c.runs)} runs)")
        return
    comparison = COMPARISONS[args.name]
    out = args.out or f"experiments/results/{comparison.name}"
    run_comparison(comparison, epochs=args.epochs, seeds=args.seeds, dataset=args.dataset,
                   data_dir=args.data_dir, out=out, max_train=args.max_train,
                   max_eval=args.max_eval,
                   progress=not args.no_progress)
    print(f"wrote {out}/results.md, metrics.json, metrics.csv, config.json, lr.png, "
          "train_loss.png, eval_acc.png")


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
                       f"experiments/results/{comparison.name}/{{}}-{run.slug}",
                       f"(other settings of run '{run.label}')", config, ds, dict(run.hparams),
                       comparison.seed, run.optimizer)
    if ":" not in args.name:
        raise ValueError(f"unknown comparison {args.name!r}: use one of {sorted(COMPARISONS)} "
                         "or a task MODULE:NAME")
    from jaxlr.task import load_task

    for option in ("run", "dataset", "data_dir"):
        if getattr(args, option) is not None:
            raise ValueError(f"--{option.replace('_', '-')} applies to the built-in "
                             f"comparisons, not to a task ({args.name})")
    task = load_task(args.name)
    config = task.config
    epochs = getattr(args, "epochs", None)  # lr-find sets its own
    if epochs is not None:
        if epochs < 1:
            raise ValueError(f"epochs must be >= 1, got {epochs}")
        config = dataclasses.replace(config, epochs=epochs)
    ds = data_lib.subset(task.data, args.max_train, args.max_eval)
    name = task.name or config.name
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in name)
    return _Target(name, f"experiments/results/{slug}/{{}}", "", config, ds, dict(task.hparams),
                   task.seed, config.optimizer)


def _sweep(args):
    import pathlib

    from jaxlr import engine, sweep
    from jaxlr._io import atomic_write_text
    from jaxlr.plot import plot_sweep

    name, results, note, config, ds, base, first_seed, _ = _task(args)
    axes = {}
    if args.lr:
        axes["lr"] = sweep.parse_values(args.lr)
    for item in args.param or []:
        pname, sep, spec = item.partition("=")
        if not sep:
            raise ValueError(f"--param needs NAME=VALUES, got {item!r}")
        axes[pname] = sweep.parse_values(spec)
    if not axes:
        raise ValueError("nothing to sweep: give --lr and/or --param NAME=VALUES")
    configs = sweep.log_uniform(args.random_seed, args.random, *axes["lr"][[0, -1]]) \
        if args.random else sweep.grid(**axes)
    out = pathlib.Path(args.out or results.format("sweep"))
    command = "jaxlr sweep " + " ".join(args.argv)
    trainer = engine.make_train(config, ds)
    result = sweep.sweep(trainer, configs, base=base, seeds=args.seeds, seed=first_seed,
                         strategy=args.strategy, chunk_size=args.chunk_size,
                         progress=not args.no_progress, store=out / "store")
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
          f"wrote {out}/")


def _lr_find(args):
    import json
    import pathlib

    from jaxlr import lr_find
    from jaxlr._io import atomic_write_text
    from jaxlr.engine.optimizers import optimizer_arguments

    name, results, note, config, ds, base, first_seed, optimizer = _task(args)
    # the optimizer's own settings (momentum...); the run's schedule settings do not apply
    reads = optimizer_arguments(optimizer)
    base = {k: v for k, v in base.items() if k in reads}
    result = lr_find.lr_find(config, ds, base=base, min_lr=args.min_lr, max_lr=args.max_lr,
                             num_steps=args.steps, seeds=args.seeds, seed=first_seed)
    out = pathlib.Path(args.out or results.format("lr-find"))
    result.plot(out / "lr_find.png", title=f"{name}: lr range test {note}".rstrip())
    atomic_write_text(out / "lr_find.json", json.dumps({
        "command": "jaxlr lr-find " + " ".join(args.argv), "steepest": result.steepest,
        "valley": result.valley, "lrs": result.lrs.tolist(), "curve": result.curve.tolist(),
        "stop_step": result.stop_step.tolist()}))
    print(f"suggested lr: steepest {result.steepest:.3g}, valley {result.valley:.3g} "
          f"({args.seeds} seed(s)); wrote {out}/lr_find.png")


def _datasets(args):
    from jaxlr.data import describe

    for line in describe(args.data_dir):
        print(line)


def _data_args(parser):
    parser.add_argument("--dataset", help="override the dataset (e.g. cifar10, cifar100)")
    parser.add_argument("--data-dir", help="directory with the dataset files "
                                           "(default $JAXLR_DATA_DIR)")
    parser.add_argument("--max-train", type=int,
                        help="train on the first N examples only (a smaller run)")
    parser.add_argument("--max-eval", type=int,
                        help="evaluate on the first N validation/test examples only")


def _run_args(parser, comparisons):
    parser.add_argument("name", metavar="NAME",
                        help=f"a comparison ({', '.join(sorted(comparisons))}) or your own "
                             "task as MODULE:NAME (a jaxlr.task.Task, see README)")
    parser.add_argument("--run", help="which run of a comparison (label; default: the first)")


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jaxlr",
        description="Learning-rate schedules for JAX/Optax: plot them, compare them on real "
                    "training runs, see which datasets are available.")
    parser.add_argument("--version", action="version", version=f"jaxlr {jaxlr.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    plot = sub.add_parser(
        "plot", help="draw one or several schedules to a PNG",
        description="Draw schedules, each written as a jaxlr expression, to an image file.",
        epilog='example: jaxlr plot "cosine(0.1, 1000)" '
               '"warmup(cosine(0.1, 900), 100)" --steps 1200 --out lr.png',
        formatter_class=argparse.RawDescriptionHelpFormatter)
    plot.add_argument("schedules", nargs="+", metavar="EXPR",
                      help='a jaxlr expression, e.g. "one_cycle(0.1, 1000)"')
    plot.add_argument("--steps", type=int, required=True, help="number of steps to draw")
    plot.add_argument("--start", type=int, default=0, help="first step (default 0)")
    plot.add_argument("--out", default="schedules.png", help="output file (default schedules.png)")
    plot.add_argument("--label", action="append", help="legend label, once per EXPR in order")
    plot.add_argument("--log", action="store_true", help="log-scale learning-rate axis")
    plot.add_argument("--title", help="figure title")
    plot.set_defaults(handler=_plot)

    from jaxlr.comparisons import COMPARISONS  # light: definitions only
    from jaxlr.sweep import STRATEGIES

    compare = sub.add_parser(
        "compare", help="train the runs of a schedule comparison and write results + plots",
        description="Train every run of a comparison (default: ionosphere, seconds on a CPU) "
                    "and write experiments/results/NAME/: config.json, metrics.json/.csv, "
                    "results.md and PNGs of lr, training loss and accuracy. An interrupted "
                    "call resumes where it stopped when run again with the same options.",
        epilog="examples:\n  jaxlr compare\n  jaxlr compare d2l --data-dir ../shared/data\n"
               "  jaxlr compare keras-cifar10 --dataset cifar10 --data-dir ~/data --seeds 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    compare.add_argument("name", nargs="?", default="ionosphere", choices=sorted(COMPARISONS),
                         help="which comparison (default: ionosphere)")
    compare.add_argument("--epochs", type=int, help="override the number of epochs")
    compare.add_argument("--seeds", type=int, default=1, help="seeds per run (default 1)")
    _data_args(compare)
    compare.add_argument("--out", help="results directory (default experiments/results/NAME)")
    compare.add_argument("--no-progress", action="store_true", help="no progress bars")
    compare.add_argument("--list", action="store_true", help="list the comparisons and exit")
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
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_args(sweep, COMPARISONS)
    sweep.add_argument("--lr", help="lr values: LOW:HIGH:log:N, LOW:HIGH:lin:N or V1,V2,...")
    sweep.add_argument("--param", action="append", metavar="NAME=VALUES",
                       help="another hyperparameter to sweep (grid product), same syntax")
    sweep.add_argument("--random", type=int, metavar="N",
                       help="instead of a grid, N log-uniform samples between the --lr ends")
    sweep.add_argument("--random-seed", type=int, default=0, help="seed of --random")
    sweep.add_argument("--seeds", type=int, default=1, help="seeds per configuration")
    sweep.add_argument("--strategy", default="auto", choices=STRATEGIES)
    sweep.add_argument("--chunk-size", type=int, default=64, help="members per chunk")
    sweep.add_argument("--epochs", type=int, help="override the number of epochs")
    _data_args(sweep)
    sweep.add_argument("--out", help="output directory")
    sweep.add_argument("--no-progress", action="store_true")
    sweep.set_defaults(handler=_sweep)

    finder = sub.add_parser(
        "lr-find", help="learning-rate range test (Smith 2017) with a suggested lr",
        description="Ramp the lr exponentially over --steps updates of a comparison's run, "
                    "plot the smoothed loss against the lr and suggest an lr (steepest "
                    "descent, and fastai's valley).",
        epilog="example:\n  jaxlr lr-find ionosphere --seeds 3",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    _run_args(finder, COMPARISONS)
    finder.add_argument("--min-lr", type=float, default=1e-7)
    finder.add_argument("--max-lr", type=float, default=10.0)
    finder.add_argument("--steps", type=int, default=100, help="updates in the ramp")
    finder.add_argument("--seeds", type=int, default=1, help="seeds (one vmapped program)")
    _data_args(finder)
    finder.add_argument("--out", help="output directory")
    finder.set_defaults(handler=_lr_find)

    datasets = sub.add_parser("datasets", help="show which datasets are found where",
                              description="For each dataset, where it would be loaded from, "
                                          "or what is missing.")
    datasets.add_argument("--data-dir", help="directory with dataset files "
                                             "(default $JAXLR_DATA_DIR)")
    datasets.set_defaults(handler=_datasets)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = list(sys.argv[1:] if argv is None else argv)[1:]
    if args.command is None:
        parser.print_help()
        return 0
    try:
        args.handler(args)
    except (ValueError, TypeError) as e:
        print(f"jaxlr {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
