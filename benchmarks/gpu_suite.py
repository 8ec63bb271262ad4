"""The accelerator suite: one command that measures what jaxlr promises on a GPU.

Four measurements, each against its peer in the same run, written to
``--out`` (default ``benchmarks/results/``) as JSON and a markdown table with
the device, the versions and the date:

1. the d2l comparison's six schedules (constant, square root, factor,
   multi-factor, cosine, cosine+warmup) at full size (Fashion-MNIST, LeNet,
   batch 256, 30 epochs, one seed), end to end (data, compilation, every
   evaluation) two ways: ``jaxlr compare d2l`` as a user runs it (one
   program per schedule), and the six as ONE vmapped program (d2l sets the lr
   once per epoch, so each schedule is a table of 30 traced per-epoch lrs);
   against d2l's published ~150 s per schedule (the figure of the issue that
   asked for this suite: d2l's PyTorch notebooks on their build GPU);
2. a 64-configuration LeNet lr sweep (one vmapped program) against one
   model's throughput (aggregate training images/s, compiled program reused);
3. the LeNet training step, images/s, against PyTorch eager on the same
   device (same model, batch 256, data on the device; d2l's loop);
4. the cost of evaluating a schedule inside the step (ms/step vs a constant lr).

Targets (on one H100/H200): 1. >= 30x faster than d2l's 6 x 150 s; 2. >= 20x
one model's throughput; 3. >= 1.0x PyTorch eager. The markdown says which are met.

Run: python benchmarks/gpu_suite.py --data-dir ../shared/data   (at most ~8 min on one GPU)
     python benchmarks/gpu_suite.py --tiny --out DIR          (seconds-sized, any machine)
"""

import argparse
import dataclasses
import datetime
import json
import pathlib
import platform
import sys
import tempfile
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

import lenet_vs_torch  # noqa: E402
import schedule_overhead  # noqa: E402
import sweep_throughput  # noqa: E402

from jaxlr import compare, data, engine, sweep  # noqa: E402
from jaxlr.comparisons import COMPARISONS  # noqa: E402
from jaxlr.engine.config import ScheduleInfo  # noqa: E402

D2L_SCHEDULES = ("constant", "square root", "factor", "multi-factor", "cosine", "cosine+warmup")
D2L_PUBLISHED_SECONDS = 150.0  # per schedule, 30 epochs (d2l's notebooks; see the docstring)


@dataclasses.dataclass(frozen=True)
class Sizes:
    d2l_epochs: int
    d2l_train: int | None  # None: all 60,000
    d2l_eval: int | None
    sweep_k: int
    sweep_train: int | None
    step_epochs: int
    step_train: int | None
    overhead_steps: int
    overhead_repeats: int
    d2l_schedules: tuple = D2L_SCHEDULES
    overhead_schedules: tuple = tuple(schedule_overhead.SCHEDULES)


FULL = Sizes(30, None, None, 64, None, 2, None, 200, 5)
# every code path once (a schedule-free run and a scheduled one), in seconds
TINY = Sizes(1, 512, 256, 2, 512, 1, 512, 2, 1, ("constant", "cosine+warmup"),
             ("constant", "wsd"))


def versions():
    out = {"python": platform.python_version(), "jax": jax.__version__}
    for name in ("jaxlib", "optax", "flax", "torch", "jaxlr"):
        try:
            out[name] = __import__(name).__version__
        except ImportError:
            out[name] = None
    try:
        import torch

        out["torch_cuda"] = torch.version.cuda
    except ImportError:
        pass
    return out


def device_text():
    d = jax.devices()[0]
    kind = getattr(d, "device_kind", str(d))
    return f"{d.platform}: {kind} x{jax.device_count()}"


def d2l_comparison(data_dir, sizes):
    """``jaxlr compare d2l`` on the six schedules, in a fresh results directory: seconds."""
    comparison = COMPARISONS["d2l"]
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        histories = compare.run_comparison(
            comparison, epochs=sizes.d2l_epochs, data_dir=data_dir, out=out,
            max_train=sizes.d2l_train, max_eval=sizes.d2l_eval, progress=False,
            log=lambda line: None, runs=list(sizes.d2l_schedules))
        seconds = time.perf_counter() - start
    return (seconds, {label: float(h[0].eval_acc[-1]) for label, h in histories.items()},
            {label: np.asarray(h[0].lr, np.float64) for label, h in histories.items()})


