"""Scoring predictions, and `evaluate(config, workdirs)`: restore one model or several (an ensemble), predict
the test split with K crops, save each model's crop logits, average, score, write report.json and plots."""

from __future__ import annotations

from mirjax.errors import UserError
import json
import logging
import os
from typing import Any, Sequence

import jax
import ml_collections
import numpy as np

from mirjax.data import pipeline
from mirjax.evaluation import averaging, metrics, plots, report
from mirjax.evaluation.predict import predict_split
from mirjax.training import setup
from mirjax.training.steps import ACTIVATIONS

log = logging.getLogger("mirjax")


def score(task: str, labels: np.ndarray, probs: np.ndarray, label_names: Sequence[str]) -> dict[str, Any]:
    """Tagging: macro/per-tag ROC-AUC and PR-AUC. Classification: accuracy and confusion matrix. Regression:
    R² and MSE."""
    if task == "multilabel":
        return metrics.tagging_metrics(labels, probs, list(label_names))
    if task == "regression":
        return metrics.regression_metrics(labels, probs)
    return metrics.classification_metrics(labels, probs, list(label_names))


def ranking_score(cfg_data: ml_collections.ConfigDict, split: str, predictions: np.ndarray) -> dict[str, float]:
    """Regression onto latent factors: the recommendation metrics of the predicted factors of `split`'s clips
    (Dieleman Table 4.3: every user's clips ranked by x_uᵀŷ_i; mAP@500 and AUC), when the targets file holds the
    user factors and the split's plays. Empty for other tasks."""
    if cfg_data.task != "regression":
        return {}
    from mirjax.recommendation.metrics import ranking_metrics

    targets = pipeline.load_targets(cfg_data)
    if split not in targets.splits or "plays_indptr" not in targets.split(split):
        return {}
    m = ranking_metrics(targets.user_factors, predictions, targets.relevance(split))
    return {"map@500": m.map_at_k, "rec_auc": m.auc}  # AP@500 (= AP when a split has fewer clips)


def clip_probabilities(crop_logits: np.ndarray, task: str, mode: str) -> np.ndarray:
    """(clips, views, outputs) logits → (clips, outputs) probabilities, averaged over the views axis."""
    return np.asarray(averaging.average_predictions(crop_logits, axis=1, mode=mode, activation=ACTIVATIONS[task]))


def evaluate(config: ml_collections.ConfigDict, workdirs: Sequence[str]) -> dict[str, Any]:
    """Evaluate the checkpoint `config.eval.checkpoint` of each workdir on `config.eval.split`; several
    workdirs form an ensemble whose views (models × crops) are averaged with `config.eval.averaging`."""
    exp = setup.build_experiment(config)
    split, all_logits, labels, used = config.eval.split, [], None, []
    for workdir in workdirs:
        state, which, step = setup.restore_for_eval(exp, workdir, config.eval.checkpoint)
        logits, labels_i = predict_split(config.dataset, exp.builder, split, exp.predict_fn,
                                         state.variables(), exp.mesh, config.eval.num_crops,
                                         config.eval.batch_size, progress=config.train.progress)
        if labels is not None and not np.array_equal(labels, labels_i):
            raise UserError(f"{workdir}: labels differ from the first model's; ensemble members must be "
                             "evaluated on the same dataset")
        labels = labels_i
        if jax.process_index() == 0:  # per-model predictions, so ensembles can be re-blended later
            np.savez_compressed(os.path.join(workdir, f"predictions_{split}.npz"), logits=logits, labels=labels)
        all_logits.append(logits)
        used.append({"workdir": os.path.abspath(workdir), "checkpoint": which, "step": int(step)})

    views = np.concatenate(all_logits, axis=1)  # (clips, models × crops, outputs)
    probs = clip_probabilities(views, config.dataset.task, config.eval.averaging)
    result = score(config.dataset.task, labels, probs, exp.info.label_names)
    result.update(ranking_score(config.dataset, split, probs))
    per_model = [score(config.dataset.task, labels, clip_probabilities(l, config.dataset.task,
                                                                      config.eval.averaging),
                       exp.info.label_names) for l in all_logits] if len(all_logits) > 1 else None
    out = {"dataset": config.dataset.name, "split": split, "num_clips": int(len(labels)),
           "num_crops": config.eval.num_crops, "averaging": config.eval.averaging, "models": used, **result}
    if per_model:
        out["per_model"] = [{k: v for k, v in m.items() if not isinstance(v, (dict, list))} for m in per_model]
    if jax.process_index() == 0:
        path = report.write_report(workdirs[0], out)
        out["report_path"] = path
        if config.eval.plots:
            out["plots"] = _plots(config.dataset.task, workdirs[0], labels, probs, result, exp.info.label_names)
            report.write_report(workdirs[0], out)
    return out


def _plots(task, workdir, labels, probs, result, label_names) -> list[str]:
    if task == "regression":
        return []
    try:
        if task == "multilabel":
            return [plots.plot_per_tag_auc(result["roc_auc_per_tag"], os.path.join(workdir, "per_tag_auc.png"),
                                           title=f"Per-tag ROC-AUC (macro {result['roc_auc_macro']:.3f})"),
                    plots.plot_roc_curves(labels, probs, list(label_names), os.path.join(workdir, "roc_curves.png"))]
        return [plots.plot_confusion(np.asarray(result["confusion_matrix"]), list(label_names),
                                     os.path.join(workdir, "confusion.png"))]
    except Exception as e:  # a plot must never cost the user the report
        log.warning("plotting failed: %s", e)
        return []


def summary_line(out: dict[str, Any]) -> str:
    keys = [k for k in ("roc_auc_macro", "pr_auc_macro", "accuracy", "r2", "mse", "map@500", "rec_auc") if k in out]
    figs = ", ".join(f"{k} {out[k]:.4f}" for k in keys)
    return f"{out['dataset']} {out['split']} ({out['num_clips']} clips, {len(out['models'])} model(s)): {figs}"


def dump(out: dict[str, Any]) -> str:
    return json.dumps(out, indent=2, default=float)
