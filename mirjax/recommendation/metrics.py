"""Ranking metrics for recommendation (Dieleman thesis §4.6.2): for every user, rank the candidate (held-out)
items by the score x_uᵀ y_i and compare the ranking with the items the user actually played.

* **AP@k** (k = 500 in the thesis, from the MSD Challenge): AP@k(u) = (1 / min(n_u, k)) Σ_{j ≤ k} P_j(u) · rel_u(j),
  with n_u the number of relevant items of u, P_j the precision of the top j and rel_u(j) ∈ {0, 1} whether the j-th
  ranked item is relevant. The normaliser min(n_u, k) is the MSD Challenge's (McFee et al. 2012, the benchmark the
  thesis's mAP@500 comes from): a user with more than k relevant items can still reach 1, and when k ≥ the number
  of candidates it is plain average precision (= `sklearn.metrics.average_precision_score` for untied scores).
  Dividing by n_u instead would cap such users below 1 and make mAP@k depend on how many test items a user has.
  mAP@k is the mean over users with at least one relevant item.
* **AUC**: per-user ROC-AUC over all candidates (Mann–Whitney U with average ranks for ties, =
  `sklearn.metrics.roc_auc_score`), averaged over users with both a relevant and an irrelevant item.

The ranking is a list, so ties in the top k are broken by item index (first item first), as `lax.top_k` does;
AUC counts ties as half. Users are processed in chunks of `users_per_chunk`, so memory stays at
users_per_chunk × num_items whatever the number of users; only the chunk's scores are dense.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from mirjax.errors import UserError

__all__ = ["RankingMetrics", "ranking_metrics", "random_baseline", "metrics_from_scores"]


@dataclasses.dataclass(frozen=True)
class RankingMetrics:
    map_at_k: float  # mean AP@k over users with ≥ 1 relevant item
    auc: float  # mean per-user AUC over users with ≥ 1 relevant and ≥ 1 irrelevant item
    ap: np.ndarray  # (num_users,) AP@k per user, NaN where undefined
    user_auc: np.ndarray  # (num_users,) AUC per user, NaN where undefined
    k: int

    def as_dict(self) -> dict[str, float]:
        return {f"map@{self.k}": self.map_at_k, "auc": self.auc,
                "users_ap": int(np.sum(~np.isnan(self.ap))), "users_auc": int(np.sum(~np.isnan(self.user_auc)))}


@functools.partial(jax.jit, static_argnames=("k",))
def _chunk_metrics(scores: jax.Array, relevant: jax.Array, k: int) -> tuple[jax.Array, jax.Array]:
    """scores (B, n) float, relevant (B, n) bool → AP@k (B,), AUC (B,); NaN where undefined."""
    n = scores.shape[1]
    rel = relevant.astype(jnp.float32)
    n_pos = rel.sum(1)
    # AP@k: precision at each of the top k positions, counted where the item there is relevant.
    _, top = lax.top_k(scores, k)  # ties → lower index first
    hits = jnp.take_along_axis(rel, top, axis=1)
    precision = jnp.cumsum(hits, axis=1) / jnp.arange(1, k + 1, dtype=jnp.float32)
    ap = jnp.sum(precision * hits, axis=1) / jnp.maximum(jnp.minimum(n_pos, k), 1.0)
    ap = jnp.where(n_pos > 0, ap, jnp.nan)
    # AUC: average 1-based rank of each item among the row's scores = (#less + #less-or-equal + 1) / 2.
    ordered = jnp.sort(scores, axis=1)
    search = jax.vmap(functools.partial(jnp.searchsorted, method="sort"), in_axes=(0, 0, None))
    less = search(ordered, scores, "left").astype(jnp.float32)
    less_equal = search(ordered, scores, "right").astype(jnp.float32)
    rank_sum = jnp.sum(rel * (less + less_equal + 1.0) * 0.5, axis=1)
    n_neg = n - n_pos
    auc = (rank_sum - n_pos * (n_pos + 1.0) * 0.5) / jnp.maximum(n_pos * n_neg, 1.0)
    return ap, jnp.where((n_pos > 0) & (n_neg > 0), auc, jnp.nan)


def _relevance_rows(relevant: Any) -> tuple[Callable[[int, int], np.ndarray], tuple[int, int]]:
    """A (users × items) relevance matrix (scipy.sparse or dense; nonzero = relevant) → a function returning the
    dense boolean rows [start, stop), and the shape."""
    if hasattr(relevant, "tocsr"):
        csr = relevant.tocsr()
        return (lambda a, b: csr[a:b].toarray() != 0), csr.shape
    dense = np.asarray(relevant)
    if dense.ndim != 2:
        raise UserError(f"relevant must be a (users, items) matrix, got shape {dense.shape}")
    return (lambda a, b: dense[a:b] != 0), dense.shape


def metrics_from_scores(score_chunk: Callable[[int, int], jax.Array], relevant: Any, k: int = 500,
                        users_per_chunk: int = 1024) -> RankingMetrics:
    """Generic driver: `score_chunk(start, stop)` returns the (stop − start, num_items) scores of those users."""
    rows, (num_users, num_items) = _relevance_rows(relevant)
    if k < 1:
        raise UserError(f"k must be ≥ 1, got {k}")
    k = min(k, num_items)
    aps, aucs = [], []
    step = max(1, users_per_chunk)
    for start in range(0, num_users, step):
        stop = min(start + step, num_users)
        scores = jnp.asarray(score_chunk(start, stop), jnp.float32)
        if scores.shape != (stop - start, num_items):
            raise UserError(f"scores for users {start}:{stop} have shape {scores.shape}, "
                             f"expected {(stop - start, num_items)}")
        pad = step - (stop - start)  # keep one compiled shape: pad the last chunk with users that have no items
        rel = np.pad(rows(start, stop), ((0, pad), (0, 0)))
        ap, auc = _chunk_metrics(jnp.pad(scores, ((0, pad), (0, 0))), jnp.asarray(rel), k)
        aps.append(np.asarray(ap)[:stop - start])
        aucs.append(np.asarray(auc)[:stop - start])
    ap = np.concatenate(aps) if aps else np.zeros(0)
    auc = np.concatenate(aucs) if aucs else np.zeros(0)
    return RankingMetrics(_mean_defined(ap), _mean_defined(auc), ap, auc, k)


def _mean_defined(values: np.ndarray) -> float:
    return float(np.nanmean(values)) if np.any(~np.isnan(values)) else float("nan")


def ranking_metrics(user_factors: Any, item_factors: Any, relevant: Any, k: int = 500,
                    users_per_chunk: int = 1024) -> RankingMetrics:
    """mAP@k and mean per-user AUC of the ranking by x_uᵀ y_i. user_factors (users, f); item_factors (items, f)
    for the candidate (e.g. held-out) items, predicted or from WMF; relevant (users, items), sparse or dense,
    nonzero where the user played the item."""
    x = jnp.asarray(user_factors, jnp.float32)
    y = jnp.asarray(item_factors, jnp.float32)
    _, shape = _relevance_rows(relevant)
    if x.ndim != 2 or y.ndim != 2 or x.shape[1] != y.shape[1] or shape != (x.shape[0], y.shape[0]):
        raise UserError(f"factors {x.shape}, {y.shape} do not match relevance {shape}")
    return metrics_from_scores(lambda a, b: x[a:b] @ y.T, relevant, k, users_per_chunk)


def random_baseline(relevant: Any, seed: int = 0, k: int = 500, users_per_chunk: int = 1024) -> RankingMetrics:
    """The same metrics for i.i.d. uniform random scores (the thesis's "random" row of Table 4.3)."""
    key = jax.random.key(seed)
    _, (_, num_items) = _relevance_rows(relevant)
    return metrics_from_scores(
        lambda a, b: jax.random.uniform(jax.random.fold_in(key, a), (b - a, num_items)), relevant, k, users_per_chunk)
