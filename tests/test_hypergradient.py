"""hypergradient_descent against float64 NumPy oracles of Baydin et al. (2018).

The oracles are written here, step by step, from the paper's algorithms (SGD-HD, SGDN-HD, Adam-HD) and
the authors' code (github.com/gbaydin/hypergradient-descent,
hypergrad/sgd_hd.py and hypergrad/adam_hd.py): a flat parameter vector, the
derivative of the previous update with respect to alpha kept explicitly.
The problem is a noisy quadratic in 9 parameters held as a pytree of three
leaves; the noise makes consecutive gradients disagree, so alpha both grows and
shrinks.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxlr
from jaxlr.hypergradient import HypergradientState

STEPS = 50
N = 9
_rng = np.random.default_rng(1703_04782)
_Q = np.linalg.qr(_rng.normal(size=(N, N)))[0]
A = _Q @ np.diag(_rng.uniform(0.2, 1.0, N)) @ _Q.T
A = (A + A.T) / 2
R = _rng.normal(size=N)
X0 = _rng.normal(size=N)
NOISE = 0.5 * _rng.normal(size=(STEPS, N))

# the cosine multiplier of the scheduled runs: 1.5 down to 0.3 over 30 steps, then held
COS_PEAK, COS_STEPS, COS_END = 1.5, 30, 0.3


def _tree(x):
    return {"w": x[:6].reshape(3, 2), "b": x[6:8], "c": x[8]}


def _flat(tree):
    return jnp.concatenate([tree["w"].ravel(), tree["b"].ravel(), tree["c"].ravel()])


def _loss(params, noise, a, r):
    x = _flat(params)
    return 0.5 * x @ (a @ x) - r @ x + noise @ x


def _schedule(kind, c):
    if kind is None:
        return None
    if kind == "cosine":
        return jaxlr.cosine(COS_PEAK, COS_STEPS, end_value=COS_END)
    return jaxlr.constant(c)


def _scales(kind, c=1.0):
    k = np.minimum(np.arange(STEPS), COS_STEPS)
    if kind is None:
        return np.ones(STEPS)
    if kind == "cosine":
        return COS_END + (COS_PEAK - COS_END) * 0.5 * (1 + np.cos(np.pi * k / COS_STEPS))
    return np.full(STEPS, c)


@functools.partial(jax.jit, static_argnames=("method", "schedule"))
def _run(hp, c, x0, noise, a, r, *, method, schedule=None):
    """Params after each update and ``lr_used`` after each, all hyperparameters traced."""
    tx = jaxlr.hypergradient_descent(method, **hp, schedule=_schedule(schedule, c))
    params = _tree(x0)

    def step(carry, noise_k):
        params, state = carry
        grads = jax.grad(_loss)(params, noise_k, a, r)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        return (params, state), (_flat(params), jaxlr.lr_used(state))

    return jax.lax.scan(step, (params, tx.init(params)), noise)[1]


def _problem(dtype):
    return [jnp.asarray(z, dtype) for z in (X0, NOISE, A, R)]


def _oracle(method, hp, scales):
    """The paper's updates in float64 on the flat vector; returns (params, lr) per update."""
    x = X0.copy()
    alpha = hp["learning_rate"]
    beta, wd = hp["hyper_lr"], hp["weight_decay"]
    du_dalpha = np.zeros(N)  # nabla_alpha u_{t-1}; 0 before the first update
    buf, m, v = np.zeros(N), np.zeros(N), np.zeros(N)
    xs, lrs = [], []
    for k in range(STEPS):
        t = k + 1
        g = A @ x - R + NOISE[k] + wd * x
        alpha = alpha - beta * (g @ du_dalpha)
        if method == "sgd":
            d = g
        elif method == "sgdn":
            mu = hp["momentum"]
            buf = mu * buf + g
            d = g + mu * buf
        else:
            b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            d = (m / (1 - b1 ** t)) / (np.sqrt(v / (1 - b2 ** t)) + eps)
        lr = alpha * scales[k]
        x = x - lr * d
        du_dalpha = -scales[k] * d
        xs.append(x.copy())
        lrs.append(lr)
    return np.array(xs), np.array(lrs)


