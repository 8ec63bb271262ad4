"""Training engine: ``make_train(config, data)`` -> a training function of (hparams, key).

The learning rate, every schedule hyperparameter and the seed are *arguments*
(traced), so one compilation serves every value: ``config.schedule`` is a
function ``(hparams, info) -> optax.Schedule`` evaluated inside the compiled
step. Each piece (init, one step, one epoch, evaluation) is a pure jitted
function of arrays; ``Trainer.run`` drives them and adds what a person needs
around a long run: a progress bar, a checkpoint after every epoch (resumed
bit-for-bit), divergence detection.

Two loops, chosen per backend (``loop="auto"``):

- ``dispatch``: one jitted step per dispatch, the epoch a Python loop that only
  enqueues work (no host sync until the epoch ends). XLA:CPU runs
  while-loop bodies ~3.5x slower than the same step dispatched on its own
  (GUIDE section 5), so this is the CPU choice.
- ``scan``: the whole epoch is one ``lax.scan``: one dispatch per epoch, the
  accelerator choice.

Both compute the same function; ``tests/test_train.py`` checks they agree.
"""

from __future__ import annotations

import dataclasses
import json
import math
import pathlib
import time
from typing import Any, Callable, Mapping

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlr import plateau
from jaxlr._io import atomic_write_bytes
from jaxlr._layers import LOWERINGS
from jaxlr._validation import check_choice
from jaxlr.models import make_model

__all__ = ["History", "ScheduleInfo", "TrainConfig", "Trainer", "make_optimizer", "make_train",
           "OPTIMIZERS", "KERAS_DEFAULTS"]


@dataclasses.dataclass(frozen=True)
class ScheduleInfo:
    """What a schedule builder may need besides the hyperparameters (all static)."""

    steps_per_epoch: int
    epochs: int

    @property
    def total_steps(self):
        return self.steps_per_epoch * self.epochs


@dataclasses.dataclass(frozen=True)
class TrainConfig:
    """A training run, minus its traced hyperparameters and seed.

    Attributes:
      model: a name in ``jaxlr.models.MODELS``.
      epochs: number of passes over the training set.
      batch_size: examples per update; the last batch of an epoch is partial
        (masked), as PyTorch's DataLoader and Keras's ``fit`` do.
      optimizer: a name in ``OPTIMIZERS``; its numeric hyperparameters
        (``momentum``, ``b1``...) come from ``hparams`` when present.
      nesterov: Nesterov momentum (SGD only; static).
      schedule: ``(hparams, ScheduleInfo) -> optax.Schedule`` giving the lr of
        every update; ``None`` means the constant ``hparams["lr"]``.
      plateau: options of ``jaxlr.reduce_on_plateau`` fed the evaluation loss
        after every epoch (torch's ``scheduler.step(val_loss)``), or ``None``.
      init: weight initialisation (``torch``, ``keras``, ``flax``; default: the model's).
      eval_batch_size: examples per evaluation batch.
      loop: ``auto``, ``dispatch`` or ``scan`` (see module docstring).
      lowering: how convolutions and pools are computed (``auto``, ``shifted``,
        ``xla``; the same function either way, see ``jaxlr._layers``).
      name: a label for progress and results.
    """

    model: str
    epochs: int
    batch_size: int
    optimizer: str = "sgd"
    nesterov: bool = False
    schedule: Callable[[Mapping[str, Any], ScheduleInfo], optax.Schedule] | None = None
    plateau: Mapping[str, Any] | None = None
    init: str | None = None
    eval_batch_size: int = 1000
    loop: str = "auto"
    lowering: str = "auto"
    name: str = "run"

    def __post_init__(self):
        for field in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or value <= 0:
                raise ValueError(f"TrainConfig: {field} must be a positive int, got {value!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig: optimizer must be one of {sorted(OPTIMIZERS)}, "
                             f"got {self.optimizer!r}")
        if self.loop not in ("auto", "dispatch", "scan"):
            raise ValueError(f"TrainConfig: loop must be auto, dispatch or scan, got {self.loop!r}")
        check_choice("TrainConfig", "lowering", self.lowering, LOWERINGS)


# ---------------------------------------------------------------------------
# optimizers
# ---------------------------------------------------------------------------

