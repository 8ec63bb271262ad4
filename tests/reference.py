"""Independent reference oracles for learning-rate schedules of other libraries.

Every function / class below is a plain-Python (``math`` / numpy float64, no jax)
transcription of another library's own schedule code, kept step for step in the
structure of the original (including its statefulness, branch order, clipping
and the order of its floating-point operations), so that jaxlr's schedules can
be compared against the reference's own arithmetic on dense step grids.

Each docstring names the repository, file and class/function it was transcribed
from, and the commit of the copy that was read.

Precision note: the originals that run on tensors (Keras / TensorFlow) compute
in the dtype of ``initial_learning_rate`` (float32 for a Python float in
Keras 3); these oracles compute in float64.  Python-side originals (MXNet, d2l,
HF transformers lambdas, timm, CLR) are already float64 Python arithmetic.

Only the standard library and numpy are imported.
"""

import bisect
import logging
import math

import numpy as np


# =============================================================================
# Keras 3 / TensorFlow
# =============================================================================
#
# Keras 3: keras-team/keras  keras/src/optimizers/schedules/learning_rate_schedule.py
#          (read at commit 2534b643145262fc2c9ee638065ee14fdb623984)
# TF:      tensorflow/tensorflow  tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py
#          (read at commit 0304934138cbfabd338ec432a630a9c3c1191564), whose v1
#          wrappers live in tensorflow/python/keras/optimizer_v2/legacy_learning_rate_decay.py
#          (commit 0406598a59a78fd428b74fdd5e1ee704d17ce05a); the v1 module
#          tensorflow/python/training/learning_rate_decay.py only re-exports those.


def keras_exponential_decay(step, initial_learning_rate, decay_steps, decay_rate,
                            staircase=False):
    """Keras ``ExponentialDecay.__call__``.

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``ExponentialDecay`` (identical arithmetic in TF's
    tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py ``ExponentialDecay``
    and thus ``tf.compat.v1.train.exponential_decay``).
    """
    if decay_steps <= 0:
        raise ValueError(
            "Argument `decay_steps` must be > 0. "
            f"Received: decay_steps={decay_steps}"
        )
    initial_learning_rate = float(initial_learning_rate)
    decay_steps = float(decay_steps)
    decay_rate = float(decay_rate)

    global_step_recomp = float(step)
    p = global_step_recomp / decay_steps
    if staircase:
        p = math.floor(p)
    return initial_learning_rate * math.pow(decay_rate, p)


def keras_polynomial_decay(step, initial_learning_rate, decay_steps,
                           end_learning_rate=0.0001, power=1.0, cycle=False):
    """Keras ``PolynomialDecay.__call__`` (including ``cycle=True``).

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``PolynomialDecay``.  With ``cycle=True`` the multiplier is
    ``where(step == 0, 1.0, ceil(step / decay_steps))`` (the step==0 special
    case of the original), otherwise the step is clipped to ``decay_steps``.
    """
    if decay_steps <= 0:
        raise ValueError(
            "Argument `decay_steps` must be > 0. "
            f"Received: decay_steps={decay_steps}"
        )
    initial_learning_rate = float(initial_learning_rate)
    end_learning_rate = float(end_learning_rate)
    power = float(power)

    global_step_recomp = float(step)
    decay_steps_recomp = float(decay_steps)
    if cycle:
        # Find the first multiple of decay_steps that is bigger than
        # global_step. If global_step is zero set the multiplier to 1
        if global_step_recomp == 0:
            multiplier = 1.0
        else:
            multiplier = float(math.ceil(global_step_recomp / decay_steps))
        decay_steps_recomp = decay_steps_recomp * multiplier
    else:
        # Make sure that the global_step used is not bigger than
        # decay_steps.
        global_step_recomp = min(global_step_recomp, decay_steps_recomp)

    p = global_step_recomp / decay_steps_recomp
    return (initial_learning_rate - end_learning_rate) * math.pow(1 - p, power) \
        + end_learning_rate


def keras_inverse_time_decay(step, initial_learning_rate, decay_steps, decay_rate,
                             staircase=False):
    """Keras ``InverseTimeDecay.__call__``.

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``InverseTimeDecay``: ``initial_lr / (1 + decay_rate * p)`` with
    ``p = step / decay_steps`` (floored if ``staircase``).
    """
    if decay_steps <= 0:
        raise ValueError(
            "Argument `decay_steps` must be > 0. "
            f"Received: decay_steps={decay_steps}"
        )
    initial_learning_rate = float(initial_learning_rate)
    decay_steps = float(decay_steps)
    decay_rate = float(decay_rate)

    global_step_recomp = float(step)
    p = global_step_recomp / decay_steps
    if staircase:
        p = math.floor(p)
    const = 1.0
    denom = const + decay_rate * p
    return initial_learning_rate / denom


def keras_piecewise_constant_decay(step, boundaries, values):
    """Keras ``PiecewiseConstantDecay.__call__``.

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``PiecewiseConstantDecay``.  ``values[0]`` for ``step <= boundaries[0]``,
    ``values[i]`` for ``boundaries[i-1] < step <= boundaries[i]``, ``values[-1]``
    for ``step > boundaries[-1]``.  Keras 3 builds the result as a sum of
    indicator * value terms; that sum is reproduced here.
    """
    if len(boundaries) != len(values) - 1:
        raise ValueError(
            "The length of boundaries should be 1 less than the length of "
            f"values. Received: boundaries={boundaries} of length "
            f"{len(boundaries)}, and values={values} "
            f"of length {len(values)}."
        )
    result_value = 0.0

    step_less_than_first_boundary = float(step <= boundaries[0])
    result_value += step_less_than_first_boundary * values[0]

    step_greater_than_last_boundary = float(step > boundaries[-1])
    result_value += step_greater_than_last_boundary * values[-1]

    for low, high, value in zip(boundaries[:-1], boundaries[1:], values[1:-1]):
        step_in_range = float((step > low) & (step <= high))
        result_value += step_in_range * value

    return float(result_value)


def keras_cosine_decay(step, initial_learning_rate, decay_steps, alpha=0.0,
                       warmup_target=None, warmup_steps=0):
    """Keras 3 ``CosineDecay.__call__`` with its optional linear warmup.

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``CosineDecay`` (methods ``_decay_function``, ``_warmup_function``,
    ``__call__``).  If ``warmup_target`` is None the warmup is skipped entirely
    (``warmup_steps`` is ignored) and the step is clipped to ``decay_steps``;
    otherwise the step is clipped to ``decay_steps + warmup_steps``, a linear
    ramp from ``initial_learning_rate`` to ``warmup_target`` is used for
    ``step < warmup_steps``, then cosine decay from ``warmup_target``.
    """
    if decay_steps <= 0:
        raise ValueError(
            "Argument `decay_steps` must be > 0. "
            f"Received: decay_steps={decay_steps}"
        )

    def _decay_function(step, decay_steps, decay_from_lr):
        completed_fraction = step / decay_steps
        pi = math.pi
        cosine_decayed = 0.5 * (1.0 + math.cos(pi * completed_fraction))
        decayed = (1 - alpha) * cosine_decayed + alpha
        return decay_from_lr * decayed

    def _warmup_function(step, warmup_steps, warmup_target, initial_learning_rate):
        completed_fraction = step / warmup_steps
        total_step_delta = warmup_target - initial_learning_rate
        return total_step_delta * completed_fraction + initial_learning_rate

    initial_learning_rate = float(initial_learning_rate)
    decay_steps = float(decay_steps)
    global_step_recomp = float(step)

    if warmup_target is None:
        global_step_recomp = min(global_step_recomp, decay_steps)
        return _decay_function(global_step_recomp, decay_steps, initial_learning_rate)

    warmup_target = float(warmup_target)
    warmup_steps = float(warmup_steps)

    global_step_recomp = min(global_step_recomp, decay_steps + warmup_steps)

    if global_step_recomp < warmup_steps:
        return _warmup_function(global_step_recomp, warmup_steps, warmup_target,
                                initial_learning_rate)
    return _decay_function(global_step_recomp - warmup_steps, decay_steps, warmup_target)


