"""`mirjax study kcnn`: Zhang et al.'s Tables 2/3 (7 methods × MEL / SFM / SCF / ALL) and Fig. 3 (t-SNE of
song-level representations) on one dataset.

    mirjax study kcnn --setting quick --dataset scorebank --features mel,sfm,scf,all --out workdirs/kcnn

Per feature column and outer fold: the codebooks (one per feature type; PCA whitening + K-means) are fitted on
the fold's training items, every clip becomes a word sequence; per seed, three networks are trained (KCNN k = 5,
its ULT variant, k = 1) and the three baselines learn their representations; the SVM rows classify the top hidden
layer (KCNN, k = 1) or the max-pooled baseline codes. A cell (column, fold, seed) is saved in
OUT/cells/COLUMN/foldF_seedS.json as soon as it is done; a rerun skips finished cells (resume after a stop, or
more seeds / folds added to an earlier run) and refuses an OUT made with another config. Several processes may
work on one OUT at once (a cell being computed is locked, `claim`); each tables what it sees, so table the
finished study with `--report_only` once they are done. A column's score is the
mean over folds per seed, then mean ± sd over seeds (the paper: 10-fold CV averaged over 10 runs); the paper's
three claims are paired differences per seed (`claims`).
"""

from __future__ import annotations

import json
import logging
import os
import time

import ml_collections
import numpy as np
from sklearn.metrics import balanced_accuracy_score

from mirjax.config import load_config
from mirjax.errors import UserError
from mirjax.evaluation import report as report_lib
from mirjax.features import audio_words as aw
from mirjax.studies import runner
from mirjax.studies.kcnn import baselines, data, train as ktrain
from mirjax.studies.kcnn.config import kcnn_config

log = logging.getLogger("mirjax")

COLUMNS = {"mel": ("mel",), "sfm": ("sfm",), "scf": ("scf",), "all": aw.FEATURE_TYPES}
HEADERS = {"mel": "MEL", "sfm": "SFM", "scf": "SCF", "all": "ALL"}
# The paper's rows, in its order.
ROWS = ("SC + SVM", "AE + SVM", "DBN + SVM", "KCNN (k = 5) ULT", "KCNN (k = 5)", "KCNN (k = 1) + SVM",
        "KCNN (k = 5) + SVM")
PAPER_ROW_NAMES = dict(zip(ROWS, ("Sparse coding + SVM", "Autoencoder + SVM", "DBN + SVM", "KCNN (k = 5) ULT",
                                  "KCNN (k = 5)", "KCNN (k = 1) + SVM", "KCNN (k = 5) + SVM")))
# Zhang et al., Table 2 (GTZAN) and Table 3 (ISMIR2004Genre), accuracy %, columns MEL, SFM, SCF, ALL.
PAPER = {
    "GTZAN (Table 2)": {
        "SC + SVM": (74.30, 59.00, 55.60, 75.10), "AE + SVM": (59.90, 48.80, 55.70, 64.30),
        "DBN + SVM": (63.20, 45.50, 42.30, 60.90), "KCNN (k = 5) ULT": (61.80, 47.50, 39.80, 66.30),
        "KCNN (k = 5)": (75.30, 50.90, 42.30, 77.60), "KCNN (k = 1) + SVM": (72.90, 56.50, 39.80, 74.60),
        "KCNN (k = 5) + SVM": (80.70, 59.60, 48.50, 83.90)},
    "ISMIR2004Genre (Table 3)": {
        "SC + SVM": (72.44, 62.05, 60.80, 72.52), "AE + SVM": (70.03, 69.88, 63.55, 64.61),
        "DBN + SVM": (69.50, 68.45, 58.30, 70.08), "KCNN (k = 5) ULT": (70.03, 53.92, 53.57, 71.08),
        "KCNN (k = 5)": (72.74, 63.40, 61.60, 73.49), "KCNN (k = 1) + SVM": (69.28, 63.70, 69.28, 71.39),
        "KCNN (k = 5) + SVM": (78.29, 68.52, 69.67, 79.68)},
}
TSNE_ROWS = ("KCNN (k = 5) + SVM", "SC + SVM", "AE + SVM", "DBN + SVM")


def study_config(setting: str, dataset: str, overrides: dict | None = None) -> ml_collections.ConfigDict:
    c = load_config(f"configs/zhang_kcnn.py:{setting},{dataset}", kcnn_config())
    for key, value in (overrides or {}).items():
        section, _, name = key.partition(".")
        c[section][name] = value
    return c


