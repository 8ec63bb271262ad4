"""Keys as the engine carries them: raw uint32 key data.

A run's randomness has two sources: its *init* (the parameters' initial
values) and its *data* (each epoch's example order and the dropout keys). A
seed is an int ``s``, both from ``PRNGKey(s)``, or a pair ``(init, data)``,
each from its own ``PRNGKey``. Runs with the same data seed see the same
batches in the same order and the same dropout masks (common random numbers):
paired comparisons between configurations are less noisy. The pair
``(s, s)`` is the same run as the seed ``s``, bit for bit.

Keys: an int seed's raw key has shape ``[2]``; a pair's ``[2, 2]`` (its init
key, then its data key).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["is_typed_key", "key_identity", "raw_key", "seed_keys", "split_key"]


def _is_int(x):
    return isinstance(x, (int, np.integer)) and not isinstance(x, bool)


def _is_pair(x):
    # a tuple only: a list or an array of two ints is raw key data, as before pairs existed
    return isinstance(x, tuple) and len(x) == 2 and all(map(_is_int, x))


def raw_key(key):
    """A raw uint32 key from an int seed, an ``(init, data)`` seed pair (a tuple), a typed
    key or a raw key (``[2]``; a pair's ``[2, 2]``; a list is read as raw key data)."""
    if _is_int(key):
        return jax.random.PRNGKey(int(key))
    if _is_pair(key):
        return jnp.stack([jax.random.PRNGKey(int(s)) for s in key])
    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return key


def seed_keys(seeds):
    """The raw keys of seeds (ints or ``(init, data)`` pairs), stacked ``[len(seeds), ...]``.

    When any seed is a pair, every int seed ``s`` becomes ``(s, s)`` (the same
    run), so that the keys stack.
    """
    if any(_is_pair(s) for s in seeds):
        seeds = [s if _is_pair(s) else (s, s) for s in seeds]
    return jnp.stack([raw_key(s if _is_pair(s) else int(s)) for s in seeds])


def split_key(key):
    """``(init_key, data_key)`` of a run's raw key (``[2]`` or an ``(init, data)`` pair's
    ``[2, 2]``); a pair whose two keys are equal splits as its one key does."""
    if key.ndim == 2:
        return jax.random.split(key[0])[0], jax.random.split(key[1])[1]
    init_key, data_key = jax.random.split(key)
    return init_key, data_key


def key_identity(key):
    """A run key as the run store names it (a list of ints); a pair of equal keys is
    named as its one key (they train the same run)."""
    key = np.asarray(jax.device_get(raw_key(key))).astype(np.uint32)
    if key.ndim == 2 and (key[0] == key[1]).all():
        key = key[0]
    return key.tolist()


def is_typed_key(x):
    """Whether ``x`` is an array of typed PRNG keys (``jax.random.key``)."""
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
