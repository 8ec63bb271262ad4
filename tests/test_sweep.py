"""Sweeps: members equal their single runs, strategies agree, divergence is isolated."""

import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

import jaxlr
from jaxlr import data, engine, sweep
from jaxlr.engine import driver, store
from interrupts import interrupt_epochs

IONO = data.load("ionosphere")


def _trainer(epochs=3):
    cfg = engine.TrainConfig(
        model="ionosphere_mlp", epochs=epochs, batch_size=28, optimizer="keras_sgd",
        schedule=lambda h, info: jaxlr.inverse_time(h["lr"], h["decay"], 1.0))
    return engine.make_train(cfg, IONO)


TRAINER = _trainer()
BASE = {"momentum": 0.8}


def _header(path):
    """The JSON header of a run-store record (see ``jaxlr.engine.store``)."""
    raw = path.read_bytes()
    assert raw.startswith(store.MAGIC)
    start = len(store.MAGIC) + 8
    return json.loads(raw[start:start + int.from_bytes(raw[len(store.MAGIC):start], "big")])


def _holds_state(header):
    return any(name.startswith("s/") for name in header["arrays"])




def test_vmap_members_equal_their_single_runs():
    configs = sweep.grid(lr=[0.03, 0.1, 0.3], decay=[0.0, 0.002])
    r = sweep.sweep(TRAINER, configs, base=BASE, seeds=2, seed=5, strategy="vmap")
    assert r.eval_acc.shape == (6, 2, 3) and r.lr.shape == (6, 2, 3, 9)
    for k, config in enumerate(r.configs):
        for s, seed in enumerate(r.seeds):
            single = TRAINER(config, seed)
            np.testing.assert_allclose(r.train_loss[k, s], single.train_loss, rtol=2e-5)
            np.testing.assert_allclose(r.eval_acc[k, s], single.eval_acc, atol=1e-6)
            np.testing.assert_allclose(r.lr[k, s], single.lr, rtol=1e-6)


def test_sequential_is_bit_identical_to_single_runs_and_chunked_matches_vmap():
    configs = sweep.log_uniform(0, 5, 1e-3, 1.0)
    seq = sweep.sweep(TRAINER, configs, base={**BASE, "decay": 0.0}, strategy="sequential")
    for k, config in enumerate(seq.configs):
        assert seq.train_loss[k, 0].tolist() == TRAINER(config, 0).train_loss
    vm = sweep.sweep(TRAINER, configs, base={**BASE, "decay": 0.0}, strategy="vmap")
    ch = sweep.sweep(TRAINER, configs, base={**BASE, "decay": 0.0}, strategy="chunked",
                     chunk_size=2)
    np.testing.assert_allclose(ch.train_loss, vm.train_loss, rtol=2e-5)
    np.testing.assert_allclose(vm.train_loss, seq.train_loss, rtol=2e-5)


def test_a_diverging_member_leaves_the_others_bit_identical():
    calm = sweep.sweep(TRAINER, {"lr": [0.05, 0.1, 0.2]}, base={**BASE, "decay": 0.0},
                       seeds=2, strategy="vmap")
    hot = sweep.sweep(TRAINER, {"lr": [0.05, 0.1, 1e30]}, base={**BASE, "decay": 0.0},
                      seeds=2, strategy="vmap")
    assert (hot.diverged_step[2] >= 0).all() and (hot.diverged_step[:2] == -1).all()
    for name in ("train_loss", "eval_loss", "eval_acc", "lr"):
        assert np.array_equal(getattr(hot, name)[:2], getattr(calm, name)[:2]), name
    assert np.isnan(hot.final()[2]).all()
    best = hot.ranking()
    assert best[-1][0]["lr"] == 1e30 and best[-1][3] == 2


def test_ranking_orders_by_mean_over_seeds():
    r = sweep.sweep(TRAINER, {"lr": [1e-4, 0.1]}, base={**BASE, "decay": 0.0}, seeds=2,
                    strategy="vmap")
    (first, mean, std, diverged), (second, *_) = r.ranking()
    assert first["lr"] == 0.1 and second["lr"] == 1e-4 and diverged == 0
    assert mean == pytest.approx(np.mean(r.final()[1]))


