"""``sweep``: many hyperparameter configurations x seeds through ONE compiled program.

Members (configuration x seed) run by one of these strategies:

- ``vmap``: all members in one batched program;
- ``chunked``: batches of ``chunk_size`` members, each the same compiled
  program (the last chunk is padded), for bounded memory;
- ``sequential``: one member after another through the single-run program,
  compiled once; each member *is* its single run (same program, same record
  in the run store);
- ``sharded``: the member axis split over the devices of a 1-D
  ``jax.sharding.Mesh`` (all devices by default). Multi-host: call
  ``jax.distributed.initialize()`` in every process and run the same
  ``sweep`` call in each; every process gets the whole result, and process 0
  alone writes the store (which must then be a directory all hosts see).

``strategy="auto"`` is decided by :func:`jaxlr.engine.backend.choose_strategy`
(a property of the model and the backend, never its name).

What is guaranteed (tested in ``tests/test_sweep.py`` and ``tests/test_store.py``):

- ``sequential``: every member is bit-identical to its single run.
- The same call on the same machine gives bit-identical numbers, and so does
  a resumed one (interrupted at any epoch, resumed from the store).
- ``vmap``, ``chunked`` and ``sharded`` members equal their single runs to
  float32 rounding only: the batched program is another XLA program, and
  rounding differences grow in unstable (high-lr) runs until trajectories
  part. The run store therefore keys a batched part by its exact member list
  (hence batch size and padding) and devices: a part is reused only by a part
  of exactly the same members run as one batch (the same program), never
  across another batching, chunk size or device count.
"""

from __future__ import annotations

import inspect
import time
import typing

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr.engine import Trainer, backend
from jaxlr.engine.core import Recorder
from jaxlr.engine.keys import key_identity, seed_keys
from jaxlr.engine.driver import (member_identities, program, progress_bar, run as run_single,
                                 run_slot, saved_progress, to_host, train_epochs)
from jaxlr.engine.identity import callable_identity, environment
from jaxlr.engine.store import Record, as_store
from jaxlr.sweep.results import SweepResult
from jaxlr.sweep.space import seed_list, table

__all__ = ["STRATEGIES", "Saved", "saved", "stack_epochs", "stack_hparams", "sweep"]

STRATEGIES = ("auto", "vmap", "chunked", "sequential", "sharded")


def _check_strategy(strategy, chunk_size):
    if strategy not in STRATEGIES:
        raise ValueError(f"jaxlr.sweep: strategy must be one of {list(STRATEGIES)}, "
                         f"got {strategy!r}")
    if not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"jaxlr.sweep: chunk_size must be an int >= 1, got {chunk_size!r}")


def stack_hparams(rows):
    """Hyperparameter rows -> one float32 array per name, ``[member]``."""
    return {n: jnp.asarray([r[n] for r in rows], jnp.float32) for n in rows[0]}


def _pad(items, multiple):
    extra = (-len(items)) % multiple
    return list(items) + [items[-1]] * extra


def stack_epochs(per_epoch):
    """Host metrics per epoch -> arrays ``[member, epoch, ...]`` (``diverged_step``: the last)."""
    out = {k: np.stack([np.asarray(m[k]) for m in per_epoch], axis=1)
           for k in per_epoch[0] if k not in ("diverged_step", "seconds")}
    out["diverged_step"] = np.asarray(per_epoch[-1]["diverged_step"])
    return out


def _unstack_epochs(arrays):
    epochs = arrays["train_loss"].shape[1]
    return [{**{k: v[:, e] for k, v in arrays.items() if k != "diverged_step"},
             "diverged_step": arrays["diverged_step"]} for e in range(epochs)]


def _batched_part(trainer, rows, keys, sharding, slot, bar):
    """Train one batched part (every epoch, or resume it from ``slot``): stacked metrics."""
    start = time.perf_counter()
    prog = program(trainer, batched=True)
    state = prog.init(stack_hparams(rows), keys)
    done, seconds = [], 0.0
    if slot is not None:
        record = slot.load(template=state)
        if record is not None:
            if record.meta.get("complete"):
                if bar is not None:
                    bar.update(trainer.config.epochs)
                return record.arrays, record.meta["seconds"], True
            done, seconds = _unstack_epochs(record.arrays), record.meta["seconds"]
            state = record.state
            if bar is not None:
                bar.update(len(done))
    if sharding is not None:
        # a host copy: with several processes, each puts its own shards
        state = jax.device_put(jax.device_get(state), sharding)
    elif done:
        state = jax.device_put(state)

    def save(state, new):
        slot.save(Record(meta={"complete": False, "epochs_done": len(done) + len(new),
                               "epochs": trainer.config.epochs, "members": len(rows),
                               "seconds": seconds + time.perf_counter() - start},
                         arrays=stack_epochs(done + new), state=state))

    state, new = train_epochs(prog, state, trainer.config.epochs - len(done),
                              on_epoch=save if slot is not None else None, bar=bar)
    arrays = stack_epochs(done + new)
    seconds += time.perf_counter() - start
    if slot is not None:
        slot.save(Record(meta={"complete": True, "seconds": seconds, "members": len(rows)},
                         arrays=arrays))
    return arrays, seconds, False


