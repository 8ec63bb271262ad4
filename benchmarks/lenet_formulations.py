"""The LeNet training step under each formulation tried on the way to the banded lowering.

One SGD step (batch 256 gathered from 2,048 random Fashion-MNIST-shaped
images, loss + gradient + update) per formulation, each jitted alone, timed
interleaved (median of 7 rounds of 20 steps), and checked first: the
gradient's largest relative error against XLA's own lowering (float32).

- ``xla``, ``shifted``, ``banded``: the library's lowerings (``jaxlr._layers``).
- ``im2col, CNHW layout``: channels-major activations so elementwise loops
  run along a long minor axis; each convolution an im2col matmul; jax's
  own gradients.
- ``banded, w in order, jax gradients``: the banded matmul with the output
  columns in ``w`` order, the pool as max over reshaped windows, everything
  differentiated by jax.
- ``banded, even/odd columns, jax weight gradient``: the same with the
  columns ordered even ``w`` first (the pool an elementwise max of halves,
  with the masked gradient), the convolution still differentiated by jax
  (XLA then lays out the weight gradient's matmul with both operands
  transposed).
The last step to ``banded`` is its custom VJP (``dT = R^T g`` spelled out).

Run: python benchmarks/lenet_formulations.py [--rounds 7 --steps 20]
"""

import argparse
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

from jaxlr import _layers
from jaxlr.models import make_model

BATCH = 256


def _dense_head(p, h):
    h = jax.nn.relu(h @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"])
    h = jax.nn.relu(h @ p["Dense_1"]["kernel"] + p["Dense_1"]["bias"])
    return h @ p["Dense_2"]["kernel"] + p["Dense_2"]["bias"]


def _cnhw_conv(x, k, b, padding):  # x [C, N, H, W], k HWIO -> [O, N, Ho, Wo]
    kh, kw, c, o = k.shape
    x = jnp.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    _, n, height, width = x.shape
    ho, wo = height - kh + 1, width - kw + 1
    patches = jnp.concatenate([x[:, :, i:i + ho, j:j + wo].reshape(c, n * ho * wo)
                               for i in range(kh) for j in range(kw)])
    return (k.reshape(-1, o).T @ patches).reshape(o, n, ho, wo) + b[:, None, None, None]


def _cnhw_pool(a):
    c, n, h, w = a.shape
    return jax.nn.relu(a).reshape(c, n, h // 2, 2, w // 2, 2).max(axis=(3, 5))


def lenet_cnhw(params, x):
    p = params["params"]
    h = jnp.transpose(x, (3, 0, 1, 2))
    h = _cnhw_pool(_cnhw_conv(h, p["Conv_0"]["kernel"], p["Conv_0"]["bias"], 2))
    h = _cnhw_pool(_cnhw_conv(h, p["Conv_1"]["kernel"], p["Conv_1"]["bias"], 0))
    return _dense_head(p, jnp.transpose(h, (1, 2, 3, 0)).reshape(h.shape[1], -1))


def _banded_jax_grad(x, k, b, padding, parity):
    """The banded matmul without the custom VJP: jax differentiates ``R @ T``."""
    out = _layers._stacked_rows(x, k.shape[0], padding) @ _layers._band(
        k, x.shape[2] + 2 * padding, parity)
    return out + jnp.tile(b, out.shape[2] // k.shape[3])


def _window_pool(a, channels):  # a [N, H, W*C] in w order
    n, h, wc = a.shape
    a = jax.nn.relu(a).reshape(n, h // 2, 2, wc // (2 * channels), 2, channels)
    return a.max(axis=(2, 4)).reshape(n, h // 2, -1, channels)


def lenet_banded_in_order(params, x):
    p = params["params"]
    h = _window_pool(_banded_jax_grad(x, p["Conv_0"]["kernel"], p["Conv_0"]["bias"], 2, False), 6)
    h = _window_pool(_banded_jax_grad(h, p["Conv_1"]["kernel"], p["Conv_1"]["bias"], 0, False), 16)
    return _dense_head(p, h.reshape(h.shape[0], -1))


def lenet_banded_halves(params, x):
    p = params["params"]
    h = _layers._halves_pool(_banded_jax_grad(x, p["Conv_0"]["kernel"], p["Conv_0"]["bias"], 2,
                                              True))
    h = h.reshape(*h.shape[:2], -1, 6)
    h = _layers._halves_pool(_banded_jax_grad(h, p["Conv_1"]["kernel"], p["Conv_1"]["bias"], 0,
                                              True))
    return _dense_head(p, h.reshape(h.shape[0], -1))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--check-only", action="store_true",
                        help="only compare the gradients, time nothing")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    images = jnp.asarray(rng.random((2048, 28, 28, 1), np.float32))
    labels = jnp.asarray(rng.integers(0, 10, 2048))
    lenets = {low: make_model("lenet", 10, lowering=low) for low in ("xla", "shifted", "banded")}
    params = lenets["xla"].init(jax.random.PRNGKey(0), images[:1])
    forwards = {low: m.apply for low, m in lenets.items()}
    forwards.update({"im2col, CNHW layout": lenet_cnhw,
                     "banded, w in order, jax gradients": lenet_banded_in_order,
                     "banded, even/odd columns, jax weight gradient": lenet_banded_halves})
    sgd = optax.sgd(0.1)

    def loss_fn(forward):
        return lambda p, x, y: optax.softmax_cross_entropy_with_integer_labels(
            forward(p, x), y).mean()

    def step_fn(forward):
        def step(p, s, i):
            idx = (i * BATCH + jnp.arange(BATCH)) % len(images)
            loss, grads = jax.value_and_grad(loss_fn(forward))(p, images[idx], labels[idx])
            updates, s = sgd.update(grads, s, p)
            return optax.apply_updates(p, updates), s, loss
        return jax.jit(step)

    reference = jax.jit(jax.grad(loss_fn(forwards["xla"])))(params, images[:BATCH], labels[:BATCH])
    steps, errors = {}, {}
    for name, forward in forwards.items():
        grads = jax.jit(jax.grad(loss_fn(forward)))(params, images[:BATCH], labels[:BATCH])
        errors[name] = max(float(jnp.max(jnp.abs(a - b)) / jnp.max(jnp.abs(b)))
                           for a, b in zip(jax.tree.leaves(grads), jax.tree.leaves(reference)))
        if not args.check_only:
            steps[name] = step_fn(forward)
            jax.block_until_ready(steps[name](params, sgd.init(params), jnp.int32(0)))
    if args.check_only:
        for name, error in errors.items():
            print(f"{name:<48} grad rel err vs xla {error:.1e}")
        return errors
    times = {name: [] for name in steps}
    for _ in range(args.rounds):
        for name, step in steps.items():
            p, s = params, sgd.init(params)
            start = time.perf_counter()
            for i in range(args.steps):
                p, s, loss = step(p, s, jnp.int32(i))
            jax.block_until_ready(loss)
            times[name].append((time.perf_counter() - start) / args.steps * 1e3)
    print(f"jax {jax.__version__}, {jax.devices()[0]}; LeNet SGD step, batch {BATCH}; median of "
          f"{args.rounds} interleaved rounds of {args.steps} steps")
    print(f"{'formulation':<48} {'ms/step':>8} {'images/s':>9} {'grad rel err vs xla':>20}")
    for name, t in times.items():
        ms = sorted(t)[len(t) // 2]
        print(f"{name:<48} {ms:>8.2f} {BATCH / ms * 1e3:>9.0f} {errors[name]:>20.1e}")
    return errors


if __name__ == "__main__":
    main()