def keras_cosine_decay_restarts(step, initial_learning_rate, first_decay_steps,
                                t_mul=2.0, m_mul=1.0, alpha=0.0):
    """Keras ``CosineDecayRestarts.__call__`` (SGDR).

    Source: keras-team/keras, keras/src/optimizers/schedules/learning_rate_schedule.py,
    class ``CosineDecayRestarts`` (same arithmetic as TF's
    tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py
    ``CosineDecayRestarts``).  The restart index is computed in closed form:
    geometric (``log``-based) when ``t_mul != 1``, ``floor`` otherwise.
    """
    if first_decay_steps <= 0:
        raise ValueError(
            "Argument `first_decay_steps` must be > 0. "
            f"Received: first_decay_steps={first_decay_steps}"
        )
    initial_learning_rate = float(initial_learning_rate)
    first_decay_steps = float(first_decay_steps)
    alpha = float(alpha)
    t_mul = float(t_mul)
    m_mul = float(m_mul)

    global_step_recomp = float(step)
    completed_fraction = global_step_recomp / first_decay_steps

    def compute_step(completed_fraction, geometric=False):
        """Helper for `cond` operation."""
        if geometric:
            i_restart = math.floor(
                math.log(1.0 - completed_fraction * (1.0 - t_mul)) / math.log(t_mul)
            )

            sum_r = (1.0 - math.pow(t_mul, i_restart)) / (1.0 - t_mul)
            completed_fraction = (completed_fraction - sum_r) / math.pow(t_mul, i_restart)

        else:
            i_restart = math.floor(completed_fraction)
            completed_fraction -= i_restart

        return i_restart, completed_fraction

    if t_mul == 1.0:
        i_restart, completed_fraction = compute_step(completed_fraction, geometric=False)
    else:
        i_restart, completed_fraction = compute_step(completed_fraction, geometric=True)

    m_fac = math.pow(m_mul, i_restart)
    cosine_decayed = 0.5 * m_fac * (1.0 + math.cos(math.pi * completed_fraction))
    decayed = (1 - alpha) * cosine_decayed + alpha

    return initial_learning_rate * decayed


def tf_natural_exp_decay(step, learning_rate, decay_steps, decay_rate, staircase=False):
    """TF v1 ``tf.compat.v1.train.natural_exp_decay``.

    Source: tensorflow/tensorflow,
    tensorflow/python/keras/optimizer_v2/legacy_learning_rate_decay.py,
    function ``natural_exp_decay`` (re-exported by
    tensorflow/python/training/learning_rate_decay.py): it builds
    ``natural_exp_rate = exp(-decay_rate)`` and delegates to
    ``learning_rate_schedule.ExponentialDecay(learning_rate, decay_steps,
    natural_exp_rate, staircase)``, i.e. ``lr * exp(-decay_rate) ** p``.
    (Pre-2.0 TF computed ``lr * exp(-decay_rate * p)`` directly; that older
    form is not what is transcribed here.)
    """
    natural_exp_rate = math.exp(-decay_rate)
    return keras_exponential_decay(step, learning_rate, decay_steps, natural_exp_rate,
                                   staircase=staircase)


def tf_linear_cosine_decay(step, learning_rate, decay_steps, num_periods=0.5,
                           alpha=0.0, beta=0.001):
    """TF ``LinearCosineDecay.__call__`` (= ``tf.compat.v1.train.linear_cosine_decay``).

    Source: tensorflow/tensorflow,
    tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py, class
    ``LinearCosineDecay``; wrapped by ``linear_cosine_decay`` in
    tensorflow/python/keras/optimizer_v2/legacy_learning_rate_decay.py.
    """
    initial_learning_rate = float(learning_rate)
    decay_steps = float(decay_steps)
    num_periods = float(num_periods)
    alpha = float(alpha)
    beta = float(beta)

    global_step_recomp = float(step)
    global_step_recomp = min(global_step_recomp, decay_steps)
    linear_decayed = (decay_steps - global_step_recomp) / decay_steps
    completed_fraction = global_step_recomp / decay_steps
    fraction = 2.0 * num_periods * completed_fraction
    cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * fraction))

    linear_cosine_decayed = (alpha + linear_decayed) * cosine_decayed + beta
    return initial_learning_rate * linear_cosine_decayed


def tf_noisy_linear_cosine_std(step, decay_steps, initial_variance=1.0,
                               variance_decay=0.55):
    """The noise standard deviation TF ``NoisyLinearCosineDecay`` uses at ``step``.

    Source: tensorflow/tensorflow,
    tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py, class
    ``NoisyLinearCosineDecay.__call__``: the step is first clipped to
    ``decay_steps``, then ``variance = initial_variance / (1 + step) **
    variance_decay`` and ``std = sqrt(variance)``.
    """
    decay_steps = float(decay_steps)
    initial_variance = float(initial_variance)
    variance_decay = float(variance_decay)

    global_step_recomp = float(step)
    global_step_recomp = min(global_step_recomp, decay_steps)
    variance = initial_variance / math.pow(1.0 + global_step_recomp, variance_decay)
    std = math.sqrt(variance)
    return std


def tf_noisy_linear_cosine_decay(step, learning_rate, decay_steps, initial_variance=1.0,
                                 variance_decay=0.55, num_periods=0.5, alpha=0.0,
                                 beta=0.001, noise=0.0):
    """TF ``NoisyLinearCosineDecay.__call__`` with the normal draw passed in.

    Source: tensorflow/tensorflow,
    tensorflow/python/keras/optimizer_v2/learning_rate_schedule.py, class
    ``NoisyLinearCosineDecay`` (wrapped by ``noisy_linear_cosine_decay`` in
    tensorflow/python/keras/optimizer_v2/legacy_learning_rate_decay.py).

    TF draws ``random_ops.random_normal(shape, stddev=std)``, which is
    ``standard_normal * std + 0``; here ``noise`` is that standard-normal draw
    (a float), so the added term is ``noise * std``.  The noise is added to
    the *linear* part, before multiplication by the cosine part, as in TF:
    ``(alpha + linear + noise*std) * cosine + beta``.  With ``noise=0`` this
    equals :func:`tf_linear_cosine_decay`.
    """
    initial_learning_rate = float(learning_rate)
    decay_steps = float(decay_steps)
    initial_variance = float(initial_variance)
    variance_decay = float(variance_decay)
    num_periods = float(num_periods)
    alpha = float(alpha)
    beta = float(beta)

    global_step_recomp = float(step)
    global_step_recomp = min(global_step_recomp, decay_steps)
    linear_decayed = (decay_steps - global_step_recomp) / decay_steps
    variance = initial_variance / math.pow(1.0 + global_step_recomp, variance_decay)
    std = math.sqrt(variance)
    noisy_linear_decayed = linear_decayed + (float(noise) * std + 0.0)

    completed_fraction = global_step_recomp / decay_steps
    fraction = 2.0 * num_periods * completed_fraction
    cosine_decayed = 0.5 * (1.0 + math.cos(math.pi * fraction))
    noisy_linear_cosine_decayed = (alpha + noisy_linear_decayed) * cosine_decayed + beta

    return initial_learning_rate * noisy_linear_cosine_decayed


