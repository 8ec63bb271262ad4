"""Sweeps against the peers a user would pick instead: time to all results.

Two sweeps, each on the Ionosphere MLP (50 epochs, batch 28) and on LeNet
(a Fashion-MNIST slice, batch 256), SGD with momentum 0.9 (PyTorch's form),
a warmup + cosine schedule over the whole run:

1. **warmup steps** (a hyperparameter optax cannot trace: its
   ``warmup_cosine_decay_schedule`` places the warmup boundary with Python
   ints), K = 8 and 32 values:

   - ``jaxlr``: the warmup traced, ``jaxlr.warmup(jaxlr.cosine(peak, T - W), W)``,
     one Trainer compiled once, the K values by ``jaxlr.sweep`` (``auto``:
     vmapped for the MLP; on CPU, conv nets one member after another through
     the same compiled program);
   - ``optax``: a hand-written Flax + optax loop (the same model; data on the
     device; one jitted step per batch), ``optax.sgd(optax.warmup_cosine_decay_schedule(
     0, peak, W, T), momentum=0.9)``: one compilation per value;
   - ``torch``: a PyTorch eager loop over the K configurations (the same
     model and loss, ``torch.optim.SGD`` + ``LambdaLR`` with the same schedule);

2. **peak lr** (the one hyperparameter optax users already vmap), K = 8 and 32:
   ``jaxlr`` against the best an optax user writes by hand: one program,
   ``optax.inject_hyperparams(optax.scale)`` holding each member's peak,
   ``jax.vmap`` over members, one compilation (parity is the expected answer).

Every side evaluates once at the end except jaxlr, which evaluates every
epoch (its runs record the curve): that cost is charged to jaxlr. Each side
trains from its own seeds (the numbers differ; the mean final accuracy of each
is printed beside its time as a check that they trained alike).

Run: python benchmarks/fair_sweeps.py --data-dir ../shared/data [--ks 8 32]
     python benchmarks/fair_sweeps.py --tiny [--tasks mlp]   (seconds-sized; the tests run it)
"""

import argparse
import dataclasses
import math
import pathlib
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlr
from jaxlr import data, engine, sweep
from jaxlr.models import make_model

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from lenet_vs_torch import torch_lenet  # noqa: E402

MOMENTUM = 0.9


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    model: str
    ds: object
    batch: int
    epochs: int
    peak: float

    @property
    def steps_per_epoch(self):
        return math.ceil(len(self.ds.x_train) / self.batch)

    @property
    def total_steps(self):
        return self.steps_per_epoch * self.epochs

    @property
    def binary(self):
        return self.model == "ionosphere_mlp"


def tasks(data_dir, tiny, names=("mlp", "lenet")):
    out = []
    if "mlp" in names:
        out.append(Task("Ionosphere MLP", "ionosphere_mlp", data.load("ionosphere"), 28,
                        2 if tiny else 50, 0.05))
    if "lenet" in names:
        fashion = data.subset(data.load("fashion_mnist", data_dir), 1024 if tiny else 4096,
                              256 if tiny else 2000)
        out.append(Task(f"LeNet, {len(fashion.x_train)} Fashion-MNIST images", "lenet",
                        fashion, 256, 1 if tiny else 4, 0.03))
    return out


