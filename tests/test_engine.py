"""The public engine as a user brings their own work: their Linen / NNX model, loss,
optimizer, metrics, arrays, task module and pure functions (small synthetic data).

Trainers are shared per module (their compiled programs are cached per trainer), so
the whole file compiles few programs.
"""

import dataclasses
import functools
import importlib
import json
import sys
import textwrap

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxlr
import jaxlr.cli
from jaxlr import data, engine, sweep
from jaxlr.engine import backend

# --------------------------------------------------------------------------------------
# synthetic data: 3 classes, learnable from the first 3 features

_RNG = np.random.default_rng(0)
_X = _RNG.normal(size=(120, 8))  # float64 on purpose: from_arrays makes it float32
_Y = _X[:, :3].argmax(1)  # int64
X_TRAIN, Y_TRAIN, X_EVAL, Y_EVAL = _X[:90], _Y[:90], _X[90:], _Y[90:]
DS = data.from_arrays(X_TRAIN, Y_TRAIN, X_EVAL, Y_EVAL, name="synthetic")
# 90 examples, batch 15: 6 whole updates per epoch (BatchNorm models need whole batches)
BATCH = 15
HP = {"lr": 0.1, "momentum": 0.9}


def _same_history(a, b):
    da, db = a.to_dict(), b.to_dict()
    da.pop("epoch_seconds"), db.pop("epoch_seconds")
    return da == db


def _float_leaves(tree):
    return [np.asarray(x) for x in jax.tree_util.tree_leaves(tree)
            if jnp.issubdtype(jnp.asarray(x).dtype, jnp.floating)]


# --------------------------------------------------------------------------------------
# a user's Linen model (Dropout + BatchNorm, told by `train`) and metrics


class LinenNet(nn.Module):
    hidden: int = 16

    @nn.compact
    def __call__(self, x, train=False):
        x = nn.Dense(self.hidden)(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=0.8)(x)
        x = nn.Dropout(0.2, deterministic=not train)(nn.relu(x))
        return nn.Dense(3)(x)


def top2_metrics(outputs, targets):
    """Per-example: is the target among the two largest logits; the largest logit."""
    top2 = jnp.argsort(outputs, axis=-1)[:, -2:]
    return {"top2": jnp.any(top2 == targets[:, None], axis=-1), "max_logit": outputs.max(-1)}


def _hand_eval(params, model_state):
    """Loss, accuracy and top2_metrics of the eval split, computed by hand."""
    logits = np.asarray(LinenNet().apply({"params": params, **model_state},
                                         jnp.asarray(X_EVAL, jnp.float32), train=False),
                        np.float64)
    y = Y_EVAL
    logp = logits - logits.max(1, keepdims=True)
    logp = logp - np.log(np.exp(logp).sum(1, keepdims=True))
    top2 = np.argsort(logits, 1)[:, -2:]
    return {"loss": -logp[np.arange(len(y)), y].mean(),
            "acc": (logits.argmax(1) == y).mean(),
            "top2": (top2 == y[:, None]).any(1).mean(),
            "max_logit": logits.max(1).mean()}


@pytest.fixture(scope="module")
def linen():
    config = engine.TrainConfig(model=LinenNet(), epochs=3, batch_size=BATCH, optimizer="sgd",
                                metrics=top2_metrics, name="linen")
    trainer = engine.make_train(config, DS)
    history, state = engine.run(trainer, HP, 0, return_state=True)
    return trainer, history, state


def test_linen_dropout_batchnorm_trains_and_keeps_batch_stats_for_evaluation(linen):
    trainer, h, state = linen
    assert trainer.model.kind == "linen" and trainer.steps_per_epoch == 6
    assert h.epochs_done == 3 and h.diverged_epoch is None and h.eval_split == "test"
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.eval_acc[-1] > 0.6  # chance: 1/3
    assert np.asarray(h.lr).shape == (3, 6) and np.asarray(h.step_loss).shape == (3, 6)
    # batch statistics are model_state, not params, and training moved them
    assert "batch_stats" not in state.params and set(state.model_state) == {"batch_stats"}
    start = engine.program(trainer).init({k: jnp.float32(v) for k, v in HP.items()},
                                         engine.raw_key(0))
    for before, after in zip(_float_leaves(start.model_state), _float_leaves(state.model_state)):
        assert not np.allclose(before, after)
    # evaluation uses the trained batch statistics (the running averages, not the batch's)
    by_hand = _hand_eval(state.params, state.model_state)
    np.testing.assert_allclose(h.eval_loss[-1], by_hand["loss"], rtol=1e-5)
    np.testing.assert_allclose(h.eval_acc[-1], by_hand["acc"], atol=1e-6)
    stale = _hand_eval(state.params, start.model_state)
    assert abs(stale["loss"] - h.eval_loss[-1]) > 1e-3