def keras_legacy_sgd_lr(iterations, lr, decay):
    """Old Keras (2.x, standalone) optimizer ``decay`` argument.

    Source: keras-team/keras, keras/optimizers.py (Keras 2.3, read at commit
    0202c8a524624b8a56c80d7ff80896e1b9e4c1b2), ``SGD.get_updates``::

        lr = self.lr
        if self.initial_decay > 0:
            lr = lr * (1. / (1. + self.decay * K.cast(self.iterations, ...)))

    ``iterations`` is the optimizer's update counter *before* this update
    (0 at the first update; the ``update_add(self.iterations, 1)`` runs in the
    same update op).  The same line appears in that file's RMSprop, Adagrad,
    Adadelta, Adam, ... .  (tf.keras OptimizerV2 ``_decayed_lr`` computes the
    same quantity as ``lr / (1. + decay * iterations)``.)
    """
    lr = float(lr)
    if decay > 0:
        lr = lr * (1. / (1. + float(decay) * float(iterations)))
    return lr


# =============================================================================
# MXNet
# =============================================================================
#
# apache/mxnet  python/mxnet/lr_scheduler.py.  The index's copy of apache/mxnet
# itself was an old (pre-warmup) revision; the version with warmup_steps /
# warmup_begin_lr / warmup_mode and CosineScheduler was read from the mirror
# sarvex/mxnet (python/mxnet/lr_scheduler.py, commit
# c3c51896675dce308994e86e78eef290dc2c296b, current master incl. f-strings),
# whose scheduler code is that of MXNet >= 1.4.
#
# MXNet's Optimizer._update_count increments a per-index counter *before* the
# scheduler is queried, so the scheduler is called with num_update == 1 at the
# first update (see :func:`mxnet_lrs_for_updates`).


class _MXLRScheduler(object):
    """MXNet ``LRScheduler`` base class (warmup handling).

    Source: apache/mxnet python/mxnet/lr_scheduler.py, class ``LRScheduler``
    (``__init__``, ``get_warmup_lr``).
    """

    def __init__(self, base_lr=0.01,
                 warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear'):
        self.base_lr = base_lr
        assert isinstance(warmup_steps, int)
        self.warmup_steps = warmup_steps

        self.warmup_final_lr = base_lr
        self.warmup_begin_lr = warmup_begin_lr
        if self.warmup_begin_lr > self.warmup_final_lr:
            raise ValueError("Base lr has to be higher than warmup_begin_lr")
        if self.warmup_steps < 0:
            raise ValueError("Warmup steps has to be positive or 0")
        if warmup_mode not in ['linear', 'constant']:
            raise ValueError("Supports only linear and constant modes of warmup")
        self.warmup_mode = warmup_mode

    def get_warmup_lr(self, num_update):
        assert num_update < self.warmup_steps
        if self.warmup_mode == 'linear':
            increase = (self.warmup_final_lr - self.warmup_begin_lr) \
                       * float(num_update) / float(self.warmup_steps)
            return self.warmup_begin_lr + increase
        elif self.warmup_mode == 'constant':
            return self.warmup_begin_lr
        else:
            raise ValueError(f"Invalid warmup mode {self.warmup_mode}")

    def __call__(self, num_update):
        raise NotImplementedError("must override this")


class MXFactorScheduler(_MXLRScheduler):
    """MXNet ``FactorScheduler`` (stateful: mutates ``self.base_lr``).

    Source: apache/mxnet python/mxnet/lr_scheduler.py, class ``FactorScheduler``
    (read from mirror sarvex/mxnet @ c3c51896).  After warmup, every time
    ``num_update > count + step`` the lr is multiplied by ``factor`` (clamped
    at ``stop_factor_lr``), using ``while`` so that jumps catch up.
    Must be called with non-decreasing ``num_update`` (see :func:`run_stateful`).
    """

    def __init__(self, step, factor=1, stop_factor_lr=1e-8, base_lr=0.01,
                 warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear'):
        super(MXFactorScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr,
                                                warmup_mode)
        if step < 1:
            raise ValueError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise ValueError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)

        # NOTE: use while rather than if  (for continuing training via load_epoch)
        while num_update > self.count + self.step:
            self.count += self.step
            self.base_lr *= self.factor
            if self.base_lr < self.stop_factor_lr:
                self.base_lr = self.stop_factor_lr
                logging.info("Update[%d]: now learning rate arrived at %0.5e, will not "
                             "change in the future", num_update, self.base_lr)
            else:
                logging.info("Update[%d]: Change learning rate to %0.5e",
                             num_update, self.base_lr)
        return self.base_lr


class MXMultiFactorScheduler(_MXLRScheduler):
    """MXNet ``MultiFactorScheduler`` (stateful: mutates ``self.base_lr``).

    Source: apache/mxnet python/mxnet/lr_scheduler.py, class
    ``MultiFactorScheduler`` (read from mirror sarvex/mxnet @ c3c51896).
    The lr is multiplied by ``factor`` once ``num_update > step[k]`` (strict).
    """

    def __init__(self, step, factor=1, base_lr=0.01, warmup_steps=0, warmup_begin_lr=0,
                 warmup_mode='linear'):
        super(MXMultiFactorScheduler, self).__init__(base_lr, warmup_steps,
                                                     warmup_begin_lr, warmup_mode)
        assert isinstance(step, list) and len(step) >= 1
        for i, _step in enumerate(step):
            if i != 0 and step[i] <= step[i-1]:
                raise ValueError("Schedule step must be an increasing integer list")
            if _step < 1:
                raise ValueError("Schedule step must be greater or equal than 1 round")
        if factor > 1.0:
            raise ValueError("Factor must be no more than 1 to make lr reduce")
        self.step = step
        self.cur_step_ind = 0
        self.factor = factor
        self.count = 0

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)

        # NOTE: use while rather than if  (for continuing training via load_epoch)
        while self.cur_step_ind <= len(self.step)-1:
            if num_update <= self.step[self.cur_step_ind]:
                return self.base_lr
            self.count = self.step[self.cur_step_ind]
            self.cur_step_ind += 1
            self.base_lr *= self.factor
            logging.info("Update[%d]: Change learning rate to %0.5e",
                         num_update, self.base_lr)
        return self.base_lr


