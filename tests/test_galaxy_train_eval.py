"""The galaxy system end to end (Dieleman thesis, App. A): two variants of the galaxy convnet train on
galaxies/tiny through train.py (augmentation and warm-up inside the jitted step), then eval.py scores them as an
ensemble with test-time views on a TFDS slice of the test split (`test[:12]`), and the saved predictions are
re-blended (uniform and softmax weights)."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mirjax.analysis import galaxy as analysis

REPO = pathlib.Path(__file__).parent.parent
CONFIG = "configs/dieleman_galaxy.py"


@pytest.fixture(scope="module")
def galaxies_tiny(tmp_path_factory) -> str:
    import mirjax.data  # noqa: F401  (registers the builders)

    data_dir = str(tmp_path_factory.mktemp("galaxy_tfds"))
    tfds.builder("galaxies/tiny", data_dir=data_dir).download_and_prepare()
    return data_dir


def _run(script, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.slow
def test_two_variants_train_then_ensemble_with_test_time_views(galaxies_tiny, tmp_path):
    data = f"--config.dataset.data_dir={galaxies_tiny}"
    work_a, work_b = tmp_path / "best", tmp_path / "2dense"
    for variant, work in (("best", work_a), ("2dense", work_b)):
        r = _run("train.py", "--config", f"{CONFIG}:{variant},tiny", "--workdir", str(work), data)
        assert r.returncode == 0, r.stderr[-3000:]
        rows = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
        assert any("val/rmse" in row for row in rows) and rows[-1]["step"] == 4
        card = json.loads((work / "model_card.json").read_text())
        assert card["outputs"][0] == "Class1.1" and len(card["outputs"]) == 37

    # 2 rotations × 1 scale × 2 flips = 4 test-time views per model, two models, on a TFDS slice of the test split
    split = "test[:12]"
    r = _run("eval.py", "--config", f"{CONFIG}:best,tiny,2x1x2", "--workdir", str(work_a), "--workdir", str(work_b),
             data, f"--config.eval.split={split}")
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((work_a / "report.json").read_text())
    assert report["task"] == "galaxy" and report["num_clips"] == 12 and len(report["per_model"]) == 2
    assert 0 < report["rmse"] < 0.5 and "Q1" in report["rmse_per_question"]
    assert "Class1.1" in report["precision_recall"]
    assert (work_a / "accuracy_vs_agreement.png").exists()
    preds = []
    for work in (work_a, work_b):
        with np.load(work / f"predictions_{split}.npz") as f:
            assert f["logits"].shape == (12, 1, 4 * 37)  # the views side by side
            assert f["logits"].min() >= 0 and f["logits"].max() <= 1  # clipped test-time outputs
            preds.append(f["logits"].reshape(12, 4, 37).mean(1))
            labels = f["labels"]
    # the ensemble is the uniform mean over every prediction set (models × views)
    np.testing.assert_allclose(report["rmse"], np.sqrt(np.mean((np.mean(preds, 0) - labels) ** 2)), rtol=1e-5)
    blended = analysis.blend([str(work_a), str(work_b)], fit_split=split, eval_split=split)
    np.testing.assert_allclose(blended["uniform_rmse"], report["rmse"], rtol=1e-5)
    # the fitted weights start from the uniform blend, so on the split they were fitted on they do no worse
    assert blended["softmax_rmse_on_fit_split"] <= blended["uniform_rmse"] + 1e-7
    np.testing.assert_allclose(sum(blended["softmax_weights"]), 1.0, atol=1e-6)
