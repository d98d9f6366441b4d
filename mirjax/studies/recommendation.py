"""Dieleman's content-based recommendation study (thesis Ch. 4, Tables 4.2–4.4, Fig. 4.1) on the simulated
listening data over scorebank (`mirjax.data.listening`).

    mirjax study recommendation --out workdirs/recommendation            # the full setting
    mirjax study recommendation --quick --out workdirs/recommendation_q  # 2-core sanity setting

Steps (each resumable: a finished step is reused, a different setting refused):

1. WMF on all the play counts (`OUT/targets.npz`, `mirjax.recommendation.targets`): user factors, every clip's
   factors, the WPE quadratics and the ranking ground truth.
2. The bag-of-words codebook (`OUT/codebook.npz`, `mirjax.recommendation.bow`): MFCC + Δ + ΔΔ, K-means with
   4,000 words, counts, PCA to 95 %.
3. Four models through the generic trainer (`OUT/runs/<model>`, configs/dieleman_recommend.py): linear
   regression and an MLP on the bag of words, the CNN with MSE and with WPE; each is then evaluated on the test
   split (predictions in `OUT/runs/<model>/predictions_test.npz`).
4. Tables and figures: `OUT/recommendation.md` (Tables 4.2/4.3: random, the four models and the WMF upper bound:
   mAP@500 and AUC over the users' held-out test clips), `OUT/tag_prediction.md` (§4.6.1: tags from WMF factors
   vs from the bag of words, logistic regression, 10-fold CV), `OUT/neighbours.md` (Table 4.4: a query's five
   nearest test clips by cosine similarity, WMF factors vs CNN-predicted factors) and `OUT/tsne.png` (Fig. 4.1:
   t-SNE of the predicted factors of the test clips, coloured by style).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import os
from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from mirjax.config import load_config, section_kwargs, validate
from mirjax.data import pipeline
from mirjax.data.listening import read_split_clips
from mirjax.errors import UserError
from mirjax.evaluation.metrics import regression_metrics
from mirjax.frontend import make_frontend
from mirjax.recommendation import analysis, bow
from mirjax.recommendation.analysis import cosine_neighbours
from mirjax.recommendation.targets import SPLITS, WMFParams, build_targets, load_targets, ranking_rows
from mirjax.studies import runner
from mirjax.training import setup

log = logging.getLogger("mirjax")

# The models of the study, in table order; also the MODEL choices of configs/dieleman_recommend.py (which imports them).
MODELS = ("bow_linear", "bow_mlp", "cnn_mse", "cnn_wpe")
LABELS = {"bow_linear": "linear regression", "bow_mlp": "MLP", "cnn_mse": "CNN with MSE", "cnn_wpe": "CNN with WPE"}

# Thesis Tables 4.2 (subset: 9,330 songs, 20,000 users, 50 factors) and 4.3 (full: 382,410 songs, 1M users,
# 400 factors): (mAP, AUC); Dieleman thesis §4.6.2.
THESIS_SUBSET = {"MLR": (0.01801, 0.60608), "linear regression": (0.02389, 0.63518), "MLP": (0.025364, 0.646112),
                 "CNN with MSE": (0.05016, 0.70987), "CNN with WPE": (0.04323, 0.70101)}
THESIS_FULL = {"random": (0.00015, 0.49935), "linear regression": (0.00101, 0.64522),
               "CNN with MSE": (0.00672, 0.77192), "upper bound (WMF)": (0.23278, 0.96070)}
THESIS_TAG_AUC = {"bag of words": 0.69365, "WMF factors": 0.86703}  # §4.6.1
ROW_ORDER = ("random", "linear regression", "MLP", "CNN with WPE", "CNN with MSE", "upper bound (WMF)")
ORACLE = "content oracle (true tags)"  # not in the thesis: what the simulation lets content explain at most


@dataclasses.dataclass(frozen=True)
class Setting:
    scorebank: str = "default"
    num_words: int = 4000
    max_frames: int = 200_000
    cnn_steps: int = 0  # 0: the config's
    bow_steps: int = 0
    num_factors: int = 50
    wmf_iterations: int = 20
    tag_folds: int = 10
    seeds: int = 1  # training runs per model (seeds 0 … seeds−1: initialisation and data order); tables average
    batch_size: int = 0  # 0: the configs' 32 (scorebank/tiny's 27 training clips need less)
    data_dir: str = ""

    @classmethod
    def quick(cls, **kw) -> Setting:
        return cls(**{"num_words": 500, "max_frames": 50_000, "cnn_steps": 600, "bow_steps": 600, **kw})


def make_config(model: str, s: Setting, out: str) -> ml_collections.ConfigDict:
    c = load_config(f"configs/dieleman_recommend.py:{model},{s.scorebank}")
    c.dataset.targets = os.path.join(out, "targets.npz")
    if model.startswith("bow"):
        c.frontend.codebook = os.path.join(out, "codebook.npz")
    if s.data_dir:
        c.dataset.data_dir = s.data_dir
    if s.batch_size:
        c.train.batch_size = s.batch_size
    steps = s.cnn_steps if model.startswith("cnn") else s.bow_steps
    if steps:
        c.train.num_steps = steps
        c.train.eval_every = c.train.checkpoint_every = max(1, steps // 3)
        c.train.log_every = max(1, min(c.train.log_every, steps // 10))
        c.optim.warmup_steps = min(c.optim.warmup_steps, steps // 10)
    validate(c)
    return c


def prepare(s: Setting, out: str) -> None:
    """Steps 1 and 2: the targets and the codebook (kept when they exist with the same settings)."""

    os.makedirs(out, exist_ok=True)
    build_targets(f"scorebank_listening/{s.scorebank}", os.path.join(out, "targets.npz"),
                  WMFParams(num_factors=s.num_factors, num_iterations=s.wmf_iterations), data_dir=s.data_dir or None)
    bow.fit_codebook(os.path.join(out, "codebook.npz"), dataset=f"scorebank/{s.scorebank}", num_words=s.num_words,
                     max_frames=s.max_frames, data_dir=s.data_dir or None)


def clip_predictions(config: ml_collections.ConfigDict, workdir: str, split: str = "test") -> np.ndarray:
    """A run's clip predictions on `split`: the mean of its window predictions, from `predictions_<split>.npz`
    (which `eval.py` writes for the test split), or predicted now with the best checkpoint and saved there."""
    path = os.path.join(workdir, f"predictions_{split}.npz")
    if not os.path.exists(path):

        exp = setup.build_experiment(config)
        state, _, _ = setup.restore_for_eval(exp, workdir, config.eval.checkpoint)
        logits, labels = exp.predict(state.variables(), split, config.eval.num_crops, progress=False)
        np.savez_compressed(path, logits=logits, labels=labels)
    with np.load(path) as f:
        return f["logits"].mean(axis=1)


def _fmt(v: Any, fmt: str) -> str:
    return "–" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _cell(row: dict[str, float] | None, key: str, fmt: str) -> str:
    """A row's value, with ± its standard deviation over seeds when there are several."""
    if not row:
        return "–"
    sd = row.get(f"{key}_sd")
    return _fmt(row.get(key), fmt) + (f" ± {sd:{fmt}}" if sd is not None and row.get("seeds", 1) > 1 else "")


