"""Modern optimizers and schedules, added to each comparison beside its reference runs.

Every row uses the method's recommended settings; each ``Run.source`` says
where they come from. Warmup, where a method asks for one and gives no length,
is the first 5% of the updates (our choice, stated in the rows).

- schedule-free SGD and AdamW (Defazio et al., "The Road Less Scheduled",
  NeurIPS 2024; optax ``contrib.schedule_free_sgd/adamw``), evaluated at the
  averaged parameters ``x`` as the method requires. The reference
  implementation's README: "For SGD, a learning rate 10x-50x larger than
  classical rates seems to be a good starting point", "For AdamW, learning
  rates in the range 1x-10x larger than with schedule-based approaches", beta
  0.9, "Using learning rate warmup is recommended". Here SGD at 10x the
  comparison's SGD lr, AdamW at optax's default 0.0025 (2.5x Adam's 1e-3).
- Prodigy (Mishchenko & Defazio, ICML 2024): lr 1, betas (0.9, 0.999),
  d0 1e-6, no weight decay; its README recommends "either using no scheduler
  or using cosine annealing" with ``T_max`` the total steps: cosine to 0.
- D-Adaptation AdamW (Defazio & Mishchenko, ICML 2023): "Set the LR parameter
  to 1.0", "Use the same learning rate scheduler you would normally use":
  cosine to 0 over the run, as for Prodigy.
- DoG (Ivgi et al., ICML 2023): lr 1 (no schedule: DoG is its own step size
  schedule), ``reps_rel`` 1e-6 (the authors' default). The authors also
  recommend polynomial-decay averaging of the iterates, which optax's DoG
  does not do; these runs evaluate the last iterate.
- WSD with a 1-sqrt cooldown over the last 20% of the updates (Hägele et al.,
  "Scaling Laws and Compute-Optimal Training Beyond Fixed Training
  Durations", NeurIPS 2024: a 20% 1-sqrt cooldown matches cosine), at the
  comparison's SGD lr and momentum.
- linear decay to zero (Bergsma et al., "Straight to Zero: Why Linearly
  Decaying the Learning Rate to Zero Works Best for LLMs", ICLR 2025): linear
  warmup, then linear decay to 0 at the last update, at the comparison's SGD
  lr and momentum.
"""

from __future__ import annotations

import jaxlr
from jaxlr.compare import Run

__all__ = ["WARMUP_FRACTION", "modern_runs"]

WARMUP_FRACTION = 0.05
COOLDOWN_FRACTION = 0.2

_SF = "Defazio et al. 2024 and its reference README"


def _total(info):
    return info.steps_per_epoch * info.epochs


def _warmup_constant(h, info):
    return jaxlr.warmup(jaxlr.constant(h["lr"]), h["warmup_fraction"] * _total(info))


def _cosine_to_zero(h, info):
    return jaxlr.cosine(h["lr"], _total(info))


def _wsd(h, info):
    total = _total(info)
    return jaxlr.warmup_stable_cooldown(h["lr"], total, h["warmup_fraction"] * total,
                                        h["cooldown_fraction"], decay="1-sqrt")


def _linear_to_zero(h, info):
    total = _total(info)
    return jaxlr.linear_decay_to_zero(h["lr"], total, h["warmup_fraction"] * total)


def modern_runs(sgd, sgd_lr, sgd_hparams=None):
    """The modern rows of a comparison whose SGD runs use optimizer ``sgd`` at ``sgd_lr``.

    Args:
      sgd: the comparison's SGD (``"sgd"`` or ``"keras_sgd"``), for WSD and
        linear-to-zero.
      sgd_lr: its lr: the peak of WSD and linear-to-zero, and a tenth of
        schedule-free SGD's.
      sgd_hparams: its other hyperparameters (e.g. ``momentum``).
    """
    sgd_hparams = dict(sgd_hparams or {})
    w = f"{WARMUP_FRACTION:.0%}"
    return (
        Run("schedule-free SGD", "schedule_free_sgd",
            dict(lr=10 * sgd_lr, b1=0.9, warmup_fraction=WARMUP_FRACTION), _warmup_constant,
            f"{10 * sgd_lr:g} (10x SGD's) after {w} warmup, b1 0.9; evaluated at the average",
            source=_SF),
        Run("schedule-free AdamW", "schedule_free_adamw",
            dict(lr=0.0025, b1=0.9, b2=0.999, warmup_fraction=WARMUP_FRACTION),
            _warmup_constant,
            f"0.0025 (optax's default) after {w} warmup; evaluated at the average", source=_SF),
        Run("Prodigy", "prodigy", dict(lr=1.0), _cosine_to_zero, "d x cosine 1 -> 0",
            source="Mishchenko & Defazio 2024 and the prodigyopt README"),
        Run("D-Adaptation AdamW", "dadapt_adamw", dict(lr=1.0), _cosine_to_zero,
            "d x cosine 1 -> 0", source="Defazio & Mishchenko 2023 and its README"),
        Run("DoG", "dog", dict(lr=1.0, reps_rel=1e-6), None,
            "DoG's own step size, lr 1 (last iterate, no averaging)",
            source="Ivgi et al. 2023 and its README"),
        Run("WSD (1-sqrt)", sgd,
            dict(sgd_hparams, lr=sgd_lr, warmup_fraction=WARMUP_FRACTION,
                 cooldown_fraction=COOLDOWN_FRACTION), _wsd,
            f"{w} warmup to {sgd_lr:g}, 1-sqrt cooldown over the last "
            f"{COOLDOWN_FRACTION:.0%}", source="Hägele et al. 2024"),
        Run("linear to zero", sgd, dict(sgd_hparams, lr=sgd_lr, warmup_fraction=WARMUP_FRACTION),
            _linear_to_zero, f"{w} warmup to {sgd_lr:g}, then linear to 0",
            source="Bergsma et al. 2025"),
    )
