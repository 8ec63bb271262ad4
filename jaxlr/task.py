"""A user's training task for the ``jaxlr`` command: ``jaxlr sweep mypackage.mymodule:task``.

A task is a :class:`Task` (config, data, base hyperparameters, first seed),
or a function of no arguments returning one, importable as ``MODULE:NAME``.
The command imports ``MODULE`` (the current directory is on the import
path, as for ``python -m``) and reads ``NAME`` from it.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
from typing import Any, Mapping

from jaxlr.engine import TrainConfig

__all__ = ["Task", "load_task"]


@dataclasses.dataclass(frozen=True)
class Task:
    """What ``jaxlr sweep`` / ``jaxlr lr-find`` need to run your model.

    Attributes:
      config: the :class:`jaxlr.engine.TrainConfig`.
      data: a dataset, e.g. from :func:`jaxlr.data.from_arrays`.
      hparams: the hyperparameters every configuration starts from (the swept
        ones replace theirs).
      seed: the first seed.
      name: a label for results (default: the config's name).
    """

    config: TrainConfig
    data: Any
    hparams: Mapping[str, float] = dataclasses.field(default_factory=dict)
    seed: int = 0
    name: str | None = None

    def __post_init__(self):
        if not isinstance(self.config, TrainConfig):
            raise ValueError(f"Task: config must be a jaxlr.engine.TrainConfig, got "
                             f"{type(self.config).__name__}")


def load_task(spec):
    """The :class:`Task` named by ``MODULE:NAME`` (an attribute or a function returning one)."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise ValueError(f"not a task: {spec!r} (write MODULE:NAME, e.g. mypackage.tasks:mnist)")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except ImportError as e:
        raise ValueError(f"task {spec!r}: cannot import {module_name!r} ({e})") from None
    try:
        obj = getattr(module, attr)
    except AttributeError:
        raise ValueError(f"task {spec!r}: module {module_name!r} has no {attr!r}") from None
    if not isinstance(obj, Task) and callable(obj):
        obj = obj()
    if not isinstance(obj, Task):
        raise ValueError(f"task {spec!r} is a {type(obj).__name__}, not a jaxlr.task.Task "
                         "(or a function returning one)")
    return obj