class MXPolyScheduler(_MXLRScheduler):
    """MXNet ``PolyScheduler`` (stateful: past ``max_update`` it returns the last value).

    Source: apache/mxnet python/mxnet/lr_scheduler.py, class ``PolyScheduler``
    (read from mirror sarvex/mxnet @ c3c51896)::

        final_lr + (base_lr_orig - final_lr) *
            pow(1 - float(num_update - warmup_steps) / float(max_steps), pwr)

    for ``warmup_steps <= num_update <= max_update``; ``max_steps =
    max_update - warmup_steps``.
    """

    def __init__(self, max_update, base_lr=0.01, pwr=2, final_lr=0,
                 warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear'):
        super(MXPolyScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr,
                                              warmup_mode)
        assert isinstance(max_update, int)
        if max_update < 1:
            raise ValueError("maximum number of updates must be strictly positive")
        self.power = pwr
        self.base_lr_orig = self.base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                pow(1 - float(num_update - self.warmup_steps) / float(self.max_steps),
                    self.power)
        return self.base_lr


class MXCosineScheduler(_MXLRScheduler):
    """MXNet ``CosineScheduler`` (stateful: past ``max_update`` it returns the last value).

    Source: apache/mxnet python/mxnet/lr_scheduler.py, class ``CosineScheduler``
    (read from mirror sarvex/mxnet @ c3c51896)::

        final_lr + (base_lr_orig - final_lr) *
            (1 + cos(pi * (num_update - warmup_steps) / max_steps)) / 2
    """

    def __init__(self, max_update, base_lr=0.01, final_lr=0,
                 warmup_steps=0, warmup_begin_lr=0, warmup_mode='linear'):
        super(MXCosineScheduler, self).__init__(base_lr, warmup_steps, warmup_begin_lr,
                                                warmup_mode)
        assert isinstance(max_update, int)
        if max_update < 1:
            raise ValueError("maximum number of updates must be strictly positive")
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.max_steps = self.max_update - self.warmup_steps

    def __call__(self, num_update):
        if num_update < self.warmup_steps:
            return self.get_warmup_lr(num_update)
        if num_update <= self.max_update:
            self.base_lr = self.final_lr + (self.base_lr_orig - self.final_lr) * \
                (1 + math.cos(math.pi * (num_update - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr


# =============================================================================
# d2l (Dive into Deep Learning), chapter "Learning Rate Scheduling"
# =============================================================================
#
# d2l-ai/d2l-en chapter_optimization/lr-scheduler.md, PyTorch tab.  The index's
# copy of d2l-ai/d2l-en was an old MXNet-only revision; the PyTorch-tab code was
# read from the fork barry-jin/d2l-en (same path, commit
# 897e8345ab9fc27c965b73ac345e83f981150e00) and matches the `#@tab all` /
# `#@tab pytorch, tensorflow` blocks of current translations (d2l-zh etc.).


class D2LSquareRootScheduler:
    """d2l ``SquareRootScheduler`` (PyTorch tab): ``lr * (num_update + 1) ** -0.5``.

    Source: d2l-ai/d2l-en chapter_optimization/lr-scheduler.md, class
    ``SquareRootScheduler`` (``#@tab pytorch, tensorflow`` block; read from
    fork barry-jin/d2l-en @ 897e8345).
    """

    def __init__(self, lr=0.1):
        self.lr = lr

    def __call__(self, num_update):
        return self.lr * pow(num_update + 1.0, -0.5)


class D2LFactorScheduler:
    """d2l ``FactorScheduler`` (stateful: *every call* multiplies by ``factor``).

    Source: d2l-ai/d2l-en chapter_optimization/lr-scheduler.md, class
    ``FactorScheduler`` (``#@tab all`` block; read from fork
    barry-jin/d2l-en @ 897e8345).  ``num_update`` is ignored; the first call
    already returns ``base_lr * factor``.
    """

    def __init__(self, factor=1, stop_factor_lr=1e-7, base_lr=0.1):
        self.factor = factor
        self.stop_factor_lr = stop_factor_lr
        self.base_lr = base_lr

    def __call__(self, num_update):
        self.base_lr = max(self.stop_factor_lr, self.base_lr * self.factor)
        return self.base_lr


class D2LCosineScheduler:
    """d2l ``CosineScheduler`` (PyTorch tab; stateful like MXNet's).

    Source: d2l-ai/d2l-en chapter_optimization/lr-scheduler.md, class
    ``CosineScheduler`` (``#@tab pytorch, tensorflow`` block; read from fork
    barry-jin/d2l-en @ 897e8345).  Linear warmup from ``warmup_begin_lr`` to
    ``base_lr`` for ``epoch < warmup_steps``; cosine to ``final_lr`` for
    ``epoch <= max_update``; afterwards the last computed value is returned.
    As in the original, ``self.base_lr`` does not exist until the first
    non-warmup call with ``epoch <= max_update`` (calling first with
    ``epoch > max_update`` raises AttributeError, as the original does).
    """

    def __init__(self, max_update, base_lr=0.01, final_lr=0,
                 warmup_steps=0, warmup_begin_lr=0):
        self.base_lr_orig = base_lr
        self.max_update = max_update
        self.final_lr = final_lr
        self.warmup_steps = warmup_steps
        self.warmup_begin_lr = warmup_begin_lr
        self.max_steps = self.max_update - self.warmup_steps

    def get_warmup_lr(self, epoch):
        increase = (self.base_lr_orig - self.warmup_begin_lr) \
                       * float(epoch) / float(self.warmup_steps)
        return self.warmup_begin_lr + increase

    def __call__(self, epoch):
        if epoch < self.warmup_steps:
            return self.get_warmup_lr(epoch)
        if epoch <= self.max_update:
            self.base_lr = self.final_lr + (
                self.base_lr_orig - self.final_lr) * (1 + math.cos(
                math.pi * (epoch - self.warmup_steps) / self.max_steps)) / 2
        return self.base_lr


# =============================================================================
# Smith's cyclical learning rates (bckenstler/CLR, reference Keras callback)
# =============================================================================


def smith_clr(iteration, base_lr, max_lr, step_size, mode='triangular', gamma=1.0,
              scale_fn=None, scale_mode='cycle'):
    """Cyclical learning rate of L. N. Smith (2017), Keras callback ``CyclicLR.clr``.

    Source: bckenstler/CLR, clr_callback.py (read at commit
    0852c6eda3b66f5d1a816fb1028472ee107673db), class ``CyclicLR``
    (``__init__`` scale functions and method ``clr``), evaluated with
    ``self.clr_iterations = iteration``::

        cycle = np.floor(1+self.clr_iterations/(2*self.step_size))
        x = np.abs(self.clr_iterations/self.step_size - 2*cycle + 1)
        base_lr + (max_lr-base_lr)*np.maximum(0, (1-x))*scale_fn(cycle)            # 'cycle'
        base_lr + (max_lr-base_lr)*np.maximum(0, (1-x))*scale_fn(clr_iterations)   # 'iterations'

    Modes: 'triangular' (scale 1, per cycle), 'triangular2'
    (``1/(2.**(cycle-1))``, per cycle), 'exp_range' (``gamma**iterations``,
    per iteration).  A custom ``scale_fn`` / ``scale_mode`` may be given as in
    the original.  In the callback the lr used for the k-th batch (0-based)
    is ``clr`` at ``clr_iterations = k`` (``on_train_begin`` sets ``base_lr`` =
    clr(0); ``on_batch_end`` increments then sets clr()).
    """
    if scale_fn is None:
        if mode == 'triangular':
            scale_fn = lambda x: 1.
            scale_mode = 'cycle'
        elif mode == 'triangular2':
            scale_fn = lambda x: 1/(2.**(x-1))
            scale_mode = 'cycle'
        elif mode == 'exp_range':
            scale_fn = lambda x: gamma**(x)
            scale_mode = 'iterations'
        else:
            raise ValueError(f"unknown mode {mode!r}")

    clr_iterations = float(iteration)
    cycle = np.floor(1+clr_iterations/(2*step_size))
    x = np.abs(clr_iterations/step_size - 2*cycle + 1)
    if scale_mode == 'cycle':
        return float(base_lr + (max_lr-base_lr)*np.maximum(0, (1-x))*scale_fn(cycle))
    else:
        return float(base_lr + (max_lr-base_lr)*np.maximum(0, (1-x))*scale_fn(clr_iterations))


# =============================================================================
# Hugging Face transformers
# =============================================================================
#
# huggingface/transformers  src/transformers/optimization.py, read at commit
# 005edacb6b5dabbf0843e92c6623de9e07ca6241 (2025-era: uses `tuple[...]` typing
# and huggingface.co/papers links).  Every schedule is a torch LambdaLR, whose
# lr is ``base_lr * lr_lambda(step)``; the functions below return that product.


def hf_constant_schedule_with_warmup(step, lr, num_warmup_steps):
    """HF ``get_constant_schedule_with_warmup``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``_get_constant_schedule_with_warmup_lr_lambda``.
    """
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1.0, num_warmup_steps))
        return 1.0
    return lr * lr_lambda(step)


def hf_linear_schedule_with_warmup(step, lr, num_warmup_steps, num_training_steps):
    """HF ``get_linear_schedule_with_warmup``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``_get_linear_schedule_with_warmup_lr_lambda``.
    """
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        return max(0.0, float(num_training_steps - current_step)
                   / float(max(1, num_training_steps - num_warmup_steps)))
    return lr * lr_lambda(step)


def hf_cosine_schedule_with_warmup(step, lr, num_warmup_steps, num_training_steps,
                                   num_cycles=0.5):
    """HF ``get_cosine_schedule_with_warmup``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``_get_cosine_schedule_with_warmup_lr_lambda``.  NOTE: that file defines
    ``_get_cosine_schedule_with_warmup_lr_lambda`` twice; the second
    definition (with ``min_lr_rate=0.0``, also used by
    ``get_cosine_with_min_lr_schedule_with_warmup``) shadows the first at
    import time, so it is the one ``get_cosine_schedule_with_warmup`` really
    uses, and it is the one transcribed (with ``min_lr_rate=0`` it equals the
    first one bit for bit).
    """
    def lr_lambda(current_step, min_lr_rate=0.0):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        progress = float(current_step - num_warmup_steps) \
            / float(max(1, num_training_steps - num_warmup_steps))
        factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
        factor = factor * (1 - min_lr_rate) + min_lr_rate
        return max(0, factor)
    return lr * lr_lambda(step)


def hf_cosine_with_hard_restarts_schedule_with_warmup(step, lr, num_warmup_steps,
                                                      num_training_steps, num_cycles=1):
    """HF ``get_cosine_with_hard_restarts_schedule_with_warmup``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``_get_cosine_with_hard_restarts_schedule_with_warmup_lr_lambda``.
    """
    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        progress = float(current_step - num_warmup_steps) \
            / float(max(1, num_training_steps - num_warmup_steps))
        if progress >= 1.0:
            return 0.0
        return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))
    return lr * lr_lambda(step)


