"""The training engine: a public pure core, a host driver and one run store.

- :func:`make_train` ``(config, data) -> Trainer``: pure, traceable ``init``,
  ``begin_epoch``, ``step``, ``end_epoch``, ``run_epoch``, ``evaluate`` and
  ``train_fn`` (the whole run), over a typed :class:`TrainState`;
- :func:`run`: the host driver (progress, divergence, resume from a
  :class:`RunStore`); ``trainer(hparams, key)`` calls it;
- :mod:`jaxlr.engine.backend`: the CPU/accelerator choices, in one place;
- :mod:`jaxlr.engine.keys`: seeds and keys; a seed is an int or an
  ``(init, data)`` pair (common random numbers across configurations).
"""

from jaxlr.engine import backend
from jaxlr.engine.config import ScheduleInfo, TrainConfig
from jaxlr.engine.core import StepMetrics, Trainer, TrainState, make_train
from jaxlr.engine.keys import key_identity, raw_key, seed_keys, split_key
from jaxlr.engine.driver import History, Program, program, run
from jaxlr.engine.losses import LOSSES
from jaxlr.engine.optimizers import OPTIMIZERS, lr_used, make_optimizer
from jaxlr.engine.store import Record, RunStore

__all__ = ["History", "LOSSES", "OPTIMIZERS", "Program", "Record", "RunStore", "ScheduleInfo",
           "StepMetrics", "TrainConfig", "TrainState", "Trainer", "backend", "key_identity",
           "lr_used", "make_optimizer", "make_train", "program", "raw_key", "run", "seed_keys",
           "split_key"]
