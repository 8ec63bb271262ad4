"""Where the LeNet training step's time goes: the engine's own step, profiled op by op.

Runs the engine's jitted SGD step (LeNet, batch 256, Fashion-MNIST, the lowering
given) under ``jax.profiler``, reads the trace back, and prints per step: the
wall time, the time XLA:CPU's kernels ran (summed over its threads, so it can
exceed the wall time when both cores work), and the largest kernels with
their HLO shape and the jax operation they came from (``op_name`` from the
compiled module). The profiler costs some time itself: compare the wall time
with ``lenet_vs_torch.py``'s.

Run: python benchmarks/lenet_profile.py --data-dir ../shared/data [--lowering banded] [--top 20]
"""

import argparse
import collections
import glob
import gzip
import json
import os
import re
import sys
import tempfile
import time

import jax
import jax.numpy as jnp

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lenet_vs_torch import lenet_sgd_program  # noqa: E402

# Trace events that are not kernels: host dispatch, the executor, the profiler itself.
_NOT_KERNELS = ("$", "Thunk", "Pjit", "PjRt", "Pjrt", "Slinky", "Parse", "Handle", "Alloc",
                "Python", "CommonPjRt", "end:", "DevicePut", "ThreadpoolListener")


def _hlo_ops(compiled_text):
    """``{instruction name: (shape, jax op_name)}`` from a compiled module's text."""
    ops = {}
    for line in compiled_text.splitlines():
        match = re.match(r"\s+(?:ROOT )?%(\S+) = (\S+) ", line)
        if match:
            op = re.search(r'op_name="([^"]*)"', line)
            ops[match.group(1)] = (match.group(2), op.group(1) if op else "")
    return ops


def profile_step(data_dir, lowering, steps=20, n_train=4096):
    trainer, prog, state, acc = lenet_sgd_program(data_dir, lowering, n_train)
    ops = _hlo_ops(prog.step_into.lower(state, acc, jnp.int32(0)).compile().as_text())
    for i in range(5):  # compile and warm up
        state, acc = prog.step_into(state, acc, jnp.int32(i))
    jax.block_until_ready(state.params)
    with tempfile.TemporaryDirectory() as trace_dir:
        with jax.profiler.trace(trace_dir, create_perfetto_trace=True):
            start = time.perf_counter()
            for i in range(steps):
                state, acc = prog.step_into(state, acc, jnp.int32(i % trainer.steps_per_epoch))
            jax.block_until_ready((state.params, acc))
            wall = (time.perf_counter() - start) / steps
        trace = sorted(glob.glob(f"{trace_dir}/**/*.trace.json.gz", recursive=True))[-1]
        events = json.load(gzip.open(trace))["traceEvents"]
    kernels = collections.Counter()
    for event in events:
        if event.get("ph") == "X" and not event["name"].startswith(_NOT_KERNELS):
            kernels[event["name"]] += event["dur"] / 1e3 / steps  # ms per step
    return wall * 1e3, kernels, ops


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--lowering", default="auto", choices=["auto", "banded", "shifted", "xla"])
    parser.add_argument("--top", type=int, default=20)
    parser.add_argument("--steps", type=int, default=20)
    args = parser.parse_args(argv)
    wall, kernels, ops = profile_step(args.data_dir, args.lowering, args.steps)
    print(f"jax {jax.__version__}, {jax.devices()[0]}, LeNet batch 256, lowering "
          f"{args.lowering}: {wall:.2f} ms per step (profiled), kernels {sum(kernels.values()):.2f}"
          f" ms (both threads)")
    for name, ms in kernels.most_common(args.top):
        shape, op = ops.get(name, ("", ""))
        op = re.sub(r"^jit\([^)]*\)/", "", op)
        print(f"{ms:7.3f} ms  {name:<28} {shape[:32]:<32} {op[:70]}")
    return wall, kernels


if __name__ == "__main__":
    main()
