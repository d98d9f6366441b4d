"""Analyses of latent factors for content-based recommendation (Dieleman thesis §4.6).

* `tag_prediction_auc` (§4.6.1): how much tag information latent factors carry. One logistic regression per
  tag, 10-fold cross-validated, mean ROC-AUC over tags (thesis: 0.867 from 50-d WMF factors vs 0.694 from
  audio bag-of-words, top-50 Last.fm tags).
* `cosine_neighbours` and `neighbour_table` (§4.6.3, Table 4.4): nearest songs by cosine similarity of usage
  factors, side by side for WMF factors and the factors a CNN predicts from audio.
* `tsne_embed` and `tsne_plot` (§4.6.3, Fig. 4.1): a 2-D t-SNE map of the factors coloured by genre.

Plain numpy + scikit-learn + matplotlib: these run once on a few thousand factor vectors, after training.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.errors import UserError
from mirjax.evaluation.plots import save_figure

__all__ = ["tag_prediction_auc", "cosine_neighbours", "neighbour_table", "tsne_embed", "tsne_plot"]


def _matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise UserError(f"{name} must be 2-D (items, dims), got shape {x.shape}")
    if not np.all(np.isfinite(x)):
        raise UserError(f"{name} contains NaN or inf")
    return x


# --------------------------------------------------------------------------------------------------------------
# §4.6.1: tag prediction from latent factors
# --------------------------------------------------------------------------------------------------------------


def tag_prediction_auc(features, tags, folds: int = 10, seed: int = 0, tag_names: Sequence[str] | None = None,
                       *, C: float = 1.0, max_iter: int = 1000) -> dict:
    """Mean ROC-AUC of per-tag logistic regressions on ``features`` (thesis §4.6.1, the comparison of WMF
    factors with bag-of-words features).

    Args:
      features: (n_items, dims) latent factors or any other per-item features.
      tags: (n_items, n_tags) multi-hot {0, 1} tag matrix.
      folds: number of stratified cross-validation folds (10 in the thesis).
      seed: shuffles the items before they are split into folds.
      tag_names: n_tags names; default ``"tag0"``, ``"tag1"``, ...
      C, max_iter: inverse L2 strength and iteration cap of the logistic regression.

    Returns:
      ``{"auc_mean": float, "auc_per_tag": {name: auc}, "skipped": [names], "folds": folds}``.

    Choices the thesis leaves open: features are standardised (fit on each training split only, through a
    Pipeline) and the regression uses sklearn's default L2 penalty with C = 1; with thousands of items and
    ≤ 400 dimensions this is barely regularised, so the AUC is not sensitive to C. The AUC of a tag is
    computed once from the out-of-fold decision scores of all items (``cross_val_predict``), not averaged over
    folds. Tags with fewer than ``folds`` positives or negatives cannot be stratified and are skipped and
    listed; ``auc_mean`` is the mean over the others.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = _matrix(features, "features")
    y = np.asarray(tags)
    if y.ndim == 1:
        y = y[:, None]
    if y.ndim != 2 or y.shape[0] != x.shape[0]:
        raise UserError(f"features {x.shape} and tags {y.shape} must have the same number of rows (items)")
    if not np.all((y == 0) | (y == 1)):
        raise UserError("tags must be a multi-hot matrix of 0/1 values")
    y = y.astype(np.int64)
    if int(folds) != folds or folds < 2:
        raise UserError(f"folds must be an integer ≥ 2, got {folds}")
    folds = int(folds)
    names = [f"tag{j}" for j in range(y.shape[1])] if tag_names is None else [str(t) for t in tag_names]
    if len(names) != y.shape[1]:
        raise UserError(f"{len(names)} tag_names for {y.shape[1]} tag columns")

    cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    per_tag, skipped = {}, []
    for j, name in enumerate(names):
        n_pos = int(y[:, j].sum())
        if min(n_pos, len(y) - n_pos) < folds:
            skipped.append(name)
            continue
        model = make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))
        scores = cross_val_predict(model, x, y[:, j], cv=cv, method="decision_function")
        per_tag[name] = float(roc_auc_score(y[:, j], scores))
    if not per_tag:
        raise UserError(f"no tag has at least {folds} positives and {folds} negatives; use fewer folds")
    return {"auc_mean": float(np.mean(list(per_tag.values()))), "auc_per_tag": per_tag, "skipped": skipped,
            "folds": folds}


# --------------------------------------------------------------------------------------------------------------
# §4.6.3: nearest neighbours by cosine similarity
# --------------------------------------------------------------------------------------------------------------


