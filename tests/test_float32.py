"""The default float32 schedules against the same schedules in float64.

The equivalence tests compare in float64 (the references' precision); this
bounds what float32 adds, over every registry case on its dense grid (the
horizon values excluded where a value underflows to ~0).
"""

import jax
import numpy as np
import pytest

from equivalence import assert_matches
from registry import CASES


@pytest.mark.parametrize("case", CASES, ids=str)
def test_float32_is_float64_up_to_rounding(case):
    steps = np.arange(3 * case.horizon + 1)
    ours32 = np.asarray(case.build(**case.params)(steps))
    with jax.enable_x64(True):
        ours64 = np.asarray(case.build(**case.params)(steps))
    assert ours32.dtype == np.float32 and ours64.dtype == np.float64
    # values below 1e-30 are float32 underflow territory, not schedule error
    assert_matches("float32 vs float64", ours32, ours64, label=case.name, rtol=1e-5, atol=1e-30)
