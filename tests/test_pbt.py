"""Population-based training: exploit copies exactly, explore stays in its range, lineages
replay, divergence is contained and reported, and an interrupted run resumes bit for bit."""

import json

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlr
from jaxlr import data, engine
from jaxlr.engine import RunStore
from jaxlr.sweep import PBTResult, pbt as run_pbt

# the package exports the function pbt under the module's name; the module itself:
from jaxlr.sweep import population as pbt_module

IONO = data.load("ionosphere")
TRAINER = engine.make_train(engine.TrainConfig(
    model="ionosphere_mlp", epochs=3, batch_size=28, optimizer="keras_sgd",
    schedule=lambda h, info: jaxlr.inverse_time(h["lr"], h["decay"], 1.0)), IONO)
HOT = 1e30  # an lr at which the first update already overflows
POPULATION = {"lr": [0.01, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, HOT],
              "decay": [0.0, 0.01, 0.0, 0.01, 0.0, 0.01, 0.0, 0.01],
              "momentum": [0.8] * 8}
KEYS = list(range(8))
SETTINGS = dict(ready_every=1, fixed=("momentum",), seed=3)  # q = 2 of 8 replaced per ready


def run(population=POPULATION, key=KEYS, **changes):
    return run_pbt(TRAINER, population, key, **{**SETTINGS, **changes})


@pytest.fixture(scope="module")
def result():
    return run()


def assert_same_result(got, want):
    assert got.metrics.keys() == want.metrics.keys()
    for k in want.metrics:
        np.testing.assert_array_equal(got.metrics[k], want.metrics[k], err_msg=k)
    for k in ("hparams", "parents", "replaced", "diverged"):
        np.testing.assert_array_equal(getattr(got, k), getattr(want, k), err_msg=k)
    assert got.best == want.best and got.ready_epochs == want.ready_epochs


def test_shapes_and_the_same_call_is_bit_identical(result):
    n, steps = 8, TRAINER.steps_per_epoch
    assert result.eval_loss.shape == (n, 3) and result.lr.shape == (n, 3, steps)
    assert result.hparams.shape == (3, n, 3) and result.names == ("decay", "lr", "momentum")
    assert result.parents.shape == (2, n) and result.ready_epochs == [1, 2]
    # every ready point replaces the bottom q = 2 (the diverged member among them)
    assert result.replaced.sum(axis=1).tolist() == [2, 2]
    assert (result.hparams[..., 2] == np.float32(0.8)).all()  # momentum is fixed
    assert_same_result(run(), result)
    other = run(seed=4)
    assert not np.array_equal(other.parents, result.parents)


def test_hparam_trace_follows_the_copies(result):
    perturb = np.float32(pbt_module.DEFAULT_PERTURB)
    for r, (parents, replaced) in enumerate(zip(result.parents, result.replaced)):
        before, after = result.hparams[r].astype(np.float32), result.hparams[r + 1]
        for i in range(8):
            donor = before[parents[i]]
            if not replaced[i]:
                assert parents[i] == i and np.array_equal(after[i], before[i])
                continue
            assert not result.replaced[r, parents[i]]  # donors are never replaced
            for j, name in enumerate(result.names):
                candidates = [donor[j]] if name == "momentum" else donor[j] * perturb
                assert np.float32(after[i, j]) in candidates, (r, i, name)


def test_learned_schedule_replays_the_lineage(result):
    steps, hparams = TRAINER.steps_per_epoch, result.hparams
    for member in range(8):
        learned = result.learned_schedule(member)
        lineage = [member]  # by hand: parents backwards from the end
        for parents in result.parents[::-1]:
            lineage.insert(0, int(parents[lineage[0]]))
        assert learned.members == lineage == result.lineage(member)
        by_hand = np.concatenate([result.lr[m, r] for r, m in enumerate(lineage)])
        np.testing.assert_array_equal(learned.lr, by_hand)
        # and from the schedule itself, at each interval's own updates and hparams
        for r, m in enumerate(lineage):
            h = {n: jnp.float32(hparams[r, m, j]) for j, n in enumerate(result.names)}
            t = jnp.arange(r * steps, (r + 1) * steps)
            want = TRAINER.config.schedule(h, TRAINER.info)(t)
            np.testing.assert_allclose(learned.lr[r * steps:(r + 1) * steps], want, rtol=1e-6)
            assert [learned.hparams[n][r] for n in result.names] == hparams[r, m].tolist()
    assert result.learned_schedule().members == result.lineage(result.best)


