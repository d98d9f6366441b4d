"""Tagging and classification metrics as pure, vectorised numpy functions.

Shapes: ``y_true`` and ``y_score`` are ``(n_examples, n_tags)``; one column per tag.
All tags are handled at once (one sort per call), so 30k x 50 takes well under a second.
The conventions follow ``sklearn.metrics`` exactly (the tests use it as the reference):

* ROC-AUC is the Mann-Whitney U statistic with average ranks for tied scores, which equals
  ``roc_auc_score`` (trapezoidal rule over the tie-grouped ROC curve).
* PR-AUC is average precision, ``sum_k (R_k - R_{k-1}) P_k`` over distinct thresholds, as
  ``average_precision_score`` (step-wise, no interpolation).

A tag whose column holds only one class has no defined ROC-AUC; it gets NaN for both metrics so
that both macro averages exclude the same tags, and ``tagging_metrics`` reports how many.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mirjax.errors import UserError

__all__ = [
    "roc_auc_per_tag",
    "pr_auc_per_tag",
    "macro",
    "accuracy",
    "confusion_matrix",
    "tagging_metrics",
    "classification_metrics",
    "regression_metrics",
    "roc_curve",
]


def _as_2d(y_true, y_score) -> tuple[np.ndarray, np.ndarray]:
    """Validates inputs; 1-D inputs are treated as a single tag. Returns (bool, float64) 2-D arrays."""
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score, dtype=np.float64)
    if y_true.ndim == 1:
        y_true = y_true[:, None]
    if y_score.ndim == 1:
        y_score = y_score[:, None]
    if y_true.shape != y_score.shape or y_true.ndim != 2:
        raise UserError(
            f"y_true {y_true.shape} and y_score {y_score.shape} must both be (n_examples, n_tags)"
        )
    if y_true.size and not np.isin(y_true, (0, 1)).all():
        raise UserError("y_true must contain only 0/1 (or bool) values")
    if np.isnan(y_score).any():
        raise UserError("y_score contains NaN; scores must be comparable to rank them")
    return y_true.astype(bool), y_score


def _sorted_tie_groups(y_score: np.ndarray, descending: bool):
    """Sorts every column and locates tie groups.

    Returns ``order`` (n, t) indices of the stable sort, and ``start``/``end`` (n, t): for each sorted
    position, the first and last (inclusive) sorted position holding the same score.
    """
    n = y_score.shape[0]
    key = -y_score if descending else y_score
    # Stable sort so that equal scores keep input order, like sklearn's mergesort.
    order = np.argsort(key, axis=0, kind="stable")
    s = np.take_along_axis(key, order, axis=0)
    pos = np.broadcast_to(np.arange(n)[:, None], s.shape)
    is_first = np.ones(s.shape, dtype=bool)
    is_first[1:] = s[1:] != s[:-1]
    is_last = np.ones(s.shape, dtype=bool)
    is_last[:-1] = is_first[1:]
    # Start of each group: running max of the positions where a group begins.
    start = np.maximum.accumulate(np.where(is_first, pos, 0), axis=0)
    # End of each group: running min (from the bottom) of the positions where a group ends.
    end = np.minimum.accumulate(np.where(is_last, pos, n - 1)[::-1], axis=0)[::-1]
    return order, start, end


def _class_counts(y_true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n_pos = y_true.sum(axis=0).astype(np.float64)
    n_neg = y_true.shape[0] - n_pos
    valid = (n_pos > 0) & (n_neg > 0)
    return n_pos, n_neg, valid


def roc_auc_per_tag(y_true, y_score) -> np.ndarray:
    """ROC-AUC of every tag, ``(n_tags,)`` float64; NaN where a column has a single class.

    Args:
      y_true: ``(n_examples, n_tags)`` in {0, 1}.
      y_score: ``(n_examples, n_tags)`` scores (probabilities, logits or integers); higher = positive.
    """
    y_true, y_score = _as_2d(y_true, y_score)
    n_pos, n_neg, valid = _class_counts(y_true)
    if y_true.shape[0] == 0:
        return np.full(y_true.shape[1], np.nan)
    order, start, end = _sorted_tie_groups(y_score, descending=False)
    # 1-based average rank of each tie group = mean of its first and last 1-based positions.
    avg_rank = (start + end) / 2.0 + 1.0
    pos_sorted = np.take_along_axis(y_true, order, axis=0)
    rank_sum_pos = np.where(pos_sorted, avg_rank, 0.0).sum(axis=0)
    u = rank_sum_pos - n_pos * (n_pos + 1) / 2.0
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = u / (n_pos * n_neg)
    return np.where(valid, auc, np.nan)


def pr_auc_per_tag(y_true, y_score) -> np.ndarray:
    """Average precision of every tag, ``(n_tags,)`` float64; NaN where a column has a single class.

    Equals ``sklearn.metrics.average_precision_score``: tied scores form one threshold, so every
    positive in a tie group is credited with the precision at the end of its group; AP is the mean of
    those precisions over the positives.
    """
    y_true, y_score = _as_2d(y_true, y_score)
    n_pos, _, valid = _class_counts(y_true)
    if y_true.shape[0] == 0:
        return np.full(y_true.shape[1], np.nan)
    order, _, end = _sorted_tie_groups(y_score, descending=True)
    pos_sorted = np.take_along_axis(y_true, order, axis=0)
    tp = np.cumsum(pos_sorted, axis=0)
    # Precision at the threshold that closes each element's tie group.
    precision_at_end = np.take_along_axis(tp, end, axis=0) / (end + 1.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        ap = np.where(pos_sorted, precision_at_end, 0.0).sum(axis=0) / n_pos
    return np.where(valid, ap, np.nan)


def macro(values) -> float:
    """NaN-ignoring mean of per-tag values; NaN if every value is NaN (no warning)."""
    values = np.asarray(list(values.values()) if isinstance(values, dict) else values, np.float64)
    finite = values[~np.isnan(values)]
    return float(finite.mean()) if finite.size else float("nan")


def accuracy(labels, scores) -> float:
    """Top-1 accuracy. labels ``(N,)`` int class ids; scores ``(N, C)`` (logits or probabilities)."""
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    if scores.ndim != 2 or labels.shape != scores.shape[:1]:
        raise UserError(f"labels {labels.shape} must be (N,) and scores {scores.shape} (N, C)")
    if labels.size == 0:
        return float("nan")
    return float(np.mean(np.argmax(scores, axis=-1) == labels))


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """``(C, C)`` int64 counts; rows are true classes, columns predicted classes (sklearn layout)."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    flat = labels * num_classes + predictions
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def tagging_metrics(y_true, y_score, tag_names: Sequence[str]) -> dict:
    """Multi-label tagging summary: macro and per-tag ROC-AUC and PR-AUC.

    Returns a dict with ``roc_auc_macro``, ``pr_auc_macro`` (floats, over tags with both classes),
    ``roc_auc_per_tag`` and ``pr_auc_per_tag`` ({tag name: value, NaN if excluded}),
    ``n_tags_excluded`` (tags whose column had a single class), ``excluded_tags`` and ``n_examples``.
    """
    roc = roc_auc_per_tag(y_true, y_score)
    pr = pr_auc_per_tag(y_true, y_score)
    tag_names = list(tag_names)
    if len(tag_names) != roc.shape[0]:
        raise UserError(f"got {len(tag_names)} tag names for {roc.shape[0]} tags")
    excluded = [name for name, v in zip(tag_names, roc) if np.isnan(v)]
    return {
        "roc_auc_macro": macro(roc),
        "pr_auc_macro": macro(pr),
        "roc_auc_per_tag": {name: float(v) for name, v in zip(tag_names, roc)},
        "pr_auc_per_tag": {name: float(v) for name, v in zip(tag_names, pr)},
        "n_tags_excluded": len(excluded),
        "excluded_tags": excluded,
        "n_examples": int(np.asarray(y_true).shape[0]),
    }


