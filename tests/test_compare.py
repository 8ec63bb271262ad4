"""Comparisons end to end: ``jaxlr compare`` on Ionosphere (short), results files, resume."""

import json

import numpy as np
import pytest

from jaxlr import compare
from jaxlr.cli import main
from jaxlr.comparisons import COMPARISONS
from jaxlr.engine import driver, store


def _header(path):
    """The JSON header of a run-store record (see ``jaxlr.engine.store``)."""
    raw = path.read_bytes()
    assert raw.startswith(store.MAGIC)
    start = len(store.MAGIC) + 8
    return json.loads(raw[start:start + int.from_bytes(raw[len(store.MAGIC):start], "big")])


def test_every_comparison_is_well_formed():
    assert set(COMPARISONS) == {"ionosphere", "d2l", "keras-cifar10", "adam-lr"}
    for c in COMPARISONS.values():
        labels = [r.label for r in c.all_runs]
        assert len(labels) == len(set(labels)) and labels
        assert len({r.slug for r in c.all_runs}) == len(labels)
        assert set(c.published) <= {r.label for r in c.runs}
        assert all(r.source for r in c.modern_runs)
        assert c.doc
    for name in ("ionosphere", "d2l", "keras-cifar10"):
        modern = {r.optimizer for r in COMPARISONS[name].modern_runs}
        assert {"schedule_free_sgd", "schedule_free_adamw", "prodigy", "dadapt_adamw",
                "dog"} <= modern, name


def test_select_runs_by_label_slug_and_group():
    c = COMPARISONS["d2l"]
    assert [r.label for r in compare.select_runs(c, ["Prodigy", "cosine-warmup"])] == [
        "cosine+warmup", "Prodigy"]  # the comparison's order
    assert compare.select_runs(c, "reference") == c.runs
    assert compare.select_runs(c, ["modern"]) == c.modern_runs
    assert compare.select_runs(c) == c.all_runs
    with pytest.raises(ValueError, match="d2l has no run 'cosin'.*'reference' / 'modern'"):
        compare.select_runs(c, ["cosin"])


def test_ionosphere_comparison_writes_every_result_and_resumes(tmp_path, monkeypatch, capsys):
    out = tmp_path / "ionosphere"
    assert main(["compare", "ionosphere", "--runs", "reference", "--epochs", "3", "--seeds", "2",
                 "--out", str(out), "--no-progress"]) == 0
    for name in ("config.json", "metrics.json", "metrics.csv", "results.md", "lr.png",
                 "train_loss.png", "eval_acc.png"):
        assert (out / name).stat().st_size > 0, name
    metrics = json.loads((out / "metrics.json").read_text())
    assert set(metrics) == {"constant", "time-based", "step", "exponential"}
    assert all(len(seeds) == 2 and len(seeds[0]["eval_acc"]) == 3 for seeds in metrics.values())
    table = (out / "results.md").read_text()
    assert "| time-based | inverse_time(0.1, 0.002, 1) per update |" in table and " ± " in table
    assert len((out / "metrics.csv").read_text().splitlines()) == 1 + 4 * 2 * 3
    # no progress left behind: each run's seeds are one vmapped part, finished; its record
    # stays in the store (the cache of the next call) with its metrics and no training state
    records = sorted((out / "store").glob("*.run"))
    assert [p.name[:5] for p in records] == ["part-"] * 4
    for path in records:
        header = _header(path)
        assert header["meta"]["complete"]
        assert not any(name.startswith("s/") for name in header["arrays"]), path.name

    # a second call finds every run done and trains nothing
    def no_training(*args, **kwargs):
        raise AssertionError("retrained a finished run")

    monkeypatch.setattr(driver.Program, "epoch", no_training)
    assert main(["compare", "ionosphere", "--runs", "reference", "--epochs", "3", "--seeds", "2",
                 "--out", str(out), "--no-progress"]) == 0
    assert json.loads((out / "metrics.json").read_text()) == metrics


def test_diverging_run_does_not_stop_the_comparison(tmp_path):
    c = COMPARISONS["ionosphere"]
    runs = (compare.Run("too hot", "keras_sgd", dict(lr=1e30, momentum=0.0)), c.runs[0])
    hot = compare.Comparison(**{**c.__dict__, "runs": runs, "published": {}, "modern_runs": ()})
    histories = compare.run_comparison(hot, epochs=3, out=tmp_path, progress=False,
                                       log=lambda *_: None)
    assert histories["too hot"][0].diverged_epoch is not None
    assert histories["constant"][0].epochs_done == 3
    assert "| too hot | constant | " in (tmp_path / "results.md").read_text()
    assert "epoch 0" in (tmp_path / "results.md").read_text()


