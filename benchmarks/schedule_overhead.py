"""Benchmark 4: a training step with each schedule vs a constant learning rate.

LeNet on a Fashion-MNIST-shaped batch of 256 (random data: only time is
measured), one jitted step per dispatch, SGD; the schedule is evaluated inside
the step from the optimizer's count. Prints ms per step and the ratio to the
constant-lr step, all measured in the same run (median of --repeats blocks).
Run: python benchmarks/schedule_overhead.py [--steps 100] [--repeats 5]
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlr
from jaxlr.models import make_model

SCHEDULES = {
    "constant": lambda: jaxlr.constant(0.1),
    "cosine": lambda: jaxlr.cosine(0.1, 10_000, 1e-4),
    "warmup+cosine": lambda: jaxlr.warmup(jaxlr.cosine(0.1, 9_000), 1_000),
    "one_cycle": lambda: jaxlr.one_cycle(0.1, 10_000),
    "cyclic": lambda: jaxlr.cyclic(0.01, 0.1, 500, mode="triangular2"),
    "cosine_restarts": lambda: jaxlr.cosine_restarts(0.1, 1_000, 2.0, 0.9),
    "piecewise(10)": lambda: jaxlr.piecewise_constant(list(range(1000, 11_000, 1000)),
                                                       [0.1 * 0.8**i for i in range(11)]),
    "wsd": lambda: jaxlr.warmup_stable_decay(0.1, 500, 7_000, 2_500, decay="1-sqrt"),
}


def make_step(model, tx):
    def loss_fn(params, x, y):
        logits = model.apply(params, x)
        return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()

    @jax.jit
    def step(params, opt_state, x, y):
        grads = jax.grad(loss_fn)(params, x, y)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    return step


def measure(steps=100, repeats=5, names=tuple(SCHEDULES)):
    """Median ms per LeNet step for each schedule named, interleaved: ``{name: ms}``."""
    model = make_model("lenet", 10)
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((256, 28, 28, 1), np.float32))
    y = jnp.asarray(rng.integers(0, 10, 256))
    params0 = model.init(jax.random.PRNGKey(0), x[:1])
    compiled = {}
    for name in names:
        tx = optax.sgd(SCHEDULES[name]())
        compiled[name] = (make_step(model, tx), tx.init(params0))
        jax.block_until_ready(compiled[name][0](params0, compiled[name][1], x, y))  # compile
    times = {name: [] for name in compiled}
    for _ in range(repeats):  # interleaved, so drift hits every schedule alike
        for name, (step, opt_state) in compiled.items():
            params, state = params0, opt_state
            start = time.perf_counter()
            for _ in range(steps):
                params, state = step(params, state, x, y)
            jax.block_until_ready(params)
            times[name].append((time.perf_counter() - start) / steps * 1e3)
    return {name: statistics.median(t) for name, t in times.items()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    ms = measure(args.steps, args.repeats)
    print(f"jax {jax.__version__}, device {jax.devices()[0]}, LeNet batch 256, "
          f"{args.steps} steps x {args.repeats} repeats (median)")
    print(f"{'schedule':<16} {'ms/step':>8} {'vs constant':>12}")
    for name, m in ms.items():
        print(f"{name:<16} {m:>8.2f} {m / ms['constant']:>11.3f}x")


if __name__ == "__main__":
    main()
