"""XLA:CPU options for the LeNet training step, each in its own process, against PyTorch.

XLA reads ``XLA_FLAGS`` once, when the backend starts, so every option set
runs in a fresh child process: the jaxlr LeNet step (batch 256, SGD, the
engine's own program and loop) with each lowering (``shifted``, ``xla``),
``--steps`` timed steps after a warm-up epoch, median of ``--repeats``. The
children report images/s and the training loss after the timed steps (the
same data, init and steps in every child: options that change the function
beyond float32 rounding show up as a different loss). PyTorch eager (d2l's
loop, same model and batch) is measured in the same run, between the children.

Run: python benchmarks/xla_cpu_flags.py --data-dir ../shared/data [--steps 60 --repeats 3]
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from lenet_vs_torch import torch_lenet  # noqa: E402

OPTION_SETS = {
    "default": "",
    "oneDNN": "--xla_cpu_use_onednn=true",
    "oneDNN custom calls": "--xla_cpu_use_onednn=true --xla_cpu_experimental_onednn_custom_call=true",
    "XNNPACK": "--xla_cpu_use_xnnpack=true",
    "fast math": "--xla_cpu_enable_fast_math=true",
    "no thunk runtime": "--xla_cpu_use_thunk_runtime=false",
}


def child(data_dir, lowering, steps, repeats, n_train):
    import jax
    import jax.numpy as jnp

    from lenet_vs_torch import lenet_sgd_program

    trainer, prog, state, acc = lenet_sgd_program(data_dir, lowering, n_train)
    for i in range(min(steps, trainer.steps_per_epoch)):  # warm-up (compiles)
        state, acc = prog.step_into(state, acc, jnp.int32(i))
    jax.block_until_ready(state.params)
    rates, losses = [], []
    for _ in range(repeats):
        state = prog.init({"lr": jnp.float32(0.1)}, jax.random.PRNGKey(0))
        state, acc = prog.begin_epoch(state)
        start = time.perf_counter()
        for i in range(steps):
            state, acc = prog.step_into(state, acc, jnp.int32(i % trainer.steps_per_epoch))
        jax.block_until_ready((state.params, acc))
        rates.append(steps * 256 / (time.perf_counter() - start))
        losses.append(float(acc.loss[(steps - 1) % trainer.steps_per_epoch]))
    return {"images_per_s": statistics.median(rates), "last_loss": losses[-1]}


def torch_rate(data_dir, steps, repeats, n_train):
    import numpy as np
    import torch
    from torch import nn

    from jaxlr import data

    ds = data.subset(data.load("fashion_mnist", data_dir), n_train, 256)
    x = torch.from_numpy(ds.x_train.transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(ds.y_train.astype(np.int64))
    torch.manual_seed(0)
    net = torch_lenet()
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    batches = len(x) // 256

    def run(n):
        for i in range(n):
            idx = slice((i % batches) * 256, (i % batches + 1) * 256)
            opt.zero_grad()
            loss(net(x[idx]), y[idx]).backward()
            opt.step()

    run(min(steps, batches))
    rates = []
    for _ in range(repeats):
        start = time.perf_counter()
        run(steps)
        rates.append(steps * 256 / (time.perf_counter() - start))
    return statistics.median(rates), torch.__version__, torch.get_num_threads()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", type=int, default=4096)
    parser.add_argument("--sets", nargs="+", default=list(OPTION_SETS),
                        help=f"option sets to try, of {list(OPTION_SETS)}")
    parser.add_argument("--child", nargs=1, metavar="LOWERING", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.data_dir, args.child[0], args.steps, args.repeats,
                               args.train)))
        return None
    rows = []
    torch_rates = []
    for name in args.sets:
        for lowering in ("shifted", "xla"):
            env = {**os.environ, "XLA_FLAGS": OPTION_SETS[name]}
            cmd = [sys.executable, __file__, "--child", lowering, "--steps", str(args.steps),
                   "--repeats", str(args.repeats), "--train", str(args.train)]
            if args.data_dir:
                cmd += ["--data-dir", args.data_dir]
            done = subprocess.run(cmd, env=env, capture_output=True, text=True)
            if done.returncode:
                rows.append((name, lowering, None, done.stderr.strip().splitlines()[-1]))
            else:
                rows.append((name, lowering, json.loads(done.stdout.splitlines()[-1]), ""))
        rate, version, threads = torch_rate(args.data_dir, args.steps, args.repeats, args.train)
        torch_rates.append(rate)
    torch_median = statistics.median(torch_rates)
    print(f"LeNet training step, batch 256, {args.steps} steps x {args.repeats} (median); "
          f"PyTorch {version} eager ({threads} threads) measured after each option set: "
          f"{', '.join(f'{r:.0f}' for r in torch_rates)} images/s, median {torch_median:.0f}")
    print(f"{'XLA options':<22} {'lowering':<8} {'images/s':>9} {'vs torch':>9} "
          f"{'loss after':>11}")
    for name, lowering, r, error in rows:
        if r is None:
            print(f"{name:<22} {lowering:<8} failed: {error}")
        else:
            print(f"{name:<22} {lowering:<8} {r['images_per_s']:>9.0f} "
                  f"{r['images_per_s'] / torch_median:>8.2f}x {r['last_loss']:>11.6f}")
    return rows, torch_rates


if __name__ == "__main__":
    main()
