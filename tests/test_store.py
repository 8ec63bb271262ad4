"""The run store never returns another run's numbers.

Every test computes the reference numbers WITHOUT a store, then shows that a
run with something changed, sharing a store with a previous run, returns
exactly its own store-free numbers (never the previous run's) from its own
record; and that a damaged, truncated, foreign or stale file is moved aside
to ``NAME.rejected`` with a message naming it, and recomputed.

Real data: Ionosphere (235 training, 116 validation rows), 3 epochs, so a run
takes milliseconds once compiled; the Flax Linen tests use tiny random arrays.
"""

from __future__ import annotations

import collections
import dataclasses
import shutil

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr
from jaxlr import cli, engine
from jaxlr import data as data_lib
from jaxlr import sweep as sweep_lib
from jaxlr.engine import Record, RunStore, TrainConfig, driver
from jaxlr.engine.store import MAGIC

HP = {"lr": 0.1, "momentum": 0.8, "decay": 0.002}


def time_based(decay_steps):
    """A schedule builder: Keras's time-based decay ``lr / (1 + decay * step / decay_steps)``."""
    return lambda h, info: jaxlr.inverse_time(h["lr"], h["decay"], decay_steps)


def ionosphere_config(**changes):
    config = TrainConfig(model="ionosphere_mlp", epochs=3, batch_size=28, optimizer="keras_sgd",
                         schedule=time_based(1.0))
    return dataclasses.replace(config, **changes)


def _one_value_changed(ds):
    x = ds.x_train.copy()
    x[5, 3] += 0.25
    return dataclasses.replace(ds, x_train=x)


@pytest.fixture(scope="module")
def ds():
    return data_lib.load("ionosphere")


@pytest.fixture(scope="module")
def trainers(ds):
    """Ionosphere trainers by name, each built (and compiled) once for the whole file."""
    recipes = {
        "base": lambda: (ionosphere_config(), ds),
        "cosine_schedule": lambda: (ionosphere_config(schedule=lambda h, info: jaxlr.cosine(
            h["lr"], info.total_steps, h["lr"] * h["decay"])), ds),
        "time_based_0.1": lambda: (ionosphere_config(schedule=time_based(0.1)), ds),
        "max_train_100": lambda: (ionosphere_config(), data_lib.subset(ds, max_train=100)),
        "one_value_changed": lambda: (ionosphere_config(), _one_value_changed(ds)),
        "max_eval_60": lambda: (ionosphere_config(), data_lib.subset(ds, max_eval=60)),
    }
    built = {}

    def get(name):
        if name not in built:
            built[name] = engine.make_train(*recipes[name]())
        return built[name]

    return get


@pytest.fixture(scope="module")
def trainer(trainers):
    return trainers("base")


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------

class Store:
    """A run store in a temporary directory that keeps its log messages."""

    def __init__(self, directory):
        self.directory = directory
        self.messages = []
        self.store = RunStore(directory, log=self.messages.append)

    def records(self, pattern="*.run"):
        return sorted(self.directory.glob(pattern))

    def rejected(self):
        return sorted(self.directory.glob("*.rejected"))


@pytest.fixture
def st(tmp_path):
    return Store(tmp_path / "store")


def numbers(history):
    """A History's numbers (everything but its wall times)."""
    d = history.to_dict()
    del d["epoch_seconds"]
    return d


def assert_same_numbers(got, want):
    """Bit for bit: every metric of every epoch (NaN equals NaN)."""
    assert got.keys() == want.keys()
    for k in want:
        if isinstance(want[k], list):
            np.testing.assert_array_equal(np.asarray(got[k], float), np.asarray(want[k], float),
                                          err_msg=k)
        else:
            assert got[k] == want[k], k


def sweep_numbers(result):
    return {k: np.asarray(v) for k, v in result.metrics.items()}


def assert_same_sweep(got, want):
    assert got.keys() == want.keys()
    for k in want:
        np.testing.assert_array_equal(got[k], want[k], err_msg=k)


@pytest.fixture
def epoch_calls(monkeypatch):
    """Counts the epochs actually trained (``Program.epoch`` calls)."""
    calls = []
    original = driver.Program.epoch

    def epoch(self, state):
        calls.append(self.batched)
        return original(self, state)

    monkeypatch.setattr(driver.Program, "epoch", epoch)
    return calls


def interrupted(monkeypatch, at, fn):
    """Call ``fn()`` with ``Program.epoch`` raising KeyboardInterrupt on its ``at``-th call."""
    calls = []
    original = driver.Program.epoch

    def epoch(self, state):
        calls.append(1)
        if len(calls) == at:
            raise KeyboardInterrupt
        return original(self, state)

    with monkeypatch.context() as m:
        m.setattr(driver.Program, "epoch", epoch)
        with pytest.raises(KeyboardInterrupt):
            fn()
    assert len(calls) == at


