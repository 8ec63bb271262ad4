"""reduce_on_plateau inside a Flax NNX ``nnx.Optimizer`` (flax >= 0.11 API: ``wrt=``,
``optimizer.update(model, grads)``).

NNX wraps every array of the optax state in a Variable (``OptArray``);
``jaxlr.observe`` advances those in place. A small MLP regression trains for a
few epochs with ``optax.chain(optax.sgd(LR), reduce_on_plateau(...))``; its
validation losses are fed to ``observe`` (eagerly, or inside ``nnx.jit``) and
the same losses to ``torch.optim.lr_scheduler.ReduceLROnPlateau``: the lr must
drop at the same epochs, to the same values, and every update must use it.
"""

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import jaxlr
from equivalence import assert_matches

torch = pytest.importorskip("torch")

LR = 0.2
PLATEAU = dict(factor=0.5, patience=1, threshold=0.02)  # torch's names and meanings
EPOCHS, BATCHES, BATCH = 12, 4, 16


class MLP(nnx.Module):
    def __init__(self, rngs):
        self.hidden = nnx.Linear(4, 16, rngs=rngs)
        self.out = nnx.Linear(16, 1, rngs=rngs)

    def __call__(self, x):
        return self.out(nnx.relu(self.hidden(x)))


def _regression():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((BATCHES * BATCH + 32, 4)).astype(np.float32)
    y = np.tanh(x @ rng.standard_normal((4, 1))) + 0.3 * rng.standard_normal((len(x), 1))
    y = y.astype(np.float32)
    n = BATCHES * BATCH
    return x[:n], y[:n], x[n:], y[n:]


def _loss(model, x, y):
    return jnp.mean((model(x) - y) ** 2)


def _new(tx):
    model = MLP(nnx.Rngs(0))
    return model, nnx.Optimizer(model, tx, wrt=nnx.Param)


@nnx.jit
def _train_step(model, optimizer, x, y):
    grads = nnx.grad(_loss)(model, x, y)
    updates = optimizer.update(model, grads)
    return grads, updates


@nnx.jit
def _end_epoch(model, optimizer, x, y):
    loss = _loss(model, x, y)
    jaxlr.observe(optimizer.opt_state, loss)
    return loss


def _params(model):
    return [np.array(p) for p in jax.tree.leaves(nnx.state(model, nnx.Param))]


def torch_plateau_lrs(metrics):
    """Torch's lr after each ``ReduceLROnPlateau.step(metric)``, base lr ``LR``."""
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=LR)
    lrs = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, **PLATEAU)
        for m in metrics:
            optimizer.step()
            scheduler.step(float(m))
            lrs.append(optimizer.param_groups[0]["lr"])
    return np.asarray(lrs)


@pytest.mark.parametrize("where", ["eager", "nnx.jit"])
def test_nnx_optimizer_lr_drops_when_torchs_does_and_updates_use_it(where):
    x_train, y_train, x_val, y_val = _regression()
    model, optimizer = _new(optax.chain(optax.sgd(LR), jaxlr.reduce_on_plateau(**PLATEAU)))
    plateau = optimizer.opt_state[1]
    losses, scales, steps = [], [], []
    for _ in range(EPOCHS):
        for b in range(BATCHES):
            batch = slice(b * BATCH, (b + 1) * BATCH)
            before = _params(model)
            grads, updates = _train_step(model, optimizer, x_train[batch], y_train[batch])
            steps.append((len(losses), before, jax.tree.leaves(grads),
                          jax.tree.leaves(updates), _params(model)))
        if where == "eager":
            loss = _loss(model, x_val, y_val)
            assert jaxlr.observe(optimizer.opt_state, loss) is optimizer.opt_state
        else:
            loss = _end_epoch(model, optimizer, x_val, y_val)
        losses.append(float(loss))
        scales.append(float(plateau.value[...]))
    assert int(plateau.count[...]) == EPOCHS

    torch_lrs = torch_plateau_lrs(losses)
    ours = LR * np.asarray(scales)

    def drops(lrs):
        return np.flatnonzero(np.diff(np.concatenate([[LR], lrs])) < 0).tolist()

    assert len(drops(torch_lrs)) >= 2, ("the losses should plateau more than once", losses)
    assert drops(ours) == drops(torch_lrs), (losses, ours, torch_lrs)
    assert_matches("torch", ours, torch_lrs, label=f"nnx.Optimizer, observe {where}")

    lr_in_epoch = np.concatenate([[LR], torch_lrs])  # an epoch trains at the lr set before it
    for epoch, before, grads, updates, after in steps:
        for p0, g, u, p1 in zip(before, grads, updates, after):
            np.testing.assert_allclose(u, -lr_in_epoch[epoch] * np.asarray(g), rtol=1e-6,
                                       atol=1e-12, err_msg=f"epoch {epoch}")
            # the model moved by the updates (to an ulp of the parameter: XLA fuses the add)
            np.testing.assert_allclose(p1 - p0, u, rtol=1e-5, atol=5e-7,
                                       err_msg=f"epoch {epoch}")


def test_observe_updates_nnx_split_state_under_jax_jit_and_nnx_state_in_place():
    tx = optax.chain(optax.sgd(LR), jaxlr.reduce_on_plateau(factor=0.5, patience=0))
    model, optimizer = _new(tx)
    graphdef, state = nnx.split(optimizer)

    @jax.jit
    def observe(state, metric):
        return jaxlr.observe(state, metric)

    for metric in [1.0, 2.0, 3.0]:  # first an improvement, then two cuts
        state = observe(state, metric)
    assert float(nnx.merge(graphdef, state).opt_state[1].value[...]) == 0.25
    assert float(optimizer.opt_state[1].value[...]) == 1.0  # split/jit is functional

    full = nnx.state(optimizer)  # Variables shared with the optimizer: updated in place
    assert jaxlr.observe(full, 1.0) is full
    assert int(optimizer.opt_state[1].count[...]) == 1


def test_observe_without_flax_variables_still_returns_a_new_state():
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=0)
    state = jaxlr.observe(tx.init(None), 1.0)
    new = jaxlr.observe(state, 2.0)
    assert float(new.value) == 0.5 and float(state.value) == 1.0
