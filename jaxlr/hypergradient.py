"""Online hypergradient descent: an lr adapted every step from consecutive gradients.

Baydin et al., "Online Learning Rate Adaptation with Hypergradient Descent"
(ICLR 2018, arXiv:1703.04782): SGD-HD, SGDN-HD and Adam-HD as one optax
transformation whose state records the lr it applied (see :mod:`jaxlr.readout`).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxlr import _core
from jaxlr import _validation as v

__all__ = ["HypergradientState", "hypergradient_descent"]

_FN = "hypergradient_descent"
_METHODS = ("sgd", "sgdn", "adam")
# which method reads which optional hyperparameter, and its default there
_OWN = {"momentum": ("sgdn", 0.9), "b1": ("adam", 0.9), "b2": ("adam", 0.999),
        "eps": ("adam", 1e-8)}


class HypergradientState(NamedTuple):
    """State of ``hypergradient_descent``; every field is an array or a pytree of them.

    ``learning_rate`` is the lr the last update applied, ``alpha * scale``
    (before the first update, the one the first update will apply): the
    field that :func:`jaxlr.lr_used` reads. ``alpha`` is the adapted lr and
    ``scale`` the schedule's value that update used (1 without a schedule).
    ``direction`` is the last update per unit lr for ``"sgd"`` and ``"sgdn"``
    (``()`` for ``"adam"``, which recomputes it from its moments, as the
    reference does); ``mu`` is Nesterov's velocity (``"sgdn"``) or Adam's
    first moment, ``nu`` Adam's second moment (``()`` where unused).
    """

    count: jax.Array
    learning_rate: jax.Array
    alpha: jax.Array
    scale: jax.Array
    direction: optax.Updates
    mu: optax.Updates
    nu: optax.Updates


def _dot(a, b):
    # elementwise product and sum, not jnp.vdot: a dot may run in TF32 on GPUs
    leaves = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    return sum(jnp.sum(x * y) for x, y in leaves)


def hypergradient_descent(method, learning_rate, hyper_lr, *, momentum=None, b1=None,
                          b2=None, eps=None, weight_decay=0.0, schedule=None):
    r"""SGD, SGD with Nesterov momentum or Adam whose lr learns itself online.

    Each update first moves the lr :math:`\alpha` along the derivative of the
    loss with respect to it through the previous update (the hypergradient),
    then takes the base method's step with the new lr. With
    :math:`g_t = \nabla f(\theta_{t-1}) + \lambda\theta_{t-1}` (``weight_decay``
    :math:`\lambda`, an L2 term added to the gradient as in the reference),
    :math:`s_t` the schedule's value at the count of updates already applied
    (1 without a schedule) and :math:`d_t` the step per unit lr, update
    :math:`t = 1, 2, \ldots` is

    .. math::
      h_t = g_t \cdot \nabla_\alpha u_{t-1}, \qquad
      \alpha_t = \alpha_{t-1} - \beta h_t, \qquad
      u_t = -\alpha_t s_{t-1} d_t, \qquad
      \nabla_\alpha u_t = -s_{t-1} d_t,

    with :math:`\nabla_\alpha u_0 = 0` (the first update keeps
    :math:`\alpha_1 = \alpha_0`), one dot product over all parameters, and

    - ``"sgd"`` (SGD-HD): :math:`d_t = g_t`, so
      :math:`\alpha_t = \alpha_{t-1} + \beta\, s_{t-2}\, g_t \cdot g_{t-1}`;
    - ``"sgdn"`` (SGDN-HD, momentum :math:`\mu`): :math:`v_t = \mu v_{t-1} + g_t`
      (:math:`v_0 = 0`), :math:`d_t = g_t + \mu v_t`;
    - ``"adam"`` (Adam-HD): :math:`m_t = \beta_1 m_{t-1} + (1 - \beta_1) g_t`,
      :math:`v_t = \beta_2 v_{t-1} + (1 - \beta_2) g_t^2`,
      :math:`d_t = \hat m_t / (\sqrt{\hat v_t} + \epsilon)` with
      :math:`\hat m_t = m_t / (1 - \beta_1^t)`, :math:`\hat v_t = v_t / (1 - \beta_2^t)`.

    The lr applied by update :math:`t` is :math:`\alpha_t s_{t-1}`. The
    schedule multiplies the adapted lr, and :math:`\alpha` is what is learned:
    by the chain rule the derivative of the update with respect to
    :math:`\alpha` includes the schedule's factor, so a schedule at 0 also stops
    the adaptation, and a constant schedule :math:`c` gives the same run as no
    schedule with ``learning_rate`` :math:`c\alpha_0` and ``hyper_lr``
    :math:`c^2\beta`. With ``hyper_lr=0`` the methods are ``optax.sgd(lr)``,
    ``optax.sgd(lr, momentum, nesterov=True)`` and ``optax.adam(lr, b1, b2, eps)``.
    :math:`\alpha` is not clipped: a large ``hyper_lr`` can make it negative,
    as in the reference.

    The dot product is over the gradient this transformation receives (after
    e.g. a clipping before it in an ``optax.chain``). Do not wrap it in
    ``optax.inject_hyperparams``: its ``learning_rate`` is only
    :math:`\alpha_0`, and :func:`jaxlr.lr_used` would count it twice. Every
    numeric argument may be a traced array: to sweep, build the optimizer
    inside the ``jax.vmap``-ed function.

    >>> import jax, jax.numpy as jnp, optax, jaxlr
    >>> tx = jaxlr.hypergradient_descent("sgd", learning_rate=0.1, hyper_lr=0.01)
    >>> loss = lambda p: 0.5 * jnp.sum(p ** 2)
    >>> params = jnp.array([1.0, -2.0])
    >>> state = tx.init(params)
    >>> for _ in range(3):
    ...     updates, state = tx.update(jax.grad(loss)(params), state)
    ...     params = optax.apply_updates(params, updates)
    >>> print(f"{jaxlr.lr_used(state):.4f}")    # 0.1, 0.145, 0.1796: the loss kept falling
    0.1796

    Args:
      method: static, ``"sgd"`` (SGD-HD), ``"sgdn"`` (SGDN-HD) or ``"adam"`` (Adam-HD).
      learning_rate: the initial lr :math:`\alpha_0`, ``>= 0`` (the paper: 0.001).
      hyper_lr: the hypergradient lr :math:`\beta`, ``>= 0`` (the paper's runs,
        ``run.sh``: 0.001 for SGD-HD and SGDN-HD, 1e-7 for Adam-HD, 1e-8 for
        Adam-HD on VGG/CIFAR-10; the reference classes default to 1e-6 and 1e-8).
      momentum: ``"sgdn"`` only, in ``[0, 1)``; default 0.9.
      b1: ``"adam"`` only, in ``[0, 1)``; default 0.9.
      b2: ``"adam"`` only, in ``[0, 1)``; default 0.999.
      eps: ``"adam"`` only, ``>= 0``; default 1e-8.
      weight_decay: L2 coefficient :math:`\lambda` added to the gradient before
        the hypergradient and the moments, ``>= 0`` (the reference's ``train.py``
        uses 1e-4); when not a concrete 0, ``update`` needs ``params``.
      schedule: an optional ``optax.Schedule`` of the int32 count of updates
        already applied, multiplying the adapted lr.

    Returns:
      An ``optax.GradientTransformation`` with state :class:`HypergradientState`.

    Raises:
      ValueError: an unknown method, a concrete value outside its domain, or a
        hyperparameter the method does not read (``momentum`` outside
        ``"sgdn"``; ``b1``, ``b2``, ``eps`` outside ``"adam"``).

    References:
      Baydin, Cornish, Martinez Rubio, Schmidt, Wood, "Online Learning Rate
      Adaptation with Hypergradient Descent", ICLR 2018, arXiv:1703.04782,
      Section 3 and its algorithms SGD-HD, SGDN-HD and Adam-HD. The authors' code,
      github.com/gbaydin/hypergradient-descent, ``hypergrad/sgd_hd.py``
      (``SGDHD`` with ``nesterov=True`` for SGDN-HD) and ``hypergrad/adam_hd.py``,
      in ``step()``. Two details of its ``AdamHD`` are not the paper's and are
      not followed here: it updates the lr once per parameter tensor with that
      tensor's share of the dot product (the later tensors' steps see an lr that
      already includes the earlier tensors' hypergradients), and it adds
      :math:`\epsilon` to :math:`\sqrt{v_t}` before the bias correction (the
      PyTorch Adam of 2017), i.e. :math:`\epsilon/\sqrt{1 - \beta_2^t}` in the
      formula above. With one parameter array and ``eps=0`` the two agree.
    """
    v.check_choice(_FN, "method", method, _METHODS)
    given = {"momentum": momentum, "b1": b1, "b2": b2, "eps": eps}
    for name, value in given.items():
        owner, default = _OWN[name]
        if value is not None and method != owner:
            raise ValueError(
                f"jaxlr.{_FN}: {name}={value!r} is not read by method={method!r} (only "
                f"{owner!r} reads {name}); a hyperparameter nothing reads is an error")
        if value is None and method == owner:
            given[name] = default
    momentum, b1, b2, eps = given["momentum"], given["b1"], given["b2"], given["eps"]
    v.check(_FN, "learning_rate", learning_rate, nonneg=True)
    v.check(_FN, "hyper_lr", hyper_lr, nonneg=True)
    v.check(_FN, "weight_decay", weight_decay, nonneg=True)
    for name in ("momentum", "b1", "b2"):
        if given[name] is not None:
            v.check(_FN, name, given[name], lo=0.0, hi=1.0, hi_open=True)
    if eps is not None:
        v.check(_FN, "eps", eps, nonneg=True)
    if schedule is not None:
        v.check_schedule(_FN, "schedule", schedule)
    known_decay = v.concrete(weight_decay)
    decays = known_decay is None or bool((known_decay != 0).any())

    def scale_at(count, dtype):
        if schedule is None:
            return jnp.ones((), dtype)
        return jnp.asarray(schedule(count), dtype)

    def init_fn(params):
        alpha = _core.as_float(learning_rate)
        count = jnp.zeros((), jnp.int32)
        scale = scale_at(count, alpha.dtype)

        def zeros():
            return jax.tree_util.tree_map(jnp.zeros_like, params)

        return HypergradientState(
            count=count, learning_rate=alpha * scale, alpha=alpha, scale=scale,
            direction=() if method == "adam" else zeros(),
            mu=zeros() if method != "sgd" else (), nu=zeros() if method == "adam" else ())

    def update_fn(updates, state, params=None):
        grads = updates
        if decays:
            if params is None:
                raise ValueError(f"jaxlr.{_FN}: weight_decay={weight_decay!r} needs the "
                                 "params: call update(updates, state, params)")
            grads = jax.tree_util.tree_map(lambda g, p: g + weight_decay * p, grads, params)
        count = state.count
        mu, nu = state.mu, state.nu
        if method == "adam":
            # the previous step per unit lr, from the moments that made it; nothing before
            # the first update (its bias corrections would divide by zero)
            t = jnp.maximum(count, 1).astype(state.alpha.dtype)
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            previous = jax.tree_util.tree_map(
                lambda m, n: m / c1 / (jnp.sqrt(n / c2) + eps), mu, nu)
            h = jnp.where(count > 0, _dot(grads, previous), 0)
        else:
            h = _dot(grads, state.direction)  # zero before the first update
        # alpha_t = alpha_{t-1} - beta g_t . du_{t-1}/dalpha, du_{t-1}/dalpha = -s d_{t-1}
        alpha = state.alpha + hyper_lr * state.scale * h
        scale = scale_at(count, alpha.dtype)
        lr = alpha * scale
        if method == "sgd":
            direction = grads
        elif method == "sgdn":
            mu = jax.tree_util.tree_map(lambda m, g: momentum * m + g, mu, grads)
            direction = jax.tree_util.tree_map(lambda g, m: g + momentum * m, grads, mu)
        else:
            mu = jax.tree_util.tree_map(lambda m, g: b1 * m + (1 - b1) * g, mu, grads)
            nu = jax.tree_util.tree_map(lambda n, g: b2 * n + (1 - b2) * g * g, nu, grads)
            t = count.astype(alpha.dtype) + 1  # as a float: count + 1 overflows at 2**31 - 1
            c1, c2 = 1 - b1 ** t, 1 - b2 ** t
            direction = jax.tree_util.tree_map(
                lambda m, n: m / c1 / (jnp.sqrt(n / c2) + eps), mu, nu)
        new_updates = jax.tree_util.tree_map(
            lambda d, u: (-lr * d).astype(u.dtype), direction, updates)
        return new_updates, HypergradientState(
            count=optax.safe_increment(count), learning_rate=lr, alpha=alpha, scale=scale,
            direction=() if method == "adam" else direction, mu=mu, nu=nu)

    return optax.GradientTransformation(init_fn, update_fn)