def test_linen_same_key_same_numbers_and_one_compilation_for_every_hparam(linen):
    trainer, h, _ = linen
    prog = engine.program(trainer)
    # the same key as an int, a raw key or a typed key: bit-identical
    assert _same_history(h, trainer(HP, 0))
    assert _same_history(h, engine.run(trainer, HP, jax.random.PRNGKey(0)))
    assert _same_history(h, engine.run(trainer, HP, jax.random.key(0)))
    other_key = trainer(HP, 1)
    assert other_key.train_loss != h.train_loss
    other_hp = trainer({"lr": 0.03, "momentum": 0.5}, 5)
    assert other_hp.train_loss != h.train_loss
    # the driver on CPU dispatches step by step: one compiled step for every value
    for fn in (prog.init, prog.begin_epoch, prog.step_into, prog.end_epoch):
        assert fn._cache_size() == 1


class RequiredTrainFlag(nn.Module):
    """As in many Flax examples: ``train`` without a default."""

    @nn.compact
    def __call__(self, x, train: bool):
        x = nn.BatchNorm(use_running_average=not train)(nn.Dense(8)(x))
        return nn.Dense(3)(nn.Dropout(0.2, deterministic=not train)(x))


def test_linen_module_with_a_required_train_argument():
    config = engine.TrainConfig(model=RequiredTrainFlag(), epochs=1, batch_size=BATCH)
    trainer = engine.make_train(config, DS)
    assert np.isfinite(trainer({"lr": 0.1}, 0).train_loss[0])


class OnlyBatchNorm(nn.Module):
    @nn.compact
    def __call__(self, x, train=False):
        # momentum 0: the running mean after one update is that batch's mean
        return nn.Dense(3)(nn.BatchNorm(use_running_average=not train, momentum=0.0)(x))


def test_batch_statistics_never_see_the_padding_of_a_partial_batch():
    # a masked last batch would put its padding into BatchNorm's statistics: refused, and
    # drop_last trains on whole batches, whose statistics come from real examples only
    x = _X[:20].astype(np.float32) * 3 + 1
    ds = data.from_arrays(x, _Y[:20])
    config = engine.TrainConfig(model=OnlyBatchNorm(), epochs=1, batch_size=16)
    with pytest.raises(ValueError, match="batch statistics.*last batch of 4.*drop_last"):
        engine.make_train(config, ds)
    trainer = engine.make_train(dataclasses.replace(config, drop_last=True), ds)
    assert trainer.steps_per_epoch == 1
    _, state = engine.run(trainer, {"lr": 0.0}, 0, return_state=True)
    mean = np.asarray(state.model_state["batch_stats"]["BatchNorm_0"]["mean"])
    order = np.asarray(trainer.begin_epoch(trainer.init({"lr": 0.0}, 0)).order)
    assert len(order) == 16 and len(set(order.tolist())) == 16
    np.testing.assert_allclose(mean, x[order].mean(0), rtol=1e-5, atol=1e-6)
    # a batch size that divides the examples needs no drop_last
    engine.make_train(dataclasses.replace(config, batch_size=10), ds)


# --------------------------------------------------------------------------------------
# a user's NNX model: a class, and a functools.partial factory


class NNXNet(nnx.Module):
    def __init__(self, hidden=16, *, rngs):
        self.l1 = nnx.Linear(8, hidden, rngs=rngs)
        self.bn = nnx.BatchNorm(hidden, momentum=0.8, rngs=rngs)
        self.drop = nnx.Dropout(0.2, rngs=rngs)
        self.l2 = nnx.Linear(hidden, 3, rngs=rngs)

    def __call__(self, x):
        return self.l2(self.drop(nnx.relu(self.bn(self.l1(x)))))


def _nnx_config(model, epochs=2):
    return engine.TrainConfig(model=model, epochs=epochs, batch_size=BATCH, optimizer="adam",
                              name="nnx")


