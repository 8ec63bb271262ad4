"""jaxlr.tune: hypergradients through training, ES, PES and meta-descent.

The reference for every gradient is the run itself: central finite
differences of the whole training in float64 (a float64 dataset and model
under ``jax_enable_x64``), and ES/PES with many pairs against reverse mode.
"""

import dataclasses

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import jaxlr
from jaxlr import data, engine, tune
from jaxlr.comparisons.keras_schedules import step_decay

IONO = data.load("ionosphere")


class TanhMLP(nn.Module):
    """A smooth model (no ReLU kinks for a finite difference to cross), float64 throughout."""

    hidden: int = 8
    dtype: type = jnp.float64

    @nn.compact
    def __call__(self, x):
        x = jnp.tanh(nn.Dense(self.hidden, dtype=self.dtype, param_dtype=self.dtype)(x))
        return nn.Dense(1, dtype=self.dtype, param_dtype=self.dtype)(x)


def _float64_data(n_train=168, n_eval=40):
    x, y = IONO.x_train.astype(np.float64), IONO.y_train
    return dataclasses.replace(IONO, x_train=x[:n_train], y_train=y[:n_train],
                               x_test=x[n_train:n_train + n_eval],
                               y_test=y[n_train:n_train + n_eval], x_val=None, y_val=None)


def warmup_cosine(h, info):
    return jaxlr.warmup(jaxlr.cosine(h["lr"], info.total_steps, h["end"]), h["warmup"],
                        prefix=False)


def _trainer64(epochs=3, schedule=warmup_cosine, optimizer="keras_sgd"):
    cfg = engine.TrainConfig(model=TanhMLP(), epochs=epochs, batch_size=28, optimizer=optimizer,
                             schedule=schedule, name="tune64")
    return engine.make_train(cfg, _float64_data())


def _random_hparams(rng):
    """Drawn over the domain: lr log-uniform in [1e-3, 0.5], end a fraction of lr,
    warmup a non-integer number of updates within the run (6 per epoch x 3),
    momentum in [0, 0.95]."""
    lr = float(np.exp(rng.uniform(np.log(1e-3), np.log(0.5))))
    return {"lr": lr, "end": lr * float(rng.uniform(0.0, 0.9)),
            "warmup": float(rng.uniform(0.5, 17.5)), "momentum": float(rng.uniform(0.0, 0.95))}


def _central_differences(trainer, hparams, names, rel=1e-6, **kw):
    """``(f(h + d e_n) - f(h - d e_n)) / 2d`` for each name, ``d`` relative to the value."""
    f = jax.jit(tune.make_objective(trainer, hparams, 0, names, **kw))
    base = {n: jnp.float64(hparams[n]) for n in names}
    out = {}
    for name in names:
        d = rel * max(abs(hparams[name]), 1e-3)
        up = f({**base, name: base[name] + d})
        down = f({**base, name: base[name] - d})
        out[name] = float((up - down) / (2 * d))
    return out


def test_hparams_keep_the_dtype_of_the_data(x64):
    assert _trainer64().hparam_dtype == jnp.float64
    state = _trainer64().init({"lr": 0.1, "end": 0.0, "warmup": 2.0, "momentum": 0.5}, 0)
    assert all(v.dtype == jnp.float64 for v in state.hparams.values())
    trainer32 = engine.make_train(engine.TrainConfig(model="ionosphere_mlp", epochs=1,
                                                     batch_size=28), IONO)
    assert trainer32.hparam_dtype == jnp.float32
    assert trainer32.init({"lr": 0.1}, 0).hparams["lr"].dtype == jnp.float32


@pytest.mark.parametrize("draw", range(3))
def test_hypergradient_equals_central_finite_differences(x64, draw):
    trainer = _trainer64()
    hparams = _random_hparams(np.random.default_rng(draw))
    value, grads = tune.hypergrad(trainer, hparams, 0)
    assert set(grads) == set(hparams)
    f = tune.make_objective(trainer, hparams, 0, ())
    np.testing.assert_allclose(value, float(f({})), rtol=1e-12)
    fd = _central_differences(trainer, hparams, tuple(hparams))
    for name in hparams:
        np.testing.assert_allclose(grads[name], fd[name], rtol=2e-5, atol=1e-9 * abs(value),
                                   err_msg=f"{name} at {hparams}")
    # without rematerialisation: the same numbers (the same computation, recomputed or stored)
    value2, grads2 = tune.hypergrad(trainer, hparams, 0, remat=False)
    assert value2 == value
    for name in hparams:
        np.testing.assert_allclose(grads2[name], grads[name], rtol=1e-10)


