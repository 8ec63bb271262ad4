"""Optimizers whose lr of the last update can be read back from their state.

Built-in names reproduce the references' update rules (PyTorch's and Keras's
SGD momentum differ); any ``(learning_rate, **hparams) -> GradientTransformation``
callable works too, its numeric keyword arguments taken from the run's
hyperparameters and traced.
"""

from __future__ import annotations

import inspect

import jax
import optax

from jaxlr import plateau

__all__ = ["KERAS_SGD", "OPTIMIZERS", "lr_used", "make_optimizer", "optimizer_arguments"]


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


KERAS_SGD = _keras_sgd

# name -> factory (learning_rate, **numeric hyperparameters, **static)
OPTIMIZERS = {
    "sgd": _torch_sgd,
    "keras_sgd": _keras_sgd,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "rmsprop": _rmsprop,
    "adam": _adam,
}
STATIC_ARGS = {"sgd": ("nesterov",), "keras_sgd": ("nesterov",)}


def optimizer_arguments(optimizer):
    """The keyword arguments other than the lr that ``optimizer`` takes from hparams."""
    factory = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    static = STATIC_ARGS.get(optimizer, ()) if isinstance(optimizer, str) else ()
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return ()
    return tuple(n for n, p in params.items()
                 if n != "learning_rate" and n not in static
                 and p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY))


def make_optimizer(optimizer, schedule, hparams, nesterov=False):
    """An optax optimizer whose lr of the last update can be read back (:func:`lr_used`).

    ``optax.inject_hyperparams`` evaluates ``schedule(count)`` once per update
    and stores the value it used in ``state.hyperparams["learning_rate"]``.

    Args:
      optimizer: a name in ``OPTIMIZERS`` or a callable ``(learning_rate, **kw)``.
      schedule: an ``optax.Schedule`` (or a number).
      hparams: mapping; the optimizer's keyword arguments found in it are passed.
      nesterov: for the built-in SGDs.
    """
    factory = OPTIMIZERS[optimizer] if isinstance(optimizer, str) else optimizer
    kwargs = {n: hparams[n] for n in optimizer_arguments(optimizer) if n in hparams}
    static = STATIC_ARGS.get(optimizer, ()) if isinstance(optimizer, str) else ()
    if static:
        kwargs["nesterov"] = nesterov
    return optax.inject_hyperparams(factory, static_args=static)(learning_rate=schedule,
                                                                 **kwargs)


def _is_hyperparams_state(x):
    # optax's inject_hyperparams states (InjectHyperparamsState and its
    # stateful variant) are the NamedTuples with a ``hyperparams`` dict
    return isinstance(getattr(x, "hyperparams", None), dict)


def lr_used(opt_state):
    """The lr of the update just applied: ``inject_hyperparams``'s value x plateau scale."""
    def is_leaf(x):
        return _is_hyperparams_state(x) or isinstance(x, plateau.ReduceOnPlateauState)

    lr, scale = None, 1.0
    for s in jax.tree_util.tree_leaves(opt_state, is_leaf=is_leaf):
        if _is_hyperparams_state(s) and "learning_rate" in s.hyperparams:
            lr = s.hyperparams["learning_rate"]
        elif isinstance(s, plateau.ReduceOnPlateauState):
            scale = scale * s.value
    if lr is None:
        raise ValueError("lr_used: no inject_hyperparams state with a learning_rate in this "
                         "optimizer state")
    return lr * scale