def test_nnx_class_trains_under_the_driver_and_jit():
    trainer = engine.make_train(_nnx_config(NNXNet), DS)
    assert trainer.model.kind == "nnx"
    hp = {"lr": 1e-2}
    h, state = engine.run(trainer, hp, 0, return_state=True)
    assert h.train_loss[-1] < h.train_loss[0] and h.eval_acc[-1] > 0.5
    start = engine.program(trainer).init({"lr": jnp.float32(1e-2)}, engine.raw_key(0))
    before, after = _float_leaves(start.model_state), _float_leaves(state.model_state)
    assert len(before) == 2  # BatchNorm's mean and var
    assert all(not np.allclose(b, a) for b, a in zip(before, after))
    # the whole run as one jitted function computes the driver's run (to rounding)
    final, metrics = jax.jit(trainer.train_fn)(hp, jax.random.PRNGKey(0))
    assert isinstance(final, engine.TrainState) and int(final.epoch) == 2
    np.testing.assert_allclose(metrics["train_loss"], h.train_loss, rtol=2e-5)
    np.testing.assert_allclose(metrics["eval_loss"], h.eval_loss, rtol=2e-5)
    np.testing.assert_allclose(metrics["step_loss"], h.step_loss, rtol=2e-5)
    for a, b in zip(_float_leaves(final.model_state), after):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_nnx_factory_vmapped_over_lrs_and_keys_equals_single_runs():
    trainer = engine.make_train(_nnx_config(functools.partial(NNXNet, hidden=12)), DS)
    lrs = jnp.array([1e-2, 3e-3, 3e-2], jnp.float32)
    keys = jnp.stack([jax.random.PRNGKey(s) for s in (0, 1, 2)])
    states, batched = jax.jit(jax.vmap(trainer.train_fn))({"lr": lrs}, keys)
    assert states.params["l1"]["kernel"].shape == (3, 8, 12)  # the factory's hidden=12
    assert batched["train_loss"].shape == (3, 2) and batched["step_loss"].shape == (3, 2, 6)
    single = jax.jit(trainer.train_fn)
    for i in range(3):
        _, m = single({"lr": lrs[i]}, keys[i])
        for name in ("train_loss", "eval_loss", "step_loss"):
            np.testing.assert_allclose(batched[name][i], m[name], rtol=2e-5, err_msg=name)
        np.testing.assert_allclose(batched["lr"][i], m["lr"], rtol=1e-7)
    assert (batched["train_loss"][:, -1] < batched["train_loss"][:, 0]).all()
    # members really differ (lr and key are per member)
    assert len({float(v) for v in batched["train_loss"][:, -1]}) == 3


def test_nnx_module_instance_is_refused_with_what_to_pass():
    with pytest.raises(ValueError, match="class or a factory") as e:
        engine.make_train(_nnx_config(NNXNet(rngs=nnx.Rngs(0))), DS)
    assert "NNXNet" in str(e.value) and "functools.partial" in str(e.value)


# --------------------------------------------------------------------------------------
# the public pure functions


def test_init_returns_a_typed_train_state(linen):
    trainer = linen[0]
    state = trainer.init(HP, 0)  # eager, python floats and an int seed
    assert isinstance(state, engine.TrainState)
    assert [f.name for f in dataclasses.fields(engine.TrainState)] == [
        "params", "opt_state", "model_state", "hparams", "key", "epoch", "order",
        "diverged_step"]
    leaves, treedef = jax.tree_util.tree_flatten(state)
    assert isinstance(jax.tree_util.tree_unflatten(treedef, leaves), engine.TrainState)
    assert set(state.hparams) == {"lr", "momentum"}
    assert all(v.dtype == jnp.float32 and v.shape == () for v in state.hparams.values())
    assert state.epoch.dtype == jnp.int32 and int(state.epoch) == 0
    assert int(state.diverged_step) == -1
    assert state.order.shape == (6 * BATCH,) and state.key.dtype == jnp.uint32
    assert set(state.model_state) == {"batch_stats"}