def test_hypergradient_of_the_last_epochs_mean_and_of_the_training_loss(x64):
    trainer = _trainer64()
    hparams = _random_hparams(np.random.default_rng(7))
    for kw in ({"last": 2}, {"objective": "train_loss"}):
        _, grads = tune.hypergrad(trainer, hparams, 0, ("lr", "momentum"), **kw)
        fd = _central_differences(trainer, hparams, ("lr", "momentum"), **kw)
        for name in ("lr", "momentum"):
            np.testing.assert_allclose(grads[name], fd[name], rtol=2e-5, err_msg=f"{name} {kw}")


def test_rematerialisation_keeps_memory_flat_in_the_number_of_epochs():
    """Compiled temporary memory of the hypergradient: with remat it grows by about a
    training state per epoch; without, by an epoch's intermediates per epoch."""
    def temp_bytes(epochs, remat):
        cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=epochs, batch_size=8,
                                 optimizer="keras_sgd", name="memory")
        trainer = engine.make_train(cfg, IONO)
        f = tune.make_objective(trainer, {"lr": 0.1, "momentum": 0.5}, 0, ("lr",),
                                remat=remat)
        compiled = jax.jit(jax.grad(f)).lower({"lr": jnp.float32(0.1)}).compile()
        return compiled.memory_analysis().temp_size_in_bytes

    remat = [temp_bytes(e, True) for e in (2, 8)]
    plain = [temp_bytes(e, False) for e in (2, 8)]
    # the forward keeps 6 more states (params 34*34+34+34+1 floats, momentum the same,
    # the example order: ~15 KB each) and nothing else per epoch
    assert remat[1] - remat[0] < 6 * 40_000, remat
    assert plain[1] - plain[0] > 5 * (remat[1] - remat[0]), (plain, remat)
    assert plain[1] > 2 * remat[1], (plain, remat)


def test_structural_and_bad_names_are_refused_by_name():
    cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=2, batch_size=28,
                             optimizer="keras_sgd", schedule=step_decay)
    trainer = engine.make_train(cfg, IONO)
    hparams = {"lr": 0.1, "drop": 0.5, "epochs_drop": 1.0, "momentum": 0.8}
    assert tune.structural_names(trainer, hparams, list(hparams)) == ("epochs_drop",)
    with pytest.raises(ValueError, match=r"\['epochs_drop'\].*count or a boundary"):
        tune.hypergrad(trainer, hparams, 0, ("lr", "epochs_drop"))
    with pytest.raises(ValueError, match=r"\['epochs_drop'\]"):
        tune.tune(trainer, hparams, 0, ("epochs_drop",), meta_steps=1)
    with pytest.raises(ValueError, match="'lrr', which is not in hparams"):
        tune.hypergrad(trainer, hparams, 0, ("lrr",))
    with pytest.raises(ValueError, match="'mode' = 'cos' is not a real number"):
        tune.hypergrad(trainer, {**hparams, "mode": "cos"}, 0, ("lr",))
    with pytest.raises(ValueError, match="'staircase' = True is not a real number"):
        tune.es_grad(trainer, {**hparams, "staircase": True}, 0, ("lr",))
    with pytest.raises(ValueError, match=r"\['decay'\] are not read"):
        tune.hypergrad(trainer, {**hparams, "decay": 0.1}, 0, ("lr",))
    with pytest.raises(ValueError, match="objective must be one of.*'eval_acc'"):
        tune.hypergrad(trainer, hparams, 0, ("lr",), objective="eval_acc")
    with pytest.raises(ValueError, match="last must be an int in \\[1, epochs=2\\], got 3"):
        tune.hypergrad(trainer, hparams, 0, ("lr",), last=3)
    with pytest.raises(ValueError, match="wrt is empty"):
        tune.hypergrad(trainer, hparams, 0, ())
    with pytest.raises(ValueError, match="names a hyperparameter twice"):
        tune.hypergrad(trainer, hparams, 0, ("lr", "lr"))
    with pytest.raises(ValueError, match="sigma must be a positive number, got 0"):
        tune.es_grad(trainer, hparams, 0, ("lr",), sigma=0)
    with pytest.raises(ValueError, match="pairs must be an int >= 1, got 0"):
        tune.es_grad(trainer, hparams, 0, ("lr",), pairs=0)
    with pytest.raises(ValueError, match="space 'log' needs momentum > 0, got -0.1"):
        tune.es_grad(trainer, {**hparams, "momentum": -0.1}, 0, ("momentum",), space="log")
    with pytest.raises(ValueError, match="space 'logit' needs 0 < lr < 1, got 2.0"):
        tune.es_grad(trainer, {**hparams, "lr": 2.0}, 0, ("lr",), space={"lr": "logit"})
    with pytest.raises(ValueError, match=r"space names \['drop'\], which are not in wrt"):
        tune.es_grad(trainer, hparams, 0, ("lr",), space={"drop": "log"})
    with pytest.raises(ValueError, match="space of 'lr' must be one of"):
        tune.es_grad(trainer, hparams, 0, ("lr",), space="exp")
    with pytest.raises(ValueError, match="truncation must be an int that divides epochs=2, "
                                         "got 3"):
        tune.pes_grad(trainer, hparams, 0, ("lr",), truncation=3)
    with pytest.raises(ValueError, match="method must be one of.*'adam'"):
        tune.tune(trainer, hparams, 0, ("lr",), method="adam")
    with pytest.raises(ValueError, match="meta_steps must be an int >= 1, got 0"):
        tune.tune(trainer, hparams, 0, ("lr",), meta_steps=0)
    with pytest.raises(ValueError, match="meta_lr must be a positive number, got -1"):
        tune.tune(trainer, hparams, 0, ("lr",), meta_lr=-1)
    # ES smooths the staircase, so it takes the structural name
    result = tune.es_grad(trainer, hparams, 0, ("epochs_drop",), pairs=2)
    assert result.kept == 2 and np.isfinite(result.grad["epochs_drop"])


