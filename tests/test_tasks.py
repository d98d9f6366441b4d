"""The task registry: each core loss against its closed form, scores through the task's activation, plug-in tasks
found by name, and one-line errors for a task or loss that does not exist or does not fit."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import r2_score, roc_auc_score

from mirjax import tasks

RNG = np.random.default_rng(0)


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def test_bce_is_the_mean_binary_cross_entropy():
    logits = RNG.normal(size=(6, 4)) * 3
    labels = (RNG.random((6, 4)) > 0.5).astype(np.float32)
    p = _sigmoid(logits)
    want = -np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))
    got = float(tasks.bce_loss(logits.astype(np.float32), labels))
    assert got == pytest.approx(want, rel=1e-5)
    # not symmetric in its arguments: logits and labels swapped give another number
    assert float(tasks.bce_loss(labels, _sigmoid(logits).astype(np.float32))) != pytest.approx(want, rel=1e-3)


def test_ce_is_the_mean_negative_log_softmax_of_the_true_class():
    logits = RNG.normal(size=(5, 3)) * 2
    labels = np.array([0, 2, 1, 1, 0])
    logp = logits - np.log(np.sum(np.exp(logits), axis=1, keepdims=True))
    want = -np.mean(logp[np.arange(5), labels])
    assert float(tasks.ce_loss(logits.astype(np.float32), labels)) == pytest.approx(want, rel=1e-5)


def test_mse_sums_over_outputs_and_averages_over_examples():
    pred, target = RNG.normal(size=(7, 3)), RNG.normal(size=(7, 3))
    want = np.mean(np.sum((pred - target) ** 2, axis=1))
    assert float(tasks.mse_loss(pred.astype(np.float32), target.astype(np.float32))) == pytest.approx(want, rel=1e-5)
    # a scalar target per example regresses a single output
    y = RNG.normal(size=(7,))
    assert float(tasks.mse_loss(pred[:, :1].astype(np.float32), y.astype(np.float32))) == \
        pytest.approx(np.mean((pred[:, 0] - y) ** 2), rel=1e-5)


def test_task_scores_average_activated_views_and_metrics_match_sklearn():
    views = RNG.normal(size=(20, 3, 4))  # (clips, views, tags)
    labels = (RNG.random((20, 4)) > 0.5).astype(np.int32)
    task = tasks.get("multilabel")
    scores = task.scores(views, "avg-probs")
    np.testing.assert_allclose(scores, _sigmoid(views).mean(axis=1), rtol=1e-6)
    result = task.metrics(labels, scores, ["a", "b", "c", "d"], tasks.Context(None, "test"))
    want = np.mean([roc_auc_score(labels[:, j], scores[:, j]) for j in range(4)])
    assert result["roc_auc_macro"] == pytest.approx(want, rel=1e-9)

    reg = tasks.get("regression")
    target, pred_views = RNG.normal(size=(20, 2)), RNG.normal(size=(20, 5, 2))
    got = reg.metrics(target, reg.scores(pred_views, "geometric"), ["y0", "y1"], tasks.Context(None, "test"))
    assert got["r2"] == pytest.approx(r2_score(target, pred_views.mean(axis=1)), rel=1e-6)  # float32 mean


def test_plugin_tasks_are_found_by_name_and_errors_are_one_line():
    factors = tasks.get("factors")  # registered by mirjax.recommendation, loaded on demand
    assert set(factors.losses) == {"mse", "wpe"} and factors.validation_metric == "r2"
    with pytest.raises(tasks.UserError, match="unknown dataset.task 'tagz'; valid: .*multilabel"):
        tasks.get("tagz")
    with pytest.raises(tasks.UserError, match="train.loss.*does not fit dataset.task=multiclass; valid: ce"):
        tasks.get("multiclass").loss("bce")
    assert tasks.get("multiclass").best_metric("") == "accuracy"
    assert tasks.get("multiclass").best_metric("per_class") == "per_class"
