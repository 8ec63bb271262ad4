"""Optimizers whose lr of the last update can be read back from their state.

Built-in names reproduce the references' update rules (PyTorch's and Keras's
SGD momentum differ); any ``(learning_rate, **hparams) -> GradientTransformation``
callable works too, its numeric keyword arguments taken from the run's
hyperparameters and traced.
"""

from __future__ import annotations

import inspect

import jax
import jax.numpy as jnp
import optax

from jaxlr.readout import lr_used

__all__ = ["KERAS_SGD", "OPTIMIZERS", "eval_params", "lr_used", "make_optimizer", "optimizer_arguments"]


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


# The LR-free and schedule-free methods of optax.contrib, with the numeric
# arguments spelt out so that each can be a traced hyperparameter (optax's own
# signatures take tuples such as ``betas``). Defaults are optax's, which are
# the papers' and reference implementations' recommended values.

def _schedule_free_sgd(learning_rate, b1=0.9, weight_decay=0.0, weight_lr_power=2.0):
    """Schedule-free SGD (Defazio et al. 2024); evaluate at :func:`eval_params`."""
    return optax.contrib.schedule_free_sgd(learning_rate, b1=b1, weight_decay=weight_decay,
                                           weight_lr_power=weight_lr_power)


def _schedule_free_adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, weight_decay=0.0,
                         weight_lr_power=2.0):
    """Schedule-free AdamW (Defazio et al. 2024); evaluate at :func:`eval_params`."""
    return optax.contrib.schedule_free_adamw(learning_rate, b1=b1, b2=b2, eps=eps,
                                             weight_decay=weight_decay,
                                             weight_lr_power=weight_lr_power)


def _prodigy(learning_rate, b1=0.9, b2=0.999, eps=1e-8, estim_lr0=1e-6, estim_lr_coef=1.0,
             weight_decay=0.0):
    """Prodigy (Mishchenko & Defazio 2024): Adam whose step is scaled by an estimate d."""
    return optax.contrib.prodigy(learning_rate, betas=(b1, b2), eps=eps, estim_lr0=estim_lr0,
                                 estim_lr_coef=estim_lr_coef, weight_decay=weight_decay)


def _dadapt_adamw(learning_rate, b1=0.9, b2=0.999, eps=1e-8, estim_lr0=1e-6, weight_decay=0.0):
    """D-Adaptation AdamW (Defazio & Mishchenko 2023)."""
    return optax.contrib.dadapt_adamw(learning_rate, betas=(b1, b2), eps=eps,
                                      estim_lr0=estim_lr0, weight_decay=weight_decay)


def _dog(learning_rate, reps_rel=1e-6, eps=1e-8):
    """DoG (Ivgi et al. 2023): step ``max_t |x_t - x_0| / sqrt(sum |g|^2)``, times the lr.

    ``reps_rel``: the first step's distance relative to ``1 + |x_0|`` (optax's
    ``init_step=("heuristic", reps_rel)``, the authors' default 1e-6).
    """
    return optax.contrib.dog(learning_rate, init_step=("heuristic", reps_rel), eps=eps)


KERAS_SGD = _keras_sgd

# name -> factory (learning_rate, **numeric hyperparameters, **static)
OPTIMIZERS = {
    "sgd": _torch_sgd,
    "keras_sgd": _keras_sgd,
    "adagrad": _adagrad,
    "adadelta": _adadelta,
    "rmsprop": _rmsprop,
    "adam": _adam,
    "schedule_free_sgd": _schedule_free_sgd,
    "schedule_free_adamw": _schedule_free_adamw,
    "prodigy": _prodigy,
    "dadapt_adamw": _dadapt_adamw,
    "dog": _dog,
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


def sync_hyperparams(opt_state, hparams):
    """``opt_state`` with its numeric hyperparameters set from ``hparams``.

    ``optax.inject_hyperparams`` keeps a numeric hyperparameter (momentum,
    ``b1``, ...) in its state from ``init`` and updates with that copy, not
    with the value the transformation was built with. The engine calls this
    before every update, so that the run's ``TrainState.hparams`` is the one
    source of truth: a hyperparameter changed between updates (population-based
    training, persistent ES) takes effect, and an unchanged one is the same
    value bit for bit.
    """
    kinds = (optax.InjectHyperparamsState, optax.InjectStatefulHyperparamsState)

    def sync(s):
        if not isinstance(s, kinds):
            return s
        hyper = {k: (jnp.asarray(hparams[k], jnp.result_type(v))
                     if k in hparams and k != "learning_rate" else v)
                 for k, v in s.hyperparams.items()}
        return s._replace(hyperparams=hyper, inner_state=sync_hyperparams(s.inner_state, hparams))

    return jax.tree_util.tree_map(sync, opt_state, is_leaf=lambda x: isinstance(x, kinds))


def eval_params(opt_state, params):
    """The parameters a run is evaluated at: ``params``, or schedule-free's average.

    Schedule-free methods take their gradients at an interpolation ``y`` (the
    parameters they train) and must be evaluated at the average ``x``
    (Defazio et al. 2024); ``optax.contrib.schedule_free_eval_params`` gives
    ``x`` from the state. Any other optimizer is evaluated at ``params``.
    """
    def is_schedule_free(x):
        return isinstance(x, optax.contrib.ScheduleFreeState)

    found = [s for s in jax.tree_util.tree_leaves(opt_state, is_leaf=is_schedule_free)
             if is_schedule_free(s)]
    if not found:
        return params
    if len(found) > 1:
        raise ValueError("eval_params: the optimizer state holds several schedule-free "
                         "states; evaluate at each one's average yourself")
    return optax.contrib.schedule_free_eval_params(found[0], params)