def _agree(estimate, exact, tolerance):
    """Same sign in every coordinate that matters, and close as vectors."""
    estimate, exact = np.asarray(estimate), np.asarray(exact)
    big = np.abs(exact) > 0.2 * np.linalg.norm(exact)
    assert np.all(np.sign(estimate[big]) == np.sign(exact[big])), (estimate, exact)
    assert np.linalg.norm(estimate - exact) < tolerance * np.linalg.norm(exact), (estimate, exact)


def test_es_with_many_pairs_agrees_with_the_hypergradient(x64):
    trainer = _trainer64()
    hparams = {"lr": 0.2, "end": 0.02, "warmup": 4.5, "momentum": 0.6}
    names = ("lr", "end", "momentum")
    _, exact = tune.hypergrad(trainer, hparams, 0, names)
    es = tune.es_grad(trainer, hparams, 0, names, sigma=0.01, pairs=256, seed=3)
    assert es.kept == 256 and es.dropped == 0 and es.objectives.shape == (256, 2)
    assert es.spaces == {n: "log" for n in names}
    # in theta = log h, the exact gradient is h df/dh
    _agree([es.grad_theta[n] for n in names], [exact[n] * hparams[n] for n in names], 0.25)
    for n in names:
        np.testing.assert_allclose(es.grad[n], es.grad_theta[n] / hparams[n], rtol=1e-12)
    # batched or one member after another: the same estimate
    seq = tune.es_grad(trainer, hparams, 0, names, sigma=0.01, pairs=256, seed=3,
                       batched=False)
    for n in names:
        np.testing.assert_allclose(seq.grad_theta[n], es.grad_theta[n], rtol=1e-7)


def test_pes_over_one_unroll_is_es_of_the_summed_objective(x64):
    trainer = _trainer64()
    hparams = {"lr": 0.2, "end": 0.02, "warmup": 4.5, "momentum": 0.6}
    names, pairs, sigma = ("lr", "momentum"), 8, 0.05
    pes = tune.pes_grad(trainer, hparams, 0, names, sigma=sigma, pairs=pairs, truncation=3,
                        seed=5)
    # the same noise by hand: PES draws z from split(PRNGKey(seed))[1]
    z = np.asarray(jax.random.normal(jax.random.split(jax.random.PRNGKey(5))[1],
                                     (pairs, 2), jnp.float64))
    f = jax.jit(tune.make_objective(trainer, hparams, 0, names, reduce="sum"))
    theta = np.log([hparams[n] for n in names])
    by_hand = np.zeros(2)
    for zi in z:
        up = float(f({n: jnp.exp(theta[i] + sigma * zi[i]) for i, n in enumerate(names)}))
        down = float(f({n: jnp.exp(theta[i] - sigma * zi[i]) for i, n in enumerate(names)}))
        by_hand += (up - down) * zi / (2 * sigma * pairs)
    np.testing.assert_allclose([pes.grad_theta[n] for n in names], by_hand, rtol=1e-8)
    assert pes.objectives.shape == (1, pairs, 2) and pes.kept == pairs


def test_pes_with_truncations_agrees_with_the_hypergradient_of_the_sum(x64):
    trainer = _trainer64()
    hparams = {"lr": 0.2, "end": 0.02, "warmup": 4.5, "momentum": 0.6}
    names = ("lr", "momentum")
    f = tune.make_objective(trainer, hparams, 0, names, reduce="sum")
    exact = jax.grad(f)({n: jnp.float64(hparams[n]) for n in names})
    pes = tune.pes_grad(trainer, hparams, 0, names, sigma=0.01, pairs=256, truncation=1,
                        seed=1)
    assert pes.objectives.shape == (3, 256, 2) and pes.dropped == 0
    _agree([pes.grad_theta[n] for n in names],
           [float(exact[n]) * hparams[n] for n in names], 0.3)