def test_bad_sweeps_are_named():
    with pytest.raises(ValueError, match="same number of values"):
        sweep.sweep(TRAINER, {"lr": [0.1, 0.2], "decay": [0.0]}, base=BASE)
    with pytest.raises(ValueError, match="strategy must be one of"):
        sweep.sweep(TRAINER, {"lr": [0.1]}, base={**BASE, "decay": 0.0}, strategy="pmap")
    with pytest.raises(ValueError, match="need 0 < low < high"):
        sweep.log_uniform(0, 4, 1.0, 0.1)
    with pytest.raises(ValueError, match="seeds must be >= 1"):
        sweep.sweep(TRAINER, {"lr": [0.1]}, base={**BASE, "decay": 0.0}, seeds=0)


def test_sharded_over_8_devices_equals_unsharded():
    script = textwrap.dedent("""
        import jax, numpy as np, jaxlr
        from jaxlr import data, engine, sweep
        assert jax.device_count() == 8, jax.devices()
        cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=2, batch_size=28,
                                 optimizer="keras_sgd")
        tr = engine.make_train(cfg, data.load("ionosphere"))
        configs = {"lr": list(np.geomspace(1e-3, 1.0, 5)) + [1e30]}
        sh = sweep.sweep(tr, configs, base={"momentum": 0.8}, seeds=2, strategy="sharded")
        un = sweep.sweep(tr, configs, base={"momentum": 0.8}, seeds=2, strategy="vmap")
        assert sh.train_loss.shape == (6, 2, 2)
        np.testing.assert_allclose(sh.train_loss[:5], un.train_loss[:5], rtol=2e-5)
        np.testing.assert_allclose(sh.eval_acc[:5], un.eval_acc[:5], atol=1e-6)
        assert (sh.diverged_step[5] >= 0).all() and (sh.diverged_step[:5] == -1).all()
        for k in range(5):
            single = tr(sh.configs[k], sh.seeds[1])
            np.testing.assert_allclose(sh.train_loss[k, 1], single.train_loss, rtol=2e-5)
        print("sharded ok")
    """)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=8",
               JAX_PLATFORMS="cpu")
    done = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "sharded ok" in done.stdout


MULTIHOST = textwrap.dedent("""
    import sys
    import jax
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=sys.argv[1], num_processes=2,
                               process_id=int(sys.argv[2]))
    import numpy as np
    from jaxlr import data, engine, sweep
    assert (jax.process_count(), jax.device_count(), jax.local_device_count()) == (2, 4, 2)
    cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=3, batch_size=28,
                             optimizer="keras_sgd")
    tr = engine.make_train(cfg, data.load("ionosphere"))
    configs = {"lr": [0.01, 0.1, 0.3]}
    sh = sweep.sweep(tr, configs, base={"momentum": 0.8}, seeds=2, strategy="sharded",
                     store=sys.argv[3])
    assert sh.train_loss.shape == (3, 2, 3)
    for k in range(3):
        for s in range(2):
            single = tr(sh.configs[k], sh.seeds[s])
            np.testing.assert_allclose(sh.train_loss[k, s], single.train_loss, rtol=2e-5)
            np.testing.assert_allclose(sh.eval_acc[k, s], single.eval_acc, atol=1e-6)
    print("multihost ok", jax.process_index())
""")


