"""Ionosphere: the Keras learning-rate schedule experiment (MLP, SGD 0.1).

Jason Brownlee, "Using Learning Rate Schedules for Deep Learning Models in
Python with Keras": a 34-34(relu)-1(sigmoid) MLP on UCI Ionosphere, binary
cross-entropy, batch 28, 50 epochs, ``validation_split=0.33`` (the last 116
rows), seed 7.

- constant: SGD lr 0.1, momentum 0.8;
- time-based: Keras 2 ``SGD(lr=0.1, momentum=0.8, decay=0.1/50)``: the lr of
  update ``t`` is ``0.1 / (1 + 0.002 t)``, i.e. ``inverse_time(0.1, 0.002, 1)``
  per update;
- step decay: ``LearningRateScheduler`` with ``0.1 * 0.5 ** floor((1 + epoch) / 10)``,
  momentum 0.9: ``per_epoch(shift(exponential(0.1, 0.5, 10, staircase=True), -1))``;
- exponential: ``LearningRateScheduler`` with ``0.1 * exp(-0.1 epoch)``,
  momentum 0.8 (the article's exponential example gives no momentum; 0.8 as
  in the time-based run): ``per_epoch(natural_exp(0.1, 0.1, 1))``.

Keras's SGD momentum is ``v = m v - lr g`` (``keras_sgd``), Keras's
initialisers glorot-uniform/zeros.

Beside these runs, the modern optimizers and schedules of
:mod:`jaxlr.comparisons.modern`, each held against the best of them.
"""

import jaxlr
from jaxlr.compare import Comparison, Run
from jaxlr.comparisons.keras_schedules import exponential_decay, step_decay
from jaxlr.comparisons.modern import modern_runs

EPOCHS = 50


def _time_based(h, info):
    return jaxlr.inverse_time(h["lr"], h["decay"], 1.0)


COMPARISON = Comparison(
    name="ionosphere",
    title="Ionosphere MLP, SGD 0.1: Keras learning-rate schedules",
    dataset="ionosphere",
    model="ionosphere_mlp",
    batch_size=28,
    epochs=EPOCHS,
    seed=7,
    seed_note="seed 7, as in Brownlee's Keras experiment",
    runs=(
        Run("constant", "keras_sgd", dict(lr=0.1, momentum=0.8)),
        Run("time-based", "keras_sgd", dict(lr=0.1, momentum=0.8, decay=0.1 / EPOCHS),
            _time_based, "inverse_time(0.1, 0.002, 1) per update"),
        Run("step", "keras_sgd", dict(lr=0.1, momentum=0.9, drop=0.5, epochs_drop=10.0),
            step_decay, "0.1 * 0.5 ** floor((1 + epoch) / 10)"),
        Run("exponential", "keras_sgd", dict(lr=0.1, momentum=0.8, k=0.1), exponential_decay,
            "0.1 * exp(-0.1 * epoch)"),
    ),
    modern_runs=modern_runs("keras_sgd", 0.1, dict(momentum=0.8)),
    published={"time-based": 0.99, "step": 0.99},
    published_note=("Brownlee's Keras runs (seed 7) reach about 0.99 validation accuracy "
                    "(115/116) with time-based and step decay."),
)
