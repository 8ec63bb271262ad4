"""The CPU lowering of convolutions and pools computes the same function as XLA's own.

Values and gradients are compared in float64, where a reordered sum cannot
flip a near-tie of a max-pool; LeNet's gradient is also checked against
PyTorch's on the same weights.
"""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxlr import _layers, models


def _close(a, b, rtol=1e-10):
    for u, v in zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)):
        np.testing.assert_allclose(np.asarray(u), np.asarray(v), rtol=rtol,
                                   atol=rtol * float(np.abs(np.asarray(u)).max()))


@pytest.mark.parametrize("x_shape,k_shape,padding", [
    ((3, 28, 28, 1), (5, 5, 1, 6), 2),
    ((3, 14, 14, 6), (5, 5, 6, 16), 0),
    ((2, 13, 11, 3), (3, 3, 3, 8), 1),
    ((2, 9, 12, 1), (3, 5, 1, 4), 0),
    ((2, 10, 10, 4), (3, 5, 4, 2), 2),
])
@pytest.mark.parametrize("lowering", ["shifted", "banded"])
def test_conv_lowerings_equal_xla_conv_values_and_gradients(x64, x_shape, k_shape, padding,
                                                            lowering):
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=x_shape))
    kernel = jnp.asarray(rng.normal(size=k_shape))
    weights = jnp.asarray(rng.normal(size=_layers.conv2d(x, kernel, padding, "xla").shape))

    def loss(x, k, lowering):
        return jnp.sum(weights * jnp.tanh(_layers.conv2d(x, k, padding, lowering)))

    _close(_layers.conv2d(x, kernel, padding, lowering), _layers.conv2d(x, kernel, padding, "xla"))
    _close(jax.grad(loss, (0, 1))(x, kernel, lowering), jax.grad(loss, (0, 1))(x, kernel, "xla"))


@pytest.mark.parametrize("x_shape,k_shape,padding", [
    ((3, 28, 28, 1), (5, 5, 1, 6), 2),     # LeNet's first layer
    ((3, 14, 14, 6), (5, 5, 6, 16), 0),    # LeNet's second layer
    ((2, 13, 11, 3), (3, 3, 3, 8), 1),     # odd output: the last row and column are dropped
    ((2, 9, 12, 1), (3, 5, 1, 4), 0),      # odd rows, even columns, kh != kw
    ((2, 3, 3, 2), (2, 2, 2, 3), 0),       # a 2x2 output: one window
])
@pytest.mark.parametrize("lowering", ["banded", "shifted"])
def test_conv_relu_max_pool_equals_xla(x64, x_shape, k_shape, padding, lowering):
    rng = np.random.default_rng(6)
    x = jnp.asarray(rng.normal(size=x_shape))
    kernel = jnp.asarray(rng.normal(size=k_shape))
    bias = jnp.asarray(rng.normal(size=k_shape[3]))
    reference = _layers.conv_relu_max_pool(x, kernel, bias, padding, "xla")
    weights = jnp.asarray(rng.normal(size=reference.shape))

    def loss(x, k, b, lowering):
        return jnp.sum(weights * _layers.conv_relu_max_pool(x, k, b, padding, lowering))

    _close(_layers.conv_relu_max_pool(x, kernel, bias, padding, lowering), reference)
    _close(jax.grad(loss, (0, 1, 2))(x, kernel, bias, lowering),
           jax.grad(loss, (0, 1, 2))(x, kernel, bias, "xla"))


def test_banded_band_matrix_is_the_convolution():
    """``T`` holds each kernel entry on its band (so ``rows @ T`` is the convolution)."""
    kernel = jnp.asarray(np.random.default_rng(7).normal(size=(3, 2, 2, 4)))
    band = np.asarray(_layers._band(kernel, 6, parity=False)).reshape(3, 6, 2, 5, 4)
    for i, w_in, c, w, o in np.ndindex(band.shape):
        d = w_in - w
        expected = float(kernel[i, d, c, o]) if 0 <= d < 2 else 0.0
        assert band[i, w_in, c, w, o] == expected
    parity = np.asarray(_layers._band(kernel, 6, parity=True)).reshape(3, 6, 2, 4, 4)
    np.testing.assert_array_equal(parity, band[:, :, :, [0, 2, 1, 3], :])  # w = 4 dropped


