import json
import os

import jax
import pytest

from equivalence import TALLY


@pytest.fixture
def x64():
    """Run the test body with 64-bit floats (references compute in float64)."""
    with jax.enable_x64(True):
        yield


def pytest_terminal_summary(terminalreporter):
    if not TALLY:
        return
    terminalreporter.section("equivalence with references")
    terminalreporter.write_line(f"{'reference':<14}{'configs':>9}{'points':>10}{'max rel err':>14}")
    for library, entry in sorted(TALLY.items()):
        terminalreporter.write_line(
            f"{library:<14}{entry['configs']:>9}{entry['points']:>10}{entry['max_rel_err']:>14.3g}")
    path = os.environ.get("JAXLR_EQUIVALENCE_REPORT")
    if path:
        with open(path, "w") as f:
            json.dump(dict(TALLY), f, indent=2, sort_keys=True)
