r"""Convolution and pooling with a lowering chosen for XLA:CPU.

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

``lowering="shifted"`` selects these; ``"xla"`` is the plain library call.

``lowering="banded"`` goes further and makes a convolution one matmul. In
the row layout ``[N, H, W*C]`` (a free reshape of NHWC) a stride-1
convolution is

.. math:: y_{n,h,:} = \sum_i x^{pad}_{n,h+i,:} T_i,\qquad
          (T_i)_{(w',c),(w,o)} = K_{i,\,w'-w,\,c,\,o}\ [0 \le w'-w < k_w],

so stacking the ``k_h`` shifted rows gives ``y = R T`` with
``R = [x_{h}, ..., x_{h+k_h-1}]`` (``[N*H_o, k_h W C]``) and ``T`` the banded
(block-Toeplitz) ``[k_h W C, W_o O]`` matrix built from the kernel. The
backward pass is two matmuls, ``dT = R^T g`` (then ``dK`` sums ``dT`` along
its bands) and ``dR = g T^T`` (then ``dx`` adds the ``k_h`` row blocks back).
``T`` holds ``W/k_w`` times the convolution's multiply-adds as zeros, but
XLA:CPU runs these matmuls at 200+ GFLOP/s where its own convolutions and
the loops over LeNet's 6- and 16-channel tensors ran at a few GFLOP/s: the
LeNet training step became 2.7x faster than ``"shifted"`` (18,061 vs 6,600
images/s, 0.93x PyTorch eager; ``benchmarks/lenet_vs_torch.py``). Followed
by ReLU and a 2x2 max-pool (:func:`conv_relu_max_pool`), the output columns
are ordered even ``w`` first, then odd ``w``, so the pool is an elementwise
max of two contiguous halves and two row slices, and its output is back in
NHWC order.

``"auto"`` (the default) resolves per model (:func:`resolve_lowering`'s
``cpu`` argument: LeNet ``"banded"``, others ``"shifted"``) on the CPU backend
and to ``"xla"`` elsewhere (cuDNN convolutions on a GPU are left alone). All
lowerings agree to float32 rounding, values and gradients
(``tests/test_layers.py``). One difference:
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
import numpy as np
from jax import lax

from jaxlr._validation import check_choice

__all__ = ["LOWERINGS", "Conv", "conv2d", "conv_relu_max_pool", "relu_max_pool",
           "resolve_lowering"]

LOWERINGS = ("auto", "banded", "shifted", "xla")
_DIMENSIONS = ("NHWC", "HWIO", "NHWC")


def resolve_lowering(lowering, cpu="shifted"):
    """``"auto"`` -> ``cpu`` (a model's measured choice) on the CPU backend, ``"xla"`` elsewhere."""
    check_choice("resolve_lowering", "lowering", lowering, LOWERINGS)
    check_choice("resolve_lowering", "cpu", cpu, LOWERINGS[1:])
    if lowering == "auto":
        return cpu if jax.default_backend() == "cpu" else "xla"
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


def _band_selector(kw, width, parity):
    """``S[d, w', w] = [w' - w = d]``, a numpy constant; ``parity`` orders ``w`` even first."""
    out_width = width - kw + 1
    columns = np.arange(out_width)
    if parity:  # a VALID 2-wide pool drops an odd last column
        even = out_width // 2 * 2
        columns = np.concatenate([columns[0:even:2], columns[1:even:2]])
    selector = np.zeros((kw, width, len(columns)))
    for n, w in enumerate(columns):
        selector[np.arange(kw), w + np.arange(kw), n] = 1.0
    return selector


def _band(kernel, width, parity):
    """The banded ``T`` ``[kh*W*C, W_o*O]`` of a stride-1 convolution over rows of width ``W``."""
    kh, kw, c, o = kernel.shape
    selector = jnp.asarray(_band_selector(kw, width, parity), kernel.dtype)
    band = jnp.einsum("dpw,idco->ipcwo", selector, kernel)
    return band.reshape(kh * width * c, selector.shape[2] * o)


def _stacked_rows(x, kh, padding):
    """``R[n, h] = [x_pad[n, h], ..., x_pad[n, h+kh-1]]`` for NHWC ``x``: ``[N, H_o, kh*W*C]``."""
    xp = _pad(x, padding)
    n, height, width, c = xp.shape
    rows = xp.reshape(n, height, width * c)
    out_height = height - kh + 1
    return jnp.concatenate([rows[:, i:i + out_height] for i in range(kh)], axis=-1)


def _banded_conv_fwd(x, kernel, padding, parity):
    rows = _stacked_rows(x, kernel.shape[0], padding)
    return rows @ _band(kernel, x.shape[2] + 2 * padding, parity), (rows, kernel, x.shape)


def _banded_conv_primal(x, kernel, padding, parity):
    return _banded_conv_fwd(x, kernel, padding, parity)[0]


_banded_conv = functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))(_banded_conv_primal)


