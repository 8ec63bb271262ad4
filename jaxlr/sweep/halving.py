"""Successive halving on the vmapped program: hopeless members stop early."""

from __future__ import annotations

import math
import time

import jax
import numpy as np

from jaxlr.engine.driver import member_identities, program, train_epochs
from jaxlr.engine.store import Record, as_store
from jaxlr.sweep.results import SweepResult
from jaxlr.engine.keys import seed_keys
from jaxlr.sweep.run import stack_epochs, stack_hparams
from jaxlr.sweep.space import seed_list, table

__all__ = ["successive_halving"]

_METRICS = ("train_loss", "train_acc", "eval_loss", "eval_acc")


def _rungs(total, rung_epochs):
    if rung_epochs is None:
        rung_epochs, left, r = [], total, 1
        while left > 0:
            rung_epochs.append(min(r, left))
            left -= rung_epochs[-1]
            r *= 2
    if sum(rung_epochs) != total or min(rung_epochs) < 1:
        raise ValueError(f"jaxlr.successive_halving: rung_epochs must be positive and sum to "
                         f"the trainer's {total} epochs, got {rung_epochs!r}")
    return list(rung_epochs)


def successive_halving(trainer, configs, base=None, seeds=1, seed=0, rung_epochs=None, eta=3,
                       metric="eval_acc", store=None):
    """Successive halving: train all configurations briefly, keep the best 1/eta, repeat.

    Every configuration trains ``rung_epochs[0]`` epochs (all seeds, vmapped);
    the ``ceil(K / eta)`` best by the seed-mean of ``metric`` (diverged ones
    last) continue for ``rung_epochs[1]`` more epochs, and so on, until
    ``trainer.config.epochs`` epochs in all (Jamieson & Talwalkar 2016; the
    budget schedule of Hyperband's inner loop, Li et al. 2018).

    Args:
      trainer, configs, base, seeds, seed: as :func:`jaxlr.sweep.sweep`.
      rung_epochs: epochs per rung, summing to ``trainer.config.epochs``
        (default: doubling rungs, e.g. 1, 2, 4, ... with the remainder last).
      eta: keep ``1/eta`` of the configurations per rung (``>= 2``).
      metric: what ranks them (higher is better).
      store: a :class:`jaxlr.engine.RunStore` (or directory): the state of the
        surviving members is saved after every rung, and a later call with the
        same everything resumes after the last finished rung.

    Returns:
      ``(result, survivors)``: a :class:`SweepResult` whose metrics are NaN for
      the epochs a configuration did not train, and for each rung the indices
      of the configurations that trained in it.
    """
    swept, rows = table(configs, base)
    if not isinstance(eta, (int, float)) or eta < 2:
        raise ValueError(f"jaxlr.successive_halving: eta must be >= 2, got {eta!r}")
    total = trainer.config.epochs
    rung_epochs = _rungs(total, rung_epochs)
    trainer.hparams_read(rows[0])
    seeds_ = seed_list(seeds, seed)
    k, s_count = len(rows), len(seeds_)
    shape = (k, s_count, total)
    out = {m: np.full(shape, np.nan) for m in _METRICS}
    out["lr"] = np.full((*shape, trainer.steps_per_epoch), np.nan)
    out["step_loss"] = np.full((*shape, trainer.steps_per_epoch), np.nan)
    out["diverged_step"] = np.full((k, s_count), -1, np.int64)
    prog = program(trainer, batched=True)
    members = [r for r in rows for _ in seeds_]
    keys = seed_keys(seeds_ * k)
    state0 = prog.init(stack_hparams(members), keys)
    alive, done, survivors, first_rung = np.arange(k), 0, [], 0
    store = as_store(store)
    slot = None
    if store is not None:
        slot = store.slot("halving", {"trainer": trainer.identity(),
                                      "halving": {"rung_epochs": rung_epochs, "eta": eta,
                                                  "metric": metric},
                                      "members": member_identities(trainer, members, keys)})

        def template(meta):
            index = _member_index(np.asarray(meta["alive"]), s_count)
            return jax.tree_util.tree_map(lambda x: x[index], state0)

        record = slot.load(template=template)
        if record is not None:
            out = {name: record.arrays[name] for name in out}
            alive, done = np.asarray(record.meta["alive"]), record.meta["done"]
            survivors, first_rung = record.meta["survivors"], record.meta["rung"]
            state = jax.device_put(record.state)
    if first_rung == 0:
        state = state0
    start = time.perf_counter()
    for rung in range(first_rung, len(rung_epochs)):
        epochs = rung_epochs[rung]
        survivors.append(alive.tolist())
        state, per_epoch = train_epochs(prog, state, epochs)
        metrics = stack_epochs(per_epoch)
        for name, values in metrics.items():
            values = values.reshape(len(alive), s_count, *values.shape[1:])
            if name == "diverged_step":
                out[name][alive] = values
            else:
                out[name][alive, :, done:done + epochs] = values
        done += epochs
        if rung == len(rung_epochs) - 1:
            break
        score = out[metric][alive, :, done - 1].copy()
        score[out["diverged_step"][alive] >= 0] = -np.inf
        order = np.argsort(-np.nanmean(np.where(np.isnan(score), -np.inf, score), 1),
                           kind="stable")
        keep = np.sort(order[:max(1, math.ceil(len(alive) / eta))])
        state = jax.tree_util.tree_map(lambda x: x[_member_index(keep, s_count)], state)
        alive = alive[keep]
        if slot is not None:
            slot.save(Record(meta={"alive": alive.tolist(), "done": done, "rung": rung + 1,
                                   "survivors": survivors}, arrays=out, state=state))
    result = SweepResult(swept=swept, configs=rows, seeds=seeds_, metrics=out,
                         strategy="halving", seconds=time.perf_counter() - start,
                         steps_per_epoch=trainer.steps_per_epoch, eval_split=trainer.eval_split)
    return result, survivors


def _member_index(configs, s_count):
    return (np.asarray(configs)[:, None] * s_count + np.arange(s_count)).reshape(-1)