def parse_columns(text: str) -> list[str]:
    cols = [t.strip().lower() for t in text.split(",") if t.strip()]
    bad = [t for t in cols if t not in COLUMNS]
    if bad or not cols:
        raise UserError(f"unknown feature column(s) {', '.join(bad) or '(none)'}; valid: {', '.join(COLUMNS)}")
    return list(dict.fromkeys(cols))


class Fold:
    """One (column, fold): codebooks fitted on its training items, every item's words and whitened segments."""

    def __init__(self, c, items: data.Items, segs: dict[str, list], types, train_idx, index: int):
        t0 = time.perf_counter()
        w = c.words
        self.vocab = aw.fit_vocabulary({t: np.concatenate([segs[t][i] for i in train_idx]) for t in types}, types,
                                       w.num_words, seed=c.dataset.seed + 1000 * index, joint=w.joint,
                                       variance=w.variance, epsilon=w.whiten_epsilon, num_iters=w.kmeans_iters,
                                       max_samples=w.max_samples)
        self.fit_seconds = time.perf_counter() - t0
        t0 = time.perf_counter()
        per_item = [{t: segs[t][i] for t in types} for i in range(len(items))]
        self.words = ktrain.pad_words([self.vocab.encode(s) for s in per_item])
        self.encode_seconds = time.perf_counter() - t0
        self.segments_encoded = sum(len(s[types[0]]) for s in per_item)
        self.white = [self.vocab.whitened(s) for s in per_item]
        self.centroids = [cb.centroids for cb in self.vocab.codebooks]


def run_cell(c, items: data.Items, fold: Fold, train_idx, test_idx, seed: int, keep_reps: bool) -> tuple[dict, dict]:
    """Every row's scores for one (column, fold, seed); the song-level representations of all items if asked."""
    y = items.labels
    groups = items.groups if c.dataset.group else None
    g_train = groups[train_idx] if groups is not None else None
    n_classes = len(items.class_names)
    scores, reps, info = {}, {}, {}

    def svm(x):
        return baselines.svm_scores(x[train_idx], y[train_idx], g_train, x[test_idx], y[test_idx], c.svm,
                                    c.dataset.inner_folds, seed)

    def softmax(model, params):
        pred = ktrain.predict(model, params, fold.words[test_idx])
        return {"accuracy": float(np.mean(pred == y[test_idx])),
                "mean_class_accuracy": float(balanced_accuracy_score(y[test_idx], pred))}

    model_cfg = {k: (tuple(v) if isinstance(v, (list, tuple)) else v) for k, v in c.model.to_dict().items()
                 if k != "k"}
    for name, k, frozen in (("full", c.model.k, False), ("ult", c.model.k, True), ("k1", 1, False)):
        t0 = time.perf_counter()
        model, params = ktrain.build(n_classes, fold.centroids, model_cfg, k, seed)
        params, hist = ktrain.train(model, params, fold.words[train_idx], y[train_idx], lr=c.train.lr, l2=c.train.l2,
                                    epochs=c.train.epochs, batch_size=c.train.batch_size, frozen_tables=frozen,
                                    seed=seed)
        drift = [float(np.linalg.norm(np.asarray(params[t]) - c) / np.linalg.norm(c))
                 for t, c in zip(ktrain.table_names(params), fold.centroids)]
        info[name] = {"final_loss": hist["loss"][-1], "examples_per_s": hist["examples_per_s"],
                      "seconds": time.perf_counter() - t0, "table_relative_change": drift}
        if name == "full":
            scores["KCNN (k = 5)"] = softmax(model, params)
            h = ktrain.hidden(model, params, fold.words)
            scores["KCNN (k = 5) + SVM"] = svm(h)
            reps["KCNN (k = 5) + SVM"] = h
        elif name == "ult":
            scores["KCNN (k = 5) ULT"] = softmax(model, params)
        else:
            scores["KCNN (k = 1) + SVM"] = svm(ktrain.hidden(model, params, fold.words))
    train_segs = [fold.white[i] for i in train_idx]
    for row, learner in baselines.BASELINES.items():
        t0 = time.perf_counter()
        x = learner(train_segs, fold.white, c.baselines, seed)
        scores[row] = svm(x)
        info[row] = {"seconds": time.perf_counter() - t0, "dims": int(x.shape[1])}
        reps[row] = x
    return {"scores": scores, "info": info}, (reps if keep_reps else {})


