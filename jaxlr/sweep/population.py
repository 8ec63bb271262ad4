"""Population-based training (Jaderberg et al. 2017) on the vmapped program.

A population of members trains as ONE batched :class:`jaxlr.engine.TrainState`
(every leaf with a leading member axis). Every ``ready_every`` epochs the
members are ranked by an objective; the worst copy the weights, optimizer
state, model state and hyperparameters of members drawn from the best
(*exploit*), and the copied hyperparameters are changed (*explore*). Training
``ready_every`` epochs and the ready point after them are one XLA program: the
epochs a ``lax.scan`` of :meth:`Trainer.run_epoch` under ``jax.vmap`` (whatever
``TrainConfig.loop`` says), then the ranking, the copy (a gather along the
member axis, ``x[parents]``) and the exploration as array operations; no weights
go through the host. The hyperparameters a member trains with change during
its run, so what PBT learns is a *schedule* of them:
:meth:`PBTResult.learned_schedule` follows a member's lineage back through the copies.

- :func:`pbt`: run it (resumable through a :class:`jaxlr.engine.RunStore`);
- :func:`exploit_explore`: one ready point, a pure function of the batched state;
- :class:`PBTConfig`: the method's settings (validated), :class:`PBTResult`: what it gives.

References:
  Jaderberg, Dalibard, Osindero, Czarnecki, Donahue, Razavi, Vinyals, Green,
  Dunning, Simonyan, Fernando, Kavukcuoglu, "Population Based Training of Neural
  Networks", arXiv:1711.09846, 2017 (section 3: ``exploit`` by truncation
  selection, ``explore`` by perturbing by 0.8 or 1.2, or by resampling from the prior).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import time
import weakref
from collections.abc import Mapping
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr._io import atomic_write_text
from jaxlr.engine.driver import member_identities, program, progress_bar, write_above_bars
from jaxlr.engine.identity import environment
from jaxlr.engine.keys import key_identity, seed_keys
from jaxlr.engine.optimizers import sync_hyperparams
from jaxlr.engine.store import Record, as_store, to_host

__all__ = ["EXPLOIT", "EXPLORE", "OBJECTIVES", "Lineage", "PBTConfig", "PBTResult",
           "exploit_explore", "pbt"]

EXPLOIT = ("truncation",)
EXPLORE = ("perturb", "resample")
# objective -> True when higher is better
OBJECTIVES = {"eval_loss": False, "eval_acc": True}
DEFAULT_PERTURB = (0.8, 1.25)

def _error(argument, value, why):
    return ValueError(f"jaxlr.sweep.pbt: {argument} {why}, got {value!r}")


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _positive_finite(x):
    return isinstance(x, (int, float, np.number)) and not isinstance(x, bool) \
        and math.isfinite(x) and x > 0


@dataclasses.dataclass(frozen=True)
class PBTConfig:
    """The settings of a PBT run (see :func:`pbt` for what each means).

    ``perturb`` and ``resample_probability`` default to ``None``: ``(0.8, 1.25)``
    and ``1.0`` for the exploration that reads them; giving one to the other
    exploration is an error, as is a ``resample`` with ``explore="perturb"``.
    ``resample`` is kept as a sorted tuple of ``(name, low, high)``.
    """

    ready_every: int
    exploit: str = "truncation"
    fraction: float = 0.25
    explore: str = "perturb"
    perturb: tuple | None = None
    resample: tuple | None = None
    resample_probability: float | None = None
    fixed: tuple = ()
    objective: str = "eval_loss"
    seed: int = 0

    def __post_init__(self):
        def put(name, value):
            object.__setattr__(self, name, value)

        if not _is_int(self.ready_every) or self.ready_every < 1:
            raise _error("ready_every", self.ready_every, "must be a positive int (epochs)")
        if self.exploit not in EXPLOIT:
            raise _error("exploit", self.exploit, f"must be one of {list(EXPLOIT)}")
        if not isinstance(self.fraction, (int, float, np.number)) or isinstance(
                self.fraction, bool) or not 0 < self.fraction <= 0.5:
            raise _error("fraction", self.fraction, "must be in (0, 0.5] (the top and bottom "
                         "fractions must not overlap)")
        if self.explore not in EXPLORE:
            raise _error("explore", self.explore, f"must be one of {list(EXPLORE)}")
        if self.objective not in OBJECTIVES:
            raise _error("objective", self.objective, f"must be one of {list(OBJECTIVES)}")
        if not _is_int(self.seed):
            raise _error("seed", self.seed, "must be an int")
        if isinstance(self.fixed, str) or not all(isinstance(n, str) for n in self.fixed):
            raise _error("fixed", self.fixed, "must be a sequence of hyperparameter names")
        put("fixed", tuple(sorted(self.fixed)))
        if self.explore == "perturb":
            if self.resample is not None:
                raise _error("resample", self.resample, "is read only with explore='resample' "
                             "(explore is 'perturb')")
            if self.resample_probability is not None:
                raise _error("resample_probability", self.resample_probability,
                             "is read only with explore='resample' (explore is 'perturb')")
            perturb = DEFAULT_PERTURB if self.perturb is None else self.perturb
            if isinstance(perturb, (str, bytes)) or not hasattr(perturb, "__len__") or \
                    len(perturb) == 0 or not all(map(_positive_finite, perturb)):
                raise _error("perturb", self.perturb, "must be a non-empty sequence of "
                             "positive finite factors")
            put("perturb", tuple(float(f) for f in perturb))
        else:
            if self.perturb is not None:
                raise _error("perturb", self.perturb, "is read only with explore='perturb' "
                             "(explore is 'resample')")
            if self.resample is None:
                raise _error("resample", self.resample, "must give (low, high) for every "
                             "explored hyperparameter with explore='resample'")
            ranges = (self.resample.items() if isinstance(self.resample, Mapping)
                      else ((r[0], r[1:]) for r in self.resample))
            out = []
            for name, bounds in ranges:
                bounds = tuple(bounds)
                if len(bounds) != 2 or not all(map(_positive_finite, bounds)) or \
                        not bounds[0] < bounds[1]:
                    raise _error(f"resample[{name!r}]", bounds,
                                 "must be (low, high) with 0 < low < high (log-uniform)")
                out.append((str(name), float(bounds[0]), float(bounds[1])))
            put("resample", tuple(sorted(out)))
            p = 1.0 if self.resample_probability is None else self.resample_probability
            if not _positive_finite(p) or p > 1:
                raise _error("resample_probability", self.resample_probability,
                             "must be in (0, 1]")
            put("resample_probability", float(p))

    def quantile(self, members):
        """Members in the top and in the bottom fraction: ``max(1, floor(fraction * n))``."""
        return max(1, int(self.fraction * members))

    def identity(self):
        """The settings as the run store keys them (JSON-able)."""
        return {k: list(v) if isinstance(v, tuple) else v
                for k, v in dataclasses.asdict(self).items()}


# ---------------------------------------------------------------------------
# one ready point, on the device
# ---------------------------------------------------------------------------

def exploit_explore(state, objective, key, config: PBTConfig):
    """One ready point: truncation selection, then exploration; pure and traceable.

    Let ``n`` members have objective values ``o`` (lower is better; an
    accuracy is negated) and ``q = max(1, floor(fraction n))``. A member is
    *diverged* when ``o`` is not finite or its training loss was
    (``state.diverged_step >= 0``); diverged members rank last, the others by
    ``o`` (ties: the lower index first). The members ranked in the bottom
    ``q``, and every diverged member, are *replaced*: each copies a member drawn
    uniformly from the top ``min(q, finite members)``, all of its state
    (``x[parents]`` on every leaf) but its data key, which it keeps: a copy
    inherits weights, not randomness, so it goes on with its own example order
    and dropout masks rather than repeating its donor's batches. Then every
    copied hyperparameter not in ``config.fixed`` is explored, each name and
    member independently:

    - ``perturb``: ``h <- h * f``, ``f`` drawn uniformly from ``config.perturb``;
    - ``resample``: with probability ``resample_probability``,
      ``h <- exp(U(log low, log high))``, else the donor's ``h`` is kept.

    Members that are not replaced are returned bit for bit. When every member
    diverged the donors are meaningless; :func:`pbt` raises.

    Args:
      state: the batched :class:`jaxlr.engine.TrainState` (leading member axis).
      objective: ``[member]``, the objective's last value per member.
      key: a PRNG key (raw or typed) for the donors and the exploration.
      config: a :class:`PBTConfig`.

    Returns:
      ``(state, parents, replaced, diverged)``: ``parents[i]`` the member whose
      state member ``i`` now holds (``i`` itself when not replaced);
      ``replaced`` and ``diverged`` boolean ``[member]``.
    """
    n = objective.shape[0]
    q = config.quantile(n)
    score = -objective if OBJECTIVES[config.objective] else objective
    diverged = ~jnp.isfinite(score) | (state.diverged_step >= 0)
    order = jnp.argsort(jnp.where(diverged, jnp.inf, score), stable=True)
    rank = jnp.zeros(n, jnp.int32).at[order].set(jnp.arange(n, dtype=jnp.int32))
    replaced = (rank >= n - q) | diverged
    top = jnp.maximum(jnp.minimum(q, n - jnp.sum(diverged)), 1)
    pick_key, explore_key = jax.random.split(key)
    donors = order[jax.random.randint(pick_key, (n,), 0, top)]
    parents = jnp.where(replaced, donors, jnp.arange(n)).astype(jnp.int32)
    copied = jax.tree_util.tree_map(lambda x: x[parents], state)
    hparams = _explore(copied.hparams, replaced, explore_key, config)
    copied = copied.replace(key=state.key, hparams=hparams,
                            opt_state=sync_hyperparams(copied.opt_state, hparams))
    return copied, parents, replaced, diverged


def _explore(hparams, replaced, key, config):
    out = dict(hparams)
    for i, name in enumerate(sorted(set(hparams) - set(config.fixed))):
        value = hparams[name]
        k = jax.random.fold_in(key, i)
        if config.explore == "perturb":
            factors = jnp.asarray(config.perturb, value.dtype)
            new = value * factors[jax.random.randint(k, value.shape, 0, len(factors))]
        else:
            low, high = dict((r[0], r[1:]) for r in config.resample)[name]
            draw_key, coin_key = jax.random.split(k)
            u = jax.random.uniform(draw_key, value.shape, value.dtype)
            # exp of a float32 log can land a rounding outside [low, high]
            new = jnp.clip(jnp.exp(math.log(low) + u * (math.log(high) - math.log(low))),
                           low, high).astype(value.dtype)
            keep = jax.random.uniform(coin_key, value.shape) >= config.resample_probability
            new = jnp.where(keep, value, new)
        out[name] = jnp.where(replaced, new, value)
    return out


# ---------------------------------------------------------------------------
# one interval: its epochs and the ready point after them, one program
# ---------------------------------------------------------------------------

def _interval(trainer, config, epochs, state, key):
    trained_with = state.hparams
    state, metrics = jax.vmap(lambda s: jax.lax.scan(
        lambda s, _: trainer.run_epoch(s), s, None, length=epochs))(state)
    out = {"metrics": metrics, "hparams": trained_with}
    if config is not None:
        state, parents, replaced, diverged = exploit_explore(
            state, metrics[config.objective][:, -1], key, config)
        out.update(parents=parents, replaced=replaced, diverged=diverged)
    return state, out


_PROGRAMS = weakref.WeakKeyDictionary()


def _program(trainer, config, epochs):
    """The jitted interval of ``epochs`` epochs (``config`` ``None``: no ready point after)."""
    if config is not None:  # the seed enters as the key argument, not the program
        config = dataclasses.replace(config, seed=0)
    programs = _PROGRAMS.setdefault(trainer, {})
    if (config, epochs) not in programs:
        programs[config, epochs] = jax.jit(functools.partial(_interval, trainer, config,
                                                             epochs), donate_argnums=0)
    return programs[config, epochs]


def _run_interval(fn, state, key):
    """One interval's program, its results on the host (a hook for interruption tests)."""
    state, out = fn(state, key)
    return state, to_host(out)