def test_modern_runs_are_held_against_the_best_reference_run(tmp_path):
    c = COMPARISONS["ionosphere"]
    picked = ["constant", "step", "schedule-free SGD", "DoG"]
    histories = compare.run_comparison(c, epochs=2, seeds=2, out=tmp_path, progress=False,
                                       log=lambda *_: None, runs=picked)
    assert list(histories) == picked
    final = {label: np.array([h.eval_acc[-1] for h in hs]) for label, hs in histories.items()}
    best = max(["constant", "step"], key=lambda label: final[label].mean())
    md = (tmp_path / "results.md").read_text()
    reference_table, modern = md.split("## Modern optimizers and schedules")
    assert "| DoG |" not in reference_table and "| step |" in reference_table
    assert f"Held against the reference run (of the 2 of 4 trained here) with the best mean " \
           f"final validation accuracy, **{best}**" in modern
    for label in ("schedule-free SGD", "DoG"):
        d = final[label].mean() - final[best].mean()
        se = np.sqrt(final[label].var(ddof=1) / 2 + final[best].var(ddof=1) / 2)
        row = next(line for line in modern.splitlines() if line.startswith(f"| {label} |"))
        word = "beats" if d > 0 else "behind"
        if abs(d) > 2 * se > 0:
            word += " clearly"
        assert row.endswith(f"| {word}: {d:+.4f} ± {se:.4f} |"), row
    assert "DoG: Ivgi et al. 2023" in modern
    config = json.loads((tmp_path / "config.json").read_text())
    assert [r["label"] for r in config["runs"]] == picked
    assert "--runs 'constant,step,schedule-free SGD,DoG'" in config["command"]


def test_bad_options_are_reported(tmp_path, capsys):
    assert main(["compare", "ionosphere", "--seeds", "0", "--out", str(tmp_path)]) == 2
    assert "argument --seeds: must be >= 1, got 0" in capsys.readouterr().err
    assert main(["compare", "imagenet"]) == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'imagenet'" in err and len(err.strip().splitlines()) == 1


def test_list_and_datasets_commands(capsys):
    assert main(["compare", "--list"]) == 0
    assert "d2l" in capsys.readouterr().out
    assert main(["datasets"]) == 0
    assert "ionosphere" in capsys.readouterr().out


def test_seeds_run_as_one_vmapped_program_equal_single_runs(tmp_path, monkeypatch):
    from jaxlr import engine, sweep

    c = COMPARISONS["ionosphere"]
    calls = []
    original = sweep.sweep

    def spy(*args, **kwargs):
        calls.append(kwargs["seeds"])
        return original(*args, **kwargs)

    monkeypatch.setattr(sweep, "sweep", spy)
    histories = compare.run_comparison(c, epochs=2, seeds=3, out=tmp_path, progress=False,
                                       log=lambda *_: None, runs="reference")
    assert calls == [[7, 8, 9]] * 4  # one program per run, the three seeds together
    run = c.runs[1]
    single = engine.make_train(compare.train_config(c, run, 2), compare.load_data(c))
    for i, seed in enumerate((7, 8, 9)):
        alone = single(run.hparams, seed)
        np.testing.assert_allclose(histories[run.label][i].train_loss, alone.train_loss,
                                   rtol=2e-5)


def test_load_data_cuts_training_and_evaluation_examples():
    iono = COMPARISONS["ionosphere"]
    full = compare.load_data(iono)
    small = compare.load_data(iono, max_train=50, max_eval=20)
    assert len(small.x_train) == 50 and len(small.x_val) == 20 and len(small.x_test) == 20
    np.testing.assert_array_equal(small.x_val, full.x_val[:20])
    np.testing.assert_array_equal(small.y_train, full.y_train[:50])
    for name, bad in (("max_train", 0), ("max_eval", -3), ("max_eval", 2.5)):
        with pytest.raises(ValueError, match=f"{name} must be an int >= 1, got {bad!r}"):
            compare.load_data(iono, **{name: bad})
