"""The learning rate of the update just applied, read back from an optax state.

:func:`lr_used` reads what an optax state records about the lr of its last
update. Only what the state records can be read: an lr given to a factory as a
number or a schedule (``optax.sgd(schedule)``) lives in a closure, and the
state keeps at most a step count. ``optax.inject_hyperparams`` is what makes an
lr visible: it evaluates the schedule once per update, passes the value to the
factory, and stores that value in ``state.hyperparams["learning_rate"]``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping

import jax
import jax.numpy as jnp
import optax
import optax.contrib

from jaxlr import _nnx, plateau

__all__ = ["lr_used"]


def _types(module, *names):
    # tolerate older optax releases that lack some of these classes
    return tuple(t for t in (getattr(module, n, None) for n in names) if isinstance(t, type))


_PLATEAU = plateau.ReduceOnPlateauState
_OPTAX_PLATEAU = _types(optax.contrib, "ReduceLROnPlateauState")
_D_ESTIMATES = _types(optax.contrib, "ProdigyState", "DAdaptAdamWState")
_DOG = _types(optax.contrib, "DoGState")
_DOWG = _types(optax.contrib, "DoWGState")
_PARTITION = _types(optax.transforms, "PartitionState") or _types(optax, "MultiTransformState")
_MASKED = _types(optax, "MaskedState")
_SAM = _types(optax.contrib, "SAMState")
_SCHEDULE_COUNT = _types(optax, "ScaleByScheduleState")
# states of methods whose step size adapts in a way no single lr describes
_UNSUPPORTED = {
    "MechanicState": "optax.contrib.mechanize (a learned scale on the sum of all updates)",
    "MomoState": "optax.contrib.momo (step min(lr, a model-based step))",
    "MomoAdamState": "optax.contrib.momo_adam (step min(lr, a model-based step))",
    "COCOBState": "optax.contrib.cocob (coin betting, per-parameter steps)",
    "ScaleByRpropState": "optax.rprop (per-parameter step sizes)",
    "ScaleByDistanceOverGradientsState":
        "optax.scale_by_distance_over_gradients (one step size per parameter array)",
}
# eps is not in DoG's and DoWG's states: an enclosing inject_hyperparams' "eps", else these
_DOG_EPS = 1e-8   # optax.contrib.dog's default
_DOWG_EPS = 1e-4  # optax.contrib.dowg's default

_INJECT_HINT = ("build the optimizer with optax.inject_hyperparams, which records the lr "
                "of each update in its state, e.g.\n"
                "    optimizer = optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)\n"
                "instead of optax.sgd(schedule) (the same for optax.adam, optax.adamw, ...; "
                "other arguments as keywords)")


class _Lr:
    """The lr of one group of parameters: a product of factors, some of them lrs."""

    __slots__ = ("value", "has_lr", "estimates", "scales")

    def __init__(self, value=None, has_lr=False, estimates=(), scales=()):
        self.value = value          # None: 1
        self.has_lr = has_lr        # a factor that is an lr (not only a scale) was found
        self.estimates = estimates  # where step-size estimates that need an lr were found
        self.scales = scales        # where reduce-on-plateau scales were found

    def __mul__(self, other):
        if self.value is None:
            value = other.value
        elif other.value is None:
            value = self.value
        else:
            value = self.value * other.value
        return _Lr(value, self.has_lr or other.has_lr, self.estimates + other.estimates,
                   self.scales + other.scales)


def _array(x):
    return jnp.asarray(x)


def _times(a, b, path):
    """Two readings of factors scaling the same updates (a chain)."""
    if a is None:
        return b
    if b is None:
        return a
    if isinstance(a, dict) and isinstance(b, dict):
        raise ValueError(f"lr_used: {path} chains two optax.multi_transform/partition states; "
                         "their groups need not be the same parameters, so there is no "
                         "lr per group to give")
    if isinstance(a, dict):
        return {k: _times(v, b, path) for k, v in a.items()}
    if isinstance(b, dict):
        return {k: _times(a, v, path) for k, v in b.items()}
    return a * b


def _children(node):
    """``(name, child)`` for each immediate child of a pytree node ([] for a leaf)."""
    if isinstance(node, tuple) and hasattr(node, "_fields"):
        return [(f".{f}", getattr(node, f)) for f in node._fields]
    if isinstance(node, Mapping):
        return [(f"[{k!r}]", v) for k, v in node.items()]
    if isinstance(node, (list, tuple)):
        return [(f"[{i}]", v) for i, v in enumerate(node)]
    leaves = jax.tree_util.tree_flatten_with_path(node, is_leaf=lambda x: x is not node)[0]
    if len(leaves) == 1 and leaves[0][1] is node:
        return []
    return [(jax.tree_util.keystr(k), v) for k, v in leaves]


def _is_chain(node):
    # optax.chain's state is a plain tuple, optax.named_chain's an OrderedDict
    return type(node) in (tuple, list, dict, OrderedDict)


def _read(node, path, hp=None):
    """The lr factors a (sub)state records: None, an ``_Lr``, or {group: reading}.

    ``hp``: the hyperparameters of the nearest enclosing inject_hyperparams.
    """
    if node is None or isinstance(node, (jax.Array, int, float, complex, bool)):
        return None
    name = type(node).__name__
    if isinstance(node, _SCHEDULE_COUNT):
        raise ValueError(f"lr_used: {path} is a ScaleByScheduleState: a schedule scales these "
                         "updates, but the state keeps only its step count, not the value "
                         "it applied; " + _INJECT_HINT)
    if name in _UNSUPPORTED and type(node).__module__.startswith("optax"):
        raise ValueError(f"lr_used: {path} is the state of {_UNSUPPORTED[name]}, whose step "
                         "size is not one lr that the state records")
    hyperparams = getattr(node, "hyperparams", None)
    if isinstance(hyperparams, dict):  # optax.inject_hyperparams (either state class)
        inner_state = getattr(node, "inner_state", None)
        inner = _read(inner_state, path + ".inner_state", hyperparams)
        lr = hyperparams.get("learning_rate")
        if lr is None or _is_hypergradient(inner_state):
            # hypergradient descent takes its learning_rate only as its alpha's start:
            # the lr it records is the whole lr, the injected value scales nothing
            return inner
        return _inject(hyperparams, _Lr(_array(lr), has_lr=True), inner)
    if isinstance(node, _PLATEAU):
        return _Lr(node.value, scales=(f"{path} (jaxlr.reduce_on_plateau)",))
    if isinstance(node, _OPTAX_PLATEAU):
        return _Lr(node.scale, scales=(f"{path} (optax.contrib.reduce_on_plateau)",))
    if isinstance(node, _D_ESTIMATES):
        return _Lr(node.estim_lr, estimates=(f"{path} ({name}, its d estimate)",))
    if isinstance(node, _DOG):
        eps = (hp or {}).get("eps", _DOG_EPS)
        eta = node.max_dist / jnp.sqrt(node.sum_sq_norm_grads + eps)
        unknown = node.is_init_step | (node.max_dist == 0)
        return _Lr(jnp.where(unknown, jnp.nan, eta),
                   estimates=(f"{path} (DoGState, its distance over gradients)",))
    if isinstance(node, _DOWG):
        eps = (hp or {}).get("eps", _DOWG_EPS)
        eta = node.estim_sq_dist / (jnp.sqrt(node.weighted_sq_norm_grads) + eps)
        return _Lr(jnp.where(node.weighted_sq_norm_grads == 0, jnp.nan, eta),
                   estimates=(f"{path} (DoWGState, its distance over gradients)",))
    if isinstance(node, _PARTITION):
        groups = {}
        for label, sub in node.inner_states.items():
            sub_path = f"{path}.inner_states[{label!r}]"
            if isinstance(sub, _MASKED):
                sub, sub_path = sub.inner_state, sub_path + ".inner_state"
            reading = _read(sub, sub_path, hp)
            groups[label] = _Lr() if reading is None else reading
        return groups
    if isinstance(node, _MASKED):
        inner = _read(node.inner_state, path + ".inner_state", hp)
        if inner is not None:
            raise ValueError(f"lr_used: {path} is an optax.masked state whose inner "
                             "transformation records lr factors: they scale only the masked "
                             "parameters. For an lr per group of parameters, use "
                             "optax.multi_transform (lr_used then gives a dict)")
        return None
    if isinstance(node, _SAM):  # the outer optimizer; adv_state is the ascent step's
        return _read(node.opt_state, path + ".opt_state", hp)
    children = _children(node)
    own = None
    lr = getattr(node, "learning_rate", None)
    if lr is not None and not callable(lr) and not _is_chain(node):
        # the protocol: a state's ``learning_rate`` is the factor it scaled its updates by
        if not (isinstance(lr, (int, float)) or hasattr(lr, "dtype")):
            raise ValueError(f"lr_used: {path}.learning_rate ({name}) is a "
                             f"{type(lr).__name__}, not a number or an array")
        own = _Lr(_array(lr), has_lr=True)
        children = [(k, v) for k, v in children if k != ".learning_rate"]
    readings = [(k, r) for k, r in ((k, _read(v, path + k, hp)) for k, v in children)
                if r is not None]
    if _is_chain(node):
        result = None
        for k, r in readings:
            result = _times(result, r, path)
        return result
    if len(readings) > 1:
        raise ValueError(f"lr_used: {path} ({name}) holds several states that record lr "
                         f"factors ({', '.join(path + k for k, _ in readings)}); lr_used "
                         "does not know how this transformation combines them")
    return _times(own, readings[0][1] if readings else None, path)


def _is_hypergradient(state):
    return (type(state).__name__ == "HypergradientState"
            and type(state).__module__ == "jaxlr.hypergradient")


def _inject(hyperparams, lr, inner, top=True):
    """An inject_hyperparams ``learning_rate`` times what its inner state records.

    Groups of a partition built inside it take ``<label>_learning_rate`` if it is
    a hyperparameter (e.g. ``optax.contrib.muon``'s ``adam_learning_rate``).
    """
    if inner is None:
        return lr
    if isinstance(inner, dict):
        out = {}
        for label, reading in inner.items():
            own = hyperparams.get(f"{label}_learning_rate") if top else None
            group_lr = lr if own is None else _Lr(_array(own), has_lr=True)
            out[label] = _inject(hyperparams, group_lr, reading, top=False)
        return out
    return lr * inner


def _finish(reading, path, group=""):
    where = f" (group {group})" if group else ""
    if isinstance(reading, dict):
        return {k: _finish(v, path, f"{group}[{k!r}]") for k, v in reading.items()}
    if reading is None or not reading.has_lr:
        if reading is not None and reading.estimates:
            raise ValueError(
                f"lr_used: {reading.estimates[0]}{where} is a step-size estimate that "
                "multiplies the optimizer's learning_rate argument (a number or a "
                "schedule), which its state does not record; build it with "
                "optax.inject_hyperparams so that the state records it, e.g.\n"
                "    optax.inject_hyperparams(optax.contrib.prodigy)(learning_rate=1.0)")
        if reading is not None and reading.scales:
            raise ValueError(
                f"lr_used: {reading.scales[0]}{where} is a reduce-on-plateau scale, which "
                "multiplies the optimizer's lr, but the state records no lr. If the "
                "optimizer's lr is 1 (the plateau's init_value carrying the lr), build it as "
                "optax.inject_hyperparams(optax.sgd)(learning_rate=1.0); otherwise, "
                + _INJECT_HINT)
        raise ValueError(f"lr_used: no learning rate is recorded in {path}{where}. "
                         "Optimizers given their lr as a number or a schedule keep no more "
                         "than a step count; " + _INJECT_HINT)
    return reading.value


def _unwrap_nnx(opt_state):
    # flax.nnx.Optimizer wraps each array of its optax state in a Variable
    variable = _nnx.variable_type()
    if variable is None:
        return opt_state
    return jax.tree_util.tree_map(
        lambda x: _nnx.get_value(x) if isinstance(x, variable) else x, opt_state,
        is_leaf=lambda x: isinstance(x, variable))


def lr_used(opt_state):
    r"""The lr of the update just applied, read from an optax optimizer state.

    After ``k`` updates by ``optax.inject_hyperparams(optax.sgd)(learning_rate=s)``
    this is ``s(k - 1)``, the value that update used (``inject_hyperparams``
    evaluates the schedule at the count *before* the update and stores the value
    it passed to the optimizer). Before the first update it is ``s(0)``, the lr
    the first update will use. PyTorch's ``scheduler.get_last_lr()`` called after
    ``scheduler.step()`` is ``s(k)``, the lr of the *next* update.

    The lr is the product of the factors the state records on the path of the
    updates (an ``optax.chain`` multiplies its members' factors):

    - ``learning_rate`` of an ``optax.inject_hyperparams`` state
      (``hyperparams["learning_rate"]``, either state class), anywhere in a
      chain or wrapper (``optax.MultiSteps``, ``optax.apply_if_finite``,
      ``optax.lookahead``'s fast optimizer, ``optax.contrib.sam``'s outer
      optimizer, schedule-free's base optimizer, ...);
    - the scale of a reduce-on-plateau transformation in the same chain:
      ``jaxlr.reduce_on_plateau``'s ``value`` and
      ``optax.contrib.reduce_on_plateau``'s ``scale``. optax's updates its scale
      before scaling, so it is the one used; jaxlr's scales first and observes
      ``update(..., value=m)`` after, so after an observation (that way or by
      :func:`jaxlr.observe`) it is the value the *next* update will use while
      a schedule's value is still the last update's: read ``lr_used`` in the
      training step, right after an update without ``value=``;
    - step sizes that LR-free methods estimate, times the ``learning_rate``
      hyperparameter around them (they need one: build them with
      ``optax.inject_hyperparams(optax.contrib.prodigy)(learning_rate=1.0)``, as
      the factory's own lr argument, often a schedule, is not in the state):
      D-Adaptation (``optax.contrib.dadapt_adamw``) and Prodigy
      (``optax.contrib.prodigy``): ``d`` (``estim_lr``). optax keeps only the
      estimate made *by* the last update, the one the next update will use
      (as ``group["d"]`` in the PyTorch implementations after ``step()``); the
      last update used the previous one, which is smaller when the estimate has
      just grown (``d`` never decreases). Adam's bias correction, which these
      two fold into their step, is not part of the lr (as with ``optax.adam``).
      DoG (``optax.contrib.dog``): exactly the step of the last update,
      ``max_dist / sqrt(sum_sq_norm_grads + eps)`` (the state holds both as that
      update used them). DoWG (``optax.contrib.dowg``): ``estim_sq_dist /
      (sqrt(weighted_sq_norm_grads) + eps)``. ``eps`` is not in their states:
      it is the ``eps`` hyperparameter of the ``inject_hyperparams`` around
      them if it has one, else optax's default (``1e-8`` for DoG, ``1e-4``
      for DoWG).
      Before the first DoG/DoWG update (which depends on the first gradient) and
      after DoG's first update with ``init_step=("learning_rate", v)`` the
      value is NaN (unknown), never a guess;
    - optax's line searches' ``learning_rate`` (the step they accepted), and
      generally the **protocol**: any state object with a ``learning_rate``
      field (a number or array) records the factor by which that
      transformation scaled its updates, and multiplies the other factors like
      an ``inject_hyperparams`` lr. A transformation that adapts an lr (e.g.
      hypergradient descent) records there the factor it applied on top of
      the factors around it: the whole lr if no ``inject_hyperparams``
      ``learning_rate`` wraps it, else its adapted multiplier of that
      hyperparameter (a schedule times the multiplier, as Prodigy's ``d``).
      :func:`jaxlr.hypergradient_descent` is the exception: it takes its
      ``learning_rate`` only as the start of its learned ``alpha``, so directly
      inside an ``inject_hyperparams`` (a training engine's optimizer) its
      recorded lr is the whole lr and the injected one scales nothing.

    Schedule-free (``optax.contrib.schedule_free_sgd/adamw`` wrapped in
    ``inject_hyperparams``): its ``learning_rate``, the step size of the base
    optimizer's sequence ``z``; the trained parameters ``y`` and the averaged
    ``x`` move by less. Give a warmup as part of the schedule, not as
    ``warmup_steps``, which builds a schedule inside the optimizer (an error
    here, as the state does not record its value).

    ``optax.multi_transform`` / ``optax.partition``: a dict ``{label: lr}``, each
    group's own factors times those of the chain around the partition (a nested
    partition gives a nested dict). Inside an ``inject_hyperparams``, a group
    takes the hyperparameter ``<label>_learning_rate`` if there is one
    (``optax.contrib.muon``'s ``adam_learning_rate``), else ``learning_rate``.

    A factor the state does not record is invisible: an lr given to a factory as
    a number (``optax.chain(optax.scale(0.5), ...)``) is not included. Where a
    schedule is known to scale the updates without being recorded
    (``ScaleByScheduleState``, e.g. ``optax.sgd(schedule)``), where nothing
    records an lr, where only an estimate without its lr is found, and for
    methods whose step is not one lr (``optax.masked`` around an lr,
    ``mechanize``, ``momo``, ``cocob``, ``rprop``, layer-wise DoG), a
    ``ValueError`` says what to change; it never returns a silently wrong
    number. An ``flax.nnx.Optimizer``'s ``opt_state`` is read too.

    Works under ``jax.jit`` and ``jax.vmap`` (over a batch of states).

    >>> import jax, jax.numpy as jnp, optax, jaxlr
    >>> from jaxlr.readout import lr_used
    >>> schedule = jaxlr.linear(0.1, 0.0, 10)       # 0.1, 0.09, 0.08, ...
    >>> tx = optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=schedule),
    ...                  jaxlr.reduce_on_plateau(init_value=0.5))
    >>> params = jnp.zeros(2)
    >>> state = tx.init(params)
    >>> @jax.jit
    ... def step(params, state):
    ...     updates, state = tx.update(jnp.ones(2), state, params)
    ...     return optax.apply_updates(params, updates), state, lr_used(state)
    >>> for _ in range(3):
    ...     params, state, lr = step(params, state)
    ...     print(f"{lr:.3f}")                          # schedule(k - 1) * 0.5
    0.050
    0.045
    0.040

    Args:
      opt_state: an optax optimizer state (or an NNX optimizer's ``opt_state``).

    Returns:
      A scalar ``jax.Array`` (batched under ``vmap``), or for an
      ``optax.multi_transform`` a dict ``{group label: jax.Array}``.

    Raises:
      ValueError: the state records no lr, or not all the factors of it.
    """
    return _finish(_read(_unwrap_nnx(opt_state), "opt_state"), "opt_state")
