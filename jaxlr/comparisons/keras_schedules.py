"""What the two Keras comparisons share: Keras 2's optimizer defaults and its schedules.

The schedule builders take ``(hparams, info)`` as :class:`jaxlr.engine.TrainConfig`
expects and are written with jaxlr's public schedules and combinators.
"""

import jaxlr

__all__ = ["KERAS_DEFAULTS", "exponential_decay", "step_decay"]

# Keras 2 defaults (keras/optimizers.py, the API the Keras comparisons used):
# epsilon = K.epsilon() = 1e-7.
KERAS_DEFAULTS = {
    "keras_sgd": dict(lr=0.01, momentum=0.0),
    "adagrad": dict(lr=0.01, initial_accumulator_value=0.0, eps=1e-7),
    "adadelta": dict(lr=1.0, rho=0.95, eps=1e-7),
    "rmsprop": dict(lr=0.001, decay=0.9, eps=1e-7),
    "adam": dict(lr=0.001, b1=0.9, b2=0.999, eps=1e-7),
}


def step_decay(h, info):
    """``LearningRateScheduler`` with ``lr * drop ** floor((1 + epoch) / epochs_drop)``."""
    epochwise = jaxlr.shift(jaxlr.exponential(h["lr"], h["drop"], h["epochs_drop"],
                                              staircase=True), -1)
    return jaxlr.per_epoch(epochwise, info.steps_per_epoch)


def exponential_decay(h, info):
    """``LearningRateScheduler`` with ``lr * exp(-k epoch)``."""
    return jaxlr.per_epoch(jaxlr.natural_exp(h["lr"], h["k"], 1.0), info.steps_per_epoch)
