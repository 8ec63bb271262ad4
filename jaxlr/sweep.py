"""Sweeps: many hyperparameter configurations x seeds from ONE compiled training program.

Because a :class:`jaxlr.train.Trainer`'s pieces are pure functions of
``(hparams, key)`` with every number traced, a sweep is ``jax.vmap`` over a
leading *member* axis (member = configuration x seed). Strategies:

- ``vmap``: all members in one batched program;
- ``chunked``: batches of ``chunk_size`` members, each the same compiled
  program (the last chunk is padded), for bounded memory;
- ``sequential``: one member after another through the single-run program,
  compiled once (on XLA:CPU, vmapped conv nets run slower than one after
  another; GUIDE section 5);
- ``sharded``: the member axis split over the devices of a 1-D
  ``jax.sharding.Mesh`` (all devices by default). Multi-host: call
  ``jax.distributed.initialize()`` in every process and run the same
  ``sweep`` call in each; every process gets the whole result, and process 0
  alone writes ``resume_dir`` (which must then be a directory all hosts see).
  Tested with two CPU processes over gloo (``tests/test_sweep.py``).

``strategy="auto"`` picks ``sequential`` for conv nets on CPU, ``sharded``
when there are several devices, else ``vmap``.

Results are stacked with axes ``[config, seed, epoch]``. A member whose loss
stops being finite is marked with the first such update
(``diverged_step``); members are independent computations, so it cannot
disturb the others.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import itertools
import json
import math
import pathlib
import time
from typing import Mapping

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr._io import atomic_write_bytes

__all__ = ["SweepResult", "grid", "log_uniform", "successive_halving", "sweep", "STRATEGIES"]

STRATEGIES = ("auto", "vmap", "chunked", "sequential", "sharded")
_METRICS = ("train_loss", "train_acc", "eval_loss", "eval_acc")


def grid(**axes):
    """The cartesian product of hyperparameter values, as a config table.

    >>> grid(lr=[0.1, 0.01], momentum=[0.0, 0.9])["lr"].tolist()
    [0.1, 0.1, 0.01, 0.01]
    """
    if not axes:
        raise ValueError("jaxlr.sweep.grid: give at least one hyperparameter axis")
    names = list(axes)
    for name, values in axes.items():
        if len(np.atleast_1d(values)) == 0:
            raise ValueError(f"jaxlr.sweep.grid: {name} has no values")
    rows = list(itertools.product(*(np.atleast_1d(axes[n]).tolist() for n in names)))
    return {n: np.array([r[i] for r in rows], np.float64) for i, n in enumerate(names)}


def log_uniform(seed, num, low, high, name="lr"):
    """``num`` values drawn log-uniformly from ``[low, high]`` (seeded), as a config table."""
    if not (0 < low < high):
        raise ValueError(f"jaxlr.sweep.log_uniform: need 0 < low < high, got low={low!r}, "
                         f"high={high!r}")
    if num < 1:
        raise ValueError(f"jaxlr.sweep.log_uniform: num must be >= 1, got {num!r}")
    u = np.random.default_rng(seed).uniform(np.log(low), np.log(high), num)
    return {name: np.exp(u)}


@dataclasses.dataclass
class SweepResult:
    """Stacked metrics of a sweep: arrays ``[config, seed, epoch]``.

    ``lr`` and ``step_loss`` (each batch's loss) are ``[config, seed, epoch,
    step]``; ``diverged_step`` is
    ``[config, seed]`` (-1: never diverged). ``configs`` holds the full
    hyperparameters of each configuration; ``swept`` the names that vary.
    """

    swept: tuple
    configs: list
    seeds: list
    train_loss: np.ndarray
    train_acc: np.ndarray
    eval_loss: np.ndarray
    eval_acc: np.ndarray
    lr: np.ndarray
    step_loss: np.ndarray
    diverged_step: np.ndarray
    strategy: str
    seconds: float

    def final(self, metric="eval_acc"):
        """``[config, seed]``: the metric after the last epoch (NaN once diverged)."""
        values = getattr(self, metric)[..., -1].copy()
        values[self.diverged_step >= 0] = np.nan
        return values

    def ranking(self, metric="eval_acc", higher_is_better=True):
        """Configurations best first: ``(config, mean, std, diverged seeds)`` over seeds.

        A configuration with any diverged seed ranks after all that never diverged.
        """
        final = self.final(metric)
        rows = []
        for k, config in enumerate(self.configs):
            ok = final[k][np.isfinite(final[k])]
            mean = float(ok.mean()) if len(ok) else float("nan")
            std = float(ok.std(ddof=1)) if len(ok) > 1 else 0.0
            rows.append((config, mean, std, int((self.diverged_step[k] >= 0).sum())))
        sign = -1.0 if higher_is_better else 1.0
        return sorted(rows, key=lambda r: (r[3] > 0, math.isnan(r[1]),
                                           sign * (0.0 if math.isnan(r[1]) else r[1])))


def _table(configs, base):
    """Normalise configs (a dict of equal-length arrays, or a list of dicts) + base."""
    if isinstance(configs, Mapping):
        lengths = {n: len(np.atleast_1d(v)) for n, v in configs.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"jaxlr.sweep: every swept hyperparameter needs the same number "
                             f"of values, got {lengths}")
        k = next(iter(lengths.values()))
        rows = [{n: float(np.atleast_1d(v)[i]) for n, v in configs.items()} for i in range(k)]
        swept = tuple(configs)
    else:
        rows = [dict(r) for r in configs]
        swept = tuple(sorted({n for r in rows for n in r}))
    if not rows:
        raise ValueError("jaxlr.sweep: no configurations to run")
    full = [{**dict(base or {}), **r} for r in rows]
    names = set(full[0])
    for r in full:
        if set(r) != names:
            raise ValueError(f"jaxlr.sweep: configurations name different hyperparameters: "
                             f"{sorted(names)} vs {sorted(r)}")
    return swept, full


def _choose(trainer, strategy):
    if strategy not in STRATEGIES:
        raise ValueError(f"jaxlr.sweep: strategy must be one of {list(STRATEGIES)}, "
                         f"got {strategy!r}")
    if strategy != "auto":
        return strategy
    if jax.device_count() > 1:
        return "sharded"
    conv = trainer.config.model != "ionosphere_mlp"
    return "sequential" if conv and jax.default_backend() == "cpu" else "vmap"


def _stack(rows):
    return {n: jnp.asarray([r[n] for r in rows], jnp.float32) for n in rows[0]}


def _keys(seeds):
    return jnp.stack([jax.random.PRNGKey(s) for s in seeds])


class _Batched:
    """The trainer's pure pieces vmapped over the member axis, jitted once."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.init = jax.jit(jax.vmap(trainer._init))
        self.begin = jax.jit(jax.vmap(trainer._begin_epoch))
        self.step = jax.jit(jax.vmap(trainer._step, in_axes=(0, None)))
        self.epoch = jax.jit(jax.vmap(trainer._epoch))
        self.end = jax.jit(jax.vmap(trainer._end_epoch))

    def run(self, hparams, keys, sharding=None, bar=None, checkpoint=None):
        """Train every member from scratch (or from ``checkpoint``): stacked metrics.

        With ``checkpoint`` (a path), the stacked state and the metrics so far
        are saved there after every epoch, and a run finding the file resumes
        after the last saved epoch instead of starting over.
        """
        state = self.init(hparams, keys)
        done = []
        if checkpoint is not None and pathlib.Path(checkpoint).is_file():
            state, done = _load_progress(checkpoint, state)
            if bar is not None:
                bar.update(len(done))
        if sharding is not None:
            # a host copy: with several processes, each puts its own shards
            state = jax.device_put(jax.device_get(state), sharding)
        return self.train(state, self.trainer.config.epochs - len(done), bar,
                          done=done, checkpoint=checkpoint)[1]

    def train(self, state, epochs, bar=None, done=(), checkpoint=None):
        """``epochs`` more epochs of every member: ``(state, stacked metrics)``.

        ``done``: per-epoch metrics of epochs trained before (a resumed run),
        put in front of the new ones.
        """
        # metrics stay on the device (no sync) until saved or returned
        per_epoch, pending = list(done), []
        for _ in range(epochs):
            state = self.begin(state)
            if self.trainer.loop == "scan":
                state = self.epoch(state)
            else:
                for i in range(self.trainer.steps_per_epoch):
                    state = self.step(state, jnp.int32(i))
            state, metrics = self.end(state)
            pending.append(metrics)
            if checkpoint is not None:
                per_epoch, pending = per_epoch + _to_host(pending), []
                _save_progress(checkpoint, state, per_epoch)
            if bar is not None:
                bar.update(1)
        per_epoch += _to_host(pending)
        out = {k: np.stack([m[k] for m in per_epoch], axis=1) for k in per_epoch[0]
               if k != "diverged_step"}
        out["diverged_step"] = np.asarray(per_epoch[-1]["diverged_step"])
        return state, out