@pytest.mark.parametrize("shape", [(2, 28, 28, 6), (3, 11, 13, 4), (1, 5, 5, 2)])
def test_masked_relu_max_pool_equals_xla(x64, shape):
    x = jnp.asarray(np.random.default_rng(1).normal(size=shape))
    weights = jnp.asarray(np.random.default_rng(2).normal(size=(shape[0], shape[1] // 2,
                                                                 shape[2] // 2, shape[3])))

    def loss(x, lowering):
        return jnp.sum(weights * _layers.relu_max_pool(x, lowering))

    _close(_layers.relu_max_pool(x, "shifted"), _layers.relu_max_pool(x, "xla"), rtol=0)
    _close(jax.grad(loss)(x, "shifted"), jax.grad(loss)(x, "xla"), rtol=0)


@pytest.mark.parametrize("kwargs", [dict(padding=2), dict(padding="VALID"), dict(padding="SAME"),
                                    dict(padding="SAME", strides=2), dict(padding=1, strides=2)])
@pytest.mark.parametrize("lowering", ["shifted", "banded"])
@pytest.mark.parametrize("pool", [False, True])
def test_conv_module_matches_flax_conv(kwargs, lowering, pool):
    x = jnp.asarray(np.random.default_rng(3).normal(size=(2, 12, 12, 3)), jnp.float32)
    ours = _layers.Conv(5, (3, 3), lowering=lowering, relu_max_pool=pool, **kwargs)
    theirs = nn.Conv(5, (3, 3), **kwargs)
    params = theirs.init(jax.random.PRNGKey(0), x)
    ours_params = ours.init(jax.random.PRNGKey(0), x)
    _close(ours_params, params, rtol=0)
    expected = theirs.apply(params, x)
    if pool:
        expected = nn.max_pool(nn.relu(expected), (2, 2), strides=(2, 2))
    _close(ours.apply(params, x), expected, rtol=1e-5)


def test_lowering_is_validated():
    with pytest.raises(ValueError, match="lowering must be one of .*'fast'"):
        _layers.conv2d(jnp.ones((1, 5, 5, 1)), jnp.ones((3, 3, 1, 1)), 0, "fast")
    with pytest.raises(ValueError, match="lowering"):
        models.LeNet(lowering="fast").init(jax.random.PRNGKey(0), jnp.ones((1, 28, 28, 1)))


def test_auto_lowering_is_the_models_cpu_choice_on_cpu_only():
    cpu = jax.default_backend() == "cpu"
    assert _layers.resolve_lowering("auto") == ("shifted" if cpu else "xla")
    assert _layers.resolve_lowering("auto", cpu="banded") == ("banded" if cpu else "xla")
    assert models.model_lowering("lenet") == ("banded" if cpu else "xla")
    assert models.model_lowering("keras_cnn") == ("shifted" if cpu else "xla")
    assert models.model_lowering("lenet", "shifted") == "shifted"
    with pytest.raises(ValueError, match="cpu must be one of"):
        _layers.resolve_lowering("auto", cpu="auto")


@pytest.mark.parametrize("name,train", [("lenet", False), ("keras_cnn", False),
                                        ("keras_cnn", True)])
@pytest.mark.parametrize("lowering", ["shifted", "banded"])
def test_model_lowerings_agree(x64, name, train, lowering):
    x = jnp.asarray(np.random.default_rng(4).uniform(size=(4, 28, 28, 1)))
    y = jnp.arange(4) % 10
    shifted = models.MODELS[name](num_classes=10, lowering=lowering)
    xla = models.MODELS[name](num_classes=10, lowering="xla")
    params = xla.init(jax.random.PRNGKey(0), x)

    def loss(params, model):  # with train=True, the same dropout masks for both
        logits = model.apply(params, x, train=train, rngs={"dropout": jax.random.PRNGKey(3)})
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(4), y])

    _close(loss(params, shifted), loss(params, xla))
    _close(jax.grad(loss)(params, shifted), jax.grad(loss)(params, xla))


@pytest.mark.parametrize("lowering", ["banded", "shifted"])
def test_lenet_gradient_equals_pytorch(x64, lowering):
    torch = pytest.importorskip("torch")
    from torch import nn as tnn

    x = np.random.default_rng(5).uniform(size=(8, 28, 28, 1))
    y = np.arange(8) % 10
    model = models.LeNet(lowering=lowering)
    params = model.init(jax.random.PRNGKey(1), jnp.asarray(x, jnp.float32))["params"]
    params = jax.tree_util.tree_map(lambda p: p.astype(jnp.float64), params)

    net = tnn.Sequential(
        tnn.Conv2d(1, 6, kernel_size=5, padding=2), tnn.ReLU(), tnn.MaxPool2d(2, 2),
        tnn.Conv2d(6, 16, kernel_size=5), tnn.ReLU(), tnn.MaxPool2d(2, 2), tnn.Flatten(),
        tnn.Linear(400, 120), tnn.ReLU(), tnn.Linear(120, 84), tnn.ReLU(), tnn.Linear(84, 10)).double()
    conv = lambda k: np.transpose(np.asarray(k), (3, 2, 0, 1))  # HWIO -> OIHW
    # Flax flattens NHWC, torch NCHW: permute the first dense layer's rows to match.
    dense0 = np.asarray(params["Dense_0"]["kernel"]).reshape(5, 5, 16, 120).transpose(2, 0, 1, 3)
    weights = [conv(params["Conv_0"]["kernel"]), params["Conv_0"]["bias"],
               conv(params["Conv_1"]["kernel"]), params["Conv_1"]["bias"],
               dense0.reshape(400, 120).T, params["Dense_0"]["bias"],
               np.asarray(params["Dense_1"]["kernel"]).T, params["Dense_1"]["bias"],
               np.asarray(params["Dense_2"]["kernel"]).T, params["Dense_2"]["bias"]]
    with torch.no_grad():
        for p, w in zip(net.parameters(), weights):
            p.copy_(torch.from_numpy(np.array(w, dtype=np.float64)))
    loss = tnn.functional.cross_entropy(net(torch.from_numpy(x.transpose(0, 3, 1, 2))),
                                        torch.from_numpy(y))
    loss.backward()
    torch_grads = [p.grad.numpy() for p in net.parameters()]

    def jax_loss(params):
        logits = model.apply({"params": params}, jnp.asarray(x))
        return -jnp.mean(jax.nn.log_softmax(logits)[jnp.arange(8), y])

    value, grads = jax.value_and_grad(jax_loss)(params)
    np.testing.assert_allclose(float(value), loss.item(), rtol=1e-12)
    ours = [conv(grads["Conv_0"]["kernel"]), grads["Conv_0"]["bias"],
            conv(grads["Conv_1"]["kernel"]), grads["Conv_1"]["bias"],
            np.asarray(grads["Dense_0"]["kernel"]).reshape(5, 5, 16, 120).transpose(2, 0, 1, 3)
            .reshape(400, 120).T, grads["Dense_0"]["bias"],
            np.asarray(grads["Dense_1"]["kernel"]).T, grads["Dense_1"]["bias"],
            np.asarray(grads["Dense_2"]["kernel"]).T, grads["Dense_2"]["bias"]]
    for a, b in zip(ours, torch_grads):
        np.testing.assert_allclose(np.asarray(a), b, rtol=1e-9, atol=1e-12)
