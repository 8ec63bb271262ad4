"""The d2l comparison end to end: ``jaxlr compare d2l`` against a PyTorch loop of the same runs.

The six d2l schedules (constant, square root, factor, multi-factor, cosine,
cosine+warmup) x ``--seeds`` seeds, LeNet on Fashion-MNIST, batch 256, plain
SGD, the lr set once per epoch (epoch e trains with schedule(e)), the test
set evaluated after every epoch, on both sides:

- jaxlr: ``jaxlr.compare.run_comparison`` (what ``jaxlr compare d2l --runs ...``
  runs), in a fresh results directory, so nothing is reused;
- PyTorch: d2l's loop (``zero_grad, forward, loss, backward, step``) over
  in-memory tensors, each epoch's lr from the same schedule, evaluation in
  ``torch.no_grad`` after every epoch.

Prints the wall time of each side (data loading and compilation included) and
the ratio, and each schedule's final test accuracy, mean ± sample std over
seeds, for both (the same recipe; different initial draws and orders).

Run: python benchmarks/d2l_vs_torch.py --data-dir ../shared/data --seeds 3 [--out DIR]   (full size: ~1 h on 2 CPU cores)
     python benchmarks/d2l_vs_torch.py --data-dir ../shared/data --epochs 2 --max-train 4096
"""

import argparse
import pathlib
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from gpu_suite import D2L_SCHEDULES, d2l_per_epoch_lrs  # noqa: E402
from lenet_vs_torch import torch_lenet  # noqa: E402

from jaxlr import compare  # noqa: E402
from jaxlr.comparisons import COMPARISONS  # noqa: E402


def jaxlr_side(data_dir, seeds, epochs, max_train, schedules, out=None):
    with tempfile.TemporaryDirectory() as scratch:
        start = time.perf_counter()
        histories = compare.run_comparison(
            COMPARISONS["d2l"], epochs=epochs, seeds=seeds, data_dir=data_dir,
            out=out or scratch, max_train=max_train, progress=False, log=lambda line: None,
            runs=list(schedules))
        seconds = time.perf_counter() - start
    return seconds, {k: [h.eval_acc[-1] for h in v] for k, v in histories.items()}


def torch_side(data_dir, seeds, epochs, max_train, schedules):
    import torch
    from torch import nn

    start = time.perf_counter()
    comparison = COMPARISONS["d2l"]
    ds = compare.load_data(comparison, None, data_dir, max_train, None)
    x = torch.from_numpy(ds.x_train.transpose(0, 3, 1, 2).copy())
    y = torch.from_numpy(ds.y_train.astype(np.int64))
    x_test = torch.from_numpy(ds.x_test.transpose(0, 3, 1, 2).copy())
    y_test = torch.from_numpy(ds.y_test.astype(np.int64))
    steps = -(-len(x) // 256)
    loss = nn.CrossEntropyLoss()
    accs = {}
    for label in schedules:
        lrs = d2l_per_epoch_lrs(compare.find_run(comparison, label), steps, epochs)
        accs[label] = []
        for seed in range(seeds):
            torch.manual_seed(seed)
            net = torch_lenet()
            opt = torch.optim.SGD(net.parameters(), lr=lrs[0])
            for epoch in range(epochs):
                for group in opt.param_groups:
                    group["lr"] = lrs[epoch]
                net.train()
                order = torch.randperm(len(x))
                for i in range(0, len(x), 256):
                    idx = order[i:i + 256]
                    opt.zero_grad()
                    loss(net(x[idx]), y[idx]).backward()
                    opt.step()
                net.eval()
                with torch.no_grad():
                    correct = sum(int((net(x_test[i:i + 1000]).argmax(1)
                                       == y_test[i:i + 1000]).sum())
                                  for i in range(0, len(x_test), 1000))
            accs[label].append(correct / len(x_test))
    return time.perf_counter() - start, accs


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--max-train", type=int, default=None)
    parser.add_argument("--schedules", nargs="+", default=list(D2L_SCHEDULES))
    parser.add_argument("--out", default=None,
                        help="keep jaxlr's results (results.md, figures, run store) in this new "
                             "directory (default: a temporary one)")
    args = parser.parse_args(argv)
    if args.out and pathlib.Path(args.out).exists() and any(pathlib.Path(args.out).iterdir()):
        parser.error(f"--out {args.out!r} is not empty: a stored run would be reused, not timed")
    import jax
    import torch

    ours, our_acc = jaxlr_side(args.data_dir, args.seeds, args.epochs, args.max_train,
                               args.schedules, args.out)
    theirs, their_acc = torch_side(args.data_dir, args.seeds, args.epochs, args.max_train,
                                   args.schedules)
    print(f"jax {jax.__version__}, torch {torch.__version__} ({torch.get_num_threads()} "
          f"threads), device {jax.devices()[0]}; {len(args.schedules)} schedules x "
          f"{args.seeds} seed(s) x {args.epochs} epochs"
          + (f", {args.max_train} training images" if args.max_train else ""))
    print(f"wall time: jaxlr compare {ours:.1f} s, PyTorch loop {theirs:.1f} s, "
          f"jaxlr / PyTorch speed {theirs / ours:.2f}x")

    def stat(values):
        return (f"{np.mean(values):.4f} ± {np.std(values, ddof=1):.4f}" if len(values) > 1
                else f"{values[0]:.4f}")

    print(f"{'schedule':<16} {'jaxlr final acc':>18} {'PyTorch final acc':>18}")
    for label in args.schedules:
        print(f"{label:<16} {stat(our_acc[label]):>18} {stat(their_acc[label]):>18}")
    return ours, theirs, our_acc, their_acc


if __name__ == "__main__":
    main()