def _to_host(tree):
    """Numpy copies of a tree of arrays, also of arrays sharded over several processes."""
    leaves = jax.tree_util.tree_leaves(tree)
    if all(getattr(x, "is_fully_addressable", True) for x in leaves):
        return jax.device_get(tree)
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def _save_progress(path, state, per_epoch):
    from flax import serialization

    payload = {"state": serialization.to_state_dict(_to_host(state)),
               "epochs": {str(i): dict(m) for i, m in enumerate(per_epoch)}}
    if jax.process_index() == 0:  # several processes: one writer (resume_dir must be shared)
        atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def _load_progress(path, template):
    from flax import serialization

    payload = serialization.msgpack_restore(pathlib.Path(path).read_bytes())
    state = serialization.from_state_dict(jax.device_get(template), payload["state"])
    epochs = payload["epochs"]
    return state, [epochs[str(i)] for i in range(len(epochs))]


def successive_halving(trainer, configs, base=None, seeds=1, seed=0, rung_epochs=None, eta=3,
                       metric="eval_acc"):
    """Successive halving: train all configurations briefly, keep the best 1/eta, repeat.

    Every configuration trains ``rung_epochs[0]`` epochs (all seeds, vmapped);
    the ``ceil(K / eta)`` best by the seed-mean of ``metric`` (diverged ones
    last) continue for ``rung_epochs[1]`` more epochs, and so on, until
    ``trainer.config.epochs`` epochs in all. Hopeless members stop early
    instead of training to the end (Jamieson & Talwalkar 2016; the budget
    schedule of Hyperband's inner loop, Li et al. 2018).

    Args:
      trainer, configs, base, seeds, seed: as :func:`sweep`.
      rung_epochs: epochs per rung, summing to ``trainer.config.epochs``
        (default: doubling rungs, e.g. 1, 2, 4, ... with the remainder last).
      eta: keep ``1/eta`` of the configurations per rung (``>= 2``).
      metric: what ranks them (higher is better).

    Returns:
      ``(result, survivors)``: a :class:`SweepResult` whose metrics are NaN for
      the epochs a configuration did not train, and for each rung the indices
      of the configurations that trained in it.
    """
    swept, rows = _table(configs, base)
    total = trainer.config.epochs
    if eta < 2:
        raise ValueError(f"jaxlr.successive_halving: eta must be >= 2, got {eta!r}")
    if rung_epochs is None:
        rung_epochs, left, r = [], total, 1
        while left > 0:
            rung_epochs.append(min(r, left))
            left -= rung_epochs[-1]
            r *= 2
    if sum(rung_epochs) != total or min(rung_epochs) < 1:
        raise ValueError(f"jaxlr.successive_halving: rung_epochs must be positive and sum to "
                         f"the trainer's {total} epochs, got {rung_epochs!r}")
    seed_list = [seed + i for i in range(seeds)]
    k, s_count = len(rows), len(seed_list)
    shape = (k, s_count, total)
    out = {m: np.full(shape, np.nan) for m in _METRICS}
    out["lr"] = np.full((*shape, trainer.steps_per_epoch), np.nan)
    out["step_loss"] = np.full((*shape, trainer.steps_per_epoch), np.nan)
    out["diverged_step"] = np.full((k, s_count), -1, np.int64)
    batched = _batched_for(trainer)
    alive = np.arange(k)
    members = [r for r in rows for _ in seed_list]
    state = batched.init(_stack(members), _keys(seed_list * k))
    start, done, survivors = time.perf_counter(), 0, []
    for rung, epochs in enumerate(rung_epochs):
        survivors.append(alive.tolist())
        state, metrics = batched.train(state, epochs)
        for name, values in metrics.items():
            values = values.reshape(len(alive), s_count, *values.shape[1:])
            if name == "diverged_step":
                out[name][alive] = values
            else:
                out[name][alive, :, done:done + epochs] = values
        done += epochs
        if rung == len(rung_epochs) - 1:
            break
        score = out[metric][alive, :, done - 1].copy()
        score[out["diverged_step"][alive] >= 0] = -np.inf
        order = np.argsort(-np.nanmean(np.where(np.isnan(score), -np.inf, score), 1),
                           kind="stable")
        keep = np.sort(order[:max(1, math.ceil(len(alive) / eta))])
        member_index = (keep[:, None] * s_count + np.arange(s_count)).reshape(-1)
        state = jax.tree_util.tree_map(lambda x: x[member_index], state)
        alive = alive[keep]
    result = SweepResult(swept=swept, configs=rows, seeds=seed_list, strategy="halving",
                         seconds=time.perf_counter() - start, **out)
    return result, survivors


