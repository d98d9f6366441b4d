"""Dieleman's multiscale spherical K-means study (thesis Ch. 3, Figs. 3.4–3.11) on one dataset:

    mirjax study kmeans --quick --out workdirs/kmeans          # scorebank/default, 2-core sanity run
    mirjax study kmeans --parts grid,levels --out workdirs/km  # a subset of the parts
    mirjax study kmeans --parts grid --variants laplacian:1,multires:1 --out workdirs/km

Parts (each architecture is `configs/dieleman_kmeans.py:REPR,WINDOW,MEANS,TASK`):
- `grid`: the 28 architectures (Gaussian / Laplacian pyramid × 1, 2, 4-frame windows, multiresolution
  spectrograms × single frames; PCA, K = 200 / 500 / 1000) with the tag MLP (Fig. 3.4) → `grid.md`, `grid.png`;
- `levels`: Laplacian pyramid, single frames, K = 500 (the thesis's best): the MLP on each level alone and on
  all levels, per-tag test AUC (Fig. 3.8) → `levels.md`, `levels.png`;
- `invariance`: the same architecture with frequency invariance 1–32 (Fig. 3.10) → `invariance.md`/`.png`;
- `layers`: a 3-layer hierarchy, the MLP on each layer and on all (Fig. 3.11) → `layers.md`;
- `style`: the genre MLP (GTZAN column of Table 3.1) on scorebank's styles for PCA / K = 500 of each
  representation (Fig. 3.7) → `style.md`;
- `nca`: 50-d NCA with works as classes, same architectures (Fig. 3.6) → `nca.md`.

The level spectrograms of a representation are computed once and shared by every architecture that uses them.
Every architecture's row is saved in `OUT/runs/NAME/row.json`; rerunning the command skips finished ones (and
refuses an OUT whose rows were made with another config). `--quick` shortens the learners (10–60 epochs,
patience 5, GTZAN-style fixed 30 epochs) and sweeps invariance 1, 4, 12, 32 only, instead of Table 3.1's
100–500 epochs; `--runs N` averages N learner restarts (the thesis: 10).
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from mirjax.config import load_config
from mirjax.errors import UserError
from mirjax.evaluation import report as report_lib
from mirjax.features import config as fconfig, run as frun
from mirjax.features.extraction import compute_levels
from mirjax.studies import runner

log = logging.getLogger("mirjax")

VARIANTS = tuple((r, w) for r in ("gaussian", "laplacian") for w in (1, 2, 4)) + (("multires", 1),)
LEARNERS = ("pca", "200", "500", "1000")
BEST = ("laplacian", 1, "500")  # §3.7: the best MTAT architecture, used by the analyses
INVARIANCES = (1, 2, 4, 8, 12, 16, 32)
PARTS = ("grid", "levels", "invariance", "layers", "style", "nca")
QUICK = dict(min_epochs=10, max_epochs=60, patience=5)
QUICK_INVARIANCES = (1, 4, 12, 32)
QUICK_FIXED = 30
# Thesis figures recoverable from the text (§3.7): best MTAT tagging AUC and where the frequency sweep peaks.
THESIS = {"best_auc": 0.8990, "invariance_12_auc": 0.9037, "gtzan_best": 0.848}


class Study:
    def __init__(self, out: str, dataset: str = "default", quick: bool = False, runs: int = 1, data_dir: str = ""):
        self.out, self.dataset, self.quick, self.runs, self.data_dir = out, dataset, quick, runs, data_dir
        self._splits: dict[str, Any] = {}
        self._levels: tuple[Any, dict] | None = None

    def config(self, representation: str, window: int, means: str, task: str = "tags",
               **features) -> ml_collections.ConfigDict:
        c = load_config(f"configs/dieleman_kmeans.py:{representation},{window},{means},{task},{self.dataset}",
                        fconfig.feature_config())
        c.dataset.data_dir = self.data_dir
        c.features.update(features)
        c.downstream.runs = self.runs
        if self.quick:
            c.downstream.update(QUICK)
            if c.downstream.fixed_epochs:
                c.downstream.fixed_epochs = QUICK_FIXED
        return c

    def splits(self, config: ml_collections.ConfigDict):
        key = config.dataset.label_key
        if key not in self._splits:
            self._splits[key] = frun.load_splits(config)
        return self._splits[key]

    def levels(self, config: ml_collections.ConfigDict, splits) -> dict:
        """The representation's levels for every split; only one representation is held at a time."""
        spec = fconfig.spec(config)
        key = (spec.representation, spec.levels, spec.n_fft, spec.hop_length, spec.n_mels, spec.log_c)
        if self._levels is None or self._levels[0] != key:
            self._levels = None
            t0 = time.perf_counter()
            self._levels = (key, {k: compute_levels(s.audio, config.dataset.sample_rate, spec, config.batch_clips)
                                  for k, s in splits.items()})
            log.info("%s levels of %d clips in %.0f s", spec.representation,
                     sum(s.audio.shape[0] for s in splits.values()), time.perf_counter() - t0)
        return self._levels[1]

    def arch(self, name: str, config: ml_collections.ConfigDict, columns: dict,
             subsets: dict | None = None) -> list[dict]:
        """Learn the features of `config`, train its learner (on every column subset in `subsets`: {label:
        (levels, layers)}; default all features) and return one row per subset; resumable by `name`."""
        workdir = os.path.join(self.out, "runs", name)
        path = os.path.join(workdir, "row.json")
        fp = json.loads(config.to_json_best_effort())
        if os.path.exists(path):
            with open(path) as f:
                saved = json.load(f)
            if saved["config"] != fp:
                raise UserError(f"{workdir} was made with another config; use another --out")
            log.info("%s: done before, reusing %s", name, path)
            return saved["rows"]
        log.warning("%s", name)
        t0 = time.perf_counter()
        try:
            splits = self.splits(config)
            extractor, features = frun.learn(config, splits, self.levels(config, splits), progress=log.debug)
            t1 = time.perf_counter()
            rows = []
            for label, (levels, layers) in (subsets or {"all": (None, None)}).items():
                cols = None if levels is None and layers is None else extractor.select(levels, layers)
                res = frun.fit_learner(config, features, splits, cols)
                rows.append({"run": name, **columns, "subset": label, "test": res["test"],
                             "test_std": res["test_std"], "validation": res["validation"],
                             "metric": res["metric"], "features": res["feature_dims"],
                             "epochs": float(np.mean([r["epochs"] for r in res["runs"]])),
                             "per_tag_auc": res.get("per_tag_auc")})
            for r in rows:
                r.update(feature_seconds=round(t1 - t0, 1), seconds=round(time.perf_counter() - t0, 1))
        except KeyboardInterrupt:
            raise
        except Exception as e:  # one bad architecture must not cost the rest of the study
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.error("%s failed: %s", name, msg)
            return [{"run": name, **columns, "subset": "all", "error": msg}]
        report_lib.write_report(workdir, {"config": fp, "rows": rows}, "row.json")
        log.warning("%s: test %s %s in %.0f s", name, rows[0]["metric"],
                    ", ".join(f"{r['subset']} {r['test']:.4f}" for r in rows), rows[0]["seconds"])
        return json.loads(json.dumps(report_lib.to_jsonable(rows)))

    # --- parts -----------------------------------------------------------------------------------------------

    def grid(self, task: str = "tags", variants=VARIANTS, learners=LEARNERS) -> list[dict]:
        return [row for r, w in variants for k in learners
                for row in self.arch(f"{task}_{r}_w{w}_{k}", self.config(r, w, k, task),
                                     {"representation": r, "window": w, "learner": k, "task": task})]

    def per_level(self) -> list[dict]:
        r, w, k = BEST
        n = self.config(r, w, k).features.levels
        subsets = {f"level {i}": ([i], None) for i in range(n)} | {"all": (None, None)}
        return self.arch(f"levels_{r}_w{w}_{k}", self.config(r, w, k), {"representation": r, "window": w,
                                                                        "learner": k}, subsets)

    def invariance(self) -> list[dict]:
        r, w, k = BEST
        return [row for inv in (QUICK_INVARIANCES if self.quick else INVARIANCES)
                for row in self.arch(f"invariance_{inv}", self.config(r, w, k, freq_invariance=inv),
                                     {"invariance": inv})]

    def layers(self) -> list[dict]:
        r, w, k = BEST
        subsets = {f"layer {i + 1}": (None, [i]) for i in range(3)} | {"all": (None, None)}
        return self.arch("layers_3", self.config(r, w, k, layers=3), {"layers": 3}, subsets)