def ready_key(seed, index):
    """The PRNG key of ready point ``index`` (0-based) of a run with ``seed``."""
    return jax.random.fold_in(jax.random.PRNGKey(seed), index)


# ---------------------------------------------------------------------------
# the result
# ---------------------------------------------------------------------------

class Lineage(NamedTuple):
    """A member's history through the copies (:meth:`PBTResult.learned_schedule`).

    ``members[r]``: whose weights it trained in interval ``r``; ``lr``: the lr
    of every update ``[step]``; ``hparams``: name -> ``[interval]`` values
    trained with; ``objective``: the objective after every epoch ``[epoch]``.
    """

    members: list
    lr: np.ndarray
    hparams: dict
    objective: np.ndarray


@dataclasses.dataclass
class PBTResult:
    """What :func:`pbt` gives.

    Attributes:
      names: the hyperparameter names, in the order of ``hparams``' last axis.
      population: each member's initial hyperparameters.
      keys: each member's key, as the run store names it.
      metrics: ``train_loss``, ``train_acc``, ``eval_loss``, ``eval_acc``
        (and ``eval_<name>``), ``diverged_step`` ``[member, epoch]``; ``lr``
        and ``step_loss`` ``[member, epoch, step]``. Each is also an attribute.
        A member slot's numbers belong to whatever weights it held then.
      hparams: ``[interval, member, name]``, the values each member trained with.
      parents: ``[ready point, member]``, the member each copied (itself when not).
      replaced: ``[ready point, member]`` booleans.
      diverged: ``[ready point, member]``, diverged members (all replaced).
      ready_epochs: the epochs completed at each ready point.
      config: the :class:`PBTConfig` as a dict.
      seconds: wall time of training (compilation included; summed over resumes).
      steps_per_epoch, eval_split: as the trainer's.
      resumed: intervals loaded from the run store instead of trained.
    """

    names: tuple
    population: list
    keys: list
    metrics: dict
    hparams: np.ndarray
    parents: np.ndarray
    replaced: np.ndarray
    diverged: np.ndarray
    ready_epochs: list
    config: dict
    seconds: float
    steps_per_epoch: int
    eval_split: str = "test"
    resumed: int = 0

    def __getattr__(self, name):
        metrics = self.__dict__.get("metrics", {})
        if name in metrics:
            return metrics[name]
        raise AttributeError(name)

    @property
    def objective(self):
        return self.config["objective"]

    @property
    def diverged_counts(self):
        """Diverged (hence replaced) members at each ready point."""
        return np.asarray(self.diverged).sum(axis=1).astype(int).tolist()

    def final(self):
        """``[member]``: the objective after the last epoch, NaN for a diverged member."""
        values = np.array(self.metrics[self.objective][:, -1], dtype=float)
        values[np.asarray(self.metrics["diverged_step"])[:, -1] >= 0] = np.nan
        return values

    def ranking(self):
        """Member indices, best final objective first (diverged last, ties by index)."""
        final = self.final()
        score = -final if OBJECTIVES[self.objective] else final
        return [int(i) for i in np.argsort(np.where(np.isnan(score), np.inf, score),
                                           kind="stable")]

    @property
    def best(self):
        """The member with the best final objective."""
        return self.ranking()[0]

    def lineage(self, member=None):
        """``[interval]``: whose weights ``member`` (default: the best) trained in each
        interval, following ``parents`` back from the end."""
        member = self.best if member is None else int(member)
        members = [member]
        for parents in np.asarray(self.parents)[::-1]:
            members.append(int(parents[members[-1]]))
        return members[::-1]

    def _interval_epochs(self):
        epochs = self.metrics["train_loss"].shape[1]
        bounds = [0, *self.ready_epochs, epochs]
        return list(zip(bounds[:-1], bounds[1:]))

    def learned_schedule(self, member=None):
        """The schedule ``member`` (default: the best) learned: a :class:`Lineage`.

        In interval ``r`` its weights were those of ``lineage(member)[r]``, so
        its lr over all updates is that ancestor's lr in that interval: the
        updates before a copy come from the member its weights descend from.
        """
        members = self.lineage(member)
        lr, objective = [], []
        for m, (lo, hi) in zip(members, self._interval_epochs()):
            lr.append(np.asarray(self.metrics["lr"])[m, lo:hi].reshape(-1))
            objective.append(np.asarray(self.metrics[self.objective])[m, lo:hi])
        hparams = np.asarray(self.hparams)
        trace = {n: [float(hparams[r, m, j]) for r, m in enumerate(members)]
                 for j, n in enumerate(self.names)}
        return Lineage(members, np.concatenate(lr), trace, np.concatenate(objective))

    def to_dict(self):
        """JSON-able: arrays as lists, NaN as ``None``."""
        def plain(v):
            if isinstance(v, np.ndarray):
                a = v.astype(object)
                if v.dtype.kind == "f":
                    a[np.isnan(v)] = None
                return a.tolist()
            return v

        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        out["metrics"] = {k: plain(np.asarray(v)) for k, v in self.metrics.items()}
        for k in ("hparams", "parents", "replaced", "diverged"):
            out[k] = plain(np.asarray(out[k]))
        out["names"] = list(self.names)
        out["best"] = self.best
        return out

    @classmethod
    def from_dict(cls, d):
        d = {k: v for k, v in d.items() if k != "best"}
        floats = lambda v: np.array(v, dtype=float)  # noqa: E731 (None -> NaN)
        d["metrics"] = {k: (np.array(v, dtype=np.int64) if k == "diverged_step" else floats(v))
                        for k, v in d["metrics"].items()}
        n = len(d["population"])
        d["hparams"] = floats(d["hparams"]).reshape(-1, n, len(d["names"]))
        d["parents"] = np.array(d["parents"], dtype=np.int64).reshape(-1, n)
        d["replaced"] = np.array(d["replaced"], dtype=bool).reshape(-1, n)
        d["diverged"] = np.array(d["diverged"], dtype=bool).reshape(-1, n)
        d["names"] = tuple(d["names"])
        return cls(**d)

    def save(self, path):
        """Write :meth:`to_dict` as JSON (atomically)."""
        atomic_write_text(path, json.dumps(self.to_dict(), indent=1, allow_nan=False))

    @classmethod
    def load(cls, path):
        """The result :meth:`save` wrote."""
        with open(path) as f:
            return cls.from_dict(json.load(f))

    def figure(self, top=3, title="population-based training"):
        """A matplotlib ``Figure``: the lr the ``top`` best members learned over the
        updates (log scale where it spans a decade), and every member's objective per
        epoch, bold along those lineages; dotted lines mark the ready points."""
        from matplotlib.figure import Figure
        from matplotlib.ticker import MaxNLocator

        fig = Figure(figsize=(10, 7.5), dpi=120, layout="constrained")
        ax_lr, ax_obj = fig.subplots(2, 1)
        epochs = self.metrics["train_loss"].shape[1]
        steps = np.arange(epochs * self.steps_per_epoch)
        x = np.arange(1, epochs + 1)
        for m in range(len(self.population)):
            ax_obj.plot(x, self.metrics[self.objective][m], color="0.7", linewidth=0.8,
                        zorder=1, label="each member (slot)" if m == 0 else None)
        final, drawn = self.final(), []
        for rank, m in enumerate(self.ranking()[:top]):
            trace = self.learned_schedule(m)
            label = f"{rank + 1}. member {m}: {self.objective} {final[m]:.4g}"
            line, = ax_lr.step(steps, trace.lr, where="post", linewidth=1.6, label=label)
            ax_obj.plot(x, trace.objective, color=line.get_color(), linewidth=1.8,
                        marker="o" if epochs <= 20 else None, markersize=3, label=label)
            drawn.append(trace.lr)
        positive = np.concatenate(drawn)
        positive = positive[np.isfinite(positive) & (positive > 0)]
        if positive.size and positive.max() >= 10 * positive.min():
            ax_lr.set_yscale("log")
        for e in self.ready_epochs:
            ax_lr.axvline(e * self.steps_per_epoch, color="0.5", linestyle=":", linewidth=0.8)
            ax_obj.axvline(e + 0.5, color="0.5", linestyle=":", linewidth=0.8)
        ax_lr.set_xlabel("update")
        ax_lr.set_ylabel("learning rate (along the lineage)")
        ax_lr.set_title(f"{title}: the lr the best {min(top, len(self.population))} "
                        "members learned")
        ax_obj.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        ax_obj.set_xlabel("epoch")
        ax_obj.set_ylabel(f"{self.objective} ({self.eval_split})")
        ax_obj.set_title(f"{self.objective} per epoch of {len(self.population)} members")
        for ax in (ax_lr, ax_obj):
            ax.grid(True, alpha=0.3)
            ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0),
                      frameon=False)
        return fig

    def plot(self, path, top=3, title="population-based training"):
        """Write :meth:`figure` to ``path`` (``.png`` added without a format suffix);
        returns the file written."""
        from jaxlr.plot import figure_path, write_figure

        path = figure_path(path)
        write_figure(self.figure(top, title), path)
        return path


