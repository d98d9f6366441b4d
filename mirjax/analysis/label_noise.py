"""Label-noise quantification from a re-annotated subset (Choi's thesis §3.2.2, Table 3-A, Figs. 3.2-3.3).

For each re-annotated tag, over the subset's items with their dataset ("ground truth", GT) label and their
re-annotated (true) label:

    p+        error rate of positive labels: the fraction of GT-positive items that are truly negative
    p-        error rate of negative labels: the fraction of GT-negative items that are truly positive
    precision 1 - p+
    recall    TP / (TP + FN) on the subset, the thesis's column (d) and its measure of *tagability* (on the
              GT-balanced Subset100 this is 50(1-p+) / (50(1-p+) + 50 p-), which over-weights GT positives)
    N̂+       Eq. 3.2, the estimated true number of positives over all T items of which N+ are GT-positive:
              N̂+ = N+ (1 - p+) + (T - N+) p-
    population_recall  N+ (1 - p+) / N̂+, the GT's recall over all items (not in the thesis; with N+ and T)

with 95 % percentile-bootstrap intervals (items resampled with replacement within the GT-positive and the
GT-negative items, the strata the subset was drawn from). A second, uniformly random re-annotated subset
(the thesis's Subset400) gives the proportion of truly positive items to check N̂+/T against (a Wilson interval).

    mirjax analyze label-noise --config configs/NAME.py[:ARG] --reannotation SUBSET.csv [--random_subset CSV]
                               [--split train] [--bootstrap 1000] [--out DIR]
    mirjax analyze label-noise --config … --write_subset SUBSET.csv [--per_class 50] [--tags a,b] [--split train]

The CSV has a header and the columns `item_id,tag,true_label` (0/1), where `item_id` is the item's index in
`--split` (the pipeline's file order); an optional `gt_label` column gives the GT label directly, otherwise it
is the config's label for the item (with the task `weak_multilabel`, the simulated weak label). With a
simulated weak labelling, `--write_subset` draws a GT-balanced subset (`--per_class` GT-positive and as many
GT-negative items per tag, seeded) and writes it with the clean tags as the re-annotation, and
`--write_random N` a uniformly random one; the study then runs as it would on re-annotated real data.
"""

from __future__ import annotations

import csv
import dataclasses
import math
import os
from collections.abc import Mapping, Sequence

import numpy as np

from mirjax.errors import UserError
from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report

__all__ = ["NoiseStats", "noise_stats", "estimated_true_count", "bootstrap_stats", "wilson_interval",
           "read_reannotation", "write_reannotation", "balanced_subset", "random_subset", "analyse_tag",
           "plot_noise", "run", "summary"]

STATS = ("p_plus", "p_minus", "precision", "recall", "estimated_count", "population_recall")


@dataclasses.dataclass(frozen=True)
class NoiseStats:
    p_plus: float
    p_minus: float
    precision: float
    recall: float
    estimated_count: float  # Eq. 3.2 (NaN without N+ and T)
    population_recall: float  # N+ (1 - p+) / N̂+: the GT's recall over all items (NaN without N+ and T)


def estimated_true_count(n_positive, total, p_plus, p_minus):
    """Eq. 3.2: N̂+ = N+ (1 − p+) + (T − N+) p− (works on arrays of p+ and p− too)."""
    return n_positive * (1.0 - np.asarray(p_plus)) + (total - n_positive) * np.asarray(p_minus)


def _rates(gt: np.ndarray, true: np.ndarray) -> tuple[float, float, float]:
    pos, neg = gt, ~gt
    p_plus = float((~true[pos]).mean()) if pos.any() else math.nan
    p_minus = float(true[neg].mean()) if neg.any() else math.nan
    tp, fn = int((gt & true).sum()), int((~gt & true).sum())
    recall = tp / (tp + fn) if tp + fn else math.nan
    return p_plus, p_minus, recall


def noise_stats(gt, true, n_positive: float = math.nan, total: float = math.nan) -> NoiseStats:
    """The statistics of one tag from its subset's GT and true 0/1 labels (`(items,)` each); `n_positive` (N+)
    and `total` (T) of the whole dataset give Eq. 3.2's estimate."""
    gt, true = np.asarray(gt).astype(bool), np.asarray(true).astype(bool)
    if gt.shape != true.shape or gt.ndim != 1:
        raise UserError(f"GT labels {gt.shape} and true labels {true.shape} must be two equal-length vectors")
    p_plus, p_minus, recall = _rates(gt, true)
    estimate = float(estimated_true_count(n_positive, total, p_plus, p_minus))
    with np.errstate(divide="ignore", invalid="ignore"):
        population = float(np.divide(n_positive * (1.0 - p_plus), estimate))
    return NoiseStats(p_plus, p_minus, 1.0 - p_plus, recall, estimate, population)


