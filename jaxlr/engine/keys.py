"""Keys as the engine carries them: raw uint32 key data."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = ["is_typed_key", "raw_key", "seed_keys"]


def raw_key(key):
    """A raw uint32 key from an int seed, a typed key or a raw key."""
    if isinstance(key, (int, np.integer)):
        return jax.random.PRNGKey(int(key))
    key = jnp.asarray(key)
    if jnp.issubdtype(key.dtype, jax.dtypes.prng_key):
        key = jax.random.key_data(key)
    return key


def seed_keys(seeds):
    """The raw keys of integer seeds, stacked ``[len(seeds), 2]``."""
    return jnp.stack([jax.random.PRNGKey(int(s)) for s in seeds])


def is_typed_key(x):
    """Whether ``x`` is an array of typed PRNG keys (``jax.random.key``)."""
    return hasattr(x, "dtype") and jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key)
