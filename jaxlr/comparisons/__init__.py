"""The four schedule comparisons the project reproduces, shipped inside the package.

Each module defines ``COMPARISON``, a :class:`jaxlr.compare.Comparison`:
the dataset, model, batch size, epochs and the runs (optimizer,
hyperparameters, schedule) of one reference experiment, plus the published
numbers to hold the results against. ``jaxlr compare NAME`` runs one.
"""

from jaxlr.comparisons import adam_lr, d2l, ionosphere, keras_cifar10

COMPARISONS = {c.COMPARISON.name: c.COMPARISON for c in (ionosphere, d2l, keras_cifar10, adam_lr)}

__all__ = ["COMPARISONS"]