def run_name(model: str, seed: int) -> str:
    return model if seed == 0 else f"{model}_seed{seed}"


def average_seeds(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Rows named `label#seed` → one row per label: the mean of each metric over seeds, its standard deviation
    (`<metric>_sd`, ddof 1) and `seeds`; other rows unchanged."""
    groups: dict[str, list[dict[str, float]]] = {}
    for name, row in rows.items():
        groups.setdefault(name.split("#")[0], []).append(row)
    out = {}
    for label, group in groups.items():
        out[label] = dict(group[0]) if len(group) == 1 else {"seeds": len(group)}
        if len(group) > 1:
            for key in ("map@500", "auc"):
                values = np.asarray([g[key] for g in group], np.float64)
                out[label].update({key: float(values.mean()), f"{key}_sd": float(values.std(ddof=1))})
    return out


def recommendation_table(rows: dict[str, dict[str, float]], r2: dict[str, float],
                         val_rows: dict[str, dict[str, float]] | None = None) -> tuple[str, dict[str, Any]]:
    """Markdown: each row's test mAP@500 and AUC beside the thesis's (subset and full), the validation clips'
    figures (a second sample of 290 clips, for the noise), and whether the thesis's ordering (random < linear
    regression < MLP < CNN-WPE < CNN-MSE < upper bound, by AUC and by mAP, on the test clips) holds."""
    val_rows = val_rows or {}
    lines = ["| model | thesis mAP (subset) | thesis AUC (subset) | thesis mAP (full) | thesis AUC (full) "
             "| our mAP@500 | our AUC | test R² of factors | validation mAP@500 | validation AUC |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for name in ROW_ORDER + ((ORACLE,) if ORACLE in rows else ()):
        sub, full, ours = THESIS_SUBSET.get(name, (None, None)), THESIS_FULL.get(name, (None, None)), rows.get(name)
        val = val_rows.get(name)
        lines.append(f"| {name} | {_fmt(sub[0], '.5f')} | {_fmt(sub[1], '.4f')} | {_fmt(full[0], '.5f')} | "
                     f"{_fmt(full[1], '.4f')} | {_cell(ours, 'map@500', '.5f')} | {_cell(ours, 'auc', '.4f')} | "
                     f"{_fmt(r2.get(name), '.4f')} | {_cell(val, 'map@500', '.5f')} | {_cell(val, 'auc', '.4f')} |")
    present = [n for n in ROW_ORDER if n in rows]
    summary = {}
    for metric in ("auc", "map@500"):
        values = [rows[n][metric] for n in present]
        summary[f"ordering_holds_{metric}"] = all(a < b for a, b in zip(values, values[1:]))
        summary[f"order_by_{metric}"] = [n for n in sorted(present, key=lambda n: rows[n][metric])]
    summary["mse_beats_wpe"] = ("CNN with MSE" in rows and "CNN with WPE" in rows
                                and rows["CNN with MSE"]["auc"] > rows["CNN with WPE"]["auc"])
    return "\n".join(lines) + "\n", summary


def split_features(cfg: ml_collections.ConfigDict, split: str, batch: int = 16) -> np.ndarray:
    """The front-end output of every clip of `split` (one whole-clip crop), in the pipeline's read order:
    for the bag-of-words config, each clip's PCA-reduced word counts."""
    import jax


    builder = pipeline.get_builder(cfg.dataset)
    frontend = jax.jit(make_frontend(cfg.frontend.name, **section_kwargs(cfg.frontend)))
    out = []
    for b in pipeline.eval_batches(cfg.dataset, builder, split, 1, batch):
        feats = np.asarray(frontend(b["input"][:, 0]))
        out.append(feats.reshape(feats.shape[0], -1)[b["mask"]])
    return np.concatenate(out)