def _draw(method, rng):
    """Hyperparameters over their domains, in the range where this problem stays stable."""
    hp = {"weight_decay": rng.uniform(0.0, 0.1)}
    if method == "adam":
        hp.update(learning_rate=10 ** rng.uniform(-3, -1), hyper_lr=10 ** rng.uniform(-4.5, -2.5),
                  b1=rng.uniform(0.0, 0.99), b2=rng.uniform(0.0, 0.9999),
                  eps=10 ** rng.uniform(-8, -2))
    elif method == "sgdn":
        hp.update(learning_rate=rng.uniform(0.01, 0.2), hyper_lr=10 ** rng.uniform(-3.5, -2),
                  momentum=rng.uniform(0.0, 0.95))
    else:
        hp.update(learning_rate=rng.uniform(0.05, 0.8), hyper_lr=10 ** rng.uniform(-3, -1.5))
    return hp


METHODS = ["sgd", "sgdn", "adam"]


def _check_against_oracle(method, schedule, dtype, rtol, atol, lr_rtol):
    rng = np.random.default_rng([METHODS.index(method), int(schedule is None)])
    for _ in range(4):
        hp = _draw(method, rng)
        xs, lrs = _run({k: jnp.asarray(v, dtype) for k, v in hp.items()}, jnp.asarray(1.0, dtype),
                       *_problem(dtype), method=method, schedule=schedule)
        want_xs, want_lrs = _oracle(method, hp, _scales(schedule))
        alphas = want_lrs / _scales(schedule)
        assert np.ptp(alphas) > 0.01 * hp["learning_rate"], hp  # the hypergradient matters
        np.testing.assert_allclose(lrs, want_lrs, rtol=lr_rtol, err_msg=str(hp))
        np.testing.assert_allclose(xs, want_xs, rtol=rtol, atol=atol, err_msg=str(hp))


@pytest.mark.parametrize("schedule", [None, "cosine"])
@pytest.mark.parametrize("method", METHODS)
def test_matches_the_paper_in_float64(x64, method, schedule):
    _check_against_oracle(method, schedule, jnp.float64, rtol=1e-10, atol=1e-13, lr_rtol=1e-10)


@pytest.mark.parametrize("method", METHODS)
def test_matches_the_paper_in_float32(method):
    _check_against_oracle(method, "cosine", jnp.float32, rtol=2e-4, atol=2e-5, lr_rtol=1e-5)


def _adam_hd_reference_code(hp):
    """hypergrad/adam_hd.py's AdamHD.step() for one parameter tensor, transcribed.

    Its eps is added before the bias correction (PyTorch's Adam of 2017), which
    the paper's form matches only at eps = 0.
    """
    x, lr = X0.copy(), hp["learning_rate"]
    b1, b2, eps = hp["b1"], hp["b2"], hp["eps"]
    exp_avg, exp_avg_sq = np.zeros(N), np.zeros(N)
    xs, lrs = [], []
    for step in range(1, STEPS + 1):
        grad = A @ x - R + NOISE[step - 1] + hp["weight_decay"] * x
        if step > 1:
            prev_c1, prev_c2 = 1 - b1 ** (step - 1), 1 - b2 ** (step - 1)
            h = grad @ (exp_avg / (np.sqrt(exp_avg_sq) + eps)) * np.sqrt(prev_c2) / prev_c1
            lr += hp["hyper_lr"] * h
        exp_avg = b1 * exp_avg + (1 - b1) * grad
        exp_avg_sq = b2 * exp_avg_sq + (1 - b2) * grad * grad
        step_size = lr * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        x = x - step_size * exp_avg / (np.sqrt(exp_avg_sq) + eps)
        xs.append(x.copy())
        lrs.append(lr)
    return np.array(xs), np.array(lrs)


