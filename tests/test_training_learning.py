"""End to end on scorebank/tiny: training really learns (the logged loss falls and the train-split ROC-AUC is
well above chance), and an ensemble's report is the metrics of its members' saved predictions averaged by hand
(sigmoid probabilities, mean over models × crops; macro ROC-AUC with sklearn over the tags with both classes)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from conftest import tiny_config

LEARN_STEPS = 120


def _train_losses(workdir) -> list[float]:
    lines = [json.loads(line) for line in open(workdir / "metrics.jsonl")]
    return [line["train/loss"] for line in lines if "train/loss" in line]


@pytest.mark.slow
def test_training_lowers_the_loss_and_fits_the_train_split(tiny_data_dir, tmp_path):
    from mirjax.training import trainer
    from mirjax.training.evaluate import evaluate
    config = tiny_config(tiny_data_dir, **{"train.num_steps": LEARN_STEPS, "train.log_every": 1,
                                           "train.eval_every": 10_000, "train.checkpoint_every": 10_000,
                                           "optim.warmup_steps": 10})
    trainer.train_and_evaluate(config, str(tmp_path))
    losses = _train_losses(tmp_path)
    assert len(losses) == LEARN_STEPS
    first, last = np.mean(losses[:10]), np.mean(losses[-10:])
    assert last < 0.8 * first, (first, last)
    config.eval.split, config.eval.checkpoint, config.eval.plots = "train", "latest", False
    report = evaluate(config, [str(tmp_path)])
    assert report["roc_auc_macro"] > 0.7, report["roc_auc_macro"]


def _macro_roc_auc(labels, probs) -> float:
    per_tag = [roc_auc_score(labels[:, t], probs[:, t]) for t in range(labels.shape[1])
               if 0 < labels[:, t].sum() < len(labels)]  # a tag with one class in the split is left out
    return float(np.mean(per_tag))


@pytest.mark.slow
def test_ensemble_report_is_the_metrics_of_the_averaged_saved_predictions(tiny_data_dir, tmp_path):
    from mirjax.training import trainer
    from mirjax.training.evaluate import evaluate
    # Batch-norm momentum 0.5: the running statistics settle within the few steps, so the logits stay moderate
    # (with 0.99 they are still the initial ones and the logits saturate, making the AUCs a matter of ties).
    config = tiny_config(tiny_data_dir, **{"train.num_steps": 6, "train.eval_every": 6, "eval.num_crops": 3,
                                           "model.bn_momentum": 0.5})
    workdirs = [tmp_path / "m1", tmp_path / "m2"]
    for seed, wd in enumerate(workdirs):
        config.seed = seed
        trainer.train_and_evaluate(config, str(wd))
    config.eval.plots, config.eval.averaging = False, "avg-probs"
    evaluate(config, [str(wd) for wd in workdirs])
    report = json.load(open(workdirs[0] / "report.json"))

    saved = [np.load(wd / "predictions_test.npz") for wd in workdirs]
    labels = saved[0]["labels"]
    np.testing.assert_array_equal(saved[1]["labels"], labels)
    logits = np.concatenate([s["logits"].astype(np.float64) for s in saved], axis=1)  # (clips, models × crops, tags)
    assert logits.shape[:2] == (report["num_clips"], 2 * 3)
    assert not np.allclose(saved[0]["logits"], saved[1]["logits"])  # two different models
    assert np.abs(logits).max() < 12  # no saturated probabilities: ties in float32 would blur the comparison
    probs = (1.0 / (1.0 + np.exp(-logits))).mean(axis=1)
    assert report["roc_auc_macro"] == pytest.approx(_macro_roc_auc(labels, probs), abs=1e-6)
    for member, s in zip(report["per_model"], saved):
        member_probs = (1.0 / (1.0 + np.exp(-s["logits"].astype(np.float64)))).mean(axis=1)
        assert member["roc_auc_macro"] == pytest.approx(_macro_roc_auc(labels, member_probs), abs=1e-6)