def _batched_for(trainer):
    """The trainer's vmapped pieces, built once per trainer (so they compile once)."""
    if getattr(trainer, "_batched", None) is None:
        trainer._batched = _Batched(trainer)
    return trainer._batched


def _pad(rows, keys, multiple):
    extra = (-len(rows)) % multiple
    if not extra:
        return rows, keys
    return rows + [rows[-1]] * extra, jnp.concatenate([keys, jnp.repeat(keys[-1:], extra, 0)])


def sweep(trainer, configs, base=None, seeds=1, seed=0, strategy="auto", chunk_size=64,
          mesh=None, progress=False, resume_dir=None):
    """Train every configuration for every seed; return a :class:`SweepResult`.

    Args:
      trainer: a :class:`jaxlr.train.Trainer` (``make_train(config, data)``).
      configs: the swept hyperparameters: a dict name -> K values (e.g. from
        :func:`grid` or :func:`log_uniform`), or a list of K dicts.
      base: hyperparameters shared by every configuration (``configs`` wins).
      seeds: seeds per configuration (``seed``, ``seed + 1``, ...), or a list
        of seeds.
      seed: the first seed.
      strategy: one of ``STRATEGIES``.
      chunk_size: members per chunk for ``chunked``.
      mesh: a 1-D ``jax.sharding.Mesh`` for ``sharded`` (default: all devices).
      progress: show a progress bar.
      resume_dir: progress is saved there: every finished part (the whole
        program for ``vmap``/``sharded``, a chunk for ``chunked``, a member for
        ``sequential``) and, while a part trains, its state after every epoch.
        A later call with the same arguments loads what was finished and
        resumes the interrupted part after its last saved epoch.

    Returns:
      A :class:`SweepResult` with axes ``[config, seed, epoch]``.
    """
    swept, rows = _table(configs, base)
    if isinstance(seeds, int):
        if seeds < 1:
            raise ValueError(f"jaxlr.sweep: seeds must be >= 1, got {seeds!r}")
        seed_list = [seed + s for s in range(seeds)]
    else:
        seed_list = [int(s) for s in seeds]
        if not seed_list:
            raise ValueError("jaxlr.sweep: seeds must not be empty")
    strategy = _choose(trainer, strategy)
    members = [r for r in rows for _ in seed_list]
    keys = _keys([s for _ in rows for s in seed_list])
    epochs = trainer.config.epochs
    bar = None
    if progress:
        from tqdm.auto import tqdm

        total = len(members) if strategy == "sequential" else epochs * (
            math.ceil(len(members) / chunk_size) if strategy == "chunked" else 1)
        bar = tqdm(total=total, desc=f"sweep ({strategy}, {len(members)} members)", leave=False)
    start = time.perf_counter()
    if strategy in ("sequential", "chunked"):
        size = 1 if strategy == "sequential" else chunk_size
        if size < 1:
            raise ValueError(f"jaxlr.sweep: chunk_size must be >= 1, got {chunk_size!r}")
        parts = []
        for lo in range(0, len(members), size):
            part = (members[lo:lo + size], keys[lo:lo + size])
            parts.append(_resumable(resume_dir, trainer, strategy, lo, part,
                                    lambda checkpoint, part=part: (
                _sequential(trainer, *part, bar, checkpoint) if strategy == "sequential" else
                _chunk(trainer, *part, size, bar, checkpoint))))
        out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    else:
        batched, sharding, n = _batched_for(trainer), None, len(members)
        padded_rows, padded_keys = members, keys
        if strategy == "sharded":
            from jax.sharding import Mesh, NamedSharding, PartitionSpec

            mesh = mesh or Mesh(np.array(jax.devices()), ("member",))
            padded_rows, padded_keys = _pad(members, keys, mesh.size)
            sharding = NamedSharding(mesh, PartitionSpec(mesh.axis_names[0]))
        out = _resumable(resume_dir, trainer, strategy, 0, (padded_rows, padded_keys),
                         lambda checkpoint: batched.run(_stack(padded_rows), padded_keys,
                                                        sharding=sharding, bar=bar,
                                                        checkpoint=checkpoint))
        out = {k: v[:n] for k, v in out.items()}
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - start
    k, s = len(rows), len(seed_list)
    shaped = {name: v.reshape(k, s, *v.shape[1:]) for name, v in out.items()}
    return SweepResult(swept=swept, configs=rows, seeds=seed_list, strategy=strategy,
                       seconds=seconds, **shaped)