def same_style(vectors: np.ndarray, styles: Sequence[str], k: int = 5) -> float:
    """Fraction of every clip's k nearest neighbours (cosine, itself excluded) that share its style."""

    idx, _ = cosine_neighbours(vectors, vectors, k=k, exclude_self=True)
    styles = np.asarray(styles)
    return float(np.mean(styles[idx] == styles[:, None]))


def scorebank_clips(s: Setting, out: str, targets) -> tuple[dict[str, dict], list[str]]:
    """Every split's scorebank clips in the pipeline's read order ({"keys", "tags", "style"}), checked against the
    targets' rows, and the tag names: read once for the oracle and the analyses."""
    import tensorflow_datasets as tfds


    sb = tfds.builder(f"scorebank/{s.scorebank}", **({"data_dir": s.data_dir} if s.data_dir else {}))
    clips = {split: read_split_clips(sb, split) for split in SPLITS}
    for split in SPLITS:
        if list(clips[split]["keys"]) != [str(k) for k in targets.split(split)["keys"]]:
            raise UserError(f"{out}/targets.npz does not match scorebank/{s.scorebank} {split}; remove it")
    return clips, list(sb.info.metadata["tag_names"])


def tag_oracle(clips: dict[str, dict], targets) -> dict[str, np.ndarray]:
    """Factors predicted by ridge regression from the clips' true scorebank tags (fitted on the training clips):
    how far content alone can go in the simulation, where users' tastes are defined over those tags."""
    from sklearn.linear_model import Ridge

    model = Ridge(alpha=1.0).fit(clips["train"]["tags"], targets.split("train")["factors"])
    return {split: model.predict(clips[split]["tags"]).astype(np.float32) for split in ("validation", "test")}


