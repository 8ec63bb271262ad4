"""Memory of a hypergradient through training: rematerialised per epoch vs not.

``jaxlr.tune.hypergrad`` differentiates the whole run; with ``remat`` (its
default) each epoch is a ``jax.checkpoint``, so the forward pass keeps one
training state per epoch and the backward pass recomputes one epoch at a time.
The peer is the same gradient without rematerialisation (every update's
intermediates kept for the backward pass). The figure is XLA's own account of
the compiled program: its temporary buffers (``memory_analysis()``), for 1 to
N epochs; the growth per epoch is the slope between the two longest runs.

Run: python benchmarks/hypergrad_memory.py [--data-dir ../shared/data] [--epochs 1 2 4 8]
"""

from __future__ import annotations

import argparse

import jax
import jax.numpy as jnp

from jaxlr import data as data_lib
from jaxlr import engine, tune


def temp_bytes(trainer, hparams, wrt, remat):
    f = tune.make_objective(trainer, hparams, 0, wrt, remat=remat)
    values = {n: jnp.float32(hparams[n]) for n in wrt}
    compiled = jax.jit(jax.grad(f)).lower(values).compile()
    return compiled.memory_analysis().temp_size_in_bytes


def state_bytes(trainer, hparams):
    state = jax.eval_shape(lambda: trainer.init(hparams, 0))
    return sum(x.size * x.dtype.itemsize for x in jax.tree_util.tree_leaves(state))


def measure(name, make, hparams, wrt, epochs_list):
    rows = []
    for epochs in epochs_list:
        trainer = make(epochs)
        rows.append((epochs, temp_bytes(trainer, hparams, wrt, True),
                     temp_bytes(trainer, hparams, wrt, False)))
    state = state_bytes(make(1), hparams)
    print(f"\n{name}: training state {state / 1e6:.3f} MB, "
          f"{make(1).steps_per_epoch} updates per epoch")
    print(f"{'epochs':>6} {'remat MB':>10} {'no remat MB':>12} {'no remat / remat':>17}")
    for epochs, r, p in rows:
        print(f"{epochs:>6} {r / 1e6:>10.3f} {p / 1e6:>12.3f} {p / r:>17.2f}")
    (e0, r0, p0), (e1, r1, p1) = rows[-2], rows[-1]
    print(f"growth per epoch: remat {(r1 - r0) / (e1 - e0) / 1e6:.3f} MB "
          f"({(r1 - r0) / (e1 - e0) / state:.2f} training states), no remat "
          f"{(p1 - p0) / (e1 - e0) / 1e6:.3f} MB")
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--tiny", action="store_true", help="the MLP only (tests)")
    args = parser.parse_args(argv)
    print(f"jax {jax.__version__}, {jax.devices()[0].platform}; compiled temporary memory "
          "of jax.grad of the final eval loss w.r.t. the lr")
    iono = data_lib.load("ionosphere")
    out = {"ionosphere_mlp": measure(
        "Ionosphere MLP, batch 28", lambda e: engine.make_train(engine.TrainConfig(
            model="ionosphere_mlp", epochs=e, batch_size=28, optimizer="keras_sgd"), iono),
        {"lr": 0.1, "momentum": 0.8}, ("lr", "momentum"), args.epochs)}
    if not args.tiny:
        fashion = data_lib.subset(data_lib.load("fashion_mnist", args.data_dir), 2048, 1000)
        out["lenet"] = measure(
            "LeNet, Fashion-MNIST 2,048 images, batch 256", lambda e: engine.make_train(
                engine.TrainConfig(model="lenet", epochs=e, batch_size=256), fashion),
            {"lr": 0.3}, ("lr",), args.epochs)
    return out


if __name__ == "__main__":
    main()