# ---------------------------------------------------------------------------
# the host loop
# ---------------------------------------------------------------------------

def _population(population):
    """Rows (one dict per member) and the sorted names."""
    if isinstance(population, Mapping):
        lengths = {n: len(np.atleast_1d(v)) for n, v in population.items()}
        if len(set(lengths.values())) > 1:
            raise _error("population", lengths, "must give every hyperparameter the same "
                         "number of values (one per member)")
        n = next(iter(lengths.values()), 0)
        rows = [{k: np.atleast_1d(v)[i] for k, v in population.items()} for i in range(n)]
    elif isinstance(population, (list, tuple)) and all(isinstance(r, Mapping)
                                                       for r in population):
        rows = [dict(r) for r in population]
    else:
        raise _error("population", population, "must be a list of hyperparameter dicts or "
                     "a dict name -> list of values")
    if len(rows) < 2:
        raise _error("population", population, "must have at least 2 members")
    names = sorted(rows[0])
    for i, r in enumerate(rows):
        if sorted(r) != names:
            raise _error("population", population, f"must name the same hyperparameters in "
                         f"every member: member 0 has {names}, member {i} {sorted(r)}")
        for k, v in r.items():
            if not isinstance(v, (int, float, np.number)) or isinstance(v, bool) or \
                    not math.isfinite(v):
                raise _error(f"population member {i} {k}", v, "must be a finite number")
    return [{k: float(r[k]) for k in names} for r in rows], tuple(names)


