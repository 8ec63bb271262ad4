"""The ``jaxlr`` command as a user meets it: every mistake is one line, never a traceback.

Each command runs as a subprocess (``python -m jaxlr.cli``), the way a user
types it; the tests assert on the exit status and the words of the message.
"""

import errno
import os
import pathlib
import signal
import subprocess
import sys
import time

import pytest

SHARED = pathlib.Path(os.environ.get(
    "JAXLR_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))
REPO = pathlib.Path(__file__).resolve().parents[1]


def jaxlr(*args, cwd, env=None, timeout=300):
    """Run ``jaxlr ARGS`` in ``cwd``; return (exit status, stdout, stderr)."""
    done = subprocess.run([sys.executable, "-m", "jaxlr.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})})
    return done.returncode, done.stdout, done.stderr


def one_line_error(err, prog):
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith(f"jaxlr {prog}: error: "), err
    assert "Traceback" not in err
    return lines[0]


MISTAKES = [
    (["sweep", "ionosphere", "--lr", "1e-3:1", "--random", "0"],
     "argument --random: must be >= 1, got 0"),
    (["sweep", "ionosphere", "--lr", "0.1", "--param", "lr=0.2"],
     "lr is swept twice (--lr and --param lr=0.2): give its values once"),
    (["sweep", "ionosphere", "--lr", "1e-3:1", "--random", "3", "--param", "momentum=0.1,0.9"],
     "--random samples the lr only; drop --param momentum"),
    (["sweep", "ionosphere", "--lr=nan"], "--lr nan: lr values must be finite and > 0, got nan"),
    (["sweep", "ionosphere", "--lr=inf"], "--lr inf: lr values must be finite and > 0, got inf"),
    (["sweep", "ionosphere", "--lr=-0.1"],
     "--lr -0.1: lr values must be finite and > 0, got -0.1"),
    (["sweep", "ionosphere", "--lr", "0.1,0.2", "--param", "momentum=0.5,nan"],
     "momentum values must be finite, got nan"),
    (["sweep", "ionosphere", "--lr", "1e-3:1:log"], "--lr: not a value list: '1e-3:1:log'"),
    (["sweep", "ionosphere", "--lr", "0.1,0.2", "--chunk-size", "8"],
     "--chunk-size 8 is only read with --strategy chunked (this sweep: --strategy auto)"),
    (["sweep", "ionosphere", "--lr", "0.1,0.2", "--random-seed", "3"],
     "--random-seed 3 is only read with --random N"),
    (["sweep", "ionosphere"], "nothing to sweep: give --lr VALUES and/or --param NAME=VALUES"),
    (["sweep", "imagenet", "--lr", "0.1"], "unknown comparison 'imagenet'"),
    (["plot", "cosine(0.1, 100)", "linear(0.1, 0, 100)", "--label", "a", "--steps", "100"],
     "--label given 1 time(s) for 2 expression(s): give one --label per expression"),
    (["plot", "cosine(0.1, 100)", "--steps", "0"], "argument --steps: must be >= 1, got 0"),
    (["plot", "cosine(0.1, x)", "--steps", "10"], "not allowed in a schedule expression: 'x'"),
    (["compare", "ionosphere", "--seeds", "0"], "argument --seeds: must be >= 1, got 0"),
    (["compare", "ionosphere", "--epochs", "two"], "argument --epochs: not a whole number: 'two'"),
    (["lr-find", "ionosphere", "--min-lr", "1", "--max-lr", "0.1"],
     "--min-lr 1 must be below --max-lr 0.1"),
    (["lr-find", "ionosphere", "--max-lr", "inf"],
     "argument --max-lr: must be a finite number > 0, got inf"),
]


@pytest.fixture(scope="module")
def answers(tmp_path_factory):
    """Every mistake's (status, stdout, stderr): the commands run side by side, as subprocesses."""
    from concurrent.futures import ThreadPoolExecutor

    where = tmp_path_factory.mktemp("mistakes")

    def one(k):
        args = MISTAKES[k][0]
        return jaxlr(*args, "--out", str(where / f"out{k}"), cwd=where)

    with ThreadPoolExecutor(max_workers=4) as pool:
        done = list(pool.map(one, range(len(MISTAKES))))
    return where, done


@pytest.mark.parametrize("case", range(len(MISTAKES)), ids=lambda k: " ".join(MISTAKES[k][0]))
def test_each_mistake_is_one_line_and_status_2(answers, case):
    args, message = MISTAKES[case]
    where, done = answers
    status, out, err = done[case]
    assert status == 2, (out, err)
    assert message in one_line_error(err, args[0])
    assert not (where / f"out{case}" / "store").exists()  # refused before any work


def test_plot_creates_folders_and_prints_the_file_it_wrote(tmp_path):
    status, out, err = jaxlr("plot", "cosine(0.1, 100)", "--steps", "100", "--out",
                             "plots/deeper/lr", cwd=tmp_path)
    assert status == 0, err
    written = tmp_path / "plots" / "deeper" / "lr.png"
    assert written.read_bytes()[:4] == b"\x89PNG"
    assert out.startswith("wrote plots/deeper/lr.png ")


def test_output_folder_that_cannot_be_written_is_refused_before_any_work(tmp_path):
    (tmp_path / "a-file").write_text("")
    for where, why in ((tmp_path / "a-file" / "results", "Not a directory"),
                       (pathlib.Path("/proc/jaxlr-no-such-folder/results"),
                        "No such file or directory")):
        start = time.perf_counter()
        status, _, err = jaxlr("compare", "ionosphere", "--out", str(where), cwd=tmp_path)
        line = one_line_error(err, "compare")
        assert status == 2
        assert f"--out {where}: cannot write there ({why}); choose another --out" in line
        assert time.perf_counter() - start < 60  # no training happened


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_output_folder_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    status, _, err = jaxlr("sweep", "ionosphere", "--lr", "0.1", "--out", str(locked / "x"),
                           cwd=tmp_path)
    assert status == 2
    assert "cannot write there (Permission denied)" in one_line_error(err, "sweep")


def test_no_space_left_says_what_a_checkpoint_needs(tmp_path, monkeypatch, capsys):
    from jaxlr import cli
    from jaxlr.engine import store

    def full(path, data):
        raise OSError(errno.ENOSPC, "No space left on device", str(path))

    monkeypatch.setattr(store, "atomic_write_bytes", full)
    status = cli.main(["compare", "ionosphere", "--epochs", "1", "--no-progress", "--out",
                       str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert status == 1
    line = one_line_error(err, "compare")
    assert "no space left on the device of" in line
    assert "this checkpoint needs" in line and "kB" in line and "are free" in line


TASK = '''
import numpy as np
from jaxlr import data, engine, task

def broken():
    return np.load("{missing}")

def crashing():
    raise RuntimeError("the task's own bug")
'''


def test_other_failures_are_one_line_naming_the_file(tmp_path):
    (tmp_path / "mytasks.py").write_text(TASK.format(missing=tmp_path / "nope.npz"))
    env = {"PYTHONPATH": str(tmp_path)}
    status, _, err = jaxlr("sweep", "mytasks:broken", "--lr", "0.1", cwd=tmp_path, env=env)
    assert status == 1
    assert f"{tmp_path / 'nope.npz'}: No such file or directory" in one_line_error(err, "sweep")
    status, _, err = jaxlr("sweep", "mytasks:crashing", "--lr", "0.1", cwd=tmp_path, env=env)
    assert status == 1
    line = one_line_error(err, "sweep")
    assert "RuntimeError: the task's own bug" in line and "JAXLR_TRACEBACK=1" in line
    status, _, err = jaxlr("sweep", "mytasks:crashing", "--lr", "0.1", cwd=tmp_path,
                           env={**env, "JAXLR_TRACEBACK": "1"})
    assert status == 1 and "Traceback" in err and "the task's own bug" in err


def _default_sigint():
    # a child of a shell job started in the background inherits an ignored SIGINT, and
    # Python then never raises KeyboardInterrupt: give the command a terminal's default
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_says_what_was_saved_and_the_rerun_what_is_reused(tmp_path):
    args = [sys.executable, "-m", "jaxlr.cli", "compare", "ionosphere", "--runs", "reference",
            "--out", "out", "--no-progress"]
    proc = subprocess.Popen(args, cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, preexec_fn=_default_sigint)
    store = tmp_path / "out" / "store"
    deadline = time.time() + 240
    while not list(store.glob("*.run")) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"jaxlr compare: interrupted; saved in {pathlib.Path('out/store')}: ")
    assert "Run the same command again to resume" in last
    status, out, err = jaxlr(*args[3:], cwd=tmp_path)
    assert status == 0, err
    plan = out.splitlines()[0]
    assert plan.startswith("ionosphere: 4 runs x 1 seed(s) = 4 training runs, 50 epochs each, "
                           "seed 7 (seed 7, as in Brownlee's Keras experiment); ")
    assert "already done in" in plan or "resume after their last saved epoch" in plan
    status, out, _ = jaxlr(*args[3:], cwd=tmp_path)
    assert "; 4 of 4 already done in " in out.splitlines()[0]


def test_ctrl_c_as_soon_as_a_sweep_starts(tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "jaxlr.cli", "sweep", "ionosphere", "--lr",
                             "1e-3:1:log:8", "--seeds", "2", "--out", "out", "--no-progress"],
                            cwd=tmp_path, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                            preexec_fn=_default_sigint)
    plan = proc.stdout.readline()  # printed when the work starts
    assert plan.startswith("ionosphere: 8 configs x 2 seeds 7-8 = 16 runs, 50 epochs each")
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    last = err.strip().splitlines()[-1]
    assert last.startswith("jaxlr sweep: interrupted; ")
    assert "nothing new was saved" in last or "Run the same command again to resume" in last


def test_interruption_report_without_a_store():
    import argparse

    from jaxlr.cli import _interrupted

    assert _interrupted(argparse.Namespace()) == "nothing was written"


def test_compare_progress_names_the_run_and_prints_results_above_the_bar(tmp_path):
    status, out, err = jaxlr("compare", "ionosphere", "--runs", "reference", "--epochs", "2",
                             "--seeds", "2", "--out", "out", cwd=tmp_path)
    assert status == 0, err
    assert "[1/4] constant, seeds 7-8" in err and "[4/4] exponential, seeds 7-8" in err
    assert "mean acc=" in err and "median loss=" in err and "lr=0.1" in err
    lines = out.splitlines()
    assert lines[0].startswith("ionosphere: 4 runs x 2 seed(s) = 8 training runs, 2 epochs "
                               "each, seeds 7-8 (seed 7, as in Brownlee's Keras experiment)")
    results = [line for line in lines if " seed 7: " in line or " seed 8: " in line]
    assert len(results) == 8
    assert all(line.startswith("ionosphere: ") and "validation acc" in line for line in results)
    assert "\r" not in out


def test_published_numbers_only_with_the_published_budget(tmp_path):
    status, _, err = jaxlr("compare", "ionosphere", "--runs", "reference", "--epochs", "1",
                           "--no-progress", "--out", "out", cwd=tmp_path)
    assert status == 0, err
    md = (tmp_path / "out" / "results.md").read_text()
    assert "published" not in md.splitlines()[6].lower()  # the table header
    assert "0.990" not in md
    assert ("Published numbers are not shown: they are for 50 epochs on the full ionosphere "
            "data, and this run used 1 epoch(s)") in md


def test_the_main_job_leaves_a_clone_clean(tmp_path):
    status, out, err = jaxlr("compare", "ionosphere", "--runs", "constant", "--epochs", "1",
                             "--no-progress", cwd=tmp_path)
    assert status == 0, err
    assert (tmp_path / "jaxlr-results" / "ionosphere" / "results.md").is_file()
    assert out.strip().splitlines()[-1].startswith("wrote jaxlr-results/ionosphere/: ")
    if (REPO / ".git").exists():
        ignored = subprocess.run(["git", "check-ignore", "-q",
                                  "jaxlr-results/ionosphere/results.md"], cwd=REPO)
        assert ignored.returncode == 0, "jaxlr-results/ must be ignored by git"


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="no ../shared/data")
def test_datasets_names_fashion_mnist_files_given_for_mnist(tmp_path):
    status, out, _ = jaxlr("datasets", "--data-dir", str(SHARED / "fashion_mnist"),
                           cwd=tmp_path)
    assert status == 0
    mnist = next(line for line in out.splitlines() if line.startswith("mnist "))
    assert "these are Fashion-MNIST files" in mnist and "corrupt" not in mnist


def test_every_option_says_what_it_does_and_its_default():
    from jaxlr.cli import build_parser

    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices
    for name, command in commands.items():
        for action in command._actions:
            if action.dest in ("help", "list") or not action.option_strings:
                continue
            assert action.help, f"jaxlr {name} {action.option_strings[0]} has no help"
            assert "default" in action.help or "required" in action.help, (
                f"jaxlr {name} {action.option_strings[0]}: help does not give the default")


def test_lr_find_help_shows_defaults(tmp_path):
    status, out, _ = jaxlr("lr-find", "--help", cwd=tmp_path)
    assert status == 0
    text = " ".join(out.split())
    for words in ("lr of the first update of the ramp (default 1e-7)",
                  "lr of the last update of the ramp (default 10)",
                  "updates in the ramp, each at a larger lr (default 100)"):
        assert words in text