def _keras_sgd(learning_rate, momentum=0.0, nesterov=False):
    """Keras's SGD: ``v = m v - lr g; p += v`` (``+ m v - lr g`` with Nesterov).

    The lr scales each gradient *before* it enters the velocity, so past
    gradients keep the lr of their own step. PyTorch (and ``optax.sgd``) scale
    the whole velocity by the current lr instead; the two agree at constant lr.
    """
    return optax.chain(optax.scale_by_learning_rate(learning_rate),
                       optax.trace(decay=momentum, nesterov=nesterov))


def _torch_sgd(learning_rate, momentum=0.0, nesterov=False):
    """PyTorch's SGD: ``b = m b + g; p -= lr b`` (``lr (g + m b)`` with Nesterov)."""
    return optax.sgd(learning_rate, momentum=momentum, nesterov=nesterov)


def _adagrad(learning_rate, initial_accumulator_value=0.1, eps=1e-7):
    return optax.adagrad(learning_rate, initial_accumulator_value=initial_accumulator_value,
                         eps=eps)


def _adadelta(learning_rate, rho=0.95, eps=1e-7):
    return optax.adadelta(learning_rate, rho=rho, eps=eps)


def _rmsprop(learning_rate, decay=0.9, eps=1e-7):
    return optax.rmsprop(learning_rate, decay=decay, eps=eps)


def _adam(learning_rate, b1=0.9, b2=0.999, eps=1e-7):
    return optax.adam(learning_rate, b1=b1, b2=b2, eps=eps)


# name -> (factory, its hyperparameters other than the learning rate, static args)
OPTIMIZERS = {
    "sgd": (_torch_sgd, ("momentum",), ("nesterov",)),
    "keras_sgd": (_keras_sgd, ("momentum",), ("nesterov",)),
    "adagrad": (_adagrad, ("initial_accumulator_value", "eps"), ()),
    "adadelta": (_adadelta, ("rho", "eps"), ()),
    "rmsprop": (_rmsprop, ("decay", "eps"), ()),
    "adam": (_adam, ("b1", "b2", "eps"), ()),
}

# Keras 2 defaults (keras/optimizers.py, the API the Keras comparisons used):
# epsilon = K.epsilon() = 1e-7.
KERAS_DEFAULTS = {
    "keras_sgd": dict(lr=0.01, momentum=0.0),
    "adagrad": dict(lr=0.01, initial_accumulator_value=0.0, eps=1e-7),
    "adadelta": dict(lr=1.0, rho=0.95, eps=1e-7),
    "rmsprop": dict(lr=0.001, decay=0.9, eps=1e-7),
    "adam": dict(lr=0.001, b1=0.9, b2=0.999, eps=1e-7),
}


def make_optimizer(name, schedule, hparams, nesterov=False):
    """An optax optimizer whose lr of the last update can be read back from its state.

    ``optax.inject_hyperparams`` evaluates ``schedule(count)`` once per update
    and stores the value it used in ``state.hyperparams["learning_rate"]``.
    """
    factory, names, static = OPTIMIZERS[name]
    kwargs = {n: hparams[n] for n in names if n in hparams}
    if static:
        kwargs["nesterov"] = nesterov
    return optax.inject_hyperparams(factory, static_args=static)(learning_rate=schedule, **kwargs)


# ---------------------------------------------------------------------------
# losses
# ---------------------------------------------------------------------------

def _loss_and_correct(logits, labels):
    """Per-example loss and correctness: softmax CE, or sigmoid BCE for one logit."""
    if logits.shape[-1] == 1:
        z = logits[..., 0]
        loss = optax.sigmoid_binary_cross_entropy(z, labels.astype(z.dtype))
        correct = (z > 0).astype(jnp.int32) == labels
    else:
        loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
        correct = jnp.argmax(logits, -1) == labels
    return loss, correct


# ---------------------------------------------------------------------------
# history
# ---------------------------------------------------------------------------