def test_diverged_pairs_are_dropped_and_reported_never_averaged_in():
    cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=2, batch_size=28,
                             optimizer="sgd", name="diverge")
    trainer = engine.make_train(cfg, IONO)
    # lr 1e3 +- a wide sigma: some members blow up (non-finite loss), some do not
    es = tune.es_grad(trainer, {"lr": 30.0}, 0, sigma=3.0, pairs=16, seed=0)
    bad = ~np.all(np.isfinite(es.objectives), axis=1)
    assert bad.any() and (~bad).any(), es.objectives
    assert es.dropped == bad.sum() and es.kept == (~bad).sum()
    assert np.isfinite(es.value) and np.isfinite(es.grad["lr"])
    with pytest.raises(ValueError, match="every one of the 4 antithetic pairs diverged"):
        tune.es_grad(trainer, {"lr": 1e30}, 0, sigma=0.1, pairs=4)


def test_tune_takes_adam_steps_in_log_space_and_records_them(x64, tmp_path):
    trainer = _trainer64()
    hparams = {"lr": 0.05, "end": 0.005, "warmup": 4.5, "momentum": 0.6}
    result = tune.tune(trainer, hparams, 0, ("lr", "end"), meta_steps=3, meta_lr=0.1,
                       fresh_keys=False)
    assert len(result.trajectory) == 4 and len(result.objective) == 3
    assert result.final == {**hparams, **result.trajectory[-1]} and result.runs == 3
    # Adam's first step is -meta_lr g / (|g| + eps) in theta = log h (eps = 1e-8)
    _, grads = tune.hypergrad(trainer, hparams, 0, ("lr", "end"))
    for n in ("lr", "end"):
        g = grads[n] * hparams[n]
        np.testing.assert_allclose(np.log(result.trajectory[1][n] / hparams[n]),
                                   -0.1 * g / (abs(g) + 1e-8), rtol=1e-9)
        np.testing.assert_allclose(result.grads[0][n], grads[n] * hparams[n], rtol=1e-9)
    value, _ = tune.hypergrad(trainer, hparams, 0, ("lr",))
    np.testing.assert_allclose(result.objective[0], value, rtol=1e-12)
    np.testing.assert_allclose(result.lr_start, tune.schedule_lrs(trainer, hparams))
    assert not any(result.rejected)
    path = result.plot(tmp_path / "tune")
    assert path.name == "tune.png" and path.stat().st_size > 10_000


def test_tune_takes_back_a_step_into_divergence():
    cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=2, batch_size=28,
                             optimizer="sgd", name="diverge")
    trainer = engine.make_train(cfg, IONO)
    # meta_lr 6 in log space: the first step multiplies lr by e^6, into divergence
    result = tune.tune(trainer, {"lr": 0.5}, 0, ("lr",), meta_steps=2, meta_lr=6.0,
                       fresh_keys=False)
    lr0, lr1, lr2 = (t["lr"] for t in result.trajectory)
    assert result.rejected == [False, True] and np.isnan(result.objective[1])
    # the step from the last finite point again, at half the meta lr
    np.testing.assert_allclose(np.log(lr2 / lr0), np.log(lr1 / lr0) / 2, rtol=1e-5)
    with pytest.raises(ValueError, match="starting point .* diverged"):
        tune.tune(trainer, {"lr": 1e30}, 0, ("lr",), meta_steps=1)


@pytest.mark.parametrize("method", ["es", "pes"])
def test_tune_by_es_and_pes_count_their_runs(method):
    cfg = engine.TrainConfig(model="ionosphere_mlp", epochs=2, batch_size=28,
                             optimizer="keras_sgd", schedule=warmup_cosine, name="es")
    trainer = engine.make_train(cfg, IONO)
    hparams = {"lr": 0.1, "end": 0.01, "warmup": 5.0, "momentum": 0.8}
    result = tune.tune(trainer, hparams, 0, ("lr", "momentum"), method=method, meta_steps=3,
                       pairs=2, truncation=1)
    assert len(result.trajectory) == 4 and all(np.isfinite(result.objective))
    # es: 2 pairs x 2 members a meta-step, whole runs; pes: one epoch of 4 members a step
    assert result.runs == {"es": 12, "pes": 6}[method]
    assert result.spaces == {"lr": "log", "momentum": "log"}
    again = tune.tune(trainer, hparams, 0, ("lr", "momentum"), method=method, meta_steps=3,
                      pairs=2, truncation=1)
    assert again.trajectory == result.trajectory  # seeded: the same call, the same numbers
