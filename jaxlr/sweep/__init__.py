"""Sweeps: many hyperparameter configurations x seeds from ONE compiled program.

- :mod:`jaxlr.sweep.space`: ``grid``, ``log_uniform``, ``parse_values``;
- :mod:`jaxlr.sweep.run`: ``sweep`` over a trainer or a pure function, its
  strategies and what each guarantees;
- :mod:`jaxlr.sweep.halving`: ``successive_halving``;
- :mod:`jaxlr.sweep.population`: ``pbt``, population-based training (``PBTResult``);
- :mod:`jaxlr.sweep.results`: ``SweepResult``, rankings, tables and files.
"""

from jaxlr.sweep.halving import successive_halving
from jaxlr.sweep.population import PBTResult, pbt
from jaxlr.sweep.results import (SweepResult, load, member_history, ranking_markdown, save,
                                 table_csv)
from jaxlr.sweep.run import STRATEGIES, Saved, saved, sweep
from jaxlr.sweep.space import grid, log_uniform, parse_values, seeds_text

__all__ = ["PBTResult", "STRATEGIES", "Saved", "SweepResult", "grid", "load", "log_uniform",
           "member_history", "saved", "parse_values", "pbt", "ranking_markdown", "save",
           "seeds_text", "successive_halving", "sweep", "table_csv"]
