"""Common random numbers: how much pairing seeds sharpens a comparison of two schedules.

d2l's LeNet on Fashion-MNIST (plain SGD, batch 256), two schedules: a
constant lr 0.3 (d2l's ``constant``) and a cosine from 0.3 to 0.01 over the
run (d2l's ``cosine``, its length set to the run's epochs). Schedule A trains
seeds 0..S-1; schedule B trains four ways:

- ``paired``: the same seeds (same initial parameters, same batches, same
  order: jaxlr's default for the members of a sweep or a comparison);
- ``unpaired``: seeds S..2S-1 (another init and other batches);
- ``same data``: seed pairs ``(S + s, s)`` (another init, the same batches);
- ``same init``: seed pairs ``(s, S + s)`` (the same init, other batches).

For each, the S differences ``acc_A - acc_B`` of final test accuracy: their
mean and sample standard deviation. The mean difference is the effect; the
spread is the noise a reader must see through, and ``unpaired / paired`` is
how many times more seeds an unpaired comparison needs for the same
standard error (squared).

Run: python experiments/common_random_numbers.py --data-dir ../shared/data
     [--seeds 5 --epochs 6 --max-train 8192 --out experiments/results/crn-d2l]
Interrupted, it resumes from its run store (``OUT/store``).
"""

import argparse
import dataclasses
import json
import math
import pathlib
import sys
import time

from jaxlr import compare, engine, sweep
from jaxlr.comparisons import COMPARISONS
from jaxlr.sweep.space import seed_text


def _runs(epochs):
    d2l = COMPARISONS["d2l"]
    a = compare.find_run(d2l, "constant")
    b = compare.find_run(d2l, "cosine")
    b = dataclasses.replace(b, hparams={**b.hparams, "max_update": float(epochs)},
                            description=f"cosine 0.3 -> 0.01 over {epochs} epochs")
    return d2l, a, b


def pairings(seeds):
    """The seeds schedule B trains for each pairing (schedule A: ``0..seeds-1``)."""
    s = range(seeds)
    return {"paired": list(s), "unpaired": [seeds + i for i in s],
            "same data": [(seeds + i, i) for i in s], "same init": [(i, seeds + i) for i in s]}


def measure(data_dir, seeds, epochs, max_train, max_eval, out, progress=True):
    d2l, run_a, run_b = _runs(epochs)
    ds = compare.load_data(d2l, None, data_dir, max_train, max_eval)
    store = engine.RunStore(pathlib.Path(out) / "store")

    trainers = {}  # one per schedule: each compiles once

    def train(run, seed_list):
        if run.label not in trainers:
            trainers[run.label] = engine.make_train(compare.train_config(d2l, run, epochs), ds)
        trainer = trainers[run.label]
        result = sweep.sweep(trainer, [dict(run.hparams)], seeds=seed_list, store=store,
                             progress=progress and f"{run.label}, {sweep.seeds_text(seed_list)}")
        return result.metrics["eval_acc"][0, :, -1].astype(float)

    start = time.perf_counter()
    acc_a = train(run_a, list(range(seeds)))
    rows = {}
    for name, b_seeds in pairings(seeds).items():
        acc_b = train(run_b, b_seeds)
        diff = acc_a - acc_b
        rows[name] = {"b_seeds": [list(s) if isinstance(s, tuple) else s for s in b_seeds],
                      "acc_b": acc_b.tolist(), "diff": diff.tolist(),
                      "mean": float(diff.mean()), "std": float(diff.std(ddof=1))}
    return {"schedules": {"A": f"constant {run_a.hparams['lr']}", "B": run_b.description},
            "seeds": seeds, "epochs": epochs, "train_examples": len(ds.x_train),
            "eval_examples": len(ds.eval_split[0]), "acc_a": acc_a.tolist(), "rows": rows,
            "seconds": time.perf_counter() - start}


def markdown(r, command):
    paired = r["rows"]["paired"]["std"]
    lines = ["# Common random numbers: two d2l schedules, paired and unpaired seeds", "",
             f"`{command}`", "",
             f"LeNet on Fashion-MNIST ({r['train_examples']} training, {r['eval_examples']} "
             f"test images), SGD, batch 256, {r['epochs']} epochs. A: {r['schedules']['A']}; "
             f"B: {r['schedules']['B']}. A trains seeds 0-{r['seeds'] - 1}; B trains them "
             "four ways. Final test accuracy; differences A - B over "
             f"{r['seeds']} seeds: mean and sample standard deviation; "
             f"{r['seconds']:.0f} s in all.", "",
             "| B's seeds | init | batches | mean A - B | std of A - B | std / paired std |",
             "| --- | --- | --- | ---: | ---: | ---: |"]
    what = {"paired": ("same", "same"), "unpaired": ("other", "other"),
            "same data": ("other", "same"), "same init": ("same", "other")}
    for name, row in r["rows"].items():
        seeds = ", ".join(seed_text(tuple(s) if isinstance(s, list) else s)
                          for s in row["b_seeds"])
        ratio = row["std"] / paired if paired > 0 else math.inf
        lines.append(f"| {name}: {seeds} | {what[name][0]} | {what[name][1]} | "
                     f"{row['mean']:+.4f} | {row['std']:.4f} | {ratio:.2f}x |")
    lines += ["", "Seeds `i/d`: init seed i, data seed d (`jaxlr.engine.keys`)."]
    return "\n".join(lines) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--epochs", type=int, default=6)
    parser.add_argument("--max-train", type=int, default=8192)
    parser.add_argument("--max-eval", type=int, default=None)
    parser.add_argument("--out", default="experiments/results/crn-d2l")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    if args.seeds < 2:
        parser.error(f"--seeds must be >= 2 (a spread needs two), got {args.seeds}")
    command = "python experiments/common_random_numbers.py " + " ".join(
        sys.argv[1:] if argv is None else argv)
    r = measure(args.data_dir, args.seeds, args.epochs, args.max_train, args.max_eval,
                args.out, progress=not args.no_progress)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "crn.json").write_text(json.dumps({"command": command.strip(), **r}, indent=1)
                                  + "\n")
    text = markdown(r, command.strip())
    (out / "results.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