def _unit_rows(x: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.where(norms > 0, norms, 1.0)  # a zero row stays zero: similarity 0 to everything


def _top_k(sims: np.ndarray, k: int) -> np.ndarray:
    """(rows, m) similarities → (rows, k) column indices, highest first, ties to the lower index."""
    m = sims.shape[1]
    if k == m:
        return np.argsort(-sims, axis=1, kind="stable")
    part = np.argpartition(-sims, k - 1, axis=1)[:, :k]
    # argpartition picks an arbitrary member of a tie at the k-th place; rows with such a tie get a stable
    # full sort so that the result never depends on it.
    kth = np.take_along_axis(sims, part, axis=1).min(axis=1, keepdims=True)
    tied = np.flatnonzero((sims >= kth).sum(axis=1) > k)
    order = np.lexsort((part, -np.take_along_axis(sims, part, axis=1)), axis=1)
    idx = np.take_along_axis(part, order, axis=1)
    if tied.size:
        idx[tied] = np.argsort(-sims[tied], axis=1, kind="stable")[:, :k]
    return idx


def cosine_neighbours(query_vectors, database_vectors, k: int = 5, exclude_self: bool = False,
                      *, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` database items by cosine similarity to each query (thesis §4.6.3, Table 4.4).

    Args:
      query_vectors: (q, dims); database_vectors: (m, dims).
      k: neighbours per query; at most m (m − 1 with ``exclude_self``).
      exclude_self: the queries are the database itself (q == m, row i is item i); item i is not returned
        as its own neighbour.
      chunk: queries scored at a time, so memory is chunk × m whatever q is.

    Returns:
      ``(indices, similarities)``, both (q, k), in descending similarity; equal similarities are ordered by
      database index. A zero vector has similarity 0 to everything (no NaN).
    """
    qv = _matrix(query_vectors, "query_vectors")
    db = _matrix(database_vectors, "database_vectors")
    if qv.shape[1] != db.shape[1]:
        raise UserError(f"query_vectors have {qv.shape[1]} dims but database_vectors have {db.shape[1]}")
    if exclude_self and qv.shape[0] != db.shape[0]:
        raise UserError(f"exclude_self needs the queries to be the database, got {qv.shape[0]} queries "
                         f"for {db.shape[0]} items")
    available = db.shape[0] - int(bool(exclude_self))
    if int(k) != k or not 1 <= k <= available:
        raise UserError(f"k must be between 1 and {available} (database size"
                         f"{' − 1 with exclude_self' if exclude_self else ''}), got {k}")
    k = int(k)
    qn, dn = _unit_rows(qv), _unit_rows(db)
    indices = np.empty((qv.shape[0], k), dtype=np.int64)
    sims_out = np.empty((qv.shape[0], k), dtype=np.float64)
    for start in range(0, qv.shape[0], chunk):
        stop = min(start + chunk, qv.shape[0])
        s = np.clip(qn[start:stop] @ dn.T, -1.0, 1.0)
        if exclude_self:
            rows = np.arange(stop - start)
            s[rows, rows + start] = -np.inf
        idx = _top_k(s, k)
        indices[start:stop] = idx
        sims_out[start:stop] = np.take_along_axis(s, idx, axis=1)
    return indices, sims_out


def _md_cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def neighbour_table(query_ids: Sequence[int | str], names: Sequence[str], factor_sets: Mapping[str, object],
                    k: int = 5) -> str:
    """A Markdown table of the ``k`` nearest songs of each query under each set of factors, like thesis
    Table 4.4 (WMF factors vs factors predicted by the CNN, §4.6.3).

    Args:
      query_ids: the queries, as row indices into ``names`` / the factor arrays, or as names (which must
        then occur exactly once in ``names``).
      names: n item names, e.g. ``"Daft Punk - Rock n Roll"``.
      factor_sets: ``{source: (n, dims) factors}`` in display order, e.g. ``{"WMF": y, "CNN (predicted)":
        y_hat}``; every array has one row per name.
      k: neighbours listed per row.

    Returns:
      The table: columns ``query | source | 1 | … | k``, one row per (query, source), query-major. Neighbours
      are ranked by cosine similarity over all n items, the query's own row excluded (the thesis also drops
      the training songs in its demo, §4.8: pass only the rows you want searched).
    """
    names = [str(n) for n in names]
    n = len(names)
    if not factor_sets:
        raise UserError("factor_sets is empty; give at least one {source: factors} entry")
    units = {}
    for source, factors in factor_sets.items():
        f = _matrix(factors, f"factor_sets[{source!r}]")
        if f.shape[0] != n:
            raise UserError(f"factor_sets[{source!r}] has {f.shape[0]} rows but there are {n} names")
        units[source] = _unit_rows(f)
    if int(k) != k or not 1 <= k <= n - 1:
        raise UserError(f"k must be between 1 and {n - 1} (number of items − 1), got {k}")
    k = int(k)
    rows = []
    for q in query_ids:
        if isinstance(q, str):
            hits = [i for i, name in enumerate(names) if name == q]
            if len(hits) != 1:
                raise UserError(f"query {q!r} matches {len(hits)} names; give its row index instead")
            q = hits[0]
        if int(q) != q or not 0 <= q < n:
            raise UserError(f"query id {q} is not a row index in [0, {n})")
        q = int(q)
        for source, u in units.items():
            s = np.clip(u[q] @ u.T, -1.0, 1.0)[None]
            s[0, q] = -np.inf
            idx = _top_k(s, k)[0]
            rows.append([names[q], source] + [names[i] for i in idx])
    header = ["query", "source"] + [str(r) for r in range(1, k + 1)]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------------
# §4.6.3, Fig. 4.1: t-SNE map
# --------------------------------------------------------------------------------------------------------------


def tsne_embed(vectors, seed: int = 0, perplexity: float = 30.0) -> np.ndarray:
    """(n, dims) vectors → (n, 2) t-SNE embedding (the map of predicted factors of thesis Fig. 4.1, §4.6.3).

    sklearn's exact defaults otherwise (Euclidean distances, Barnes-Hut, learning rate "auto", 1000
    iterations) with ``init="pca"``, which with the fixed ``seed`` makes the map reproducible and keeps the
    global layout more faithful than a random start. The thesis gives no t-SNE settings. The perplexity is
    clipped to (n − 1) / 3 for small n, since each point needs about 3 × perplexity neighbours. sklearn's
    Barnes-Hut step uses every OpenMP thread; on a busy machine wrap the call in
    ``threadpoolctl.threadpool_limits(1)``, which was 5-20× faster for small n there.
    """
    from sklearn.manifold import TSNE

    x = _matrix(vectors, "vectors")
    if x.shape[0] < 4:
        raise UserError(f"t-SNE needs at least 4 vectors, got {x.shape[0]}")
    if perplexity <= 0:
        raise UserError(f"perplexity must be > 0, got {perplexity}")
    perplexity = min(float(perplexity), (x.shape[0] - 1) / 3.0)
    tsne = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return tsne.fit_transform(x)


def _colours(n: int) -> list:
    from matplotlib import colormaps

    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    if n <= 20:
        return [colormaps["tab20"](i) for i in range(n)]
    return [colormaps["turbo"](v) for v in np.linspace(0.05, 0.95, n)]


def tsne_plot(vectors, labels, label_names: Sequence[str], path, title: str = "", seed: int = 0,
              perplexity: float = 30.0, *, embedding=None) -> str:
    """Scatter of the t-SNE map of ``vectors`` coloured by label, saved as PNG (thesis Fig. 4.1, §4.6.3,
    where the predicted factors cluster into hip-hop, rock, pop and electronic).

    Args:
      vectors: (n, dims), e.g. CNN-predicted latent factors.
      labels: n integer labels indexing ``label_names``; −1 marks an unlabelled item (drawn in grey).
      label_names: one name per label, shown in the legend with its count.
      path: PNG file to write (parent directories are created).
      seed, perplexity: passed to `tsne_embed`.
      embedding: an (n, 2) map from `tsne_embed` to draw instead of computing one.

    Returns ``path``.
    """
    from matplotlib.figure import Figure


    labels = np.asarray(labels)
    label_names = [str(n) for n in label_names]
    n = np.asarray(vectors).shape[0]
    if labels.shape != (n,):
        raise UserError(f"labels has shape {labels.shape}, expected ({n},) for {n} vectors")
    if labels.size and (not np.issubdtype(labels.dtype, np.integer) or labels.min() < -1
                        or labels.max() >= len(label_names)):
        raise UserError(f"labels must be integers in [0, {len(label_names)}) (or -1 for unlabelled)")
    if embedding is None:
        emb = tsne_embed(vectors, seed=seed, perplexity=perplexity)
    else:
        emb = np.asarray(embedding, dtype=np.float64)
        if emb.shape != (n, 2):
            raise UserError(f"embedding has shape {emb.shape}, expected ({n}, 2)")

    fig = Figure(figsize=(7.5, 6.0))
    ax = fig.add_subplot()
    size = float(np.clip(3000.0 / max(n, 1), 2.0, 30.0))  # smaller markers for bigger maps
    if np.any(labels == -1):
        m = labels == -1
        ax.scatter(emb[m, 0], emb[m, 1], s=size, color="0.75", linewidths=0, label=f"unlabelled ({m.sum()})")
    for c, (name, colour) in enumerate(zip(label_names, _colours(len(label_names)))):
        m = labels == c
        if m.any():
            ax.scatter(emb[m, 0], emb[m, 1], s=size, color=colour, linewidths=0, alpha=0.85,
                       label=f"{name} ({m.sum()})")
    ax.set_xticks([])
    ax.set_yticks([])  # t-SNE axes have no units
    ax.set_title(title or f"t-SNE of {n} vectors", fontsize=10)
    # Outside the axes, so it never hides a cluster.
    ax.legend(fontsize=7 if len(label_names) > 12 else 8, loc="upper left", bbox_to_anchor=(1.01, 1.0),
              markerscale=max(1.0, 20.0 / size) ** 0.5, frameon=False)
    fig.tight_layout()
    return save_figure(fig, path)
