"""Convolution and pooling with a lowering chosen for XLA:CPU.

The models compute the same functions as ``flax.linen.Conv`` and
``nn.max_pool(nn.relu(x))``; only how XLA is asked to compute them differs.
On XLA:CPU (jax 0.10.2, measured by ``benchmarks/lenet_pieces.py``), three
of LeNet's training-step pieces were far slower than their arithmetic:

- a convolution with one input channel (the first layer on grey images): the
  library convolution ran at ~6 GFLOP/s; a sum of 25 shifted, scaled copies of
  the image computes the same thing 10-14x faster;
- the two backward convolutions (input and kernel gradients) of a
  multi-channel convolution: a sum over kernel taps of small matmuls,
  ``dx = sum_ij pad(g @ K_ij^T)`` and ``dK_ij = sum_bhw x[., h+i, w+j, .]^T g``,
  ran ~1.5x faster than XLA's transposed convolutions;
- the gradient of ``max_pool`` (``select_and_scatter``): routing the
  cotangent with an equality mask against the upsampled maximum ran ~2.9x faster.

The whole LeNet step became 1.7x faster (``benchmarks/lenet_vs_torch.py``).
For the 3x3 convolutions of the other models the per-tap backward was not
faster, so those models use it only where it measured faster
(``jaxlr.models``).

``lowering="shifted"`` selects these; ``"xla"`` is the plain library call and
``"auto"`` (the default) is ``"shifted"`` on the CPU backend and ``"xla"``
elsewhere (cuDNN convolutions on a GPU are left alone). Both agree to float32
rounding, values and gradients (``tests/test_layers.py``). One difference:
where two entries of a pooling window tie for the (positive) maximum, the
mask gives the gradient to both, while ``select_and_scatter`` (and PyTorch)
give it to the first; with real-valued activations such ties have measure zero.
"""

from __future__ import annotations

import functools
from typing import Any, Callable

import flax.linen as nn
from flax.linen.dtypes import promote_dtype
import jax
import jax.numpy as jnp
from jax import lax

from jaxlr._validation import check_choice

__all__ = ["LOWERINGS", "Conv", "conv2d", "relu_max_pool", "resolve_lowering"]

LOWERINGS = ("auto", "shifted", "xla")
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def resolve_lowering(lowering):
    """``"auto"`` -> ``"shifted"`` on the CPU backend, ``"xla"`` elsewhere."""
    check_choice("resolve_lowering", "lowering", lowering, LOWERINGS)
    if lowering == "auto":
        return "shifted" if jax.default_backend() == "cpu" else "xla"
    return lowering


def _xla_conv(x, kernel, padding):
    return lax.conv_general_dilated(x, kernel, (1, 1), ((padding, padding), (padding, padding)),
                                    dimension_numbers=_DIMENSIONS)


def _pad(x, padding):
    return jnp.pad(x, ((0, 0), (padding, padding), (padding, padding), (0, 0)))


def _taps(kernel):
    return [(i, j) for i in range(kernel.shape[0]) for j in range(kernel.shape[1])]


def _one_channel_conv(x, kernel, padding):
    """``sum_ij x_pad[:, i:i+H, j:j+W, 0:1] * K[i, j, 0]``: one fused elementwise loop."""
    xp = _pad(x, padding)
    height = xp.shape[1] - kernel.shape[0] + 1
    width = xp.shape[2] - kernel.shape[1] + 1
    out = 0.0
    for i, j in _taps(kernel):
        out = out + xp[:, i:i + height, j:j + width, :] * kernel[i, j, 0]
    return out


def _shifted_conv_primal(x, kernel, padding):
    if kernel.shape[2] == 1:
        return _one_channel_conv(x, kernel, padding)
    return _xla_conv(x, kernel, padding)


_shifted_conv = functools.partial(jax.custom_vjp, nondiff_argnums=(2,))(_shifted_conv_primal)


def _shifted_conv_fwd(x, kernel, padding):
    return _shifted_conv_primal(x, kernel, padding), (x, kernel)