def classification_metrics(labels, scores, class_names: Sequence[str]) -> dict:
    """Single-label classification summary.

    Args:
      labels: ``(N,)`` int class ids. scores: ``(N, C)``. class_names: C names.
    Returns a dict with ``accuracy``, ``confusion_matrix`` (``(C, C)`` int array, rows = true class),
    ``per_class_recall`` ({name: recall, NaN for absent classes}), ``class_names`` and ``n_examples``.
    """
    labels = np.asarray(labels)
    scores = np.asarray(scores)
    class_names = list(class_names)
    if scores.ndim != 2 or scores.shape[1] != len(class_names):
        raise UserError(f"scores {scores.shape} must be (N, {len(class_names)}) for the class names")
    cm = confusion_matrix(labels, np.argmax(scores, axis=-1), len(class_names))
    support = cm.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.diag(cm) / support
    return {
        "accuracy": accuracy(labels, scores),
        "confusion_matrix": cm,
        "per_class_recall": {name: float(r) for name, r in zip(class_names, recall)},
        "class_names": class_names,
        "n_examples": int(labels.shape[0]),
    }


def regression_metrics(y_true, y_pred) -> dict:
    """Vector regression (e.g. predicted latent factors): ``r2`` = coefficient of determination per output
    averaged over outputs (``sklearn.metrics.r2_score``'s uniform average; an output with zero variance scores
    0), ``mse`` = squared error summed over outputs, averaged over examples (the MSE loss, Dieleman Eq. 4.4),
    ``r2_per_output`` and ``n_examples``."""
    y_true = np.asarray(y_true, np.float64)
    y_pred = np.asarray(y_pred, np.float64)
    if y_true.shape != y_pred.shape or y_true.ndim != 2:
        raise UserError(f"targets {y_true.shape} and predictions {y_pred.shape} must both be (N, outputs)")
    ss_res = np.sum((y_true - y_pred) ** 2, axis=0)
    ss_tot = np.sum((y_true - y_true.mean(axis=0)) ** 2, axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        r2 = np.where(ss_tot > 0, 1.0 - ss_res / ss_tot, 0.0)
    return {"r2": float(np.mean(r2)), "mse": float(np.sum(ss_res) / y_true.shape[0]),
            "r2_per_output": [float(v) for v in r2], "n_examples": int(y_true.shape[0])}


def roc_curve(y_true_col, y_score_col) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """ROC curve of one tag for plotting: ``(fpr, tpr, thresholds)``, each ``(n_thresholds + 1,)``.

    One point per distinct score (like ``sklearn.metrics.roc_curve(..., drop_intermediate=False)``),
    preceded by (0, 0) at threshold +inf. Rates are NaN when a class is absent.
    """
    y_true, y_score = _as_2d(np.ravel(y_true_col), np.ravel(y_score_col))
    order, _, end = _sorted_tie_groups(y_score, descending=True)
    pos_sorted = np.take_along_axis(y_true, order, axis=0)[:, 0]
    is_last = end[:, 0] == np.arange(end.shape[0])
    tp = np.cumsum(pos_sorted)[is_last].astype(np.float64)
    fp = (np.flatnonzero(is_last) + 1.0) - tp
    thresholds = np.take_along_axis(y_score, order, axis=0)[:, 0][is_last]
    with np.errstate(invalid="ignore", divide="ignore"):
        tpr = np.concatenate([[0.0], tp / tp[-1]]) if tp.size else np.zeros(1)
        fpr = np.concatenate([[0.0], fp / fp[-1]]) if fp.size else np.zeros(1)
    return fpr, tpr, np.concatenate([[np.inf], thresholds])