@dataclasses.dataclass
class History:
    """Per-epoch metrics of one run (numpy arrays; ``lr`` is ``[epoch, step]``)."""

    train_loss: list
    train_acc: list
    eval_loss: list
    eval_acc: list
    lr: list
    epoch_seconds: list
    diverged_epoch: int | None = None
    eval_split: str = "test"
    diverged_step: int | None = None
    step_loss: list = dataclasses.field(default_factory=list)  # [epoch, step] batch losses

    @classmethod
    def empty(cls, eval_split):
        return cls([], [], [], [], [], [], None, eval_split, None, [])

    @property
    def epochs_done(self):
        return len(self.train_loss)

    def to_dict(self):
        return {k: (np.asarray(v).tolist() if isinstance(v, list) else v)
                for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d):
        return cls(**d)


# ---------------------------------------------------------------------------
# the trainer
# ---------------------------------------------------------------------------

class Trainer:
    """Pure jitted pieces of a training run plus the driver around them.

    Build it with :func:`make_train`. ``trainer(hparams, key)`` runs the whole
    training and returns a :class:`History`.
    """

    def __init__(self, config: TrainConfig, data):
        self.config = config
        self.data = data
        self.x_train = jnp.asarray(data.x_train)
        self.y_train = jnp.asarray(data.y_train)
        x_eval, y_eval, self.eval_split = data.eval_split
        self.x_eval, self.y_eval = jnp.asarray(x_eval), jnp.asarray(y_eval)
        self.num_train = len(data.x_train)
        self.steps_per_epoch = math.ceil(self.num_train / config.batch_size)
        self.info = ScheduleInfo(self.steps_per_epoch, config.epochs)
        self.model = make_model(config.model, data.num_classes, config.init, config.lowering)
        loop = config.loop
        if loop == "auto":
            loop = "dispatch" if jax.default_backend() == "cpu" else "scan"
        self.loop = loop
        self.init = jax.jit(self._init)
        self.step = jax.jit(self._step, donate_argnums=0)
        self.epoch = jax.jit(self._epoch, donate_argnums=0)
        self.begin_epoch = jax.jit(self._begin_epoch, donate_argnums=0)
        self.end_epoch = jax.jit(self._end_epoch, donate_argnums=0)
        self.evaluate = jax.jit(self._evaluate)

    # -- pure pieces --------------------------------------------------------

    def _optimizer(self, hparams):
        schedule = (self.config.schedule(hparams, self.info) if self.config.schedule
                    else (lambda count: hparams["lr"] * jnp.ones_like(count, jnp.float32)))
        tx = make_optimizer(self.config.optimizer, schedule, hparams,
                            nesterov=self.config.nesterov)
        if self.config.plateau is not None:
            tx = optax.chain(tx, plateau.reduce_on_plateau(**self.config.plateau))
        return tx

    def _init(self, hparams, key):
        init_key, run_key = jax.random.split(key)
        params = self.model.init(init_key, self.x_train[:1])
        opt_state = self._optimizer(hparams).init(params)
        return dict(params=params, opt_state=opt_state, key=run_key, hparams=hparams,
                    epoch=jnp.zeros((), jnp.int32), diverged_step=jnp.full((), -1, jnp.int32),
                    **self._zero_accumulators())

    def _zero_accumulators(self):
        return dict(order=jnp.zeros(self.steps_per_epoch * self.config.batch_size, jnp.int32),
                    loss_sum=jnp.zeros(()), correct_sum=jnp.zeros((), jnp.int32),
                    lr=jnp.zeros(self.steps_per_epoch),
                    step_loss=jnp.zeros(self.steps_per_epoch))

    def _begin_epoch(self, state):
        """Shuffle for this epoch (a function of the run key and the epoch only)."""
        perm = jax.random.permutation(jax.random.fold_in(state["key"], state["epoch"]),
                                      self.num_train).astype(jnp.int32)
        pad = self.steps_per_epoch * self.config.batch_size - self.num_train
        order = jnp.concatenate([perm, jnp.full((pad,), -1, jnp.int32)])
        return {**state, **self._zero_accumulators(), "order": order}

    def _step(self, state, i):
        b = self.config.batch_size
        idx = jax.lax.dynamic_slice(state["order"], (i * b,), (b,))
        mask = idx >= 0
        idx = jnp.where(mask, idx, 0)
        x, y = self.x_train[idx], self.y_train[idx]
        dropout_key = jax.random.fold_in(jax.random.fold_in(state["key"], state["epoch"]), i)
        tx = self._optimizer(state["hparams"])

        def loss_fn(params):
            logits = self.model.apply(params, x, train=True, rngs={"dropout": dropout_key})
            loss, correct = _loss_and_correct(logits, y)
            m = mask.astype(loss.dtype)
            return jnp.sum(loss * m) / jnp.sum(m), (jnp.sum(loss * m), jnp.sum(correct & mask))

        grads, (loss_sum, correct) = jax.grad(loss_fn, has_aux=True)(state["params"])
        updates, opt_state = tx.update(grads, state["opt_state"], state["params"])
        params = optax.apply_updates(state["params"], updates)
        lr = _lr_used(opt_state)
        return {**state, "params": params, "opt_state": opt_state,
                "loss_sum": state["loss_sum"] + loss_sum,
                "correct_sum": state["correct_sum"] + correct,
                "lr": state["lr"].at[i].set(lr),
                "step_loss": state["step_loss"].at[i].set(loss_sum / jnp.sum(mask)),
                "diverged_step": _first_bad_step(state, loss_sum, i, self.steps_per_epoch)}

    def _epoch(self, state):
        def body(state, i):
            return self._step(state, i), None

        return jax.lax.scan(body, state, jnp.arange(self.steps_per_epoch))[0]

    def _evaluate(self, params):
        eb = min(self.config.eval_batch_size, len(self.x_eval))
        n = len(self.x_eval)
        nb = math.ceil(n / eb)
        pad = nb * eb - n
        x = jnp.concatenate([self.x_eval, jnp.zeros((pad, *self.x_eval.shape[1:]),
                                                   self.x_eval.dtype)])
        y = jnp.concatenate([self.y_eval, jnp.zeros((pad,), self.y_eval.dtype)])
        mask = jnp.arange(nb * eb) < n

        def batch(args):
            xb, yb, mb = args
            loss, correct = _loss_and_correct(self.model.apply(params, xb), yb)
            return jnp.sum(loss * mb), jnp.sum(correct & mb)

        losses, corrects = jax.lax.map(batch, (x.reshape(nb, eb, *x.shape[1:]),
                                               y.reshape(nb, eb), mask.reshape(nb, eb)))
        return jnp.sum(losses) / n, jnp.sum(corrects) / n

    def _end_epoch(self, state):
        """Evaluate, feed reduce-on-plateau, and advance the epoch counter."""
        eval_loss, eval_acc = self._evaluate(state["params"])
        opt_state = state["opt_state"]
        if self.config.plateau is not None:
            opt_state = plateau.observe(opt_state, eval_loss)
        metrics = dict(diverged_step=state["diverged_step"],
                       train_loss=state["loss_sum"] / self.num_train,
                       train_acc=state["correct_sum"] / self.num_train,
                       eval_loss=eval_loss, eval_acc=eval_acc, lr=state["lr"],
                       step_loss=state["step_loss"])
        return {**state, "opt_state": opt_state, "epoch": state["epoch"] + 1}, metrics

    # -- driver ---------------------------------------------------------------

    def run_epoch(self, state):
        """One epoch; returns ``(state, metrics)`` with metrics still on device."""
        state = self.begin_epoch(state)
        if self.loop == "scan":
            state = self.epoch(state)
        else:
            for i in range(self.steps_per_epoch):
                state = self.step(state, jnp.int32(i))
        return self.end_epoch(state)

    def __call__(self, hparams, key, progress=False, checkpoint=None):
        """Train; return a :class:`History`.

        Args:
          hparams: mapping of hyperparameter name -> number (``lr`` at least).
          key: a ``jax.random.key`` or raw uint32 key; same key, same numbers.
          progress: show a progress bar (epoch, loss, accuracy, lr).
          checkpoint: a file path; after every epoch the run is saved there
            (atomically) and a later call with the same path resumes from the
            last completed epoch. Removed when the run completes.
        """
        hparams = {k: jnp.asarray(v, jnp.float32) for k, v in hparams.items()}
        state = self.init(hparams, _raw_key(key))
        history = History.empty(self.eval_split)
        if checkpoint is not None:
            state, history = _restore(checkpoint, state, history, self.config, hparams)
        bar = _progress(self.config, history.epochs_done) if progress else None
        while history.epochs_done < self.config.epochs and history.diverged_epoch is None:
            start = time.perf_counter()
            state, metrics = self.run_epoch(state)
            metrics = jax.device_get(metrics)
            seconds = time.perf_counter() - start
            for k in ("train_loss", "train_acc", "eval_loss", "eval_acc", "lr", "step_loss"):
                getattr(history, k).append(np.asarray(metrics[k]).tolist())
            history.epoch_seconds.append(seconds)
            if not np.isfinite(metrics["train_loss"]):
                history.diverged_epoch = history.epochs_done - 1
                history.diverged_step = int(metrics["diverged_step"])
            if checkpoint is not None:
                _save(checkpoint, state, history, self.config, hparams)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{metrics['train_loss']:.4f}",
                                acc=f"{metrics['eval_acc']:.4f}",
                                lr=f"{float(metrics['lr'][-1]):.3g}")
        if bar is not None:
            bar.close()
        self.final_state = state
        return history


