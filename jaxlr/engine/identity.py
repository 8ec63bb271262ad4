"""What determines a run's numbers, as JSON-able dicts: the keys of the run store.

A saved run is reused only when all of it matches: the trainer (config,
model, loss, metrics, optimizer, schedule), the data, the hyperparameters and
key of every member, how the members were run (strategy, chunk size, devices),
and the versions and backend that computed it.

- Data: shapes, dtypes and a SHA-256 of the arrays' bytes.
- The schedule: a SHA-256 of its learning rates at every update of the run,
  for the run's own hyperparameters (what the run actually uses; two builders
  that give the same lrs give the same run).
- User callables (model, loss, metrics, optimizer factory): module, qualified
  name and a hash of their source, recursively of what their closures and
  ``functools.partial`` bind; a Linen module also by its fields' repr. A
  change in a helper they call is not seen: set ``TrainConfig.identity``.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import inspect
import json
import os
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr.expressions import Schedule

__all__ = ["callable_identity", "data_fingerprint", "digest", "environment",
           "schedule_fingerprints", "trainer_identity"]


def digest(identity):
    """SHA-256 of an identity's canonical JSON."""
    text = json.dumps(identity, sort_keys=True, separators=(",", ":"), default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def _source_hash(obj):
    try:
        source = inspect.getsource(obj)
    except (OSError, TypeError):
        return None
    return hashlib.sha256(source.encode()).hexdigest()[:16]


def _value(v, depth):
    import flax.linen as nn

    if isinstance(v, (bool, int, float, str, type(None))):
        return v
    if isinstance(v, (np.integer, np.floating, np.bool_)):
        return v.item()
    if isinstance(v, (tuple, list)):
        return [_value(x, depth) for x in v]
    if isinstance(v, dict):
        return {str(k): _value(x, depth) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, np.ndarray) or isinstance(v, jax.Array):
        a = np.asarray(v)
        return {"array": list(a.shape), "dtype": str(a.dtype),
                "sha256": hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]}
    if (callable(v) or isinstance(v, nn.Module)) and depth < 6:
        return callable_identity(v, depth + 1)
    if depth < 6:
        fields = _object_fields(v)
        if fields is not None:
            return {"object": _qualname(type(v)),
                    "fields": {k: _value(x, depth + 1) for k, x in fields.items()}}
    return _qualname(type(v))


def _qualname(t):
    return f"{getattr(t, '__module__', '?')}.{getattr(t, '__qualname__', '?')}"


def _object_fields(v):
    """The values that make up an object (dataclass fields or its ``__dict__``), if any."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: getattr(v, f.name) for f in dataclasses.fields(v)}
    d = getattr(v, "__dict__", None)
    if isinstance(d, dict):
        return {k: x for k, x in d.items() if not k.startswith("__")}
    return None


def callable_identity(fn, depth=0):
    """Module, qualified name, source hash and bound values of a callable (recursively)."""
    import flax.linen as nn

    if fn is None:
        return None
    if isinstance(fn, str):
        return fn
    if isinstance(fn, Schedule):
        # a jaxlr schedule is a finite tree built bottom-up (no cycles): each level restarts
        # the depth budget, so schedules that differ however deep down differ here too
        depth = 0
    fn = inspect.unwrap(fn)  # jax.jit, functools.wraps: the function they wrap
    if isinstance(fn, functools.partial):
        return {"partial": callable_identity(fn.func, depth + 1),
                "args": _value(list(fn.args), depth), "keywords": _value(fn.keywords, depth)}
    if isinstance(fn, nn.Module):
        return {"linen": callable_identity(type(fn), depth + 1), "fields": repr(fn)}
    is_code = inspect.isfunction(fn) or inspect.isclass(fn) or inspect.ismethod(fn)
    target = fn if is_code else type(fn)
    out = {"name": _qualname(target), "source": _source_hash(target)}
    if inspect.ismethod(fn) and depth < 6:
        out["self"] = _value(fn.__self__, depth + 1)
    if not is_code and depth < 6:  # a callable object: its class and its values
        fields = _object_fields(fn)
        if fields:
            out["fields"] = {k: _value(x, depth + 1) for k, x in fields.items()}
    closure = getattr(fn, "__closure__", None)
    if closure and depth < 6:
        names = fn.__code__.co_freevars
        out["closure"] = {n: _value(c.cell_contents, depth)
                          for n, c in zip(names, closure) if _cell_filled(c)}
    defaults = getattr(fn, "__defaults__", None)
    if defaults:
        out["defaults"] = _value(list(defaults), depth)
    return out


def _cell_filled(cell):
    try:
        cell.cell_contents
    except ValueError:
        return False
    return True


def data_fingerprint(x_train, y_train, x_eval, y_eval, eval_split, num_classes):
    """Shapes, dtypes and SHA-256 of a dataset's arrays, its evaluation split and classes."""
    out = {"eval_split": eval_split, "num_classes": num_classes}
    for name, a in (("x_train", x_train), ("y_train", y_train), ("x_eval", x_eval),
                    ("y_eval", y_eval)):
        a = np.ascontiguousarray(a)
        out[name] = {"shape": list(a.shape), "dtype": str(a.dtype),
                     "sha256": hashlib.sha256(a.tobytes()).hexdigest()}
    return out


