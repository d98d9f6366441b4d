"""Is evaluation against noisy labels reliable? Choi's thesis §3.2.2.3 (Fig. 3.6), and §3.2.2.2's tagability claim.

Over a set of evaluated systems (workdirs with `report.json`), three AUC series, one value per system:

    (i)   the mean ROC-AUC of the re-annotated tags against the re-annotation
    (ii)  the mean ROC-AUC of the same tags against the GT (the dataset's, noisy, labels)
    (iii) the macro ROC-AUC of all tags against the GT

ρ1 = Pearson(i, ii) says how far noisy-GT evaluation ranks systems as clean labels would; ρ2 = Pearson(ii, iii)
whether the re-annotated tags stand for all tags. The thesis finds ρ1 = 0.905 and 0.833 for systems that differ
a lot (training-set sizes) and 0.543 for systems that differ little.

(i) comes from a re-annotation CSV (`item_id,tag,true_label` with `item_id` the item's index in the evaluated
split; scores from each workdir's `predictions_<split>.npz`, views averaged as probabilities) or, for the
weak-labelling simulation (task `weak_multilabel`), from the report's `clean_roc_auc_per_tag`.

When the reports hold the simulated rates (`label_noise`), each system's per-tag AUCs are also correlated
(Spearman) with the tags' tagability and with their popularity (GT positives in the evaluated split), over all
tags and within `--tags`: the thesis's "AUC tracks tagability, not popularity".

    mirjax analyze reliability --workdir A --workdir B … [--names a,b,…] [--tags t1,t2,…]
                               [--reannotation CSV] [--out DIR]
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.analysis.label_noise import read_reannotation
from mirjax.analysis.tags import load_report
from mirjax.errors import UserError
from mirjax.evaluation.metrics import roc_auc_per_tag
from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report

__all__ = ["pearson", "reliability", "reannotation_auc", "tagability_correlation", "plot_reliability",
           "plot_tagability", "run", "summary"]


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Pearson correlation of two equal-length series (NaN under 3 points or for a constant series)."""
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan
    return float(np.corrcoef(x, y)[0, 1])


def _mean(per_tag: Mapping, tags: Sequence[str]) -> float:
    v = [per_tag.get(t) for t in tags]
    v = [float(a) for a in v if a is not None and math.isfinite(float(a))]
    return float(np.mean(v)) if v else math.nan


def reliability(series_i: Sequence[float], series_ii: Sequence[float], series_iii: Sequence[float]) -> dict:
    """ρ1 = Pearson(i, ii), ρ2 = Pearson(ii, iii) and the spread (max − min) of each series."""
    spread = {k: float(np.nanmax(v) - np.nanmin(v)) if np.isfinite(v).any() else math.nan
              for k, v in (("i", np.asarray(series_i, float)), ("ii", np.asarray(series_ii, float)),
                           ("iii", np.asarray(series_iii, float)))}
    return {"rho1": pearson(series_i, series_ii), "rho2": pearson(series_ii, series_iii), "spread": spread}


def reannotation_auc(workdir: str, split: str, rows: Sequence[Mapping], tags: Sequence[str]) -> dict[str, float]:
    """ROC-AUC per tag of `workdir`'s saved predictions of `split` against the re-annotation rows
    (`item_id` = index in the split)."""
    path = os.path.join(workdir, f"predictions_{split}.npz")
    if not os.path.isfile(path):
        raise UserError(f"no predictions_{split}.npz in {workdir} (run eval.py on it)")
    with np.load(path) as z:
        logits = np.asarray(z["logits"], np.float64)  # (clips, views, tags)
    probs = (1.0 / (1.0 + np.exp(-logits))).mean(axis=1)
    with open(os.path.join(workdir, "report.json"), encoding="utf-8") as f:
        names = list(json.load(f)["roc_auc_per_tag"])
    out = {}
    for t in tags:
        if t not in names:
            raise UserError(f"tag '{t}' is not an output of {workdir}")
        sel = [r for r in rows if r["tag"] == t]
        idx = np.array([r["item_id"] for r in sel], int)
        if len(idx) and (idx.min() < 0 or idx.max() >= len(probs)):
            raise UserError(f"re-annotation item ids out of range for {workdir}'s {len(probs)} {split} items")
        y = np.array([r["true_label"] for r in sel], int)
        out[t] = float(roc_auc_per_tag(y[:, None], probs[idx, names.index(t)][:, None])[0]) if len(sel) else math.nan
    return out


