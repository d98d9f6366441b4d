"""WMF by ALS (mirjax.recommendation.wmf) against an independent dense numpy implementation of Hu et al.'s
updates, the dense objective of Eq. 4.3, and (when installed) the `implicit` library's least-squares step."""

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import scipy.sparse as sp

from mirjax.recommendation import factorize, fit_wmf, solve_rows, surplus_confidence, wmf_objective
from mirjax.recommendation.wmf import _bucket_lengths

ALPHA, EPS = 2.0, 1e-6


def _counts(users, items, density, seed, empty_user=None, empty_item=None):
    rng = np.random.default_rng(seed)
    r = rng.geometric(0.4, (users, items)) * (rng.random((users, items)) < density)
    r[:, : items // 4] *= rng.random((users, 1)) < 0.9  # some popularity skew
    if empty_user is not None:
        r[empty_user] = 0
    if empty_item is not None:
        r[:, empty_item] = 0
    return r.astype(np.float64)


def _dense_objective(r, x, y, lam):
    c = 1.0 + ALPHA * np.log1p(r / EPS)
    return float(np.sum(c * ((r > 0) - x @ y.T) ** 2) + lam * (np.sum(x**2) + np.sum(y**2)))


def _dense_als(r, y0, lam, iterations):
    """Hu, Koren & Volinsky's closed-form updates with the full diagonal confidence matrix of every user and
    item (no sparsity tricks), in float64. Users first, as in benanne/wmf."""
    c = 1.0 + ALPHA * np.log1p(r / EPS)
    p = (r > 0).astype(np.float64)
    y = y0.astype(np.float64).copy()
    x = np.zeros((r.shape[0], y.shape[1]))
    eye = np.eye(y.shape[1])
    history = []
    for _ in range(iterations):
        for u in range(r.shape[0]):
            x[u] = np.linalg.solve(y.T @ (c[u][:, None] * y) + lam * eye, y.T @ (c[u] * p[u]))
        for i in range(r.shape[1]):
            y[i] = np.linalg.solve(x.T @ (c[:, i][:, None] * x) + lam * eye, x.T @ (c[:, i] * p[:, i]))
        history.append(_dense_objective(r, x, y, lam))
    return x, y, np.asarray(history)


@pytest.fixture(scope="module")
def small():
    """30 users × 40 items with one user and one item that have no plays."""
    r = _counts(30, 40, 0.3, seed=0, empty_user=3, empty_item=7)
    y0 = np.random.default_rng(1).normal(0.0, 0.01, (40, 5)).astype(np.float32)
    return r, y0


@pytest.fixture(scope="module")
def medium():
    r = _counts(120, 90, 0.08, seed=2)
    s = surplus_confidence(sp.csr_matrix(r), ALPHA, EPS)
    kw = dict(lambda_reg=0.05, num_iterations=6, seed=0, max_buckets=1)  # one bucket per side: quicker to compile
    exact = factorize(s, 6, solver="exact", **kw)
    cg = factorize(s, 6, solver="cg", cg_steps=3, **kw)
    return r, s, exact, cg


def test_exact_als_matches_dense_reference(small):
    r, y0 = small
    lam = 0.05
    x_ref, y_ref, obj_ref = _dense_als(r, y0, lam, 4)
    res = fit_wmf(sp.csr_matrix(r), 5, alpha=ALPHA, epsilon=EPS, lambda_reg=lam, num_iterations=4, item_init=y0)
    np.testing.assert_allclose(res.objective, obj_ref, rtol=2e-5)
    scale = np.abs(x_ref).max()
    np.testing.assert_allclose(np.asarray(res.user_factors), x_ref, atol=1e-4 * scale)
    np.testing.assert_allclose(np.asarray(res.item_factors), y_ref, atol=1e-4 * np.abs(y_ref).max())


def test_cg_with_enough_steps_matches_exact(small):
    """One half-step from a zero start: CG in exact arithmetic reaches the solution in ≤ f steps."""
    r, y0 = small
    s = surplus_confidence(sp.csr_matrix(r))
    exact = np.asarray(solve_rows(y0, s, lambda_reg=0.05))
    cg = np.asarray(solve_rows(y0, s, lambda_reg=0.05, solver="cg", cg_steps=15))
    np.testing.assert_allclose(cg, exact, atol=1e-3 * np.abs(exact).max())


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_objective_decreases_every_iteration(medium, solver):
    r, s, exact, cg = medium
    obj = (exact if solver == "exact" else cg).objective
    assert np.all(np.isfinite(obj))
    assert np.all(np.diff(obj) <= 1e-6 * obj[:-1]), obj
    assert obj[-1] < 0.8 * obj[0]
    # Three warm-started CG steps per row land close to the exact ALS path.
    np.testing.assert_allclose(cg.objective[-1], exact.objective[-1], rtol=0.02)


def test_sparse_objective_equals_dense(medium):
    r, s, exact, _ = medium
    x, y = np.asarray(exact.user_factors, np.float64), np.asarray(exact.item_factors, np.float64)
    np.testing.assert_allclose(wmf_objective(s, x, y, 0.05), _dense_objective(r, x, y, 0.05), rtol=1e-5)
    np.testing.assert_allclose(exact.objective[-1], _dense_objective(r, x, y, 0.05), rtol=1e-5)
    rng = np.random.default_rng(3)  # also far from the optimum, where the terms are large and of both signs
    xr, yr = rng.normal(size=x.shape), rng.normal(size=y.shape)
    np.testing.assert_allclose(wmf_objective(s, xr, yr, 0.3), _dense_objective(r, xr, yr, 0.3), rtol=1e-5)


@pytest.mark.parametrize("solver", ["exact", "cg"])
def test_users_and_items_without_plays_get_zero_factors(small, solver):
    r, y0 = small
    res = fit_wmf(sp.csr_matrix(r), 5, lambda_reg=1e-5, num_iterations=2, item_init=y0, solver=solver)
    x, y = np.asarray(res.user_factors), np.asarray(res.item_factors)
    assert np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(np.isfinite(res.objective))
    np.testing.assert_array_equal(x[3], 0.0)  # b = 0 → the minimiser is exactly 0
    np.testing.assert_array_equal(y[7], 0.0)
    assert np.abs(x).sum(1)[np.arange(30) != 3].min() > 0


def test_surplus_confidence_input_conventions():
    rows, cols = np.array([0, 2, 2, 1, 0]), np.array([1, 0, 0, 3, 2])
    vals = np.array([1.0, 2.0, 3.0, 4.0, 0.0])  # (2, 0) twice: summed; (0, 2) is a zero count: dropped
    s = surplus_confidence((rows, cols, vals), alpha=3.0, epsilon=0.5, shape=(3, 4))
    got = {(int(a), int(b)): float(v) for a, b, v in zip(s.rows, s.cols, s.values)}
    want = {(0, 1): 3 * np.log(1 + 1 / 0.5), (1, 3): 3 * np.log(1 + 4 / 0.5), (2, 0): 3 * np.log(1 + 5 / 0.5)}
    assert got.keys() == want.keys()
    np.testing.assert_allclose([got[k] for k in want], list(want.values()), rtol=1e-6)
    dense = np.zeros((3, 4))
    dense[rows, cols] += vals
    s2 = surplus_confidence(sp.coo_matrix((vals, (rows, cols)), shape=(3, 4)), alpha=3.0, epsilon=0.5)
    np.testing.assert_array_equal(s2.values, s.values)


@pytest.mark.parametrize("data, shape, match", [
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, -2.0])), (2, 2), "negative"),
    ((np.array([0, 1]), np.array([0, 1, 1]), np.array([1.0, 2.0])), (2, 2), "one length"),
    ((np.array([0, 2]), np.array([0, 1]), np.array([1.0, 2.0])), (2, 2), "outside shape"),
    ((np.array([0, 1]), np.array([0, 1]), np.array([1.0, np.nan])), (2, 2), "finite"),
    (sp.csr_matrix(np.ones((2, 3))), (3, 2), "shape"),
    ((np.array([0]), np.array([0]), np.array([1.0])), None, "needs shape"),
])
def test_bad_input_raises_one_clear_value_error(data, shape, match):
    with pytest.raises(ValueError, match=match):
        fit_wmf(data, 2, shape=shape, num_iterations=1)


