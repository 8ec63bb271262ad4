"""What a training run is, minus its traced hyperparameters and seed."""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Mapping

import optax

from jaxlr._layers import LOWERINGS
from jaxlr._validation import check_choice

__all__ = ["ScheduleInfo", "TrainConfig"]

LOOPS = ("auto", "dispatch", "scan")


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
      model: a built-in name (``jaxlr.models.MODELS``), a Flax Linen module
        instance, or a Flax NNX module class / factory called as
        ``model(rngs=nnx.Rngs(key))``. It maps a batch ``[N, ...]`` to outputs
        ``[N, ...]``. Linen modules whose ``__call__`` takes ``train`` (or
        ``deterministic``) get it; dropout draws from the ``"dropout"`` rng;
        variables other than ``params`` (batch statistics) are updated in
        training. NNX modules are put in ``.train()`` / ``.eval()`` mode and
        reseeded every step.
      epochs: passes over the training set.
      batch_size: examples per update; the last batch of an epoch is partial
        (masked), as PyTorch's DataLoader and Keras's ``fit`` do. A model with
        batch statistics (BatchNorm) would see the padding of a masked batch,
        so it needs ``batch_size`` to divide the training examples, or ``drop_last``.
      drop_last: skip the last partial batch of every epoch (PyTorch's
        ``drop_last=True``): each epoch then trains on ``floor(N / batch_size)``
        full batches of a fresh shuffle.
      optimizer: a built-in name (``jaxlr.engine.OPTIMIZERS``) or a callable
        ``(learning_rate, **hparams) -> optax.GradientTransformation`` (e.g.
        ``optax.adamw``); its keyword arguments found in ``hparams`` are
        passed, traced (static ones: bind them with ``functools.partial``).
        Built in: ``sgd`` (PyTorch's), ``keras_sgd``, ``adagrad``,
        ``adadelta``, ``rmsprop``, ``adam`` (Keras's epsilon), and optax.contrib's
        ``schedule_free_sgd``, ``schedule_free_adamw`` (evaluated at their
        averaged parameters), ``prodigy``, ``dadapt_adamw`` and ``dog``, whose
        recorded lr is the effective step (``jaxlr.lr_used``).
      loss: ``"auto"`` (integer targets: softmax cross-entropy, or sigmoid
        binary cross-entropy for one output; float targets: ``"mse"``),
        ``"softmax_ce"``, ``"sigmoid_bce"``, ``"mse"``, or a callable
        ``(outputs, targets) -> per-example loss [N]``.
      metrics: ``None`` or a callable ``(outputs, targets) -> {name: per-example
        values [N]}``, averaged over the evaluation split each epoch and
        reported as ``eval_<name>``. Loss is always reported; accuracy when the
        targets are class indices.
      nesterov: Nesterov momentum (built-in ``sgd``/``keras_sgd`` only; static).
      schedule: ``(hparams, ScheduleInfo) -> optax.Schedule`` giving the lr of
        every update; ``None`` means the constant ``hparams["lr"]``.
      plateau: options of ``jaxlr.reduce_on_plateau`` fed the evaluation loss
        after every epoch (torch's ``scheduler.step(val_loss)``), or ``None``.
      init: weight initialisation of a built-in model (``torch``, ``keras``,
        ``flax``; default: the model's).
      eval_batch_size: examples per evaluation batch.
      loop: ``auto``, ``dispatch`` or ``scan`` (see ``jaxlr.engine.backend``).
      lowering: how a built-in model's convolutions and pools are computed
        (``auto``, ``banded``, ``shifted``, ``xla``; the same function either way).
      name: a label for progress and results.
      identity: a string you choose that names what the run store cannot see
        into (e.g. a helper your model calls changed): part of every saved
        run's key. User callables are identified by qualified name and source.
    """

    model: Any
    epochs: int
    batch_size: int
    drop_last: bool = False
    optimizer: str | Callable[..., optax.GradientTransformation] = "sgd"
    loss: str | Callable = "auto"
    metrics: Callable | None = None
    nesterov: bool = False
    schedule: Callable[[Mapping[str, Any], ScheduleInfo], optax.Schedule] | None = None
    plateau: Mapping[str, Any] | None = None
    init: str | None = None
    eval_batch_size: int = 1000
    loop: str = "auto"
    lowering: str = "auto"
    name: str = "run"
    identity: str | None = None

    def __post_init__(self):
        from jaxlr.engine.losses import LOSSES
        from jaxlr.engine.optimizers import OPTIMIZERS, STATIC_ARGS

        for field in ("epochs", "batch_size", "eval_batch_size"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"TrainConfig: {field} must be a positive int, got {value!r}")
        if isinstance(self.optimizer, str):
            if self.optimizer not in OPTIMIZERS:
                raise ValueError(f"TrainConfig: optimizer must be one of {sorted(OPTIMIZERS)} "
                                 f"or a callable (learning_rate, **hparams) -> "
                                 f"optax.GradientTransformation, got {self.optimizer!r}")
        elif not callable(self.optimizer):
            raise ValueError(f"TrainConfig: optimizer must be a name or a callable, got "
                             f"{self.optimizer!r}")
        if self.nesterov and not (isinstance(self.optimizer, str)
                                  and "nesterov" in STATIC_ARGS.get(self.optimizer, ())):
            raise ValueError(f"TrainConfig: nesterov=True is read only by the built-in sgd and "
                             f"keras_sgd optimizers, not by {self.optimizer!r} (bind it with "
                             "functools.partial for your own optimizer)")
        if isinstance(self.loss, str):
            check_choice("TrainConfig", "loss", self.loss, ("auto", *LOSSES))
        elif not callable(self.loss):
            raise ValueError(f"TrainConfig: loss must be a name or a callable, got {self.loss!r}")
        if self.metrics is not None and not callable(self.metrics):
            raise ValueError(f"TrainConfig: metrics must be None or a callable, got "
                             f"{self.metrics!r}")
        if self.schedule is not None and not callable(self.schedule):
            raise ValueError(f"TrainConfig: schedule must be None or a callable "
                             f"(hparams, info) -> optax.Schedule, got {self.schedule!r}")
        check_choice("TrainConfig", "loop", self.loop, LOOPS)
        check_choice("TrainConfig", "lowering", self.lowering, LOWERINGS)
        if not isinstance(self.model, str) and (self.init is not None
                                                or self.lowering != "auto"):
            raise ValueError("TrainConfig: init and lowering apply to the built-in models only, "
                             f"got init={self.init!r}, lowering={self.lowering!r} for "
                             f"{self.model!r}")
