"""Recommendation ranking metrics (mirjax.recommendation.metrics) against sklearn and a direct loop."""

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.metrics import average_precision_score, roc_auc_score

from mirjax.recommendation import metrics as rm


def _problem(users=37, items=60, factors=4, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(users, factors)).astype(np.float32)
    y = rng.normal(size=(items, factors)).astype(np.float32)
    scores = x @ y.T
    # relevance correlated with the score, so the metrics are far from their random values
    relevant = (scores + rng.normal(scale=2.0, size=scores.shape)) > 2.0
    relevant[0] = False  # no relevant item: excluded from both means
    relevant[1] = True  # every item relevant: AP defined (= 1), AUC undefined
    relevant[2, :] = False
    relevant[2, 5] = True  # a single relevant item
    return x, y, relevant


def _ap_at_k_loop(scores, rel, k):
    """MSD Challenge AP@k, one user at a time (stable order on ties)."""
    order = sorted(range(len(scores)), key=lambda i: (-scores[i], i))[:k]
    hits, total = 0, 0.0
    for j, i in enumerate(order, start=1):
        if rel[i]:
            hits += 1
            total += hits / j
    return total / min(rel.sum(), k)


def test_full_ranking_equals_sklearn_average_precision_and_auc():
    x, y, relevant = _problem()
    res = rm.ranking_metrics(x, y, sp.csr_matrix(relevant), k=500, users_per_chunk=8)
    scores = x.astype(np.float64) @ y.T.astype(np.float64)
    ap_ref = [average_precision_score(relevant[u], scores[u]) if relevant[u].any() else np.nan
              for u in range(len(x))]
    auc_ref = [roc_auc_score(relevant[u], scores[u]) if 0 < relevant[u].sum() < y.shape[0] else np.nan
               for u in range(len(x))]
    np.testing.assert_allclose(res.ap, ap_ref, rtol=1e-5, equal_nan=True)
    np.testing.assert_allclose(res.user_auc, auc_ref, rtol=1e-5, equal_nan=True)
    assert np.isnan(res.ap[0]) and res.ap[1] == pytest.approx(1.0) and np.isnan(res.user_auc[1])
    assert res.map_at_k == pytest.approx(np.nanmean(ap_ref), rel=1e-5)
    assert res.auc == pytest.approx(np.nanmean(auc_ref), rel=1e-5)
    assert res.k == y.shape[0]  # the cut-off is capped at the number of candidates
    assert res.as_dict()["users_ap"] == len(x) - 1


@pytest.mark.parametrize("k", [1, 5, 17])
def test_ap_at_k_is_normalised_by_min_of_relevant_and_k(k):
    x, y, relevant = _problem(seed=1)
    res = rm.ranking_metrics(x, y, relevant, k=k, users_per_chunk=16)
    scores = x @ y.T
    want = [_ap_at_k_loop(scores[u], relevant[u], k) if relevant[u].any() else np.nan for u in range(len(x))]
    np.testing.assert_allclose(res.ap, want, rtol=1e-5, equal_nan=True)
    assert np.nanmax(res.ap) <= 1.0 + 1e-6
    assert res.ap[1] == pytest.approx(1.0)  # every item relevant: perfect at any cut-off under min(n, k)


def test_auc_counts_ties_as_half_like_sklearn():
    rng = np.random.default_rng(2)
    scores = rng.integers(0, 4, size=(25, 40)).astype(np.float32)  # heavy ties
    relevant = rng.random((25, 40)) < 0.3
    relevant[:, 0] = True
    relevant[:, 1] = False
    res = rm.metrics_from_scores(lambda a, b: scores[a:b], relevant, k=40, users_per_chunk=7)
    np.testing.assert_allclose(res.user_auc, [roc_auc_score(relevant[u], scores[u]) for u in range(25)], rtol=1e-6)


def test_chunking_and_sparse_input_do_not_change_the_result():
    x, y, relevant = _problem(users=50, seed=3)
    a = rm.ranking_metrics(x, y, relevant, k=10, users_per_chunk=1)
    b = rm.ranking_metrics(x, y, sp.coo_matrix(relevant), k=10, users_per_chunk=64)
    np.testing.assert_allclose(a.ap, b.ap, equal_nan=True)
    np.testing.assert_allclose(a.user_auc, b.user_auc, equal_nan=True)


def test_random_baseline_is_near_chance():
    rng = np.random.default_rng(4)
    relevant = rng.random((300, 200)) < 0.05
    res = rm.random_baseline(sp.csr_matrix(relevant), seed=0, k=50, users_per_chunk=300)
    assert abs(res.auc - 0.5) < 0.02  # 3.5 standard errors of the mean over 300 users
    # E[AP@k] of a random ranking is small: about the share of relevant items
    assert 0.0 < res.map_at_k < 0.15
    assert rm.random_baseline(relevant, seed=1, k=50, users_per_chunk=300).map_at_k != res.map_at_k


def test_bad_shapes_raise():
    x, y, relevant = _problem()
    with pytest.raises(ValueError, match="do not match"):
        rm.ranking_metrics(x, y[:-1], relevant)
    with pytest.raises(ValueError, match="k must be"):
        rm.ranking_metrics(x, y, relevant, k=0)
