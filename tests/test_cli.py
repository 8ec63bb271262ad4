"""The ``jaxlr`` command: expression parsing and ``jaxlr plot``."""

import numpy as np
import pytest

import jaxlr
from jaxlr.cli import main, parse_schedule


def test_parse_builds_the_same_schedule_as_python():
    text = "warmup(cosine(0.1, 10*100, end_value=0.001), 100, mode='cosine')"
    steps = np.arange(0, 1500, 7)
    expected = jaxlr.warmup(jaxlr.cosine(0.1, 1000, end_value=0.001), 100, mode="cosine")(steps)
    np.testing.assert_array_equal(parse_schedule(text)(steps), expected)


def test_parse_lists_keys_and_negative_numbers():
    s = parse_schedule("join([constant(1), shift(linear(1, 0, 4), -2)], [3])")
    np.testing.assert_allclose(s(np.arange(6)), [1, 1, 1, 0.5, 0.25, 0.0])
    noisy = parse_schedule("noisy_linear_cosine(0.1, 100, key(3))")
    assert np.all(np.isfinite(noisy(np.arange(10))))


@pytest.mark.parametrize("text,match", [
    ("foo(1)", "unknown schedule 'foo'"),
    ("__import__('os').system('true')", "unknown schedule"),
    ("cosine(0.1, x)", "not allowed"),
    ("cosine(0.1, 100) + 1", "not allowed"),
    ("0.1", "not a schedule"),
    ("cosine(0.1,", "not a valid expression"),
    ("shift(constant(1), 10.0**400)", "overflow"),
    ("cosine(0.1, -5)", "decay_steps must be > 0"),
])
def test_parse_rejects(text, match):
    with pytest.raises(ValueError, match=match):
        parse_schedule(text)


def test_plot_writes_a_png(tmp_path, capsys):
    out = tmp_path / "lr.png"
    rc = main(["plot", "cosine(0.1, 100)", "one_cycle(0.1, 100)", "--steps", "120",
               "--out", str(out), "--label", "cosine", "--label", "one cycle", "--log"])
    assert rc == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert out.stat().st_size > 10_000
    assert "wrote" in capsys.readouterr().out


def test_plot_error_is_reported_not_raised(tmp_path, capsys):
    rc = main(["plot", "cosine(0.1, 0)", "--steps", "10", "--out", str(tmp_path / "x.png")])
    assert rc == 2
    assert "decay_steps must be > 0, got 0" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_plot_rejects_bad_step_range(tmp_path, capsys):
    assert main(["plot", "constant(1)", "--steps", "0", "--out", str(tmp_path / "x.png")]) == 2
    assert "argument --steps: must be >= 1, got 0" in capsys.readouterr().err


def test_plot_samples_long_ranges():
    from jaxlr.plot import MAX_POINTS, schedule_steps

    steps = schedule_steps(10**7)
    assert len(steps) <= MAX_POINTS and steps[0] == 0 and steps[-1] == 10**7 - 1


def test_no_command_prints_help(capsys):
    assert main([]) == 0
    assert "plot" in capsys.readouterr().out
