"""Inputs beyond audio: a tiny synthetic image regression dataset (built in the test) trains and evaluates through
train.py / eval.py unchanged, with the `image` input kind, the `identity` front-end and the `regression` task."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

REPO = pathlib.Path(__file__).parent.parent

# A config file that defines its own TFDS dataset: 8×8 grey images whose target is their mean brightness, so a
# linear model can learn it exactly. Defining the builder class registers it in the process that loads the config.
CONFIG = '''
import numpy as np
import tensorflow_datasets as tfds

from mirjax.config import base_config


class TinyBrightness(tfds.core.GeneratorBasedBuilder):
    VERSION = tfds.core.Version("1.0.0")

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict({
            "image": tfds.features.Image(shape=(8, 8, 1)),
            "brightness": tfds.features.Tensor(shape=(), dtype=np.float32)}))

    def _split_generators(self, dl_manager):
        return {"train": self._generate_examples(0, 96), "validation": self._generate_examples(1, 24),
                "test": self._generate_examples(2, 24)}

    def _generate_examples(self, seed, n):
        rng = np.random.default_rng(seed)
        for i in range(n):
            image = (rng.random((8, 8, 1)) * rng.uniform(0.1, 1.0) * 255).astype(np.uint8)
            yield i, {"image": image, "brightness": np.float32(image.mean() / 255.0)}


def get_config(arg=None):
    c = base_config()
    c.dataset.name = "tiny_brightness"
    c.dataset.data_dir = DATA_DIR
    c.dataset.input_key = "image"
    c.dataset.label_key = "brightness"
    c.dataset.task = "regression"
    c.dataset.shuffle_buffer = 96
    c.frontend.name = "identity"
    c.model.name = "mlp"
    c.optim.learning_rate = 0.02
    c.train.batch_size = 16
    c.train.num_steps = 120
    c.train.log_every = 20
    c.train.eval_every = 60
    c.train.checkpoint_every = 60
    c.train.progress = False
    c.eval.batch_size = 8
    return c
'''


def _run(script, *args):
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    return subprocess.run([sys.executable, script, *args], cwd=REPO, capture_output=True, text=True, env=env,
                          timeout=600)


@pytest.mark.slow
def test_image_regression_trains_and_evaluates_through_train_and_eval_py(tmp_path):
    config = tmp_path / "tiny_images.py"
    config.write_text(CONFIG.replace("DATA_DIR", repr(str(tmp_path / "tfds"))))
    work = tmp_path / "run"
    r = _run("train.py", "--config", str(config), "--workdir", str(work))
    assert r.returncode == 0, r.stderr[-3000:]
    rows = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    losses = [row["train/loss"] for row in rows if "train/loss" in row]
    assert losses[-1] < 0.2 * losses[0]  # it learns
    assert any("val/r2" in row for row in rows)

    r = _run("eval.py", "--config", str(config), "--workdir", str(work))
    assert r.returncode == 0, r.stderr[-3000:]
    report = json.loads((work / "report.json").read_text())
    assert report["task"] == "regression" and report["num_clips"] == 24
    assert report["r2"] > 0.8  # mean brightness is linear in the pixels
    with np.load(work / "predictions_test.npz") as f:
        assert f["logits"].shape == (24, 1, 1)  # one view per image, one output
        np.testing.assert_allclose(np.mean((f["logits"][:, 0, 0] - f["labels"]) ** 2), report["mse"], rtol=1e-5)
