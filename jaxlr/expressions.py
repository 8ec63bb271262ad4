"""Schedules as expressions: the repr that prints one and the parser that reads it back.

Every schedule built by a public jaxlr factory or combinator is a
:class:`Schedule`: a callable that forwards ``step`` to the schedule function
and whose ``repr`` is the call that built it, with the arguments as they were
passed (nested schedules print their own expression)::

    >>> import jaxlr
    >>> s = jaxlr.warmup(jaxlr.cosine(0.1, 1000), 100, mode="cosine")
    >>> s
    warmup(cosine(0.1, 1000), 100, mode='cosine')

:func:`parse_schedule` builds a schedule from such an expression, so that
``parse_schedule(repr(s))`` is ``s`` again, value for value, whenever every
argument was a concrete number or array, a string, a list, a jaxlr schedule or
a key made by ``jax.random.key(seed)``. A number prints in the shortest form
that reads back as the same value of its own dtype (``np.float32(0.1)`` as
``0.1``), so under ``jax_enable_x64`` a float32 argument reads back as the
nearest float64, not as the float32 widened.
"""

from __future__ import annotations

import ast
import functools
import inspect
import operator

import jax
import numpy as np

__all__ = ["Schedule", "parse_schedule", "schedule_factory"]


class Schedule:
    """A schedule that knows the expression that built it.

    ``schedule(step)`` is the schedule function's value (the object adds one
    Python call and nothing else); ``repr(schedule)`` is the factory call with
    its arguments as passed: positional stay positional, keywords stay
    keywords, numbers (Python, numpy or concrete JAX scalars) print as numbers,
    concrete arrays as (nested) lists, a key made by ``jax.random.key(seed)``
    as ``key(seed)``, other keys as ``<key<fry>[]>``, traced values as
    ``<traced float32[]>``. The expression is formatted when ``repr`` is
    called, never at construction or per call.

    ``__wrapped__`` is the schedule function itself (``inspect.unwrap``,
    ``inspect.signature`` and ``jaxlr.engine.identity.callable_identity`` see
    through the object to it, so two schedules built alike have equal
    identities).
    """

    __slots__ = ("__wrapped__", "_name", "_args", "_kwargs", "__weakref__")

    def __init__(self, fn, name, args, kwargs):
        # a factory that returns another factory's schedule (warmup_stable_decay
        # returns a warmup) forwards to the function inside it: one call, not two
        self.__wrapped__ = fn.__wrapped__ if type(fn) is Schedule else fn
        self._name = name
        # lists are copied so that mutating the caller's list later cannot change the repr
        self._args = tuple(_snapshot(a) for a in args)
        self._kwargs = {k: _snapshot(a) for k, a in kwargs.items()}

    def __call__(self, step):
        return self.__wrapped__(step)

    def __repr__(self):
        parts = [_format(a) for a in self._args]
        parts += [f"{k}={_format(a)}" for k, a in self._kwargs.items()]
        return f"{self._name}({', '.join(parts)})"


def schedule_factory(factory):
    """Decorate a function that returns a schedule function so that it returns a :class:`Schedule`.

    The decorated factory keeps the original's name, docstring and signature
    (``functools.wraps``).
    """
    name = factory.__name__

    @functools.wraps(factory)
    def build(*args, **kwargs):
        return Schedule(factory(*args, **kwargs), name, args, kwargs)

    build.builds_schedule = True  # what parse_schedule may call
    return build


def _snapshot(value):
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, tuple):
        return tuple(_snapshot(v) for v in value)
    return value


# ------------------------------------------------------------------ printing


def _format(value):
    """One argument as it reads in an expression, on one line; never raises."""
    try:
        return _format_value(value)
    except Exception:  # a repr must not fail, whatever the argument (a deleted buffer...)
        return f"<{type(value).__name__}>"


