"""Benchmark 3b: LeNet's convolution and pool pieces, XLA's lowering vs jaxlr's ``shifted``.

Each piece of d2l's LeNet training step (batch 256, Fashion-MNIST shapes) is
jitted alone and timed under both lowerings of ``jaxlr._layers``,
interleaved, median of 7 rounds: where the step's time goes, and what the
CPU lowering changes.
Run: python benchmarks/lenet_pieces.py
"""

import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr import _layers

B = 256


def _pieces():
    rng = np.random.default_rng(0)
    arr = lambda *shape: jnp.asarray(rng.normal(size=shape), jnp.float32)  # noqa: E731
    x1, k1, g1 = arr(B, 28, 28, 1), arr(5, 5, 1, 6), arr(B, 28, 28, 6)
    x2, k2, g2 = arr(B, 14, 14, 6), arr(5, 5, 6, 16), arr(B, 10, 10, 16)
    p1, gp1 = arr(B, 28, 28, 6), arr(B, 14, 14, 6)

    def conv_vjp(x, k, g, padding, lowering, argnums):
        _, vjp = jax.vjp(lambda x, k: _layers.conv2d(x, k, padding, lowering), x, k)
        grads = vjp(g)
        return tuple(grads[i] for i in argnums)

    # arrays are arguments, not closed-over constants (XLA would fold constants)
    return {
        "conv1 forward (1 -> 6, 5x5, pad 2)":
            (lambda low: lambda x, k: _layers.conv2d(x, k, 2, low), (x1, k1)),
        "conv1 kernel gradient":
            (lambda low: lambda x, k, g: conv_vjp(x, k, g, 2, low, (1,)), (x1, k1, g1)),
        "conv2 forward (6 -> 16, 5x5)":
            (lambda low: lambda x, k: _layers.conv2d(x, k, 0, low), (x2, k2)),
        "conv2 input + kernel gradients":
            (lambda low: lambda x, k, g: conv_vjp(x, k, g, 0, low, (0, 1)), (x2, k2, g2)),
        "relu + max-pool 1 gradient":
            (lambda low: lambda a, g: jax.vjp(lambda a: _layers.relu_max_pool(a, low), a)[1](g),
             (p1, gp1)),
    }


def _timer(fn, args):
    f = jax.jit(fn)
    jax.block_until_ready(f(*args))

    def run(n=20):
        start = time.perf_counter()
        for _ in range(n):
            out = f(*args)
        jax.block_until_ready(out)
        return (time.perf_counter() - start) / n
    return run


def main():
    print(f"jax {jax.__version__}, device {jax.devices()[0]}, batch {B}; ms per call, "
          "median of 7 interleaved rounds")
    print(f"{'piece':<36} {'xla':>8} {'shifted':>8} {'xla/shifted':>12}")
    for name, (make, args) in _pieces().items():
        runs = {low: _timer(make(low), args) for low in ("xla", "shifted")}
        times = {low: [] for low in runs}
        for _ in range(7):
            for low, run in runs.items():
                times[low].append(run())
        med = {low: sorted(t)[3] * 1e3 for low, t in times.items()}
        print(f"{name:<36} {med['xla']:>8.2f} {med['shifted']:>8.2f} "
              f"{med['xla'] / med['shifted']:>11.2f}x")


if __name__ == "__main__":
    main()