def hf_polynomial_decay_schedule_with_warmup(step, lr, num_warmup_steps, num_training_steps,
                                             lr_end=1e-7, power=1.0):
    """HF ``get_polynomial_decay_schedule_with_warmup``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``get_polynomial_decay_schedule_with_warmup`` and
    ``_get_polynomial_decay_schedule_with_warmup_lr_lambda``.  ``lr_init`` is
    ``optimizer.defaults["lr"]``, taken here to be ``lr``; the lambda divides
    by ``lr_init`` and LambdaLR multiplies by the group's lr again.
    """
    lr_init = lr
    if not (lr_init > lr_end):
        raise ValueError(f"lr_end ({lr_end}) must be smaller than initial lr ({lr_init})")

    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        elif current_step > num_training_steps:
            return lr_end / lr_init  # as LambdaLR multiplies by lr_init
        else:
            lr_range = lr_init - lr_end
            decay_steps = num_training_steps - num_warmup_steps
            pct_remaining = 1 - (current_step - num_warmup_steps) / decay_steps
            decay = lr_range * pct_remaining**power + lr_end
            return decay / lr_init  # as LambdaLR multiplies by lr_init
    return lr * lr_lambda(step)


def hf_inverse_sqrt_schedule(step, lr, num_warmup_steps, timescale=None):
    """HF ``get_inverse_sqrt_schedule``.

    Source: huggingface/transformers src/transformers/optimization.py,
    ``get_inverse_sqrt_schedule`` (``timescale`` defaults to
    ``num_warmup_steps or 10_000``) and ``_get_inverse_sqrt_schedule_lr_lambda``.
    """
    if timescale is None:
        timescale = num_warmup_steps or 10_000

    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            return float(current_step) / float(max(1, num_warmup_steps))
        shift = timescale - num_warmup_steps
        decay = 1.0 / math.sqrt((current_step + shift) / timescale)
        return decay
    return lr * lr_lambda(step)