def _banded_conv_bwd(padding, parity, residuals, g):
    rows, kernel, x_shape = residuals
    kh, kw, c, o = kernel.shape
    n, height, width, _ = x_shape
    padded_width = width + 2 * padding
    out_height = g.shape[1]
    # dK: dT = R^T g, then each kernel entry sums its band of dT.
    d_band = jnp.einsum("nhk,nhm->km", rows, g)
    selector = jnp.asarray(_band_selector(kw, padded_width, parity), kernel.dtype)
    dkernel = jnp.einsum("dpw,ipcwo->idco", selector,
                         d_band.reshape(kh, padded_width, c, selector.shape[2], o))
    # dx: dR = g T^T, then row block i of dR goes back to padded row h + i.
    d_rows = g @ _band(kernel, padded_width, parity).T
    block, padded_height = padded_width * c, out_height + kh - 1
    dxp = 0.0
    for i in range(kh):
        dxp = dxp + jnp.pad(d_rows[:, :, i * block:(i + 1) * block],
                            ((0, 0), (i, padded_height - out_height - i), (0, 0)))
    dxp = dxp.reshape(n, padded_height, padded_width, c)
    dx = dxp[:, padding:padded_height - padding, padding:padded_width - padding, :]
    return dx, dkernel


_banded_conv.defvjp(_banded_conv_fwd, _banded_conv_bwd)

# How ``jaxlr.engine.backend.uses_convolution`` recognises these lowerings in a jaxpr.
CONVOLUTION_BACKWARDS = (_shifted_conv_bwd, _banded_conv_bwd)


def conv2d(x, kernel, padding=0, lowering="auto"):
    """2-D convolution, stride 1, symmetric zero ``padding``: ``[N,H,W,C] * [kh,kw,C,O]``.

    .. math:: y_{nhwo} = \\sum_{i,j,c} x^{pad}_{n,h+i,w+j,c} K_{ijco}

    (cross-correlation, as in every framework). ``lowering`` as in the module
    docstring (``"auto"`` is ``"shifted"`` on CPU here).
    """
    lowering = resolve_lowering(lowering)
    if lowering == "xla":
        return _xla_conv(x, kernel, padding)
    if lowering == "banded":
        out = _banded_conv(x, kernel, padding, False)
        return out.reshape(*out.shape[:2], -1, kernel.shape[3])
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
    """``max_pool(relu(x))`` over 2x2 windows, stride 2, VALID (an odd last row/column is dropped).

    ``"banded"`` and ``"shifted"`` both use the masked gradient here.
    """
    if resolve_lowering(lowering) == "xla":
        return nn.max_pool(nn.relu(x), window_shape=(2, 2), strides=(2, 2))
    return _masked_relu_max_pool(_crop_even(x))


def _halves_relu_max_pool(a):
    """``a`` ``[N, H, 2*M]``, columns even-``w`` half then odd-``w`` half: the 2x2 pool of relu."""
    a = jax.nn.relu(a)
    rows = jnp.maximum(a[:, 0::2], a[:, 1::2])
    half = rows.shape[-1] // 2
    return jnp.maximum(rows[..., :half], rows[..., half:])


def _halves_upsample(y):
    n, height, width = y.shape
    y = jnp.concatenate([y, y], axis=-1)
    return jnp.broadcast_to(y[:, :, None, :], (n, height, 2, 2 * width)).reshape(
        n, 2 * height, 2 * width)


_halves_pool = jax.custom_vjp(_halves_relu_max_pool)


def _halves_pool_fwd(a):
    y = _halves_relu_max_pool(a)
    return y, (a, y)


def _halves_pool_bwd(residuals, g):
    a, y = residuals
    return (jnp.where((a == _halves_upsample(y)) & (a > 0), _halves_upsample(g), 0.0),)


_halves_pool.defvjp(_halves_pool_fwd, _halves_pool_bwd)


def conv_relu_max_pool(x, kernel, bias, padding=0, lowering="auto"):
    """``max_pool(relu(conv2d(x, kernel, padding) + bias))``, 2x2 windows, stride 2, VALID.

    With ``"banded"`` the convolution's output columns come out even-``w``
    first, so the pool is elementwise (module docstring); the other lowerings
    are :func:`relu_max_pool` of :func:`conv2d`.
    """
    lowering = resolve_lowering(lowering)
    if lowering != "banded":
        return relu_max_pool(conv2d(x, kernel, padding, lowering) + bias, lowering)
    out = _banded_conv(x, kernel, padding, True)
    out = out[:, :out.shape[1] // 2 * 2] + jnp.tile(bias, out.shape[2] // kernel.shape[3])
    y = _halves_pool(out)
    return y.reshape(*y.shape[:2], -1, kernel.shape[3])


class Conv(nn.Module):
    """``flax.linen.Conv`` (same parameters, names and initialisation) with a chosen lowering.

    Stride-1 convolutions with ``padding`` an int, ``"SAME"`` (odd kernels) or
    ``"VALID"`` use :func:`conv2d`; anything else falls back to ``nn.Conv``'s
    computation. ``relu_max_pool=True`` returns ``max_pool(relu(conv(x)))``
    (2x2, stride 2, VALID; :func:`conv_relu_max_pool`), with the same
    parameters.
    """

    features: int
    kernel_size: tuple[int, int]
    strides: int = 1
    padding: Any = "VALID"
    kernel_init: Callable = nn.linear.default_kernel_init
    bias_init: Callable = nn.initializers.zeros_init()
    lowering: str = "auto"
    relu_max_pool: bool = False

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
            if self.relu_max_pool:
                return conv_relu_max_pool(x, kernel, bias, padding, self.lowering)
            return conv2d(x, kernel, padding, self.lowering) + bias
        pads = self.padding if isinstance(self.padding, str) else [(self.padding,) * 2] * 2
        out = lax.conv_general_dilated(x, kernel, (self.strides, self.strides), pads,
                                       dimension_numbers=_DIMENSIONS) + bias
        return relu_max_pool(out, self.lowering) if self.relu_max_pool else out
