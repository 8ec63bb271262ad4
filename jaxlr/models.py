"""The comparisons' models, in Flax Linen.

Every model maps a batch ``[N, ...]`` to logits ``[N, num_outputs]`` and
accepts whatever input size it is given (28x28x1 or 32x32x3 images; 34
features for the MLP): dense layers infer their input width.
"""

from __future__ import annotations

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxlr._layers import LOWERINGS, Conv, relu_max_pool, resolve_lowering
from jaxlr._validation import check_choice

__all__ = ["AUTO_CPU_LOWERING", "MODELS", "AdamLRCNN", "IonosphereMLP", "KerasCNN", "LeNet",
           "make_model", "model_lowering"]


INITS = ("torch", "keras", "flax")


def _inits(style, fan_in):
    """Initialisers of the framework a reference ran in.

    ``torch``: PyTorch's default for Conv/Linear, ``U(-1/sqrt(fan_in), 1/sqrt(fan_in))``
    for weights and biases (kaiming_uniform with a = sqrt(5)). ``keras``:
    glorot-uniform weights, zero biases. ``flax``: Flax's defaults.
    """
    if style == "torch":
        bound = 1.0 / math.sqrt(fan_in)

        def bias_init(key, shape, dtype=jnp.float32):
            return jax.random.uniform(key, shape, dtype, -bound, bound)

        return dict(kernel_init=nn.initializers.variance_scaling(1.0 / 3.0, "fan_in", "uniform"),
                    bias_init=bias_init)
    if style == "keras":
        return dict(kernel_init=nn.initializers.glorot_uniform(), bias_init=nn.initializers.zeros)
    return {}


def _dense(style, features, x):
    return nn.Dense(features, **_inits(style, x.shape[-1]))(x)


def _conv(style, lowering, features, kernel, x, **kwargs):
    fan_in = x.shape[-1] * kernel[0] * kernel[1]
    return Conv(features, kernel, **kwargs, lowering=lowering, **_inits(style, fan_in))(x)


class LeNet(nn.Module):
    """d2l's modern LeNet: ReLU and max-pooling instead of sigmoid and average pooling.

    conv 6@5x5 (pad 2), ReLU, max-pool 2; conv 16@5x5, ReLU, max-pool 2;
    dense 120, ReLU; dense 84, ReLU; dense ``num_classes``
    (Dive into Deep Learning, "Learning Rate Scheduling").

    ``lowering`` (``"auto"``, ``"banded"``, ``"shifted"``, ``"xla"``): how XLA
    is asked to compute the convolutions and pools, same function either way;
    ``"auto"`` is ``"banded"`` on CPU (each convolution one banded matmul, the
    training step 4.3x faster than XLA's own lowering there, see
    ``jaxlr._layers``) and XLA's own elsewhere.
    """

    num_classes: int = 10
    init_style: str = "torch"
    lowering: str = "auto"

    @nn.compact
    def __call__(self, x, train=False):
        del train
        i, low = self.init_style, resolve_lowering(self.lowering, AUTO_CPU_LOWERING["lenet"])
        x = _conv(i, low, 6, (5, 5), x, padding=2, relu_max_pool=True)
        x = _conv(i, low, 16, (5, 5), x, padding="VALID", relu_max_pool=True)
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(_dense(i, 120, x))
        x = nn.relu(_dense(i, 84, x))
        return _dense(i, self.num_classes, x)


class KerasCNN(nn.Module):
    """The small CNN of Keras's CIFAR-10 example (``cifar10_cnn.py``).

    conv 32@3x3 same, ReLU, conv 32@3x3, ReLU, max-pool 2, dropout 0.25;
    conv 64@3x3 same, ReLU, conv 64@3x3, ReLU, max-pool 2, dropout 0.25;
    dense 512, ReLU, dropout 0.5, dense ``num_classes``.

    ``lowering``: as in :class:`LeNet`, for the pools and a one-channel first
    convolution; ``"auto"`` is ``"shifted"`` on CPU for this model.
    """

    num_classes: int = 10
    init_style: str = "keras"
    lowering: str = "auto"

    @nn.compact
    def __call__(self, x, train=False):
        deterministic = not train
        # Measured on XLA:CPU (batch 32): the shifted lowering pays for the
        # one-channel first layer and the pools, not for these 3x3
        # multi-channel convolutions, which keep XLA's.
        i, low = self.init_style, self.lowering
        x = nn.relu(_conv(i, low if x.shape[-1] == 1 else "xla", 32, (3, 3), x, padding="SAME"))
        x = relu_max_pool(_conv(i, "xla", 32, (3, 3), x, padding="VALID"), low)
        x = nn.Dropout(0.25, deterministic=deterministic)(x)
        x = nn.relu(_conv(i, "xla", 64, (3, 3), x, padding="SAME"))
        x = relu_max_pool(_conv(i, "xla", 64, (3, 3), x, padding="VALID"), low)
        x = nn.Dropout(0.25, deterministic=deterministic)(x)
        x = x.reshape(x.shape[0], -1)
        x = nn.relu(_dense(i, 512, x))
        x = nn.Dropout(0.5, deterministic=deterministic)(x)
        return _dense(i, self.num_classes, x)


