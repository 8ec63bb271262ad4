"""keras-cifar10: Keras learning-rate schedules vs adaptive optimizers on a small CNN.

The Keras CIFAR-10 example CNN (``cifar10_cnn.py``: two conv-conv-pool-dropout
blocks of 32 and 64 filters, dense 512, dropout 0.5), Keras initialisers,
batch 32 as Keras's default. SGD at 0.1 with the four Ionosphere schedules
(constant and time-based with momentum 0.8, ``decay = 0.1 / epochs``; step decay
halving every 10 epochs with momentum 0.9; exponential ``0.1 exp(-0.1 epoch)``
with momentum 0.8) against Adagrad, Adadelta, RMSprop and Adam at their Keras 2
defaults (lr 0.01, 1.0, 0.001, 0.001; epsilon 1e-7).

CIFAR-10 when its files are given (``--dataset cifar10 --data-dir DIR``);
Fashion-MNIST by default here (the same network, 28x28x1 inputs).

Beside these runs, the modern optimizers and schedules of
:mod:`jaxlr.comparisons.modern`, each held against the best of them.
"""

import jaxlr
from jaxlr.compare import Comparison, Run
from jaxlr.comparisons.keras_schedules import KERAS_DEFAULTS, exponential_decay, step_decay
from jaxlr.comparisons.modern import modern_runs

EPOCHS = 20


def _time_based(h, info):
    return jaxlr.inverse_time(h["lr"], h["lr"] / info.epochs, 1.0)


COMPARISON = Comparison(
    name="keras-cifar10",
    title="Keras CNN: SGD 0.1 schedules vs adaptive optimizers",
    dataset="fashion_mnist",
    model="keras_cnn",
    batch_size=32,
    epochs=EPOCHS,
    seed=7,
    seed_note="seed 7, as in the Keras tutorials this comparison follows",
    runs=(
        Run("SGD constant", "keras_sgd", dict(lr=0.1, momentum=0.8)),
        Run("SGD time-based", "keras_sgd", dict(lr=0.1, momentum=0.8), _time_based,
            "inverse_time(0.1, 0.1 / epochs, 1) per update"),
        Run("SGD step", "keras_sgd", dict(lr=0.1, momentum=0.9, drop=0.5, epochs_drop=10.0),
            step_decay, "0.1 * 0.5 ** floor((1 + epoch) / 10)"),
        Run("SGD exponential", "keras_sgd", dict(lr=0.1, momentum=0.8, k=0.1), exponential_decay,
            "0.1 * exp(-0.1 * epoch)"),
        Run("Adagrad", "adagrad", dict(KERAS_DEFAULTS["adagrad"])),
        Run("Adadelta", "adadelta", dict(KERAS_DEFAULTS["adadelta"])),
        Run("RMSprop", "rmsprop", dict(KERAS_DEFAULTS["rmsprop"])),
        Run("Adam", "adam", dict(KERAS_DEFAULTS["adam"])),
    ),
    modern_runs=modern_runs("keras_sgd", 0.1, dict(momentum=0.8)),
    published={},
    published_note="The reference publishes curves, not a table of final accuracies.",
)