def bootstrap_stats(gt, true, n_positive: float = math.nan, total: float = math.nan, n_boot: int = 1000,
                    seed: int = 0, level: float = 0.95) -> dict[str, tuple[float, float]]:
    """Percentile-bootstrap intervals (lo, hi) at `level` of every statistic of `noise_stats`, resampling the
    GT-positive and the GT-negative items separately (each stratum keeps its size). Vectorised: one
    `(n_boot, stratum size)` index draw per stratum."""
    gt, true = np.asarray(gt).astype(bool), np.asarray(true).astype(bool)
    rng = np.random.default_rng(seed)
    pos_true, neg_true = true[gt], true[~gt]

    def resample(x):
        if not len(x):
            return np.full(n_boot, np.nan), np.zeros(n_boot)
        draws = x[rng.integers(0, len(x), size=(n_boot, len(x)))]
        return draws.mean(1), draws.sum(1)

    pos_frac, tp = resample(pos_true)  # fraction / count of truly positive among GT-positive
    neg_frac, fn = resample(neg_true)
    p_plus, p_minus = 1.0 - pos_frac, neg_frac
    with np.errstate(divide="ignore", invalid="ignore"):
        recall = np.where(tp + fn > 0, tp / (tp + fn), np.nan)
    estimate = estimated_true_count(n_positive, total, p_plus, p_minus)
    with np.errstate(divide="ignore", invalid="ignore"):
        population = np.divide(n_positive * (1.0 - p_plus), estimate)
    samples = {"p_plus": p_plus, "p_minus": p_minus, "precision": 1.0 - p_plus, "recall": recall,
               "estimated_count": estimate, "population_recall": population}
    q = [(1.0 - level) / 2 * 100, (1.0 + level) / 2 * 100]
    out = {}
    for k, v in samples.items():
        v = v[np.isfinite(v)]
        out[k] = tuple(float(x) for x in np.percentile(v, q)) if len(v) else (math.nan, math.nan)
    return out


