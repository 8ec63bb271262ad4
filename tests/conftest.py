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


def _merge(into, tally):
    for library, entry in tally.items():
        total = into[library]
        total["configs"] += entry["configs"]
        total["points"] += entry["points"]
        total["max_rel_err"] = max(total["max_rel_err"], entry["max_rel_err"])


def pytest_sessionfinish(session):
    # a pytest-xdist worker hands its tally to the controller, which prints the sum
    workeroutput = getattr(session.config, "workeroutput", None)
    if workeroutput is not None:
        workeroutput["equivalence_tally"] = json.dumps(dict(TALLY))


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    tally = getattr(node, "workeroutput", {}).get("equivalence_tally")
    if tally:
        _merge(TALLY, json.loads(tally))


def pytest_terminal_summary(terminalreporter):
    if hasattr(terminalreporter.config, "workerinput") or not TALLY:
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