# Keys that only choose which cells run: an OUT made with fewer seeds or folds is extended, not refused.
CELL_SELECTORS = ("seeds", "use_folds")


def _without_selectors(fp: dict) -> dict:
    for key in CELL_SELECTORS:
        fp.get("dataset", {}).pop(key, None)
    return fp


def _fingerprint(c) -> dict:
    return _without_selectors(json.loads(json.dumps(c.to_dict(), default=list)))


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def claim(path: str) -> bool:
    """Take the cell `path` for this process: True if no live process holds `path`.lock (then this one does).
    Several processes on one OUT thus share its cells; a lock left by a process that died is taken over."""
    lock = path + ".lock"
    os.makedirs(os.path.dirname(lock), exist_ok=True)
    try:
        fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    except FileExistsError:
        try:
            pid = int(open(lock).read().strip() or 0)
        except (ValueError, FileNotFoundError):
            pid = 0
        if pid > 0 and _alive(pid):
            return False
        fd = os.open(lock, os.O_CREAT | os.O_TRUNC | os.O_WRONLY)  # stale: its process is gone
    with os.fdopen(fd, "w") as f:
        f.write(str(os.getpid()))
    return True


def _check_out(out: str, c) -> None:
    path = os.path.join(out, "config.json")
    fp = _fingerprint(c)
    if os.path.isfile(path):
        with open(path) as f:
            old = _without_selectors(json.load(f))  # earlier versions wrote them
        if old != fp:
            diff = runner._first_difference(old, fp)
            raise UserError(f"{out} holds a study made with another config ({diff}); use a new --out")
    else:
        os.makedirs(out, exist_ok=True)
        with open(path, "w") as f:
            json.dump(fp, f, indent=1)


def per_seed(cells: dict[str, list[dict]], metric: str = "accuracy") -> dict:
    """{column: [cell …]} → {row: {column: {seed: score %}}}, a seed's score being the mean over its folds."""
    out: dict[str, dict] = {r: {} for r in ROWS}
    for col, cs in cells.items():
        for row in ROWS:
            by_seed: dict[int, list] = {}
            for cell in cs:
                if row in cell["scores"]:
                    by_seed.setdefault(cell["seed"], []).append(cell["scores"][row][metric])
            if by_seed:
                out[row][col] = {s: 100 * float(np.mean(v)) for s, v in sorted(by_seed.items())}
    return out


def _mean_sd(vals) -> tuple[float, float, int]:
    vals = list(vals)
    return float(np.mean(vals)), float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0, len(vals)


def table_of(scores: dict) -> dict:
    """`per_seed` scores → {row: {column: (mean, sd, n_seeds)}}: mean and sample sd over seeds."""
    return {row: {col: _mean_sd(v.values()) for col, v in cols.items()} for row, cols in scores.items()}


def aggregate(cells: dict[str, list[dict]], metric: str = "accuracy") -> dict:
    """{column: [cell …]} → {row: {column: (mean, sd, n_seeds)}} in %: per seed the mean over its folds, then
    mean and sample sd over seeds."""
    return table_of(per_seed(cells, metric))


