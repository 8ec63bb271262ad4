"""lr_used: the lr of the last update, read from real optax states under jit.

Each case runs a few jitted updates on a small quadratic and compares what
lr_used reads with a value computed independently: the schedule at k - 1, the
step the update actually made (-update / gradient for SGD-like updates), or a
reference implementation of the method.
"""

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax
import optax.contrib
import pytest

import jaxlr
from jaxlr.readout import lr_used

PARAMS = {"w": jnp.array([1.0, -2.0, 0.5]), "b": jnp.array([0.3])}
TARGET = {"w": jnp.array([3.0, 1.0, -1.0]), "b": jnp.array([-1.0])}
SCHEDULE = jaxlr.warmup(jaxlr.cosine(0.1, decay_steps=8, end_value=0.01), warmup_steps=2)


def loss(p):
    return sum(jnp.sum(c * (p[k] - TARGET[k]) ** 2) for k, c in (("w", 1.0), ("b", 0.5)))


def run(tx, steps, params=PARAMS, between=None, **extra):
    """``steps`` jitted updates; per update: (lr_used inside the step, state, params, grads, updates)."""
    @jax.jit
    def step(params, state):
        value, grads = jax.value_and_grad(loss)(params)
        named = {"loss": value, "grads": grads}
        kw = {k: named.get(v, v) if isinstance(v, str) else v for k, v in extra.items()}
        updates, state = tx.update(grads, state, params, **kw)
        return optax.apply_updates(params, updates), state, lr_used(state), grads, updates

    state = tx.init(params)
    out = []
    for k in range(steps):
        new_params, state, lr, grads, updates = step(params, state)
        out.append((lr, state, params, grads, updates))
        params = new_params
        if between is not None:
            state = between(k, state)
    return out


def ratio(updates, grads):
    """The step of an SGD-like update, ``-update / gradient``, checked equal on every entry."""
    u, g = (np.concatenate([np.ravel(t[k]) for k in ("w", "b")]) for t in (updates, grads))
    r = -u[g != 0] / g[g != 0]
    np.testing.assert_allclose(r, r[0], rtol=1e-5)
    return r[0]


def sched(k):
    return float(SCHEDULE(k))


def test_inject_hyperparams_reads_the_schedule_at_k_minus_1_the_value_the_update_used():
    tx = optax.inject_hyperparams(optax.sgd)(learning_rate=SCHEDULE)
    assert float(lr_used(tx.init(PARAMS))) == pytest.approx(sched(0))  # what update 1 will use
    for k, (lr, _, _, grads, updates) in enumerate(run(tx, 5), start=1):
        assert isinstance(lr, jax.Array)
        assert float(lr) == pytest.approx(sched(k - 1), rel=1e-6)
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)


def test_jaxlr_plateau_in_the_chain_multiplies_and_is_read_as_it_stands():
    tx = optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=SCHEDULE),
                     jaxlr.reduce_on_plateau(factor=0.5, patience=0))
    # observe a worsening metric after each update: the value halves from the 2nd on
    out = run(tx, 5, between=lambda k, s: jaxlr.observe(s, float(k)))
    for k, (lr, state, _, grads, updates) in enumerate(out, start=1):
        expected = sched(k - 1) * 0.5 ** max(k - 2, 0)
        assert float(lr) == pytest.approx(expected, rel=1e-6)
        assert ratio(updates, grads) == pytest.approx(expected, rel=1e-5)
    # after an observation the plateau's factor is the next update's (the schedule's is
    # still the last update's), which is why the docs say to read lr_used in the step
    assert float(lr_used(jaxlr.observe(out[-1][1], 99.0))) == pytest.approx(
        sched(4) * 0.5 ** 4, rel=1e-6)


