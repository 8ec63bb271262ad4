"""Reduce-on-plateau as an optax transformation: the one stateful piece.

The decision rule is PyTorch's ``ReduceLROnPlateau``, decision for decision.
Unlike ``optax.contrib.reduce_on_plateau``: a reduction happens after
``patience`` *further* bad observations (``num_bad > patience``), it applies
to the updates *after* the observation that caused it, negative metrics and
``threshold_mode="rel"`` use torch's ``best * (1 -+ threshold)``, and with
``patience=0`` every non-improving observation reduces again.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlr import _core, _nnx
from jaxlr import _validation as v

__all__ = ["ReduceOnPlateauState", "observe", "reduce_on_plateau"]


class ReduceOnPlateauState(NamedTuple):
    """State of ``reduce_on_plateau``; every field is an array (vmappable).

    ``value`` is the multiplier applied to updates (the current learning rate
    when the optimizer before it used 1.0). The hyperparameters live in the
    state (``sign`` -1 for mode min, +1 for max; ``relative`` for
    threshold_mode rel) so that ``observe`` can advance it anywhere in an
    optimizer's state, and so that a sweep can vmap over them.
    """

    value: jax.Array
    best: jax.Array
    num_bad: jax.Array
    cooldown_counter: jax.Array
    count: jax.Array
    factor: jax.Array
    patience: jax.Array
    threshold: jax.Array
    cooldown: jax.Array
    min_value: jax.Array
    eps: jax.Array
    sign: jax.Array
    relative: jax.Array


_FIELDS = frozenset(ReduceOnPlateauState._fields)


def reduce_on_plateau(factor=0.1, patience=10, mode="min", threshold=1e-4,
                      threshold_mode="rel", cooldown=0, min_value=0.0, init_value=1.0,
                      eps=1e-8):
    r"""Scale updates by a value that is cut when a monitored metric plateaus.

    After each observed metric ``m`` (torch ``scheduler.step(m)``): if ``m``
    improves on the best by the threshold (mode ``min``, ``rel``:
    ``m < best (1 - threshold)``; ``abs``: ``m < best - threshold``; mode
    ``max`` mirrored) the bad count resets, else it grows; during cooldown it
    is held at 0. When it exceeds ``patience`` the value becomes
    ``max(value * factor, min_value)`` (kept if that changes it by ``<= eps``),
    the cooldown restarts and the count resets. A NaN metric is a bad
    observation.

    Use it after an optimizer whose lr is 1 with ``init_value=lr`` (then
    ``value`` *is* torch's lr and ``min_value``/``eps`` are torch's ``min_lr``
    and ``eps``), or after ``optax.sgd(lr)`` with ``init_value=1`` (then they
    are relative to ``lr``):

    >>> import jax.numpy as jnp, optax, jaxlr
    >>> tx = optax.chain(optax.sgd(1.0), jaxlr.reduce_on_plateau(patience=0, init_value=0.1))
    >>> params = jnp.zeros(2)
    >>> state = tx.init(params)
    >>> for loss in [1.0, 2.0, 3.0]:   # end of an epoch: torch's scheduler.step(loss)
    ...     state = jaxlr.observe(state, loss)
    >>> updates, state = tx.update(jnp.ones(2), state, params)
    >>> print(updates)
    [-0.001 -0.001]

    Metrics can also be given to ``update`` as ``value=m``: the update is
    scaled first, then ``m`` is observed (as with ``optimizer.step()``
    followed by ``scheduler.step(m)``).

    Args:
      factor: multiplier per reduction, in ``[0, 1)``.
      patience: bad observations tolerated before a reduction, ``>= 0``.
      mode: static, ``"min"`` or ``"max"``.
      threshold: ``>= 0``.
      threshold_mode: static, ``"rel"`` or ``"abs"``.
      cooldown: observations after a reduction during which bad counts reset, ``>= 0``.
      min_value: lower bound for the value (torch ``min_lr``), ``>= 0``.
      init_value: the initial value.
      eps: minimal change worth applying (torch ``eps``), ``>= 0``.

    Returns:
      An ``optax.GradientTransformationExtraArgs`` with state
      ``ReduceOnPlateauState``.

    References:
      ``torch.optim.lr_scheduler.ReduceLROnPlateau``.
    """
    v.check_choice("reduce_on_plateau", "mode", mode, ("min", "max"))
    v.check_choice("reduce_on_plateau", "threshold_mode", threshold_mode, ("rel", "abs"))
    v.check("reduce_on_plateau", "factor", factor, lo=0.0, hi=1.0, hi_open=True)
    v.check("reduce_on_plateau", "patience", patience, nonneg=True)
    v.check("reduce_on_plateau", "threshold", threshold, nonneg=True)
    v.check("reduce_on_plateau", "cooldown", cooldown, nonneg=True)
    v.check("reduce_on_plateau", "min_value", min_value, nonneg=True)
    v.check("reduce_on_plateau", "init_value", init_value)
    v.check("reduce_on_plateau", "eps", eps, nonneg=True)
    def init_fn(params):
        del params
        f = _core.as_float
        return ReduceOnPlateauState(
            value=f(init_value), best=f(jnp.inf if mode == "min" else -jnp.inf),
            num_bad=jnp.zeros((), jnp.int32), cooldown_counter=jnp.zeros((), jnp.int32),
            count=jnp.zeros((), jnp.int32), factor=f(factor), patience=f(patience),
            threshold=f(threshold), cooldown=jnp.asarray(cooldown, jnp.int32),
            min_value=f(min_value), eps=f(eps), sign=f(-1.0 if mode == "min" else 1.0),
            relative=jnp.asarray(threshold_mode == "rel"))

    def update_fn(updates, state, params=None, *, value=None, **extra_args):
        del params, extra_args
        updates = jax.tree_util.tree_map(
            lambda u: (state.value * u).astype(u.dtype), updates)
        if value is not None:
            state = _step(state, value)
        return updates, state

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def _step(state, metric):
    """One observation: torch's ``ReduceLROnPlateau.step(metric)``."""
    metric = _core.as_float(metric)
    s = state.sign
    # torch: rel min is best * (1 - thr), rel max best * (1 + thr); abs: best -+ thr.
    bar = jnp.where(state.relative, state.best * (1.0 + s * state.threshold),
                    state.best + s * state.threshold)
    better = s * (metric - bar) > 0  # min: metric < bar; max: metric > bar; NaN: False
    best = jnp.where(better, metric, state.best)
    num_bad = jnp.where(better, 0, state.num_bad + 1)
    in_cooldown = state.cooldown_counter > 0
    cooldown_counter = jnp.where(in_cooldown, state.cooldown_counter - 1, state.cooldown_counter)
    num_bad = jnp.where(in_cooldown, 0, num_bad)
    reduce = num_bad > state.patience
    cut = jnp.maximum(state.value * state.factor, state.min_value)
    value = jnp.where(reduce & (state.value - cut > state.eps), cut, state.value)
    return state._replace(
        value=value, best=best, num_bad=jnp.where(reduce, 0, num_bad),
        cooldown_counter=jnp.where(reduce, state.cooldown, cooldown_counter),
        count=state.count + 1)


