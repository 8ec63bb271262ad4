"""One functional interface for built-in, Flax Linen and Flax NNX models.

``Model.init(key, x) -> (params, model_state)`` and
``Model.apply(params, model_state, x, train, key) -> (outputs, model_state)``:
``params`` are what the optimizer updates; ``model_state`` everything else
the model keeps (Linen collections other than ``params``, e.g. batch
statistics; NNX variables that are not ``nnx.Param``), updated in training.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Callable

import jax

from jaxlr.engine.keys import is_typed_key

__all__ = ["Model", "as_model"]


@dataclasses.dataclass(frozen=True)
class Model:
    init: Callable
    apply: Callable
    kind: str
    module: Any
    # whether an example's output depends on the rest of its batch (batch statistics)
    couples_batch: Callable[[Any], bool]


def _train_keyword(module):
    """The keyword by which a Linen module's ``__call__`` is told it is training."""
    try:
        params = inspect.signature(type(module).__call__).parameters
    except (TypeError, ValueError):
        return None
    for name in ("train", "training", "deterministic"):
        if name in params:
            return name
    return None


def _linen(module):
    keyword = _train_keyword(module)

    def flag(train):
        if keyword is None:
            return {}
        return {keyword: (not train) if keyword == "deterministic" else train}

    def init(key, x):
        variables = module.init(key, x, **flag(False))
        variables = dict(variables)
        params = variables.pop("params", {})
        return params, variables

    def apply(params, model_state, x, train, key):
        variables = {"params": params, **model_state}
        rngs = {"dropout": key} if train and key is not None else None
        if train and model_state:
            outputs, updates = module.apply(variables, x, **flag(True), rngs=rngs,
                                            mutable=list(model_state))
            return outputs, {**model_state, **updates}
        return module.apply(variables, x, **flag(train), rngs=rngs), model_state

    def couples_batch(model_state):
        return any(jax.tree_util.tree_leaves(v) for v in model_state.values())

    return Model(init, apply, "linen", module, couples_batch)


def _nnx(factory):
    from flax import nnx

    def build(key):
        return factory(rngs=nnx.Rngs(key))

    try:
        abstract = nnx.eval_shape(lambda: build(jax.random.PRNGKey(0)))
    except TypeError as e:
        raise ValueError(f"TrainConfig: model {factory!r} is neither a built-in name, a Linen "
                         f"module nor an NNX factory called as model(rngs=nnx.Rngs(key)) "
                         f"({e})") from None
    if not isinstance(abstract, nnx.Module):
        raise ValueError(f"TrainConfig: model factory {factory!r} returned "
                         f"{type(abstract).__name__}, not an nnx.Module")
    graphdef = nnx.split(abstract, nnx.Param, ...)[0]

    def init(key, x):
        del x
        _, params, rest = nnx.split(build(key), nnx.Param, ...)
        return params, rest

    def apply(params, model_state, x, train, key):
        if train and key is not None:
            # reseed every rng stream with this update's key, functionally (mutating
            # a stream inside jax.grad's trace is refused)
            typed = jax.random.wrap_key_data(key)
            model_state = jax.tree_util.tree_map(
                lambda v: typed if is_typed_key(v) else v, model_state)
        model = nnx.merge(graphdef, params, model_state)
        if train:
            model.train()
        else:
            model.eval()
        outputs = model(x)
        if not train:
            return outputs, model_state
        return outputs, nnx.split(model, nnx.Param, ...)[2]

    def couples_batch(model_state):
        return bool(jax.tree_util.tree_leaves(model_state.filter(nnx.BatchStat)))

    return Model(init, apply, "nnx", factory, couples_batch)


def as_model(model, num_classes, init=None, lowering="auto"):
    """The :class:`Model` of a config's ``model`` (name, Linen instance, NNX factory)."""
    import flax.linen as nn

    if isinstance(model, str):
        from jaxlr.models import make_model

        return dataclasses.replace(_linen(make_model(model, num_classes, init, lowering)),
                                   kind="builtin")
    if isinstance(model, nn.Module):
        return _linen(model)
    try:
        from flax import nnx

        if isinstance(model, nnx.Module):
            raise ValueError(f"TrainConfig: model is an NNX module instance ({type(model).__name__}); "
                             "pass its class or a factory (e.g. functools.partial(MyModel, ...)) "
                             "so that every seed builds its own, as model(rngs=nnx.Rngs(key))")
    except ImportError:
        pass
    if callable(model):
        return _nnx(model)
    raise ValueError(f"TrainConfig: model must be a built-in name, a Linen module or an NNX "
                     f"factory, got {model!r}")