def test_optax_contrib_plateau_scale_is_the_one_the_update_used():
    tx = optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
                     optax.contrib.reduce_on_plateau(factor=0.5, patience=1))
    # value=: a metric that never improves on its first value
    out = run(tx, 5, value=1.0)
    scales = [float(s[1].scale) for _, s, *_ in out]
    assert scales[-1] < 1.0  # the scale was cut, so the check below means something
    for lr, state, _, grads, updates in out:
        assert float(lr) == pytest.approx(0.1 * float(state[1].scale), rel=1e-6)
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)


def test_a_plateau_scales_only_its_own_group():
    inner = optax.multi_transform(
        {"a": optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
                          jaxlr.reduce_on_plateau(init_value=0.5)),
         "b": optax.inject_hyperparams(optax.sgd)(learning_rate=0.2)},
        {"w": "a", "b": "b"})
    lr = lr_used(inner.init(PARAMS))
    assert {k: float(v) for k, v in lr.items()} == pytest.approx({"a": 0.05, "b": 0.2})
    outer = optax.chain(inner, optax.contrib.reduce_on_plateau())  # scales every group
    lr = lr_used(outer.init(PARAMS))
    assert {k: float(v) for k, v in lr.items()} == pytest.approx({"a": 0.05, "b": 0.2})


EMBED_PARAMS = {"embed": jnp.array([[0.5, -0.5], [1.0, 0.0], [0.0, 2.0]]),
                "dense": {"kernel": jnp.array([[1.0, -1.0], [0.5, 0.5]]), "bias": jnp.array([0.2, -0.1])},
                "frozen": jnp.array([1.0, 2.0])}


def group_of(path, _):
    names = [getattr(k, "key", None) for k in path]
    if "embed" in names:
        return "embedding"
    if "frozen" in names:
        return "frozen"
    return "no_decay" if names[-1] == "bias" else "decay"


def test_multi_transform_gives_each_group_its_lr():
    schedule = jaxlr.warmup(jaxlr.cosine(1e-2, decay_steps=20), warmup_steps=2)
    tx = optax.multi_transform(
        {"decay": optax.inject_hyperparams(optax.adamw)(learning_rate=schedule, weight_decay=0.1),
         "no_decay": optax.inject_hyperparams(optax.adam)(learning_rate=schedule),
         "embedding": optax.inject_hyperparams(optax.adamw)(
             learning_rate=jaxlr.scale(schedule, 0.1), weight_decay=0.1),
         "frozen": optax.inject_hyperparams(optax.sgd)(learning_rate=0.0)},
        lambda params: jax.tree_util.tree_map_with_path(group_of, params))

    def embed_loss(p):
        x = p["embed"] @ p["dense"]["kernel"] + p["dense"]["bias"]
        return jnp.sum((x - 1.0) ** 2) + jnp.sum(p["frozen"] ** 2)

    @jax.jit
    def step(params, state):
        grads = jax.grad(embed_loss)(params)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, lr_used(state)

    params, state = EMBED_PARAMS, tx.init(EMBED_PARAMS)
    for k in range(1, 4):
        params, state, lr = step(params, state)
        s = float(schedule(k - 1))
        assert {g: float(v) for g, v in lr.items()} == pytest.approx(
            {"decay": s, "no_decay": s, "embedding": 0.1 * s, "frozen": 0.0}, rel=1e-6)
    np.testing.assert_array_equal(params["frozen"], EMBED_PARAMS["frozen"])  # lr 0: unchanged


