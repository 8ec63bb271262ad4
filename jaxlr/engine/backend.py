"""Where the backend matters, decided here, from the backend and a property of the model.

- The epoch loop: on CPU an epoch is a Python loop of jitted steps that only
  enqueues work (``dispatch``); on accelerators one ``lax.scan`` (``scan``),
  one dispatch per epoch. The two compute the same function to float32
  rounding, not bit for bit, so the choice is part of a saved run's key. The
  CPU choice was made when XLA:CPU ran scanned LeNet steps several times
  slower; with jax 0.10.2 on this project's 2-core machine (2026-12-02) the
  scan is as fast for LeNet (4,096 Fashion-MNIST images, epochs 2-3:
  dispatch 5,319 and 6,437, scan 4,817 and 6,510 images/s in alternating
  runs) and 4-5x faster for the Ionosphere MLP (a 50-epoch run: dispatch 95
  and 70 ms, scan 18 and 19 ms). The default stays ``dispatch`` on CPU
  because switching changes every published CPU result to rounding; pass
  ``TrainConfig(loop="scan")`` for the faster MLP runs.
- The sweep strategy: ``jax.vmap`` of a convolutional network over members
  becomes grouped convolutions, which XLA:CPU runs slower than one member
  after another (LeNet, 4 members, vmap / sequential throughput: 0.45x on
  2026-12-02, ``benchmarks/sweep_throughput.py``);
  dense models vmap well everywhere. So on CPU a model whose forward pass
  contains a convolution sweeps ``sequential``; several devices shard; else ``vmap``.
- How the built-in models compute convolutions and pools is decided by
  ``jaxlr.models.model_lowering`` (on CPU ``banded`` for LeNet, ``shifted`` otherwise;
  XLA's own elsewhere).
"""

from __future__ import annotations

import weakref

import jax

__all__ = ["choose_loop", "choose_strategy", "uses_convolution"]


def choose_loop(loop="auto"):
    """``auto`` -> ``dispatch`` on the CPU backend, ``scan`` elsewhere."""
    if loop != "auto":
        return loop
    return "dispatch" if jax.default_backend() == "cpu" else "scan"


def _primitives(jaxpr):
    from jaxlr._layers import CONVOLUTION_BACKWARDS

    for eqn in jaxpr.eqns:
        yield eqn.primitive.name
        backward = eqn.params.get("bwd")  # a custom_vjp: one of jaxlr's convolution lowerings?
        if getattr(backward, "f", backward) in CONVOLUTION_BACKWARDS:
            yield "jaxlr_convolution"
        for value in eqn.params.values():
            for sub in (value if isinstance(value, (tuple, list)) else (value,)):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns"):
                    yield from _primitives(inner)


_CONVOLUTION = weakref.WeakKeyDictionary()


def uses_convolution(trainer):
    """Whether the model's forward pass contains a convolution (read from its jaxpr).

    XLA's own, or one of ``jaxlr._layers``'s lowerings of one (the banded
    matmul has no convolution primitive; vmapped, it too measured slower than
    one member after another: LeNet, 4 members, 0.59x on 2026-12-02).
    """
    cached = _CONVOLUTION.get(trainer)
    if cached is None:
        model, x = trainer.model, trainer.x_train[:1]

        def forward(x):
            params, model_state = model.init(jax.random.PRNGKey(0), x)
            return model.apply(params, model_state, x, False, None)[0]

        found = set(_primitives(jax.make_jaxpr(forward)(x).jaxpr))
        cached = bool(found & {"conv_general_dilated", "jaxlr_convolution"})
        _CONVOLUTION[trainer] = cached
    return cached


def choose_strategy(trainer, strategy="auto"):
    """The sweep strategy for ``trainer`` (see the module docstring)."""
    if strategy != "auto":
        return strategy
    if jax.device_count() > 1:
        return "sharded"
    if jax.default_backend() == "cpu" and uses_convolution(trainer):
        return "sequential"
    return "vmap"
