"""Choi's structure comparison (thesis Ch. 4, Figs. 4.2–4.4): k1c2, k2c1, k2c2 and CRNN at matched sizes.

    mirjax study structures --quick --out workdirs/structures_quick      # ≈ 20 min on 2 CPU cores
    mirjax study structures --out workdirs/structures                    # full sweep, scorebank
    mirjax study structures --setting msd --out workdirs/structures_msd  # the thesis's data

Each structure × size is `configs/choi_structures.py:STRUCTURE,SIZE,SETTING`. Writes into OUT:
`structures.md`/`.json` (the table), `auc_vs_params.png` (memory-controlled, Fig. 4.2),
`auc_vs_time.png` (computation-controlled: test AUC vs measured training seconds per 2,500 examples, Fig. 4.4),
and `tagwise.png` + `tagwise.json` (per-tag AUC of the four structures at the largest size, Fig. 4.3).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any

from mirjax.analysis import tags as tag_analysis
from mirjax.config import load_config
from mirjax.models.choi_structures import SIZES, STRUCTURES
from mirjax.studies import runner

log = logging.getLogger("mirjax")

QUICK_SIZES = SIZES[:3]  # 0.1M, 0.25M, 0.5M
COLORS = {"k1c2": "tab:blue", "k2c1": "tab:orange", "k2c2": "tab:green", "crnn": "tab:red"}


def make_runs(setting: str, sizes: Sequence[str], structures: Sequence[str] = STRUCTURES) -> list[runner.Run]:
    return [runner.Run(f"{s}_{size}", load_config(f"configs/choi_structures.py:{s},{size},{setting}"),
                       {"structure": s, "size": size})
            for size in sizes for s in structures]


def report(rows: Sequence[dict[str, Any]], out: str, title: str) -> list[str]:
    columns = [("structure", "structure", ""), ("size", "size", ""), ("params", "parameters", ","),
               ("steps", "steps", ""), ("val_roc_auc_macro", "best val ROC-AUC", ".4f"),
               ("test_roc_auc", "test ROC-AUC", ".4f"), ("test_pr_auc", "test PR-AUC", ".4f"),
               ("train_examples_per_sec", "train examples/s", ".1f"),
               ("seconds_per_2500_examples", "s / 2,500 examples", ".0f")]
    table = runner.markdown_table(rows, columns)
    good = runner.ok(rows)
    extra = {}
    paths = []
    try:
        paths += _plots(good, out, title)
    except Exception as e:  # plots must never cost the table
        log.warning("plotting failed: %s", e)
    tagwise = _tagwise(good, out)
    if tagwise:
        extra["tagwise"] = tagwise
        table += (f"\nPer-tag test ROC-AUC at {tagwise['size']} ({len(tagwise['tags'])} tags): " +
                  "; ".join(f"{a} beats {b} on {n} tags" for (a, b), n in tagwise["wins_listed"]) + ".\n")
        extra["tagwise"].pop("wins_listed")
    runner.write_outputs(out, "structures", rows, table, extra)
    return paths


def _plots(rows, out, title) -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    paths = []
    for key, xlabel, fname in (("params", "parameters", "auc_vs_params.png"),
                               ("seconds_per_2500_examples", "training seconds per 2,500 examples",
                                "auc_vs_time.png")):
        fig, ax = plt.subplots(figsize=(6.4, 4.2))
        for s in STRUCTURES:
            pts = sorted((r[key], r["test_roc_auc"], r["size"]) for r in rows if r["structure"] == s and r.get(key))
            if not pts:
                continue
            ax.plot([p[0] for p in pts], [p[1] for p in pts], "o-", color=COLORS[s], label=s)
            for x, y, size in pts:
                ax.annotate(size, (x, y), textcoords="offset points", xytext=(3, 3), fontsize=7)
        ax.set_xscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("test ROC-AUC (macro)")
        ax.set_title(f"{title}: AUC vs {'parameters' if key == 'params' else 'training time'}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        path = os.path.join(out, fname)
        fig.savefig(path, dpi=120)
        plt.close(fig)
        paths.append(path)
    return paths


def _tagwise(rows, out) -> dict[str, Any] | None:
    """Per-tag comparison at the largest size every structure finished (Fig. 4.3)."""

    for size in reversed(SIZES):
        at = {r["structure"]: r for r in rows if r["size"] == size and r.get("roc_auc_per_tag")}
        if len(at) == len(STRUCTURES):
            break
    else:
        return None
    per_tag = {s: at[s]["roc_auc_per_tag"] for s in STRUCTURES}
    first = next(iter(per_tag.values()))
    popularity = _test_popularity(out, at) or {t: 0 for t in first}
    comparison = tag_analysis.compare_models(per_tag, reference="k2c2", popularity=popularity)
    wins = comparison["pairwise_wins"]
    listed = [(("crnn", "k2c1"), wins["crnn"]["k2c1"]), (("k1c2", "k2c1"), wins["k1c2"]["k2c1"]),
              (("crnn", "k2c2"), wins["crnn"]["k2c2"]), (("k2c2", "k1c2"), wins["k2c2"]["k1c2"])]
    try:
        tag_analysis.plot_tagwise_comparison(per_tag, popularity, os.path.join(out, "tagwise.png"),
                                             diff=("crnn", "k2c2"))
    except Exception as e:
        log.warning("tag-wise plot failed: %s", e)
    corr = {s: tag_analysis.popularity_correlation(per_tag[s], popularity) for s in STRUCTURES}
    return {"size": size, "tags": list(first), "pairwise_wins": wins, "wins_listed": listed,
            "spearman_popularity_auc": {s: c.get("rho") for s, c in corr.items()}}


def _test_popularity(out, at) -> dict[str, int] | None:
    """Tag counts in the test labels saved by evaluation (predictions_test.npz of any run)."""
    import numpy as np

    for r in at.values():
        path = os.path.join(out, "runs", r["run"], "predictions_test.npz")
        if os.path.exists(path):
            labels = np.load(path)["labels"]
            return {t: int(c) for t, c in zip(r["roc_auc_per_tag"], labels.sum(axis=0))}
    return None


def main(args) -> None:
    setting = "quick" if args.quick else args.setting
    sizes = tuple(args.sizes.split(",")) if args.sizes else (QUICK_SIZES if args.quick else SIZES)
    runs = make_runs(setting, sizes)
    rows = runner.execute(runs, args.out)
    paths = report(rows, args.out, f"structures ({setting})")
    print(open(os.path.join(args.out, "structures.md")).read())
    print("wrote", os.path.join(args.out, "structures.md"), *paths)
