"""Convolutional RBMs (Dieleman thesis Ch. 2): CD-1 statistics against brute-force enumeration of a tiny model's
energy, and the direction of the Goh et al. sparsity bias."""

import itertools

import jax
import numpy as np
import pytest

from mirjax.features import conv_rbm

T, C, K, F = 4, 2, 2, 2  # visible steps, channels, kernel width, feature maps → 3 × 2 = 6 hidden units
TH = T - K + 1


def energy(v, h, p, visible):
    """The energy written out term by term (no convolution routine)."""
    e = 0.0
    for t in range(TH):
        for f in range(F):
            x = p["b"][f] + sum(p["W"][k, c, f] * v[t + k, c] for k in range(K) for c in range(C))
            e -= h[t, f] * x
    if visible == "binary":
        e -= sum(p["c"][c] * v[t, c] for t in range(T) for c in range(C))
    else:
        e += sum((v[t, c] - p["c"][c]) ** 2 / 2 for t in range(T) for c in range(C))
    return e


def all_binary(shape):
    return [np.array(bits, np.float64).reshape(shape) for bits in itertools.product((0, 1), repeat=int(np.prod(shape)))]


HS = all_binary((TH, F))


def hidden_posterior(v, p, visible):
    """p(h | v) over all hidden configurations, by enumeration."""
    logits = np.array([-energy(v, h, p, visible) for h in HS])
    w = np.exp(logits - logits.max())
    return w / w.sum()


def neg_energy_grad(v, h, p, visible, eps=1e-3):
    """-∂E/∂θ by central differences (exact: E is at most quadratic in every parameter)."""
    out = {}
    for name in ("W", "b", "c"):
        g = np.zeros_like(p[name])
        for idx in np.ndindex(p[name].shape):
            hi = {k: a.copy() for k, a in p.items()}
            lo = {k: a.copy() for k, a in p.items()}
            hi[name][idx] += eps
            lo[name][idx] -= eps
            g[idx] = -(energy(v, h, hi, visible) - energy(v, h, lo, visible)) / (2 * eps)
        out[name] = g
    return out


def expected_stats(v, p, visible):
    """E_{h ~ p(h|v)}[-∂E(v, h)/∂θ], enumerated; and the hidden marginals."""
    post = hidden_posterior(v, p, visible)
    stats = {k: 0.0 for k in ("W", "b", "c")}
    for w, h in zip(post, HS):
        g = neg_energy_grad(v, h, p, visible)
        stats = {k: stats[k] + w * g[k] for k in stats}
    return stats, sum(w * h for w, h in zip(post, HS))


def reconstruction(h, p, visible):
    """E[v | h]: by enumeration of the binary visible configurations, or as the minimiser of the (quadratic)
    Gaussian energy, read off its finite-difference gradient at v = 0."""
    if visible == "binary":
        vs = all_binary((T, C))
        logits = np.array([-energy(v, h, p, visible) for v in vs])
        w = np.exp(logits - logits.max())
        w /= w.sum()
        return sum(wi * v for wi, v in zip(w, vs))
    grad0 = np.zeros((T, C))
    for idx in np.ndindex(T, C):
        e = np.zeros((T, C))
        e[idx] = 1e-3
        grad0[idx] = (energy(e, h, p, visible) - energy(-e, h, p, visible)) / 2e-3
    return -grad0  # ∂E/∂v = v - mean, so the mean is -∂E/∂v at 0


@pytest.fixture(scope="module")
def tiny():
    rng = np.random.default_rng(0)
    p = {"W": rng.normal(0, 0.8, (K, C, F)), "b": rng.normal(0, 0.5, F), "c": rng.normal(0, 0.5, C)}
    return p, {"binary": rng.uniform(0, 1, (T, C)), "gaussian": rng.normal(0, 1, (T, C))}


