"""jaxlr: every learning-rate schedule you know, as a traceable ``optax.Schedule``.

Primitive schedules (:mod:`jaxlr.schedules`), combinators
(:mod:`jaxlr.combinators`) and reduce-on-plateau (:mod:`jaxlr.plateau`) import
only jax and optax. Every schedule they return prints as the expression that
built it, and :func:`parse_schedule` (:mod:`jaxlr.expressions`) reads such an
expression back.
"""

from jaxlr.combinators import (
    add,
    clip,
    cycle,
    join,
    linear_scaling,
    multiply,
    per_epoch,
    restarts,
    scale,
    shift,
    staircase,
    warmup,
)
from jaxlr.expressions import parse_schedule
from jaxlr.hypergradient import hypergradient_descent
from jaxlr.plateau import ReduceOnPlateauState, observe, reduce_on_plateau
from jaxlr.readout import lr_used
from jaxlr.schedules import (
    constant,
    cosine,
    cosine_restarts,
    cyclic,
    cyclic_momentum,
    exponential,
    factor,
    inverse_sqrt,
    inverse_time,
    linear,
    linear_cosine,
    linear_decay_to_zero,
    multistep,
    natural_exp,
    noisy_linear_cosine,
    one_cycle,
    one_cycle_momentum,
    piecewise_constant,
    polynomial,
    power_law,
    power_scheduler,
    tanh_decay,
    warmup_stable_cooldown,
    warmup_stable_decay,
)

__version__ = "0.1.0"

__all__ = [
    "ReduceOnPlateauState",
    "add",
    "clip",
    "constant",
    "cosine",
    "cosine_restarts",
    "cycle",
    "cyclic",
    "cyclic_momentum",
    "exponential",
    "factor",
    "hypergradient_descent",
    "inverse_sqrt",
    "inverse_time",
    "join",
    "linear",
    "linear_cosine",
    "linear_decay_to_zero",
    "linear_scaling",
    "lr_used",
    "multiply",
    "multistep",
    "natural_exp",
    "noisy_linear_cosine",
    "observe",
    "one_cycle",
    "one_cycle_momentum",
    "parse_schedule",
    "per_epoch",
    "piecewise_constant",
    "polynomial",
    "power_law",
    "power_scheduler",
    "reduce_on_plateau",
    "restarts",
    "scale",
    "shift",
    "staircase",
    "tanh_decay",
    "warmup",
    "warmup_stable_cooldown",
    "warmup_stable_decay",
]