def wilson_interval(k: int, n: int, level: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of a binomial proportion k/n."""
    from scipy import stats

    if n == 0:
        return math.nan, math.nan
    z = float(stats.norm.ppf((1.0 + level) / 2))
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


# ---------------------------------------------------------------- re-annotation files

def read_reannotation(path: str) -> list[dict]:
    """Rows {'item_id': int, 'tag': str, 'true_label': int, 'gt_label': int or None} of a re-annotation CSV."""
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            fields = set(reader.fieldnames or ())
            missing = {"item_id", "tag", "true_label"} - fields
            if missing:
                raise UserError(f"{path}: missing column(s) {', '.join(sorted(missing))}; need item_id,tag,"
                                "true_label[,gt_label]")
            rows = []
            for line, r in enumerate(reader, start=2):
                try:
                    row = {"item_id": int(r["item_id"]), "tag": r["tag"].strip(),
                           "true_label": int(r["true_label"]),
                           "gt_label": int(r["gt_label"]) if r.get("gt_label") not in (None, "") else None}
                except (TypeError, ValueError):
                    raise UserError(f"{path}:{line}: item_id and true_label (and gt_label) must be integers, "
                                    f"got {dict(r)}") from None
                if row["true_label"] not in (0, 1) or row["gt_label"] not in (None, 0, 1):
                    raise UserError(f"{path}:{line}: labels must be 0 or 1")
                rows.append(row)
    except OSError as e:
        raise UserError(f"cannot read re-annotation {path}: {e.strerror}") from None
    if not rows:
        raise UserError(f"{path}: no rows")
    return rows


def write_reannotation(path: str, rows: Sequence[Mapping]) -> str:
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["item_id", "tag", "true_label"])
        w.writeheader()
        for r in rows:
            w.writerow({k: r[k] for k in ("item_id", "tag", "true_label")})
    return path


def balanced_subset(gt: np.ndarray, true: np.ndarray, tags: Sequence[str], wanted: Sequence[str],
                    per_class: int, seed: int) -> list[dict]:
    """Subset100 of the thesis: for each wanted tag, `per_class` GT-positive and `per_class` GT-negative items
    drawn without replacement (fewer when there are not enough), with their true labels."""
    rng = np.random.default_rng(seed)
    rows = []
    for t in wanted:
        j = list(tags).index(t)
        for value in (1, 0):
            items = np.flatnonzero(gt[:, j] == value)
            pick = np.sort(rng.choice(items, size=min(per_class, len(items)), replace=False))
            rows += [{"item_id": int(i), "tag": t, "true_label": int(true[i, j])} for i in pick]
    return rows


def random_subset(true: np.ndarray, tags: Sequence[str], wanted: Sequence[str], n: int, seed: int) -> list[dict]:
    """Subset400 of the thesis: `n` items drawn uniformly without replacement, re-annotated for every wanted tag."""
    items = np.sort(np.random.default_rng(seed).choice(len(true), size=min(n, len(true)), replace=False))
    return [{"item_id": int(i), "tag": t, "true_label": int(true[i, list(tags).index(t)])}
            for t in wanted for i in items]


# ---------------------------------------------------------------- the analysis

def _tag_rows(rows: Sequence[Mapping], tag: str, gt_all: np.ndarray | None, j: int | None, where: str):
    sel = [r for r in rows if r["tag"] == tag]
    gt, true = [], []
    for r in sel:
        if r["gt_label"] is not None:
            gt.append(r["gt_label"])
        else:
            if gt_all is None or j is None:
                raise UserError(f"{where}: row for tag '{tag}' has no gt_label and no dataset labels to look it up")
            if not 0 <= r["item_id"] < len(gt_all):
                raise UserError(f"{where}: item_id {r['item_id']} out of range (the split has {len(gt_all)} items)")
            gt.append(int(gt_all[r["item_id"], j]))
        true.append(r["true_label"])
    return np.array(gt, bool), np.array(true, bool)


def analyse_tag(gt, true, n_positive: float, total: float, n_boot: int, seed: int) -> dict:
    """Point estimates, intervals and subset sizes of one tag, as a JSON-ready dict."""
    point = noise_stats(gt, true, n_positive, total)
    ci = bootstrap_stats(gt, true, n_positive, total, n_boot=n_boot, seed=seed)
    return {"n_items": int(len(gt)), "n_gt_positive": int(np.sum(gt)), "n_positive": n_positive, "total": total,
            **{k: {"value": getattr(point, k), "ci95": list(ci[k])} for k in STATS},
            "estimated_fraction": {"value": point.estimated_count / total,
                                   "ci95": [c / total for c in ci["estimated_count"]]}}


def plot_noise(per_tag: Mapping[str, dict], path, title: str = "Label noise per tag") -> str:
    """Fig. 3.2/3.3: p+, p−, precision and recall per tag with 95 % intervals (left); the occurrence in the GT,
    Eq. 3.2's estimate and, when given, the random subset's proportion, as % of items (right)."""
    from matplotlib.figure import Figure

    tags = list(per_tag)
    fig = Figure(figsize=(max(8.0, 1.4 * len(tags) + 4), 3.8))
    ax, bx = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.6, 1]})
    names = ("p_plus", "p_minus", "precision", "recall")
    w = 0.8 / len(names)
    x = np.arange(len(tags))
    for k, name in enumerate(names):
        v = np.array([per_tag[t][name]["value"] for t in tags]) * 100
        lo = np.array([per_tag[t][name]["ci95"][0] for t in tags]) * 100
        hi = np.array([per_tag[t][name]["ci95"][1] for t in tags]) * 100
        ax.bar(x + (k - 1.5) * w, v, w, yerr=[v - lo, hi - v], capsize=2,
               label={"p_plus": "p+", "p_minus": "p−"}.get(name, name))
    ax.set_xticks(x, tags, rotation=30, ha="right", fontsize=8)
    ax.set_ylabel("%")
    ax.set_ylim(0, 120)
    ax.legend(fontsize=7, ncol=4, loc="upper center")
    ax.set_title("error rates, precision and recall of the GT", fontsize=9)
    series = [("in GT", [per_tag[t]["n_positive"] / per_tag[t]["total"] for t in tags], None),
              ("Eq. 3.2", [per_tag[t]["estimated_fraction"]["value"] for t in tags],
               [per_tag[t]["estimated_fraction"]["ci95"] for t in tags])]
    if all("random_subset" in per_tag[t] for t in tags):
        series.append(("random subset", [per_tag[t]["random_subset"]["fraction"] for t in tags],
                       [per_tag[t]["random_subset"]["ci95"] for t in tags]))
    w = 0.8 / len(series)
    for k, (name, v, ci) in enumerate(series):
        v = np.array(v) * 100
        err = None if ci is None else [v - np.array(ci)[:, 0] * 100, np.array(ci)[:, 1] * 100 - v]
        bx.bar(x + (k - (len(series) - 1) / 2) * w, v, w, yerr=err, capsize=2, label=name)
    bx.set_xticks(x, tags, rotation=30, ha="right", fontsize=8)
    bx.set_ylabel("% of items positive")
    bx.legend(fontsize=7)
    bx.set_title("occurrence: GT, Eq. 3.2, re-annotated random subset", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def run(args, config=None) -> dict:
    """`mirjax analyze label-noise`'s work (`config`: the loaded `--config`, which gives the split's GT labels)."""
    gt_all, clean, tags = None, None, None
    if config is not None:
        from mirjax.data import weak_labels

        tags = list(weak_labels.label_names(config.dataset))
        gt_all = weak_labels.split_labels(config.dataset, args.split).astype(bool)
        clean = weak_labels.clean_split_labels(config.dataset, args.split).astype(bool)
    wanted = [t.strip() for t in args.tags.split(",") if t.strip()] if args.tags else None
    if args.write_subset or args.write_random:
        if config is None:
            raise UserError("--write_subset/--write_random need --config (the dataset and its simulated labels)")
        wanted = wanted or tags
        from mirjax.analysis.cooccurrence import select_tags

        select_tags(tags, wanted)
        written = []
        if args.write_subset:
            written.append(write_reannotation(args.write_subset, balanced_subset(
                gt_all, clean, tags, wanted, args.per_class, args.seed)))
        if args.write_random:
            written.append(write_reannotation(args.write_random, random_subset(
                clean, tags, wanted, args.random_items, args.seed + 1)))
        return {"written": written, "tags": wanted}
    if not args.reannotation:
        raise UserError("give --reannotation CSV (or --write_subset to draw one from a simulated labelling)")
    rows = read_reannotation(args.reannotation)
    rtags = list(dict.fromkeys(r["tag"] for r in rows))
    wanted = wanted or rtags
    missing = sorted(set(wanted) - set(rtags))
    if missing:
        raise UserError(f"{args.reannotation} has no rows for tag(s) {', '.join(missing)}")
    random_rows = read_reannotation(args.random_subset) if args.random_subset else []
    per_tag = {}
    for t in wanted:
        j = tags.index(t) if tags and t in tags else None
        if tags is not None and j is None:
            raise UserError(f"tag '{t}' of {args.reannotation} is not one of the dataset's tags")
        gt, true = _tag_rows(rows, t, gt_all, j, args.reannotation)
        n_pos = float(gt_all[:, j].sum()) if gt_all is not None else math.nan
        total = float(len(gt_all)) if gt_all is not None else math.nan
        per_tag[t] = analyse_tag(gt, true, n_pos, total, args.bootstrap, args.seed)
        rnd = [r["true_label"] for r in random_rows if r["tag"] == t]
        if rnd:
            per_tag[t]["random_subset"] = {"n_items": len(rnd), "positives": int(sum(rnd)),
                                           "fraction": sum(rnd) / len(rnd),
                                           "ci95": list(wilson_interval(int(sum(rnd)), len(rnd)))}
        if clean is not None:  # a simulation knows the truth over the whole split
            per_tag[t]["true_fraction"] = float(clean[:, j].mean())
    means = {k: float(np.nanmean([per_tag[t][k]["value"] for t in wanted])) for k in STATS[:4]}
    out = args.out or "label_noise"
    result = {"reannotation": os.path.abspath(args.reannotation), "split": args.split,
              "bootstrap": args.bootstrap, "tags": per_tag, "mean": means,
              "plot": plot_noise(per_tag, os.path.join(out, "label_noise.png"))}
    result["path"] = write_report(out, result, filename="label_noise.json")
    return result


def _pct(d: dict) -> str:
    return f"{100 * d['value']:.1f} [{100 * d['ci95'][0]:.1f}, {100 * d['ci95'][1]:.1f}]"


def summary(result: dict) -> str:
    if "written" in result:
        return "wrote " + ", ".join(result["written"]) + f" ({len(result['tags'])} tags)"
    lines = ["tag: p+ | p- | precision | recall [%, 95% CI] | Eq. 3.2 estimate | population recall"]
    for t, s in result["tags"].items():
        est = s["estimated_count"]
        extra = f" (true {100 * s['true_fraction']:.1f}%)" if "true_fraction" in s else ""
        lines.append(f"{t}: {_pct(s['p_plus'])} | {_pct(s['p_minus'])} | {_pct(s['precision'])} | "
                     f"{_pct(s['recall'])} | {est['value']:,.0f} [{est['ci95'][0]:,.0f}, {est['ci95'][1]:,.0f}] = "
                     f"{_pct(s['estimated_fraction'])}%{extra} | {_pct(s['population_recall'])}")
    m = result["mean"]
    lines.append("mean: " + ", ".join(f"{k} {100 * v:.1f}%" for k, v in m.items()))
    lines.append(f"wrote {result['path']} and {result['plot']}")
    return "\n".join(lines)
