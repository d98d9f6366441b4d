"""The task `weak_multilabel` (loaded by `mirjax.registry.load_plugins`): multi-label tagging trained and scored
on weakly-labelled tags, the simulation of Choi's label-noise study (thesis Ch. 3) on a corpus with clean tags.

Its labels are the dataset's tags made noisy by `mirjax.data.weak_labels` with the settings
`config.dataset.label_noise` (per-tag tagability and false-positive rate, seeded), attached in the data pipeline
through the task's `attach_labels` hook. Everything else is the `multilabel` task's: sigmoid outputs, BCE, per-tag
and macro ROC-AUC / PR-AUC against the labels it trains on (the noisy "ground truth", GT), and, next to them,
the same metrics against the clean tags (`clean_roc_auc_macro`, `clean_roc_auc_per_tag`, …: the thesis's
re-annotation) and the split's simulated rates (`label_noise`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ml_collections
import numpy as np

from mirjax import tasks
from mirjax.data import weak_labels
from mirjax.evaluation import metrics as eval_metrics

CLEAN_PREFIX = "clean_"


def _check(data: ml_collections.ConfigDict, split_sizes: dict[str, int] | None = None) -> None:
    weak_labels.check_settings(weak_labels.settings_of(data))


def _metrics(labels: np.ndarray, scores: np.ndarray, names: Sequence[str], ctx: tasks.Context) -> dict[str, Any]:
    result = eval_metrics.tagging_metrics(labels, scores, list(names))
    clean = weak_labels.clean_split_labels(ctx.data, ctx.split)
    if clean.shape == np.shape(labels):  # the whole split was scored, in file order
        for key, value in eval_metrics.tagging_metrics(clean, scores, list(names)).items():
            result[CLEAN_PREFIX + key] = value
        rates = weak_labels.draw_rates(names, weak_labels.settings_of(ctx.data))
        result["label_noise"] = {**rates.as_dict(),
                                 "positives_noisy": dict(zip(names, map(int, np.asarray(labels).sum(0)))),
                                 "positives_clean": dict(zip(names, map(int, clean.sum(0))))}
    return result


def _plots(labels, scores, result, names, workdir) -> list[str]:
    return tasks.TASKS["multilabel"].plots(labels, scores, result, names, workdir)


WEAK_MULTILABEL = tasks.register(tasks.Task(
    name="weak_multilabel", losses={"bce": tasks.bce_loss}, activation="sigmoid", metrics=_metrics,
    validation_metric="roc_auc_macro", summary_keys=("roc_auc_macro", "clean_roc_auc_macro", "pr_auc_macro"),
    plots=_plots, check=_check, attach_labels=weak_labels.attach_noisy_labels))
