"""Studies: the resumable runner, the structure-comparison report, the preprocessing study's settings and
summaries. Training runs use scorebank/tiny for two steps."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from mirjax.config import load_config
from mirjax.studies import preprocessing, runner, structures


def _shrink(c, data_dir):
    c.dataset.name, c.dataset.data_dir = "scorebank/tiny", data_dir
    c.dataset.crop_seconds, c.dataset.shuffle_buffer = 1.0, 64
    c.train.batch_size, c.train.num_steps, c.train.log_every = 8, 2, 1
    c.train.eval_every = c.train.checkpoint_every = 2
    c.train.eval_crops, c.eval.num_crops, c.eval.batch_size, c.train.progress = 1, 1, 4, False
    c.eval.plots = False
    return c


@pytest.mark.slow
def test_structure_study_end_to_end_and_resume(tiny_data_dir, tmp_path):
    runs = [runner.Run(f"{s}_0.1M", _shrink(load_config(f"configs/choi_structures.py:{s},0.1M,quick"), tiny_data_dir),
                       {"structure": s, "size": "0.1M"}) for s in structures.STRUCTURES]
    bad = load_config("configs/choi_structures.py:k2c2,0.25M,quick")
    bad.model.size = "7M"  # fails at model build: recorded, and the sweep goes on
    runs.append(runner.Run("k2c2_0.25M", _shrink(bad, tiny_data_dir), {"structure": "k2c2", "size": "0.25M"}))
    rows = runner.execute(runs, str(tmp_path))
    assert [r["run"] for r in rows] == [r.name for r in runs]
    assert "unknown size '7M'" in rows[-1]["error"]
    for r in rows[:4]:
        assert r["steps"] == 2 and 0 <= r["test_roc_auc"] <= 1 and r["train_examples_per_sec"] > 0
        assert set(r["roc_auc_per_tag"]) and r["params"] > 90_000
    paths = structures.report(rows, str(tmp_path), "tiny")
    assert all(os.path.getsize(p) > 0 for p in paths) and len(paths) == 2
    assert os.path.getsize(tmp_path / "tagwise.png") > 0
    table = (tmp_path / "structures.md").read_text()
    assert table.count("\n| k") == 4 and "| crnn |" in table and "failed" in table
    saved = json.load(open(tmp_path / "structures.json"))
    assert saved["tagwise"]["size"] == "0.1M" and len(saved["rows"]) == 5

    def must_not_train(*a, **k):
        raise AssertionError("finished runs must be reused")
    again = runner.execute(runs[:4], str(tmp_path), train_fn=must_not_train, eval_fn=must_not_train)
    assert [r["test_roc_auc"] for r in again] == [r["test_roc_auc"] for r in rows[:4]]


def test_throughput_ignores_the_compile_interval(tmp_path):
    with open(tmp_path / "metrics.jsonl", "w") as f:
        for step, sps in ((1, 0.5), (2, 4.0), (3, 6.0), (4, 5.0), (5, 0.0)):
            f.write(json.dumps({"step": step, "train/steps_per_sec": sps}) + "\n")
        f.write(json.dumps({"step": 5, "val/roc_auc_macro": 0.7}) + "\n")
    assert runner.train_throughput(str(tmp_path), 10) == 50.0  # median of 4, 6, 5 (0 = final partial interval)
    assert runner.best_validation(str(tmp_path), "roc_auc_macro") == 0.7


def test_preprocessing_settings_build_valid_configs_and_share_runs():
    names = {p: [s.name() for s in preprocessing.part_settings(p)] for p in preprocessing.PARTS}
    assert len(names["grid"]) == 12 and len(set(names["grid"])) == 12
    assert len(names["variance"]) == 15 and len(names["data_size"]) == 8
    assert "base" in names["grid"] and "base" in names["variance"] and "base" in names["data_size"]
    unique = set().union(*names.values())
    assert len(unique) == 12 + 1 + 7 + 14  # base shared by every part
    for s in (preprocessing.Setting(representation="stft", log=False, weighting="a_weighting", scale=10.0),
              preprocessing.Setting(fraction=0.25, init_seed=3, standardize="none")):
        c = preprocessing.make_config("configs/choi_preprocessing.py", s, steps=40)
        assert c.train.num_steps == 40 and c.train.init_seed == s.init_seed
        assert c.dataset.train_fraction == s.fraction
        from mirjax.config import section_kwargs
        from mirjax.frontend import make_frontend
        fe = make_frontend(c.frontend.name, **section_kwargs(c.frontend))
        out = fe(np.random.default_rng(0).normal(size=(2, 16000)).astype(np.float32))
        assert out.shape[-1] == (257 if s.representation == "stft" else 96)
        if s.standardize == "none":
            assert c.frontend.standardize == "none"
    with pytest.raises(ValueError, match="unknown part"):
        preprocessing.part_settings("colour")


def test_variance_and_grid_summaries(tmp_path):
    aucs = np.array([0.80, 0.81, 0.805, 0.79, 0.815])
    rows = [{"run": f"s{i}", "init_seed": i, "test_roc_auc": float(a), "setting": "x"} for i, a in enumerate(aucs)]
    s = preprocessing.summarise("variance", rows, str(tmp_path))
    assert s["mean"] == pytest.approx(aucs.mean()) and s["std"] == pytest.approx(aucs.std(ddof=1))
    assert s["max_abs_deviation"] == pytest.approx(np.abs(aucs - aucs.mean()).max())
    assert os.path.getsize(tmp_path / "variance.png") > 0
    grid = [{**preprocessing.columns_of(st), "run": st.name(), "test_roc_auc": 0.8 + 0.01 * st.log + 0.001 * i}
            for i, st in enumerate(preprocessing.part_settings("grid"))]
    g = preprocessing.summarise("grid", grid, str(tmp_path))
    assert g["log_beats_linear"] == "6/6" and g["mean_log"] > g["mean_linear"]
    assert os.path.getsize(tmp_path / "grid.png") > 0


def test_cli_rejects_unknown_part(capsys):
    from mirjax.cli import main
    assert main(["study", "preprocessing", "--parts", "colour", "--out", "/nonexistent/x"]) == 2
    assert "unknown part 'colour'" in capsys.readouterr().err


def test_interval_after_a_validation_is_left_out(tmp_path):
    rows = [{"step": 10, "train/steps_per_sec": 0.5}, {"step": 20, "train/steps_per_sec": 4.0},
            {"step": 20, "val/roc_auc_macro": 0.6}, {"step": 30, "train/steps_per_sec": 1.0},
            {"step": 40, "train/steps_per_sec": 6.0}]
    with open(tmp_path / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    assert runner.train_throughput(str(tmp_path), 1) == 5.0  # 4 and 6; not the compile or post-eval interval


def test_reusing_a_run_with_another_config_fails_with_one_line(tmp_path):
    config = load_config("configs/choi_structures.py:k2c2,0.1M,quick")
    workdir = tmp_path / "runs" / "k2c2_0.1M"
    workdir.mkdir(parents=True)
    (workdir / "study_row.json").write_text(json.dumps({"run": "k2c2_0.1M", "test_roc_auc": 0.7,
                                                        "config": runner.fingerprint(config)}))
    same = runner.execute([runner.Run("k2c2_0.1M", config, {})], str(tmp_path))
    assert same[0]["test_roc_auc"] == 0.7
    other = load_config("configs/choi_structures.py:k2c2,0.1M,scorebank")
    with pytest.raises(ValueError, match=r"trained with another config \(dataset.crop_seconds: 3.0 then, 10.0 now\)"):
        runner.execute([runner.Run("k2c2_0.1M", other, {})], str(tmp_path))


def test_early_stopping_state_survives_a_resume(tmp_path):
    from mirjax.training.trainer import _early_stopping_state
    rows = [{"step": 1, "val/roc_auc_macro": 0.6}, {"step": 2, "val/roc_auc_macro": 0.7},
            {"step": 3, "val/roc_auc_macro": 0.65}, {"step": 4, "val/roc_auc_macro": 0.9}]  # step 4: after the ckpt
    with open(tmp_path / "metrics.jsonl", "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in rows)
    best, since, last = _early_stopping_state(str(tmp_path), "roc_auc_macro", upto_step=3)
    assert (best, since, last) == (0.7, 1, {"roc_auc_macro": 0.65})
    assert _early_stopping_state(str(tmp_path), "roc_auc_macro", upto_step=0)[0] == float("-inf")