def epoch_table(h, info):
    """A schedule that reads its lr for each epoch from the hyperparameters ``lr0``, ``lr1``, ..."""
    lrs = jnp.stack([h[f"lr{e}"] for e in range(info.epochs)])
    return lambda count: lrs[jnp.clip(count // info.steps_per_epoch, 0, info.epochs - 1)]


def d2l_per_epoch_lrs(run, steps_per_epoch, epochs):
    """The lr each epoch of one d2l run trains with, from the run's own schedule."""
    hparams = {k: jnp.float32(v) for k, v in run.hparams.items()}
    if run.schedule is None:
        return [float(run.hparams["lr"])] * epochs
    fn = run.schedule(hparams, ScheduleInfo(steps_per_epoch, epochs))
    return [float(fn(jnp.int32(e * steps_per_epoch))) for e in range(epochs)]


def d2l_one_program(data_dir, sizes):
    """The six schedules as one vmapped program (their per-epoch lrs traced): seconds."""
    start = time.perf_counter()
    comparison = COMPARISONS["d2l"]
    ds = compare.load_data(comparison, None, data_dir, sizes.d2l_train, sizes.d2l_eval)
    config = engine.TrainConfig(model="lenet", epochs=sizes.d2l_epochs, batch_size=256,
                                optimizer="sgd", schedule=epoch_table,
                                name="d2l: its schedules as one program")
    trainer = engine.make_train(config, ds)
    rows = []
    for label in sizes.d2l_schedules:
        lrs = d2l_per_epoch_lrs(compare.find_run(comparison, label), trainer.steps_per_epoch,
                                sizes.d2l_epochs)
        rows.append({f"lr{e}": v for e, v in enumerate(lrs)})
    result = sweep.sweep(trainer, rows, strategy="vmap")
    seconds = time.perf_counter() - start
    acc = result.metrics["eval_acc"][:, 0, -1]
    lrs = result.metrics["lr"][:, 0].astype(np.float64)  # [schedule, epoch, step]
    return (seconds, {label: float(a) for label, a in zip(sizes.d2l_schedules, acc)},
            dict(zip(sizes.d2l_schedules, lrs)))


def fashion(data_dir, n_train, n_eval=1000):
    ds = data.load("fashion_mnist", data_dir)
    return data.subset(ds, n_train, n_eval)


def lenet_sweep(data_dir, sizes):
    """Aggregate images/s of a K-config lr sweep (vmap) and of one model."""
    ds = fashion(data_dir, sizes.sweep_train)
    cfg = engine.TrainConfig(model="lenet", epochs=1, batch_size=256, optimizer="sgd")
    n = len(ds.x_train)
    k = sizes.sweep_k
    many = sweep_throughput.throughput(engine.make_train(cfg, ds), k, "vmap", n)
    one = sweep_throughput.throughput(engine.make_train(cfg, ds), 1, "vmap", n)
    return {"k": k, "train_images": n, "sweep_images_per_s": many,
            "one_model_images_per_s": one, "ratio": many / one}


def lenet_step(data_dir, sizes):
    """LeNet training images/s, jaxlr's engine vs PyTorch eager on the same device."""
    ds = fashion(data_dir, sizes.step_train)
    ours = lenet_vs_torch.jaxlr_images_per_second(ds, sizes.step_epochs, "auto")
    out = {"jaxlr_images_per_s": ours, "torch_images_per_s": None, "ratio": None,
           "torch_device": None}
    try:
        import torch
    except ImportError:
        out["note"] = "PyTorch is not installed here: no peer measured"
        return out
    device = "cuda" if torch.cuda.is_available() else "cpu"
    theirs, _, threads = lenet_vs_torch.torch_images_per_second(ds, sizes.step_epochs, device)
    out.update(torch_images_per_s=theirs, ratio=ours / theirs, torch_device=device,
               torch_threads=threads)
    return out


def markdown(report):
    s, r = report["sections"], report
    d2l, one = s["d2l_comparison"], s["d2l_one_program"]
    names = r["sizes"]["d2l_schedules"]
    peer = D2L_PUBLISHED_SECONDS * len(names) * (r["sizes"]["d2l_epochs"] / 30)
    lines = [f"# Accelerator suite, {r['date']}", "",
             f"`{r['command']}`", "",
             f"Device: {r['device']}. Versions: "
             + ", ".join(f"{k} {v}" for k, v in r["versions"].items() if v) + ".",
             f"Sizes: {'tiny (a check that the suite runs, not a measurement)' if r['tiny'] else 'full'}; "
             f"whole suite {r['seconds']:.0f} s.", "",
             "| measurement | jaxlr | peer | ratio | target | met |",
             "| --- | ---: | ---: | ---: | ---: | --- |"]

    def row(name, ours, theirs, ratio, target):
        met = "—" if ratio is None else ("yes" if ratio >= target else "no")
        ratio_text = "—" if ratio is None else f"{ratio:.2f}x"
        lines.append(f"| {name} | {ours} | {theirs} | {ratio_text} | >= {target:g}x | {met} |")

    for label, m in (("`jaxlr compare d2l`, one program per schedule", d2l),
                     ("the same schedules as one vmapped program", one)):
        row(f"d2l, {len(names)} schedules x {r['sizes']['d2l_epochs']} epochs, end to end: {label}",
            f"{m['seconds']:.1f} s", f"{peer:.0f} s (d2l published)", peer / m["seconds"], 30)
    sw = s["lenet_sweep"]
    row(f"LeNet lr sweep, K = {sw['k']}, aggregate training images/s vs one model",
        f"{sw['sweep_images_per_s']:,.0f}", f"{sw['one_model_images_per_s']:,.0f}",
        sw["ratio"], 20)
    st = s["lenet_step"]
    row("LeNet training step, images/s vs PyTorch eager "
        f"({st.get('torch_device') or 'not installed'})",
        f"{st['jaxlr_images_per_s']:,.0f}",
        "—" if st["torch_images_per_s"] is None else f"{st['torch_images_per_s']:,.0f}",
        st["ratio"], 1)
    lines += ["", "Final test accuracy per schedule (one seed; the two d2l rows train the "
              "same runs as different XLA programs, so they agree to float32 rounding; "
              f"every step's lr agrees to {one['lr_max_rel_diff']:.1e} relative):", "",
              "| schedule | " + " | ".join(names) + " |",
              "| --- |" + " ---: |" * len(names)]
    for label, m in (("one program per schedule", d2l), ("one vmapped program", one)):
        lines.append(f"| {label} | " + " | ".join(f"{m['final_acc'][k]:.4f}"
                                                   for k in names) + " |")
    oh = s["schedule_overhead"]
    lines += ["", "Schedule evaluated inside the LeNet step (ms/step, vs constant lr):", "",
              "| schedule | ms/step | vs constant |", "| --- | ---: | ---: |"]
    lines += [f"| {k} | {v:.3f} | {v / oh['constant']:.3f}x |" for k, v in oh.items()]
    return "\n".join(lines) + "\n"


def run_suite(data_dir, tiny, command):
    sizes = TINY if tiny else FULL
    start = time.perf_counter()
    sections = {}

    def timed(name, fn):
        t = time.perf_counter()
        sections[name] = fn()
        print(f"{name}: {time.perf_counter() - t:.1f} s", flush=True)

    lrs = {}

    def d2l(fn):
        seconds, acc, lrs[fn.__name__] = fn(data_dir, sizes)
        return {"seconds": seconds, "final_acc": acc}

    timed("d2l_comparison", lambda: d2l(d2l_comparison))
    timed("d2l_one_program", lambda: d2l(d2l_one_program))
    # the two programs must train the same schedules: every step's lr, compared
    a, b = lrs["d2l_comparison"], lrs["d2l_one_program"]
    sections["d2l_one_program"]["lr_max_rel_diff"] = max(
        float(np.max(np.abs(a[k] - b[k]) / np.maximum(np.abs(a[k]), 1e-30))) for k in sizes.d2l_schedules)
    timed("lenet_sweep", lambda: lenet_sweep(data_dir, sizes))
    timed("lenet_step", lambda: lenet_step(data_dir, sizes))
    timed("schedule_overhead", lambda: schedule_overhead.measure(
        sizes.overhead_steps, sizes.overhead_repeats, sizes.overhead_schedules))
    return {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "command": command, "device": device_text(), "backend": jax.default_backend(),
            "versions": versions(), "tiny": tiny, "sizes": dataclasses.asdict(sizes),
            "seconds": time.perf_counter() - start, "sections": sections}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None, help="where fashion_mnist/ is")
    parser.add_argument("--out", default=str(pathlib.Path(__file__).parent / "results"))
    parser.add_argument("--tiny", action="store_true",
                        help="seconds-sized versions of every measurement (a check, not figures)")
    args = parser.parse_args(argv)
    command = "python benchmarks/gpu_suite.py " + " ".join(argv if argv is not None
                                                           else sys.argv[1:])
    report = run_suite(args.data_dir, args.tiny, command.strip())
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    stem = (f"gpu_suite-{report['backend']}-{report['date'][:10]}"
            + ("-tiny" if args.tiny else ""))
    (out / f"{stem}.json").write_text(json.dumps(report, indent=1) + "\n")
    text = markdown(report)
    (out / f"{stem}.md").write_text(text)
    print(text)
    print(f"wrote {out / stem}.json and .md")


if __name__ == "__main__":
    main()