def analyses(s: Setting, out: str, predictions: dict[str, np.ndarray], clips: dict[str, dict], tag_names: list[str],
             targets) -> dict[str, Any]:
    """§4.6.1 tag prediction, Table 4.4 neighbours and the Fig. 4.1 t-SNE (needs the CNN-MSE predictions)."""

    tags = np.concatenate([clips[sp]["tags"] for sp in SPLITS])
    wmf = np.concatenate([targets.split(sp)["factors"] for sp in SPLITS])
    bow_cfg = make_config("bow_linear", s, out)
    bow = np.concatenate([split_features(bow_cfg, sp) for sp in SPLITS])
    folds = s.tag_folds
    tag_auc = {"WMF factors": analysis.tag_prediction_auc(wmf, tags, folds=folds, tag_names=tag_names),
               "bag of words": analysis.tag_prediction_auc(bow, tags, folds=folds, tag_names=tag_names)}
    lines = ["| features | thesis AUC (50 Last.fm tags, MSD subset) | our AUC (scorebank tags) | tags scored |",
             "|---|---|---|---|"]
    for name in ("bag of words", "WMF factors"):
        r = tag_auc[name]
        lines.append(f"| {name} ({wmf.shape[1] if name.startswith('WMF') else bow.shape[1]}-d) | "
                     f"{THESIS_TAG_AUC[name]:.5f} | {r['auc_mean']:.4f} | {len(r['auc_per_tag'])} |")
    with open(os.path.join(out, "tag_prediction.md"), "w") as f:
        f.write("\n".join(lines) + "\n")

    result: dict[str, Any] = {"tag_prediction": {k: {"auc_mean": v["auc_mean"], "skipped": v["skipped"]}
                                                 for k, v in tag_auc.items()}}
    cnn = predictions.get("cnn_mse")
    if cnn is not None:
        test = clips["test"]
        names = [f"{key} ({style})" for key, style in zip(test["keys"], test["style"])]
        queries, seen = [], set()
        for i, style in enumerate(test["style"]):  # the first test clip of four different styles
            if style not in seen and len(queries) < 4:
                seen.add(style)
                queries.append(i)
        table = analysis.neighbour_table(queries, names, {"WMF": targets.split("test")["factors"],
                                                          "CNN (predicted)": cnn}, k=5)
        with open(os.path.join(out, "neighbours.md"), "w") as f:
            f.write(table)
        styles = sorted(set(test["style"]))
        result["tsne"] = analysis.tsne_plot(cnn, np.asarray([styles.index(x) for x in test["style"]]), styles,
                                            os.path.join(out, "tsne.png"),
                                            title="t-SNE of CNN-predicted factors, scorebank test clips")
        result["neighbour_same_style"] = {"WMF": same_style(targets.split("test")["factors"], test["style"]),
                                          "CNN (predicted)": same_style(cnn, test["style"])}
    return result