def test_a_diverged_member_is_replaced_reported_and_contained(result, capsys):
    hot = 7
    assert result.diverged_counts == [1, 0]
    assert result.diverged[0, hot] and result.replaced[0, hot]
    assert result.diverged_step[hot, 0] >= 0 and np.isnan(result.eval_loss[hot, 0])
    finite = np.ones(result.train_loss.shape, bool)
    finite[hot, 0] = False
    for name in ("train_loss", "eval_loss", "eval_acc"):
        values = result.metrics[name]
        assert np.isfinite(values[finite]).all(), name
    assert np.isfinite(result.lr[finite]).all() and (result.diverged_step[finite] == -1).all()
    assert result.hparams[1, hot, 1] < 1  # the donor's lr, explored
    # the hot member's first interval is nobody's ancestor (its slot holds a copy after it)
    assert all(result.lineage(m)[0] != hot for m in range(8))
    run(progress=True)
    assert "1 diverged member(s) [7]" in capsys.readouterr().out


def test_more_diverged_members_than_the_fraction_are_all_replaced():
    population = {**POPULATION, "lr": [0.05, HOT, 0.1, HOT, 0.2, HOT, 0.3, 0.5]}
    r = run(population)
    assert r.diverged_counts[0] == 3 and r.replaced[0].tolist() == [
        False, True, False, True, False, True, False, False]
    assert not r.diverged[0, r.parents[0, [1, 3, 5]]].any()
    assert np.isfinite(r.eval_loss[:, 1:]).all()


def test_every_member_diverged_names_the_ready_epoch():
    with pytest.raises(FloatingPointError, match="every one of the 8 members diverged by "
                                                 "the ready point after epoch 1"):
        run({**POPULATION, "lr": [HOT] * 8})


def _trained_state():
    prog = engine.program(TRAINER, batched=True)
    hparams = {"decay": jnp.asarray(POPULATION["decay"]), "lr": jnp.geomspace(0.01, 0.5, 8),
               "momentum": jnp.asarray(POPULATION["momentum"])}
    state = prog.init(hparams, engine.seed_keys(KEYS))
    # one epoch through the cached program of the last interval: momentum buffers non-zero
    return pbt_module._program(TRAINER, None, 1)(state, jax.random.PRNGKey(0))[0]


def _leaves(tree):
    return jax.tree_util.tree_flatten_with_path(tree)[0]


@pytest.mark.parametrize("objective", ["eval_loss", "eval_acc"])
def test_exploit_copies_the_donor_exactly_and_explores_only_the_copies(objective):
    config = pbt_module.PBTConfig(ready_every=1, objective=objective)  # momentum explored too
    state = _trained_state()
    values = np.array([0.5, 0.1, 0.9, 0.3, np.nan, 0.2, 0.7, 0.4], np.float32)
    # NaN ranks last, then the highest loss, or the lowest accuracy
    worst = [2, 4] if objective == "eval_loss" else [1, 4]
    step = jax.jit(pbt_module.exploit_explore, static_argnums=3)
    key = pbt_module.ready_key(0, 0)
    new, parents, replaced, diverged = step(state, jnp.asarray(values), key, config)
    again = step(state, jnp.asarray(values), key, config)
    assert all(np.array_equal(a, b) for a, b in zip(jax.tree_util.tree_leaves((new, parents)),
                                                    jax.tree_util.tree_leaves(again[:2])))
    assert np.flatnonzero(replaced).tolist() == worst and np.flatnonzero(diverged).tolist() == [4]
    best = sorted(np.argsort(-values if objective == "eval_acc" else values)[:2].tolist())
    for i in range(8):
        src = int(parents[i]) if replaced[i] else i
        assert src in (best if replaced[i] else [i])
        for (path, old), (_, got) in zip(_leaves(state), _leaves(new)):
            where = jax.tree_util.keystr(path)
            if replaced[i] and (".hparams" in where or "hyperparams['momentum']" in where):
                continue  # explored, below
            want = old[i] if where == ".key" else old[src]  # a copy keeps its own data key
            assert np.array_equal(got[i], want), (i, where)
        if replaced[i]:
            for name in ("lr", "decay", "momentum"):
                ratio = np.float32(new.hparams[name][i]), np.float32(state.hparams[name][src])
                assert ratio[0] in [ratio[1] * np.float32(f) for f in (0.8, 1.25)], name
            # the optimizer reads momentum from its state: it holds the explored value
            assert new.opt_state.hyperparams["momentum"][i] == new.hparams["momentum"][i]