def member_history(result, k, s, steps_per_epoch, eval_split="test"):
    """Configuration ``k``, seed index ``s`` of a sweep as a :class:`jaxlr.train.History`.

    A diverged member's history stops at the epoch it diverged in, as a single
    run's does; ``epoch_seconds`` share the sweep's wall time equally.
    """
    from jaxlr.train import History

    step = int(result.diverged_step[k, s])
    epochs = result.train_loss.shape[2] if step < 0 else step // steps_per_epoch + 1
    share = result.seconds / (result.train_loss.shape[0] * result.train_loss.shape[1]
                              * result.train_loss.shape[2])
    return History(
        train_loss=result.train_loss[k, s, :epochs].tolist(),
        train_acc=result.train_acc[k, s, :epochs].tolist(),
        eval_loss=result.eval_loss[k, s, :epochs].tolist(),
        eval_acc=result.eval_acc[k, s, :epochs].tolist(), lr=result.lr[k, s, :epochs].tolist(),
        epoch_seconds=[share] * epochs, diverged_epoch=None if step < 0 else epochs - 1,
        eval_split=eval_split, diverged_step=None if step < 0 else step,
        step_loss=result.step_loss[k, s, :epochs].tolist())


def _chunk(trainer, rows, keys, size, bar, checkpoint=None):
    """One chunk through the vmapped program, padded to ``size`` so it compiles once."""
    n = len(rows)
    rows, keys = _pad(rows, keys, size)
    out = _batched_for(trainer).run(_stack(rows), keys, bar=bar, checkpoint=checkpoint)
    return {k: v[:n] for k, v in out.items()}