def hf_wsd_schedule(step, lr, num_warmup_steps, num_decay_steps, num_training_steps=None,
                    num_stable_steps=None, warmup_type='linear', decay_type='cosine',
                    min_lr_ratio=0, num_cycles=0.5):
    """HF ``get_wsd_schedule`` (warmup-stable-decay).

    Source: huggingface/transformers src/transformers/optimization.py,
    ``get_wsd_schedule`` and ``_get_wsd_scheduler_lambda``, as of commit
    005edacb6b5dabbf0843e92c6623de9e07ca6241 (the newest copy found; it has
    ``warmup_type`` in {'linear','cosine','1-sqrt'}).

    In this version the WARMUP STARTS FROM ``min_lr_ratio`` (the warmup factor
    is mapped through ``factor * (1 - min_lr_ratio) + min_lr_ratio``), not
    from 0 as in the first releases of ``get_wsd_schedule``.  After
    ``warmup + stable + decay`` steps the lambda is ``min_lr_ratio``.
    If both ``num_training_steps`` and ``num_stable_steps`` are given,
    ``num_stable_steps`` wins (HF warns).
    """
    if num_training_steps is None and num_stable_steps is None:
        raise ValueError("Either num_training_steps or num_stable_steps must be specified.")

    if warmup_type not in ["linear", "cosine", "1-sqrt"]:
        raise ValueError(f"Unknown warmup type: {warmup_type}, expected 'linear', 'cosine' or '1-sqrt'")

    if decay_type not in ["linear", "cosine", "1-sqrt"]:
        raise ValueError(f"Unknown decay type: {decay_type}, expected 'linear', 'cosine' or '1-sqrt'")

    if num_stable_steps is None:
        num_stable_steps = num_training_steps - num_warmup_steps - num_decay_steps

    def lr_lambda(current_step):
        if current_step < num_warmup_steps:
            progress = float(current_step) / float(max(1, num_warmup_steps))
            if warmup_type == "linear":
                factor = progress
            elif warmup_type == "cosine":
                factor = 0.5 * (1.0 - math.cos(math.pi * progress))
            elif warmup_type == "1-sqrt":
                factor = 1.0 - math.sqrt(1.0 - progress)
            factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
            return max(0.0, factor)

        if current_step < num_warmup_steps + num_stable_steps:
            return 1.0

        if current_step < num_warmup_steps + num_stable_steps + num_decay_steps:
            progress = float(current_step - num_warmup_steps - num_stable_steps) \
                / float(max(1, num_decay_steps))
            if decay_type == "linear":
                factor = 1.0 - progress
            elif decay_type == "cosine":
                factor = 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress))
            elif decay_type == "1-sqrt":
                factor = 1.0 - math.sqrt(progress)
            factor = factor * (1.0 - min_lr_ratio) + min_lr_ratio
            return max(0.0, factor)
        return min_lr_ratio

    return lr * lr_lambda(step)


# =============================================================================
# timm (huggingface/pytorch-image-models, timm/scheduler/*.py)
# =============================================================================
#
# Each timm scheduler's ``_get_lr(t)`` for a single param group whose initial
# lr is ``base_lr`` (``self.base_values == [base_lr]``).  Noise is off
# (``noise_range_t=None``, so ``Scheduler._add_noise`` is the identity) and
# ``k_decay = 1.0``.  ``t`` is the epoch (``step(epoch)``) or the update count
# (``step_update(num_updates)``), whichever the scheduler is driven by.


def _timm_warmup_steps(base_lr, warmup_t, warmup_lr_init):
    # Shared __init__ logic of timm's Cosine/Poly/Step/MultiStep schedulers.
    if warmup_t:
        return (base_lr - warmup_lr_init) / warmup_t
    return 1


def timm_cosine_lr(t, base_lr, t_initial, lr_min=0.0, cycle_mul=1.0, cycle_decay=1.0,
                   cycle_limit=1, warmup_t=0, warmup_lr_init=0.0, warmup_prefix=False):
    """timm ``CosineLRScheduler._get_lr`` (k_decay=1, no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/cosine_lr.py,
    class ``CosineLRScheduler`` (read at commits 7479d451a6dfd8af27f941b8e82a7402461fae80
    and 16664ea31ba52dc55c3744e69741fffddb4845da; identical ``_get_lr``).
    Warmup: ``warmup_lr_init + t * (base_lr - warmup_lr_init) / warmup_t``
    for ``t < warmup_t``; without ``warmup_prefix`` the cosine is evaluated at
    the unshifted ``t``.  After ``cycle_limit`` cycles the lr is ``lr_min``.
    """
    assert t_initial > 0
    assert lr_min >= 0
    base_values = [base_lr]
    k_decay = 1.0
    warmup_steps = [_timm_warmup_steps(v, warmup_t, warmup_lr_init) for v in base_values]

    if t < warmup_t:
        lrs = [warmup_lr_init + t * s for s in warmup_steps]
    else:
        if warmup_prefix:
            t = t - warmup_t

        if cycle_mul != 1:
            i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
            t_i = cycle_mul ** i * t_initial
            t_curr = t - (1 - cycle_mul ** i) / (1 - cycle_mul) * t_initial
        else:
            i = t // t_initial
            t_i = t_initial
            t_curr = t - (t_initial * i)

        gamma = cycle_decay ** i
        lr_max_values = [v * gamma for v in base_values]
        k = k_decay

        if i < cycle_limit:
            lrs = [
                lr_min + 0.5 * (lr_max - lr_min) * (1 + math.cos(math.pi * t_curr ** k / t_i ** k))
                for lr_max in lr_max_values
            ]
        else:
            lrs = [lr_min for _ in base_values]

    return float(lrs[0])