def test_factor_shape_mismatch_raises():
    s = surplus_confidence(sp.csr_matrix(np.eye(3)))
    with pytest.raises(ValueError, match="does not match"):
        wmf_objective(s, np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="init shapes"):
        factorize(s, 2, item_init=np.zeros((3, 5)), num_iterations=1)


def test_bucket_lengths_minimise_padding_like_brute_force():
    import itertools
    support = np.random.default_rng(4).integers(1, 120, 300)
    sizes = np.unique(-(-support // 8) * 8)
    best = min((sum(int(np.asarray(c)[np.searchsorted(c, v)]) for v in support), c)
               for c in (tuple(sorted(set(comb) | {sizes[-1]})) for comb in itertools.combinations(sizes, 2)))
    lengths = _bucket_lengths(support, 3)
    assert len(lengths) <= 3 and lengths[-1] >= support.max()
    assert sum(int(lengths[np.searchsorted(lengths, v)]) for v in support) == best[0]


def test_half_step_matches_implicit_least_squares():
    """`implicit` (optional) stores the full confidence c = 1 + s on the nonzeros, p = 1 there."""
    _als = pytest.importorskip("implicit.cpu._als")
    r = _counts(40, 50, 0.2, seed=5)
    s = surplus_confidence(sp.csr_matrix(r))
    c = sp.csr_matrix((s.values + 1.0, (s.rows, s.cols)), shape=s.shape)
    y = np.random.default_rng(6).normal(0, 0.1, (50, 6)).astype(np.float32)
    x = np.zeros((40, 6), np.float32)
    _als.least_squares(c, x, y, 0.1, num_threads=1)
    np.testing.assert_allclose(np.asarray(solve_rows(y, s, lambda_reg=0.1)), x, atol=1e-4 * np.abs(x).max())


def test_same_result_with_rows_sharded_over_four_cpu_devices(tmp_path):
    """The chunk's row axis on a 4-device mesh (forced host devices, in a subprocess) gives the 1-device result."""
    script = textwrap.dedent("""
        import sys, numpy as np, scipy.sparse as sp, jax
        from mirjax.recommendation import fit_wmf
        res = fit_wmf(sp.csr_matrix(np.load(sys.argv[1])), 4, lambda_reg=0.05, num_iterations=3, solver="cg",
                      max_buckets=1)
        assert jax.device_count() == 4 and res.user_factors.sharding.mesh.size == 4, res.user_factors.sharding
        np.save(sys.argv[2], np.asarray(res.user_factors))
    """)
    r = _counts(50, 30, 0.15, seed=7)
    np.save(tmp_path / "r.npy", r)
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=4", JAX_PLATFORMS="cpu")
    subprocess.run([sys.executable, "-c", script, str(tmp_path / "r.npy"), str(tmp_path / "x4.npy")],
                   check=True, env=env, timeout=120)
    x1 = np.asarray(fit_wmf(sp.csr_matrix(r), 4, lambda_reg=0.05, num_iterations=3, solver="cg",
                            max_buckets=1).user_factors)
    np.testing.assert_allclose(np.load(tmp_path / "x4.npy"), x1, atol=1e-4 * np.abs(x1).max())
