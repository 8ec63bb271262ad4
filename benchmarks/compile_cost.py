"""Benchmark 1: time to all results of a K-value lr sweep, one compilation vs one per value.

Task: the Ionosphere MLP (235 examples, batch 28, SGD momentum 0.8) for
``--epochs`` epochs with an exponentially decaying lr, at K peak learning rates.

- peer: what an optax user writes: the schedule built from a Python float,
  ``optax.exponential_decay(lr, 1, 0.999)``, inside a freshly jitted training
  step per value, so XLA compiles once per lr. The training code is jaxlr's own
  Trainer (per-step dispatch, data on device), so only the compilation differs.
- jaxlr: ``jaxlr.exponential(h["lr"], 0.999, 1)`` with the lr traced: one
  Trainer, one compilation, the K values run by ``jaxlr.sweep`` as one
  vmapped program.

Prints one line per K with both times and the ratio peer / jaxlr.
Run: python benchmarks/compile_cost.py [--ks 1 8 32] [--epochs 50]
"""

import argparse
import time

import jax
import numpy as np
import optax

import jaxlr
from jaxlr import data, engine as train, sweep


def peer_time(ds, lrs, epochs):
    start = time.perf_counter()
    finals = []
    for lr in lrs:
        cfg = train.TrainConfig(
            model="ionosphere_mlp", epochs=epochs, batch_size=28, optimizer="keras_sgd",
            schedule=lambda h, info, lr=float(lr): optax.exponential_decay(lr, 1, 0.999))
        # the lr is baked into the optax schedule: the run reads only the momentum
        finals.append(train.make_train(cfg, ds)({"momentum": 0.8}, 0).eval_acc[-1])
    return time.perf_counter() - start, finals


def jaxlr_time(ds, lrs, epochs):
    start = time.perf_counter()
    cfg = train.TrainConfig(
        model="ionosphere_mlp", epochs=epochs, batch_size=28, optimizer="keras_sgd",
        schedule=lambda h, info: jaxlr.exponential(h["lr"], 0.999, 1))
    result = sweep.sweep(train.make_train(cfg, ds), {"lr": lrs}, base={"momentum": 0.8},
                         strategy="vmap")
    return time.perf_counter() - start, result.eval_acc[:, 0, -1].tolist()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument("--epochs", type=int, default=50)
    args = parser.parse_args()
    ds = data.load("ionosphere")
    print(f"jax {jax.__version__}, optax {optax.__version__}, device {jax.devices()[0]}, "
          f"epochs {args.epochs}")
    print(f"{'K':>4} {'optax, 1 compile/value (s)':>28} {'jaxlr, 1 compile (s)':>22} "
          f"{'ratio':>7}")
    for k in args.ks:
        lrs = np.geomspace(1e-3, 0.5, k) if k > 1 else np.array([0.1])
        peer, peer_acc = peer_time(ds, lrs, args.epochs)
        ours, our_acc = jaxlr_time(ds, lrs, args.epochs)
        # same training: the two must agree on what they computed
        np.testing.assert_allclose(our_acc, peer_acc, atol=0.02)
        print(f"{k:>4} {peer:>28.2f} {ours:>22.2f} {peer / ours:>6.1f}x")


if __name__ == "__main__":
    main()