def _member_keys(key, n):
    def seed(s):
        return _is_int(s) or (isinstance(s, tuple) and len(s) == 2 and all(map(_is_int, s)))

    if isinstance(key, list):
        if len(key) != n or not all(map(seed, key)):
            raise _error("key", key, f"must be one int seed or (init, data) pair per member "
                         f"({n}), or one for all")
        return seed_keys([s if _is_int(s) else tuple(int(x) for x in s) for s in key])
    if not seed(key):
        raise _error("key", key, "must be an int seed, an (init, data) tuple of ints, or a "
                     "list with one per member")
    return seed_keys([key] * n)


def _check_names(trainer, rows, config):
    trainer.hparams_read(rows[0])
    names = set(rows[0])
    unknown = sorted(set(config.fixed) - names)
    if unknown:
        raise _error("fixed", list(config.fixed), f"names {unknown}, which the population "
                     f"does not have ({sorted(names)})")
    explored = names - set(config.fixed)
    if not explored:
        raise _error("fixed", list(config.fixed), "holds every hyperparameter; nothing "
                     "would be explored")
    if config.resample is not None:
        given = {r[0] for r in config.resample}
        if given - explored:
            raise _error("resample", {r[0]: r[1:] for r in config.resample},
                         f"gives ranges for {sorted(given - explored)}, which are not explored "
                         f"(explored: {sorted(explored)}, fixed: {list(config.fixed)})")
        if explored - given:
            raise _error("resample", {r[0]: r[1:] for r in config.resample},
                         f"lacks a (low, high) range for {sorted(explored - given)}")
    if config.objective == "eval_acc" and not trainer.classification:
        raise _error("objective", config.objective, "needs a classification task (this "
                     "trainer's accuracy is undefined); use 'eval_loss'")
    epochs = trainer.config.epochs
    if config.ready_every > epochs:
        raise _error("ready_every", config.ready_every,
                     f"must be <= the trainer's {epochs} epochs")