class AdamLRCNN(nn.Module):
    """The 7-layer CNN of the Adam learning-rate comparison.

    conv 3->16 stride 2; 16->64 + max-pool; 64->128; 128->256 + max-pool;
    256->512; 512->512 + max-pool; 512->256 (all 3x3 same, ReLU); then a dense
    layer to ``num_classes`` (1024->100 on 32x32 CIFAR-100: 256 x 2 x 2).
    """

    num_classes: int = 100
    init_style: str = "torch"

    @nn.compact
    def __call__(self, x, train=False):
        del train
        # No lowering choice: on XLA:CPU the shifted pieces measured no faster
        # for this network (a one-off measurement, see the issue 4 note).
        i, low = self.init_style, "xla"
        x = nn.relu(_conv(i, low, 16, (3, 3), x, strides=2, padding="SAME"))
        x = relu_max_pool(_conv(i, low, 64, (3, 3), x, padding="SAME"), low)
        x = nn.relu(_conv(i, low, 128, (3, 3), x, padding="SAME"))
        x = relu_max_pool(_conv(i, low, 256, (3, 3), x, padding="SAME"), low)
        x = nn.relu(_conv(i, low, 512, (3, 3), x, padding="SAME"))
        x = relu_max_pool(_conv(i, low, 512, (3, 3), x, padding="SAME"), low)
        x = nn.relu(_conv(i, low, 256, (3, 3), x, padding="SAME"))
        x = x.reshape(x.shape[0], -1)
        return _dense(i, self.num_classes, x)


class IonosphereMLP(nn.Module):
    """The Keras Ionosphere MLP: dense 34 (ReLU), dense 1 (sigmoid, as a logit here).

    Returns one logit per example; the loss applies the sigmoid
    (binary cross-entropy on logits, numerically safer than Keras's
    sigmoid-then-log but the same function).
    """

    hidden: int = 34
    init_style: str = "keras"

    @nn.compact
    def __call__(self, x, train=False):
        del train
        x = nn.relu(_dense(self.init_style, self.hidden, x))
        return _dense(self.init_style, 1, x)


# What ``lowering="auto"`` is on the CPU backend, per model (measured: the
# banded matmuls pay for LeNet's 5x5 convolutions on 28x28 and 14x14 images;
# KerasCNN keeps the shifted pieces). Models not listed have no choice.
AUTO_CPU_LOWERING = {"lenet": "banded", "keras_cnn": "shifted"}


def model_lowering(name, lowering="auto"):
    """The lowering model ``name`` computes with: ``"auto"`` resolved for this backend."""
    return resolve_lowering(lowering, AUTO_CPU_LOWERING.get(name, "shifted"))


MODELS = {"lenet": LeNet, "keras_cnn": KerasCNN, "adam_lr_cnn": AdamLRCNN,
          "ionosphere_mlp": IonosphereMLP}


def make_model(name, num_classes, init=None, lowering="auto"):
    """Build a model by name for ``num_classes`` outputs (the MLP is binary).

    ``init`` (``torch``, ``keras`` or ``flax``) defaults to the framework the
    model's reference used. ``lowering`` (``auto``, ``banded``, ``shifted``,
    ``xla``) applies to the models that have a choice (``lenet``, ``keras_cnn``).
    """
    if name not in MODELS:
        raise ValueError(f"jaxlr.models: model must be one of {sorted(MODELS)}, got {name!r}")
    if init is not None and init not in INITS:
        raise ValueError(f"jaxlr.models: init must be one of {list(INITS)}, got {init!r}")
    kwargs = {} if init is None else {"init_style": init}
    if check_choice("make_model", "lowering", lowering, LOWERINGS) != "auto":
        if "lowering" not in MODELS[name].__dataclass_fields__:
            raise ValueError(f"jaxlr.models: {name} has no lowering choice, got "
                             f"lowering={lowering!r} (use 'auto')")
        kwargs["lowering"] = lowering
    if name == "ionosphere_mlp":
        if num_classes != 2:
            raise ValueError(
                f"jaxlr.models: ionosphere_mlp is binary, got num_classes={num_classes}")
        return IonosphereMLP(**kwargs)
    return MODELS[name](num_classes=num_classes, **kwargs)


def count_params(params):
    """Number of scalars in a parameter tree."""
    return sum(int(jnp.size(p)) for p in jax.tree_util.tree_leaves(params))