def observe(opt_state, metric):
    """Feed a monitored metric to every ``reduce_on_plateau`` state in ``opt_state``.

    The equivalent of torch's ``scheduler.step(metric)``, typically at the end
    of an epoch. Works on a whole (nested) optax state, under jit and vmap, and
    returns a new state.

    A Flax NNX state is updated in place (NNX wraps each array of an
    ``nnx.Optimizer``'s optax state in a Variable): ``optimizer.opt_state``,
    ``nnx.state(optimizer)`` or the state of ``nnx.split(optimizer)``, also
    under ``nnx.jit``; the same object is returned, so
    ``state = observe(state, m)`` reads the same for both:

    >>> import optax, jaxlr
    >>> from flax import nnx
    >>> model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    >>> tx = optax.chain(optax.sgd(0.1), jaxlr.reduce_on_plateau(patience=0))
    >>> optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    >>> for loss in [1.0, 2.0]:
    ...     _ = jaxlr.observe(optimizer.opt_state, loss)
    >>> print(optimizer.opt_state[1].value[...])
    0.1

    Args:
      opt_state: an optax state containing ``ReduceOnPlateauState`` s, or an
        NNX optimizer's state.
      metric: the monitored scalar (e.g. validation loss).

    Returns:
      ``opt_state`` with each plateau state advanced by one observation: a new
      state, or for an NNX state the same one, updated.
    """
    variable = _nnx.variable_type()
    rebuilt = []

    def is_variable(x):
        return variable is not None and isinstance(x, variable)

    def is_plateau(x):
        # nnx.state / nnx.split turn optax's named tuples into dicts of Variables
        return isinstance(x, ReduceOnPlateauState) or (
            variable is not None and isinstance(x, Mapping) and x.keys() == _FIELDS
            and all(is_variable(f) for f in x.values()))

    def advance(x):
        if not is_plateau(x):
            return x
        fields = ReduceOnPlateauState(**x) if isinstance(x, Mapping) else x
        if not all(is_variable(f) for f in fields):
            rebuilt.append(x)
            return _step(x, metric)
        new = _step(ReduceOnPlateauState(*map(_nnx.get_value, fields)), metric)
        for field, value in zip(fields, new):
            _nnx.set_value(field, value)
        return x

    result = jax.tree_util.tree_map(
        advance, opt_state, is_leaf=lambda x: is_plateau(x) or is_variable(x))
    return result if rebuilt else opt_state