def _append(traces, out, ready):
    """Add one interval's host results to the traces (arrays, grown along their run axis)."""
    new = {f"metric.{k}": np.asarray(v) for k, v in out["metrics"].items()}
    names = sorted(out["hparams"])
    new["hparams"] = np.stack([np.asarray(out["hparams"][n], np.float64) for n in names],
                              axis=-1)[None]
    if ready:
        for k in ("parents", "replaced", "diverged"):
            new[k] = np.asarray(out[k])[None]
    for k, v in new.items():
        traces[k] = v if k not in traces else np.concatenate(
            [traces[k], v], axis=1 if k.startswith("metric.") else 0)
    return traces


def _result(traces, rows, names, keys, config, ready_epochs, seconds, trainer, resumed):
    n = len(rows)
    return PBTResult(
        names=names, population=rows, keys=[key_identity(k) for k in keys],
        metrics={k[7:]: v for k, v in traces.items() if k.startswith("metric.")},
        hparams=traces["hparams"],
        parents=traces.get("parents", np.zeros((0, n), np.int32)),
        replaced=traces.get("replaced", np.zeros((0, n), bool)),
        diverged=traces.get("diverged", np.zeros((0, n), bool)),
        ready_epochs=ready_epochs, config=config.identity(), seconds=seconds,
        steps_per_epoch=trainer.steps_per_epoch, eval_split=trainer.eval_split,
        resumed=resumed)


