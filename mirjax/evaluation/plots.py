"""Evaluation plots written as PNG files.

Figures are built with ``matplotlib.figure.Figure`` and saved through the Agg canvas directly, never
through pyplot, so no display is needed and no global backend or figure state is touched.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from mirjax.evaluation.metrics import roc_auc_per_tag, roc_curve

__all__ = ["plot_per_tag_auc", "plot_roc_curves", "plot_confusion"]


def save_figure(fig: Figure, path) -> str:
    """Write `fig` as a PNG to `path` (creating its folder) and return the path."""
    path = os.fspath(path)
    if os.path.dirname(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100, format="png")
    return path


def plot_per_tag_auc(per_tag: dict, path, title: str = "ROC-AUC per tag", xlabel: str = "ROC-AUC") -> str:
    """Horizontal bars of ``{tag: AUC}`` sorted by AUC (best on top), with the macro mean as a line.

    Tags with NaN (single-class columns) are left out and counted in the subtitle. Returns ``path``.
    """
    items = [(str(k), float(v)) for k, v in per_tag.items() if v is not None and not math.isnan(v)]
    n_excluded = len(per_tag) - len(items)
    items.sort(key=lambda kv: kv[1])  # barh draws bottom-up, so ascending puts the best tag on top
    names = [k for k, _ in items]
    values = np.array([v for _, v in items])
    fig = Figure(figsize=(7.0, max(2.5, 0.25 * len(items) + 1.2)))
    ax = fig.add_subplot()
    ax.barh(np.arange(len(items)), values, color="tab:blue", height=0.7)
    ax.set_yticks(np.arange(len(items)), names, fontsize=8 if len(items) > 30 else 9)
    if items:
        mean = float(values.mean())
        ax.axvline(mean, color="tab:red", linestyle="--", label=f"macro = {mean:.3f}")
        ax.legend(loc="lower right")
        lo = min(0.5, float(values.min()))
        ax.set_xlim(max(0.0, lo - 0.05), 1.0)
    ax.set_ylim(-0.6, len(items) - 0.4)
    ax.set_xlabel(xlabel)
    sub = f" ({n_excluded} single-class tags excluded)" if n_excluded else ""
    ax.set_title(title + sub, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_roc_curves(y_true, y_score, tag_names: Sequence[str], path, max_tags: int = 12) -> str:
    """Grid of ROC curves for the ``max_tags`` most frequent tags that have both classes.

    Args: y_true, y_score ``(n_examples, n_tags)``; tag_names ``n_tags`` names. Returns ``path``.
    """
    y_true = np.asarray(y_true)
    y_score = np.asarray(y_score)
    aucs = roc_auc_per_tag(y_true, y_score)
    valid = np.flatnonzero(~np.isnan(aucs))
    # Most frequent first: those curves are the least noisy and usually the tags people care about.
    chosen = valid[np.argsort(-y_true[:, valid].sum(axis=0), kind="stable")][:max_tags]
    n = max(len(chosen), 1)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig = Figure(figsize=(3.0 * cols, 3.0 * rows))
    for i in range(n):
        ax = fig.add_subplot(rows, cols, i + 1)
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", linewidth=1)
        if len(chosen):
            t = chosen[i]
            fpr, tpr, _ = roc_curve(y_true[:, t], y_score[:, t])
            ax.plot(fpr, tpr, color="tab:blue", label=f"AUC = {aucs[t]:.3f}")
            ax.legend(loc="lower right", fontsize=8)
            ax.set_title(str(tag_names[t]), fontsize=9)
        else:
            ax.set_title("no tag with both classes", fontsize=9)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1.01)
        ax.set_aspect("equal")
        ax.tick_params(labelsize=7)
        if i % cols == 0:
            ax.set_ylabel("true positive rate", fontsize=8)
        if i >= n - cols:
            ax.set_xlabel("false positive rate", fontsize=8)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_confusion(matrix, class_names: Sequence[str], path, title: str = "Confusion matrix") -> str:
    """Confusion matrix (rows = true class) coloured by row-normalised rate, annotated with counts."""
    matrix = np.asarray(matrix)
    c = matrix.shape[0]
    with np.errstate(invalid="ignore", divide="ignore"):
        rates = np.nan_to_num(matrix / matrix.sum(axis=1, keepdims=True))
    size = max(4.0, 0.5 * c + 2.0)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    im = ax.imshow(rates, cmap="Blues", vmin=0.0, vmax=1.0)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class")
    ticks = np.arange(c)
    ax.set_xticks(ticks, [str(n) for n in class_names], rotation=45, ha="right", fontsize=8)
    ax.set_yticks(ticks, [str(n) for n in class_names], fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if c <= 30:  # Counts become unreadable beyond that.
        for i in range(c):
            for j in range(c):
                ax.text(j, i, str(int(matrix[i, j])), ha="center", va="center", fontsize=7,
                        color="white" if rates[i, j] > 0.5 else "black")
    total = matrix.sum()
    acc = np.trace(matrix) / total if total else float("nan")
    ax.set_title(f"{title} (accuracy {acc:.3f})", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