def _shifted_conv_bwd(padding, residuals, g):
    x, kernel = residuals
    if kernel.shape[2] == 1:
        # The kernel gradient of a one-channel convolution is the one piece
        # XLA's own transposed convolution did fastest (per-tap sums were 3x slower).
        _, vjp = jax.vjp(lambda x, k: _xla_conv(x, k, padding), x, kernel)
        return vjp(g)
    # The barrier keeps XLA from re-fusing (recomputing) x's producer, e.g. a
    # pooling, into each of the per-tap slices below.
    xp = _pad(lax.optimization_barrier(x), padding)
    height, width = g.shape[1], g.shape[2]
    dkernel = jnp.stack([jnp.einsum("bhwc,bhwo->co", xp[:, i:i + height, j:j + width, :], g)
                         for i, j in _taps(kernel)]).reshape(kernel.shape)
    padded_height, padded_width = xp.shape[1], xp.shape[2]
    dxp = 0.0
    for i, j in _taps(kernel):
        dxp = dxp + jnp.pad(jnp.einsum("bhwo,co->bhwc", g, kernel[i, j]),
                            ((0, 0), (i, padded_height - height - i),
                             (j, padded_width - width - j), (0, 0)))
    dx = dxp[:, padding:padded_height - padding, padding:padded_width - padding, :]
    return dx, dkernel


_shifted_conv.defvjp(_shifted_conv_fwd, _shifted_conv_bwd)


def conv2d(x, kernel, padding=0, lowering="auto"):
    """2-D convolution, stride 1, symmetric zero ``padding``: ``[N,H,W,C] * [kh,kw,C,O]``.

    .. math:: y_{nhwo} = \\sum_{i,j,c} x^{pad}_{n,h+i,w+j,c} K_{ijco}

    (cross-correlation, as in every framework). ``lowering`` as in the module
    docstring.
    """
    if resolve_lowering(lowering) == "xla":
        return _xla_conv(x, kernel, padding)
    return _shifted_conv(x, kernel, padding)


def _crop_even(x):
    return x[:, :x.shape[1] // 2 * 2, :x.shape[2] // 2 * 2, :]


def _max_pool2(x):
    n, h, w, c = x.shape
    return x.reshape(n, h // 2, 2, w // 2, 2, c).max(axis=(2, 4))


def _upsample2(y):
    n, h, w, c = y.shape
    return jnp.broadcast_to(y[:, :, None, :, None, :], (n, h, 2, w, 2, c)).reshape(
        n, 2 * h, 2 * w, c)


def _relu_max_pool2(a):
    return _max_pool2(jax.nn.relu(a))


_masked_relu_max_pool = jax.custom_vjp(_relu_max_pool2)


def _masked_fwd(a):
    y = _relu_max_pool2(a)
    return y, (a, y)


def _masked_bwd(residuals, g):
    a, y = residuals
    # relu'(0) = 0, as jax.nn.relu's gradient; a > 0 also drops all-negative windows.
    return (jnp.where((a == _upsample2(y)) & (a > 0), _upsample2(g), 0.0),)


_masked_relu_max_pool.defvjp(_masked_fwd, _masked_bwd)


def relu_max_pool(x, lowering="auto"):
    """``max_pool(relu(x))`` over 2x2 windows, stride 2, VALID (an odd last row/column is dropped)."""
    if resolve_lowering(lowering) == "xla":
        return nn.max_pool(nn.relu(x), window_shape=(2, 2), strides=(2, 2))
    return _masked_relu_max_pool(_crop_even(x))


class Conv(nn.Module):
    """``flax.linen.Conv`` (same parameters, names and initialisation) with a chosen lowering.

    Stride-1 convolutions with ``padding`` an int, ``"SAME"`` (odd kernels) or
    ``"VALID"`` use :func:`conv2d`; anything else falls back to ``nn.Conv``'s
    computation.
    """

    features: int
    kernel_size: tuple[int, int]
    strides: int = 1
    padding: Any = "VALID"
    kernel_init: Callable = nn.linear.default_kernel_init
    bias_init: Callable = nn.initializers.zeros_init()
    lowering: str = "auto"

    @nn.compact
    def __call__(self, x):
        kh, kw = self.kernel_size
        kernel = self.param("kernel", self.kernel_init, (kh, kw, x.shape[-1], self.features),
                            jnp.float32)
        bias = self.param("bias", self.bias_init, (self.features,), jnp.float32)
        x, kernel, bias = promote_dtype(x, kernel, bias)
        if isinstance(self.padding, int):
            padding = self.padding
        elif self.padding == "VALID":
            padding = 0
        elif self.padding == "SAME" and kh == kw and kh % 2 == 1:
            padding = (kh - 1) // 2
        else:
            padding = None
        if self.strides == 1 and padding is not None:
            return conv2d(x, kernel, padding, self.lowering) + bias
        pads = self.padding if isinstance(self.padding, str) else [(self.padding,) * 2] * 2
        return lax.conv_general_dilated(x, kernel, (self.strides, self.strides), pads,
                                        dimension_numbers=_DIMENSIONS) + bias