def test_resample_draws_within_the_ranges_only_for_the_copies():
    ranges = {"lr": (1e-3, 1.0), "decay": (1e-4, 1e-2), "momentum": (0.5, 0.9)}
    config = pbt_module.PBTConfig(ready_every=1, explore="resample", resample=ranges,
                                  resample_probability=0.5, fraction=0.5)
    state = _trained_state()
    values = jnp.arange(8, dtype=jnp.float32)
    new, parents, replaced, _ = jax.jit(pbt_module.exploit_explore, static_argnums=3)(
        state, values, pbt_module.ready_key(0, 1), config)
    assert np.flatnonzero(replaced).tolist() == [4, 5, 6, 7]
    redrawn = 0
    for i in range(8):
        for name, (low, high) in ranges.items():
            got, donor = new.hparams[name][i], state.hparams[name][int(parents[i])]
            if not replaced[i] or got == donor:
                assert got == donor
                continue
            redrawn += 1
            assert low <= got <= high
    assert 0 < redrawn < 12


def _interrupt_at(monkeypatch, at):
    """Make ``pbt`` raise KeyboardInterrupt at its ``at``-th interval (0-based), as a Ctrl-C
    would; returns the list that counts the intervals run."""
    original, calls = pbt_module._run_interval, []

    def interval(fn, state, key):
        if len(calls) == at:
            raise KeyboardInterrupt
        calls.append(1)
        return original(fn, state, key)

    monkeypatch.setattr(pbt_module, "_run_interval", interval)
    return calls


def test_interrupted_run_resumes_bit_identical_and_other_settings_get_their_own_slot(
        result, tmp_path, monkeypatch):
    messages = []
    store = RunStore(tmp_path / "store", log=messages.append)
    with monkeypatch.context() as m:
        calls = _interrupt_at(m, 2)  # two intervals saved, the third interrupted
        with pytest.raises(KeyboardInterrupt):
            run(store=store)
        assert len(calls) == 2
    records = sorted((tmp_path / "store").glob("*.run"))
    assert len(records) == 1
    calls = _interrupt_at(monkeypatch, 99)
    resumed = run(store=store)
    assert len(calls) == 1 and resumed.resumed == 2
    assert_same_result(resumed, result)
    again = run(store=store)  # finished: nothing trained
    assert len(calls) == 1 and again.resumed == 3
    assert_same_result(again, result)
    # another setting computes into its own slot: ready every 2 of 3 epochs
    uneven = run(store=store, ready_every=2)
    assert len(calls) == 3 and uneven.resumed == 0
    assert uneven.ready_epochs == [2] and uneven.hparams.shape == (2, 8, 3)
    assert len(sorted((tmp_path / "store").glob("*.run"))) == 2 and messages == []


