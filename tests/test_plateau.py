"""reduce_on_plateau as an optax transformation (torch equality is in test_torch.py)."""

import jax
import jax.numpy as jnp
import numpy as np
import optax

import jaxlr


def test_cut_applies_to_the_updates_after_the_observation():
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=0, init_value=1.0)
    params = jnp.zeros(3)
    state = tx.init(params)
    g = jnp.ones(3)
    u, state = tx.update(g, state, params, value=1.0)  # first metric: an improvement
    np.testing.assert_array_equal(u, g)
    u, state = tx.update(g, state, params, value=2.0)  # worse: cut, but not this update
    np.testing.assert_array_equal(u, g)
    u, state = tx.update(g, state, params)  # no metric: just scaled
    np.testing.assert_array_equal(u, 0.5 * g)
    assert int(state.count) == 2


def test_patience_zero_keeps_reducing():
    # optax.contrib's version reduces once and never again with patience=0
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=0)
    state = tx.init(None)
    values = []
    for metric in [1.0, 1.0, 1.0, 1.0]:
        state = jaxlr.observe(state, metric)
        values.append(float(state.value))
    assert values == [1.0, 0.5, 0.25, 0.125]


def test_negative_metrics_use_torchs_relative_threshold():
    # torch's rel rule for mode min: better iff m < best * (1 - threshold), also for best < 0
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=0, threshold=0.1)
    state = jaxlr.observe(tx.init(None), -1.0)
    improved = jaxlr.observe(state, -0.95)  # bar = -0.9: -0.95 < -0.9 improves
    assert float(improved.value) == 1.0
    np.testing.assert_allclose(float(improved.best), -0.95, rtol=1e-7)
    worse = jaxlr.observe(state, -0.85)  # -0.85 is not < -0.9: bad, patience 0: cut
    assert float(worse.value) == 0.5
    np.testing.assert_allclose(float(worse.best), -1.0, rtol=1e-7)


def test_observe_finds_the_state_inside_a_chain_under_jit_and_vmap():
    def make(factor):
        return optax.chain(optax.sgd(1.0, momentum=0.9),
                           jaxlr.reduce_on_plateau(factor=factor, patience=1, init_value=0.1))

    params = jnp.zeros(2)
    metrics = jnp.array([1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5])

    def run(factor):
        tx = make(factor)
        state = tx.init(params)

        def epoch(state, metric):
            _, state = tx.update(jnp.ones(2), state, params)
            state = jaxlr.observe(state, metric)
            return state, state[1].value

        return jax.lax.scan(epoch, state, metrics)[1]

    factors = jnp.array([0.5, 0.1])
    batched = jax.jit(jax.vmap(run))(factors)
    np.testing.assert_allclose(batched[0], [0.1, 0.1, 0.1, 0.05, 0.05, 0.025, 0.025], rtol=1e-6)
    np.testing.assert_allclose(batched[1], [0.1, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001], rtol=1e-6)


def test_min_value_and_eps_stop_reductions():
    tx = jaxlr.reduce_on_plateau(factor=0.1, patience=0, min_value=0.003, init_value=0.1)
    state = tx.init(None)
    seen = []
    for _ in range(4):
        state = jaxlr.observe(state, 5.0)
        seen.append(float(state.value))
    np.testing.assert_allclose(seen, [0.1, 0.01, 0.003, 0.003], rtol=1e-6)


def test_max_mode_and_abs_threshold_and_cooldown():
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=1, mode="max", threshold=0.1,
                                 threshold_mode="abs", cooldown=2)
    state = tx.init(None)
    seen = []
    for metric in [0.5, 0.55, 0.58, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9, 0.9]:
        state = jaxlr.observe(state, metric)
        seen.append(float(state.value))
    # 0.5 best; 0.55, 0.58 not > 0.6: bad 1, 2 > patience -> cut, cooldown 2.
    # 0.9 improves (cooldown 1 left), 0.9 bad but cooldown resets it (0 left),
    # 0.9 bad 1, 0.9 bad 2 -> cut, cooldown 2 holds the count at 0 twice, then bad 1.
    assert seen == [1.0, 1.0, 0.5, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.25]


def test_nan_metric_counts_as_bad():
    tx = jaxlr.reduce_on_plateau(factor=0.5, patience=0)
    state = jaxlr.observe(tx.init(None), 1.0)
    state = jaxlr.observe(state, float("nan"))
    assert float(state.value) == 0.5 and float(state.best) == 1.0