def _sequential_part(trainer, row, key, store, bar):
    history = run_single(trainer, row, key, store=store)
    e, steps = trainer.config.epochs, trainer.steps_per_epoch
    out = {}
    for name in ("train_loss", "train_acc", "eval_loss", "eval_acc", *history.extra):
        values = history.extra[name] if name in history.extra else getattr(history, name)
        out[name] = np.full((1, e), np.nan)
        out[name][0, :len(values)] = values
    for name in ("lr", "step_loss"):
        out[name] = np.full((1, e, steps), np.nan)
        out[name][0, :history.epochs_done] = np.asarray(getattr(history, name), dtype=float)
    out["diverged_step"] = np.array([-1 if history.diverged_step is None
                                     else history.diverged_step])
    if bar is not None:
        bar.update(1)
    return out, float(sum(history.epoch_seconds))


def sweep(target, configs, base=None, seeds=1, seed=0, strategy="auto", chunk_size=64,
          mesh=None, progress=False, store=None, identity=None):
    """Run every configuration for every seed; return a :class:`SweepResult`.

    Args:
      target: a :class:`jaxlr.engine.Trainer` (``make_train(config, data)``), or a
        pure function ``fn(hparams, key) -> pytree of metrics`` (any JAX code;
        its outputs are stacked ``[config, seed, ...]``).
      configs: the swept hyperparameters: a dict name -> K values (e.g. from
        :func:`grid` or :func:`log_uniform`), or a list of K dicts.
      base: hyperparameters shared by every configuration (``configs`` wins).
        Every name must be read by the run: a misspelt one is an error.
      seeds: seeds per configuration (``seed``, ``seed + 1``, ...), or a list of
        seeds: ints, or ``(init, data)`` pairs that set the initial parameters
        and the data (example order, dropout) apart (:mod:`jaxlr.engine.keys`).
        Every configuration runs with the same seeds, so members with one seed
        index see the same batches in the same order and the same dropout
        masks (common random numbers: differences between configurations are
        paired, not blurred by data noise).
      seed: the first seed.
      strategy: one of ``STRATEGIES`` (see the module docstring).
      chunk_size: members per chunk for ``chunked``.
      mesh: a 1-D ``jax.sharding.Mesh`` for ``sharded`` (default: all devices).
      progress: show a progress bar; a string is the bar's label.
      store: a :class:`jaxlr.engine.RunStore` (or a directory). Each part (the
        whole program for ``vmap``/``sharded``, a chunk, a member for
        ``sequential``) is saved there after every epoch under its identity, and
        a later call with the same everything resumes it or reuses it when
        finished. A function target is saved per part when the part finishes.
      identity: for a function target, a string you choose that names what its
        key cannot see (the function is identified by its qualified name,
        source, closure and bound values; a trainer's config has its own
        ``identity`` field).

    Returns:
      A :class:`SweepResult` with axes ``[config, seed, ...]``; its ``seconds``
      are the training time of every part, compilation included (for parts
      reused from the store, the time they took when computed).
    """
    _check_strategy(strategy, chunk_size)
    swept, rows = table(configs, base)
    seeds_ = seed_list(seeds, seed)
    if isinstance(target, Trainer):
        if identity is not None:
            raise ValueError("jaxlr.sweep: identity= is for function targets; a trainer's "
                             "is TrainConfig(identity=...)")
        return _sweep_trainer(target, swept, rows, seeds_, strategy, chunk_size, mesh,
                              progress, as_store(store))
    if not callable(target):
        raise ValueError(f"jaxlr.sweep: target must be a Trainer or a function "
                         f"(hparams, key) -> metrics, got {target!r}")
    return _sweep_function(target, swept, rows, seeds_, strategy, chunk_size, mesh, progress,
                           as_store(store), identity)


def _sharding(mesh):
    from jax.sharding import Mesh, NamedSharding, PartitionSpec

    mesh = mesh or Mesh(np.array(jax.devices()), ("member",))
    return mesh, NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))


