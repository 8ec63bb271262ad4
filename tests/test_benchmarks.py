"""The accelerator suite runs, seconds-sized, on any machine (``--tiny``), so it is
ready the day a GPU is lent; its figures come from the full run on one."""

import importlib.util
import json
import math
import os
import pathlib
import sys

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SHARED = pathlib.Path(os.environ.get(
    "JAXLR_SHARED_DATA", pathlib.Path(__file__).resolve().parents[2] / "shared" / "data"))


def _load(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="no ../shared/data")
def test_gpu_suite_tiny_writes_its_report(tmp_path, capsys):
    suite = _load("gpu_suite")
    suite.main(["--tiny", "--data-dir", str(SHARED), "--out", str(tmp_path)])
    [json_path] = tmp_path.glob("gpu_suite-*-tiny.json")
    report = json.loads(json_path.read_text())
    assert report["tiny"] and report["versions"]["jax"] and report["device"]
    s = report["sections"]
    names = report["sizes"]["d2l_schedules"]
    for part in ("d2l_comparison", "d2l_one_program"):
        assert s[part]["seconds"] > 0 and sorted(s[part]["final_acc"]) == sorted(names)
    # the one-program form trains exactly the comparison's schedules, step by step
    assert s["d2l_one_program"]["lr_max_rel_diff"] <= 1e-6
    for a, b in zip(s["d2l_comparison"]["final_acc"].values(),
                    s["d2l_one_program"]["final_acc"].values()):
        assert abs(a - b) <= 0.05
    sweep = s["lenet_sweep"]
    assert sweep["k"] == 2 and math.isclose(
        sweep["ratio"], sweep["sweep_images_per_s"] / sweep["one_model_images_per_s"])
    step = s["lenet_step"]
    assert step["jaxlr_images_per_s"] > 0
    assert step["torch_images_per_s"] is None or step["ratio"] > 0
    assert set(s["schedule_overhead"]) == {"constant", "wsd"}
    md = json_path.with_suffix(".md").read_text()
    assert "| measurement | jaxlr | peer | ratio | target | met |" in md
    assert "tiny (a check that the suite runs, not a measurement)" in md
    assert md in capsys.readouterr().out


def test_epoch_table_reads_one_lr_per_epoch():
    import jax.numpy as jnp

    from jaxlr.engine.config import ScheduleInfo

    suite = _load("gpu_suite")
    info = ScheduleInfo(steps_per_epoch=3, epochs=4)
    fn = suite.epoch_table({f"lr{e}": jnp.float32(e + 1) for e in range(4)}, info)
    assert [float(fn(jnp.int32(t))) for t in range(14)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4,
                                                            4, 4, 4]


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="no ../shared/data")
def test_common_random_numbers_experiment_runs_and_resumes(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location(
        "crn", ROOT / "experiments" / "common_random_numbers.py")
    crn = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(crn)
    args = ["--data-dir", str(SHARED), "--seeds", "2", "--epochs", "1", "--max-train", "512",
            "--max-eval", "256", "--out", str(tmp_path), "--no-progress"]
    crn.main(args)
    r = json.loads((tmp_path / "crn.json").read_text())
    assert list(r["rows"]) == ["paired", "unpaired", "same data", "same init"]
    assert r["rows"]["same data"]["b_seeds"] == [[2, 0], [3, 1]]
    for row in r["rows"].values():
        assert row["diff"] == pytest.approx([a - b for a, b in zip(r["acc_a"], row["acc_b"])])
    md = (tmp_path / "results.md").read_text()
    assert "| same data: 2/0, 3/1 | other | same |" in md
    # a second call reuses every run from the store: the same numbers
    crn.main(args)
    again = json.loads((tmp_path / "crn.json").read_text())
    assert again["rows"] == r["rows"] and again["acc_a"] == r["acc_a"]


def test_fair_sweeps_tiny_times_every_side(capsys):
    fair = _load("fair_sweeps")
    rows = fair.main(["--tiny", "--tasks", "mlp"])
    assert [(r[0], r[2]) for r in rows] == [("warmup steps", 2), ("peak lr", 2)]
    for what, _, k, ours, peer, theirs in rows:
        assert ours[0] > 0 and peer[0] > 0 and len(ours[1]) == len(peer[1]) == k
        # every side trained: better than always answering the majority class (0.64)
        assert np.mean(ours[1]) > 0.7 and np.mean(peer[1]) > 0.7
        if theirs is not None:
            assert np.mean(theirs[1]) > 0.7
    assert "optax/jaxlr" in capsys.readouterr().out


def test_fair_sweeps_schedule_is_the_one_each_side_trains_with():
    import jax.numpy as jnp
    import optax

    import jaxlr

    fair = _load("fair_sweeps")
    task = fair.tasks(None, True, ["mlp"])[0]
    for w in fair.warmups(task, 4):
        ours = jaxlr.warmup(jaxlr.cosine(task.peak, task.total_steps - w), w)
        theirs = optax.warmup_cosine_decay_schedule(0.0, task.peak, w, task.total_steps)
        for t in range(task.total_steps + 2):
            expected = fair.schedule_value(task, w, t)
            assert float(ours(jnp.int32(t))) == pytest.approx(expected, rel=1e-5, abs=1e-7)
            assert float(theirs(jnp.int32(t))) == pytest.approx(expected, rel=1e-5, abs=1e-7)


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="no ../shared/data")
def test_d2l_vs_torch_runs_the_same_schedules_on_both_sides():
    d2l = _load("d2l_vs_torch")
    ours, theirs, our_acc, their_acc = d2l.main(
        ["--data-dir", str(SHARED), "--epochs", "1", "--max-train", "256", "--schedules",
         "constant", "cosine+warmup"])
    assert ours > 0 and theirs > 0
    assert list(our_acc) == list(their_acc) == ["constant", "cosine+warmup"]
    assert all(0 <= a <= 1 for v in [*our_acc.values(), *their_acc.values()] for a in v)