def run_study(out: str, s: Setting, models: Sequence[str] = MODELS) -> dict[str, Any]:

    unknown = sorted(set(models) - set(MODELS))
    if unknown:
        raise UserError(f"unknown model '{unknown[0]}'; valid: {', '.join(MODELS)}")
    prepare(s, out)
    runs = []
    for m in models:
        for seed in range(s.seeds):
            c = make_config(m, s, out)
            c.seed = seed
            runs.append(runner.Run(run_name(m, seed), c, {"model": m, "seed": seed}))
    rows = runner.execute(runs, out)
    test, val, r2s = {}, {}, {}  # keyed "label#seed"
    configs = {r.name: r.config for r in runs}
    for row in rows:
        if "error" not in row:
            workdir, key = os.path.join(out, "runs", row["run"]), f"{LABELS[row['model']]}#{row.get('seed', 0)}"
            test[key] = clip_predictions(configs[row["run"]], workdir, "test")
            val[key] = clip_predictions(configs[row["run"]], workdir, "validation")
            r2s.setdefault(LABELS[row["model"]], []).append(row.get("test_r2"))
    predictions = {m: test[f"{LABELS[m]}#0"] for m in models if f"{LABELS[m]}#0" in test}  # seed 0: analyses
    targets = load_targets(os.path.join(out, "targets.npz"))
    clips, tag_names = scorebank_clips(s, out, targets)
    oracle = tag_oracle(clips, targets)
    ranked = average_seeds(ranking_rows(targets, "test", {**test, ORACLE: oracle["test"]}))
    val_ranked = average_seeds(ranking_rows(targets, "validation", {**val, ORACLE: oracle["validation"]}))
    r2 = {k: float(np.mean(v)) for k, v in r2s.items()}
    r2[ORACLE] = regression_metrics(targets.split("test")["factors"], oracle["test"])["r2"]
    r2["upper bound (WMF)"] = 1.0
    table, summary = recommendation_table(ranked, r2, val_ranked)
    summary["validation"] = val_ranked
    summary["analyses"] = analyses(s, out, predictions, clips, tag_names, targets)
    summary["setting"] = dataclasses.asdict(s)
    summary["failed"] = {r["run"]: r["error"] for r in rows if "error" in r}
    runner.write_outputs(out, "recommendation", [{"model": k, **v} for k, v in ranked.items()], table, summary)
    return {"table": table, **summary}


def main(args) -> int:
    s = Setting.quick if args.quick else Setting
    kw = {"scorebank": args.scorebank, "data_dir": args.data_dir, "batch_size": 8 if args.scorebank == "tiny" else 0}
    if args.words:
        kw["num_words"] = args.words
    if args.steps:
        kw["cnn_steps"] = kw["bow_steps"] = args.steps
    kw["seeds"] = args.seeds
    result = run_study(args.out, s(**kw), [m for m in args.models.split(",") if m] or MODELS)
    print(result["table"])
    path = os.path.join(args.out, "tag_prediction.md")
    if os.path.exists(path):
        with open(path) as f:
            print(f.read())
    print(f"ordering of the thesis holds by AUC: {result['ordering_holds_auc']}, by mAP@500: "
          f"{result['ordering_holds_map@500']} (ours, ascending AUC: {', '.join(result['order_by_auc'])})")
    same = result["analyses"].get("neighbour_same_style")
    if same:
        print("top-5 cosine neighbours of the same style: " + ", ".join(f"{k} {v:.3f}" for k, v in same.items()))
    print(f"tables: {args.out}/recommendation.md, tag_prediction.md, neighbours.md; t-SNE: {args.out}/tsne.png")
    for run, err in result["failed"].items():
        print(f"run {run} failed: {err}")
    return 0
