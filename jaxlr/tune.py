"""Learn a run's hyperparameters by gradient: through training, by ES and by PES.

A jaxlr run is one pure function of its hyperparameters
(:meth:`jaxlr.engine.Trainer.train_fn`), so the evaluation loss at the end of
training is a function ``f(h)`` of the peak lr, warmup, decay rate, end value,
momentum... This module estimates its gradient three ways and descends it:

- :func:`hypergrad`: ``jax.grad`` through the unrolled run (reverse mode over
  every update), each epoch rematerialised (``jax.checkpoint``) so that the
  forward pass keeps one :class:`~jaxlr.engine.TrainState` per epoch and the
  backward pass one epoch's intermediates at a time: memory grows by a state
  per epoch, not by the epoch's activations (measured in
  ``tests/test_tune.py`` and ``experiments/results/learned``). Exact for the
  run as computed, but long unrolls make it chaotic (Metz et al. 2019,
  "Understanding and correcting pathologies in the training of learned
  optimizers"), and a hyperparameter that the run uses only through a floor
  or a comparison (a step size of a staircase, a boundary) has gradient zero
  almost everywhere: such names are refused (:func:`structural_names`).
- :func:`es_grad`: antithetic evolution strategies (Salimans et al. 2017) in an
  unconstrained parametrisation ``theta`` (``log`` of a positive value by
  default): ``g = 1/(2 sigma P) sum_i (f(theta + sigma z_i) - f(theta - sigma
  z_i)) z_i``, ``z_i ~ N(0, I)``, the ``2P`` runs one batched program. It
  estimates the gradient of the Gaussian-smoothed objective, unbiased, with
  no backward pass and no chaos; diverged pairs are dropped and counted.
- :func:`pes_grad` / :func:`pes_init` / :func:`pes_step`: persistent ES
  (Vicol, Metz and Sohl-Dickstein, ICML 2021) over truncated unrolls of
  ``truncation`` epochs: each of ``2P`` particles keeps its own training
  state from one truncation to the next and accumulates its perturbations
  ``xi_i = sum_k z_ik``; the estimate of a truncation is ``1/(2 sigma P)
  sum_i (L_i+ - L_i-) xi_i``, unbiased for the gradient of the smoothed *sum*
  of the objective over all epochs (not only the last), even though
  ``theta`` moves between truncations (:func:`tune` with ``method="pes"``
  updates it after every truncation).
- :func:`tune`: Adam on ``theta`` for a few meta-steps with any of the three;
  returns the trajectory and the final hyperparameters, plotted by
  :meth:`TuneResult.plot` (the schedule before and after, the objective per
  meta-step).

Every function takes a trainer (:func:`jaxlr.engine.make_train`), the run's
hyperparameters (all of them; ``wrt`` names the ones to differentiate, the
rest are held fixed) and a key (int seed, ``(init, data)`` pair or raw key).
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Mapping
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlr.engine import backend
from jaxlr.engine.core import Recorder
from jaxlr.engine.keys import raw_key

__all__ = ["OBJECTIVES", "SPACES", "ESResult", "PESState", "TuneResult", "es_grad",
           "hypergrad", "make_objective", "pes_grad", "schedule_lrs", "structural_names",
           "tune"]

#: what can be minimised: the metrics of :meth:`Trainer.end_epoch` that are losses
OBJECTIVES = ("eval_loss", "train_loss")
#: unconstrained parametrisations: ``log`` (values > 0), ``logit`` (values in (0, 1)), ``linear``
SPACES = ("log", "logit", "linear")
METHODS = ("hypergrad", "es", "pes")


# -- checking what may be differentiated --------------------------------------

def _is_number(v):
    if isinstance(v, (bool, np.bool_, str, bytes)):
        return False
    try:
        a = np.asarray(v)
    except Exception:  # noqa: BLE001 - anything that is not an array is refused below
        return False
    return a.ndim == 0 and np.issubdtype(a.dtype, np.number) and not np.issubdtype(
        a.dtype, np.bool_)


def _check_objective(fn, objective, last, trainer):
    if objective not in OBJECTIVES:
        raise ValueError(f"jaxlr.tune.{fn}: objective must be one of {list(OBJECTIVES)}, got "
                         f"{objective!r} (accuracy is a step function: its gradient is zero)")
    epochs = trainer.config.epochs
    if not isinstance(last, int) or isinstance(last, bool) or not 1 <= last <= epochs:
        raise ValueError(f"jaxlr.tune.{fn}: last must be an int in [1, epochs={epochs}], "
                         f"got {last!r}")


def _wrt(fn, trainer, hparams, wrt):
    """``wrt`` checked against ``hparams`` and the run: a tuple of names."""
    if not isinstance(hparams, Mapping):
        raise ValueError(f"jaxlr.tune.{fn}: hparams must be a mapping name -> number, got "
                         f"{hparams!r}")
    hparams = dict(hparams)
    for name, value in hparams.items():
        if not _is_number(value):
            raise ValueError(f"jaxlr.tune.{fn}: hyperparameter {name!r} = {value!r} is not a "
                             "real number: a structural setting belongs in the config or the "
                             "schedule builder, not in hparams")
    read = trainer.hparams_read(hparams)
    if wrt is None:
        wrt = read
    if isinstance(wrt, str):
        wrt = (wrt,)
    wrt = tuple(wrt)
    if not wrt:
        raise ValueError(f"jaxlr.tune.{fn}: wrt is empty; name the hyperparameters to "
                         f"differentiate (the run reads {list(read)})")
    for name in wrt:
        if name not in hparams:
            raise ValueError(f"jaxlr.tune.{fn}: wrt names {name!r}, which is not in hparams "
                             f"(given: {sorted(hparams)})")
    if len(set(wrt)) != len(wrt):
        raise ValueError(f"jaxlr.tune.{fn}: wrt names a hyperparameter twice: {list(wrt)}")
    return hparams, wrt


def structural_names(trainer, hparams, names):
    """The names among ``names`` that the schedule uses only as a count or a boundary.

    A name is structural when the schedule reads it and the lr of *every*
    update of the run has derivative exactly zero with respect to it at
    ``hparams`` (it enters only through a floor, a comparison or an integer
    cast: a staircase's step size, a piecewise boundary, a count of cycles).
    Reverse mode then returns zero however much it matters, so
    :func:`hypergrad` refuses such names; :func:`es_grad` and
    :func:`pes_grad` accept them (they smooth the objective).
    """
    schedule = trainer.config.schedule
    if schedule is None:
        return ()
    hparams = {k: jnp.asarray(v, trainer.hparam_dtype) for k, v in dict(hparams).items()}
    read = set()
    schedule(Recorder(hparams, read), trainer.info)
    candidates = [n for n in names if n in read]
    if not candidates:
        return ()
    steps = jnp.arange(trainer.info.total_steps, dtype=jnp.int32)

    def lrs(values):
        return schedule({**hparams, **values}, trainer.info)(steps)

    jac = jax.jacfwd(lrs)({n: hparams[n] for n in candidates})
    return tuple(n for n in candidates if not np.any(np.asarray(jac[n]) != 0))


def _refuse_structural(fn, trainer, hparams, wrt):
    structural = structural_names(trainer, hparams, wrt)
    if structural:
        raise ValueError(
            f"jaxlr.tune.{fn}: wrt names {list(structural)}, which the schedule uses only "
            "as a count or a boundary at these values (the lr of every update has "
            "derivative exactly zero with respect to it: a floor, a comparison or a clamp), "
            "so its hypergradient is zero almost everywhere; leave it out of wrt, or "
            "estimate it with es_grad / pes_grad, which smooth the objective")


# -- the objective ------------------------------------------------------------

def make_objective(trainer, hparams, key, wrt, *, objective="eval_loss", last=1, remat=True,
                   reduce="last"):
    """``f(values) -> scalar``: the run's objective as a pure function of the ``wrt`` values.

    ``values`` maps each name of ``wrt`` to a scalar; the other hyperparameters
    are held at ``hparams``; ``key`` is traced too, so ``f(values, key)`` may be
    given another key. The value is the mean of ``objective`` over the last
    ``last`` epochs (``reduce="last"``) or the sum over all epochs
    (``reduce="sum"``, PES's objective). ``remat``: rematerialise each epoch in
    the backward pass (``jax.checkpoint`` of :meth:`Trainer.run_epoch`).
    """
    hparams = dict(hparams)
    epoch = jax.checkpoint(trainer.run_epoch) if remat else trainer.run_epoch
    default_key = raw_key(key)

    def f(values, key=None):
        key = default_key if key is None else key
        state = trainer.init({**hparams, **values}, key)
        _, metrics = jax.lax.scan(lambda s, _: epoch(s), state, None,
                                  length=trainer.config.epochs)
        series = metrics[objective]
        if reduce == "sum":
            return jnp.sum(series)
        return jnp.mean(series[-last:])

    return f


def _values(trainer, hparams, wrt):
    return {n: jnp.asarray(hparams[n], trainer.hparam_dtype) for n in wrt}


def hypergrad(trainer, hparams, key, wrt=None, *, objective="eval_loss", last=1, remat=True):
    """The objective of a run and its gradient with respect to ``wrt``, through training.

    ``f(h) = mean(objective over the last `last` epochs)`` of the run
    ``trainer.train_fn(h, key)``; returns ``(f, {name: df/dname})`` by
    reverse mode through every update (each epoch rematerialised when
    ``remat``: forward memory one training state per epoch, backward memory
    one epoch's intermediates). Hyperparameters keep the trainer's
    :attr:`~jaxlr.engine.Trainer.hparam_dtype` (float32; float64 for float64
    data under ``jax_enable_x64``).

    Raises:
      ValueError: ``wrt`` names something not in ``hparams``, a value that is
        not a real number, or a name the schedule uses only structurally
        (:func:`structural_names`); an objective that is not a loss.
    """
    hparams, wrt = _wrt("hypergrad", trainer, hparams, wrt)
    _check_objective("hypergrad", objective, last, trainer)
    _refuse_structural("hypergrad", trainer, hparams, wrt)
    f = make_objective(trainer, hparams, key, wrt, objective=objective, last=last, remat=remat)
    value, grads = jax.jit(jax.value_and_grad(f))(_values(trainer, hparams, wrt))
    return float(value), {n: float(g) for n, g in grads.items()}


# -- parametrisations -----------------------------------------------------------

def _spaces(fn, hparams, wrt, space):
    """Each name's space: ``space`` (a name, or a mapping name -> name); by default
    ``log`` for a positive value, ``linear`` otherwise."""
    if space is None or isinstance(space, str):
        chosen = {n: space or ("log" if float(hparams[n]) > 0 else "linear") for n in wrt}
    elif isinstance(space, Mapping):
        unknown = sorted(set(space) - set(wrt))
        if unknown:
            raise ValueError(f"jaxlr.tune.{fn}: space names {unknown}, which are not in wrt "
                             f"{list(wrt)}")
        chosen = {n: space.get(n, "log" if float(hparams[n]) > 0 else "linear") for n in wrt}
    else:
        raise ValueError(f"jaxlr.tune.{fn}: space must be None, one of {list(SPACES)} or a "
                         f"mapping name -> space, got {space!r}")
    for n, s in chosen.items():
        if s not in SPACES:
            raise ValueError(f"jaxlr.tune.{fn}: space of {n!r} must be one of {list(SPACES)}, "
                             f"got {s!r}")
        v = float(hparams[n])
        if s == "log" and not v > 0:
            raise ValueError(f"jaxlr.tune.{fn}: space 'log' needs {n} > 0, got {v!r}")
        if s == "logit" and not 0 < v < 1:
            raise ValueError(f"jaxlr.tune.{fn}: space 'logit' needs 0 < {n} < 1, got {v!r}")
    return chosen


def _to_theta(spaces, values):
    out = {}
    for n, v in values.items():
        s = spaces[n]
        out[n] = jnp.log(v) if s == "log" else (jnp.log(v) - jnp.log1p(-v)) if s == "logit" \
            else v
    return out


def _from_theta(spaces, theta):
    out = {}
    for n, t in theta.items():
        s = spaces[n]
        out[n] = jnp.exp(t) if s == "log" else jax.nn.sigmoid(t) if s == "logit" else t
    return out


# -- evolution strategies -------------------------------------------------------

@dataclasses.dataclass
class ESResult:
    """An ES (or PES) estimate.

    Attributes:
      value: mean objective over the kept members (the centre's objective, smoothed).
      grad: the estimated gradient with respect to each hyperparameter
        (``grad_theta`` times ``dtheta/dh``).
      grad_theta: the estimate in the unconstrained parametrisation.
      spaces: each name's parametrisation.
      kept, dropped: antithetic pairs used, and dropped because a member's
        objective was not finite (a diverged run).
      objectives: ``[pair, 2]`` each member's objective (``+``, ``-``).
    """

    value: float
    grad: dict
    grad_theta: dict
    spaces: dict
    kept: int
    dropped: int
    objectives: np.ndarray


def _batched(trainer, fn, batched):
    """``fn`` over a leading member axis: ``jax.vmap``, or ``lax.map`` where the
    backend runs members one after another (convolutions on CPU)."""
    if batched == "auto":
        batched = backend.choose_strategy(trainer) != "sequential"
    if batched:
        return jax.vmap(fn)
    return lambda *xs: jax.lax.map(lambda a: fn(*a), xs)


def _check_es(fn, sigma, pairs):
    if not (isinstance(sigma, (int, float)) and not isinstance(sigma, bool)
            and math.isfinite(sigma) and sigma > 0):
        raise ValueError(f"jaxlr.tune.{fn}: sigma must be a positive number, got {sigma!r}")
    if not isinstance(pairs, int) or isinstance(pairs, bool) or pairs < 1:
        raise ValueError(f"jaxlr.tune.{fn}: pairs must be an int >= 1, got {pairs!r}")


def _es_estimate(f_plus, f_minus, z, sigma):
    """``(value, grad_theta [n], kept, dropped)`` from antithetic objectives; pairs with a
    non-finite member are dropped (their weight zero, the others renormalised)."""
    ok = jnp.isfinite(f_plus) & jnp.isfinite(f_minus)
    kept = jnp.sum(ok)
    diff = jnp.where(ok, f_plus - f_minus, 0.0)
    grad = jnp.sum(diff[:, None] * z, axis=0) / (2 * sigma * jnp.maximum(kept, 1))
    value = jnp.sum(jnp.where(ok, f_plus + f_minus, 0.0)) / (2 * jnp.maximum(kept, 1))
    return value, grad, kept


def _chain_rule(spaces, values, grad_theta):
    """``df/dh = df/dtheta * dtheta/dh``."""
    out = {}
    for n, g in grad_theta.items():
        v, s = float(values[n]), spaces[n]
        out[n] = g / v if s == "log" else g / (v * (1 - v)) if s == "logit" else g
    return out


def _es_program(trainer, hparams, wrt, spaces, objective, last, batched, reduce="last"):
    """Jitted ``(members [2P, n] in theta, key) -> objectives [2P]``: one program."""
    f = make_objective(trainer, hparams, 0, wrt, objective=objective, last=last, remat=False,
                       reduce=reduce)

    def member(t, key):
        return f(_from_theta(spaces, {n: t[i] for i, n in enumerate(wrt)}), key)

    run = _batched(trainer, member, batched)
    return jax.jit(lambda members, key: run(members, jnp.broadcast_to(
        key, (members.shape[0], *key.shape))))


def _es_result(fn, hparams, wrt, spaces, sigma, pairs, objectives, z):
    f_plus, f_minus = objectives[:pairs], objectives[pairs:]
    value, grad, kept = _es_estimate(f_plus, f_minus, z, sigma)
    kept = int(kept)
    if kept == 0:
        raise ValueError(f"jaxlr.tune.{fn}: every one of the {pairs} antithetic pairs diverged "
                         f"(sigma={sigma} around {dict((n, hparams[n]) for n in wrt)}); lower "
                         "sigma or start from a stabler point")
    grad_theta = {n: float(grad[i]) for i, n in enumerate(wrt)}
    return ESResult(float(value), _chain_rule(spaces, hparams, grad_theta), grad_theta, spaces,
                    kept, pairs - kept, np.stack([np.asarray(f_plus), np.asarray(f_minus)], 1))


def es_grad(trainer, hparams, key, wrt=None, *, sigma=0.1, pairs=8, seed=0, space=None,
            objective="eval_loss", last=1, batched="auto"):
    """Antithetic ES estimate of the gradient of a run's objective: an :class:`ESResult`.

    In ``theta`` (per name: ``log`` of a positive value by default, see
    ``space``), ``g = 1/(2 sigma P) sum_i (f(theta + sigma z_i) - f(theta -
    sigma z_i)) z_i`` with ``z_i ~ N(0, I)`` drawn from ``seed``: unbiased for
    the gradient of ``E f(theta + sigma z)``. Every member trains from the
    same ``key`` (common random numbers: the same initial weights and example
    order), so the difference of a pair is the hyperparameters' effect alone.
    The ``2 * pairs`` runs are one compiled program (``batched``: ``True``
    vmap, ``False`` one after another, ``"auto"`` the backend's choice).

    A pair with a diverged member is dropped (``dropped``), never averaged in;
    if every pair diverged, ``ValueError``.
    """
    hparams, wrt = _wrt("es_grad", trainer, hparams, wrt)
    _check_objective("es_grad", objective, last, trainer)
    _check_es("es_grad", sigma, pairs)
    spaces = _spaces("es_grad", hparams, wrt, space)
    program = _es_program(trainer, hparams, wrt, spaces, objective, last, batched)
    centre = _centre(trainer, hparams, wrt, spaces)
    z = jax.random.normal(jax.random.PRNGKey(seed), (pairs, len(wrt)), centre.dtype)
    objectives = program(jnp.concatenate([centre + sigma * z, centre - sigma * z]),
                         raw_key(key))
    return _es_result("es_grad", hparams, wrt, spaces, sigma, pairs, objectives, z)


def _centre(trainer, hparams, wrt, spaces):
    theta = _to_theta(spaces, _values(trainer, hparams, wrt))
    return jnp.stack([theta[n] for n in wrt])


# -- persistent evolution strategies --------------------------------------------

class PESState(NamedTuple):
    """The particles of PES between truncations (a pytree).

    ``states``: ``2P`` training states, ``+`` particles first; ``xi``: ``[P, n]``
    each pair's accumulated perturbation ``sum_k z_k``; ``rng``: the noise key.
    """

    states: Any
    xi: jax.Array
    rng: jax.Array


def _check_truncation(fn, trainer, truncation):
    epochs = trainer.config.epochs
    if not isinstance(truncation, int) or isinstance(truncation, bool) or not (
            1 <= truncation <= epochs) or epochs % truncation:
        raise ValueError(f"jaxlr.tune.{fn}: truncation must be an int that divides "
                         f"epochs={epochs}, got {truncation!r}")


def _pes_program(trainer, hparams, wrt, spaces, sigma, objective, batched, truncation):
    """Jitted ``init(values, key, pairs, seed) -> PESState`` and ``step(centre, pes) ->
    ((value, grad_theta [n], kept, objectives [P, 2]), pes)``: one truncation."""
    fixed = dict(hparams)

    def init_one(values, key):
        return trainer.init({**fixed, **values}, key)

    def unroll_one(state, values):
        state = state.replace(hparams={**state.hparams, **values})
        state, metrics = jax.lax.scan(lambda s, _: trainer.run_epoch(s), state, None,
                                      length=truncation)
        return state, jnp.sum(metrics[objective])

    unroll = _batched(trainer, unroll_one, batched)
    init_all = jax.jit(jax.vmap(init_one, in_axes=(0, None)))

    def init(centre, key, pairs, rng):
        values = _from_theta(spaces, {n: jnp.broadcast_to(centre[i], (2 * pairs,))
                                      for i, n in enumerate(wrt)})
        return PESState(init_all(values, raw_key(key)),
                        jnp.zeros((pairs, len(wrt)), centre.dtype), rng)

    @jax.jit
    def step(centre, pes):
        rng, sub = jax.random.split(pes.rng)
        pairs = pes.xi.shape[0]
        z = jax.random.normal(sub, pes.xi.shape, centre.dtype)
        xi = pes.xi + z
        members = jnp.concatenate([centre + sigma * z, centre - sigma * z])
        values = _from_theta(spaces, {n: members[:, i] for i, n in enumerate(wrt)})
        states, losses = unroll(pes.states, values)
        f_plus, f_minus = losses[:pairs], losses[pairs:]
        value, grad, kept = _es_estimate(f_plus, f_minus, xi, sigma)
        return (value, grad, kept, jnp.stack([f_plus, f_minus], 1)), PESState(states, xi, rng)

    return init, step


def pes_grad(trainer, hparams, key, wrt=None, *, sigma=0.1, pairs=8, truncation=1, seed=0,
             space=None, objective="eval_loss", batched="auto"):
    """PES over one whole run at fixed hyperparameters: an :class:`ESResult`.

    The run is cut into ``epochs / truncation`` unrolls; before each, every
    particle pair draws new noise ``z_k``, trains ``truncation`` epochs from
    its own state at ``theta +- sigma z_k`` and adds ``z_k`` to its ``xi``;
    the estimates ``1/(2 sigma P) sum_i (L_i+ - L_i-) xi_i`` (``L`` the sum
    of ``objective`` over the unroll's epochs), summed over the unrolls, are
    unbiased for the gradient of the smoothed *sum* of ``objective`` over all
    epochs (Vicol et al. 2021, their antithetic estimator). With ``truncation =
    epochs`` it is :func:`es_grad` of that sum. A pair is dropped from an
    unroll where a member's objective is not finite (``dropped`` counts
    pair-unrolls); ``objectives`` is ``[unroll, pair, 2]``.
    """
    hparams, wrt = _wrt("pes_grad", trainer, hparams, wrt)
    _check_objective("pes_grad", objective, 1, trainer)
    _check_es("pes_grad", sigma, pairs)
    _check_truncation("pes_grad", trainer, truncation)
    spaces = _spaces("pes_grad", hparams, wrt, space)
    init, step = _pes_program(trainer, hparams, wrt, spaces, sigma, objective, batched,
                              truncation)
    centre = _centre(trainer, hparams, wrt, spaces)
    pes = init(centre, key, pairs, jax.random.PRNGKey(seed))
    total, value, kept_all, parts = jnp.zeros(len(wrt), centre.dtype), 0.0, 0, []
    unrolls = trainer.config.epochs // truncation
    for _ in range(unrolls):
        (v, g, kept, objectives), pes = step(centre, pes)
        total, value, kept_all = total + g, value + float(v), kept_all + int(kept)
        parts.append(np.asarray(objectives))
    if kept_all == 0:
        raise ValueError(f"jaxlr.tune.pes_grad: every pair diverged in every unroll "
                         f"(sigma={sigma}); lower sigma or start from a stabler point")
    grad_theta = {n: float(total[i]) for i, n in enumerate(wrt)}
    return ESResult(value, _chain_rule(spaces, hparams, grad_theta), grad_theta, spaces,
                    kept_all, pairs * unrolls - kept_all, np.stack(parts))


# -- meta-descent -------------------------------------------------------------------

@dataclasses.dataclass
class TuneResult:
    """What :func:`tune` did, meta-step by meta-step.

    Attributes:
      method, wrt, spaces: as given (``spaces``: each name's parametrisation).
      start, final: the whole hyperparameter dicts before the first and after
        the last meta-step.
      trajectory: ``[meta-step + 1]`` dicts of the ``wrt`` values (the start first).
      objective: ``[meta-step]`` the objective at each meta-step's point
        (``hypergrad``: the run's; ``es``: the mean over its members; ``pes``:
        the truncation's, summed over its epochs), NaN where it diverged.
      grads: ``[meta-step]`` dicts, the gradient in ``theta`` that was followed.
      rejected: ``[meta-step]`` True where the point diverged and the step was
        taken back (the meta learning rate then halves).
      dropped: ``[meta-step]`` ES/PES pairs dropped as diverged.
      seconds: wall time of the whole tuning (compilation included).
      lr_start, lr_final: the lr of every update of a run at ``start`` and ``final``.
    """

    method: str
    wrt: tuple
    spaces: dict
    start: dict
    final: dict
    trajectory: list
    objective: list
    grads: list
    rejected: list
    dropped: list
    seconds: float
    lr_start: np.ndarray
    lr_final: np.ndarray
    runs: float = 0.0

    def to_dict(self):
        out = dataclasses.asdict(self)
        out["wrt"] = list(self.wrt)
        out["lr_start"] = np.asarray(self.lr_start).tolist()
        out["lr_final"] = np.asarray(self.lr_final).tolist()
        return out

    def figure(self, title=None):
        """Three panels: the schedule before and after, the objective per meta-step, and
        each hyperparameter relative to its start."""
        import matplotlib.pyplot as plt

        fig, axes = plt.subplots(1, 3, figsize=(15, 4.2), constrained_layout=True)
        ax = axes[0]
        steps = np.arange(len(self.lr_start))
        ax.plot(steps, self.lr_start, label="before", color="0.5", linestyle="--")
        ax.plot(steps, self.lr_final, label="after", color="C0")
        ax.set(xlabel="update", ylabel="learning rate", title="schedule")
        if np.all(np.asarray(self.lr_start) > 0) and np.all(np.asarray(self.lr_final) > 0):
            ax.set_yscale("log")
        ax.legend()
        ax = axes[1]
        ax.plot(np.arange(1, len(self.objective) + 1), self.objective, marker="o", color="C1")
        bad = [i + 1 for i, r in enumerate(self.rejected) if r]
        if bad:
            ax.plot(bad, [np.nan_to_num(self.objective[i - 1], nan=np.nanmax(self.objective))
                          for i in bad], "x", color="C3", label="diverged, taken back")
            ax.legend()
        what = {"pes": "truncation objective"}.get(self.method, "objective")
        ax.set(xlabel="meta-step", ylabel=what, title=f"{what} ({self.method})")
        ax = axes[2]
        for n in self.wrt:
            v0 = float(self.trajectory[0][n])
            values = [float(t[n]) for t in self.trajectory]
            rel = [v / v0 for v in values] if v0 != 0 else values
            ax.plot(np.arange(len(values)), rel, marker=".", label=f"{n} (start {v0:.3g})")
        ax.set(xlabel="meta-step", ylabel="value / start", title="hyperparameters")
        ax.legend(fontsize="small")
        if title:
            fig.suptitle(title)
        return fig

    def plot(self, path, title=None):
        """Write :meth:`figure` to ``path`` (``.png`` appended without a known suffix)."""
        import matplotlib.pyplot as plt

        from jaxlr.plot import figure_path, write_figure

        path = figure_path(path)
        fig = self.figure(title)
        write_figure(fig, path)
        plt.close(fig)
        return path


def schedule_lrs(trainer, hparams):
    """The lr of every update of a run at ``hparams`` (float64 numpy, ``[total_steps]``)."""
    h = {k: jnp.asarray(v, trainer.hparam_dtype) for k, v in dict(hparams).items()}
    steps = jnp.arange(trainer.info.total_steps, dtype=jnp.int32)
    if trainer.config.schedule is None:
        return np.full(len(steps), float(h["lr"]))
    return np.asarray(trainer.config.schedule(h, trainer.info)(steps), np.float64)


def _check_tune(method, meta_steps, meta_lr):
    if method not in METHODS:
        raise ValueError(f"jaxlr.tune.tune: method must be one of {list(METHODS)}, got "
                         f"{method!r}")
    if not isinstance(meta_steps, int) or isinstance(meta_steps, bool) or meta_steps < 1:
        raise ValueError(f"jaxlr.tune.tune: meta_steps must be an int >= 1, got "
                         f"{meta_steps!r}")
    if not (isinstance(meta_lr, (int, float)) and not isinstance(meta_lr, bool)
            and math.isfinite(meta_lr) and meta_lr > 0):
        raise ValueError(f"jaxlr.tune.tune: meta_lr must be a positive number, got "
                         f"{meta_lr!r}")


def tune(trainer, hparams, key, wrt=None, *, method="hypergrad", meta_steps=10, meta_lr=0.1,
         space=None, objective="eval_loss", last=1, sigma=0.1, pairs=4, truncation=1,
         seed=0, fresh_keys=True, batched="auto", progress=False):
    """Gradient descent on a run's hyperparameters: a :class:`TuneResult`.

    Adam (``meta_lr``) on ``theta``, each name's unconstrained parametrisation
    (``space``: ``log`` for a positive value by default, so ``meta_lr=0.1``
    moves a value by about 10% a step). The gradient of each meta-step:

    - ``hypergrad``: :func:`hypergrad` of one run (exact, reverse mode);
    - ``es``: :func:`es_grad` of ``2 * pairs`` runs;
    - ``pes``: one truncation of :func:`pes_grad`'s particles, so ``theta``
      moves every ``truncation`` epochs within the runs (online), and the
      particles start new runs when theirs end; its objective is the sum
      over all epochs.

    ``fresh_keys``: every meta-step (every new PES run) trains from its own
    key, ``fold_in(key, meta-step)``, so that the hyperparameters are not fit
    to one initialisation and example order; ``False`` keeps ``key``.

    A meta-step whose point diverged (its objective or gradient not finite)
    is taken back: the step from the last finite point is taken again at half
    the meta learning rate (and every later step stays halved; recorded in
    ``rejected``); the first point must not diverge. ``runs`` counts the member-epochs trained, divided by the epochs
    of one run (the compute, in runs, to set against a search).
    """
    hparams, wrt = _wrt("tune", trainer, hparams, wrt)
    _check_tune(method, meta_steps, meta_lr)
    _check_objective("tune", objective, last, trainer)
    if method != "hypergrad":
        _check_es("tune", sigma, pairs)
    if method == "hypergrad":
        _refuse_structural("tune", trainer, hparams, wrt)
    if method == "pes":
        _check_truncation("tune", trainer, truncation)
    spaces = _spaces("tune", hparams, wrt, space)
    start_time = time.perf_counter()
    base_key = raw_key(key)
    epochs = trainer.config.epochs

    def key_of(i):
        return jax.random.key_data(jax.random.fold_in(
            jax.random.wrap_key_data(base_key), i)) if fresh_keys else base_key

    if method == "hypergrad":
        f = make_objective(trainer, hparams, key, wrt, objective=objective, last=last)
        value_and_grad = jax.jit(jax.value_and_grad(
            lambda t, k: f(_from_theta(spaces, {n: t[i] for i, n in enumerate(wrt)}), k)))
    elif method == "es":
        es = _es_program(trainer, hparams, wrt, spaces, objective, last, batched)
    else:
        pes_init, pes_step = _pes_program(trainer, hparams, wrt, spaces, sigma, objective,
                                          batched, truncation)

    theta = _centre(trainer, hparams, wrt, spaces)
    meta = optax.adam(meta_lr)
    meta_state = meta.init(theta)
    scale, good = 1.0, None
    trajectory, objectives, grads, rejected, dropped = [], [], [], [], []
    runs, pes, pes_run, pes_done = 0.0, None, 0, 0
    bar = None
    if progress:
        from jaxlr.engine.driver import progress_bar

        bar = progress_bar(meta_steps, progress if isinstance(progress, str)
                           else f"tune ({method})", "meta-step")

    def as_dict(t):
        values = _from_theta(spaces, {n: t[i] for i, n in enumerate(wrt)})
        return {n: float(v) for n, v in values.items()}

    trajectory.append(as_dict(theta))
    for m in range(meta_steps):
        drop = 0
        if method == "hypergrad":
            value, g = value_and_grad(theta, key_of(m))
            runs += 1
        elif method == "es":
            z = jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(seed), m),
                                  (pairs, len(wrt)), theta.dtype)
            obj = es(jnp.concatenate([theta + sigma * z, theta - sigma * z]), key_of(m))
            value, g, kept = _es_estimate(obj[:pairs], obj[pairs:], z, sigma)
            drop = pairs - int(kept)
            if int(kept) == 0:
                value = jnp.nan
            runs += 2 * pairs
        else:
            if pes is None or pes_done == epochs:
                pes = pes_init(theta, key_of(pes_run), pairs,
                               jax.random.fold_in(jax.random.PRNGKey(seed), pes_run))
                pes_run, pes_done = pes_run + 1, 0
            (value, g, kept, _), pes = pes_step(theta, pes)
            pes_done += truncation
            drop = pairs - int(kept)
            if int(kept) == 0:
                value = jnp.nan
            runs += 2 * pairs * truncation / epochs
        value = float(value)
        finite = math.isfinite(value) and bool(jnp.all(jnp.isfinite(g)))
        objectives.append(value)
        dropped.append(drop)
        grads.append({n: float(g[i]) for i, n in enumerate(wrt)})
        rejected.append(not finite)
        if not finite:
            if m == 0:
                raise ValueError(f"jaxlr.tune.tune: the starting point "
                                 f"{ {n: hparams[n] for n in wrt} } diverged (objective "
                                 f"{value}); start from a stabler point")
            # back to the last finite point: its step again, at half the meta lr
            scale *= 0.5
            theta, meta_state, g = good
        else:
            good = (theta, meta_state, g)
        updates, meta_state = meta.update(g, meta_state, theta)
        theta = theta + scale * updates
        trajectory.append(as_dict(theta))
        if bar is not None:
            bar.update(1)
            bar.set_postfix({"objective": f"{value:.4g}",
                             **{n: f"{v:.3g}" for n, v in trajectory[-1].items()}})
    if bar is not None:
        bar.close()
    final = {**hparams, **trajectory[-1]}
    return TuneResult(method, wrt, spaces, dict(hparams), final, trajectory, objectives, grads,
                      rejected, dropped, time.perf_counter() - start_time,
                      schedule_lrs(trainer, hparams), schedule_lrs(trainer, final), runs)
