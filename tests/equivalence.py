"""Comparison of jaxlr schedules with reference values, with a running tally.

Every equivalence test calls :func:`assert_matches`; the tally (configurations
and largest relative error per reference library) is printed at the end of the
pytest run by ``conftest.py`` and is what the closing notes quote.
"""

from __future__ import annotations

import collections

import numpy as np

RTOL = 1e-6
# Reference values are compared relatively; exact zeros (e.g. a cosine's end)
# need an absolute floor far below any learning rate.
ATOL = 1e-12

TALLY = collections.defaultdict(lambda: {"configs": 0, "points": 0, "max_rel_err": 0.0})


def assert_matches(library, ours, reference, label="", rtol=RTOL, atol=ATOL):
    """Assert ``ours`` equals ``reference`` elementwise and record the comparison.

    Args:
      library: the reference's name for the tally, e.g. ``"torch"``.
      ours: values from jaxlr (any array-like).
      reference: reference values, same shape.
      label: what was compared, for the failure message.
    """
    ours = np.asarray(ours, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    assert ours.shape == reference.shape, (label, ours.shape, reference.shape)
    scale = np.abs(reference)
    rel = np.where(scale > 0, np.abs(ours - reference) / np.where(scale > 0, scale, 1.0),
                   np.abs(ours - reference))
    entry = TALLY[library]
    entry["configs"] += 1
    entry["points"] += int(reference.size)
    if rel.size:
        entry["max_rel_err"] = max(entry["max_rel_err"], float(np.nanmax(rel)))
    np.testing.assert_allclose(ours, reference, rtol=rtol, atol=atol, err_msg=label)


def evaluate(schedule, n):
    """jaxlr ``schedule`` on steps ``0..n-1`` (one eager vectorised call), as float64.

    The grid is padded to a power of two and cut back: eager jax compiles each
    operation once per shape, so a few shared shapes keep the file fast.
    """
    padded = 1 << max(n - 1, 1).bit_length()
    values = schedule(np.arange(padded))
    assert values.dtype == np.float64, "the x64 fixture must be active"
    return np.asarray(values)[:n]
