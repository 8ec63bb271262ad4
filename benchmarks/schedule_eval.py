"""Benchmark 5: the cost of evaluating a schedule, jaxlr vs optax's own.

What exactness costs: jaxlr's schedules guard every boundary (exact remainders,
forced fraction ends, clipped interpolation, period checks) where optax's
compute the plain formula. Each pair evaluates the same schedule (equal values
to rounding; tests/test_optax.py checks them) under ``jax.jit`` on a vector of
int32 steps, and on a scalar int32 step as optax calls it, measured in the same
run, interleaved, median of --repeats blocks. Prints ns per step and the ratio
jaxlr / optax.
Run: python benchmarks/schedule_eval.py [--steps 1048576] [--repeats 7]
"""

import argparse
import statistics
import time

import jax
import jax.numpy as jnp
import optax

import jaxlr

T = 10_000
PAIRS = {
    "linear": (lambda: jaxlr.linear(0.1, 1e-4, T), lambda: optax.linear_schedule(0.1, 1e-4, T)),
    "polynomial p=0.9": (lambda: jaxlr.polynomial(0.1, 0.0, T, 0.9),
                         lambda: optax.polynomial_schedule(0.1, 0.0, 0.9, T)),
    "cosine": (lambda: jaxlr.cosine(0.1, T, 1e-3),
               lambda: optax.cosine_decay_schedule(0.1, T, 1e-2)),
    "exponential stair": (lambda: jaxlr.exponential(0.1, 0.5, 1000, staircase=True),
                          lambda: optax.exponential_decay(0.1, 1000, 0.5, staircase=True)),
    "warmup+cosine": (lambda: jaxlr.warmup(jaxlr.cosine(0.1, T - 1000), 1000),
                      lambda: optax.warmup_cosine_decay_schedule(0.0, 0.1, 1000, T)),
    "piecewise(10)": (lambda: jaxlr.piecewise_constant(list(range(1000, 11_000, 1000)),
                                                       [0.1 * 0.8**i for i in range(11)]),
                      lambda: optax.piecewise_constant_schedule(
                          0.1, {b: 0.8 for b in range(1000, 11_000, 1000)})),
    "sgdr (3 restarts)": (lambda: jaxlr.restarts(jaxlr.cosine(0.1, 2500), 2500),
                          lambda: optax.sgdr_schedule(
                              [dict(init_value=0.1, peak_value=0.1, decay_steps=2500,
                                    warmup_steps=0, end_value=0.0)] * 4)),
}


def _time(fn, arg, repeats_inner):
    jax.block_until_ready(fn(arg))
    start = time.perf_counter()
    for _ in range(repeats_inner):
        out = fn(arg)
    jax.block_until_ready(out)
    return (time.perf_counter() - start) / repeats_inner


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2**20)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    steps = jnp.arange(args.steps, dtype=jnp.int32) % (2 * T)
    scalar = jnp.int32(T // 2)
    fns = {}
    for name, (ours, theirs) in PAIRS.items():
        fns[name] = [jax.jit(ours()), jax.jit(theirs())]
    vector = {name: ([], []) for name in fns}
    single = {name: ([], []) for name in fns}
    for _ in range(args.repeats):  # interleaved, so drift hits both alike
        for name, pair in fns.items():
            for k, fn in enumerate(pair):
                vector[name][k].append(_time(fn, steps, 5) / args.steps * 1e9)
                single[name][k].append(_time(fn, scalar, 200) * 1e6)
    print(f"jax {jax.__version__}, optax {optax.__version__}, device {jax.devices()[0]}, "
          f"{args.steps} int32 steps per call, {args.repeats} repeats (median)")
    print(f"{'schedule':<20} {'jaxlr ns/step':>14} {'optax ns/step':>14} {'ratio':>7}"
          f" {'jaxlr us/call':>14} {'optax us/call':>14} {'ratio':>7}")
    for name in fns:
        ours, theirs = (statistics.median(x) for x in vector[name])
        ours1, theirs1 = (statistics.median(x) for x in single[name])
        print(f"{name:<20} {ours:>14.2f} {theirs:>14.2f} {ours / theirs:>6.2f}x"
              f" {ours1:>14.1f} {theirs1:>14.1f} {ours1 / theirs1:>6.2f}x")


if __name__ == "__main__":
    main()
