"""Benchmark 2: sweep throughput, K configs via vmap vs sequential.

Aggregate training images/s (K members x examples x epochs / wall time) for
the Ionosphere MLP and for LeNet on a Fashion-MNIST slice, K = 1, 4, 16, ...
in one run. Each strategy first runs once to compile (benchmark 1 measures
compilation), then the timed second run reuses the compiled program.
Run: python benchmarks/sweep_throughput.py --data-dir ../shared/data [--ks 1 4 16]
"""

import argparse
import dataclasses
import time

import jax
import numpy as np

from jaxlr import data, engine as train, sweep


def throughput(trainer, k, strategy, n_train):
    lrs = np.geomspace(0.01, 0.1, k)
    sweep.sweep(trainer, {"lr": lrs}, base={"momentum": 0.0}, strategy=strategy)  # compile
    start = time.perf_counter()  # the whole call: every host step between epochs counts
    sweep.sweep(trainer, {"lr": lrs}, base={"momentum": 0.0}, strategy=strategy)
    return k * n_train * trainer.config.epochs / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--lenet-examples", type=int, default=4096)
    args = parser.parse_args()
    iono = data.load("ionosphere")
    fashion = data.load("fashion_mnist", args.data_dir)
    fashion = dataclasses.replace(fashion, x_train=fashion.x_train[:args.lenet_examples],
                                  y_train=fashion.y_train[:args.lenet_examples],
                                  x_test=fashion.x_test[:1000], y_test=fashion.y_test[:1000])
    tasks = {
        "ionosphere MLP (50 epochs)": (train.TrainConfig(
            model="ionosphere_mlp", epochs=50, batch_size=28, optimizer="keras_sgd"), iono),
        f"LeNet ({args.lenet_examples} images, 2 epochs)": (train.TrainConfig(
            model="lenet", epochs=2, batch_size=256, optimizer="sgd"), fashion),
    }
    print(f"jax {jax.__version__}, device {jax.devices()[0]}; aggregate training images/s "
          "(evaluation of every epoch included), compiled program reused")
    print(f"{'task':<32} {'K':>4} {'vmap':>10} {'sequential':>11} {'vmap/seq':>9}")
    for name, (cfg, ds) in tasks.items():
        for k in args.ks:
            # a fresh trainer per measurement: each strategy pays its own compilation
            v = throughput(train.make_train(cfg, ds), k, "vmap", len(ds.x_train))
            s = throughput(train.make_train(cfg, ds), k, "sequential", len(ds.x_train))
            print(f"{name:<32} {k:>4} {v:>10.0f} {s:>11.0f} {v / s:>8.2f}x")


if __name__ == "__main__":
    main()