def environment():
    """Versions, backend and devices: what computes the numbers besides the code."""
    import jaxlr

    devices = jax.devices()
    env = {"jaxlr": jaxlr.__version__, "jax": jax.__version__, "backend": jax.default_backend(),
           "versions": _versions(),
           "devices": [len(devices), getattr(devices[0], "device_kind", str(devices[0]))],
           "x64": bool(jax.config.jax_enable_x64), "processes": jax.process_count()}
    if env["backend"] == "cpu":
        # XLA:CPU results can differ in the last bits between thread counts
        env["cpu_threads"] = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else os.cpu_count()
    return env


def _versions():
    import flax
    import jaxlib.version
    import optax

    return {"jaxlib": jaxlib.version.__version__, "optax": optax.__version__,
            "flax": flax.__version__, "numpy": np.__version__}


_TRAINERS = weakref.WeakKeyDictionary()


def trainer_identity(trainer):
    """Everything of a trainer that determines its numbers, hyperparameters and key aside.

    The part that belongs to the trainer (config, callables, data) is computed
    once per trainer, at its first use, as its compiled programs are: a trainer
    is immutable and its programs do not see later changes to what its
    callables close over either. The environment is read every time.
    """
    own = _TRAINERS.get(trainer)
    if own is None:
        own = _trainer_own(trainer)
        _TRAINERS[trainer] = own
    return {"environment": environment(), **own}


def _trainer_own(trainer):
    from jaxlr.models import model_lowering

    c, t = trainer.config, trainer
    data = data_fingerprint(*(np.asarray(a) for a in (t.x_train, t.y_train, t.x_eval, t.y_eval)),
                            t.eval_split, getattr(t.data, "num_classes", None))
    return {
        "config": {"epochs": c.epochs, "batch_size": c.batch_size, "drop_last": c.drop_last,
                   "eval_batch_size": c.eval_batch_size, "nesterov": c.nesterov,
                   "plateau": _value(dict(c.plateau), 0) if c.plateau is not None else None,
                   "init": c.init, "loop": trainer.loop,
                   "lowering": (model_lowering(c.model, c.lowering) if isinstance(c.model, str)
                                else None),
                   "identity": c.identity},
        "model": callable_identity(c.model),
        "loss": trainer.loss_name or callable_identity(c.loss),
        "metrics": callable_identity(c.metrics),
        "optimizer": callable_identity(c.optimizer),
        "schedule": callable_identity(c.schedule) if c.schedule is not None else "constant lr",
        "data": data,
        "output_shape": list(trainer.output_shape),
    }


def schedule_fingerprints(trainer, rows):
    """Per hyperparameter row: SHA-256 of the lr of every update of the run (float32 bits)."""
    if trainer.config.schedule is None:
        return [None] * len(rows)
    total = trainer.info.total_steps
    names = sorted(rows[0])
    stacked = {n: jnp.asarray([r[n] for r in rows], jnp.float32) for n in names}
    values = _lr_table(trainer)(stacked, total)
    values = np.asarray(values, np.float32)
    return [hashlib.sha256(v.tobytes()).hexdigest()[:32] for v in values]


_TABLES = weakref.WeakKeyDictionary()


def _lr_table(trainer):
    fn = _TABLES.get(trainer)
    if fn is None:
        def table(hparams, total):
            return trainer.config.schedule(hparams, trainer.info)(
                jnp.arange(total, dtype=jnp.int32)).astype(jnp.float32)

        fn = jax.jit(jax.vmap(table, in_axes=(0, None)), static_argnums=1)
        _TABLES[trainer] = fn
    return fn