def _parts(strategy, n, chunk_size, mesh):
    """``(lo, hi, padded size)`` of every part."""
    if strategy == "sequential":
        return [(i, i + 1, 1) for i in range(n)]
    if strategy == "chunked":
        return [(lo, min(lo + chunk_size, n), chunk_size) for lo in range(0, n, chunk_size)]
    size = n if strategy == "vmap" else n + (-n) % mesh.size
    return [(0, n, size)]


def _layout(rows, seeds_, strategy, chunk_size, mesh):
    """Members (configuration-major), their seeds, the mesh and sharding, and the parts."""
    members = [r for r in rows for _ in seeds_]
    member_seeds = [s for _ in rows for s in seeds_]
    sharding = None
    if strategy == "sharded":
        mesh, sharding = _sharding(mesh)
    return members, member_seeds, mesh, sharding, _parts(strategy, len(members), chunk_size,
                                                         mesh)


def _part_slot(trainer, base_identity, mesh, part_rows, part_seeds, store):
    """The store slot of one batched part: its exact member list and device count."""
    if store is None:
        return None
    return store.slot("part", {
        "trainer": base_identity,
        "batched": {"devices": None if mesh is None else int(mesh.size),
                    "members": member_identities(trainer, part_rows, seed_keys(part_seeds))}})


class Saved(typing.NamedTuple):
    """What a run store already holds of a sweep, in members (configuration x seed)."""

    finished: int  # reused as they are
    partial: int  # resume after their last saved epoch
    total: int

    def note(self, directory):
        """``""``, or ``"; 3 of 12 already done in DIR, 1 resume ..., 8 to train"``."""
        if not (self.finished or self.partial):
            return ""
        left = self.total - self.finished - self.partial
        return (f"; {self.finished} of {self.total} already done in {directory}"
                + (f", {self.partial} resume after their last saved epoch" if self.partial
                   else "")
                + (f", {left} to train" if left else ""))


def saved(trainer, configs, base=None, seeds=1, seed=0, strategy="auto", chunk_size=64,
          mesh=None, store=None):
    """What ``store`` already holds of ``sweep(trainer, configs, ...)`` with these arguments.

    Returns:
      A :class:`Saved`: ``(finished, partial, total)`` members.
    """
    _check_strategy(strategy, chunk_size)
    _, rows = table(configs, base)
    strategy, members, member_seeds, mesh, _, parts = _trainer_layout(
        trainer, rows, seed_list(seeds, seed), strategy, chunk_size, mesh)
    store = as_store(store)
    if store is None:
        return Saved(0, 0, len(members))
    finished = partial = 0
    base_identity = trainer.identity()
    for lo, hi, size in parts:
        part_rows, part_seeds = _pad(members[lo:hi], size), _pad(member_seeds[lo:hi], size)
        if strategy == "sequential":
            slot = run_slot(trainer, part_rows[0], part_seeds[0], store)
        else:
            slot = _part_slot(trainer, base_identity, mesh, part_rows, part_seeds, store)
        done, complete = saved_progress(slot.peek(), trainer.config.epochs)
        finished += (hi - lo) * complete
        partial += (hi - lo) * (done > 0 and not complete)
    return Saved(finished, partial, len(members))


def _trainer_layout(trainer, rows, seeds_, strategy, chunk_size, mesh):
    """The strategy ``auto`` resolves to, then :func:`_layout` (names checked first)."""
    trainer.hparams_read(rows[0])
    strategy = backend.choose_strategy(trainer, strategy)
    return (strategy, *_layout(rows, seeds_, strategy, chunk_size, mesh))


