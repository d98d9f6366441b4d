"""Tag co-occurrence: the normalised co-occurrence (NCO) matrix of Choi's thesis, Eq. 3.1 and Fig. 3.1.

    C(i, j) = #(y_i ∧ y_j) / #y_i

the fraction of the items tagged i that are also tagged j (not symmetric: 69 % of 'alternative rock' items are
tagged 'rock', far fewer 'rock' items 'alternative rock'). A tag with no positive item has a row of NaN.

    mirjax analyze cooccurrence --config configs/NAME.py[:ARG] [--split train] [--tags a,b,…] [--out DIR]
    mirjax analyze cooccurrence --labels train_y.npy --tag_names tags.txt [--tags …] [--out DIR]

The labels are the split's, as the config's task trains on them (with `weak_multilabel`, the simulated weak
labels; otherwise the dataset's label feature), or a `(items, tags)` 0/1 `.npy` matrix with one tag name per
line in `--tag_names` (e.g. the MSD split's `train_y.npy`). Writes `nco.json` (matrix, tags, counts) and
`nco.png` (×100, rows i, columns j, as Fig. 3.1) in `--out` (default `nco/`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np

from mirjax.analysis.tags import multi_hot
from mirjax.errors import UserError
from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report

__all__ = ["nco_matrix", "symmetric_nco", "select_tags", "plot_nco", "load_labels", "run", "summary"]


def nco_matrix(labels) -> np.ndarray:
    """Eq. 3.1 of a `(items, tags)` 0/1 matrix: `(tags, tags)` float64, C[i, j] = #(i and j) / #i (1 on the
    diagonal of tags with positives, NaN rows for tags without)."""
    y = multi_hot(labels, rows="items").astype(np.int64)
    both = y.T @ y  # (tags, tags): #(y_i ∧ y_j)
    counts = np.diag(both).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counts[:, None] > 0, both / counts[:, None], np.nan)


def symmetric_nco(nco: np.ndarray) -> np.ndarray:
    """max(C(i, j), C(j, i)): the symmetric score the thesis ranks tag pairs by (§7.3), NaN where both are."""
    return np.fmax(nco, nco.T)


def select_tags(tags: Sequence[str], wanted: Sequence[str]) -> list[int]:
    """Indices of `wanted` in `tags` (a UserError names the unknown ones)."""
    index = {t: i for i, t in enumerate(tags)}
    unknown = [t for t in wanted if t not in index]
    if unknown:
        raise UserError(f"unknown tag(s) {', '.join(unknown[:5])}; tags: {', '.join(list(tags)[:10])}"
                        + (", …" if len(tags) > 10 else ""))
    return [index[t] for t in wanted]


def plot_nco(nco: np.ndarray, tags: Sequence[str], path, title: str = "Normalised co-occurrence ×100") -> str:
    """Heat map of C ×100 with the values printed (rows: tag i, the condition; columns: tag j), like Fig. 3.1.
    Returns `path`."""
    from matplotlib.figure import Figure

    n = len(tags)
    size = max(4.0, 0.32 * n + 2.0)
    fig = Figure(figsize=(size + 1.0, size))
    ax = fig.add_subplot()
    shown = np.ma.masked_invalid(100.0 * nco)
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=100)
    if n <= 40:
        for i in range(n):
            for j in range(n):
                if np.isfinite(nco[i, j]):
                    v = 100.0 * nco[i, j]
                    ax.text(j, i, f"{v:.0f}", ha="center", va="center", fontsize=6 if n > 20 else 7,
                            color="white" if v > 60 else "black")
    ax.set_xticks(range(n), tags, rotation=90, fontsize=7)
    ax.set_yticks(range(n), tags, fontsize=7)
    ax.set_xlabel("tag j")
    ax.set_ylabel("tag i   (C = #(i ∧ j) / #i)")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    return save_figure(fig, path)


def load_labels(args, config=None) -> tuple[np.ndarray, list[str], str]:
    """(labels (items, tags), tag names, where from) of `--labels/--tag_names`, or of the loaded `--config`'s
    dataset and `--split`."""
    if getattr(args, "labels", ""):
        if not args.tag_names:
            raise UserError("--labels needs --tag_names (a text file, one tag per line)")
        try:
            labels = np.load(args.labels)
        except (OSError, ValueError) as e:
            raise UserError(f"cannot read {args.labels}: {str(e).splitlines()[0]}") from None
        try:
            with open(args.tag_names, encoding="utf-8") as f:
                tags = [line.strip() for line in f if line.strip()]
        except OSError as e:
            raise UserError(f"cannot read {args.tag_names}: {e.strerror}") from None
        labels = multi_hot(labels, rows="items")
        if labels.shape[1] != len(tags):
            raise UserError(f"{args.labels} has {labels.shape[1]} columns but {args.tag_names} names {len(tags)} tags")
        return labels, tags, args.labels
    if config is None:
        raise UserError("give --config (a dataset and its labels) or --labels with --tag_names")
    from mirjax.data import weak_labels

    tags = list(weak_labels.label_names(config.dataset))
    return weak_labels.split_labels(config.dataset, args.split).astype(bool), tags, \
        f"{config.dataset.name} {args.split}"


def run(args, config=None) -> dict:
    """`mirjax analyze cooccurrence`'s work (`config`: the loaded `--config`, if given)."""
    labels, tags, source = load_labels(args, config)
    nco = nco_matrix(labels)
    shown = list(tags)
    if args.tags:
        shown = [t.strip() for t in args.tags.split(",") if t.strip()]
    idx = select_tags(tags, shown)
    out = args.out or "nco"
    result = {"source": source, "items": int(labels.shape[0]), "tags": list(tags),
              "positives": dict(zip(tags, map(int, labels.sum(0)))), "nco": nco,
              "plot": plot_nco(nco[np.ix_(idx, idx)], shown, os.path.join(out, "nco.png"),
                               title=f"NCO ×100 ({source}, {labels.shape[0]:,} items)")}
    sym = symmetric_nco(nco)
    iu = np.triu_indices(len(tags), 1)
    order = np.argsort(-np.nan_to_num(sym[iu], nan=-1.0), kind="stable")[:20]
    result["top_pairs"] = [[tags[iu[0][k]], tags[iu[1][k]], float(sym[iu][k])] for k in order]
    result["path"] = write_report(out, result, filename="nco.json")
    return result


def summary(result: dict) -> str:
    top = ", ".join(f"({a}, {b}) {v:.2f}" for a, b, v in result["top_pairs"][:5])
    return (f"NCO of {result['items']:,} items × {len(result['tags'])} tags from {result['source']}; most "
            f"co-occurring pairs (max of both directions): {top}\nwrote {result['path']} and {result['plot']}")