def test_step_by_step_epoch_equals_run_epoch_and_evaluate(linen):
    trainer = linen[0]
    prog = engine.program(trainer)  # jax.jit of the trainer's functions, compiled already
    state0 = prog.init({k: jnp.float32(v) for k, v in HP.items()}, engine.raw_key(3))
    copy = functools.partial(jax.tree_util.tree_map, jnp.copy)  # prog's functions donate
    state, steps = jax.jit(trainer.begin_epoch)(copy(state0)), []
    order = np.asarray(state.order)
    assert sorted(order[:90]) == list(range(90)) and (order[90:] == -1).all()
    for i in range(trainer.steps_per_epoch):
        state, metrics = prog.step(state, jnp.int32(i))
        assert isinstance(metrics, engine.StepMetrics)
        steps.append(metrics)
    stacked = jax.tree_util.tree_map(lambda *xs: jnp.stack(xs), *steps)
    manual_state, manual = jax.jit(trainer.end_epoch)(state, stacked)
    scan_state, scanned = jax.jit(trainer.run_epoch)(state0)
    assert int(manual_state.epoch) == int(scan_state.epoch) == 1
    assert set(manual) == set(scanned) >= {"train_loss", "train_acc", "eval_loss", "eval_acc",
                                           "lr", "step_loss", "diverged_step", "eval_top2",
                                           "eval_max_logit"}
    for name in manual:
        np.testing.assert_allclose(manual[name], scanned[name], rtol=1e-5, atol=1e-7,
                                   err_msg=name)
    for a, b in zip(jax.tree_util.tree_leaves(manual_state.params),
                    jax.tree_util.tree_leaves(scan_state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)
    # evaluate(params, model_state) is end_epoch's evaluation
    ev = jax.jit(trainer.evaluate)(manual_state.params, manual_state.model_state)
    assert set(ev) == {"loss", "acc", "top2", "max_logit"}
    np.testing.assert_allclose(ev["loss"], manual["eval_loss"], rtol=1e-6)
    np.testing.assert_allclose(ev["acc"], manual["eval_acc"])
    np.testing.assert_allclose(ev["top2"], manual["eval_top2"], rtol=1e-6)


def test_train_fn_equals_the_host_driver(linen):
    trainer, h, state = linen
    final, m = jax.jit(trainer.train_fn)(HP, jax.random.PRNGKey(0))
    assert m["train_loss"].shape == (3,) and m["lr"].shape == (3, 6)
    np.testing.assert_allclose(m["train_loss"], h.train_loss, rtol=2e-5)
    np.testing.assert_allclose(m["eval_loss"], h.eval_loss, rtol=2e-5)
    np.testing.assert_allclose(m["step_loss"], h.step_loss, rtol=2e-5)
    np.testing.assert_allclose(m["eval_acc"], h.eval_acc, atol=1e-6)
    np.testing.assert_allclose(m["lr"], h.lr, rtol=1e-7)
    np.testing.assert_allclose(m["eval_top2"], h.extra["eval_top2"], rtol=1e-6)
    for a, b in zip(jax.tree_util.tree_leaves(final.params),
                    jax.tree_util.tree_leaves(state.params)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


# --------------------------------------------------------------------------------------
# losses


class Dense(nn.Module):
    features: int

    @nn.compact
    def __call__(self, x):
        return nn.Dense(self.features)(x)


def test_auto_loss_follows_targets_and_outputs():
    binary = data.from_arrays(X_TRAIN, (X_TRAIN[:, 0] > 0).astype(np.int64))
    regression = data.from_arrays(X_TRAIN, X_TRAIN[:, :2].sum(1))

    def loss_name(model, ds):
        return engine.make_train(engine.TrainConfig(model=model, epochs=1, batch_size=8),
                                 ds).loss_name

    assert loss_name(Dense(3), DS) == "softmax_ce"
    assert loss_name(Dense(1), binary) == "sigmoid_bce"
    assert loss_name(Dense(1), regression) == "mse"
    assert loss_name(Dense(2), binary) == "softmax_ce"
    custom = engine.TrainConfig(model=Dense(3), epochs=1, batch_size=8,
                                loss=optax.softmax_cross_entropy_with_integer_labels)
    assert engine.make_train(custom, DS).loss_name is None


def test_custom_loss_of_the_wrong_shape_is_named():
    def mean_loss(outputs, targets):  # a batch mean instead of per-example values
        return optax.softmax_cross_entropy_with_integer_labels(outputs, targets).mean()

    config = engine.TrainConfig(model=Dense(3), epochs=1, batch_size=BATCH, loss=mean_loss)
    trainer = engine.make_train(config, DS)
    with pytest.raises(ValueError, match="one value per example") as e:
        trainer({"lr": 0.1}, 0)
    assert f"({BATCH},)" in str(e.value) and "got ()" in str(e.value)


def test_regression_reports_loss_and_ranks_by_lowest_loss():
    w = np.array([1.0, -2.0, 0.5, 0, 0, 0, 0, 0])
    ds = data.from_arrays(X_TRAIN, X_TRAIN @ w, X_EVAL, X_EVAL @ w)
    assert ds.num_classes is None and ds.y_train.dtype == np.float32
    config = engine.TrainConfig(model=Dense(1), epochs=2, batch_size=BATCH, loss="mse")
    trainer = engine.make_train(config, ds)
    assert trainer.loss_name == "mse" and not trainer.classification
    lrs = [1e-3, 0.1, 0.01]
    result = sweep.sweep(trainer, {"lr": lrs}, seeds=2)
    assert result.strategy == "vmap" and result.eval_loss.shape == (3, 2, 2)
    assert np.isnan(result.eval_acc).all() and np.isnan(result.train_acc).all()
    h = sweep.member_history(result, 1, 0)
    assert np.isnan(h.eval_acc).all() and h.eval_loss[-1] < h.eval_loss[0]
    assert result.default_metric() == "eval_loss"
    ranking = result.ranking()
    means = [mean for _, mean, _, _ in ranking]
    assert means == sorted(means)
    final = result.eval_loss[..., -1].mean(1)
    assert ranking[0][0]["lr"] == lrs[int(np.argmin(final))] == 0.1
    np.testing.assert_allclose(ranking[0][1], final.min(), rtol=1e-6)


# --------------------------------------------------------------------------------------
# optimizers


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.relu(nn.Dense(16)(x)))


def test_adamw_weight_decay_is_a_traced_hyperparameter():
    config = engine.TrainConfig(model=MLP(), epochs=2, batch_size=BATCH, optimizer=optax.adamw)
    trainer = engine.make_train(config, DS)
    decays = [0.0, 0.3, 3.0]
    result = sweep.sweep(trainer, {"weight_decay": decays}, base={"lr": 3e-2},
                         strategy="sequential")
    assert result.swept == ("weight_decay",)
    final = result.train_loss[:, 0, -1]
    assert len(set(final.tolist())) == 3, final
    assert engine.program(trainer).step_into._cache_size() == 1  # one compilation for all
    # a sequential member is its single run, bit for bit
    single = trainer({"lr": 3e-2, "weight_decay": 0.3}, 0)
    assert result.train_loss[1, 0].tolist() == single.train_loss


def test_partial_nesterov_sgd_trains_and_is_the_built_in_nesterov_sgd():
    hp = {"lr": 0.05, "momentum": 0.9}
    mine = functools.partial(optax.sgd, nesterov=True)
    config = engine.TrainConfig(model=MLP(), epochs=2, batch_size=BATCH, optimizer=mine)
    h = engine.make_train(config, DS)(hp, 0)
    assert h.train_loss[1] < h.train_loss[0]
    np.testing.assert_allclose(h.lr, 0.05, rtol=1e-7)

    # the same update rule as the built-in sgd with nesterov=True (momentum from hparams)
    def descend(optimizer, **kw):
        tx = engine.make_optimizer(optimizer, 0.05, {"momentum": 0.9}, **kw)
        params = {"w": jnp.array([1.0, -2.0, 3.0])}
        state = tx.init(params)
        for _ in range(4):  # gradient of |w|^2 / 2
            updates, state = tx.update(params, state, params)
            params = optax.apply_updates(params, updates)
        return np.asarray(params["w"])

    np.testing.assert_allclose(descend(mine), descend("sgd", nesterov=True), rtol=1e-7)
    assert not np.allclose(descend(mine), descend("sgd"))


def test_optimizer_and_hyperparameter_mistakes_are_named():
    for optimizer in ("adam", optax.adamw):
        with pytest.raises(ValueError, match="nesterov"):
            engine.TrainConfig(model=MLP(), epochs=1, batch_size=8, optimizer=optimizer,
                               nesterov=True)
    schedule = lambda h, info: jaxlr.warmup(  # noqa: E731
        jaxlr.cosine(h["lr"], info.total_steps - h["warmup_steps"]), h["warmup_steps"])
    config = engine.TrainConfig(model=MLP(), epochs=1, batch_size=BATCH, optimizer=optax.adamw,
                                schedule=schedule)
    trainer = engine.make_train(config, DS)
    with pytest.raises(ValueError, match="weight_decy") as e:
        trainer({"lr": 1e-3, "warmup_steps": 2, "weight_decy": 1e-2}, 0)
    assert "reads ['lr', 'warmup_steps']" in str(e.value)
    with pytest.raises(ValueError, match="weight_decy"):
        sweep.sweep(trainer, {"lr": [1e-3]}, base={"warmup_steps": 2, "weight_decy": 1e-2})
    with pytest.raises(ValueError, match="'warmup_steps', which was not given"):
        trainer({"lr": 1e-3}, 0)
    with pytest.raises(ValueError, match="warmup_steps"):
        jax.jit(trainer.train_fn)({"lr": 1e-3, "weight_decay": 0.0}, jax.random.PRNGKey(0))


# --------------------------------------------------------------------------------------
# metrics


def test_metrics_callable_reaches_history_and_sweeps(linen):
    trainer, h, state = linen
    assert set(h.extra) == {"eval_top2", "eval_max_logit"}
    assert all(len(v) == 3 for v in h.extra.values())
    by_hand = _hand_eval(state.params, state.model_state)
    np.testing.assert_allclose(h.extra["eval_top2"][-1], by_hand["top2"], rtol=1e-6)
    np.testing.assert_allclose(h.extra["eval_max_logit"][-1], by_hand["max_logit"], rtol=1e-5)
    assert h.to_dict()["extra"] == h.extra
    # sequential: each member is its single run (same program, no new compilation)
    seq = sweep.sweep(trainer, {"lr": [0.1, 0.03]}, base={"momentum": 0.9},
                      strategy="sequential")
    assert seq.metrics["eval_top2"].shape == (2, 1, 3)
    assert seq.metrics["eval_top2"][0, 0].tolist() == h.extra["eval_top2"]
    assert seq.metrics["eval_max_logit"][0, 0].tolist() == h.extra["eval_max_logit"]
    assert engine.program(trainer).step._cache_size() == 1
    # vmapped: the same metrics from the batched program, to rounding
    vm = sweep.sweep(trainer, {"lr": [0.1, 0.03]}, base={"momentum": 0.9}, strategy="vmap")
    np.testing.assert_allclose(vm.metrics["eval_max_logit"], seq.metrics["eval_max_logit"],
                               rtol=1e-4)
    np.testing.assert_allclose(vm.metrics["eval_top2"], seq.metrics["eval_top2"], atol=0.05)
    history = sweep.member_history(vm, 0, 0)
    assert set(history.extra) == {"eval_top2", "eval_max_logit"}


# --------------------------------------------------------------------------------------
# jaxlr.data.from_arrays


def test_from_arrays_converts_dtypes_and_defaults_to_evaluating_on_train():
    assert DS.x_train.dtype == np.float32 and DS.y_train.dtype == np.int32
    assert DS.x_test.dtype == np.float32 and DS.y_test.dtype == np.int32
    assert DS.num_classes == 3 and DS.eval_split[2] == "test"
    ds = data.from_arrays(np.arange(12.0).reshape(6, 2), np.array([0, 1, 2, 0, 1, 4]))
    x, y, split = ds.eval_split
    assert split == "train" and ds.num_classes == 5
    np.testing.assert_array_equal(x, ds.x_train)
    np.testing.assert_array_equal(y, ds.y_train)
    assert data.from_arrays(np.zeros((3, 2)), np.array([0, 1, 0]), num_classes=4).num_classes == 4
    trainer = engine.make_train(engine.TrainConfig(model=Dense(5), epochs=1, batch_size=4), ds)
    assert trainer.eval_split == "train" and trainer.num_eval == 6
    small = data.subset(DS, max_train=20, max_eval=5)
    assert len(small.x_train) == 20 and len(small.eval_split[0]) == 5


def test_from_arrays_mistakes_name_the_argument():
    x, y = np.zeros((5, 2)), np.array([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="x_train has 5 examples, y_train 4"):
        data.from_arrays(x, y[:4])
    with pytest.raises(ValueError, match="x_eval has 5 examples, y_eval 3"):
        data.from_arrays(x, y, x, y[:3])
    with pytest.raises(ValueError, match="x_eval and y_eval"):
        data.from_arrays(x, y, x_eval=x)
    with pytest.raises(ValueError, match="x_eval and y_eval"):
        data.from_arrays(x, y, y_eval=y)
    with pytest.raises(ValueError, match="num_classes=2"):
        data.from_arrays(x, np.array([0, 1, 2, 1, 0]), num_classes=2)
    with pytest.raises(ValueError, match="num_classes"):
        data.from_arrays(x, np.linspace(0, 1, 5), num_classes=2)
    with pytest.raises(ValueError, match=">= 0"):
        data.from_arrays(x, np.array([0, -1, 0, 1, 0]))


def test_from_arrays_negative_labels_name_the_split():
    x, y = np.zeros((5, 2)), np.array([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="y_eval"):
        data.from_arrays(x, y, x, np.array([0, 1, -1, 1, 0]))


# --------------------------------------------------------------------------------------
# backend


class SmallConvNet(nn.Module):
    @nn.compact
    def __call__(self, x):
        x = nn.relu(nn.Conv(4, (3, 3))(x))
        return nn.Dense(3)(x.reshape(x.shape[0], -1))


def test_uses_convolution_and_strategy_follow_the_model(linen):
    images = _RNG.random((8, 28, 28, 1))
    labels = np.arange(8) % 10
    fake = data.from_arrays(images, labels, num_classes=10)
    lenet = engine.make_train(engine.TrainConfig(model="lenet", epochs=1, batch_size=4), fake)
    conv = engine.make_train(engine.TrainConfig(model=SmallConvNet(), epochs=1, batch_size=4),
                             data.from_arrays(images[:, :8, :8], labels % 3))
    mlp = linen[0]
    assert backend.uses_convolution(lenet) and backend.uses_convolution(conv)
    for lowering in ("banded", "shifted", "xla"):  # the banded lowering has no conv primitive
        config = engine.TrainConfig(model="lenet", epochs=1, batch_size=4, lowering=lowering)
        assert backend.uses_convolution(engine.make_train(config, fake))
    assert not backend.uses_convolution(mlp)
    assert backend.choose_strategy(mlp, "chunked") == "chunked"
    if jax.default_backend() != "cpu" or jax.device_count() > 1:
        pytest.skip("the automatic choice on one CPU device")
    assert backend.choose_loop() == "dispatch"
    assert backend.choose_strategy(lenet) == backend.choose_strategy(conv) == "sequential"
    assert backend.choose_strategy(mlp) == "vmap"


# --------------------------------------------------------------------------------------
# the command line with a user's task module

TASK_MODULE = '''
import numpy as np, optax, flax.linen as nn, jaxlr
from jaxlr import data, engine
from jaxlr.task import Task


class MLP(nn.Module):
    @nn.compact
    def __call__(self, x):
        return nn.Dense(3)(nn.relu(nn.Dense(16)(x)))


def schedule(h, info):
    return jaxlr.warmup(jaxlr.cosine(h["lr"], info.total_steps - h["warmup_steps"]),
                        h["warmup_steps"])


_x = np.random.default_rng(0).normal(size=(80, 6)).astype(np.float32)
_y = _x[:, :3].argmax(1)
ds = data.from_arrays(_x[:64], _y[:64], _x[64:], _y[64:])
config = engine.TrainConfig(model=MLP(), epochs=3, batch_size=16, optimizer=optax.adamw,
                            schedule=schedule, name="my-mlp")
task = Task(config, ds, hparams={"weight_decay": 1e-4, "warmup_steps": 0.0})


def make():
    return Task(config, ds, hparams={"lr": 1e-2, "weight_decay": 0.0, "warmup_steps": 2.0},
                seed=3)


not_a_task = 3
'''


@pytest.fixture
def task_module(tmp_path, monkeypatch):
    """``mytasks.py`` in a fresh current directory, imported fresh by every test."""
    (tmp_path / "mytasks.py").write_text(textwrap.dedent(TASK_MODULE))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # load_task adds the cwd
    monkeypatch.delitem(sys.modules, "mytasks", raising=False)
    importlib.invalidate_caches()
    yield tmp_path
    sys.modules.pop("mytasks", None)


def test_cli_sweeps_a_user_task(task_module, capsys):
    argv = ["sweep", "mytasks:task", "--lr", "1e-3,1e-2", "--param", "warmup_steps=0,5",
            "--seeds", "2", "--epochs", "2", "--out", "o", "--no-progress"]
    assert jaxlr.cli.main(argv) == 0
    out = capsys.readouterr().out
    assert "best:" in out
    for name in ("ranking.md", "sweep.csv", "sweep.npz"):
        assert (task_module / "o" / name).is_file(), name
    result = sweep.load(task_module / "o" / "sweep.npz")
    assert result.swept == ("lr", "warmup_steps") and result.seeds == [0, 1]
    assert result.eval_acc.shape == (4, 2, 2)  # 4 configs, 2 seeds, 2 epochs
    assert all(c["weight_decay"] == 1e-4 for c in result.configs)
    assert np.isfinite(result.eval_loss).all()
    lines = (task_module / "o" / "sweep.csv").read_text().splitlines()
    assert len(lines) == 1 + 4 * 2 and "warmup_steps" in lines[0]
    assert "warmup_steps" in (task_module / "o" / "ranking.md").read_text()


def test_cli_task_from_a_function(task_module, capsys):
    argv = ["sweep", "mytasks:make", "--lr", "1e-3,1e-2", "--epochs", "1", "--out", "m",
            "--no-progress"]
    assert jaxlr.cli.main(argv) == 0
    assert "best:" in capsys.readouterr().out
    result = sweep.load(task_module / "m" / "sweep.npz")
    assert result.seeds == [3] and result.eval_acc.shape == (2, 1, 1)
    assert all(c["warmup_steps"] == 2.0 for c in result.configs)


def test_cli_lr_find_on_a_user_task(task_module, capsys):
    # the range test reads only the optimizer's settings of the task (not warmup_steps)
    assert jaxlr.cli.main(["lr-find", "mytasks:task", "--steps", "20", "--out", "lf"]) == 0
    assert "suggested lr" in capsys.readouterr().out
    assert (task_module / "lf" / "lr_find.png").is_file()
    found = json.loads((task_module / "lf" / "lr_find.json").read_text())
    assert len(found["lrs"]) == 20


@pytest.mark.parametrize("argv, message", [
    (["sweep", "nomodule:task", "--lr", "1e-3"], "cannot import 'nomodule'"),
    (["sweep", "mytasks:missing", "--lr", "1e-3"], "has no 'missing'"),
    (["sweep", "mytasks", "--lr", "1e-3"], "MODULE:NAME"),
    (["sweep", "mytasks:task", "--lr", "1e-3", "--dataset", "x"], "--dataset"),
    (["sweep", "mytasks:not_a_task", "--lr", "1e-3"], "not a jaxlr.task.Task"),
    (["lr-find", "nomodule:task"], "cannot import 'nomodule'"),
])
def test_cli_bad_task_specs_exit_2_with_one_line(task_module, capsys, argv, message):
    assert jaxlr.cli.main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip()
    assert "\n" not in err and err.startswith(f"jaxlr {argv[0]}: error:"), err
    assert message in err
    assert not (task_module / "experiments").exists()


# --------------------------------------------------------------------------------------
# sweeping a bare pure function


def descend(hparams, key):
    """Ten gradient steps on ``|w - target|^2`` from a random start."""
    w = jax.random.normal(key, (3,))
    w = jax.lax.fori_loop(0, 10, lambda i, w: w - hparams["lr"] * (w - hparams["target"]), w)
    return {"a": jnp.sum((w - hparams["target"]) ** 2), "b": w}


def test_sweep_of_a_bare_function_agrees_across_strategies():
    configs = sweep.grid(lr=[0.1, 0.5], target=[0.0, 1.0])  # 4 configs
    results = {s: sweep.sweep(descend, configs, seeds=2, strategy=s, chunk_size=3)
               for s in ("vmap", "chunked", "sequential")}
    assert results["chunked"].parts == 3  # 8 members in chunks of 3 (the last padded)
    for strategy, r in results.items():
        assert r.strategy == strategy and r.seeds == [0, 1]
        assert r.metrics["a"].shape == (4, 2) and r.metrics["b"].shape == (4, 2, 3)
        for name in ("a", "b"):
            np.testing.assert_allclose(r.metrics[name], results["vmap"].metrics[name],
                                       rtol=1e-6, atol=1e-7, err_msg=f"{strategy} {name}")
    r = results["vmap"]
    for k, config in enumerate(r.configs):
        for s, seed in enumerate(r.seeds):
            direct = descend({n: jnp.float32(v) for n, v in config.items()},
                             jax.random.PRNGKey(seed))
            np.testing.assert_allclose(r.metrics["b"][k, s], direct["b"], rtol=1e-6)
    # a larger lr gets closer to the target in the same ten steps
    assert (r.metrics["a"][2:] < r.metrics["a"][:2]).all()


def test_sweep_of_a_bare_function_refuses_an_unread_hyperparameter():
    with pytest.raises(ValueError, match="momentum") as e:
        sweep.sweep(descend, {"lr": [0.1], "target": [0.0], "momentum": [0.9]})
    assert "it reads ['lr', 'target']" in str(e.value)


def test_schedule_free_runs_are_evaluated_at_the_average():
    config = engine.TrainConfig(model=MLP(), epochs=2, batch_size=BATCH,
                                optimizer="schedule_free_sgd")
    trainer = engine.make_train(config, DS)
    history, state = engine.run(trainer, {"lr": 0.5, "b1": 0.9}, 0, return_state=True)
    sf = [s for s in jax.tree_util.tree_leaves(
        state.opt_state, is_leaf=lambda s: isinstance(s, optax.contrib.ScheduleFreeState))
        if isinstance(s, optax.contrib.ScheduleFreeState)]
    assert len(sf) == 1
    # x from y (the trained parameters) and z: y = (1 - b1) z + b1 x
    x = jax.tree.map(lambda y, z: (y - 0.1 * z) / 0.9, state.params, sf[0].z)
    at_x, at_y = trainer.evaluate(x), trainer.evaluate(state.params)
    np.testing.assert_allclose(history.eval_loss[-1], at_x["loss"], rtol=1e-5)
    assert abs(float(at_x["loss"]) - float(at_y["loss"])) > 1e-4


@pytest.mark.parametrize("name", ["schedule_free_adamw", "prodigy", "dadapt_adamw", "dog"])
def test_lr_free_optimizers_take_their_hyperparameters_by_name(name):
    # (each trains in the comparisons; here: built from hparams, one update, names checked)
    config = engine.TrainConfig(model=MLP(), epochs=1, batch_size=BATCH, optimizer=name)
    trainer = engine.make_train(config, DS)
    hp = {"lr": 1.0, "eps": 1e-6}
    assert trainer.hparams_read(hp) == ("eps", "lr")
    with pytest.raises(ValueError, match=r"\['lrr'\] are not read"):
        trainer.hparams_read({"lr": 1.0, "lrr": 2.0})
    params = {"w": jnp.ones(3)}
    tx = engine.make_optimizer(name, 1e-2, hp)
    updates, _ = tx.update({"w": jnp.array([1.0, -2.0, 0.5])}, tx.init(params), params)
    assert np.all(np.isfinite(updates["w"])) and np.any(updates["w"] != 0)


def test_hparams_changed_between_updates_take_effect():
    """optax.inject_hyperparams keeps its own copy of a numeric hyperparameter from init;
    the engine's step uses the state's hparams instead (what PBT and PES change)."""
    cfg = engine.TrainConfig(model=LinenNet(), epochs=1, batch_size=BATCH,
                             optimizer="keras_sgd", name="change")
    trainer = engine.make_train(cfg, DS)
    s0 = trainer.begin_epoch(trainer.init(HP, 0))
    s1, _ = trainer.step(s0, 0)
    kept, _ = trainer.step(s1, 1)
    changed, _ = trainer.step(s1.replace(hparams={**s1.hparams, "momentum": jnp.float32(0.0)}),
                              1)
    assert float(changed.opt_state.hyperparams["momentum"]) == 0.0
    assert float(kept.opt_state.hyperparams["momentum"]) == np.float32(0.9)
    # Keras's SGD: p += m v - lr g, so the two second updates differ by 0.9 v exactly
    velocity = s1.opt_state.inner_state[1].trace
    for a, b, v in zip(jax.tree_util.tree_leaves(kept.params),
                       jax.tree_util.tree_leaves(changed.params),
                       jax.tree_util.tree_leaves(velocity)):
        np.testing.assert_allclose(a - b, 0.9 * v, rtol=1e-4, atol=1e-6)
    # unchanged hparams: bit for bit what the run computes without the sync
    assert float(kept.opt_state.hyperparams["momentum"]) == float(
        s0.opt_state.hyperparams["momentum"])
