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
import operator
import sys

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


def build_parser():
    parser = argparse.ArgumentParser(
        prog="jaxlr",
        description="Learning-rate schedules for JAX/Optax: plot them (more commands to come).")
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
    plot.set_defaults(run=_plot)
    return parser


def main(argv=None):
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        args.run(args)
    except (ValueError, TypeError) as e:
        print(f"jaxlr {args.command}: error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