# --- reports ---------------------------------------------------------------------------------------------------

def _fmt(row: dict) -> str:
    if "error" in row:
        return "failed"
    return f"{row['test']:.4f}" + (f" ± {row['test_std']:.4f}" if row.get("test_std") else "")


def grid_table(rows: Sequence[dict], metric: str, thesis_note: str) -> str:
    by = {(r["representation"], r["window"], r["learner"]): r for r in rows}
    variants = list(dict.fromkeys((r["representation"], r["window"]) for r in rows))
    learners = sorted(dict.fromkeys(r["learner"] for r in rows),
                      key=lambda k: (k != "pca", int(k) if k.isdigit() else 0))
    head = "| representation | window | " + " | ".join("PCA" if k == "pca" else f"K = {k}" for k in learners) + " |"
    lines = [f"Test {metric} (clip-level){thesis_note}", "", head, "|" + "---|" * (len(learners) + 2)]
    for r, w in variants:
        lines.append(f"| {r} | {w} | " + " | ".join(_fmt(by[(r, w, k)]) if (r, w, k) in by else "–"
                                                    for k in learners) + " |")
    return "\n".join(lines) + "\n"


def subset_table(rows: Sequence[dict], what: str, thesis_note: str = "") -> str:
    lines = [f"| {what} | features | test {rows[0].get('metric', '')} | epochs |", "|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r.get('subset') if what != 'invariance' else r.get('invariance')} | "
                     f"{r.get('features', '–')} | {_fmt(r)} | {r.get('epochs', '–')} |")
    return "\n".join(lines) + "\n" + (f"\n{thesis_note}\n" if thesis_note else "")