@pytest.mark.parametrize("visible", ["binary", "gaussian"])
def test_cd1_statistics_match_brute_force_enumeration(tiny, visible):
    p, data = tiny
    v0 = data[visible]
    cfg = conv_rbm.RBMConfig(visible=visible, sparsity_cost=0.0)
    jp = {k: jax.numpy.asarray(a, jax.numpy.float32) for k, a in p.items()}
    pos, h0_marginal = expected_stats(v0, p, visible)
    post0 = hidden_posterior(v0, p, visible)
    np.testing.assert_allclose(np.asarray(conv_rbm.hidden_probs(jp, v0[None]))[0], h0_marginal, atol=1e-5)
    expected = {k: 0.0 for k in pos}
    for h0 in HS[::13] + [HS[-1]]:
        v1 = reconstruction(h0, p, visible)
        neg, _ = expected_stats(v1, p, visible)
        got = conv_rbm.cd1_statistics(jp, v0[None], h0[None], cfg)
        n_hidden, n_visible = TH, T
        scale = {"W": n_hidden, "b": n_hidden, "c": n_visible}
        for k in pos:  # each sampled h0: positive phase minus the phase of its mean-field reconstruction
            np.testing.assert_allclose(np.asarray(got[k]), (pos[k] - neg[k]) / scale[k], atol=2e-4, err_msg=k)
    # and the expectation over the hidden sample, as the stochastic step estimates it
    for w0, h0 in zip(post0, HS):
        got = conv_rbm.cd1_statistics(jp, v0[None], h0[None], cfg)
        expected = {k: expected[k] + w0 * np.asarray(got[k]) for k in expected}
    key = jax.random.PRNGKey(1)
    step = jax.jit(lambda k: conv_rbm.cd1_statistics(
        jp, v0[None], jax.random.bernoulli(k, conv_rbm.hidden_probs(jp, v0[None])).astype(np.float32), cfg)["W"])
    samples = np.mean([np.asarray(step(jax.random.fold_in(key, i))) for i in range(300)], axis=0)
    np.testing.assert_allclose(samples, expected["W"], atol=0.05)


@pytest.mark.parametrize("bias,target,sign", [(3.0, 0.05, -1), (-5.0, 0.1, +1)])
def test_sparsity_bias_moves_hidden_biases_towards_the_target(bias, target, sign):
    rng = np.random.default_rng(1)
    v = rng.uniform(0, 1, (4, 16, 3)).astype(np.float32)
    p = conv_rbm.init_params(jax.random.PRNGKey(0), 3, 3, 5)
    p["b"] = p["b"] + bias
    h0 = jax.random.bernoulli(jax.random.PRNGKey(2), conv_rbm.hidden_probs(p, v)).astype(np.float32)
    stats = jax.jit(conv_rbm.cd1_statistics, static_argnums=3)
    plain = stats(p, v, h0, conv_rbm.RBMConfig(sparsity_cost=0.0, sparsity_target=target))
    sparse = stats(p, v, h0, conv_rbm.RBMConfig(sparsity_cost=0.1, sparsity_target=target))
    # hidden biases: lowered when the units are more active than the target, raised when less
    assert np.all(sign * (np.asarray(sparse["b"]) - np.asarray(plain["b"])) > 0)
    # the term is λ (p - q) on each bias, q the unit's mean data-phase activation
    q = np.asarray(conv_rbm.hidden_probs(p, v)).mean(axis=(0, 1))
    np.testing.assert_allclose(np.asarray(sparse["b"]) - np.asarray(plain["b"]),
                               0.1 * (target - q), rtol=1e-4, atol=1e-6)


def test_visible_input_is_the_transpose_of_the_hidden_convolution():
    rng = np.random.default_rng(2)
    p = {"W": rng.normal(size=(3, 2, 4)).astype(np.float32), "b": np.zeros(4, np.float32),
         "c": np.zeros(2, np.float32)}
    v, h = rng.normal(size=(1, 9, 2)).astype(np.float32), rng.normal(size=(1, 7, 4)).astype(np.float32)
    lhs = float(np.sum(np.asarray(conv_rbm.hidden_input(p, v)) * h))
    rhs = float(np.sum(v * np.asarray(conv_rbm.visible_input(p, h))))
    assert lhs == pytest.approx(rhs, rel=1e-4)


def test_max_pool_matches_numpy():
    x = np.random.default_rng(3).normal(size=(2, 11, 3)).astype(np.float32)
    ref = x[:, :8].reshape(2, 2, 4, 3).max(axis=2)
    np.testing.assert_allclose(np.asarray(conv_rbm.max_pool(x, 4)), ref)


def test_unknown_visible_kind_is_one_line_error():
    with pytest.raises(Exception, match="unknown RBM visible kind 'poisson'; valid: binary, gaussian"):
        conv_rbm.RBMConfig(visible="poisson")
