"""The pure core of a training run: ``make_train(config, data)`` -> a :class:`Trainer`.

Every function of a :class:`Trainer` is pure and traceable; the learning
rate, every schedule/optimizer hyperparameter and the key are *arguments*, so
one compilation serves every value, ``jax.vmap`` over them is a sweep and
``jax.grad`` through :meth:`Trainer.train_fn` differentiates a whole run with
respect to them:

- ``init(hparams, key) -> TrainState``
- ``begin_epoch(state) -> state``: this epoch's example order (a function of
  the run key and the epoch only);
- ``step(state, i) -> (state, StepMetrics)``: the ``i``-th update of the epoch;
- ``end_epoch(state, steps) -> (state, metrics)``: evaluation, the plateau
  observation, the epoch counter; ``steps`` the epoch's stacked step metrics;
- ``run_epoch(state) -> (state, metrics)``: the three above, the steps a ``lax.scan``;
- ``evaluate(params, model_state) -> metrics`` on the evaluation split;
- ``train_fn(hparams, key) -> (state, metrics)``: the whole run, a scan over
  epochs, metrics stacked ``[epoch, ...]``.

The host layer (progress, divergence report, the run store) is
:mod:`jaxlr.engine.driver`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import flax.struct
import jax
import jax.numpy as jnp
import optax

from jaxlr import plateau
from jaxlr.engine import backend, losses
from jaxlr.engine.config import ScheduleInfo, TrainConfig
from jaxlr.engine.keys import raw_key, split_key
from jaxlr.engine.modules import as_model
from jaxlr.engine.optimizers import (eval_params, lr_used, make_optimizer, optimizer_arguments,
                                     sync_hyperparams)

__all__ = ["Recorder", "StepMetrics", "TrainState", "Trainer", "make_train"]


@flax.struct.dataclass
class TrainState:
    """Everything a run carries from one update to the next (a pytree).

    Attributes:
      params: the model's trainable parameters.
      opt_state: the optimizer's state (the lr of the last update inside).
      model_state: the model's other variables (batch statistics, NNX rng
        counters); ``{}`` when it has none.
      hparams: the run's hyperparameters, scalars of :attr:`Trainer.hparam_dtype` (traced).
      key: the run's data key, raw uint32 (shuffling and dropout derive from it;
        see :mod:`jaxlr.engine.keys`).
      epoch: epochs completed (int32).
      order: this epoch's example order, padded with -1 to whole batches.
      diverged_step: the first update whose loss was not finite, -1 while none.
    """

    params: Any
    opt_state: Any
    model_state: Any
    hparams: Mapping[str, jax.Array]
    key: jax.Array
    epoch: jax.Array
    order: jax.Array
    diverged_step: jax.Array


class StepMetrics(NamedTuple):
    """What one update reports: the batch's summed and mean loss, correct count, lr used."""

    loss_sum: jax.Array
    loss: jax.Array
    correct: jax.Array
    lr: jax.Array


class Recorder(Mapping):
    """A read-only view of hparams that remembers which names were read."""

    def __init__(self, hparams, read):
        self._hparams, self._read = hparams, read

    def __getitem__(self, name):
        if name not in self._hparams:
            raise ValueError(f"this run reads the hyperparameter {name!r}, which was not given "
                             f"(given: {sorted(self._hparams)})")
        self._read.add(name)
        return self._hparams[name]

    def __contains__(self, name):
        return name in self._hparams

    def get(self, name, default=None):
        return self[name] if name in self._hparams else default

    def __iter__(self):  # iterating (e.g. ``**hparams``) reads every name
        self._read.update(self._hparams)
        return iter(self._hparams)

    def __len__(self):
        return len(self._hparams)