def test_d2l_vs_torch_refuses_an_out_dir_that_holds_runs(tmp_path):
    d2l = _load("d2l_vs_torch")
    (tmp_path / "store").mkdir()
    with pytest.raises(SystemExit):
        d2l.main(["--out", str(tmp_path)])


def test_lenet_formulations_compute_the_same_gradient():
    """Every formulation the benchmark times is LeNet's gradient (float32 rounding of XLA's)."""
    errors = _load("lenet_formulations").main(["--check-only"])
    assert set(errors) >= {"xla", "shifted", "banded"} and len(errors) == 6
    assert all(e < 1e-4 for e in errors.values()), errors


@pytest.mark.skipif(not (SHARED / "fashion_mnist").is_dir(), reason="no ../shared/data")
def test_lenet_profile_finds_the_step_kernels():
    wall, kernels = _load("lenet_profile").main(["--data-dir", str(SHARED), "--steps", "2",
                                                 "--top", "3"])
    assert wall > 0 and len(kernels) > 5 and sum(kernels.values()) > 0


def test_learned_schedule_experiment_runs_every_method_and_reuses_only_verified_results(
        tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location(
        "learned", ROOT / "experiments" / "learned.py")
    learned = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "learned", learned)  # its dataclasses look it up
    spec.loader.exec_module(learned)
    args = ["ionosphere", "--seeds", "2", "--eval-seeds", "1", "--epochs", "4", "--budget",
            "4", "--out", str(tmp_path), "--no-progress"]
    learned.main(args)
    r = json.loads((tmp_path / "results.json").read_text())
    assert list(r["rows"]) == list(learned.METHODS)
    for method, row in r["rows"].items():
        # the same training budget for every method: 4 runs of 4 epochs
        assert row["member_epochs"] == 16, method
        assert len(row["loss"]) == 2 and all(np.isfinite(row["loss"])), method
    md = (tmp_path / "results.md").read_text()
    for method in learned.METHODS:
        assert f"| {method} | " in md
    assert (tmp_path / "schedules.png").stat().st_size > 10_000
    # a second call reuses every verified result; a tampered one is recomputed
    cache = tmp_path / "cache" / "es-seed1.json"
    cache.write_text(cache.read_text().replace('"objective": ', '"objective": 1', 1))
    written = {p.name: p.stat().st_mtime_ns for p in (tmp_path / "cache").iterdir()}
    capsys.readouterr()
    learned.main(args)
    rewritten = sorted(p.name for p in (tmp_path / "cache").iterdir()
                       if p.stat().st_mtime_ns != written[p.name])
    assert rewritten == ["es-seed1.json"]  # retuned to the same numbers: its evaluation reused
    assert "es-seed1.json: stored identity or checksum differs, recomputing" in \
        capsys.readouterr().out
    again = json.loads((tmp_path / "results.json").read_text())
    assert again["rows"]["grid"]["loss"] == r["rows"]["grid"]["loss"]
    assert again["rows"]["es"]["loss"] == r["rows"]["es"]["loss"]