def prodigy_reference(lr, steps, b1=0.9, b2=0.999, eps=1e-8, d0=1e-3):
    """Prodigy (optax's update, safeguard_warmup=False), float64: params and d after each update."""
    x = {k: np.asarray(v, np.float64) for k, v in PARAMS.items()}
    x0 = {k: v.copy() for k, v in x.items()}
    ea, eas, s = ({k: np.zeros_like(v) for k, v in x.items()} for _ in range(3))
    b3, d, nw = b2 ** 0.5, d0, 0.0
    out = []
    for k in range(1, steps + 1):
        g = {i: 2 * c * (x[i] - np.asarray(TARGET[i], np.float64)) for i, c in (("w", 1.0), ("b", 0.5))}
        dlr = d * lr * np.sqrt(1 - b2 ** k) / (1 - b1 ** k)  # the d this update uses
        nw = b3 * nw + (d / d0) * dlr * sum(np.vdot(g[i], x0[i] - x[i]) for i in x)
        for i in x:
            ea[i] = b1 * ea[i] + (1 - b1) * d * g[i]
            eas[i] = b2 * eas[i] + (1 - b2) * (d * g[i]) ** 2
            s[i] = b3 * s[i] + dlr * d * g[i] / d0
        d_new = max(d, nw / sum(np.abs(v).sum() for v in s.values()))
        x = {i: x[i] - dlr * ea[i] / (np.sqrt(eas[i]) + d_new * eps) for i in x}
        d = d_new
        out.append((x, d))
    return out


def test_prodigy_is_lr_times_the_d_estimate_of_the_last_update():
    tx = optax.inject_hyperparams(optax.contrib.prodigy)(learning_rate=1.0, estim_lr0=1e-2)
    out = run(tx, 8)
    ref = prodigy_reference(1.0, 8, d0=1e-2)
    assert ref[-1][1] > 5e-2  # d grew, so the reading is not the initial estimate
    for (lr, state, *_), (_, d_ref) in zip(out, ref):
        assert float(lr) == pytest.approx(d_ref, rel=1e-4)
        assert float(lr) == pytest.approx(float(state.inner_state.estim_lr), rel=1e-6)
    # the reference's trajectory is optax's: its d is the one that drives the updates
    for k in range(len(out) - 1):
        for i in ("w", "b"):
            np.testing.assert_allclose(out[k + 1][2][i], ref[k][0][i], rtol=1e-4, atol=1e-6)


def test_dadapt_is_lr_times_d_recomputed_from_its_own_state():
    b2 = 0.999
    tx = optax.inject_hyperparams(optax.contrib.dadapt_adamw)(learning_rate=0.5, estim_lr0=1e-3)
    out = run(tx, 5)
    d = 1e-3
    for lr, state, *_ in out:
        inner = state.inner_state
        l1 = sum(float(jnp.abs(v).sum()) for v in jax.tree_util.tree_leaves(inner.grad_sum))
        d = max(d, float(inner.numerator_weighted) / ((1 - b2 ** 0.5) * l1))
        assert float(lr) == pytest.approx(0.5 * d, rel=1e-4)
    assert d > 1e-3


def test_dog_is_the_step_of_the_last_update():
    tx = optax.inject_hyperparams(optax.contrib.dog)(learning_rate=0.5)
    assert np.isnan(lr_used(tx.init(PARAMS)))  # the first step depends on the first gradient
    out = run(tx, 5)
    flat = lambda p: np.concatenate([np.ravel(p[k]) for k in ("w", "b")]).astype(np.float64)
    x0 = flat(PARAMS)
    max_dist, sum_sq = 1e-6 * (1 + np.linalg.norm(x0)), 0.0  # init_step=("heuristic", 1e-6)
    for lr, _, params, grads, updates in out:
        max_dist = max(max_dist, np.linalg.norm(flat(params) - x0))
        sum_sq += np.sum(flat(grads) ** 2)
        eta = max_dist / np.sqrt(sum_sq + 1e-8)
        assert float(lr) == pytest.approx(0.5 * eta, rel=1e-4)
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)


def test_dog_first_step_with_a_given_lr_is_unknown_not_guessed():
    tx = optax.inject_hyperparams(optax.contrib.dog)(learning_rate=1.0,
                                                     init_step=("learning_rate", 0.01))
    out = run(tx, 2)
    assert np.isnan(out[0][0])
    assert float(out[1][0]) == pytest.approx(ratio(out[1][4], out[1][3]), rel=1e-5)