def _resumable(resume_dir, trainer, strategy, offset, part, compute):
    """``compute(checkpoint)``, or its saved result from ``resume_dir`` if the same part was done.

    ``checkpoint`` is where the part saves its progress while it trains (``None``
    without ``resume_dir``); it is removed once the part's result is saved.
    """
    if resume_dir is None:
        return compute(None)
    rows, keys = part
    ident = json.dumps(dict(config=repr(dataclasses.replace(trainer.config, schedule=None)),
                            train=trainer.num_train, strategy=strategy, offset=offset,
                            rows=rows, keys=np.asarray(keys).tolist()), sort_keys=True)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:16]
    path = pathlib.Path(resume_dir) / f"part-{offset:06d}-{digest}.npz"
    if path.is_file():
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    checkpoint = path.with_suffix(".progress.msgpack")
    out = compute(checkpoint)
    if jax.process_index() == 0:
        buf = io.BytesIO()
        np.savez_compressed(buf, **out)
        atomic_write_bytes(path, buf.getvalue())
        checkpoint.unlink(missing_ok=True)
    return out


def _sequential(trainer, members, keys, bar, checkpoint=None):
    e, steps = trainer.config.epochs, trainer.steps_per_epoch
    out = {name: np.full((len(members), e), np.nan) for name in _METRICS}
    out["lr"] = np.full((len(members), e, steps), np.nan)
    out["step_loss"] = np.full((len(members), e, steps), np.nan)
    out["diverged_step"] = np.full(len(members), -1, np.int64)
    for m, (hparams, key) in enumerate(zip(members, keys)):
        h = trainer(hparams, key, checkpoint=checkpoint)
        for name in _METRICS:
            values = np.asarray(getattr(h, name), dtype=float)
            out[name][m, :len(values)] = values
        out["lr"][m, :h.epochs_done] = np.asarray(h.lr, dtype=float)
        out["step_loss"][m, :h.epochs_done] = np.asarray(h.step_loss, dtype=float)
        if h.diverged_step is not None:
            out["diverged_step"][m] = h.diverged_step
        if bar is not None:
            bar.update(1)
    return out