def pbt(trainer, population, key, *, ready_every, exploit="truncation", fraction=0.25,
        explore="perturb", perturb=None, resample=None, resample_probability=None, fixed=(),
        objective="eval_loss", seed=0, store=None, progress=False) -> PBTResult:
    """Population-based training (Jaderberg et al. 2017): a population learns its schedule.

    The members train together as one vmapped state for ``ready_every``
    epochs; then, at a *ready point*, with ``o_i`` the objective of member
    ``i`` after the last epoch (lower is better; accuracy negated) and
    ``q = max(1, floor(fraction * n))``:

    - *exploit* (truncation selection): the ``q`` lowest-ranked members, and
      every member that diverged (its objective or its training loss not
      finite: it ranks last), copy the whole state (parameters, optimizer
      state, model state, hyperparameters) of a member drawn uniformly from
      the ``q`` best finite ones. More diverged members than ``q`` are all
      replaced; NaN is never copied;
    - *explore*: each copied hyperparameter (not in ``fixed``) changes,
      each member and name independently: ``perturb``: ``h * f``, ``f`` drawn
      uniformly from ``perturb``; ``resample``: with probability
      ``resample_probability`` a new value ``exp(U(log low, log high))``.

    Members not copied continue unchanged; a copied member keeps its
    own data key (example order and dropout masks), so copies do not train on
    the same batches. The epochs of an interval and its ready point are one
    compiled program (a ``lax.scan`` over :meth:`Trainer.run_epoch`, vmapped,
    whatever ``TrainConfig.loop`` says), so every copy is a gather on the
    device. There is no ready point after the last epoch; with ``epochs`` not
    a multiple of ``ready_every`` the last interval is shorter.

    Ready point ``r`` (0-based) draws its donors and exploration from
    ``fold_in(PRNGKey(seed), r)``: the same call gives the same numbers, bit
    for bit, on the same machine, resumed or not.

    Args:
      trainer: from :func:`jaxlr.engine.make_train`; its ``config.epochs`` is the
        run's length.
      population: a list of hyperparameter dicts, one per member (at least 2,
        every one naming the same hyperparameters), or a dict name -> list of
        values (one per member). Every name must be read by the run
        (:meth:`Trainer.hparams_read`).
      key: an int seed or an ``(init, data)`` tuple of seeds for every member
        (the same initial parameters and batches), or a list of them, one per
        member (:mod:`jaxlr.engine.keys`).
      ready_every: epochs between ready points, an int in ``[1, epochs]``
        (``epochs``: no ready point, a plain vmapped sweep).
      exploit: ``"truncation"`` (Jaderberg et al.'s truncation selection).
      fraction: the fraction ``(0, 0.5]`` of members replaced and the fraction
        they copy from (Jaderberg et al. use 0.2; 0.25 here).
      explore: ``"perturb"`` or ``"resample"``.
      perturb: ``explore="perturb"`` only: positive factors to draw from
        (default ``(0.8, 1.25)``: symmetric in log scale; Jaderberg et al.
        use 0.8 and 1.2).
      resample: ``explore="resample"`` only: name -> ``(low, high)``,
        ``0 < low < high``, for every explored hyperparameter; values are
        drawn log-uniformly.
      resample_probability: ``explore="resample"`` only: the probability in
        ``(0, 1]`` that a copied hyperparameter is redrawn rather than kept at
        the donor's value (default 1: always; Jaderberg et al.'s ``p``).
      fixed: names that are copied with the weights but never explored
        (e.g. a momentum kept at 0.9).
      objective: ``"eval_loss"`` (lower is better) or ``"eval_acc"`` (higher is
        better; classification only), the last epoch's value at a ready point.
      seed: an int; the donors and the exploration draw from it.
      store: a :class:`jaxlr.engine.RunStore` (or a directory). After every
        interval the population's state and all traces are saved in one slot
        keyed by everything that determines the numbers (the trainer's
        identity, every member's hyperparameters and key, all the settings
        above, the environment); the same call later resumes after the last
        saved interval (bit-identical to an uninterrupted run) or returns the
        finished result; any other setting has its own slot.
      progress: show a progress bar over epochs (a string is its label), and
        print a line at each ready point that replaced diverged members.

    Returns:
      A :class:`PBTResult`; ``result.learned_schedule()`` is the best member's
      learned schedule, ``result.plot(path)`` draws it.

    Raises:
      ValueError: an invalid argument, naming it and its value.
      FloatingPointError: every member diverged (at a ready point, or by the
        last epoch), naming the epoch.
    """
    config = PBTConfig(ready_every=ready_every, exploit=exploit, fraction=fraction,
                       explore=explore, perturb=perturb, resample=resample,
                       resample_probability=resample_probability, fixed=tuple(fixed)
                       if not isinstance(fixed, str) else fixed, objective=objective,
                       seed=seed)
    rows, names = _population(population)
    _check_names(trainer, rows, config)
    keys = _member_keys(key, len(rows))
    epochs = trainer.config.epochs
    bounds = [*range(0, epochs, ready_every), epochs]
    intervals = list(zip(bounds[:-1], bounds[1:]))
    state = program(trainer, batched=True).init(
        {k: np.asarray([r[k] for r in rows]) for k in names}, keys)

    traces, done, seconds = {}, 0, 0.0
    slot = None
    store = as_store(store)
    if store is not None:
        slot = store.slot("pbt", {"trainer": trainer.identity(),
                                  "members": member_identities(trainer, rows, keys),
                                  "pbt": config.identity(), "environment": environment()})
        record = slot.load(template=state)
        if record is not None:
            traces, done = record.arrays, record.meta["intervals_done"]
            seconds = record.meta["seconds"]
            if not record.meta.get("complete"):
                state = jax.device_put(record.state)
    resumed = done
    bar = None
    if progress:
        label = progress if isinstance(progress, str) else (
            f"{trainer.config.name}: PBT, {len(rows)} members")
        bar = progress_bar(epochs, label, "epoch")
        bar.update(intervals[done - 1][1] if done else 0)
    start = time.perf_counter()
    for r in range(done, len(intervals)):
        lo, hi = intervals[r]
        ready = r < len(intervals) - 1
        fn = _program(trainer, config if ready else None, hi - lo)
        state, out = _run_interval(fn, state, ready_key(seed, r))
        objective_now = np.asarray(out["metrics"][config.objective])[:, -1]
        if ready:
            diverged = np.asarray(out["diverged"])
        else:
            diverged = ~np.isfinite(objective_now) | \
                (np.asarray(out["metrics"]["diverged_step"])[:, -1] >= 0)
        if diverged.all():
            if bar is not None:
                bar.close()
            where = (f"the ready point after epoch {hi}" if ready
                     else f"the last epoch ({hi})")
            raise FloatingPointError(
                f"jaxlr.sweep.pbt: every one of the {len(rows)} members diverged by {where} "
                f"({config.objective} or the training loss not finite); lower the learning "
                "rates or their range")
        traces = _append(traces, out, ready)
        now = time.perf_counter()
        seconds, start = seconds + now - start, now
        if slot is not None:
            last = r == len(intervals) - 1
            slot.save(Record(meta={"intervals_done": r + 1, "intervals": len(intervals),
                                   "seconds": seconds, "complete": last, "names": list(names)},
                             arrays=traces, state=None if last else state))
        if bar is not None:
            if ready and diverged.any():
                write_above_bars(f"pbt: ready point after epoch {hi}: {int(diverged.sum())} "
                                 f"diverged member(s) {np.flatnonzero(diverged).tolist()} "
                                 "replaced by copies of the best")
            bar.update(hi - lo)
            with np.errstate(all="ignore"):
                best = (np.nanmax if OBJECTIVES[config.objective] else np.nanmin)(
                    np.where(diverged, np.nan, objective_now))
            bar.set_postfix({f"best {config.objective}": f"{best:.4g}"})
    if bar is not None:
        bar.close()
    return _result(traces, rows, names, keys, config, [b for _, b in intervals[:-1]],
                   seconds, trainer, resumed)