def _format_value(value):
    if isinstance(value, Schedule):
        return repr(value)
    if isinstance(value, np.generic):  # before float: np.float64 is a float
        return _format_array(np.asarray(value))
    if value is None or isinstance(value, (bool, int, float, str)):
        return repr(value)
    if isinstance(value, list):
        return f"[{', '.join(_format(v) for v in value)}]"
    if isinstance(value, tuple):
        inner = ", ".join(_format(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    if isinstance(value, jax.core.Tracer):
        return f"<traced {_aval(value)}>"
    if isinstance(value, (jax.Array, np.ndarray)):
        if jax.dtypes.issubdtype(value.dtype, jax.dtypes.prng_key):
            return _format_key(value)
        return _format_array(np.asarray(value))
    if callable(value):
        name = getattr(value, "__qualname__", None) or getattr(value, "__name__", None)
        if isinstance(name, str):
            return f"<function {name}>"
    return " ".join(repr(value).split())


def _aval(x):
    return f"{x.dtype}[{','.join(str(d) for d in x.shape)}]"


def _format_array(a):
    if a.ndim == 0:
        return _format_scalar(a[()])
    return f"[{', '.join(_format_array(row) for row in a)}]"


def _format_scalar(x):
    if isinstance(x, np.bool_):
        return repr(bool(x))
    if isinstance(x, np.integer):
        return repr(int(x))
    if isinstance(x, np.floating):
        # numpy's shortest repr that reads back as the same value of x's dtype:
        # np.float32(0.1) prints 0.1, not 0.10000000149011612
        return str(x)
    return repr(x.item())


def _format_key(key):
    """``key(seed)`` for the key ``jax.random.key(seed)`` makes, else ``<key<impl>[shape]>``."""
    if key.shape == ():
        data = np.asarray(jax.random.key_data(key))
        if data.shape == (2,):
            seed = (int(data[0]) << 32) | int(data[1])
            try:
                again = jax.random.key(seed)
                if again.dtype == key.dtype and np.array_equal(
                        np.asarray(jax.random.key_data(again)), data):
                    return f"key({seed})"
            except (OverflowError, TypeError, ValueError):
                pass
    return f"<{_aval(key)}>"


# ------------------------------------------------------------------ parsing


def _callables():
    import jaxlr

    # the schedule factories and combinators, and the one helper that gives a value
    names = {n: getattr(jaxlr, n) for n in jaxlr.__all__
             if getattr(getattr(jaxlr, n), "builds_schedule", False)}
    names["linear_scaling"] = jaxlr.linear_scaling
    names["key"] = jax.random.key
    return names


# literal names besides True, False and None, which are Python constants
_NAMES = {"inf": float("inf")}

# arithmetic on literals, e.g. ``30 * 235`` steps
_ARITHMETIC = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul,
               ast.Div: operator.truediv, ast.Pow: operator.pow}


def parse_schedule(text):
    """Build a schedule from a jaxlr expression such as ``"cosine(0.1, 1000)"``.

    The expression is parsed with :mod:`ast` and built from the leaves up;
    nothing is ``eval``-ed and no other name can be reached. The grammar::

        expr     := call | number | string | list | "None" | "True" | "False"
        call     := NAME "(" [expr ("," expr)*] [NAME "=" expr ("," NAME "=" expr)*] ")"
        list     := "[" [expr ("," expr)*] "]"  |  "(" expr "," ... ")"
        number   := INT | FLOAT | "inf" | ("+" | "-") number
                  | number ("+" | "-" | "*" | "/" | "**") number

    where ``NAME`` is one of jaxlr's public schedules and combinators
    (``cosine``, ``warmup``, ``join``, ...), ``linear_scaling`` (whose value is
    a number) or ``key`` (``key(seed)`` is ``jax.random.key(seed)``). Tuples
    are read as lists. ``repr`` of a schedule built with concrete arguments is
    such an expression, so ``parse_schedule(repr(s))`` builds ``s`` again;
    reprs that hold traced values (``<traced float32[]>``), keys not made by
    ``key(seed)``, or functions that are not jaxlr schedules do not parse.

    Args:
      text: the expression.

    Returns:
      The schedule (a :class:`Schedule`).

    Raises:
      ValueError: if the text is not a call of a jaxlr schedule or combinator
        with literal arguments, or a call's arguments do not fit its
        signature, or the schedule rejects them; the message names what is
        wrong.

    >>> import jaxlr
    >>> s = jaxlr.parse_schedule("warmup(cosine(0.1, 10 * 100), 100, mode='cosine')")
    >>> s
    warmup(cosine(0.1, 1000), 100, mode='cosine')
    >>> print(s([0, 50, 100, 1100]))
    [0.   0.05 0.1  0.  ]
    >>> jaxlr.parse_schedule("join([constant(1.0), linear(1.0, 0.0, 4)], [3])")
    join([constant(1.0), linear(1.0, 0.0, 4)], [3])
    >>> jaxlr.parse_schedule("clip(cosine(1.0, 10), min_value=0.1, max_value=inf)")
    clip(cosine(1.0, 10), min_value=0.1, max_value=inf)
    >>> jaxlr.parse_schedule("noisy_linear_cosine(0.1, 100, key(3))")
    noisy_linear_cosine(0.1, 100, key(3))
    >>> jaxlr.parse_schedule("cosine(0.1, steps)")
    Traceback (most recent call last):
    ...
    ValueError: not allowed in a schedule expression: 'steps' in 'cosine(0.1, steps)' (use literal numbers, strings, lists and jaxlr calls)
    >>> jaxlr.parse_schedule("cosine(0.1, 1000, end=0.0)")
    Traceback (most recent call last):
    ...
    ValueError: cosine(...) in 'cosine(0.1, 1000, end=0.0)': got an unexpected keyword argument 'end'; cosine takes (init_value, decay_steps, end_value=0.0, exponent=1.0)
    """
    if not isinstance(text, str):
        raise ValueError(f"a schedule expression must be a string, got {text!r}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ValueError(f"not a valid expression: {text!r} ({e.msg})") from None
    allowed = _callables()

    def build(node):
        if isinstance(node, ast.Call):
            return call(node)
        if isinstance(node, (ast.List, ast.Tuple)):
            return [build(e) for e in node.elts]
        if isinstance(node, ast.Constant) and (
                node.value is None or isinstance(node.value, (int, float, str, bool))):
            return node.value
        if isinstance(node, ast.Name) and node.id in _NAMES:
            return _NAMES[node.id]
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = build(node.operand)
            if not _is_number(value):
                _reject(node, text)
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.BinOp) and type(node.op) in _ARITHMETIC:
            left, right = build(node.left), build(node.right)
            if not (_is_number(left) and _is_number(right)):
                _reject(node, text)
            if isinstance(node.op, ast.Pow):  # floats: a huge power overflows, never hangs
                left = float(left)
            try:
                return _ARITHMETIC[type(node.op)](left, right)
            except (OverflowError, ZeroDivisionError) as e:
                raise ValueError(f"{ast.unparse(node)!r} in {text!r}: arithmetic overflow or "
                                 f"division by zero ({e})") from None
        return _reject(node, text)

    def call(node):
        if not isinstance(node.func, ast.Name) or node.func.id not in allowed:
            name = ast.unparse(node.func)
            raise ValueError(f"unknown schedule {name!r} in {text!r}; "
                             f"known: {', '.join(sorted(allowed))}")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                _reject(arg, text)
        for keyword in node.keywords:
            if keyword.arg is None:  # **kwargs
                _reject(keyword, text)
        name = node.func.id
        fn = allowed[name]
        args = [build(a) for a in node.args]
        kwargs = {k.arg: build(k.value) for k in node.keywords}
        try:
            signature = inspect.signature(fn)
            signature.bind(*args, **kwargs)
        except TypeError as e:
            raise ValueError(f"{name}(...) in {text!r}: {e}; {name} takes "
                             f"{_parameters(signature)}") from None
        except ValueError:  # no signature to check against: the call itself checks
            pass
        try:
            return fn(*args, **kwargs)
        except TypeError as e:  # an argument of the wrong kind, e.g. key('a')
            raise ValueError(f"{name}(...) in {text!r}: {e}") from None

    try:
        schedule = build(tree.body)
    except RecursionError:
        raise ValueError(f"expression nested too deeply: {text[:80]!r}...") from None
    if not callable(schedule):
        raise ValueError(f"{text!r} is not a schedule (it evaluates to {schedule!r})")
    return schedule


def _is_number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _parameters(signature):
    return f"({', '.join(str(p) for p in signature.parameters.values())})"


def _reject(node, text):
    raise ValueError(f"not allowed in a schedule expression: {ast.unparse(node)!r} in {text!r} "
                     "(use literal numbers, strings, lists and jaxlr calls)")