def test_save_load_and_plot(result, tmp_path):
    result.save(tmp_path / "pbt.json")
    loaded = PBTResult.load(tmp_path / "pbt.json")
    assert_same_result(loaded, result)
    assert json.loads((tmp_path / "pbt.json").read_text())["best"] == result.best
    path = result.plot(tmp_path / "pbt")
    assert path.name == "pbt.png" and path.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("changes, argument", [
    (dict(population=[{"lr": 0.1, "decay": 0.0, "momentum": 0.8}]), "population"),
    (dict(population=[{"lr": 0.1, "decay": 0.0, "momentum": 0.8},
                      {"lr": 0.1, "decay": 0.0}]), "population"),
    (dict(population={"lr": [0.1, 0.2], "decay": [0.0]}), "population"),
    (dict(population={"lr": [0.1, float("nan")], "decay": [0, 0], "momentum": [.8, .8]}),
     "population member 1 lr"),
    (dict(population={"lr": [0.1, 0.2], "decay": [0, 0], "momentun": [.8, .8]}), "momentun"),
    (dict(key=[0, 1]), "key"),
    (dict(key="seed"), "key"),
    (dict(ready_every=0), "ready_every"),
    (dict(ready_every=1.5), "ready_every"),
    (dict(ready_every=4), "ready_every"),
    (dict(fraction=0.0), "fraction"),
    (dict(fraction=0.6), "fraction"),
    (dict(exploit="tournament"), "exploit"),
    (dict(explore="mutate"), "explore"),
    (dict(objective="train_acc"), "objective"),
    (dict(perturb=(0.8, -1.0)), "perturb"),
    (dict(perturb=()), "perturb"),
    (dict(explore="resample", resample={"lr": (1e-3, 1.0)}), "resample"),
    (dict(explore="resample", resample={"lr": (1.0, 1e-3), "decay": (1e-4, 1e-2)}),
     "resample['lr']"),
    (dict(explore="resample", resample={"lr": (0.0, 1.0), "decay": (1e-4, 1e-2)}),
     "resample['lr']"),
    (dict(explore="resample"), "resample"),
    (dict(resample={"lr": (1e-3, 1.0), "decay": (1e-4, 1e-2)}), "resample"),
    (dict(explore="resample", resample={"lr": (1e-3, 1.0), "decay": (1e-4, 1e-2)},
          perturb=(0.5, 2.0)), "perturb"),
    (dict(explore="resample", resample={"lr": (1e-3, 1.0), "decay": (1e-4, 1e-2)},
          resample_probability=1.5), "resample_probability"),
    (dict(resample_probability=0.5), "resample_probability"),
    (dict(fixed=("momentun",)), "fixed"),
    (dict(fixed=("lr", "decay", "momentum")), "fixed"),
    (dict(seed=1.0), "seed"),
])
def test_bad_arguments_are_named(changes, argument):
    with pytest.raises(ValueError, match=argument.replace("[", r"\[").replace("]", r"\]")):
        run(**changes)


def test_a_stored_run_is_reused_only_by_the_same_everything_and_never_after_a_flipped_byte(
        result, tmp_path, monkeypatch):
    import dataclasses

    store = RunStore(tmp_path / "store", log=lambda m: None)
    run(store=store)
    calls = _interrupt_at(monkeypatch, 99)
    assert run(store=store).resumed == 3 and not calls  # the same everything: reused

    def trainer(**config_changes):
        return engine.make_train(dataclasses.replace(TRAINER.config, **config_changes), IONO)

    others = {
        "seed": lambda: run(store=store, seed=4),
        "keys": lambda: run(store=store, key=[k + 1 for k in KEYS]),
        "strategy (explore)": lambda: run(store=store, perturb=(0.5, 2.0)),
        "eval size": lambda: run_pbt(trainer(eval_batch_size=50), POPULATION, KEYS,
                                     store=store, **SETTINGS),
        "schedule": lambda: run_pbt(trainer(schedule=lambda h, info: jaxlr.inverse_time(
            h["lr"], h["decay"], 2.0)), POPULATION, KEYS, store=store, **SETTINGS),
        "data": lambda: run_pbt(engine.make_train(TRAINER.config, data.subset(IONO, 200)),
                                POPULATION, KEYS, store=store, **SETTINGS),
    }
    for what, other in others.items():
        before = len(calls)
        assert other().resumed == 0, what
        assert len(calls) == before + 3, what  # trained every interval, into its own slot
    # a flipped byte in the first run's record: rejected and recomputed, the same numbers
    records = sorted((tmp_path / "store").glob("*.run"), key=lambda p: p.stat().st_mtime)
    raw = bytearray(records[0].read_bytes())
    raw[-5] ^= 0xFF
    records[0].write_bytes(bytes(raw))
    before = len(calls)
    again = run(store=store)
    assert again.resumed == 0 and len(calls) == before + 3
    assert_same_result(again, result)