class Trainer:
    """The pure functions of one training configuration on one dataset.

    Build it with :func:`make_train`. Calling it, ``trainer(hparams, key)``,
    runs the whole training through the host driver and returns a
    :class:`jaxlr.engine.History` (see :func:`jaxlr.engine.run` for progress
    bars and the run store).
    """

    def __init__(self, config: TrainConfig, data):
        self.config = config
        self.data = data
        x_eval, y_eval, self.eval_split = data.eval_split
        self.x_train = jnp.asarray(data.x_train)
        self.y_train = jnp.asarray(data.y_train)
        self.x_eval, self.y_eval = jnp.asarray(x_eval), jnp.asarray(y_eval)
        self.num_train = len(data.x_train)
        # float32 for every jaxlr dataset; float64 only for float64 inputs under
        # jax_enable_x64 (a run checked in float64, e.g. hypergradients against
        # finite differences), so that no hyperparameter is rounded below its data
        self.hparam_dtype = (jnp.float64 if self.x_train.dtype == jnp.float64
                             else jnp.float32)
        self.num_eval = len(x_eval)
        if self.num_train == 0 or self.num_eval == 0:
            raise ValueError(f"make_train: the dataset has {self.num_train} training and "
                             f"{self.num_eval} evaluation examples; both must be >= 1")
        if config.drop_last and self.num_train < config.batch_size:
            raise ValueError(f"make_train: drop_last=True with {self.num_train} training "
                             f"examples and batch_size={config.batch_size} leaves no batch")
        self.steps_per_epoch = (self.num_train // config.batch_size if config.drop_last
                                else math.ceil(self.num_train / config.batch_size))
        self.info = ScheduleInfo(self.steps_per_epoch, config.epochs)
        self.model = as_model(config.model, getattr(data, "num_classes", None), config.init,
                              config.lowering)
        out = jax.eval_shape(lambda x: self.model.apply(
            *self.model.init(jax.random.PRNGKey(0), x), x, False, None)[0], self.x_train[:1])
        self.output_shape = tuple(out.shape[1:])
        self.loss_name, self._loss = losses.resolve_loss(config.loss, self.y_train.dtype,
                                                         self.output_shape)
        self.classification = losses.is_classification(self.y_train.dtype)
        self.loop = backend.choose_loop(config.loop)
        remainder = self.num_train % config.batch_size
        if remainder and not config.drop_last:
            model_state = jax.eval_shape(self.model.init, jax.random.PRNGKey(0),
                                         self.x_train[:1])[1]
            if self.model.couples_batch(model_state):
                raise ValueError(
                    f"make_train: the model keeps batch statistics, and {self.num_train} "
                    f"training examples leave a last batch of {remainder} < batch_size="
                    f"{config.batch_size}, whose padding would enter them; set "
                    "TrainConfig(drop_last=True), or a batch_size that divides the examples")
        self._read = None

    # -- hyperparameters ------------------------------------------------------

    def _optimizer(self, hparams):
        config = self.config
        schedule = (config.schedule(hparams, self.info) if config.schedule else
                    (lambda count, lr=hparams["lr"]: lr * jnp.ones_like(count, jnp.float32)))
        tx = make_optimizer(config.optimizer, schedule, hparams, nesterov=config.nesterov)
        if config.plateau is not None:
            tx = optax.chain(tx, plateau.reduce_on_plateau(**config.plateau))
        return tx

    def hparams_read(self, hparams):
        """The names of ``hparams`` that this run reads (its schedule and optimizer).

        Raises:
          ValueError: a name the run needs is missing, or one in ``hparams`` is
            read by nothing (e.g. a misspelt ``momentun``), naming it and the
            names the run reads.
        """
        read = set()
        self._optimizer(Recorder(hparams, read))
        unread = sorted(set(hparams) - read)
        if unread:
            takes = sorted(set(optimizer_arguments(self.config.optimizer)) - read)
            more = f"; its optimizer also takes {takes}" if takes else ""
            raise ValueError(f"hyperparameter(s) {unread} are not read by this run "
                             f"({self.config.name}); it reads {sorted(read)}{more}")
        return tuple(sorted(read))

    # -- pure pieces ----------------------------------------------------------

    def init(self, hparams, key) -> TrainState:
        """A fresh run: parameters from ``key``, optimizer state, the first epoch's order.

        ``key``: an int seed, an ``(init, data)`` seed pair, or a raw key (see
        :mod:`jaxlr.engine.keys`): the parameters come from its init part, the
        example order and dropout from its data part.
        """
        self.hparams_read(hparams)
        hparams = {k: jnp.asarray(v, self.hparam_dtype) for k, v in hparams.items()}
        init_key, run_key = split_key(raw_key(key))
        params, model_state = self.model.init(init_key, self.x_train[:1])
        opt_state = self._optimizer(hparams).init(params)
        return TrainState(params=params, opt_state=opt_state, model_state=model_state,
                          hparams=hparams, key=run_key, epoch=jnp.zeros((), jnp.int32),
                          order=jnp.zeros(self.steps_per_epoch * self.config.batch_size,
                                          jnp.int32),
                          diverged_step=jnp.full((), -1, jnp.int32))

    def begin_epoch(self, state: TrainState) -> TrainState:
        """Shuffle for this epoch (a function of the run key and the epoch only)."""
        perm = jax.random.permutation(jax.random.fold_in(state.key, state.epoch),
                                      self.num_train).astype(jnp.int32)
        size = self.steps_per_epoch * self.config.batch_size
        if size <= self.num_train:  # drop_last: the examples past whole batches wait
            return state.replace(order=perm[:size])
        return state.replace(order=jnp.concatenate(
            [perm, jnp.full((size - self.num_train,), -1, jnp.int32)]))

    def _per_example(self, outputs, targets):
        loss = self._loss(outputs, targets)
        if loss.shape != targets.shape[:1]:
            raise ValueError(f"the loss must return one value per example, shape "
                             f"{targets.shape[:1]}, got {loss.shape}")
        correct = losses.correct(outputs, targets)
        if correct is None:
            correct = jnp.zeros(targets.shape[:1], bool)
        return loss, correct

    def step(self, state: TrainState, i) -> tuple[TrainState, StepMetrics]:
        """The ``i``-th update of the current epoch (``begin_epoch`` first)."""
        b = self.config.batch_size
        idx = jax.lax.dynamic_slice(state.order, (i * b,), (b,))
        mask = idx >= 0
        idx = jnp.where(mask, idx, 0)
        x, y = self.x_train[idx], self.y_train[idx]
        dropout_key = jax.random.fold_in(jax.random.fold_in(state.key, state.epoch), i)
        tx = self._optimizer(state.hparams)

        def loss_fn(params):
            outputs, model_state = self.model.apply(params, state.model_state, x, True,
                                                    dropout_key)
            loss, correct = self._per_example(outputs, y)
            m = mask.astype(loss.dtype)
            loss_sum = jnp.sum(loss * m)
            return loss_sum / jnp.sum(m), (loss_sum, jnp.sum(correct & mask), model_state)

        grads, (loss_sum, correct, model_state) = jax.grad(loss_fn, has_aux=True)(state.params)
        # the state's hparams, not optax's copy from init, are the numbers each update uses
        opt_state = sync_hyperparams(state.opt_state, state.hparams)
        updates, opt_state = tx.update(grads, opt_state, state.params)
        params = optax.apply_updates(state.params, updates)
        step = state.epoch * self.steps_per_epoch + i
        first = (state.diverged_step < 0) & ~jnp.isfinite(loss_sum)
        diverged_step = jnp.where(first, step, state.diverged_step).astype(jnp.int32)
        state = state.replace(params=params, opt_state=opt_state, model_state=model_state,
                              diverged_step=diverged_step)
        return state, StepMetrics(loss_sum, loss_sum / jnp.sum(mask), correct,
                                  lr_used(opt_state))

    def evaluate(self, params, model_state=None):
        """Mean loss (and accuracy, and the config's metrics) on the evaluation split."""
        model_state = {} if model_state is None else model_state
        n = self.num_eval
        eb = min(self.config.eval_batch_size, n)
        nb = math.ceil(n / eb)
        pad = nb * eb - n
        x = jnp.concatenate([self.x_eval, jnp.zeros((pad, *self.x_eval.shape[1:]),
                                                   self.x_eval.dtype)])
        y = jnp.concatenate([self.y_eval, jnp.zeros((pad, *self.y_eval.shape[1:]),
                                                   self.y_eval.dtype)])
        mask = jnp.arange(nb * eb) < n
        extra = self.config.metrics

        def batch(args):
            xb, yb, mb = args
            outputs = self.model.apply(params, model_state, xb, False, None)[0]
            loss, correct = self._per_example(outputs, yb)
            sums = {"loss": jnp.sum(loss * mb), "acc": jnp.sum(correct & mb)}
            if extra is not None:
                for name, values in extra(outputs, yb).items():
                    sums[name] = jnp.sum(jnp.asarray(values, jnp.float32) * mb)
            return sums

        sums = jax.lax.map(batch, (x.reshape(nb, eb, *x.shape[1:]),
                                   y.reshape(nb, eb, *y.shape[1:]), mask.reshape(nb, eb)))
        out = {k: jnp.sum(v) / n for k, v in sums.items()}
        if not self.classification:
            out["acc"] = jnp.full((), jnp.nan)
        return out

    def end_epoch(self, state: TrainState, steps: StepMetrics):
        """Evaluate, feed reduce-on-plateau, advance the epoch: ``(state, metrics)``.

        ``steps``: the epoch's :class:`StepMetrics`, each field stacked ``[step]``.
        """
        # schedule-free methods are evaluated at their average, not the trained point
        evaluation = self.evaluate(eval_params(state.opt_state, state.params),
                                   state.model_state)
        opt_state = state.opt_state
        if self.config.plateau is not None:
            opt_state = plateau.observe(opt_state, evaluation["loss"])
        trained = min(self.num_train, self.steps_per_epoch * self.config.batch_size)
        train_acc = (jnp.sum(steps.correct) / trained if self.classification
                     else jnp.full((), jnp.nan))
        loss_total = _running_total(steps.loss_sum)
        metrics = dict(train_loss=loss_total / trained,
                       train_acc=train_acc, eval_loss=evaluation.pop("loss"),
                       eval_acc=evaluation.pop("acc"), lr=steps.lr, step_loss=steps.loss,
                       diverged_step=state.diverged_step,
                       **{f"eval_{k}": v for k, v in evaluation.items()})
        return state.replace(opt_state=opt_state, epoch=state.epoch + 1), metrics

    def run_epoch(self, state: TrainState):
        """One epoch as one traced function (the steps a ``lax.scan``)."""
        state, steps = jax.lax.scan(self.step, self.begin_epoch(state),
                                    jnp.arange(self.steps_per_epoch, dtype=jnp.int32))
        return self.end_epoch(state, steps)

    def train_fn(self, hparams, key):
        """The whole run as one traced function: ``(final state, metrics [epoch, ...])``.

        ``jax.jit``, ``jax.vmap`` (a sweep) and, for small runs, ``jax.grad``
        with respect to ``hparams`` accept it. A diverged run keeps going (its
        numbers are NaN); ``metrics["diverged_step"]`` says where it began.
        """
        state = self.init(hparams, key)
        return jax.lax.scan(lambda s, _: self.run_epoch(s), state, None,
                            length=self.config.epochs)

    # -- identity and the host driver ---------------------------------------

    def identity(self):
        """Everything of this trainer that determines a run's numbers (JSON-able)."""
        from jaxlr.engine import identity

        return identity.trainer_identity(self)

    def __call__(self, hparams, key, progress=False, store=None):
        """Train through the host driver; see :func:`jaxlr.engine.run`."""
        from jaxlr.engine.driver import run

        return run(self, hparams, key, progress=progress, store=store)


def _running_total(values):
    """``values`` ``[step]`` summed in update order, as a running total would be (its float32
    rounding); unrolled for the usual epoch lengths (a scan's loop costs more on XLA:CPU)."""
    n = values.shape[-1]
    if n > 1024:
        return jax.lax.scan(lambda total, x: (total + x, None), jnp.zeros(()), values)[0]
    total = jnp.zeros((), values.dtype)
    for i in range(n):
        total = total + values[i]
    return total


def make_train(config: TrainConfig, data) -> Trainer:
    """Build the :class:`Trainer` of a config on a dataset (:mod:`jaxlr.data`)."""
    return Trainer(config, data)