def test_sharded_over_two_processes_equals_single_runs(tmp_path):
    # multi-host through jax.distributed: two processes of two CPU devices each
    import socket

    with socket.socket() as s:
        s.bind(("localhost", 0))
        address = f"localhost:{s.getsockname()[1]}"
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2",
               JAX_PLATFORMS="cpu")
    procs = [subprocess.Popen([sys.executable, "-c", MULTIHOST, address, str(i), str(tmp_path)],
                              env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for i in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    for i, (p, (out, err)) in enumerate(zip(procs, outs)):
        assert p.returncode == 0, err[-3000:]
        assert f"multihost ok {i}" in out
    (part,) = tmp_path.glob("part-*.run")  # written once, by process 0
    assert not list(tmp_path.glob(".*"))  # no temporary left by a second writer
    assert _header(part)["meta"]["complete"] and not _holds_state(_header(part))


def test_parse_values():
    np.testing.assert_allclose(sweep.parse_values("1e-3:1:log:4"), [1e-3, 1e-2, 1e-1, 1.0])
    np.testing.assert_allclose(sweep.parse_values("0:1:lin:3"), [0, 0.5, 1])
    np.testing.assert_allclose(sweep.parse_values("0.1,0.3"), [0.1, 0.3])
    np.testing.assert_allclose(sweep.parse_values("1e-5:1e-1"), [1e-5, 1e-1])
    for bad in ("0:1:log:3", "1:2:cubic:3", "a,b", "1:2:log"):
        with pytest.raises(ValueError, match="not a value list"):
            sweep.parse_values(bad)


def test_sweep_command(tmp_path, monkeypatch, capsys):
    from jaxlr.cli import main

    out = tmp_path / "sweep"
    args = ["sweep", "ionosphere", "--run", "time-based", "--lr", "1e-3:1:log:4",
            "--param", "decay=0,0.01", "--seeds", "2", "--epochs", "2", "--out", str(out),
            "--no-progress"]
    assert main(args) == 0
    for name in ("sweep.npz", "sweep.csv", "ranking.md", "heatmap.png", "curves.png"):
        assert (out / name).stat().st_size > 0, name
    assert "| rank | lr | decay |" in (out / "ranking.md").read_text()
    assert len((out / "sweep.csv").read_text().splitlines()) == 1 + 8 * 2
    assert "best: lr=" in capsys.readouterr().out

    def no_training(*a, **k):
        raise AssertionError("recomputed a finished sweep")

    monkeypatch.setattr(driver.Program, "epoch", no_training)
    assert main(args) == 0
    assert "already computed" in capsys.readouterr().out
    monkeypatch.undo()

    assert main(["sweep", "ionosphere", "--lr", "1e-3:1", "--random", "5", "--epochs", "1",
                 "--out", str(tmp_path / "random"), "--no-progress"]) == 0
    assert (tmp_path / "random" / "final.png").is_file()
    assert main(["sweep", "ionosphere", "--out", str(tmp_path / "x")]) == 2
    assert "nothing to sweep" in capsys.readouterr().err


def test_lr_find_command(tmp_path, capsys):
    from jaxlr.cli import main

    assert main(["lr-find", "ionosphere", "--steps", "30", "--out", str(tmp_path / "lf")]) == 0
    assert (tmp_path / "lf" / "lr_find.png").is_file()
    assert "suggested lr: steepest" in capsys.readouterr().out


def test_successive_halving_keeps_the_best_and_they_train_as_in_a_full_sweep():
    trainer = _trainer(epochs=7)
    configs = {"lr": list(np.geomspace(1e-4, 1.0, 8)) + [1e30]}
    result, survivors = sweep.successive_halving(trainer, configs, base={**BASE, "decay": 0.0},
                                                 seeds=2, eta=3)
    assert [len(s) for s in survivors] == [9, 3, 1]  # rungs of 1, 2, 4 epochs
    assert 8 not in survivors[1]  # the diverging lr is dropped first
    full = sweep.sweep(trainer, configs, base={**BASE, "decay": 0.0}, seeds=2, strategy="vmap")
    (winner,) = survivors[-1]
    np.testing.assert_allclose(result.train_loss[winner], full.train_loss[winner], rtol=2e-5)
    # eliminated configurations stop: NaN after their last rung
    dropped = [k for k in survivors[0] if k not in survivors[1]]
    assert np.isnan(result.eval_acc[dropped, :, 1:]).all()
    assert np.isfinite(result.eval_acc[dropped, :, 0]).all()
    with pytest.raises(ValueError, match="sum to the trainer's 7 epochs"):
        sweep.successive_halving(trainer, configs, rung_epochs=[1, 2])


@pytest.mark.parametrize("strategy", ["vmap", "chunked"])
def test_sweep_interrupted_mid_part_resumes_after_its_last_epoch(tmp_path, monkeypatch, strategy):
    trainer = _trainer(epochs=4)
    configs = {"lr": [0.01, 0.1, 0.3]}
    base = {**BASE, "decay": 0.001}
    full = sweep.sweep(trainer, configs, base=base, seeds=2, strategy=strategy, chunk_size=4)
    # vmap: stop in epoch 4 of 4; chunked (6 members, 2 chunks): in epoch 3 of chunk 2
    stop_at = 3 if strategy == "vmap" else 6
    calls, interrupt = interrupt_epochs(monkeypatch, stop_at)
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(trainer, configs, base=base, seeds=2, strategy=strategy, chunk_size=4,
                    store=tmp_path)
    headers = [_header(p) for p in tmp_path.glob("part-*.run")]
    assert len(headers) == (1 if strategy == "vmap" else 2)
    in_progress = [h for h in headers if not h["meta"]["complete"]]
    assert len(in_progress) == 1 and _holds_state(in_progress[0])  # the interrupted part
    calls.clear()
    interrupt[0] = False
    resumed = sweep.sweep(trainer, configs, base=base, seeds=2, strategy=strategy,
                          chunk_size=4, store=tmp_path)
    assert len(calls) == (1 if strategy == "vmap" else 2)  # only the epochs not saved
    # every part finished: its record stays (the cache), with its metrics and no state
    headers = [_header(p) for p in tmp_path.glob("part-*.run")]
    assert len(headers) == (1 if strategy == "vmap" else 2)
    assert all(h["meta"]["complete"] and not _holds_state(h) for h in headers)
    for name in ("train_loss", "eval_acc", "lr", "step_loss", "diverged_step"):
        np.testing.assert_array_equal(getattr(resumed, name), getattr(full, name))


@pytest.mark.parametrize("strategy", ["chunked", "sequential"])
def test_interrupted_sweep_resumes_from_finished_parts(tmp_path, monkeypatch, strategy):
    configs = {"lr": [0.01, 0.03, 0.1, 0.3, 1.0]}
    base = {**BASE, "decay": 0.0}
    full = sweep.sweep(TRAINER, configs, base=base, strategy=strategy, chunk_size=2)
    epochs = TRAINER.config.epochs
    # parts: chunked, 3 chunks of 2 members; sequential, 5 single runs. Stop as the third starts
    calls, interrupt = interrupt_epochs(monkeypatch, at=2 * epochs)
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(TRAINER, configs, base=base, strategy=strategy, chunk_size=2,
                    store=tmp_path)
    # a sequential member is its single run: it is saved as one
    kind = "part" if strategy == "chunked" else "run"
    assert len(list(tmp_path.glob(f"{kind}-*.run"))) == 2
    assert len(list(tmp_path.glob("*.run"))) == 2
    calls.clear()
    interrupt[0] = False
    resumed = sweep.sweep(TRAINER, configs, base=base, strategy=strategy, chunk_size=2,
                          store=tmp_path)
    parts = 1 if strategy == "chunked" else 3
    assert len(calls) == parts * epochs  # only the unfinished parts
    np.testing.assert_allclose(resumed.train_loss, full.train_loss, rtol=2e-5)
    if strategy == "sequential":
        # ... and a later single run of a member finds it in the store
        calls.clear()
        single = TRAINER(resumed.configs[0], resumed.seeds[0], store=tmp_path)
        assert not calls and single.train_loss == resumed.train_loss[0, 0].tolist()


def test_ranking_shows_no_spread_for_one_seed():
    one = sweep.sweep(TRAINER, {"lr": [0.03, 0.3]}, base={**BASE, "decay": 0.0}, seeds=1,
                      strategy="vmap")
    table = sweep.ranking_markdown(one, "t", "cmd")
    assert table.count("| — |") == 2 and "0.0000 |" not in table
    two = sweep.sweep(TRAINER, {"lr": [0.03, 0.3]}, base={**BASE, "decay": 0.0}, seeds=2,
                      strategy="vmap")
    assert "| — |" not in sweep.ranking_markdown(two, "t", "cmd")


def test_sweep_file_round_trips_and_a_damaged_one_is_named(tmp_path):
    from jaxlr.sweep.results import SweepResult

    result = SweepResult(swept=("lr",), configs=[{"lr": 0.1}, {"lr": 0.2}], seeds=[0],
                         metrics={"eval_acc": np.arange(6.0).reshape(2, 1, 3)},
                         strategy="vmap", seconds=1.5)
    path = tmp_path / "sweep.npz"
    sweep.save(result, path)
    back = sweep.load(path)
    assert back.configs == result.configs and back.swept == ("lr",)
    np.testing.assert_array_equal(back.eval_acc, result.eval_acc)
    path.write_bytes(path.read_bytes()[:40])
    with pytest.raises(ValueError, match=f"{path}: not a complete jaxlr sweep file"):
        sweep.load(path)


# -- common random numbers: the init seed and the data seed apart ----------------------------


def test_a_seed_pair_sets_init_and_data_apart_and_s_s_is_the_seed_s():
    hp = {"lr": 0.1, "decay": 0.0, **BASE}
    pair = TRAINER.begin_epoch(TRAINER.init(hp, (5, 2)))
    init_of = TRAINER.begin_epoch(TRAINER.init(hp, 5))
    data_of = TRAINER.begin_epoch(TRAINER.init(hp, 2))
    for a, b in zip(jax.tree_util.tree_leaves(pair.params),
                    jax.tree_util.tree_leaves(init_of.params)):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pair.key, data_of.key)
    np.testing.assert_array_equal(pair.order, data_of.order)
    assert not np.array_equal(pair.order, init_of.order)
    # (s, s) is the run of seed s, bit for bit, and the run store names them alike
    a, b = TRAINER(hp, (3, 3)), TRAINER(hp, 3)
    assert a.train_loss == b.train_loss and a.eval_acc == b.eval_acc
    assert engine.key_identity((3, 3)) == engine.key_identity(3)
    assert engine.key_identity((3, 4)) != engine.key_identity(3)


@pytest.mark.parametrize("strategy", ["vmap", "sequential"])
def test_members_with_one_data_seed_share_their_batches(strategy):
    configs = sweep.grid(lr=[0.05, 0.2])
    seeds = [(0, 0), (1, 0), 2]  # an int among pairs is the pair (2, 2)
    r = sweep.sweep(TRAINER, configs, base={**BASE, "decay": 0.0}, seeds=seeds,
                    strategy=strategy)
    assert r.seeds == [(0, 0), (1, 0), 2]
    for k, config in enumerate(r.configs):
        for s, seed in enumerate(r.seeds):
            single = TRAINER(config, seed)
            np.testing.assert_allclose(r.train_loss[k, s], single.train_loss, rtol=2e-5)
    # init 1 / data 0 differs from seed 0 (another init) and from seed 1 (other batches)
    assert not np.allclose(r.train_loss[0, 1], r.train_loss[0, 0])
    assert not np.allclose(r.train_loss[0, 1], TRAINER(r.configs[0], 1).train_loss)
    csv = sweep.table_csv(r).splitlines()
    column = csv[0].split(",").index("seed")
    assert [line.split(",")[column] for line in csv[1:4]] == ["0/0", "1/0", "2"]
    assert "seeds (init/data) 0/0, 1/0, 2" == sweep.seeds_text(r.seeds)


def test_sweep_file_keeps_seed_pairs(tmp_path):
    r = sweep.sweep(TRAINER, sweep.grid(lr=[0.1]), base={**BASE, "decay": 0.0},
                    seeds=[(0, 1)], strategy="vmap")
    sweep.save(r, tmp_path / "s.npz")
    assert sweep.load(tmp_path / "s.npz").seeds == [(0, 1)]


def test_a_raw_key_given_as_a_list_is_still_a_raw_key():
    np.testing.assert_array_equal(engine.raw_key([0, 7]), np.array([0, 7], np.uint32))
    assert engine.raw_key((0, 7)).shape == (2, 2)  # a tuple is an (init, data) pair


@pytest.mark.parametrize("seeds", [[(1, 2, 3)], [True], [(1, "a")], [0.5], [((1, 2), (3, 4))]])
def test_a_bad_seed_is_named(seeds):
    with pytest.raises(ValueError, match="a seed is an int or an \\(init, data\\) pair"):
        sweep.sweep(TRAINER, sweep.grid(lr=[0.1]), base={**BASE, "decay": 0.0}, seeds=seeds)