def _first_bad_step(state, loss_sum, i, steps_per_epoch):
    """The first update whose loss was not finite (-1 while there is none)."""
    step = state["epoch"] * steps_per_epoch + i
    first = (state["diverged_step"] < 0) & ~jnp.isfinite(loss_sum)
    return jnp.where(first, step, state["diverged_step"]).astype(jnp.int32)


def _is_hyperparams_state(x):
    # optax's inject_hyperparams states (InjectHyperparamsState and its
    # stateful variant) are the NamedTuples with a ``hyperparams`` dict
    return isinstance(getattr(x, "hyperparams", None), dict)


def _lr_used(opt_state):
    """The lr of the update just applied: inject_hyperparams's value x plateau value."""
    def is_leaf(x):
        return _is_hyperparams_state(x) or isinstance(x, plateau.ReduceOnPlateauState)

    lr, scale = None, 1.0
    for s in jax.tree_util.tree_leaves(opt_state, is_leaf=is_leaf):
        if _is_hyperparams_state(s):
            lr = s.hyperparams["learning_rate"]
        elif isinstance(s, plateau.ReduceOnPlateauState):
            scale = scale * s.value
    return lr * scale


def _raw_key(key):
    key = jnp.asarray(key) if not isinstance(key, int) else jax.random.PRNGKey(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return key


def _progress(config, initial):
    from tqdm.auto import tqdm

    return tqdm(total=config.epochs, initial=initial, desc=config.name, unit="epoch",
                leave=False, dynamic_ncols=True)


# ---------------------------------------------------------------------------
# checkpoints: flax msgpack of the whole state + the history, written atomically
# ---------------------------------------------------------------------------

def _fingerprint(config, hparams):
    fields = {f.name: getattr(config, f.name) for f in dataclasses.fields(config)
              if f.name not in ("schedule", "loop", "lowering")}
    fields["hparams"] = {k: float(v) for k, v in hparams.items()}
    return json.dumps(fields, sort_keys=True, default=str)


def _save(path, state, history, config, hparams):
    from flax import serialization

    payload = {"fingerprint": _fingerprint(config, hparams), "history": history.to_dict(),
               "state": serialization.to_state_dict(jax.device_get(state))}
    atomic_write_bytes(path, serialization.msgpack_serialize(payload))


def _restore(path, state, history, config, hparams):
    from flax import serialization

    path = pathlib.Path(path)
    if not path.is_file():
        return state, history
    payload = serialization.msgpack_restore(path.read_bytes())
    if payload.get("fingerprint") != _fingerprint(config, hparams):
        raise ValueError(f"{path}: checkpoint of a different run (config or hyperparameters "
                         "differ); remove it or choose another output directory")
    restored = serialization.from_state_dict(jax.device_get(state), payload["state"])
    return jax.device_put(restored), History.from_dict(payload["history"])


def make_train(config: TrainConfig, data) -> Trainer:
    """Build the training function of a config and a :class:`jaxlr.data.Dataset`.

    Returns a :class:`Trainer`: ``trainer(hparams, key) -> History``, with the
    pure pieces ``trainer.init``, ``trainer.step``, ``trainer.epoch`` and
    ``trainer.evaluate`` (each jitted once for all hyperparameter values).
    """
    return Trainer(config, data)