def _sweep_trainer(trainer, swept, rows, seeds_, strategy, chunk_size, mesh, progress, store):
    strategy, members, member_seeds, mesh, sharding, parts = _trainer_layout(
        trainer, rows, seeds_, strategy, chunk_size, mesh)
    epochs = trainer.config.epochs
    bar = None
    if progress:
        total = len(members) if strategy == "sequential" else epochs * len(parts)
        label = progress if isinstance(progress, str) else (
            f"{trainer.config.name}: {len(rows)} configs x {len(seeds_)} seeds ({strategy})")
        bar = progress_bar(total, label, "run" if strategy == "sequential" else "epoch")
    base_identity = trainer.identity() if store is not None else None
    outs, reused, seconds = [], 0, 0.0
    for lo, hi, size in parts:
        part_rows = _pad(members[lo:hi], size)
        part_seeds = _pad(member_seeds[lo:hi], size)
        if strategy == "sequential":
            out, part_seconds = _sequential_part(trainer, part_rows[0], part_seeds[0], store,
                                                 bar)
        else:
            slot = _part_slot(trainer, base_identity, mesh, part_rows, part_seeds, store)
            out, part_seconds, was_reused = _batched_part(trainer, part_rows, seed_keys(part_seeds),
                                                          sharding, slot, bar)
            reused += was_reused
            out = {k: v[:hi - lo] for k, v in out.items()}
        outs.append(out)
        seconds += part_seconds
    if bar is not None:
        bar.close()
    metrics = {k: np.concatenate([o[k] for o in outs]) for k in outs[0]}
    k, s = len(rows), len(seeds_)
    metrics = {name: v.reshape(k, s, *v.shape[1:]) for name, v in metrics.items()}
    return SweepResult(swept=swept, configs=rows, seeds=seeds_, metrics=metrics,
                       strategy=strategy, seconds=seconds,
                       steps_per_epoch=trainer.steps_per_epoch, eval_split=trainer.eval_split,
                       reused=reused, parts=len(parts))


def _check_function_names(fn, row, key):
    read = set()
    fn = inspect.unwrap(fn)  # a jax.jit-wrapped function: the Python function inside
    jax.eval_shape(lambda h, k: fn(Recorder(h, read), k),
                   {n: jnp.float32(v) for n, v in row.items()}, key)
    unread = sorted(set(row) - read)
    if unread:
        raise ValueError(f"hyperparameter(s) {unread} are not read by {fn!r}; it reads "
                         f"{sorted(read)}")


def _flatten(tree):
    if isinstance(tree, dict):
        return {str(k): v for k, v in tree.items()}
    leaves = jax.tree_util.tree_flatten_with_path(tree)[0]
    if len(leaves) == 1 and not leaves[0][0]:
        return {"value": leaves[0][1]}
    return {jax.tree_util.keystr(p): v for p, v in leaves}


def _sweep_function(fn, swept, rows, seeds_, strategy, chunk_size, mesh, progress, store,
                    user_identity):
    """A bare ``fn(hparams, key)`` swept: vmapped, chunked, sequential or sharded."""
    keys_all = seed_keys(seeds_)
    _check_function_names(fn, rows[0], keys_all[0])
    if strategy == "auto":
        strategy = "sharded" if jax.device_count() > 1 else "vmap"
    members, member_seeds, mesh, sharding, parts = _layout(rows, seeds_, strategy, chunk_size,
                                                           mesh)
    single = jax.jit(lambda h, k: _flatten(fn(h, k)))
    batched = jax.jit(jax.vmap(lambda h, k: _flatten(fn(h, k))))
    ident = {"function": callable_identity(fn), "environment": environment(),
             "identity": user_identity} if store is not None else None
    bar = progress_bar(len(parts), f"sweep ({strategy}, {len(members)} members)", "part") \
        if progress else None
    start, outs, reused = time.perf_counter(), [], 0
    for lo, hi, size in parts:
        part_rows, part_seeds = _pad(members[lo:hi], size), _pad(member_seeds[lo:hi], size)
        keys = seed_keys(part_seeds)
        slot = None
        if store is not None:
            slot = store.slot("fnpart", {**ident, "strategy": strategy, "members": [
                {"hparams": {k: float(np.float32(v)) for k, v in sorted(r.items())},
                 "key": key_identity(key)} for r, key in zip(part_rows, keys)]})
            record = slot.load()
            if record is not None:
                outs.append({k: v[:hi - lo] for k, v in record.arrays.items()})
                reused += 1
                if bar is not None:
                    bar.update(1)
                continue
        if strategy == "sequential":
            out = to_host(single({n: jnp.float32(v) for n, v in part_rows[0].items()}, keys[0]))
            out = {k: np.asarray(v)[None] for k, v in out.items()}
        else:
            hp, keys_in = stack_hparams(part_rows), keys
            if sharding is not None:
                hp, keys_in = jax.device_put((hp, keys_in), sharding)
            out = {k: np.asarray(v) for k, v in to_host(batched(hp, keys_in)).items()}
        if slot is not None:
            slot.save(Record(meta={"complete": True}, arrays=out))
        outs.append({k: v[:hi - lo] for k, v in out.items()})
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    k, s = len(rows), len(seeds_)
    metrics = {n: np.concatenate([o[n] for o in outs]).reshape(k, s, *outs[0][n].shape[1:])
               for n in outs[0]}
    return SweepResult(swept=swept, configs=rows, seeds=seeds_, metrics=metrics,
                       strategy=strategy, seconds=time.perf_counter() - start, reused=reused,
                       parts=len(parts))