def tagability_correlation(per_tag_auc: Mapping, tagability: Mapping, popularity: Mapping) -> dict:
    """Spearman correlation of per-tag AUC with tagability and with popularity (tags with a finite AUC)."""
    from scipy import stats

    tags = [t for t, a in per_tag_auc.items() if a is not None and math.isfinite(float(a))]
    auc = np.array([float(per_tag_auc[t]) for t in tags])
    out = {"n": len(tags)}
    for name, ref in (("tagability", tagability), ("popularity", popularity)):
        x = np.array([float(ref[t]) for t in tags])
        out[name] = float(stats.spearmanr(x, auc)[0]) if len(tags) >= 3 else math.nan
    return out


def plot_reliability(names: Sequence[str], series: Mapping[str, Sequence[float]], rel: dict, path,
                     title: str = "") -> str:
    """Fig. 3.6: the three AUC series over the systems, with ρ1 and ρ2 in the title."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(max(5.0, 0.7 * len(names) + 2.5), 3.6))
    ax = fig.add_subplot()
    x = np.arange(len(names))
    for (label, v), colour in zip(series.items(), ("tab:red", "tab:blue", "goldenrod")):
        ax.plot(x, v, marker="o", color=colour, label=label)
    ax.set_xticks(x, names, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("ROC-AUC")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    ax.set_title(f"{title}ρ1 = {rel['rho1']:.3f}, ρ2 = {rel['rho2']:.3f}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_tagability(per_tag: Mapping[str, Mapping], tagability: Mapping, popularity: Mapping, path,
                    title: str = "") -> str:
    """Per-tag AUC (against GT and against the re-annotation) over tagability (left) and popularity (right)."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9.0, 3.6))
    axes = fig.subplots(1, 2, sharey=True)
    for ax, (xname, ref) in zip(axes, (("tagability (recall of the GT)", tagability),
                                       ("popularity (GT positives)", popularity))):
        for (label, auc), colour in zip(per_tag.items(), ("tab:blue", "tab:red")):
            tags = [t for t, a in auc.items() if a is not None and math.isfinite(float(a))]
            x = [float(ref[t]) for t in tags]
            c = tagability_correlation(auc, tagability, popularity)
            rho = c["tagability" if ref is tagability else "popularity"]
            ax.scatter(x, [float(auc[t]) for t in tags], s=14, color=colour, label=f"{label} (ρs {rho:.2f})")
        ax.set_xlabel(xname)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    axes[0].set_ylabel("ROC-AUC per tag")
    fig.suptitle(title or "AUC vs tagability and popularity", fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def run(args) -> dict:
    """`mirjax analyze reliability`'s work."""
    workdirs = [os.path.normpath(w) for w in args.workdir]
    names = [n.strip() for n in args.names.split(",")] if args.names else [os.path.basename(w) for w in workdirs]
    if len(names) != len(workdirs):
        raise UserError(f"--names needs {len(workdirs)} names, got '{args.names}'")
    reports = [load_report(w, ("roc_auc_per_tag",)) for w in workdirs]
    all_tags = list(reports[0]["roc_auc_per_tag"])
    rows = read_reannotation(args.reannotation) if args.reannotation else None
    if args.tags:
        tags = [t.strip() for t in args.tags.split(",") if t.strip()]
    elif rows is not None:
        tags = list(dict.fromkeys(r["tag"] for r in rows))
    else:
        tags = all_tags
    unknown = sorted(set(tags) - set(all_tags))
    if unknown:
        raise UserError(f"unknown tag(s) {', '.join(unknown[:5])}; the reports' tags: {', '.join(all_tags[:8])}, …")
    series = {"(i) tags vs re-annotation": [], "(ii) tags vs GT": [], "(iii) all tags vs GT": []}
    systems = []
    for n, w, rep in zip(names, workdirs, reports):
        if rows is not None:
            clean = reannotation_auc(w, rep["split"], rows, tags)
        elif "clean_roc_auc_per_tag" in rep:
            clean = rep["clean_roc_auc_per_tag"]
        else:
            raise UserError(f"{w}/report.json has no clean_roc_auc_per_tag; give --reannotation CSV")
        s = (_mean(clean, tags), _mean(rep["roc_auc_per_tag"], tags), float(rep["roc_auc_macro"] or math.nan))
        for k, v in zip(series, s):
            series[k].append(v)
        system = {"name": n, "workdir": os.path.abspath(w), "auc_i": s[0], "auc_ii": s[1], "auc_iii": s[2]}
        noise = rep.get("label_noise")
        if noise:
            tagability, popularity = noise["recall"], noise["positives_noisy"]
            system["vs_gt"] = tagability_correlation(rep["roc_auc_per_tag"], tagability, popularity)
            clean_all = clean if rows is None else rep.get("clean_roc_auc_per_tag", clean)
            system["vs_clean"] = tagability_correlation(clean_all, tagability, popularity)
            if set(tags) != set(all_tags):  # also within the re-annotated tags (e.g. one category)
                system["tags_vs_gt"] = tagability_correlation(
                    {t: rep["roc_auc_per_tag"][t] for t in tags}, tagability, popularity)
                system["tags_vs_clean"] = tagability_correlation(
                    {t: clean_all.get(t) for t in tags}, tagability, popularity)
        systems.append(system)
    rel = reliability(*series.values())
    out = args.out or "reliability"
    plots = [plot_reliability(names, series, rel, os.path.join(out, "reliability.png"),
                              title=f"{len(tags)} tags; ")]
    first = reports[0]
    if first.get("label_noise"):
        noise = first["label_noise"]
        plots.append(plot_tagability({"vs GT": first["roc_auc_per_tag"],
                                      "vs clean": first.get("clean_roc_auc_per_tag", {})},
                                     noise["recall"], noise["positives_noisy"],
                                     os.path.join(out, "tagability.png"), title=f"{names[0]}: per-tag AUC"))
    result = {"tags": tags, "systems": systems, "series": series, **rel, "plots": plots}
    result["path"] = write_report(out, result, filename="reliability.json")
    return result


def _f(x) -> str:
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def summary(result: dict) -> str:
    lines = [f"{len(result['systems'])} systems, {len(result['tags'])} tags: rho1 = {_f(result['rho1'])}, "
             f"rho2 = {_f(result['rho2'])} (spread of (ii): {_f(result['spread']['ii'])})"]
    for s in result["systems"]:
        extra = ""
        if "vs_gt" in s:
            extra = (f"; Spearman(AUC vs GT: tagability {_f(s['vs_gt']['tagability'])}, popularity "
                     f"{_f(s['vs_gt']['popularity'])}; AUC vs clean: tagability {_f(s['vs_clean']['tagability'])}, "
                     f"popularity {_f(s['vs_clean']['popularity'])})")
        if "tags_vs_gt" in s:
            extra += (f"; within the {len(result['tags'])} tags: GT tagability {_f(s['tags_vs_gt']['tagability'])}, "
                      f"popularity {_f(s['tags_vs_gt']['popularity'])}; clean tagability "
                      f"{_f(s['tags_vs_clean']['tagability'])}, popularity {_f(s['tags_vs_clean']['popularity'])}")
        lines.append(f"{s['name']}: (i) {_f(s['auc_i'])} (ii) {_f(s['auc_ii'])} (iii) {_f(s['auc_iii'])}{extra}")
    lines.append(f"wrote {result['path']}")
    return "\n".join(lines)
