"""Per-tag and tag-category analysis of evaluated tagging models (Choi's thesis, Ch. 3-4).

What the thesis does with per-tag AUCs, for any workdirs that `eval.py` has scored:

* `category_summary`: mean/std AUC per tag category (genre, era, instrument, mood in the MSD; style,
  instrument, tempo, ... in scorebank), as in Fig. 3.5.
* `popularity_correlation`: Spearman rank correlation between tag popularity and AUC (the thesis finds
  0.077, i.e. none, over the MSD top-50, and about -0.7 within the era tags).
* `compare_models`: per-tag differences between models and how many tags each one wins ("the CRNN
  outperforms k2c1 for 44 tags"), tags ordered by popularity as on Fig. 4.3's x axis.
* three plots (`plot_category_auc`, `plot_tagwise_comparison`, `plot_popularity_vs_auc`) and `run(args)`, the
  work of the command

    mirjax analyze tags --workdir DIR [--workdir DIR2 ...] [--names a,b] [--out OUTDIR]
                        [--popularity test|train] [--metric roc|pr] [--reference NAME] [--diff A,B] [--data_dir DIR]

  It reads each `report.json` (and `predictions_<split>.npz` for the labels), writes
  `OUTDIR/tag_analysis.json` and PNGs, and prints a short summary. `--popularity test` (default) counts
  positives in the evaluated split's labels (free); `--popularity train` counts them over the dataset's
  training split through TFDS, which reads every training record once (audio bytes are read but not
  decoded: seconds for scorebank, minutes for an MSD-sized corpus) and needs the dataset prepared.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.config import base_config
from mirjax.data import default_data_dir
from mirjax.data.pipeline import dataset_info
from mirjax.errors import UserError
from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report

log = logging.getLogger("mirjax")

OTHER = "other"  # category of tags that the dataset does not categorise

__all__ = [
    "OTHER",
    "tag_popularity",
    "category_summary",
    "popularity_correlation",
    "compare_models",
    "plot_category_auc",
    "plot_tagwise_comparison",
    "plot_popularity_vs_auc",
    "run",
    "summary",
]


def _finite(v) -> bool:
    return v is not None and not (isinstance(v, float) and math.isnan(v)) and math.isfinite(float(v))


def _clean(per_tag: Mapping) -> dict[str, float]:
    """``{tag: auc}`` with None (how report.json stores NaN) turned back into NaN."""
    return {str(k): (float(v) if v is not None else math.nan) for k, v in per_tag.items()}


def multi_hot(labels, rows: str = "clips") -> np.ndarray:
    """A ``(rows, tags)`` 0/1 or bool label matrix as bool; anything else is one line."""
    labels = np.asarray(labels)
    if labels.ndim != 2:
        raise UserError(f"labels must be ({rows}, tags), got shape {labels.shape}")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise UserError("labels must contain only 0/1 (or bool) values")
    return labels.astype(bool)


def tag_popularity(labels) -> np.ndarray:
    """Positives per tag (int64, one per column) of a ``(clips, tags)`` 0/1 or bool matrix."""
    return multi_hot(labels).sum(axis=0).astype(np.int64)


def category_summary(per_tag_auc: Mapping, categories: Mapping) -> dict[str, dict]:
    """Per category: ``mean``/``std`` (population std, ddof=0) of the AUCs, ``n_tags``, ``n_nan`` and
    ``tags`` as ``[tag, auc]`` pairs sorted by AUC, best first (NaN tags last, out of mean and std).

    Tags without a category (missing, None or "") go to ``"other"``. Categories are ordered by mean AUC,
    best first, with "other" and all-NaN categories last.
    """
    per_tag_auc = _clean(per_tag_auc)
    groups: dict[str, list[tuple[str, float]]] = {}
    for tag, auc in per_tag_auc.items():
        groups.setdefault(str(categories.get(tag) or OTHER), []).append((tag, auc))
    out = {}
    for cat, items in groups.items():
        vals = np.array([a for _, a in items if not math.isnan(a)])
        ordered = sorted(items, key=lambda ta: (math.isnan(ta[1]), -ta[1] if not math.isnan(ta[1]) else 0.0))
        out[cat] = {"mean": float(vals.mean()) if len(vals) else math.nan,
                    "std": float(vals.std()) if len(vals) else math.nan,
                    "n_tags": len(items), "n_nan": len(items) - len(vals),
                    "tags": [[t, a] for t, a in ordered]}

    def key(cat):
        m = out[cat]["mean"]
        return (cat == OTHER, math.isnan(m), -m if not math.isnan(m) else 0.0, cat)
    return {cat: out[cat] for cat in sorted(out, key=key)}


def popularity_correlation(per_tag_auc: Mapping, popularity: Mapping) -> dict:
    """Spearman rank correlation between tag popularity (positive counts) and AUC.

    A positive ``rho`` means popular tags score higher. (The thesis correlates popularity *rank*, where
    rank 1 is the most popular tag; that flips the sign only.) Tags whose AUC is NaN (single-class in
    the split) are dropped and listed. Returns ``rho``, ``p_value``, ``n``, ``n_dropped``,
    ``dropped_tags``; rho and p are NaN (with a ``note``) under 3 tags or for constant inputs.
    """
    from scipy import stats

    per_tag_auc = _clean(per_tag_auc)
    missing = [t for t in per_tag_auc if t not in popularity]
    if missing:
        raise UserError(f"no popularity for {len(missing)} tag(s): {', '.join(missing[:5])}"
                         + (", ..." if len(missing) > 5 else ""))
    dropped = [t for t, a in per_tag_auc.items() if math.isnan(a)]
    kept = [t for t, a in per_tag_auc.items() if not math.isnan(a)]
    out = {"rho": math.nan, "p_value": math.nan, "n": len(kept), "n_dropped": len(dropped),
           "dropped_tags": dropped}
    x = np.array([float(popularity[t]) for t in kept])
    y = np.array([per_tag_auc[t] for t in kept])
    if len(kept) < 3:
        out["note"] = f"only {len(kept)} tag(s) with a defined AUC; need 3"
    elif np.ptp(x) == 0 or np.ptp(y) == 0:
        out["note"] = "constant popularity or AUC; rank correlation undefined"
    else:
        res = stats.spearmanr(x, y)
        out["rho"], out["p_value"] = float(res[0]), float(res[1])
    return out


def _popularity_order(tags: Sequence[str], popularity: Mapping | None) -> list[str]:
    """Most popular first; ties (and no popularity at all) keep the given order."""
    tags = list(tags)
    if popularity is None:
        return tags
    return sorted(tags, key=lambda t: -float(popularity.get(t, -math.inf)))


def compare_models(per_tag: Mapping[str, Mapping], reference: str, popularity: Mapping | None = None) -> dict:
    """Tag-wise comparison of models that were scored on the same tags.

    Args: per_tag ``{model: {tag: auc}}``; reference one of its models; popularity ``{tag: count}`` to
    order the tags (most popular first), else the reference's order.
    Returns ``reference``, ``tags`` (ordered), ``macro`` {model: mean AUC}, ``vs_reference`` {model:
    ``wins``/``losses``/``ties`` (tags where model AUC >, <, = the reference's), ``n_compared``,
    ``mean_difference``, ``difference`` {tag: model - reference}} and ``pairwise_wins`` {a: {b: tags where
    a > b}}. Tags with NaN in either model are left out of the counts and means.
    """
    if reference not in per_tag:
        raise UserError(f"reference model '{reference}' not among {', '.join(per_tag)}")
    per_tag = {m: _clean(v) for m, v in per_tag.items()}
    ref_tags = list(per_tag[reference])
    for m, v in per_tag.items():
        if set(v) != set(ref_tags):
            miss, extra = sorted(set(ref_tags) - set(v)), sorted(set(v) - set(ref_tags))
            raise UserError(f"model '{m}' has different tags from '{reference}' (missing: "
                             f"{', '.join(miss[:5]) or '-'}; extra: {', '.join(extra[:5]) or '-'})")
    tags = _popularity_order(ref_tags, popularity)
    arr = {m: np.array([v[t] for t in tags]) for m, v in per_tag.items()}
    out = {"reference": reference, "tags": tags,
           "macro": {m: float(np.nanmean(a)) if np.isfinite(a).any() else math.nan for m, a in arr.items()},
           "vs_reference": {}, "pairwise_wins": {}}
    for m, a in arr.items():
        if m == reference:
            continue
        d = a - arr[reference]
        ok = ~np.isnan(d)
        out["vs_reference"][m] = {
            "wins": int((d[ok] > 0).sum()), "losses": int((d[ok] < 0).sum()), "ties": int((d[ok] == 0).sum()),
            "n_compared": int(ok.sum()), "mean_difference": float(d[ok].mean()) if ok.any() else math.nan,
            "difference": {t: float(x) for t, x in zip(tags, d)}}
    for a in arr:
        out["pairwise_wins"][a] = {}
        for b in arr:
            if a != b:
                d = arr[a] - arr[b]
                out["pairwise_wins"][a][b] = int((d[~np.isnan(d)] > 0).sum())
    return out


# ---------------------------------------------------------------- plots

def _category_colours(cats: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps
    named = [c for c in cats if c != OTHER]
    cmap = colormaps["tab10" if len(named) <= 10 else "tab20"]
    colours = {c: cmap(i % cmap.N) for i, c in enumerate(named)}
    colours[OTHER] = (0.6, 0.6, 0.6, 1.0)
    return colours


def _ylim(ax, values, top: float = 1.0) -> None:
    finite = [v for v in values if _finite(v)]
    lo = min([0.5] + finite)
    ax.set_ylim(max(0.0, lo - 0.05), top + 0.01)


def plot_category_auc(per_tag_auc: Mapping, categories: Mapping, path, title: str = "AUC per tag by category",
                      ylabel: str = "ROC-AUC") -> str:
    """Per-tag AUC bars grouped and coloured by category (best category first, tags sorted by AUC within
    it), each category's mean as a dashed segment over its bars, like the thesis's Fig. 3.5. Returns
    ``path``."""
    from matplotlib.figure import Figure

    summary = category_summary(per_tag_auc, categories)
    colours = _category_colours(sorted(summary, key=lambda c: (c == OTHER, c)))  # same colours as the scatter
    rows = [(t, a, c) for c, s in summary.items() for t, a in s["tags"] if not math.isnan(a)]
    n_nan = sum(s["n_nan"] for s in summary.values())
    fig = Figure(figsize=(max(6.0, 0.28 * len(rows) + 3.5), 4.8))
    ax = fig.add_subplot()
    x = np.arange(len(rows))
    ax.bar(x, [a for _, a, _ in rows], color=[colours[c] for _, _, c in rows], width=0.8)
    start = 0
    for cat, s in summary.items():
        n = s["n_tags"] - s["n_nan"]
        if n:
            ax.hlines(s["mean"], start - 0.4, start + n - 0.6, colors="k", linestyles="--", linewidth=1.2)
            ax.bar([np.nan], [np.nan], color=colours[cat], label=f"{cat} {s['mean']:.3f} ({n})")
        start += n
    ax.set_xticks(x, [t for t, _, _ in rows], rotation=90, fontsize=7 if len(rows) > 30 else 8)
    ax.set_xlim(-0.6, max(len(rows), 1) - 0.4)
    _ylim(ax, [a for _, a, _ in rows])
    ax.set_ylabel(ylabel)
    # Outside the axes: inside, it would hide the low bars that matter most.
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.005, 1.0), title="category mean (tags)",
              title_fontsize=7)
    ax.set_title(title + (f" ({n_nan} single-class tags excluded)" if n_nan else ""), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_tagwise_comparison(per_tag: Mapping[str, Mapping], popularity: Mapping, path,
                            diff: tuple[str, str] | None = None, title: str = "AUC per tag",
                            ylabel: str = "ROC-AUC") -> str:
    """Fig. 4.3: each model's per-tag AUC (one marker and line per model) over the tags sorted by
    popularity (most popular left; grey bars: positive counts, right axis), and, with ``diff=(a, b)``, a
    second panel of bars ``AUC_a - AUC_b`` per tag. Returns ``path``."""
    from matplotlib.figure import Figure

    per_tag = {m: _clean(v) for m, v in per_tag.items()}
    first = next(iter(per_tag.values()))
    tags = _popularity_order(list(first), popularity)
    x = np.arange(len(tags))
    if diff is not None:
        for m in diff:
            if m not in per_tag:
                raise UserError(f"diff model '{m}' not among {', '.join(per_tag)}")
    fig = Figure(figsize=(max(7.0, 0.26 * len(tags) + 2.5), 6.5 if diff else 4.5))
    if diff:
        ax, axd = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [2.2, 1]})
    else:
        ax, axd = fig.add_subplot(), None
    pop = ax.twinx()
    pop.bar(x, [float(popularity.get(t, 0)) for t in tags], color="0.85", width=0.8, zorder=0)
    pop.set_ylabel("positives (popularity)", fontsize=8, color="0.4")
    pop.tick_params(labelsize=7, colors="0.4")
    ax.set_zorder(pop.get_zorder() + 1)  # model lines over the popularity bars
    ax.patch.set_visible(False)
    markers = "os^Dv<>px*"
    allv = []
    for i, (m, v) in enumerate(per_tag.items()):
        y = np.array([v.get(t, math.nan) for t in tags])
        allv += list(y)
        mean = np.nanmean(y) if np.isfinite(y).any() else math.nan
        ax.plot(x, y, marker=markers[i % len(markers)], markersize=4, linewidth=1, label=f"{m} ({mean:.3f})")
    _ylim(ax, allv)
    ax.set_ylabel(ylabel)
    ax.legend(fontsize=7, loc="lower left", ncol=min(4, len(per_tag)))
    ax.grid(axis="y", alpha=0.3)
    ax.set_title(title + " (tags sorted by popularity)", fontsize=10)
    bottom = ax
    if diff:
        a, b = diff
        d = np.array([per_tag[a].get(t, math.nan) - per_tag[b].get(t, math.nan) for t in tags])
        ok = ~np.isnan(d)
        axd.bar(x, np.nan_to_num(d), color=np.where(d > 0, "tab:green", "tab:red"), width=0.8)
        axd.axhline(0.0, color="k", linewidth=0.8)
        axd.set_ylabel(f"{a} - {b}", fontsize=8)
        axd.set_title(f"{a} better on {int((d[ok] > 0).sum())}/{int(ok.sum())} tags", fontsize=9)
        axd.grid(axis="y", alpha=0.3)
        bottom = axd
    bottom.set_xticks(x, tags, rotation=90, fontsize=7 if len(tags) > 30 else 8)
    bottom.set_xlim(-0.6, max(len(tags), 1) - 0.4)
    fig.tight_layout()
    return save_figure(fig, path)


def plot_popularity_vs_auc(per_tag_auc: Mapping, popularity: Mapping, path, categories: Mapping | None = None,
                           title: str = "Popularity vs AUC", ylabel: str = "ROC-AUC") -> str:
    """Scatter of per-tag AUC against popularity (log x when counts span over 20x), coloured by category,
    labelled by tag (up to 60 tags), with Spearman's rho in the title. Returns ``path``."""
    from matplotlib.figure import Figure

    per_tag_auc = _clean(per_tag_auc)
    corr = popularity_correlation(per_tag_auc, popularity)
    categories = categories or {}
    tags = [t for t, a in per_tag_auc.items() if not math.isnan(a)]
    cats = [str(categories.get(t) or OTHER) for t in tags]
    colours = _category_colours(sorted(set(cats), key=lambda c: (c == OTHER, c)))
    xs = np.array([float(popularity[t]) for t in tags])
    ys = np.array([per_tag_auc[t] for t in tags])
    fig = Figure(figsize=(7.5, 4.8))
    ax = fig.add_subplot()
    for c in colours:
        sel = np.array([k == c for k in cats], dtype=bool)
        if sel.any():
            ax.scatter(xs[sel], ys[sel], color=colours[c], s=22, label=c)
    if len(tags) <= 60:
        for t, xv, yv in zip(tags, xs, ys):
            ax.annotate(t, (xv, yv), fontsize=6, xytext=(2, 2), textcoords="offset points")
    if len(xs) and xs.min() > 0 and xs.max() / xs.min() > 20:
        ax.set_xscale("log")
    if len(colours) > 1 or categories:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    ax.set_xlabel("positives per tag (popularity)")
    ax.set_ylabel(ylabel)
    ax.grid(alpha=0.3)
    rho = "n/a" if math.isnan(corr["rho"]) else f"{corr['rho']:.3f} (p={corr['p_value']:.2g})"
    drop = f", {corr['n_dropped']} NaN dropped" if corr["n_dropped"] else ""
    ax.set_title(f"{title}: Spearman ρ = {rho}, n = {corr['n']}{drop}", fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


# ---------------------------------------------------------------- `mirjax analyze tags`

def load_report(workdir: str, keys: tuple[str, ...] = ("roc_auc_per_tag", "split")) -> dict:
    """An evaluated workdir's report.json, which must hold `keys`; a missing or unreadable one is one line."""
    path = os.path.join(workdir, "report.json")
    if not os.path.isfile(path):
        raise UserError(f"no report.json in {workdir} (run eval.py on it first)")
    try:
        with open(path, encoding="utf-8") as f:
            rep = json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"cannot read {path}: {str(e).splitlines()[0]}") from None
    for key in keys:
        if key not in rep:
            raise UserError(f"{path} has no '{key}' (not a tagging report?)")
    return rep


def _load_labels(workdir: str, split: str) -> np.ndarray:
    path = os.path.join(workdir, f"predictions_{split}.npz")
    if not os.path.isfile(path):
        raise UserError(f"no predictions_{split}.npz in {workdir} for test popularity "
                         "(re-run eval.py, or use --popularity train)")
    try:
        with np.load(path) as z:
            return np.asarray(z["labels"])
    except (OSError, ValueError, KeyError) as e:
        raise UserError(f"cannot read labels from {path}: {str(e).splitlines()[0]}") from None


def _builder_and_info(dataset: str, data_dir: str):
    """The TFDS builder (not prepared by us: metadata comes from the builder's code) and DatasetInfo."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow_datasets as tfds

    cfg = base_config().dataset
    cfg.name = dataset
    cfg.data_dir = data_dir
    cfg.task = "multilabel"
    builder = tfds.builder(dataset, data_dir=data_dir or default_data_dir())
    # The report does not record the sample rate; take the dataset's so dataset_info's check passes.
    rate = getattr(builder.info.features["audio"], "sample_rate", None) if "audio" in builder.info.features \
        else None
    if rate:
        cfg.sample_rate = int(rate)
    return builder, cfg, dataset_info(cfg, builder)


def _train_popularity(builder, cfg, info, tags: Sequence[str]) -> dict[str, int]:
    """Positives per tag over the training split, reading only the label feature."""
    import tensorflow as tf
    import tensorflow_datasets as tfds

    if not builder.is_prepared():
        raise UserError(f"dataset '{cfg.name}' is not prepared in {builder.data_dir}; build it or use "
                         "--popularity test")
    if set(info.label_names) != set(tags):
        raise UserError(f"dataset '{cfg.name}' tags differ from the report's; cannot map train popularity")
    ds = builder.as_dataset(split=cfg.train_split, shuffle_files=False,
                            decoders=tfds.decode.PartialDecoding({cfg.label_key: True}))
    counts = np.zeros(len(info.label_names), np.int64)
    for batch in ds.map(lambda ex: tf.cast(ex[cfg.label_key] > 0, tf.int64)).batch(4096).as_numpy_iterator():
        counts += batch.sum(axis=0)
    return {t: int(c) for t, c in zip(info.label_names, counts)}


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "model"


def _try_plot(fn, *args, **kwargs) -> str | None:
    try:
        return fn(*args, **kwargs)
    except Exception as e:  # a plot must never cost the user the analysis
        log.warning("plot %s failed: %s", os.path.basename(str(args[-1])), e)
        return None


def _fmt(x, spec=".3f") -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else format(x, spec)


def run(args) -> dict:
    """`mirjax analyze tags`' work (`args`: its parsed options); raises `UserError` for problems the user can fix."""

    workdirs = [os.path.normpath(w) for w in args.workdir]
    if args.names:
        names = [n.strip() for n in args.names.split(",")]
        if len(names) != len(workdirs) or len(set(names)) != len(names) or not all(names):
            raise UserError(f"--names needs {len(workdirs)} distinct non-empty names, got '{args.names}'")
    else:
        names = [os.path.basename(os.path.abspath(w)) or "model" for w in workdirs]
        if len(set(names)) != len(names):
            names = [f"{n}_{i}" for i, n in enumerate(names)]
    reports = [load_report(w) for w in workdirs]
    key = f"{args.metric}_auc_per_tag"
    per_tag = {}
    for n, w, r in zip(names, workdirs, reports):
        if key not in r:
            raise UserError(f"{w}/report.json has no '{key}'")
        per_tag[n] = _clean(r[key])
    tags = list(per_tag[names[0]])
    for n, w in zip(names[1:], workdirs[1:]):
        if set(per_tag[n]) != set(tags):
            miss, extra = sorted(set(tags) - set(per_tag[n])), sorted(set(per_tag[n]) - set(tags))
            raise UserError(f"{w}: tags differ from {workdirs[0]}'s (missing: {', '.join(miss[:5]) or '-'}; "
                             f"extra: {', '.join(extra[:5]) or '-'})")
    reference = args.reference or names[0]
    if reference not in names:
        raise UserError(f"--reference '{reference}' is not one of {', '.join(names)}")
    diff = None
    if args.diff:
        diff = tuple(s.strip() for s in args.diff.split(","))
        if len(diff) != 2 or not set(diff) <= set(names):
            raise UserError(f"--diff needs two of {', '.join(names)}, got '{args.diff}'")
    elif len(names) >= 2:
        diff = (names[1], names[0])

    dataset, split = str(reports[0].get("dataset", "")), str(reports[0]["split"])
    if args.popularity == "test":
        labels = _load_labels(workdirs[0], split)
        if labels.ndim != 2 or labels.shape[1] != len(tags):
            raise UserError(f"predictions_{split}.npz labels have shape {labels.shape}, expected "
                             f"(clips, {len(tags)}) for the report's tags")
        try:
            popularity = dict(zip(tags, (int(c) for c in tag_popularity(labels))))
        except ValueError as e:
            raise UserError(f"predictions_{split}.npz: {e}") from None
    categories, info = {}, None
    try:
        builder, cfg, info = _builder_and_info(dataset, args.data_dir)
        categories = dict(info.tag_categories)
    except Exception as e:  # analysis without categories is still useful
        log.warning("no tag categories: dataset '%s' cannot be loaded (%s)", dataset,
                    (str(e).splitlines() or [type(e).__name__])[0])
    if args.popularity == "train":
        if info is None:
            raise UserError(f"--popularity train needs dataset '{dataset}', which cannot be loaded")
        popularity = _train_popularity(builder, cfg, info, tags)

    out_dir = args.out or workdirs[0]
    metric_name = "ROC-AUC" if args.metric == "roc" else "PR-AUC"
    models, plots = [], []
    for n, w in zip(names, workdirs):
        auc = per_tag[n]
        by_cat = {}
        for cat, s in category_summary(auc, categories).items():
            sub = {t: a for t, a in s["tags"]}
            if s["n_tags"] - s["n_nan"] >= 3:
                by_cat[cat] = popularity_correlation(sub, popularity)
        models.append({"name": n, "workdir": os.path.abspath(w),
                       "macro": float(np.nanmean(list(auc.values()))) if any(map(_finite, auc.values()))
                       else math.nan,
                       "categories": category_summary(auc, categories),
                       "spearman": popularity_correlation(auc, popularity),
                       "spearman_by_category": by_cat})
        stem = _safe_name(n)
        plots.append(_try_plot(plot_category_auc, auc, categories,
                               os.path.join(out_dir, f"category_auc_{stem}.png"),
                               title=f"{n}: {metric_name} per tag by category", ylabel=metric_name))
        plots.append(_try_plot(plot_popularity_vs_auc, auc, popularity,
                               os.path.join(out_dir, f"popularity_vs_auc_{stem}.png"), categories=categories,
                               title=n, ylabel=metric_name))
    plots.append(_try_plot(plot_tagwise_comparison, per_tag, popularity,
                           os.path.join(out_dir, "tagwise_comparison.png"), diff=diff,
                           title=f"{metric_name} per tag", ylabel=metric_name))
    result = {"dataset": dataset, "split": split, "metric": f"{args.metric}_auc",
              "popularity_source": "train" if args.popularity == "train" else split,
              "categories_available": bool(categories), "popularity": popularity,
              "models": models,
              "comparison": compare_models(per_tag, reference, popularity) if len(names) > 1 else None,
              "plots": [p for p in plots if p]}
    result["path"] = write_report(out_dir, result, filename="tag_analysis.json")
    return result


def summary(result: dict) -> str:
    """A few human-readable lines about `run`'s result."""
    metric = "ROC-AUC" if result["metric"] == "roc_auc" else "PR-AUC"
    lines = [f"tag analysis: {result['dataset'] or '?'} {result['split']}, {len(result['models'])} model(s), "
             f"{len(result['popularity'])} tags, popularity from {result['popularity_source']} labels"
             + ("" if result["categories_available"] else ", no categories")]
    for m in result["models"]:
        s = m["spearman"]
        drop = f", {s['n_dropped']} NaN dropped" if s["n_dropped"] else ""
        lines.append(f"{m['name']}: macro {metric} {_fmt(m['macro'])}; Spearman(popularity, AUC) "
                     f"rho={_fmt(s['rho'])} (p={_fmt(s['p_value'], '.2g')}, n={s['n']}{drop})")
        if result["categories_available"]:
            cats = ", ".join(f"{c} {_fmt(v['mean'])} ({v['n_tags']})" for c, v in m["categories"].items())
            lines.append(f"  categories: {cats}")
    comp = result.get("comparison")
    if comp:
        for name, v in comp["vs_reference"].items():
            lines.append(f"{name} beats {comp['reference']} on {v['wins']}/{v['n_compared']} tags "
                         f"(mean diff {v['mean_difference']:+.4f})")
    lines.append(f"wrote {result['path']}" + (f" and {len(result['plots'])} plot(s)" if result["plots"] else ""))
    return "\n".join(lines)