@pytest.mark.parametrize("eps", [None, 1e-2])  # None: optax's default; else injected
def test_dowg_is_the_step_of_the_last_update(eps):
    kw = {} if eps is None else {"eps": eps}
    tx = optax.inject_hyperparams(optax.contrib.dowg)(learning_rate=0.5, **kw)
    for lr, _, _, grads, updates in run(tx, 4):
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)


def test_schedule_free_reads_the_step_of_its_z_sequence():
    tx = optax.inject_hyperparams(optax.contrib.schedule_free_sgd)(learning_rate=SCHEDULE)
    out = run(tx, 4)
    z_prev = PARAMS
    for k, (lr, state, _, grads, _) in enumerate(out, start=1):
        assert float(lr) == pytest.approx(sched(k - 1), rel=1e-6)
        z = state.inner_state.z
        assert ratio({i: z[i] - z_prev[i] for i in z}, grads) == pytest.approx(float(lr), rel=1e-4)
        z_prev = z
    tx = optax.inject_hyperparams(optax.contrib.schedule_free_adamw)(learning_rate=SCHEDULE)
    assert float(lr_used(tx.init(PARAMS))) == pytest.approx(sched(0), rel=1e-6)


class ToyAdaptiveState(NamedTuple):
    learning_rate: jax.Array  # the protocol: the factor the last update was scaled by
    previous: jax.Array


def toy_adaptive(lr0):
    """Grow the lr by 10% while successive gradients agree, halve it otherwise."""
    def init(params):
        return ToyAdaptiveState(jnp.asarray(lr0), jnp.zeros(()))

    def update(updates, state, params=None):
        g = jnp.concatenate([jnp.ravel(u) for u in jax.tree_util.tree_leaves(updates)])
        agree = jnp.vdot(g, g) * state.previous >= 0
        lr = state.learning_rate * jnp.where(agree, 1.1, 0.5)
        return (jax.tree_util.tree_map(lambda u: -lr * u, updates),
                ToyAdaptiveState(lr, jnp.sum(g)))

    return optax.GradientTransformation(init, update)


def test_a_learning_rate_field_is_read_and_multiplies_like_any_factor():
    tx = optax.chain(toy_adaptive(0.1), jaxlr.reduce_on_plateau(init_value=0.5))
    for lr, state, _, grads, updates in run(tx, 4):
        assert float(lr) == pytest.approx(0.5 * float(state[0].learning_rate), rel=1e-6)
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)


def test_a_line_search_step_is_read():
    tx = optax.chain(optax.sgd(learning_rate=1.0),
                     optax.scale_by_backtracking_linesearch(max_backtracking_steps=15))
    out = run(tx, 3, value="loss", grad="grads", value_fn=loss)
    for lr, state, _, grads, updates in out:
        assert float(lr) == float(state[1].learning_rate)
        assert ratio(updates, grads) == pytest.approx(float(lr), rel=1e-5)
    assert float(out[-1][0]) < 1.0  # the search backtracked from its initial step 1


def test_wrappers_pass_the_inner_lr_through():
    inner = optax.inject_hyperparams(optax.sgd)(learning_rate=SCHEDULE)
    out = run(optax.MultiSteps(inner, every_k_schedule=2), 5)
    # updates 2 and 4 are real: the inner optimizer has applied 2 updates
    assert float(out[-1][0]) == pytest.approx(sched(1), rel=1e-6)
    assert float(lr_used(optax.apply_if_finite(inner, 3).init(PARAMS))) == pytest.approx(sched(0))
    # SAM: the outer optimizer's lr, not the adversarial ascent's
    sam = optax.contrib.sam(inner, optax.inject_hyperparams(optax.sgd)(learning_rate=0.05))
    assert float(lr_used(sam.init(PARAMS))) == pytest.approx(sched(0))


