"""Figures of the transfer study in the manner of Choi thesis, Ch. 6: the summary over tasks (Fig. 6.2), the
per-strategy bars of one task with the random network's in grey (Figs. 6.3–6.9), and per-class scores of two
strategies (Fig. 6.5)."""

from __future__ import annotations

import math
import os
from collections.abc import Sequence

import numpy as np

from mirjax.studies.transfer.features import THESIS_STRATEGIES, strategies

TRAINED, TRAINED_LIGHT, RANDOM, MFCC, MFCC_CONCAT = "#3b6fb6", "#9ecae1", "#9a9a9a", "#7b4fa0", "#4fa08b"


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _ylim(ax, values, metric: str) -> None:
    vals = [v for v in values if v is not None and math.isfinite(v)]
    if not vals:
        return
    lo = min(vals)
    ax.set_ylim(max(0.0, lo - 0.1) if metric == "accuracy" else min(0.0, lo - 0.05), max(vals) + 0.08)


def summary(rows: Sequence[dict], path: str, title: str, folds: int = 10) -> str:
    """`rows`: one per task with metric, best_trained (+ _name), random_best, mfcc, mfcc_concat → grouped bars."""
    plt = _plt()
    series = [("best convnet feature", "best_trained", TRAINED), ("'12345' + MFCC", "mfcc_concat", MFCC_CONCAT),
              ("MFCC", "mfcc", MFCC), ("best random convnet", "best_random", RANDOM)]
    fig, ax = plt.subplots(figsize=(max(5.0, 1.5 * len(rows) + 2), 3.6))
    width = 0.8 / len(series)
    for j, (label, key, colour) in enumerate(series):
        vals = [r.get(key) for r in rows]
        xs = np.arange(len(rows)) + (j - (len(series) - 1) / 2) * width
        bars = ax.bar(xs, [np.nan if v is None else v for v in vals], width, label=label, color=colour)
        for b, v in zip(bars, vals):
            if v is not None and math.isfinite(v):
                ax.text(b.get_x() + b.get_width() / 2, v, f"{v:.2f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(np.arange(len(rows)), [f"{r['task']}\n({'acc.' if r['metric'] == 'accuracy' else 'r²'})"
                                         for r in rows], fontsize=8)
    _ylim(ax, [r.get(k) for r in rows for _, k, _ in series], "r2" if any(r["metric"] == "r2" for r in rows)
          else "accuracy")
    ax.set_ylim(ax.get_ylim()[0], ax.get_ylim()[1] + 0.12)  # room for the legend
    ax.set_ylabel(f"score ({folds}-fold CV, best grid point)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, ncol=4, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def per_strategy(task: str, metric: str, results: dict, path: str, title: str) -> str:
    """Blue bars: the 31 strategies of the trained source; narrow grey bars: the random network's; then
    '12345'+MFCC and MFCC. Ranks among the trained strategies are written in the bars (top-7 / lower-7
    coloured, as the thesis's figures); † marks the three strategies the thesis does not show."""
    plt = _plt()
    names = list(strategies())
    trained = [results.get(s, {}).get("cv") for s in names]
    random = [results.get(f"random:{s}", {}).get("cv") for s in names]
    extra = [("'12345'+MFCC", results.get("12345+mfcc", {}).get("cv"), MFCC_CONCAT),
             ("MFCC", results.get("mfcc", {}).get("cv"), MFCC)]
    order = sorted((i for i, v in enumerate(trained) if v is not None), key=lambda i: -trained[i])
    rank = {i: r + 1 for r, i in enumerate(order)}
    fig, ax = plt.subplots(figsize=(13, 3.8))
    x = np.arange(len(names))
    ax.bar(x - 0.15, [np.nan if v is None else v for v in trained], 0.6, color=TRAINED, label="convnet feature")
    ax.bar(x + 0.3, [np.nan if v is None else v for v in random], 0.25, color=RANDOM, label="random convnet")
    for i, v in enumerate(trained):
        if v is None:
            continue
        r = rank[i]
        colour = "#ffe066" if r <= 7 else ("#ff8080" if r > len(order) - 7 else "white")
        ax.text(i - 0.15, v - 0.005, str(r), ha="center", va="top", fontsize=6, color=colour, rotation=90)
    xe = len(names) + np.arange(len(extra)) + 0.5
    ax.bar(xe, [np.nan if v is None else v for _, v, _ in extra], 0.6, color=[c for _, _, c in extra])
    labels = [s + ("†" if s not in THESIS_STRATEGIES else "") for s in names] + [n for n, _, _ in extra]
    ax.set_xticks(np.concatenate([x, xe]), labels, rotation=90, fontsize=7)
    _ylim(ax, trained + random + [v for _, v, _ in extra], metric)
    ax.set_ylim(ax.get_ylim()[0], ax.get_ylim()[1] + 0.05)  # room for the legend
    ax.set_ylabel("accuracy" if metric == "accuracy" else "r²")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def per_class(class_names: Sequence[str], a: Sequence[float], b: Sequence[float], labels: tuple[str, str],
              path: str, title: str) -> str:
    """Per-class recall of two features side by side, the difference (b − a) written above each pair."""
    plt = _plt()
    # A class absent from the items scored has no recall (NaN; null in the JSON cache).
    a, b = ([np.nan if v is None else float(v) for v in vals] for vals in (a, b))
    n = len(class_names)
    fig, ax = plt.subplots(figsize=(max(5.0, 0.55 * n + 2), 3.6))
    x = np.arange(n)
    ax.bar(x - 0.2, a, 0.4, color=TRAINED_LIGHT, label=labels[0])
    ax.bar(x + 0.2, b, 0.4, color=TRAINED, label=labels[1])
    for i, (u, v) in enumerate(zip(a, b)):
        if math.isfinite(u) and math.isfinite(v):
            ax.text(i, max(u, v) + 0.01, f"{v - u:+.2f}", ha="center", va="bottom", fontsize=6)
    ax.set_xticks(x, class_names, rotation=60, ha="right", fontsize=7)
    ax.set_ylim(0, 1.2)
    ax.set_ylabel("per-class accuracy (recall)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper left", ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def safe_name(text: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in text)


def out_path(out: str, *parts: str) -> str:
    return os.path.join(out, "_".join(safe_name(p) for p in parts) + ".png")