def timm_step_lr(t, base_lr, decay_t, decay_rate=1.0, warmup_t=0, warmup_lr_init=0.0,
                 warmup_prefix=True):
    """timm ``StepLRScheduler._get_lr`` (no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/step_lr.py, class
    ``StepLRScheduler`` (read at commits 59b3d86c1d69fe85ccb5bbdb2f1711eadae6e4a7
    and 16664ea31ba52dc55c3744e69741fffddb4845da): ``base_lr * decay_rate **
    (t // decay_t)``.

    NOTE: timm's default is ``warmup_prefix=True`` for this scheduler (unlike
    cosine/poly/tanh, whose default is False); the default here follows timm.
    """
    base_values = [base_lr]
    warmup_steps = [_timm_warmup_steps(v, warmup_t, warmup_lr_init) for v in base_values]

    if t < warmup_t:
        lrs = [warmup_lr_init + t * s for s in warmup_steps]
    else:
        if warmup_prefix:
            t = t - warmup_t
        lrs = [v * (decay_rate ** (t // decay_t)) for v in base_values]
    return float(lrs[0])


def timm_multistep_lr(t, base_lr, decay_t, decay_rate=1.0, warmup_t=0, warmup_lr_init=0.0,
                      warmup_prefix=True, legacy_t_plus_one=False):
    """timm ``MultiStepLRScheduler._get_lr`` (no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/multistep_lr.py,
    class ``MultiStepLRScheduler``. Released timm (1.0.x, e.g. the copy at
    commit b1b024dfed5870cb1238c8c7c326d6ea8ef67300 and timm 1.0.31 as
    installed by the dev extra) counts ``bisect_right(decay_t, t + 1)`` and so
    decays one step before each milestone: ``legacy_t_plus_one=True``. The
    unshifted ``bisect_right(decay_t, t)`` (the copy read at commit
    0514e98dfb5cef2abdd48d1810197df7911cf248, proposed in PRs #2745/#2753,
    which were closed unmerged) is ``legacy_t_plus_one=False``; the name of
    the flag is kept from when the unshifted form was taken for the current one.

    NOTE: timm's default is ``warmup_prefix=True`` for this scheduler; the
    default here follows timm.
    """
    base_values = [base_lr]
    warmup_steps = [_timm_warmup_steps(v, warmup_t, warmup_lr_init) for v in base_values]

    def get_curr_decay_steps(t):
        # find where in the array t goes,
        # assumes self.decay_t is sorted
        if legacy_t_plus_one:
            return bisect.bisect_right(decay_t, t + 1)
        return bisect.bisect_right(decay_t, t)

    if t < warmup_t:
        lrs = [warmup_lr_init + t * s for s in warmup_steps]
    else:
        if warmup_prefix:
            t = t - warmup_t
        lrs = [v * (decay_rate ** get_curr_decay_steps(t)) for v in base_values]
    return float(lrs[0])


def timm_poly_lr(t, base_lr, t_initial, power=0.5, lr_min=0.0, cycle_mul=1.0,
                 cycle_decay=1.0, cycle_limit=1, warmup_t=0, warmup_lr_init=0.0,
                 warmup_prefix=False):
    """timm ``PolyLRScheduler._get_lr`` (k_decay=1, no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/poly_lr.py, class
    ``PolyLRScheduler`` (read at commit 7479d451a6dfd8af27f941b8e82a7402461fae80):
    ``lr_min + (lr_max - lr_min) * (1 - t_curr / t_i) ** power`` within a cycle.
    """
    assert t_initial > 0
    assert lr_min >= 0
    base_values = [base_lr]
    k_decay = 1.0
    warmup_steps = [_timm_warmup_steps(v, warmup_t, warmup_lr_init) for v in base_values]

    if t < warmup_t:
        lrs = [warmup_lr_init + t * s for s in warmup_steps]
    else:
        if warmup_prefix:
            t = t - warmup_t

        if cycle_mul != 1:
            i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
            t_i = cycle_mul ** i * t_initial
            t_curr = t - (1 - cycle_mul ** i) / (1 - cycle_mul) * t_initial
        else:
            i = t // t_initial
            t_i = t_initial
            t_curr = t - (t_initial * i)

        gamma = cycle_decay ** i
        lr_max_values = [v * gamma for v in base_values]
        k = k_decay

        if i < cycle_limit:
            lrs = [
                lr_min + (lr_max - lr_min) * (1 - t_curr ** k / t_i ** k) ** power
                for lr_max in lr_max_values
            ]
        else:
            lrs = [lr_min for _ in base_values]

    return float(lrs[0])


def timm_tanh_lr(t, base_lr, t_initial, lb=-7.0, ub=3.0, lr_min=0.0, cycle_mul=1.0,
                 cycle_decay=1.0, cycle_limit=1, warmup_t=0, warmup_lr_init=0.0,
                 warmup_prefix=False):
    """timm ``TanhLRScheduler._get_lr`` (no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/tanh_lr.py, class
    ``TanhLRScheduler`` (read at commit 0d4c04f3497fcb3987174a43ab4836564e8ecd54,
    the version with ``lb=-7, ub=3`` and cycle_mul/cycle_decay/cycle_limit;
    older timm had ``lb=-6, ub=4, t_mul, decay_rate``).

    Unlike the other timm schedulers, when ``warmup_prefix`` is False the
    warmup ramps towards the lr the schedule has at ``t = warmup_t``
    (``self._get_lr(self.warmup_t)`` in ``__init__``), not towards ``base_lr``.
    """
    assert t_initial > 0
    assert lr_min >= 0
    assert lb < ub
    assert cycle_limit >= 0
    assert warmup_t >= 0
    assert warmup_lr_init >= 0
    base_values = [base_lr]

    def _get_lr(t, warmup_steps):
        if t < warmup_t:
            lrs = [warmup_lr_init + t * s for s in warmup_steps]
        else:
            if warmup_prefix:
                t = t - warmup_t

            if cycle_mul != 1:
                i = math.floor(math.log(1 - t / t_initial * (1 - cycle_mul), cycle_mul))
                t_i = cycle_mul ** i * t_initial
                t_curr = t - (1 - cycle_mul ** i) / (1 - cycle_mul) * t_initial
            else:
                i = t // t_initial
                t_i = t_initial
                t_curr = t - (t_initial * i)

            if i < cycle_limit:
                gamma = cycle_decay ** i
                lr_max_values = [v * gamma for v in base_values]

                tr = t_curr / t_i
                lrs = [
                    lr_min + 0.5 * (lr_max - lr_min) * (1 - math.tanh(lb * (1. - tr) + ub * tr))
                    for lr_max in lr_max_values
                ]
            else:
                lrs = [lr_min for _ in base_values]
        return lrs

    # __init__: warmup target is base_values if warmup_prefix else _get_lr(warmup_t)
    if warmup_t:
        t_v = base_values if warmup_prefix else _get_lr(warmup_t, None)
        warmup_steps = [(v - warmup_lr_init) / warmup_t for v in t_v]
    else:
        warmup_steps = [1 for _ in base_values]

    return float(_get_lr(t, warmup_steps)[0])


def timm_wsd_lr(t, base_lr, t_initial, decay_t, lr_min=0.0, stable_fn='constant',
                stable_timescale=None, stable_power=0.5, decay_fn='1-sqrt', decay_power=0.5,
                decay_ratio=0.1, warmup_t=0, warmup_lr_init=0.0):
    """timm ``WSDLRScheduler._get_lr`` (no noise).

    Source: huggingface/pytorch-image-models timm/scheduler/wsd_lr.py, class
    ``WSDLRScheduler`` (read at commit 803b7c2ac5eb419fef21fd8ef2a6e7bc151cf342;
    "Copyright 2026").  The warmup is always a prefix (no ``warmup_prefix``
    argument); ``t_initial`` is the stable + decay length, the decay covers
    its last ``decay_t`` steps::

        lr(t) = lr_min + (max(base_lr * stable(t_s), lr_min) - lr_min) * decay(frac)

    ``stable_fn`` in {'constant', 'rsqrt', 'power'}; ``decay_fn`` in
    {'linear', '1-sqrt', 'cosine', 'power', 'exp'} or a callable.
    """
    _STABLE_FNS = ('constant', 'rsqrt', 'power')
    _DECAY_FNS = ('linear', '1-sqrt', 'cosine', 'power', 'exp')
    if t_initial <= 0:
        raise ValueError(f'Invalid t_initial ({t_initial}), must be > 0.')
    if not 0 < decay_t <= t_initial:
        raise ValueError(f'Invalid decay_t ({decay_t}), must be in (0, t_initial] w/ t_initial={t_initial}.')
    if lr_min < 0:
        raise ValueError(f'Invalid lr_min ({lr_min}), must be >= 0.')
    if stable_fn not in _STABLE_FNS:
        raise ValueError(f'Invalid stable_fn ({stable_fn}), must be one of {_STABLE_FNS}.')
    if isinstance(decay_fn, str) and decay_fn not in _DECAY_FNS:
        raise ValueError(f'Invalid decay_fn ({decay_fn}), must be one of {_DECAY_FNS} or a callable.')
    if not 0. < decay_ratio < 1.:
        raise ValueError(f'Invalid decay_ratio ({decay_ratio}), must be in (0, 1).')
    if decay_power <= 0:
        raise ValueError(f'Invalid decay_power ({decay_power}), must be > 0.')
    if stable_power <= 0:
        raise ValueError(f'Invalid stable_power ({stable_power}), must be > 0.')
    if stable_fn != 'constant':
        if stable_timescale is None:
            stable_timescale = warmup_t
        if stable_timescale <= 0:
            raise ValueError(
                f'stable_fn={stable_fn} requires a positive stable_timescale, it defaults to warmup_t '
                f'({warmup_t}), set it explicitly when there is no warmup.')

    base_values = [base_lr]
    warmup_steps = [_timm_warmup_steps(v, warmup_t, warmup_lr_init) for v in base_values]

    def _stable(t_s):
        """Stable phase factor at t_s (time since the end of warmup), 1 at t_s = 0."""
        if stable_fn == 'constant':
            return 1.
        power = 0.5 if stable_fn == 'rsqrt' else stable_power
        return (1. + t_s / stable_timescale) ** -power

    def _decay(frac):
        """Decay phase factor at decay progress frac in [0, 1], from 1 to 0."""
        if callable(decay_fn):
            return decay_fn(frac)
        if decay_fn == 'linear':
            return 1. - frac
        if decay_fn == '1-sqrt':
            return 1. - math.sqrt(frac)
        if decay_fn == 'cosine':
            return 0.5 * (1. + math.cos(math.pi * frac))
        if decay_fn == 'power':
            return 1. - frac ** decay_power
        # exp: r ** frac decays to r at frac == 1, normalized to reach 0
        r = decay_ratio
        return (r ** frac - r) / (1. - r)

    if t < warmup_t:
        return float([warmup_lr_init + t * s for s in warmup_steps][0])

    t_s = t - warmup_t
    # a decaying stable fn is kept at or above lr_min, the decay then has nothing left to do
    stable_lrs = [max(v * _stable(t_s), lr_min) for v in base_values]
    t_decay = t_s - (t_initial - decay_t)
    if t_decay <= 0:
        return float(stable_lrs[0])
    decay = _decay(min(t_decay / decay_t, 1.))
    return float([lr_min + (lr - lr_min) * decay for lr in stable_lrs][0])


# =============================================================================
# Papers: LLM-era schedules (step = the 0-based count of updates already applied)
# =============================================================================


def hagele_wsd_lr(step, lr, n_iterations, n_warmup, final_lr_factor=0.0, init_div_factor=100,
                  fract_decay=0.1, decay_type="linear"):
    """Hägele et al. 2024's WSD ("constant LR + cooldown"): ``lr * wsd_schedule(...)(step)``.

    Source: epfml/schedules-and-scaling ``src/optim/utils.py``, function
    ``wsd_schedule`` at commit 6e8b7f952420c928cc09a0e4bda9678e2bf42e5f, read in
    a verbatim copy that cites that commit (the copy's ``LambdaLR`` passes the
    0-based step). The cooldown is ``int(fract_decay * n_iterations)`` steps at
    the end of the run; the warmup, counted inside the run, starts at
    ``1 / init_div_factor``. Only the decay types jaxlr maps are transcribed:
    ``linear``, ``cosine``, ``sqrt`` (1-sqrt) and ``square`` (``1 - p**2``).
    """
    n_anneal_steps = int(fract_decay * n_iterations)
    n_hold = n_iterations - n_anneal_steps
    if step < n_warmup:
        factor = (step / n_warmup) + (1 - step / n_warmup) / init_div_factor
    elif step < n_hold:
        factor = 1.0
    elif step < n_iterations:
        progress = (step - n_hold) / n_anneal_steps
        if decay_type == "linear":
            factor = final_lr_factor + (1 - final_lr_factor) * (1 - progress)
        elif decay_type == "cosine":
            factor = final_lr_factor + (1 - final_lr_factor) * (1 + math.cos(math.pi * progress)) * 0.5
        elif decay_type == "sqrt":
            factor = final_lr_factor + (1 - final_lr_factor) * (1 - math.sqrt(progress))
        elif decay_type == "square":
            factor = final_lr_factor + (1 - final_lr_factor) * (1 - progress ** 2)
        else:
            raise ValueError(decay_type)
    else:
        factor = final_lr_factor
    return lr * factor


def bergsma_d2z_lr(step, peak_lr, total_steps, warmup_steps):
    """Bergsma et al. 2025's linear decay to zero ("D2Z"), from the paper's description:
    a linear warmup from 0 to the peak over ``warmup_steps``, then a linear decay to 0
    at ``total_steps`` (the end of training), 0 after."""
    if step < warmup_steps:
        return peak_lr * step / warmup_steps
    if step >= total_steps:
        return 0.0
    return peak_lr * (total_steps - step) / (total_steps - warmup_steps)


def shen_power_lr(step, lr_max, batch_size, sequence_length, a, b, warmup_steps,
                  total_steps=None, decay_steps=0):
    """Shen et al. 2024's Power scheduler, with ``n = step * batch_size * sequence_length``
    tokens: ``eta_power(n) = min(lr_max, batch_size * a * n**b)``;
    ``n / N_warmup * eta_power(N_warmup)`` during the warmup, ``eta_power(n)`` until
    ``N - N_decay``, then ``f * eta_power(N - N_decay)`` with the exponential decay of
    IBM dolomite-engine (``dolomite_engine/optimization/scheduler.py``,
    ``ExponentialScheduler``, ``_exponential(a=(1 - r) e/(e - 1), b=(r e - 1)/(e - 1),
    t=N_decay, x)`` with ``lr_decay_factor r = 0``), which reaches 0 at ``N``.
    Defined for ``step <= total_steps`` (training ends there)."""
    tokens_per_step = batch_size * sequence_length

    def power(tokens):
        if tokens == 0:
            return lr_max if b < 0 else min(lr_max, batch_size * a)
        return min(lr_max, batch_size * a * tokens ** b)

    def exponential(x, t):
        r = 0.0
        coef = (1 - r) * math.e / (math.e - 1)
        offset = (r * math.e - 1) / (math.e - 1)
        return coef * math.exp(-x / t) + offset

    if step < warmup_steps:
        return step / warmup_steps * power(warmup_steps * tokens_per_step)
    if total_steps is None or step <= total_steps - decay_steps:
        return power(step * tokens_per_step)
    start = total_steps - decay_steps
    return exponential(step - start, decay_steps) * power(start * tokens_per_step)


# =============================================================================
# Helpers
# =============================================================================


def run_stateful(obj, steps):
    """Call a stateful schedule ``obj`` for each step, in increasing order.

    Stateful references (MXNet schedulers, d2l's Factor/Cosine schedulers)
    must see their steps in order, exactly as a training loop would call
    them.  ``steps`` must therefore be non-decreasing (a ValueError is raised
    otherwise); the returned list of floats is aligned with ``steps``.
    """
    steps = list(steps)
    for a, b in zip(steps, steps[1:]):
        if b < a:
            raise ValueError("run_stateful needs steps in non-decreasing order")
    return [float(obj(s)) for s in steps]


def mxnet_lrs_for_updates(scheduler, num_updates):
    """Learning rates an MXNet optimizer would use for updates 1..num_updates.

    MXNet's ``Optimizer._update_count`` increments the update counter before
    ``_get_lr`` queries ``lr_scheduler(self.num_update)``, so the first update
    uses ``scheduler(1)``.  Returns a list whose element ``k`` is the lr of
    the ``(k+1)``-th update.
    """
    return run_stateful(scheduler, range(1, num_updates + 1))