def markdown(table: dict, columns: list[str], title: str) -> str:
    lines = [f"**{title}**", "", "| Algorithms | " + " | ".join(HEADERS[c] for c in columns) + " |",
             "|---|" + "---|" * len(columns)]
    for row in ROWS:
        cells = []
        for col in columns:
            v = table[row].get(col)
            cells.append("–" if v is None else f"{v[0]:.1f} ± {v[1]:.1f}" if v[2] > 1 else f"{v[0]:.1f}")
        lines.append(f"| {PAPER_ROW_NAMES[row]} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def paper_markdown() -> str:
    out = []
    for title, rows in PAPER.items():
        out += [f"**Zhang et al., {title}**", "", "| Algorithms | MEL | SFM | SCF | ALL |", "|---|---|---|---|---|"]
        out += [f"| {PAPER_ROW_NAMES[r]} | " + " | ".join(f"{v:.2f}" for v in rows[r]) + " |" for r in ROWS]
        out.append("")
    return "\n".join(out)


CLAIMS = {"full_minus_ult": ("KCNN (k = 5)", "KCNN (k = 5) ULT"),
          "k5_minus_k1_svm": ("KCNN (k = 5) + SVM", "KCNN (k = 1) + SVM"),
          "svm_minus_softmax": ("KCNN (k = 5) + SVM", "KCNN (k = 5)")}
# The same differences in Zhang et al.'s Tables 2 and 3 (means over MEL, SFM, SCF, ALL).
PAPER_CLAIMS = {"paper_gtzan": {"full_minus_ult": 7.675, "k5_minus_k1_svm": 7.225, "svm_minus_softmax": 6.65},
                "paper_ismir": {"full_minus_ult": 5.66, "k5_minus_k1_svm": 5.63, "svm_minus_softmax": 6.23}}


def claims(scores: dict, columns: list[str]) -> dict:
    """The paper's three claims as paired differences (points), from `per_seed` scores: per seed, the mean over
    the columns of (a − b); then mean ± sd over the seeds, how many seeds favour a, and the per-column means."""
    out: dict = {}
    for name, (a, b) in CLAIMS.items():
        cols = [c for c in columns if c in scores[a] and c in scores[b]]
        seeds = sorted(set.intersection(*(set(scores[a][c]) & set(scores[b][c]) for c in cols))) if cols else []
        if not seeds:
            out[name] = None
            continue
        d = np.array([[scores[a][c][s] - scores[b][c][s] for s in seeds] for c in cols])  # (columns, seeds)
        diffs = d.mean(axis=0)
        mean, sd, n = _mean_sd(diffs)
        out[name] = {"mean": mean, "sd": sd, "seeds": n, "seeds_favouring": int(np.sum(diffs > 0)),
                     "ties": int(np.sum(diffs == 0)),
                     "per_column": {c: float(v) for c, v in zip(cols, d.mean(axis=1))}}
    return {**out, **PAPER_CLAIMS}


def claims_markdown(summary: dict) -> str:
    names = {"full_minus_ult": "KCNN (k = 5) − ULT", "k5_minus_k1_svm": "KCNN (k = 5) + SVM − KCNN (k = 1) + SVM",
             "svm_minus_softmax": "KCNN (k = 5) + SVM − KCNN (k = 5)"}
    lines = ["**The paper's claims: paired differences, accuracy points (per seed the mean over the columns)**", "",
             "| difference | here: mean ± sd over seeds | seeds > 0 | Zhang et al. GTZAN | ISMIR2004 |",
             "|---|---|---|---|---|"]
    for key, label in names.items():
        d = summary.get(key)
        here = "–" if d is None else f"{d['mean']:+.1f} ± {d['sd']:.1f}"
        wins = "–" if d is None else f"{d['seeds_favouring']} of {d['seeds']}"
        lines.append(f"| {label} | {here} | {wins} | {summary['paper_gtzan'][key]:+.1f} | "
                     f"{summary['paper_ismir'][key]:+.1f} |")
    return "\n".join(lines) + "\n"


def tsne_figure(path: str, reps: dict[str, np.ndarray], labels: np.ndarray, class_names: list[str], seed: int,
                title: str) -> None:
    """Fig. 3: 2-D t-SNE of each method's song-level representations (standardised), coloured by class."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from sklearn.manifold import TSNE
    from sklearn.preprocessing import StandardScaler

    rows = [r for r in TSNE_ROWS if r in reps]
    fig, axes = plt.subplots(1, len(rows), figsize=(3.2 * len(rows), 3.4))
    axes = np.atleast_1d(axes)
    cmap = plt.get_cmap("tab10")
    for ax, row in zip(axes, rows):
        x = StandardScaler().fit_transform(reps[row])
        xy = TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), random_state=seed, init="pca").fit_transform(x)
        for k, name in enumerate(class_names):
            m = labels == k
            ax.scatter(xy[m, 0], xy[m, 1], s=5, color=cmap(k % 10), label=name)
        ax.set_title(row.replace(" + SVM", ""), fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[-1].legend(fontsize=6, markerscale=2, loc="center left", bbox_to_anchor=(1.0, 0.5))
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=72)
    plt.close(fig)


def run(c, columns: list[str], out: str, report_only: bool = False) -> dict:
    """The study (module docstring); `report_only` tables the finished cells without computing missing ones."""
    t_start = time.perf_counter()
    _check_out(out, c)
    t0 = time.perf_counter()
    items = data.load_items(c, out)
    log.warning("kcnn: %d items, %d classes (%.0f s to load and featurise)", len(items), len(items.class_names),
                time.perf_counter() - t0)
    folds = data.folds(items, c)
    f = c.words.frames_per_segment
    segs = {t: [aw.segments(x, f) for x in items.frames[t]] for t in aw.FEATURE_TYPES}
    cells: dict[str, list] = {}
    speed = {}
    for col in columns:
        cells[col] = []
        for fi, (tr, te) in enumerate(folds):
            fold = None
            for seed in range(c.dataset.seeds):
                path = os.path.join(out, "cells", col, f"fold{fi}_seed{seed}.json")
                if os.path.isfile(path):
                    with open(path) as fh:
                        cells[col].append(json.load(fh))
                    continue
                if report_only or not claim(path):  # not asked to compute, or another process is on it
                    continue
                if fold is None:
                    fold = Fold(c, items, segs, COLUMNS[col], tr, fi)
                    speed.setdefault(col, {"codebook_fit_s": fold.fit_seconds,
                                           "segments_per_s": fold.segments_encoded / fold.encode_seconds})
                t0 = time.perf_counter()
                keep = fi == 0 and seed == 0
                cell, reps = run_cell(c, items, fold, tr, te, seed, keep)
                cell.update({"column": col, "fold": fi, "seed": seed, "train_items": len(tr), "test_items": len(te),
                             "seconds": time.perf_counter() - t0})
                if keep:
                    np.savez(os.path.join(out, f"reps_{col}.npz"), labels=items.labels, **reps)
                report_lib.write_report(os.path.dirname(path), cell, os.path.basename(path))
                os.remove(path + ".lock")
                cells[col].append(cell)
                log.warning("kcnn %s fold %d seed %d (%.0f s): %s", col, fi, seed, cell["seconds"],
                            ", ".join(f"{r} {100 * s['accuracy']:.1f}" for r, s in cell["scores"].items()))
    scores = per_seed(cells)
    table = table_of(scores)
    per_class = aggregate(cells, "mean_class_accuracy")
    n_cells = sum(len(v) for v in cells.values())
    title = (f"{c.dataset.name} `{c.dataset.label}` ({len(items)} items, {n_cells} cells): accuracy %, "
             + ("predefined train/test split" if c.dataset.predefined else
                f"{len(folds)} of {c.dataset.folds} {'group-aware ' if c.dataset.group else ''}folds")
             + f", mean ± sd over {c.dataset.seeds} seeds")
    md = markdown(table, columns, title) + "\n" + markdown(per_class, columns, title.replace(
        "accuracy %", "mean per-class accuracy %")) + "\n" + paper_markdown()
    summary = claims(scores, columns)
    md = md.replace("\n**Zhang et al.", "\n" + claims_markdown(summary) + "\n**Zhang et al.", 1)
    runner.write_outputs(out, "kcnn", [{"row": r, **{col: table[r].get(col) for col in columns}} for r in ROWS], md,
                         {"mean_class_accuracy": per_class, "claims": summary, "speed": speed,
                          "items": len(items), "wall_seconds": time.perf_counter() - t_start})
    col = "all" if "all" in columns else columns[0]  # one figure (Fig. 3 shows one feature set)
    rp = os.path.join(out, f"reps_{col}.npz")
    if os.path.isfile(rp):
        z = np.load(rp)
        tsne_figure(os.path.join(out, f"tsne_{col}.png"), {r: z[r] for r in z.files if r != "labels"},
                    z["labels"], items.class_names, c.dataset.seed,
                    f"{c.dataset.name}, {HEADERS[col]}: song-level representations (fold 0, seed 0)")
    return {"table": table, "claims": summary}


def main(args) -> None:
    overrides = {}
    for key, value in (("dataset.seeds", args.seeds), ("dataset.use_folds", args.use_folds),
                       ("dataset.max_items", args.max_items), ("train.epochs", args.epochs)):
        if value:
            overrides[key] = value
    if args.data_dir:
        overrides["dataset.data_dir"] = args.data_dir
    if args.manual_dir:
        overrides["dataset.manual_dir"] = args.manual_dir
    c = study_config(args.setting, args.dataset, overrides)
    run(c, parse_columns(args.features), args.out, args.report_only)
    print(open(os.path.join(args.out, "kcnn.md")).read().split("\n\n**Zhang")[0])