def test_adam_matches_the_reference_code_where_it_agrees_with_the_paper(x64):
    hp = dict(learning_rate=0.02, hyper_lr=1e-4, b1=0.9, b2=0.999, eps=0.0, weight_decay=1e-3)
    xs, lrs = _run({k: jnp.asarray(v) for k, v in hp.items()}, jnp.asarray(1.0),
                   *_problem(jnp.float64), method="adam")
    want_xs, want_lrs = _adam_hd_reference_code(hp)
    np.testing.assert_allclose(lrs, want_lrs, rtol=1e-10)
    np.testing.assert_allclose(xs, want_xs, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("method", ["sgdn", "adam"])
def test_a_constant_schedule_c_is_lr_c_alpha_and_hyper_lr_c_squared_beta(x64, method):
    # the hypergradient includes the schedule's factor: d(alpha c d)/d alpha = c d
    c = 0.6
    hp = _draw(method, np.random.default_rng(7))
    scheduled = _run({k: jnp.asarray(v) for k, v in hp.items()}, jnp.asarray(c),
                     *_problem(jnp.float64), method=method, schedule="constant")
    plain = dict(hp, learning_rate=c * hp["learning_rate"], hyper_lr=c * c * hp["hyper_lr"])
    folded = _run({k: jnp.asarray(v) for k, v in plain.items()}, jnp.asarray(1.0),
                  *_problem(jnp.float64), method=method)
    for got, want in zip(scheduled, folded):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)
    # ...and not the run that ignores the factor (hyper_lr c beta)
    ignoring = dict(plain, hyper_lr=c * hp["hyper_lr"])
    other = _run({k: jnp.asarray(v) for k, v in ignoring.items()}, jnp.asarray(1.0),
                 *_problem(jnp.float64), method=method)
    assert not np.allclose(scheduled[1], other[1], rtol=1e-6)


@pytest.mark.parametrize("method,reference", [
    ("sgd", lambda lr, hp: optax.sgd(lr)),
    ("sgdn", lambda lr, hp: optax.sgd(lr, momentum=hp["momentum"], nesterov=True)),
    ("adam", lambda lr, hp: optax.adam(lr, b1=hp["b1"], b2=hp["b2"], eps=hp["eps"])),
])
def test_zero_hyper_lr_is_the_optax_method(x64, method, reference):
    hp = dict(_draw(method, np.random.default_rng(3)), hyper_lr=0.0, weight_decay=0.0)

    @jax.jit
    def run(noise):
        def trajectory(tx):
            def step(carry, noise_k):
                params, state = carry
                updates, state = tx.update(jax.grad(_loss)(params, noise_k, A, R), state, params)
                params = optax.apply_updates(params, updates)
                return (params, state), _flat(params)

            params = _tree(jnp.asarray(X0))
            return jax.lax.scan(step, (params, tx.init(params)), noise)

        (_, state), ours = trajectory(jaxlr.hypergradient_descent(method, **hp))
        return ours, trajectory(reference(hp["learning_rate"], hp))[1], state.learning_rate

    ours, theirs, lr = run(jnp.asarray(NOISE[:10]))
    np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-14)
    assert float(lr) == hp["learning_rate"]