def warmups(task, k):
    """K distinct warmup lengths from 1 to half the run (whole steps)."""
    if k == 1:
        return [max(1, task.total_steps // 10)]
    ws = np.unique(np.round(np.linspace(1, task.total_steps // 2, k)).astype(int)).tolist()
    if len(ws) < k:
        raise ValueError(f"fair_sweeps: {task.name} has {task.total_steps} steps, too few "
                         f"for {k} distinct warmup lengths up to half the run")
    return ws


def schedule_value(task, w, t):
    """The warmup + cosine schedule at step ``t`` (what every side trains with)."""
    if t < w:
        return task.peak * t / w
    return 0.5 * task.peak * (1 + math.cos(math.pi * min(t - w, task.total_steps - w)
                                           / (task.total_steps - w)))


# -- jaxlr ---------------------------------------------------------------------------


def jaxlr_warmup_sweep(task, ws):
    start = time.perf_counter()
    config = engine.TrainConfig(
        model=task.model, epochs=task.epochs, batch_size=task.batch, optimizer="sgd",
        schedule=lambda h, info: jaxlr.warmup(jaxlr.cosine(h["lr"], info.total_steps - h["w"]),
                                              h["w"]))
    result = sweep.sweep(engine.make_train(config, task.ds), {"w": [float(w) for w in ws]},
                         base={"lr": task.peak, "momentum": MOMENTUM})
    return time.perf_counter() - start, result.eval_acc[:, 0, -1]


def jaxlr_peak_sweep(task, peaks):
    start = time.perf_counter()
    config = engine.TrainConfig(
        model=task.model, epochs=task.epochs, batch_size=task.batch, optimizer="sgd",
        schedule=lambda h, info: jaxlr.warmup(jaxlr.cosine(h["lr"], info.total_steps
                                                           - info.total_steps // 10),
                                              info.total_steps // 10))
    result = sweep.sweep(engine.make_train(config, task.ds), {"lr": list(peaks)},
                         base={"momentum": MOMENTUM})
    return time.perf_counter() - start, result.eval_acc[:, 0, -1]


# -- a hand-written Flax + optax loop ------------------------------------------------


def _loss_fn(task, model):
    def loss(params, x, y):
        out = model.apply(params, x)
        if task.binary:
            return optax.sigmoid_binary_cross_entropy(out[:, 0], y.astype(out.dtype)).mean()
        return optax.softmax_cross_entropy_with_integer_labels(out, y).mean()

    return loss


def _accuracy(task, out, y):
    pred = (out[:, 0] > 0).astype(y.dtype) if task.binary else jnp.argmax(out, -1)
    return jnp.mean(pred == y)


def _device_data(task):
    x_eval, y_eval, _ = task.ds.eval_split
    return tuple(jnp.asarray(a) for a in (task.ds.x_train, task.ds.y_train, x_eval, y_eval))


def optax_warmup_sweep(task, ws):
    """One compilation per value: the schedule's warmup is a Python int."""
    start = time.perf_counter()
    x, y, xe, ye = _device_data(task)
    model = make_model(task.model, 2 if task.binary else 10)
    loss = _loss_fn(task, model)
    accs = []
    for i, w in enumerate(ws):
        tx = optax.sgd(optax.warmup_cosine_decay_schedule(0.0, task.peak, int(w),
                                                          task.total_steps), momentum=MOMENTUM)

        @jax.jit
        def step(params, opt_state, xb, yb):
            grads = jax.grad(loss)(params, xb, yb)
            updates, opt_state = tx.update(grads, opt_state, params)
            return optax.apply_updates(params, updates), opt_state

        params = model.init(jax.random.PRNGKey(i), x[:1])
        opt_state = tx.init(params)
        rng = np.random.default_rng(i)
        for _ in range(task.epochs):
            order = rng.permutation(len(x))
            for b in range(task.steps_per_epoch):
                idx = order[b * task.batch:(b + 1) * task.batch]
                params, opt_state = step(params, opt_state, x[idx], y[idx])
        accs.append(float(_accuracy(task, jax.jit(model.apply)(params, xe), ye)))
    return time.perf_counter() - start, np.array(accs)


def optax_peak_sweep(task, peaks):
    """The hand-written vmapped sweep: each member's peak in an injected ``scale``."""
    start = time.perf_counter()
    x, y, xe, ye = _device_data(task)
    model = make_model(task.model, 2 if task.binary else 10)
    loss = _loss_fn(task, model)
    w = task.total_steps // 10
    shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, w, task.total_steps)
    tx = optax.chain(optax.trace(decay=MOMENTUM), optax.scale_by_schedule(lambda c: -shape(c)),
                     optax.inject_hyperparams(optax.scale)(step_size=1.0))

    def init(key, peak):
        params = model.init(key, x[:1])
        opt_state = tx.init(params)
        opt_state[2].hyperparams["step_size"] = peak
        return params, opt_state

    def step(params, opt_state, xb, yb):
        grads = jax.grad(loss)(params, xb, yb)
        updates, opt_state = tx.update(grads, opt_state, params)
        return optax.apply_updates(params, updates), opt_state

    # every member trains on the same batch (in_axes None): the data is not copied K times
    step_shared = jax.jit(jax.vmap(step, in_axes=(0, 0, None, None)))
    keys = jax.random.split(jax.random.PRNGKey(0), len(peaks))
    params, opt_state = jax.jit(jax.vmap(init))(keys, jnp.asarray(peaks, jnp.float32))
    rng = np.random.default_rng(0)
    for _ in range(task.epochs):
        order = rng.permutation(len(x))
        for b in range(task.steps_per_epoch):
            idx = order[b * task.batch:(b + 1) * task.batch]
            params, opt_state = step_shared(params, opt_state, x[idx], y[idx])
    out = jax.jit(jax.vmap(model.apply, in_axes=(0, None)))(params, xe)
    accs = jax.vmap(lambda o: _accuracy(task, o, ye))(out)
    return time.perf_counter() - start, np.asarray(accs)


# -- a PyTorch loop ------------------------------------------------------------------


def torch_warmup_sweep(task, ws):
    import torch
    from torch import nn

    start = time.perf_counter()

    def net():
        if task.binary:
            return nn.Sequential(nn.Linear(34, 34), nn.ReLU(), nn.Linear(34, 1))
        return torch_lenet()

    def tensor(a):
        a = np.asarray(a)
        return torch.from_numpy(a.transpose(0, 3, 1, 2).copy() if a.ndim == 4 else a.copy())

    x, xe = tensor(task.ds.x_train), tensor(task.ds.eval_split[0])
    y, ye = (torch.from_numpy(np.asarray(a).astype(np.float32 if task.binary else np.int64))
             for a in (task.ds.y_train, task.ds.eval_split[1]))
    loss = nn.BCEWithLogitsLoss() if task.binary else nn.CrossEntropyLoss()
    accs = []
    for i, w in enumerate(ws):
        torch.manual_seed(i)
        model = net()
        opt = torch.optim.SGD(model.parameters(), lr=task.peak, momentum=MOMENTUM)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda t, w=w: schedule_value(task, w, t) / task.peak)
        for _ in range(task.epochs):
            order = torch.randperm(len(x))
            for b in range(task.steps_per_epoch):
                idx = order[b * task.batch:(b + 1) * task.batch]
                opt.zero_grad()
                out = model(x[idx])
                l = loss(out[:, 0], y[idx]) if task.binary else loss(out, y[idx])
                l.backward()
                opt.step()
                sched.step()
        with torch.no_grad():
            out = model(xe)
            pred = (out[:, 0] > 0).float() if task.binary else out.argmax(-1)
            accs.append(float((pred == ye).float().mean()))
    return time.perf_counter() - start, np.array(accs)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--ks", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--tasks", nargs="+", choices=["mlp", "lenet"], default=["mlp", "lenet"])
    parser.add_argument("--tiny", action="store_true", help="seconds-sized (a check)")
    args = parser.parse_args(argv)
    ks = [2] if args.tiny else args.ks
    try:
        import torch

        torch_text = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
    except ImportError:
        torch = None
        torch_text = "torch not installed"
    print(f"jax {jax.__version__}, optax {optax.__version__}, {torch_text}, device "
          f"{jax.devices()[0]}; seconds to all results (compilation included), mean final "
          "accuracy in brackets")
    print(f"{'sweep':<13} {'task':<34} {'K':>3} {'jaxlr (s)':>16} {'optax (s)':>16} "
          f"{'optax/jaxlr':>11} {'torch (s)':>16} {'torch/jaxlr':>11}", flush=True)

    def cell(r):
        return f"{r[0]:7.2f} [{np.mean(r[1]):.3f}]"

    def show(what, name, k, ours, peer, theirs):
        torch_cells = (f"{cell(theirs):>16} {theirs[0] / ours[0]:>10.2f}x" if theirs
                       else f"{'—':>16} {'—':>11}")
        optax_what = "1 compile/value" if what == "warmup steps" else "vmap, 1 compile"
        print(f"{what:<13} {name:<34} {k:>3} {cell(ours):>16} {cell(peer):>16} "
              f"{peer[0] / ours[0]:>10.2f}x {torch_cells}   (optax: {optax_what})", flush=True)
        rows.append((what, name, k, ours, peer, theirs))

    rows = []
    for task in tasks(args.data_dir, args.tiny, args.tasks):
        for k in ks:
            ws = warmups(task, k)
            show("warmup steps", task.name, k, jaxlr_warmup_sweep(task, ws),
                 optax_warmup_sweep(task, ws),
                 torch_warmup_sweep(task, ws) if torch is not None else None)
            peaks = np.geomspace(task.peak / 10, task.peak, k).tolist()
            show("peak lr", task.name, k, jaxlr_peak_sweep(task, peaks),
                 optax_peak_sweep(task, peaks), None)
    return rows


if __name__ == "__main__":
    main()