def header_span(path):
    """``(start, end)`` of the JSON header in a record file."""
    raw = path.read_bytes()
    assert raw.startswith(MAGIC)
    n = int.from_bytes(raw[len(MAGIC):len(MAGIC) + 8], "big")
    start = len(MAGIC) + 8
    return start, start + n


def flip(path, offsets):
    raw = bytearray(path.read_bytes())
    for i in offsets:
        raw[i] ^= 0x01
    path.write_bytes(bytes(raw))


def assert_rejected(st, path, count=1):
    """``path`` was moved aside to ``path.rejected``, said in one message naming it."""
    assert path.with_name(path.name + ".rejected").is_file()
    named = [m for m in st.messages if str(path) in m]
    assert len(named) == count, st.messages
    assert all(".rejected" in m and "recomputing" in m for m in named)


# ---------------------------------------------------------------------------
# 1-4, 6: a single run with one thing changed
# ---------------------------------------------------------------------------

CHANGES = {  # name -> (trainer, hparams, seed) of the first run and of the changed one
    "seed": (("base", HP, 0), ("base", HP, 1)),
    # (init, data) seed pairs: another init over the same data, the same init over other data
    "init_seed": (("base", HP, (0, 5)), ("base", HP, (1, 5))),
    "data_seed": (("base", HP, (0, 5)), ("base", HP, (0, 6))),
    "pair_vs_int": (("base", HP, 0), ("base", HP, (0, 1))),
    "schedule": (("base", HP, 0), ("cosine_schedule", HP, 0)),
    # the same builder (same code), another value in its closure
    "schedule_closure": (("base", HP, 0), ("time_based_0.1", HP, 0)),
    "data_max_train": (("base", HP, 0), ("max_train_100", HP, 0)),
    "data_one_value": (("base", HP, 0), ("one_value_changed", HP, 0)),
    "max_eval": (("base", HP, 0), ("max_eval_60", HP, 0)),
    "hparams": (("base", HP, 0), ("base", {**HP, "momentum": 0.9}, 0)),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_changed_single_run_gets_its_own_numbers(change, trainers, st, epoch_calls):
    (ta, ha, sa), (tb, hb, sb) = ((trainers(t), h, s) for t, h, s in CHANGES[change])
    ref_a, ref_b = numbers(engine.run(ta, ha, sa)), numbers(engine.run(tb, hb, sb))
    assert ref_a != ref_b, "the change must change the numbers for this test to mean much"

    assert_same_numbers(numbers(engine.run(ta, ha, sa, store=st.store)), ref_a)
    assert len(st.records()) == 1
    assert_same_numbers(numbers(engine.run(tb, hb, sb, store=st.store)), ref_b)
    assert len(st.records()) == 2  # a separate record
    # both are reused from their own records: no epoch trained, the same numbers
    del epoch_calls[:]
    assert_same_numbers(numbers(engine.run(ta, ha, sa, store=st.store)), ref_a)
    assert_same_numbers(numbers(engine.run(tb, hb, sb, store=st.store)), ref_b)
    assert epoch_calls == []
    assert st.messages == [] and st.rejected() == []


def test_seed_pair_of_equal_seeds_reuses_the_int_seeds_record(trainer, st, epoch_calls):
    ref = numbers(engine.run(trainer, HP, 3, store=st.store))
    del epoch_calls[:]
    assert_same_numbers(numbers(engine.run(trainer, HP, (3, 3), store=st.store)), ref)
    assert epoch_calls == [] and len(st.records()) == 1  # the same run, one record
    res = sweep_lib.sweep(trainer, [HP], seeds=[(3, 3), (3, 4)], strategy="sequential",
                      store=st.store)
    assert len(st.records()) == 2  # (3, 4) trained and saved apart
    np.testing.assert_array_equal(res.metrics["eval_loss"][0, 0], ref["eval_loss"])
    assert not np.array_equal(res.metrics["eval_loss"][0, 1], ref["eval_loss"])


def test_other_num_classes_has_its_own_identity():
    # identity only: the end-to-end sweep on LeNet costs ~30 s of compilation (see the report)
    from jaxlr.engine.identity import digest

    x = np.random.RandomState(0).rand(16, 28, 28, 1).astype(np.float32)
    y = np.arange(16) % 3
    config = TrainConfig(model="lenet", epochs=1, batch_size=8, optimizer="sgd")
    t3, t5 = (engine.make_train(config, data_lib.from_arrays(x, y, num_classes=n))
              for n in (3, 5))
    assert t3.output_shape != t5.output_shape
    assert digest(t3.identity()) != digest(t5.identity())


def test_each_lowering_has_its_own_identity_and_auto_is_the_one_it_resolves_to():
    # the lowerings agree to float32 rounding only: a run stored under one is not another's
    from jaxlr.engine.identity import digest
    from jaxlr.models import model_lowering

    x = np.random.RandomState(0).rand(16, 28, 28, 1).astype(np.float32)
    fake = data_lib.from_arrays(x, np.arange(16) % 10, num_classes=10)
    ids = {low: engine.make_train(TrainConfig(model="lenet", epochs=1, batch_size=8,
                                              lowering=low), fake).identity()
           for low in ("auto", "banded", "shifted", "xla")}
    assert len({digest(ids[low]) for low in ("banded", "shifted", "xla")}) == 3
    resolved = model_lowering("lenet")
    assert ids["auto"]["config"]["lowering"] == resolved
    assert digest(ids["auto"]) == digest(ids[resolved])


def test_data_changed_in_place_gets_its_own_numbers(ds, trainers, st):
    ref_a = numbers(engine.run(trainers("base"), HP, 0))
    ref_b = numbers(engine.run(trainers("one_value_changed"), HP, 0))
    assert ref_a != ref_b
    mine = dataclasses.replace(ds, x_train=ds.x_train.copy())
    engine.run(engine.make_train(ionosphere_config(), mine), HP, 0, store=st.store)
    mine.x_train[5, 3] += 0.25  # e.g. a normalisation done in place: now one_value_changed
    changed = engine.make_train(ionosphere_config(), mine)
    assert_same_numbers(numbers(engine.run(changed, HP, 0, store=st.store)), ref_b)


# ---------------------------------------------------------------------------
# 5: sweep strategies and chunk sizes share a store
# ---------------------------------------------------------------------------

GRID = {"lr": [0.05, 0.1, 0.2]}
BASE = {"momentum": 0.8, "decay": 0.002}
STRATEGIES = [("vmap", 64), ("chunked", 2), ("chunked", 4), ("sequential", 64)]


def test_sweep_strategies_each_get_their_own_numbers(trainer, st):
    def run(strategy, chunk, store=None):
        return sweep_lib.sweep(trainer, GRID, base=BASE, strategy=strategy, chunk_size=chunk,
                               store=store)

    refs = {s: sweep_numbers(run(*s)) for s in STRATEGIES}
    counts = []
    for s in STRATEGIES:
        result = run(*s, store=st.store)
        assert_same_sweep(sweep_numbers(result), refs[s])
        if s[0] != "sequential":
            assert result.reused == 0, f"{s} reused another strategy's part"
        counts.append(len(st.records()))
    # vmap: 1 part; chunk 2: 2 parts; chunk 4: 1 part (padded); sequential: 3 runs
    assert counts == [1, 3, 4, 7]
    for s in STRATEGIES:
        result = run(*s, store=st.store)
        assert_same_sweep(sweep_numbers(result), refs[s])
        if s[0] != "sequential":
            assert result.reused == result.parts
    assert len(st.records()) == 7
    assert st.messages == []
    # a sequential member is its single run: the same record, the same numbers
    single = engine.run(trainer, {**BASE, "lr": 0.2}, 0, store=st.store)
    np.testing.assert_array_equal(refs[("sequential", 64)]["eval_acc"][2, 0], single.eval_acc)
    assert len(st.records()) == 7


# ---------------------------------------------------------------------------
# 7, 8: damaged and truncated files
# ---------------------------------------------------------------------------

def _offsets(path, place):
    start, end = header_span(path)
    raw = path.read_bytes()
    header = raw[start:end]
    if place == "payload":
        n = len(raw) - end
        return [end + n // 4, end + n // 2, end + 3 * n // 4]
    if place == "magic":
        return [0, 3]
    if place == "header_length":
        return [len(MAGIC) + 7]
    if place == "header_identity":  # the jaxlr version inside the identity
        i = header.index(b'"jaxlr": "') + len(b'"jaxlr": "')
        return [start + i]
    if place == "header_digest":
        i = header.index(b'"digest": "') + len(b'"digest": "')
        return [start + i + 5, start + i + 6]
    if place == "header_meta_number":  # a digit of a saved accuracy
        i = header.index(b'"eval_acc": [') + len(b'"eval_acc": [')
        return [start + i + 4]
    if place == "header_meta_key":
        i = header.index(b'"train_loss"')
        return [start + i + 3]
    raise AssertionError(place)


def _single(trainer):
    return lambda store=None: numbers(engine.run(trainer, HP, 0, store=store))


def _part(trainer):
    return lambda store=None: sweep_numbers(sweep_lib.sweep(trainer, GRID, base=BASE,
                                                            strategy="vmap", store=store))


KINDS = {"run": (_single, assert_same_numbers), "part": (_part, assert_same_sweep)}

@pytest.mark.parametrize("kind,place", [
    ("run", "payload"), ("run", "magic"), ("run", "header_length"),
    ("run", "header_identity"), ("run", "header_digest"),
    ("run", "header_meta_number"), ("run", "header_meta_key"),
    ("part", "payload"), ("part", "header_identity"), ("part", "header_digest"),
])
def test_flipped_bytes_are_rejected_and_recomputed(kind, place, trainer, st, epoch_calls):
    make, same = KINDS[kind]
    go = make(trainer)
    ref = go()
    go(st.store)
    [path] = st.records()
    flip(path, _offsets(path, place))
    del epoch_calls[:]
    same(go(st.store), ref)
    assert epoch_calls, "it must recompute"
    assert_rejected(st, path)
    # the recomputed record is whole again and reused
    del epoch_calls[:]
    same(go(st.store), ref)
    assert epoch_calls == [] and len(st.messages) == 1


@pytest.mark.parametrize("kind", list(KINDS))
def test_truncated_file_is_rejected_and_recomputed(kind, trainer, st, epoch_calls):
    make, same = KINDS[kind]
    go = make(trainer)
    ref = go()
    go(st.store)
    [path] = st.records()
    raw = path.read_bytes()
    path.write_bytes(raw[:len(raw) // 2])
    del epoch_calls[:]
    same(go(st.store), ref)
    assert epoch_calls
    assert_rejected(st, path)
    assert path.with_name(path.name + ".rejected").stat().st_size == len(raw) // 2


# ---------------------------------------------------------------------------
# 9: foreign files under the wrong name
# ---------------------------------------------------------------------------

def test_another_grids_part_under_this_name_is_rejected(trainer, tmp_path, st):
    def run(grid, store=None):
        return sweep_lib.sweep(trainer, grid, base=BASE, strategy="chunked", chunk_size=2,
                               store=store)

    grid_a, grid_b = {"lr": [0.3, 0.4, 0.5, 0.6]}, {"lr": [0.01, 0.02, 0.05, 0.1]}
    ref_b = sweep_numbers(run(grid_b))
    other = Store(tmp_path / "other")
    run(grid_a, other.store)
    run(grid_b, st.store)
    foreign, target = other.records()[0], st.records()[1]
    shutil.copyfile(foreign, target)
    result = run(grid_b, st.store)
    assert_same_sweep(sweep_numbers(result), ref_b)
    assert result.reused == 1  # the untouched part
    assert_rejected(st, target)
    assert "another run" in st.messages[0]


def test_swapped_chunk_files_are_rejected(trainer, st):
    def run(store=None):
        return sweep_lib.sweep(trainer, {"lr": [0.01, 0.02, 0.05, 0.1]}, base=BASE,
                               strategy="chunked", chunk_size=2, store=store)

    ref = sweep_numbers(run())
    run(st.store)
    first, second = st.records()
    raw_first, raw_second = first.read_bytes(), second.read_bytes()
    first.write_bytes(raw_second)
    second.write_bytes(raw_first)
    result = run(st.store)
    assert_same_sweep(sweep_numbers(result), ref)
    assert result.reused == 0
    assert_rejected(st, first)
    assert_rejected(st, second)


# ---------------------------------------------------------------------------
# 10: another jaxlr version
# ---------------------------------------------------------------------------

def test_record_of_another_jaxlr_version_is_not_reused(trainer, st, monkeypatch, epoch_calls):
    ref_run = numbers(engine.run(trainer, HP, 0))
    ref_sweep = sweep_numbers(sweep_lib.sweep(trainer, GRID, base=BASE, strategy="vmap"))
    with monkeypatch.context() as m:
        m.setattr(jaxlr, "__version__", "0.0.9")
        engine.run(trainer, HP, 0, store=st.store)
        sweep_lib.sweep(trainer, GRID, base=BASE, strategy="vmap", store=st.store)
    assert len(st.records()) == 2
    del epoch_calls[:]
    assert_same_numbers(numbers(engine.run(trainer, HP, 0, store=st.store)), ref_run)
    assert len(epoch_calls) == 3  # recomputed, every epoch
    result = sweep_lib.sweep(trainer, GRID, base=BASE, strategy="vmap", store=st.store)
    assert_same_sweep(sweep_numbers(result), ref_sweep)
    assert result.reused == 0 and len(epoch_calls) == 6
    assert len(st.records()) == 4  # the old version's records are left alone
    assert st.messages == []


@pytest.mark.parametrize("library", ["optax", "flax", "jaxlib"])
def test_record_of_another_dependency_version_is_not_reused(library, trainer, st, monkeypatch,
                                                            epoch_calls):
    import importlib

    module = importlib.import_module(library)
    with monkeypatch.context() as m:
        m.setattr(module, "__version__", "0.0.1")
        if library == "jaxlib":
            m.setattr(importlib.import_module("jaxlib.version"), "__version__", "0.0.1")
        engine.run(trainer, HP, 0, store=st.store)
    del epoch_calls[:]
    engine.run(trainer, HP, 0, store=st.store)
    assert len(epoch_calls) == 3, "a record of another version was reused"


# ---------------------------------------------------------------------------
# 11: a checkpoint from a smaller dataset
# ---------------------------------------------------------------------------

def test_checkpoint_of_smaller_dataset_then_full_data(trainers, st, monkeypatch):
    small, trainer = trainers("max_train_100"), trainers("base")
    ref_small, ref_full = numbers(engine.run(small, HP, 0)), numbers(engine.run(trainer, HP, 0))
    # the small run stops after its first epoch: an unfinished checkpoint in the store
    interrupted(monkeypatch, 2, lambda: engine.run(small, HP, 0, store=st.store))
    assert len(st.records()) == 1
    for _ in range(2):  # and later reruns keep working, in either order
        assert_same_numbers(numbers(engine.run(trainer, HP, 0, store=st.store)), ref_full)
        assert_same_numbers(numbers(engine.run(small, HP, 0, store=st.store)), ref_small)
    assert len(st.records()) == 2
    assert st.messages == [] and st.rejected() == []


# ---------------------------------------------------------------------------
# 12: a misspelt hyperparameter
# ---------------------------------------------------------------------------

MISSPELT = {"lr": 0.1, "momentun": 0.8, "decay": 0.002}


def _names_it(message):
    """The message names the unread hyperparameter and the names the run reads."""
    assert "['momentun']" in message, message
    # momentum is not given, so the optimizer's default is used and not "read"
    assert "it reads ['decay', 'lr']" in message, message


def test_misspelt_hyperparameter_in_run(trainer, st):
    with pytest.raises(ValueError) as e:
        engine.run(trainer, MISSPELT, 0, store=st.store)
    _names_it(str(e.value))
    assert st.records() == []


def test_misspelt_hyperparameter_in_sweep_base(trainer, st):
    for strategy in ("vmap", "chunked", "sequential"):
        with pytest.raises(ValueError) as e:
            sweep_lib.sweep(trainer, {"lr": [0.05, 0.1]},
                            base={"momentun": 0.8, "decay": 0.002}, strategy=strategy,
                            chunk_size=1, store=st.store)
        _names_it(str(e.value))
    # a bare function as the target: the names it reads
    with pytest.raises(ValueError) as e:
        sweep_lib.sweep(make_function(2.0), {"lr": [0.05, 0.1]},
                        base={"wd": 1.0, "momentun": 0.8}, store=st.store)
    assert "['momentun']" in str(e.value) and "it reads ['lr', 'wd']" in str(e.value)
    assert st.records() == []


def test_misspelt_hyperparameter_in_successive_halving(trainer, st):
    with pytest.raises(ValueError) as e:
        sweep_lib.successive_halving(trainer, {"lr": [0.05, 0.1, 0.2]},
                                     base={"momentun": 0.8, "decay": 0.002}, store=st.store)
    _names_it(str(e.value))
    assert st.records() == []


def test_misspelt_hyperparameter_in_cli_sweep(tmp_path, capsys):
    out = tmp_path / "tmp"
    code = cli.main(["sweep", "ionosphere", "--param", "momentun=0.1,0.2", "--epochs", "1",
                     "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert "momentun" in err
    assert "it reads ['lr', 'momentum']" in err, err
    assert not list(out.glob("store/*.run"))


# ---------------------------------------------------------------------------
# 13: an interrupted sweep of a user's Flax Linen model resumes bit-identical
# ---------------------------------------------------------------------------

class SmallMLP(nn.Module):
    width: int = 16

    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(self.width)(x))
        return nn.Dense(1)(x)


def squared_error(outputs, targets):
    return (outputs[..., 0] - targets) ** 2


def _regression_data(n_train=48, n_eval=20, features=5, seed=0):
    rng = np.random.RandomState(seed)
    w = rng.normal(size=features)
    x, x_eval = rng.normal(size=(n_train, features)), rng.normal(size=(n_eval, features))
    return data_lib.from_arrays(x, x @ w + 0.1 * rng.normal(size=n_train), x_eval,
                                x_eval @ w)


@pytest.fixture(scope="module")
def linen_trainer():
    config = TrainConfig(model=SmallMLP(), epochs=3, batch_size=16, optimizer="sgd",
                         loss=squared_error,
                         schedule=lambda h, info: optax.cosine_decay_schedule(
                             h["lr"], info.total_steps))
    return engine.make_train(config, _regression_data())


@pytest.mark.parametrize("strategy,chunk,epochs_left", [
    ("vmap", 64, 1),  # one part: epochs 1, 2 saved, the 3rd interrupted
    ("chunked", 4, 1 + 3),  # the first chunk as vmap; then the second chunk
])
def test_interrupted_linen_sweep_resumes_bit_identical(strategy, chunk, epochs_left,
                                                       linen_trainer, st, monkeypatch):
    def run(store=None):
        return sweep_lib.sweep(linen_trainer, {"lr": [0.01, 0.03, 0.1]},
                               base={"momentum": 0.9}, seeds=2, strategy=strategy,
                               chunk_size=chunk, store=store)

    ref = sweep_numbers(run())
    interrupted(monkeypatch, 3, lambda: run(st.store))
    assert st.records()
    calls = []
    original = driver.Program.epoch
    monkeypatch.setattr(driver.Program, "epoch",
                        lambda self, state: calls.append(1) or original(self, state))
    resumed = sweep_numbers(run(st.store))
    assert len(calls) == epochs_left  # it resumed, not restarted
    assert resumed.keys() == ref.keys()
    for k in ref:
        np.testing.assert_array_equal(resumed[k], ref[k], err_msg=k)
    assert st.messages == []


def test_interrupted_successive_halving_resumes_bit_identical(trainer, st, monkeypatch,
                                                              epoch_calls):
    def run(store=None):
        return sweep_lib.successive_halving(trainer, GRID, base=BASE, eta=2, store=store)

    ref, ref_survivors = run()  # rungs of 1 and 2 epochs; 2 of the 3 configs go on
    assert ref_survivors == [[0, 1, 2], ref_survivors[1]] and len(ref_survivors[1]) == 2
    # saved after the first rung; interrupted in the 2nd epoch of the second
    interrupted(monkeypatch, 3, lambda: run(st.store))
    del epoch_calls[:]
    result, survivors = run(st.store)
    assert len(epoch_calls) == 2  # resumed after the first rung
    assert survivors == ref_survivors
    assert_same_sweep(sweep_numbers(result), sweep_numbers(ref))
    assert len(st.records()) == 1 and st.messages == []


# ---------------------------------------------------------------------------
# 14: a sweep over a bare pure function
# ---------------------------------------------------------------------------

TRACES = collections.Counter()


def make_function(scale):
    def fn(hparams, key):
        TRACES[scale] += 1
        noise = jax.random.normal(key, (4,))
        return {"loss": hparams["lr"] * scale + noise, "norm": jnp.sum(noise ** 2) * hparams["wd"]}

    return fn


FN_GRID = sweep_lib.grid(lr=[0.1, 0.2, 0.3], wd=[1.0, 2.0])


def test_function_sweep_reuses_and_changed_closure_recomputes(st):
    ref2 = sweep_numbers(sweep_lib.sweep(make_function(2.0), FN_GRID, seeds=2))
    ref3 = sweep_numbers(sweep_lib.sweep(make_function(3.0), FN_GRID, seeds=2))
    assert not np.array_equal(ref2["loss"], ref3["loss"])

    first = sweep_lib.sweep(make_function(2.0), FN_GRID, seeds=2, store=st.store)
    assert_same_sweep(sweep_numbers(first), ref2)
    assert first.reused == 0 and len(st.records()) == 1
    before = TRACES[2.0]
    again = sweep_lib.sweep(make_function(2.0), FN_GRID, seeds=2, store=st.store)
    assert_same_sweep(sweep_numbers(again), ref2)
    assert again.reused == again.parts
    assert TRACES[2.0] - before <= 1  # only the abstract trace that checks the names read

    changed = sweep_lib.sweep(make_function(3.0), FN_GRID, seeds=2, store=st.store)
    assert changed.reused == 0
    assert_same_sweep(sweep_numbers(changed), ref3)
    assert len(st.records()) == 2 and st.messages == []


def test_function_closing_over_other_data_recomputes(ds, st):
    def make(dataset):
        def fn(hparams, key):
            return {"v": hparams["lr"] * jnp.sum(jnp.asarray(dataset.x_train))}
        return fn

    small = data_lib.subset(ds, max_train=100)
    ref = sweep_numbers(sweep_lib.sweep(make(small), {"lr": [1.0, 2.0]}))
    sweep_lib.sweep(make(ds), {"lr": [1.0, 2.0]}, store=st.store)
    assert_same_sweep(sweep_numbers(sweep_lib.sweep(make(small), {"lr": [1.0, 2.0]},
                                                    store=st.store)), ref)


# ---------------------------------------------------------------------------
# user callables the identity must tell apart
# ---------------------------------------------------------------------------

class Scaled:
    """A callable object whose attribute changes its numbers (like a loss object with a delta)."""

    def __init__(self, scale):
        self.scale = scale

    def __call__(self, hparams, key):
        return {"v": hparams["lr"] * self.scale + jax.random.normal(key, ())}


def test_callable_object_with_other_attribute_recomputes(st):
    grid = {"lr": [1.0, 2.0]}
    ref = sweep_numbers(sweep_lib.sweep(Scaled(3.0), grid))
    sweep_lib.sweep(Scaled(2.0), grid, store=st.store)
    assert_same_sweep(sweep_numbers(sweep_lib.sweep(Scaled(3.0), grid, store=st.store)), ref)


def bce(outputs, targets):
    return optax.sigmoid_binary_cross_entropy(outputs[..., 0], targets.astype(jnp.float32))


def bce_tripled(outputs, targets):
    return 3.0 * bce(outputs, targets)


def test_other_jitted_loss_gets_its_own_numbers(ds, st):
    ta, tb = (engine.make_train(ionosphere_config(loss=jax.jit(loss)), ds)
              for loss in (bce, bce_tripled))
    ref_b = numbers(engine.run(tb, HP, 0))
    engine.run(ta, HP, 0, store=st.store)
    assert_same_numbers(numbers(engine.run(tb, HP, 0, store=st.store)), ref_b)


# ---------------------------------------------------------------------------
# 15: a kill mid-write leaves a temporary file; the next save removes it
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("kind", ["run", "part"])
def test_leftover_temporary_is_removed_by_the_next_save(kind, trainer, st, monkeypatch):
    go = {"run": lambda store=None: numbers(engine.run(trainer, HP, 0, store=store)),
          "part": lambda store=None: sweep_numbers(sweep_lib.sweep(
              trainer, GRID, base=BASE, strategy="vmap", store=store))}[kind]
    same = assert_same_numbers if kind == "run" else assert_same_sweep
    ref = go()
    interrupted(monkeypatch, 2, lambda: go(st.store))  # one epoch saved
    [path] = st.records()
    leftover = path.with_name(f".{path.name}.k1ll3d")
    leftover.write_bytes(path.read_bytes()[:100])  # what a kill mid-write leaves
    unrelated = path.with_name(".notes.txt")
    unrelated.write_text("not the store's")
    same(go(st.store), ref)
    assert not leftover.exists()
    assert unrelated.exists()
    assert [p.name for p in st.directory.iterdir() if p.name.startswith(f".{path.name}")] == []
    assert st.records() == [path] and st.messages == []


# ---------------------------------------------------------------------------
# no record is half-loaded: other state shapes are refused
# ---------------------------------------------------------------------------

WIDTH = {"hidden": 8}  # read at trace time: a change the identity cannot see


class GlobalWidthMLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.tanh(nn.Dense(WIDTH["hidden"])(x))
        return nn.Dense(1)(x)


def test_record_with_other_state_shapes_is_rejected(st, monkeypatch):
    data = _regression_data(seed=1)
    config = TrainConfig(model=GlobalWidthMLP(), epochs=2, batch_size=16, optimizer="sgd",
                         loss="mse")
    hp = {"lr": 0.05, "momentum": 0.9}
    engine.run(engine.make_train(config, data), hp, 0, store=st.store)
    [path] = st.records()
    monkeypatch.setitem(WIDTH, "hidden", 12)
    wider = engine.make_train(config, data)
    ref = numbers(engine.run(wider, hp, 0))
    history, state = engine.run(wider, hp, 0, store=st.store, return_state=True)
    assert_same_numbers(numbers(history), ref)
    assert state.params["Dense_0"]["kernel"].shape == (5, 12)
    assert_rejected(st, path)
    assert "state array" in st.messages[0]


def test_slot_refuses_other_shapes_dtypes_and_leaf_counts(st):
    good = {"w": np.arange(3, dtype=np.float32), "b": np.zeros((2, 2), np.float32)}
    templates = {
        "shape": {"w": np.zeros(4, np.float32), "b": np.zeros((2, 2), np.float32)},
        "dtype": {"w": np.zeros(3, np.int32), "b": np.zeros((2, 2), np.float32)},
        "leaves": {"w": np.zeros(3, np.float32)},
    }
    for i, (what, template) in enumerate(templates.items()):
        slot = st.store.slot("run", {"case": what})
        slot.save(Record(meta={"epoch": 1}, arrays={"m": np.ones(2)}, state=good))
        assert slot.load(template=good).state["w"].tolist() == [0.0, 1.0, 2.0]
        assert slot.load(template=template) is None, what
        assert not slot.path.exists()
        assert len(st.messages) == i + 1
        assert str(slot.path) in st.messages[-1] and ".rejected" in st.messages[-1]


# ---------------------------------------------------------------------------
# the CLI's store (OUT/store) with another --max-eval
# ---------------------------------------------------------------------------

def test_cli_sweep_with_other_max_eval_gets_its_own_numbers(tmp_path, capsys, monkeypatch):
    """The CLI keeps its store in OUT/store: another --max-eval in the same OUT recomputes.

    (The exact store-free numbers of another eval size are checked through the API in
    ``test_changed_single_run_gets_its_own_numbers[max_eval]``; here only what the CLI adds.)
    """
    from jaxlr import plot

    monkeypatch.setattr(plot, "plot_sweep", lambda *a, **k: None)  # figures are not the point
    out = tmp_path / "out"

    def cli_sweep(max_eval):
        code = cli.main(["sweep", "ionosphere", "--lr", "0.05,0.1", "--epochs", "1",
                         "--max-eval", str(max_eval), "--out", str(out), "--no-progress"])
        assert code == 0
        return sweep_numbers(sweep_lib.load(out / "sweep.npz")), capsys.readouterr().out

    first, _ = cli_sweep(40)
    second, said = cli_sweep(80)  # the same OUT, so the same store OUT/store
    assert "already computed" not in said
    assert len(list(out.glob("store/*.run"))) == 2
    # training does not see the evaluation split: the same training numbers, other eval ones
    for k in ("train_loss", "train_acc", "lr", "step_loss"):
        np.testing.assert_array_equal(second[k], first[k], err_msg=k)
    assert not np.array_equal(second["eval_loss"], first["eval_loss"])


# ---------------------------------------------------------------------------
# what a rerun is told it reuses (sweep.saved, the CLI's and compare's first line)
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("strategy", ["vmap", "sequential"])
def test_saved_counts_only_what_this_exact_run_would_reuse(strategy, trainers, st):
    base = trainers("base")
    grid = {"lr": [0.05, 0.1]}
    assert sweep_lib.saved(base, grid, base=HP, seeds=2, strategy=strategy,
                           store=st.store) == (0, 0, 4)
    sweep_lib.sweep(base, grid, base=HP, seeds=2, strategy=strategy, store=st.store)
    held = sweep_lib.saved(base, grid, base=HP, seeds=2, strategy=strategy, store=st.store)
    assert held == (4, 0, 4) and held.note("D") == "; 4 of 4 already done in D"
    # other seeds (2, 3), schedule, eval size, strategy or data: nothing of it is held
    for trainer, seed, other in (("base", 2, strategy), ("cosine_schedule", 0, strategy),
                                 ("max_eval_60", 0, strategy), ("one_value_changed", 0, strategy),
                                 ("base", 0, "chunked")):
        assert sweep_lib.saved(trainers(trainer), grid, base=HP, seeds=2, seed=seed,
                               strategy=other, chunk_size=3, store=st.store).finished == 0
    # a flipped byte: not counted, and moved aside (the run recomputes it)
    record = st.records()[0]
    flip(record, [header_span(record)[1] + 5])
    held = sweep_lib.saved(base, grid, base=HP, seeds=2, strategy=strategy, store=st.store)
    # vmap: one record holds all 4 members; sequential: one record per member
    assert held.finished == (0 if strategy == "vmap" else 3)
    assert_rejected(st, record)


def test_saved_counts_an_interrupted_part_as_partial(trainer, st, monkeypatch):
    interrupted(monkeypatch, 2, lambda: sweep_lib.sweep(
        trainer, {"lr": [0.05, 0.1]}, base=HP, strategy="vmap", store=st.store))
    held = sweep_lib.saved(trainer, {"lr": [0.05, 0.1]}, base=HP, strategy="vmap",
                           store=st.store)
    assert held == (0, 2, 2)
    assert held.note("D") == "; 0 of 2 already done in D, 2 resume after their last saved epoch"