def parse_values(spec):
    """Values from ``LOW:HIGH:log:N``, ``LOW:HIGH:lin:N``, ``V1,V2,...`` or
    ``LOW:HIGH`` (the two ends, e.g. the range of a random search).

    >>> parse_values("1e-3:1:log:4").round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    parts = spec.split(":")
    try:
        if len(parts) == 4:
            low, high, kind, num = float(parts[0]), float(parts[1]), parts[2], int(parts[3])
            if num < 1:
                raise ValueError
            if kind == "log":
                if not 0 < low <= high:
                    raise ValueError
                return np.geomspace(low, high, num)
            if kind == "lin":
                return np.linspace(low, high, num)
            raise ValueError
        if len(parts) == 2:
            return np.array([float(parts[0]), float(parts[1])])
        if len(parts) == 1:
            return np.array([float(v) for v in spec.split(",")])
    except ValueError:
        pass
    raise ValueError(f"not a value list: {spec!r} (use LOW:HIGH:log:N with 0 < LOW <= HIGH, "
                     "LOW:HIGH:lin:N, V1,V2,... or LOW:HIGH)")


def save(result, path, key=""):
    """Write a :class:`SweepResult` to a compressed ``.npz`` (atomically)."""
    arrays = {name: np.asarray(getattr(result, name), np.float32)
              for name in (*_METRICS, "lr", "step_loss")}
    meta = dict(key=key, swept=list(result.swept), configs=result.configs, seeds=result.seeds,
                strategy=result.strategy, seconds=result.seconds)
    buf = io.BytesIO()
    np.savez_compressed(buf, diverged_step=result.diverged_step, meta=json.dumps(meta), **arrays)
    atomic_write_bytes(path, buf.getvalue())


def load(path):
    """``(result, key)`` from :func:`save`'s file."""
    with np.load(path) as f:
        meta = json.loads(str(f["meta"]))
        arrays = {name: f[name].astype(np.float64) for name in (*_METRICS, "lr", "step_loss")}
        diverged = f["diverged_step"]
    key = meta.pop("key")
    meta["swept"] = tuple(meta["swept"])
    return SweepResult(diverged_step=diverged, **arrays, **meta), key


def table_csv(result, metric="eval_acc"):
    """One row per configuration and seed: hyperparameters, final metric, diverged step."""
    names = list(result.configs[0])
    lines = [",".join([*names, "seed", f"final_{metric}", "diverged_step"])]
    final = getattr(result, metric)[..., -1]
    for k, config in enumerate(result.configs):
        for s, seed in enumerate(result.seeds):
            lines.append(",".join([*(f"{config[n]:.6g}" for n in names), str(seed),
                                   f"{final[k, s]:.6g}", str(int(result.diverged_step[k, s]))]))
    return "\n".join(lines) + "\n"


def ranking_markdown(result, title, command, metric="eval_acc", eval_split="test", top=50):
    """The ranked configurations as a Markdown table (the ``top`` best)."""
    rows = result.ranking(metric)
    names = list(result.swept)
    lines = [f"# {title}", "", f"`{command}`", "",
             f"{len(result.configs)} configurations x {len(result.seeds)} seed(s), strategy "
             f"`{result.strategy}`, {result.seconds:.1f} s; final {eval_split} accuracy, mean ± "
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