def test_muon_groups_take_their_own_learning_rate_hyperparameter():
    params = {"w": jnp.ones((3, 2)), "b": jnp.ones(2)}
    tx = optax.inject_hyperparams(optax.contrib.muon)(learning_rate=0.02, adam_learning_rate=1e-3)
    lr = lr_used(tx.init(params))
    assert {k: float(v) for k, v in lr.items()} == pytest.approx({"muon": 0.02, "adam": 1e-3})


def test_vmap_over_a_batch_of_states():
    peaks = jnp.array([0.1, 0.2, 0.4])

    def train(peak):
        tx = optax.chain(
            optax.multi_transform(
                {"main": optax.inject_hyperparams(optax.sgd)(learning_rate=jaxlr.cosine(peak, 10)),
                 "bias": optax.inject_hyperparams(optax.sgd)(learning_rate=peak / 10)},
                {"w": "main", "b": "bias"}),
            jaxlr.reduce_on_plateau(init_value=0.5))
        params, state = PARAMS, tx.init(PARAMS)
        for _ in range(3):
            updates, state = tx.update(jax.grad(loss)(params), state, params)
            params = optax.apply_updates(params, updates)
        return state

    states = jax.jit(jax.vmap(train))(peaks)
    lr = jax.jit(jax.vmap(lr_used))(states)
    cos2 = float(jaxlr.cosine(1.0, 10)(2))
    np.testing.assert_allclose(lr["main"], 0.5 * cos2 * peaks, rtol=1e-6)
    np.testing.assert_allclose(lr["bias"], 0.5 * peaks / 10, rtol=1e-6)


@pytest.mark.parametrize("tx, message", [
    (optax.sgd(SCHEDULE), "ScaleByScheduleState"),
    (optax.adam(1e-3), "no learning rate is recorded"),
    (optax.contrib.prodigy(), "inject_hyperparams(optax.contrib.prodigy)"),
    (optax.chain(optax.sgd(1.0), jaxlr.reduce_on_plateau(init_value=0.1)), "reduce-on-plateau"),
    (optax.inject_hyperparams(optax.contrib.schedule_free_sgd, static_args="warmup_steps")(
        learning_rate=0.1, warmup_steps=3), "ScaleByScheduleState"),
    (optax.chain(optax.masked(jaxlr.reduce_on_plateau(), {"w": True, "b": False}),
                 optax.inject_hyperparams(optax.sgd)(learning_rate=0.1)), "multi_transform"),
    (optax.multi_transform({"a": optax.inject_hyperparams(optax.sgd)(learning_rate=0.1),
                            "b": optax.sgd(0.1)}, {"w": "a", "b": "b"}), "group ['b']"),
    (optax.inject_hyperparams(optax.rprop)(learning_rate=0.1), "optax.rprop"),
])
def test_errors_say_what_to_change(tx, message):
    with pytest.raises(ValueError, match="lr_used") as info:
        lr_used(tx.init(PARAMS))
    assert message in str(info.value)


def test_the_error_for_a_bare_optimizer_shows_the_inject_hyperparams_fix():
    with pytest.raises(ValueError) as info:
        lr_used(optax.sgd(SCHEDULE).init(PARAMS))
    assert "optax.inject_hyperparams(optax.sgd)(learning_rate=schedule)" in str(info.value)


def test_nnx_optimizer_state():
    from flax import nnx

    model = nnx.Linear(2, 1, rngs=nnx.Rngs(0))
    tx = optax.chain(optax.inject_hyperparams(optax.sgd)(learning_rate=SCHEDULE),
                     jaxlr.reduce_on_plateau(init_value=0.5))
    optimizer = nnx.Optimizer(model, tx, wrt=nnx.Param)
    grads = nnx.grad(lambda m: jnp.sum(m(jnp.ones((1, 2))) ** 2))(model)
    optimizer.update(model, grads)
    optimizer.update(model, grads)
    assert float(lr_used(optimizer.opt_state)) == pytest.approx(0.5 * sched(1), rel=1e-6)
