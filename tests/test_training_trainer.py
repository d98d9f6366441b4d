"""End-to-end: train → crash → resume → eval on scorebank/tiny; multi-device equivalence; failure modes."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from conftest import tiny_config
from mirjax.data import pipeline
from mirjax.training import setup, trainer

REPO = pathlib.Path(__file__).parent.parent


class _Killed(BaseException):
    """Stands in for the process dying: not an Exception, so nothing in the trainer catches it."""


def _params(config, workdir):
    state, _, step = setup.restore_for_eval(setup.build_experiment(config), str(workdir), "latest")
    return step, jax.device_get(state.params), jax.device_get(state.batch_stats)


@pytest.mark.slow
def test_killed_run_resumes_to_the_uninterrupted_result(tiny_data_dir, tmp_path, monkeypatch):
    config = tiny_config(tiny_data_dir, **{"model.dropout": 0.1})  # dropout: the per-step keys must resume too
    trainer.train_and_evaluate(config, str(tmp_path / "a"))

    real = pipeline.train_batches

    def dies_after_five(*args, **kwargs):
        for i, batch in enumerate(real(*args, **kwargs)):
            if i == 4:  # dies fetching the batch of step 5; the newest checkpoint is step 4
                raise _Killed()
            yield batch

    monkeypatch.setattr(pipeline, "train_batches", dies_after_five)
    with pytest.raises(_Killed):
        trainer.train_and_evaluate(config, str(tmp_path / "b"))
    monkeypatch.setattr(pipeline, "train_batches", real)
    assert sorted(os.listdir(tmp_path / "b" / "checkpoints"))[-1].endswith("4")
    trainer.train_and_evaluate(config, str(tmp_path / "b"))  # resumes at step 4

    step_a, params_a, stats_a = _params(config, tmp_path / "a")
    step_b, params_b, stats_b = _params(config, tmp_path / "b")
    assert step_a == step_b == 6
    diffs = jax.tree.leaves(jax.tree.map(lambda x, y: float(np.max(np.abs(x - y))), (params_a, stats_a),
                                         (params_b, stats_b)))
    assert max(diffs) <= 1e-6

    # The second segment really resumed (steps 5–6), rather than retraining from scratch to the same result.
    for run in ("a", "b"):
        rows = [json.loads(line) for line in open(tmp_path / run / "metrics.jsonl")]
        assert [row["step"] for row in rows if "train/loss" in row] == list(range(1, 7))
        assert any("val/roc_auc_macro" in row for row in rows)
        rates = [row["train/steps_per_sec"] for row in rows if "train/steps_per_sec" in row]
        assert len(rates) == 6 and min(rates) > 0  # every logged rate is real, the last one too


@pytest.mark.slow
def test_eval_writes_report_and_plots_for_a_model_and_an_ensemble(tiny_data_dir, tmp_path):
    from mirjax.training.evaluate import evaluate
    config = tiny_config(tiny_data_dir)
    for name, seed in (("m1", 0), ("m2", 1)):
        config.seed = seed
        trainer.train_and_evaluate(config, str(tmp_path / name))
    single = evaluate(config, [str(tmp_path / "m1")])
    report = json.load(open(tmp_path / "m1" / "report.json"))
    assert report["num_clips"] == single["num_clips"] > 0
    assert 0.0 <= report["roc_auc_macro"] <= 1.0 and 0.0 <= report["pr_auc_macro"] <= 1.0
    assert set(report["roc_auc_per_tag"]) <= set(setup.build_experiment(config).info.label_names)
    for png in ("per_tag_auc.png", "roc_curves.png"):
        assert (tmp_path / "m1" / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    preds = np.load(tmp_path / "m1" / "predictions_test.npz")
    assert preds["logits"].shape[:2] == (single["num_clips"], config.eval.num_crops)

    config.eval.averaging = "geometric"
    ens = evaluate(config, [str(tmp_path / "m1"), str(tmp_path / "m2")])
    assert len(ens["models"]) == 2 and len(ens["per_model"]) == 2


def test_nan_loss_stops_with_a_clear_message_and_keeps_the_last_good_checkpoint(tiny_data_dir, tmp_path,
                                                                                 monkeypatch):
    from mirjax.training import steps
    real = steps.make_train_step

    def poisoned(*args, **kwargs):
        step_fn = real(*args, **kwargs)

        def wrapped(state, batch):
            new_state, m = step_fn(state, batch)
            bad = jax.numpy.where(state.step >= 2, jax.numpy.nan, 0.0)  # step 3 onwards diverges
            return new_state, {**m, "loss": m["loss"] + bad}
        return wrapped

    monkeypatch.setattr(trainer, "make_train_step", poisoned)
    config = tiny_config(tiny_data_dir)
    with pytest.raises(trainer.TrainingDiverged, match=r"loss became nan at step 3; last good checkpoint: step 2"):
        trainer.train_and_evaluate(config, str(tmp_path))
    assert os.listdir(tmp_path / "checkpoints") == ["2"]


def _run(args, env=None, timeout=300):
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **(env or {})})


_LOSSES = """
import json, sys
sys.path.insert(0, "tests")
import jax
from conftest import tiny_config
from mirjax.training import trainer
c = tiny_config(sys.argv[1], **{"train.num_steps": 3, "train.eval_every": 100})
trainer.train_and_evaluate(c, sys.argv[2])
lines = [json.loads(l) for l in open(sys.argv[2] + "/metrics.jsonl")]
print(jax.device_count(), json.dumps([l["train/loss"] for l in lines if "train/loss" in l]))
"""


@pytest.mark.slow
def test_four_devices_give_the_one_device_loss(tiny_data_dir, tmp_path):
    outs = {}
    for n in (1, 4):
        r = _run(["-c", _LOSSES, tiny_data_dir, str(tmp_path / f"d{n}")],
                 env={"XLA_FLAGS": f"--xla_force_host_platform_device_count={n}"})
        assert r.returncode == 0, r.stderr[-3000:]
        devices, losses = r.stdout.strip().splitlines()[-1].split(" ", 1)
        assert int(devices) == n
        outs[n] = np.array(json.loads(losses))
    assert len(outs[1]) == 3
    np.testing.assert_allclose(outs[4], outs[1], rtol=0, atol=1e-5)


def test_cli_unknown_config_key_fails_with_one_line(tiny_data_dir, tmp_path):
    r = _run(["train.py", "--config", "configs/default.py:tiny", "--workdir", str(tmp_path),
              "--config.train.batchsize=4"])
    assert r.returncode != 0
    assert "batchsize" in r.stderr.strip().splitlines()[-1]
    assert "Traceback" not in r.stderr


def test_cli_unknown_key_in_a_config_file_is_one_line(tiny_data_dir, tmp_path):
    cfg = tmp_path / "typo.py"
    cfg.write_text("from mirjax.config import base_config\n"
                   "def get_config(arg=None):\n"
                   "    c = base_config()\n"
                   "    c.dataset.name = 'scorebank/tiny'\n"
                   f"    c.dataset.data_dir = {tiny_data_dir!r}\n"
                   "    c.model.chanels = 4\n"
                   "    return c\n")
    r = _run(["train.py", "--config", str(cfg), "--workdir", str(tmp_path / "w")])
    assert r.returncode == 2
    assert r.stderr.strip().splitlines()[-1].startswith("error: unknown config key 'model.chanels'")


@pytest.mark.slow
def test_an_early_stopped_run_stays_stopped_when_rerun(tiny_data_dir, tmp_path):
    # lr 0 and frozen BN statistics: validation never improves, so patience 1 stops at the 2nd evaluation (step 2).
    config = tiny_config(tiny_data_dir, **{"optim.learning_rate": 0.0, "optim.schedule": "constant",
                                           "model.bn_momentum": 1.0,
                                           "train.eval_every": 1, "train.checkpoint_every": 1,
                                           "train.early_stopping_patience": 1})
    assert trainer.train_and_evaluate(config, str(tmp_path))["step"] == 2
    again = trainer.train_and_evaluate(config, str(tmp_path))  # resumes at step 2, already stopped
    assert again["step"] == 2 and "roc_auc_macro" in again
