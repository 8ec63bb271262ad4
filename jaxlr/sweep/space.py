"""Search spaces: hyperparameter grids, random draws, value lists from the command line."""

from __future__ import annotations

import itertools
from typing import Mapping

import numpy as np

__all__ = ["grid", "log_uniform", "parse_values", "seed_list", "seed_text", "seeds_text", "table"]


def grid(**axes):
    """The cartesian product of hyperparameter values, as a config table.

    >>> grid(lr=[0.1, 0.01], momentum=[0.0, 0.9])["lr"].tolist()
    [0.1, 0.1, 0.01, 0.01]
    """
    if not axes:
        raise ValueError("jaxlr.sweep.grid: give at least one hyperparameter axis")
    names = list(axes)
    for name, values in axes.items():
        if len(np.atleast_1d(values)) == 0:
            raise ValueError(f"jaxlr.sweep.grid: {name} has no values")
    rows = list(itertools.product(*(np.atleast_1d(axes[n]).tolist() for n in names)))
    return {n: np.array([r[i] for r in rows], np.float64) for i, n in enumerate(names)}


def log_uniform(seed, num, low, high, name="lr"):
    """``num`` values drawn log-uniformly from ``[low, high]`` (seeded), as a config table."""
    if not (0 < low < high):
        raise ValueError(f"jaxlr.sweep.log_uniform: need 0 < low < high, got low={low!r}, "
                         f"high={high!r}")
    if num < 1:
        raise ValueError(f"jaxlr.sweep.log_uniform: num must be >= 1, got {num!r}")
    u = np.random.default_rng(seed).uniform(np.log(low), np.log(high), num)
    return {name: np.exp(u)}


def table(configs, base):
    """``(swept names, full rows)``: configs (dict of equal-length arrays, or list of dicts) + base."""
    if isinstance(configs, Mapping):
        lengths = {n: len(np.atleast_1d(v)) for n, v in configs.items()}
        if len(set(lengths.values())) != 1:
            raise ValueError(f"jaxlr.sweep: every swept hyperparameter needs the same number "
                             f"of values, got {lengths}")
        k = next(iter(lengths.values()))
        rows = [{n: float(np.atleast_1d(v)[i]) for n, v in configs.items()} for i in range(k)]
        swept = tuple(configs)
    else:
        rows = [dict(r) for r in configs]
        swept = tuple(sorted({n for r in rows for n in r}))
    if not rows:
        raise ValueError("jaxlr.sweep: no configurations to run")
    full = [{**dict(base or {}), **r} for r in rows]
    names = set(full[0])
    for r in full:
        if set(r) != names:
            raise ValueError(f"jaxlr.sweep: configurations name different hyperparameters: "
                             f"{sorted(names)} vs {sorted(r)}")
    return swept, [{k: float(v) for k, v in r.items()} for r in full]


def _seed(s):
    """An int seed, or an ``(init, data)`` pair of ints as a tuple (see :mod:`jaxlr.engine.keys`)."""
    def is_int(x):
        return isinstance(x, (int, np.integer)) and not isinstance(x, bool)

    if isinstance(s, (tuple, list)) and len(s) == 2 and all(map(is_int, s)):
        return (int(s[0]), int(s[1]))
    if not is_int(s):
        raise ValueError(f"jaxlr.sweep: a seed is an int or an (init, data) pair of ints, "
                         f"got {s!r}")
    return int(s)


def seed_list(seeds, seed=0):
    """``seeds`` seeds from ``seed`` on, or the given list of seeds (ints, or
    ``(init, data)`` pairs: the init seed and the data seed apart)."""
    if isinstance(seeds, (int, np.integer)):
        if seeds < 1:
            raise ValueError(f"jaxlr.sweep: seeds must be >= 1, got {seeds!r}")
        return [seed + s for s in range(int(seeds))]
    out = [_seed(s) for s in seeds]
    if not out:
        raise ValueError("jaxlr.sweep: seeds must not be empty")
    return out


def seed_text(seed):
    """``7``, or ``7/0`` for the pair (init 7, data 0)."""
    return f"{seed[0]}/{seed[1]}" if isinstance(seed, tuple) else str(seed)


def seeds_text(seeds):
    """A list of seeds for people: ``seed 7``, ``seeds 7-16`` (consecutive),
    ``seeds 1, 5, 9``, or with pairs ``seeds (init/data) 5/0, 6/1``."""
    seeds = [s if isinstance(s, tuple) else int(s) for s in seeds]
    if any(isinstance(s, tuple) for s in seeds):
        return "seeds (init/data) " + ", ".join(map(seed_text, seeds))
    if len(seeds) == 1:
        return f"seed {seeds[0]}"
    if seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds {seeds[0]}-{seeds[-1]}"
    return "seeds " + ", ".join(map(str, seeds))


def parse_values(spec):
    """Values from ``LOW:HIGH:log:N``, ``LOW:HIGH:lin:N``, ``V1,V2,...`` or
    ``LOW:HIGH`` (the two ends, e.g. the range of a random search).

    >>> parse_values("1e-3:1:log:4").round(6).tolist()
    [0.001, 0.01, 0.1, 1.0]
    """
    parts = spec.split(":")
    try:
        if len(parts) == 4:
            low, high, kind, num = float(parts[0]), float(parts[1]), parts[2], int(parts[3])
            if num < 1:
                raise ValueError
            if kind == "log":
                if not 0 < low <= high:
                    raise ValueError
                return np.geomspace(low, high, num)
            if kind == "lin":
                return np.linspace(low, high, num)
            raise ValueError
        if len(parts) == 2:
            return np.array([float(parts[0]), float(parts[1])])
        if len(parts) == 1:
            return np.array([float(v) for v in spec.split(",")])
    except ValueError:
        pass
    raise ValueError(f"not a value list: {spec!r} (use LOW:HIGH:log:N with 0 < LOW <= HIGH, "
                     "LOW:HIGH:lin:N, V1,V2,... or LOW:HIGH)")
