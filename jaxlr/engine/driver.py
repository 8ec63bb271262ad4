"""The host driver: runs a trainer's pure functions epoch by epoch, for one run or many.

It adds what a person needs around a long run and nothing that changes its
numbers: a progress bar, the divergence report, and saving to / resuming
from a :class:`jaxlr.engine.RunStore` after every epoch. Single runs
(:func:`run`) and every sweep strategy (:mod:`jaxlr.sweep`) go through
:class:`Program` and :func:`train_epochs`.
"""

from __future__ import annotations

import dataclasses
import time
import weakref

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr.engine.keys import key_identity, raw_key
from jaxlr.engine.identity import schedule_fingerprints
from jaxlr.engine.store import Record, as_store, to_host

__all__ = ["History", "Program", "member_identities", "program", "run", "run_slot",
           "saved_progress", "train_epochs", "write_above_bars"]

METRICS = ("train_loss", "train_acc", "eval_loss", "eval_acc")


@dataclasses.dataclass
class History:
    """Per-epoch metrics of one run (lists; ``lr`` and ``step_loss`` are ``[epoch, step]``).

    ``extra``: the config's own evaluation metrics, ``eval_<name> -> [epoch]``.
    """

    train_loss: list
    train_acc: list
    eval_loss: list
    eval_acc: list
    lr: list
    epoch_seconds: list
    diverged_epoch: int | None = None
    eval_split: str = "test"
    diverged_step: int | None = None
    step_loss: list = dataclasses.field(default_factory=list)
    extra: dict = dataclasses.field(default_factory=dict)

    @classmethod
    def empty(cls, eval_split):
        return cls([], [], [], [], [], [], None, eval_split, None, [], {})

    @property
    def epochs_done(self):
        return len(self.train_loss)

    def to_dict(self):
        out = {k: (np.asarray(v).tolist() if isinstance(v, list) else v)
               for k, v in dataclasses.asdict(self).items()}
        if not out["extra"]:
            del out["extra"]
        return out

    @classmethod
    def from_dict(cls, d):
        return cls(**d)

    def append(self, metrics, seconds):
        """Add one epoch's host metrics (a dict from :meth:`Trainer.end_epoch`)."""
        for k in (*METRICS, "lr", "step_loss"):
            getattr(self, k).append(np.asarray(metrics[k]).tolist())
        for k, v in metrics.items():
            if k.startswith("eval_") and k not in METRICS:
                self.extra.setdefault(k, []).append(float(v))
        self.epoch_seconds.append(seconds)
        if not np.isfinite(metrics["train_loss"]) and self.diverged_epoch is None:
            self.diverged_epoch = self.epochs_done - 1
            self.diverged_step = int(metrics["diverged_step"])


class Program:
    """A trainer's pure functions jitted once: for one run, or vmapped over members.

    ``batched``: every argument and result has a leading member axis (the
    epoch index ``i`` of ``step`` is shared). On the dispatch loop each step
    writes its :class:`StepMetrics` into per-epoch arrays that stay on the
    device (``step_into``), so that ``end_epoch`` receives them stacked.
    """

    def __init__(self, trainer, batched=False):
        self.trainer, self.batched = trainer, batched
        v = (lambda f, **kw: jax.vmap(f, **kw)) if batched else (lambda f, **kw: f)
        self.init = jax.jit(v(trainer.init))
        self.step = jax.jit(v(trainer.step, in_axes=(0, None)), donate_argnums=0)
        self.run_epoch = jax.jit(v(trainer.run_epoch), donate_argnums=0)
        self.end_epoch = jax.jit(v(trainer.end_epoch), donate_argnums=0)
        step = v(trainer.step, in_axes=(0, None))

        def begin_epoch(state):
            # the epoch's order, and room for every step's metrics (on the device)
            state = v(trainer.begin_epoch)(state)
            shapes = jax.eval_shape(step, state, jnp.int32(0))[1]
            acc = jax.tree_util.tree_map(
                lambda m: jnp.zeros((*m.shape, trainer.steps_per_epoch), m.dtype), shapes)
            return state, acc

        def step_into(state, acc, i):
            state, metrics = step(state, i)
            return state, jax.tree_util.tree_map(lambda a, m: a.at[..., i].set(m), acc, metrics)

        self.begin_epoch = jax.jit(begin_epoch, donate_argnums=0)
        self.step_into = jax.jit(step_into, donate_argnums=(0, 1))

    def epoch(self, state):
        """One epoch: ``(state, metrics)``, metrics still on the device (no host sync)."""
        if self.trainer.loop == "scan":
            return self.run_epoch(state)
        state, acc = self.begin_epoch(state)
        for i in range(self.trainer.steps_per_epoch):
            state, acc = self.step_into(state, acc, jnp.int32(i))
        return self.end_epoch(state, acc)


_PROGRAMS = weakref.WeakKeyDictionary()


def program(trainer, batched=False) -> Program:
    """The trainer's :class:`Program` (built once per trainer, so it compiles once)."""
    programs = _PROGRAMS.setdefault(trainer, {})
    if batched not in programs:
        programs[batched] = Program(trainer, batched)
    return programs[batched]