@pytest.mark.parametrize("method", ["sgdn", "adam"])  # "sgd" shares sgdn's code path
def test_vmap_over_hyper_lr_is_separate_runs(x64, method):
    hp = _draw(method, np.random.default_rng(11))
    betas = jnp.asarray([0.0, 0.3, 1.0]) * hp["hyper_lr"] * 3
    problem = _problem(jnp.float64)

    def run(beta):
        fixed = {k: jnp.asarray(v) for k, v in hp.items() if k != "hyper_lr"}
        return _run(dict(fixed, hyper_lr=beta), jnp.asarray(1.0), *problem, method=method)

    batched = jax.vmap(run)(betas)
    for i, beta in enumerate(betas):
        one = run(beta)
        np.testing.assert_allclose(batched[0][i], one[0], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(batched[1][i], one[1], rtol=1e-12)
    assert len({float(lrs[-1]) for lrs in batched[1]}) == 3


def test_lr_used_is_the_factor_applied_inside_a_chain():
    schedule = jaxlr.linear(1.0, 0.5, 10)
    hgd = jaxlr.hypergradient_descent("sgd", learning_rate=0.1, hyper_lr=0.02, schedule=schedule)
    tx = optax.chain(optax.clip_by_global_norm(1e6), hgd, jaxlr.reduce_on_plateau(init_value=0.5))
    params = _tree(jnp.asarray(X0, jnp.float32))
    state = tx.init(params)
    assert isinstance(state[1], HypergradientState)
    # before the first update: the lr the first update will apply, alpha_0 * s(0) * 0.5
    assert float(jaxlr.lr_used(state)) == pytest.approx(0.05, rel=1e-7)

    @jax.jit
    def step(params, state, noise):
        grads = jax.grad(_loss)(params, noise, A, R)
        updates, state = tx.update(grads, state, params)
        return optax.apply_updates(params, updates), state, grads, updates, jaxlr.lr_used(state)

    alphas = []
    for k in range(8):
        params, state, grads, updates, lr = step(params, state, jnp.asarray(NOISE[k], jnp.float32))
        applied = -_flat(updates) / _flat(grads)  # sgd: the update is -lr * gradient
        np.testing.assert_allclose(applied, lr, rtol=1e-6)
        np.testing.assert_allclose(lr, 0.5 * float(state[1].alpha) * (1 - 0.05 * k), rtol=1e-6)
        assert float(state[1].learning_rate) == pytest.approx(float(lr) / 0.5, rel=1e-7)
        alphas.append(float(state[1].alpha))
    assert alphas[0] == pytest.approx(0.1, rel=1e-7)  # no previous gradient: no change
    assert len(set(alphas)) == len(alphas)


def test_lr_used_is_the_applied_lr_as_a_training_engines_optimizer():
    """The engine wraps an optimizer factory in ``optax.inject_hyperparams``, which passes
    ``learning_rate`` at every update: hypergradient descent takes it only as alpha's
    start, and the lr read back is the one applied (not alpha times the injected one)."""
    from jaxlr import data, engine

    def hd(learning_rate, hyper_lr):
        return jaxlr.hypergradient_descent("sgd", learning_rate, hyper_lr)

    tx = optax.inject_hyperparams(hd)(learning_rate=0.1, hyper_lr=0.02)
    params = _tree(jnp.asarray(X0, jnp.float32))
    state = tx.init(params)
    for k in range(4):
        grads = jax.grad(_loss)(params, NOISE[k], A, R)
        updates, state = tx.update(grads, state, params)
        params = optax.apply_updates(params, updates)
        np.testing.assert_allclose(-_flat(updates) / _flat(grads), jaxlr.lr_used(state),
                                   rtol=1e-6)
        assert float(jaxlr.lr_used(state)) == float(state.inner_state.alpha)
    assert float(state.inner_state.alpha) != pytest.approx(0.1, rel=1e-3)
    # and through the engine: the recorded lr per step is alpha, which moves from lr
    ds = data.load("ionosphere")
    trainer = engine.make_train(engine.TrainConfig(model="ionosphere_mlp", epochs=2,
                                                   batch_size=28, optimizer=hd), ds)
    history, final = engine.run(trainer, {"lr": 0.01, "hyper_lr": 1e-3}, 0, return_state=True)
    lrs = np.asarray(history.lr)
    assert lrs[0, 0] == pytest.approx(0.01, rel=1e-6) and lrs[-1, -1] != lrs[0, 0]
    assert lrs[-1, -1] == float(final.opt_state.inner_state.alpha)


def test_lr_used_under_vmap_over_states():
    def run(beta):
        tx = jaxlr.hypergradient_descent("adam", 0.01, beta)
        params = _tree(jnp.asarray(X0, jnp.float32))
        state = tx.init(params)
        for k in range(3):
            updates, state = tx.update(jax.grad(_loss)(params, NOISE[k], A, R), state)
            params = optax.apply_updates(params, updates)
        return state

    states = jax.jit(jax.vmap(run))(jnp.asarray([0.0, 1e-3]))
    lrs = jax.vmap(jaxlr.lr_used)(states)
    np.testing.assert_array_equal(lrs, states.learning_rate)
    assert float(lrs[0]) == pytest.approx(0.01, rel=1e-7) and float(lrs[1]) != float(lrs[0])


BAD = [
    (dict(method="sgdm"), "method", "'sgdm'"),
    (dict(method="SGD"), "method", "'SGD'"),
    (dict(learning_rate=-0.1), "learning_rate", "-0.1"),
    (dict(learning_rate=float("nan")), "learning_rate", "nan"),
    (dict(hyper_lr=-1e-3), "hyper_lr", "-0.001"),
    (dict(hyper_lr=np.float64(-1.0)), "hyper_lr", "-1.0"),
    (dict(weight_decay=-1e-4), "weight_decay", "-0.0001"),
    (dict(method="adam", eps=-1e-8), "eps", "-1e-08"),
    (dict(method="sgdn", momentum=1.0), "momentum", "1.0"),
    (dict(method="sgdn", momentum=-0.1), "momentum", "-0.1"),
    (dict(method="adam", b1=1.0), "b1", "1.0"),
    (dict(method="adam", b1=-0.5), "b1", "-0.5"),
    (dict(method="adam", b2=1.5), "b2", "1.5"),
    (dict(method="adam", momentum=0.9), "momentum", "0.9"),
    (dict(method="sgd", momentum=0.9), "momentum", "0.9"),
    (dict(method="sgd", b1=0.9), "b1", "0.9"),
    (dict(method="sgdn", b2=0.999), "b2", "0.999"),
    (dict(method="sgd", eps=1e-8), "eps", "1e-08"),
    (dict(schedule=0.1), "schedule", "0.1"),
]


@pytest.mark.parametrize("kwargs,name,shown", BAD, ids=[f"{n}-{i}" for i, (_, n, _) in enumerate(BAD)])
def test_bad_input_names_the_argument_and_value(kwargs, name, shown):
    args = dict(dict(method="sgd", learning_rate=0.1, hyper_lr=1e-3), **kwargs)
    with pytest.raises(ValueError) as info:
        jaxlr.hypergradient_descent(**args)
    message = str(info.value)
    assert "jaxlr.hypergradient_descent" in message and name in message and shown in message


def test_unread_hyperparameter_message_says_which_method_reads_it():
    with pytest.raises(ValueError, match=r"momentum=0\.9 is not read by method='adam' "
                                         r"\(only 'sgdn' reads momentum\)"):
        jaxlr.hypergradient_descent("adam", 1e-3, 1e-7, momentum=0.9)


def test_traced_values_are_not_inspected():
    # negative under jit cannot be checked: it builds and runs
    def run(lr):
        tx = jaxlr.hypergradient_descent("sgdn", lr, -lr, momentum=lr)
        return tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))[1].learning_rate

    assert float(jax.jit(run)(jnp.float32(-0.5))) == -0.5


def test_weight_decay_needs_params():
    tx = jaxlr.hypergradient_descent("sgd", 0.1, 1e-3, weight_decay=1e-4)
    with pytest.raises(ValueError, match="weight_decay=0.0001 needs the params"):
        tx.update(jnp.ones(2), tx.init(jnp.zeros(2)))
    no_decay = jaxlr.hypergradient_descent("sgd", 0.1, 1e-3)
    updates, _ = no_decay.update(jnp.ones(2), no_decay.init(jnp.zeros(2)))
    np.testing.assert_allclose(updates, [-0.1, -0.1], rtol=1e-7)