def _plot_grid(rows, path, metric):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = [r for r in rows if "error" not in r]
    variants = [v for v in VARIANTS if any((r["representation"], r["window"]) == v for r in good)]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(LEARNERS)
    for j, k in enumerate(LEARNERS):
        vals = [next((r["test"] for r in good if (r["representation"], r["window"], r["learner"]) == (*v, k)), np.nan)
                for v in variants]
        errs = [next((r["test_std"] for r in good if (r["representation"], r["window"], r["learner"]) == (*v, k)), 0)
                for v in variants]
        ax.bar(np.arange(len(variants)) + (j - 1.5) * width, vals, width, yerr=errs,
               label="PCA" if k == "pca" else f"K-means {k}")
    ax.set_xticks(np.arange(len(variants)), [f"{r[:5]}. w={w}" if r != "multires" else "multires" for r, w in variants])
    lo = np.nanmin([r["test"] for r in good]) if good else 0.5
    ax.set_ylim(max(0.0, lo - 0.03), None)
    ax.set_ylabel(f"test {metric}")
    ax.set_title("Multiscale spherical K-means: learners × representations (cf. Dieleman Fig. 3.4)")
    ax.legend(fontsize=8, ncol=4)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_levels(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = [r for r in rows if r.get("per_tag_auc")]
    if not good:
        return None
    auc = [{t: np.nan if v is None else v for t, v in r["per_tag_auc"].items()} for r in good]  # JSON: NaN → None
    tags = sorted((t for t in auc[-1] if np.isfinite(auc[-1][t])), key=lambda t: -auc[-1][t])
    m = np.array([[a.get(t, np.nan) for t in tags] for a in auc])
    fig, ax = plt.subplots(figsize=(max(6, 0.28 * len(tags)), 3.2))
    im = ax.imshow(m, aspect="auto", cmap="viridis", vmin=max(0.5, np.nanmin(m)), vmax=1.0)
    ax.set_yticks(range(len(good)), [r["subset"] for r in good])
    ax.set_xticks(range(len(tags)), tags, rotation=90, fontsize=7)
    fig.colorbar(im, ax=ax, label="test ROC-AUC")
    ax.set_title("Per-level test AUC per tag (cf. Dieleman Fig. 3.8)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def _plot_invariance(rows, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    good = [r for r in rows if "error" not in r]
    if not good:
        return None
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.errorbar([r["invariance"] for r in good], [r["test"] for r in good], [r["test_std"] for r in good],
                marker="o")
    ax.set_xlabel("frequency invariance (bands max-pooled over)")
    ax.set_ylabel(f"test {good[0]['metric']}")
    ax.set_xscale("log", base=2)
    ax.set_title("Frequency invariance (cf. Dieleman Fig. 3.10)")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path


def parse_variants(text: str) -> tuple[tuple[str, int], ...]:
    """"laplacian:1,multires:1" → (("laplacian", 1), ("multires", 1)); "" → all seven variants."""
    if not text:
        return VARIANTS
    out = []
    for item in text.split(","):
        rep, _, window = item.partition(":")
        if (rep, int(window or 1) if (window or "1").isdigit() else -1) not in VARIANTS:
            raise UserError(f"unknown variant '{item}'; valid: {', '.join(f'{r}:{w}' for r, w in VARIANTS)}")
        out.append((rep, int(window or 1)))
    return tuple(out)


def main(args) -> None:
    parts = [p for p in (args.parts.split(",") if args.parts else PARTS)]
    unknown = [p for p in parts if p not in PARTS]
    if unknown:
        raise UserError(f"unknown part(s) {', '.join(unknown)}; valid: {', '.join(PARTS)}")
    variants = parse_variants(getattr(args, "variants", ""))
    study = Study(args.out, args.dataset, args.quick, args.runs, args.data_dir)
    os.makedirs(args.out, exist_ok=True)
    t0 = time.perf_counter()
    written = []
    for part in parts:
        if part == "grid":
            rows = study.grid("tags", variants)
            table = grid_table(rows, "ROC-AUC", f"; thesis best on MTAT: Laplacian, 1 frame, K = 500, "
                                                f"{THESIS['best_auc']:.4f}")
            runner.write_outputs(args.out, "grid", rows, table)
            written += [os.path.join(args.out, "grid.md"), _plot_grid(rows, os.path.join(args.out, "grid.png"),
                                                                       "ROC-AUC")]
        elif part == "levels":
            rows = study.per_level()
            runner.write_outputs(args.out, "levels", rows, subset_table(rows, "levels"))
            written += [os.path.join(args.out, "levels.md"), _plot_levels(rows, os.path.join(args.out, "levels.png"))]
        elif part == "invariance":
            rows = study.invariance()
            note = (f"Thesis (MTAT): {THESIS['best_auc']:.4f} without invariance, {THESIS['invariance_12_auc']:.4f} "
                    f"at 12, slowly declining beyond.")
            runner.write_outputs(args.out, "invariance", rows, subset_table(rows, "invariance", note))
            written += [os.path.join(args.out, "invariance.md"),
                        _plot_invariance(rows, os.path.join(args.out, "invariance.png"))]
        elif part == "layers":
            rows = study.layers()
            runner.write_outputs(args.out, "layers", rows, subset_table(
                rows, "layers", "Thesis: the three layers perform about equally; combining them helps very modestly."))
            written.append(os.path.join(args.out, "layers.md"))
        elif part in ("style", "nca"):
            variants = (("gaussian", 2), ("laplacian", 1), ("multires", 1))
            rows = study.grid(part, variants, ("pca", "500"))
            metric = "accuracy" if part == "style" else "NCA probability of correct classification"
            note = (f"; thesis best on GTZAN: Gaussian, 2 frames, {THESIS['gtzan_best']:.1%}" if part == "style"
                    else "; thesis best on MTAT artists: Gaussian, 2 frames (no number in the text)")
            runner.write_outputs(args.out, part, rows, grid_table(rows, metric, note))
            written.append(os.path.join(args.out, f"{part}.md"))
    log.warning("study done in %.0f s: %s", time.perf_counter() - t0, ", ".join(p for p in written if p))