def train_epochs(prog, state, epochs, on_epoch=None, bar=None, stop=None):
    """Train ``epochs`` more epochs: ``(state, [host metrics per epoch])``.

    ``on_epoch(state, host_metrics_so_far)`` runs after each epoch (saving);
    ``stop(host_metrics)`` ends the loop early (a single run that diverged).
    Without either, metrics stay on the device until the end (no sync per epoch).
    """
    done, pending = [], []
    for _ in range(epochs):
        start = time.perf_counter()
        state, metrics = prog.epoch(state)
        pending.append(metrics)
        if on_epoch is not None or stop is not None or bar is not None:
            host = to_host(pending)
            done, pending = done + host, []
            for m in host:
                m["seconds"] = time.perf_counter() - start
            if on_epoch is not None:
                on_epoch(state, done)
            if bar is not None:
                bar.update(1)
                _postfix(bar, done[-1])
            if stop is not None and stop(done[-1]):
                break
    done += to_host(pending)
    return state, done


def _postfix(bar, m):
    loss = np.asarray(m["train_loss"])
    acc = np.asarray(m["eval_acc"])
    lr = np.asarray(m["lr"])[..., -1]
    if loss.ndim == 0:
        bar.set_postfix({"loss": f"{float(loss):.4f}", "acc": f"{float(acc):.4f}",
                         "lr": f"{float(lr):.3g}"})
    else:  # many members: typical loss and accuracy, the best, and the lrs in use
        with np.errstate(all="ignore"):
            lo, hi = np.nanmin(lr), np.nanmax(lr)
            bar.set_postfix({"median loss": f"{np.nanmedian(loss):.4f}",
                             "mean acc": f"{np.nanmean(acc):.4f}",
                             "best acc": f"{np.nanmax(acc):.4f}",
                             "lr": f"{lo:.3g}" if lo == hi else f"{lo:.3g}..{hi:.3g}"})


def member_identities(trainer, rows, keys):
    """The identity of each member (hyperparameters as float32, key, the lrs it uses)."""
    lrs = schedule_fingerprints(trainer, rows)
    return [{"hparams": {k: float(np.float32(v)) for k, v in sorted(r.items())},
             "key": key_identity(key), "schedule_lrs": f} for r, key, f in zip(rows, keys, lrs)]


def progress_bar(total, desc, unit):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit=unit, leave=False, dynamic_ncols=True)


def write_above_bars(message, file=None):
    """Print a line above any progress bars (not onto a bar's line); default stdout."""
    from tqdm.auto import tqdm

    tqdm.write(message, file=file)


def run_slot(trainer, hparams, key, store):
    """The :class:`jaxlr.engine.store.Slot` of one run in ``store`` (``None`` without a store)."""
    store = as_store(store)
    if store is None:
        return None
    hparams = {k: float(v) for k, v in dict(hparams).items()}
    return store.slot("run", {"trainer": trainer.identity(),
                              "member": member_identities(trainer, [hparams], [raw_key(key)])[0]})


def saved_progress(meta, epochs=None):
    """``(epochs saved, finished)`` of a stored run or part from its ``meta`` (``None``: nothing).

    ``epochs``: the run's number of epochs, for records that do not say it.
    """
    if meta is None:
        return 0, False
    epochs = meta.get("epochs", epochs)
    if "history" in meta:  # a single run
        history = meta["history"]
        done = len(history["train_loss"])
        return done, done >= epochs or history.get("diverged_epoch") is not None
    if meta.get("complete"):
        return epochs, True
    return int(meta.get("epochs_done", 0)), False


def run(trainer, hparams, key, *, progress=False, store=None, return_state=False):
    """Train one run; return its :class:`History` (and final state with ``return_state``).

    Args:
      trainer: from :func:`jaxlr.engine.make_train`.
      hparams: mapping name -> number; every name must be read by the run.
      key: an int seed, an ``(init, data)`` seed pair (:mod:`jaxlr.engine.keys`), a typed
        key or a raw key; same key, same numbers.
      progress: show a progress bar (epoch, loss, accuracy, lr); a string is the
        bar's label (default: the config's name).
      store: a :class:`jaxlr.engine.RunStore` (or a directory): the run is saved
        there after every epoch, under its identity; a later call with the same
        everything resumes after the last saved epoch, or returns the finished
        run without training. Any other seed, schedule, data or setting has its
        own slot.
    """
    hparams = {k: float(v) for k, v in dict(hparams).items()}
    trainer.hparams_read(hparams)
    prog = program(trainer)
    rkey = raw_key(key)
    state = prog.init({k: jnp.float32(v) for k, v in hparams.items()}, rkey)
    history = History.empty(trainer.eval_split)
    slot = run_slot(trainer, hparams, rkey, store)
    if slot is not None:
        record = slot.load(template=state)
        if record is not None:
            history = History.from_dict(record.meta["history"])  # checksummed with the rest
            state = jax.device_put(record.state)
    left = 0 if history.diverged_epoch is not None else trainer.config.epochs - history.epochs_done
    bar = None
    if progress:
        bar = progress_bar(trainer.config.epochs,
                           progress if isinstance(progress, str) else trainer.config.name, "epoch")
        bar.update(history.epochs_done)

    def on_epoch(state, done):
        history.append(done[-1], done[-1].pop("seconds"))
        if slot is not None:
            slot.save(Record(meta={"history": history.to_dict(), "epochs": trainer.config.epochs},
                             state=state))

    state, _ = train_epochs(prog, state, left, on_epoch=on_epoch, bar=bar,
                            stop=lambda m: history.diverged_epoch is not None)
    if bar is not None:
        bar.close()
    return (history, state) if return_state else history
