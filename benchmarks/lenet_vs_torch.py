"""Benchmark 3: LeNet training throughput, jaxlr vs a PyTorch eager loop (d2l style).

Same model (d2l's modern LeNet), same batch (256), same data (real
Fashion-MNIST in memory, reshuffled every epoch), plain SGD, on this machine.
jaxlr: its Trainer's program, the engine's loop (one jitted step per dispatch on
CPU, one scanned epoch on accelerators), with the default
lowering of convolutions and pools (``banded`` on CPU for LeNet, see
``jaxlr._layers``), with the earlier ``shifted`` one, and with XLA's own
(``xla``, what plain Flax would run). PyTorch: d2l's loop
(``zero_grad, forward, loss, backward, step``) over in-memory tensors, no
DataLoader overhead. Each side trains a warm-up epoch, then --epochs timed
epochs; also prints the fraction of this machine's measured float32 matmul
FLOP/s that the jaxlr step reaches (LeNet: 2.5 MFLOP per training image).
Run: python benchmarks/lenet_vs_torch.py --data-dir ../shared/data [--epochs 1]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np

from jaxlr import data, engine as train, models

LENET_TRAIN_FLOP = 3 * 2 * (28 * 28 * 6 * 25 + 10 * 10 * 16 * 150 + 400 * 120 + 120 * 84
                            + 84 * 10)


def matmul_flops(n=1024, repeats=20):
    a = jnp.ones((n, n), jnp.float32)
    f = jax.jit(lambda a: a @ a)
    f(a).block_until_ready()
    start = time.perf_counter()
    for _ in range(repeats):
        f(a).block_until_ready()
    return 2 * n**3 * repeats / (time.perf_counter() - start)


def lenet_sgd_program(data_dir, lowering, n_train):
    """The engine's LeNet SGD program (batch 256) on ``n_train`` Fashion-MNIST images.

    Returns ``(trainer, program, state, acc)``, the state at the start of epoch 0 (lr 0.1).
    """
    ds = data.subset(data.load("fashion_mnist", data_dir), n_train, 256)
    cfg = train.TrainConfig(model="lenet", epochs=2, batch_size=256, optimizer="sgd",
                            lowering=lowering)
    trainer = train.make_train(cfg, ds)
    prog = train.program(trainer)
    state, acc = prog.begin_epoch(prog.init({"lr": jnp.float32(0.1)}, jax.random.PRNGKey(0)))
    return trainer, prog, state, acc


def jaxlr_images_per_second(ds, epochs, lowering):
    """Training images/s of the engine's LeNet step, in the loop the engine runs here
    (``dispatch``: one jitted step per call on CPU; ``scan``: one scanned epoch on
    accelerators); evaluation not timed (PyTorch's loop has none); a warm-up epoch first."""
    cfg = train.TrainConfig(model="lenet", epochs=1 + epochs, batch_size=256, optimizer="sgd",
                            lowering=lowering)
    trainer = train.make_train(cfg, ds)
    prog = train.program(trainer)  # the jitted pieces the engine's driver runs
    steps = jnp.arange(trainer.steps_per_epoch, dtype=jnp.int32)
    scanned = jax.jit(lambda s: jax.lax.scan(trainer.step, trainer.begin_epoch(s), steps),
                      donate_argnums=0)
    state = prog.init({"lr": jnp.float32(0.1)}, jax.random.PRNGKey(0))
    seconds = []
    for e in range(1 + epochs):
        start = time.perf_counter()
        if trainer.loop == "scan":
            state, metrics = scanned(state)
        else:
            state, metrics = prog.begin_epoch(state)
            for i in range(trainer.steps_per_epoch):
                state, metrics = prog.step_into(state, metrics, jnp.int32(i))
        jax.block_until_ready((state.params, metrics))
        state = state.replace(epoch=state.epoch + 1)
        seconds.append(time.perf_counter() - start)
    return len(ds.x_train) * epochs / sum(seconds[1:])


def torch_lenet():
    """d2l's modern LeNet in PyTorch (PyTorch's default initialisation)."""
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(2, 2),
        nn.Conv2d(6, 16, kernel_size=5), nn.ReLU(), nn.MaxPool2d(2, 2), nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.ReLU(), nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10))


def torch_images_per_second(ds, epochs, device="cpu"):
    """d2l's PyTorch loop on ``device`` (data held there): ``(images/s, version, threads)``."""
    import torch
    from torch import nn

    torch.manual_seed(0)
    net = torch_lenet().to(device)
    trainer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    x = torch.from_numpy(ds.x_train.transpose(0, 3, 1, 2).copy()).to(device)
    y = torch.from_numpy(ds.y_train.astype(np.int64)).to(device)
    sync = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    seconds = []
    for _ in range(1 + epochs):
        sync()
        start = time.perf_counter()
        order = torch.randperm(len(x), device=device)
        for i in range(0, len(x), 256):
            idx = order[i:i + 256]
            trainer.zero_grad()
            l = loss(net(x[idx]), y[idx])
            l.backward()
            trainer.step()
        sync()
        seconds.append(time.perf_counter() - start)
    return len(x) * epochs / sum(seconds[1:]), torch.__version__, torch.get_num_threads()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    ds = data.load("fashion_mnist", args.data_dir)
    flops = matmul_flops()
    low = models.model_lowering("lenet")
    rates = {f"jaxlr LeNet ({low})": jaxlr_images_per_second(ds, args.epochs, "auto")}
    for other in ("banded", "shifted", "xla"):
        if other != low:
            rates[f"jaxlr LeNet ({other})"] = jaxlr_images_per_second(ds, args.epochs, other)
    theirs, torch_version, threads = torch_images_per_second(ds, args.epochs)
    print(f"jax {jax.__version__}, torch {torch_version} ({threads} threads), device "
          f"{jax.devices()[0]}, matmul {flops / 1e9:.0f} GFLOP/s")
    for label, rate in rates.items():
        print(f"{label:<24} {rate:>8.0f} images/s  ({rate * LENET_TRAIN_FLOP / flops:.1%} of "
              f"matmul FLOP/s)  {rate / theirs:.2f}x PyTorch")
    print(f"{'PyTorch eager':<24} {theirs:>8.0f} images/s")
    ours = rates[f"jaxlr LeNet ({low})"]
    print(f"ratio jaxlr (default, {low}) / PyTorch: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
