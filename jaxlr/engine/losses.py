"""Per-example losses and accuracy, chosen from the targets' type and the model's outputs."""

from __future__ import annotations

import jax.numpy as jnp
import optax

__all__ = ["LOSSES", "correct", "resolve_loss"]


def softmax_ce(outputs, targets):
    """Softmax cross-entropy of logits ``[N, C]`` and class indices ``[N]``."""
    return optax.softmax_cross_entropy_with_integer_labels(outputs, targets)


def sigmoid_bce(outputs, targets):
    """Binary cross-entropy of one logit per example (``[N]`` or ``[N, 1]``) and 0/1 targets."""
    z = outputs.reshape(outputs.shape[0], -1)[:, 0] if outputs.ndim > 1 else outputs
    return optax.sigmoid_binary_cross_entropy(z, targets.reshape(z.shape).astype(z.dtype))


def mse(outputs, targets):
    """Squared error, averaged over every axis but the first."""
    targets = targets.reshape(outputs.shape).astype(outputs.dtype)
    d = (outputs - targets).reshape(outputs.shape[0], -1)
    return jnp.mean(d * d, axis=1)


LOSSES = {"softmax_ce": softmax_ce, "sigmoid_bce": sigmoid_bce, "mse": mse}


def is_classification(targets_dtype):
    return jnp.issubdtype(targets_dtype, jnp.integer)


def resolve_loss(loss, targets_dtype, output_shape):
    """``(name, fn)``: the loss a config asks for; ``"auto"`` decided by targets and outputs.

    ``output_shape`` is one example's output shape (without the batch axis).
    """
    if callable(loss):
        return None, loss
    if loss == "auto":
        if not is_classification(targets_dtype):
            loss = "mse"
        elif tuple(output_shape) in ((), (1,)):
            loss = "sigmoid_bce"
        else:
            loss = "softmax_ce"
    return loss, LOSSES[loss]


def correct(outputs, targets):
    """Per-example correctness for class-index targets, or ``None`` when that has no meaning.

    One output per example: a positive logit predicts class 1; several: argmax.
    """
    if not is_classification(targets.dtype):
        return None
    if outputs.ndim == targets.ndim or outputs.shape[-1] == 1:
        z = outputs.reshape(targets.shape)
        return (z > 0).astype(targets.dtype) == targets
    return jnp.argmax(outputs, -1) == targets
