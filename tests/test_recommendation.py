"""Dieleman Ch. 4 end to end: WMF targets laid out per split, the WPE objective against its dense definition,
regression through train.py/eval.py (MSE and WPE), regression metrics against sklearn, and the study on a tiny
simulation. References: dense numpy sums over all users (Eq. 4.5), `sklearn.metrics.r2_score`, the listening
dataset's own play matrix and the scorebank build's read order."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from mirjax import tasks
from mirjax.evaluation import average_predictions, regression_metrics
from mirjax.recommendation import plugin
from mirjax.recommendation.targets import WMFParams, build_targets, load_targets, ranking_rows, wpe_quadratics
from mirjax.recommendation.wmf import balance_factors, fit_wmf, surplus_confidence, wmf_objective

REPO = pathlib.Path(__file__).parent.parent
ALPHA, EPS = 2.0, 1e-6


def _plays(users=40, items=25, seed=0):
    rng = np.random.default_rng(seed)
    r = rng.geometric(0.5, (users, items)) * (rng.random((users, items)) < 0.2)
    return sp.csc_matrix(r.astype(np.int32))


def test_wpe_quadratic_equals_the_dense_weighted_error():
    plays = _plays()
    rng = np.random.default_rng(1)
    x = rng.normal(size=(plays.shape[0], 6))
    gram, b, k = wpe_quadratics(x, plays, ALPHA, EPS)
    dense = plays.toarray().astype(np.float64)
    p, c = (dense > 0).astype(np.float64), 1.0 + ALPHA * np.log1p(dense / EPS)
    y_hat = rng.normal(size=(plays.shape[1], 6)).astype(np.float32)
    # Eq. 4.5 per item, over all users (zeros included), as a mean over users
    want = np.mean(c * (p - x @ y_hat.T.astype(np.float64)) ** 2, axis=0)
    got = np.einsum("bi,bij,bj->b", y_hat, gram, y_hat) - 2 * np.sum(b * y_hat, 1) + k
    np.testing.assert_allclose(got, want, rtol=2e-4)
    # the training loss is their mean
    loss = plugin.wpe_loss(y_hat, {"wpe_gram": gram, "wpe_b": b, "wpe_const": k})
    np.testing.assert_allclose(float(loss), want.mean(), rtol=2e-4)


def test_mse_loss_and_regression_metrics_against_sklearn():
    from sklearn.metrics import mean_squared_error, r2_score
    rng = np.random.default_rng(2)
    y = rng.normal(size=(30, 5)) * np.arange(1, 6)
    pred = y + rng.normal(size=y.shape)
    m = regression_metrics(y, pred)
    assert m["r2"] == pytest.approx(r2_score(y, pred), rel=1e-9)
    assert m["mse"] == pytest.approx(5 * mean_squared_error(y, pred), rel=1e-9)  # summed over outputs
    assert float(plugin.factors_mse_loss(pred.astype(np.float32), {"factors": y.astype(np.float32)})) == \
        pytest.approx(m["mse"], rel=1e-5)
    assert regression_metrics(y, y)["r2"] == 1.0
    with pytest.raises(ValueError, match="must both be"):
        regression_metrics(y, pred[:, :4])


def test_identity_averaging_is_the_window_mean():
    logits = np.random.default_rng(3).normal(size=(4, 7, 3))
    for mode in ("avg-probs", "avg-logits", "geometric"):
        np.testing.assert_allclose(average_predictions(logits, 1, mode, "identity"), logits.mean(1), rtol=1e-6)


def test_loss_must_fit_the_task():
    assert tasks.get("factors").loss("") is plugin.factors_mse_loss
    assert tasks.get("factors").loss("wpe") is plugin.wpe_loss
    assert tasks.get("multilabel").loss("") is tasks.bce_loss
    with pytest.raises(ValueError, match="train.loss.*multilabel"):
        tasks.get("multilabel").loss("wpe")


def test_balancing_keeps_every_score_and_lowers_the_penalty():
    plays = _plays(60, 30).tocsr()
    res = fit_wmf(plays, num_factors=5, num_iterations=5, seed=0)
    x, y = np.asarray(res.user_factors, np.float64), np.asarray(res.item_factors, np.float64)
    xb, yb = balance_factors(x, y)
    np.testing.assert_allclose(xb @ yb.T, x @ y.T, atol=1e-5 * np.abs(x @ y.T).max())
    np.testing.assert_allclose(xb.T @ xb, yb.T @ yb, atol=1e-4 * np.abs(xb.T @ xb).max())
    gram = xb.T @ xb
    assert np.allclose(gram, np.diag(np.diag(gram)), atol=1e-4 * gram.max())
    assert np.all(np.diff(np.diag(gram)) <= 1e-6)  # factor j carries the j-th singular value
    s = surplus_confidence(plays, ALPHA, EPS)
    assert float(wmf_objective(s, xb, yb, 1e-2)) <= float(wmf_objective(s, x, y, 1e-2)) + 1e-3
    # fewer items than factors: padded with zero factors, same shapes and scores
    xs, ys = balance_factors(x[:, :5], y[:3, :5])
    assert xs.shape == (60, 5) and ys.shape == (3, 5)
    np.testing.assert_allclose(xs @ ys.T, x[:, :5] @ y[:3, :5].T, atol=1e-5)


# --- on the tiny simulation -------------------------------------------------------------------

@pytest.fixture(scope="module")
def tiny_targets(tiny_data_dir, tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rec") / "targets.npz")
    meta = build_targets("scorebank_listening/tiny", path, WMFParams(num_factors=8, num_iterations=8),
                         data_dir=tiny_data_dir, progress=False)
    return path, meta


def test_targets_follow_the_pipeline_read_order(tiny_targets, tiny_data_dir):
    import tensorflow_datasets as tfds

    from mirjax.data import listening

    path, meta = tiny_targets
    t = load_targets(path)
    assert meta["dataset"] == "scorebank/tiny" and t.user_factors.shape == (300, 8)
    matrix, item_keys, _ = listening.load_matrix("scorebank_listening/tiny", tiny_data_dir)
    column = {k: j for j, k in enumerate(item_keys)}
    sb = tfds.builder("scorebank/tiny", data_dir=tiny_data_dir)
    for split in ("train", "validation", "test"):
        s = t.split(split)
        # the rows are the clips in the order the training pipeline reads them
        ds = sb.as_dataset(split=split, shuffle_files=False, decoders={"audio": tfds.decode.SkipDecoding()},
                           read_config=tfds.ReadConfig(interleave_cycle_length=1))
        works = [ex["work_id"].decode() for ex in tfds.as_numpy(ds)]
        assert [str(k).split("@")[0] for k in s["keys"]] == works
        # the ranking ground truth is the listening data's columns of those clips
        cols = [column[str(k)] for k in s["keys"]]
        np.testing.assert_array_equal(t.relevance(split).toarray(), (matrix[:, cols].toarray() > 0))
        assert s["factors"].shape == (len(works), 8) and s["wpe_gram"].shape == (len(works), 8, 8)
    # kept when asked again with the same settings, refused with others
    assert build_targets("scorebank_listening/tiny", path, WMFParams(num_factors=8, num_iterations=8),
                         data_dir=tiny_data_dir, progress=False)["seconds"] == meta["seconds"]
    with pytest.raises(FileExistsError, match="other WMF settings"):
        build_targets("scorebank_listening/tiny", path, WMFParams(num_factors=4), data_dir=tiny_data_dir)
    rows = ranking_rows(t, "test", {})
    assert rows["upper bound (WMF)"]["auc"] > 0.8 > rows["random"]["auc"]


def _run(args, **kw):
    env = {**os.environ, "JAX_PLATFORMS": "cpu", "TF_CPP_MIN_LOG_LEVEL": "2"}
    return subprocess.run([sys.executable, *args], cwd=REPO, capture_output=True, text=True, env=env, timeout=600,
                          **kw)


def _overrides(targets, data_dir, steps=6):
    return [f"--config.dataset.targets={targets}", f"--config.dataset.data_dir={data_dir}",
            f"--config.train.num_steps={steps}", "--config.train.eval_every=3", "--config.train.checkpoint_every=3",
            "--config.train.batch_size=8", "--config.train.log_every=1", "--config.train.progress=false",
            "--config.eval.batch_size=4", "--config.optim.warmup_steps=1"]


@pytest.mark.slow
@pytest.mark.parametrize("model", ["cnn_wpe"])  # cnn_mse trains and evaluates in-process in the study test below
def test_cnn_trains_and_evaluates_through_train_py(model, tiny_targets, tiny_data_dir, tmp_path):
    targets, _ = tiny_targets
    work = tmp_path / model
    r = _run(["train.py", "--config", f"configs/dieleman_recommend.py:{model},tiny", "--workdir", str(work),
              *_overrides(targets, tiny_data_dir)])
    assert r.returncode == 0, r.stderr[-2000:]
    rows = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    assert {"val/r2", "val/mse", "val/map@500", "val/rec_auc"} <= set(rows[-1])
    assert all(np.isfinite(row["train/loss"]) for row in rows if "train/loss" in row)
    r = _run(["eval.py", "--config", f"configs/dieleman_recommend.py:{model},tiny", "--workdir", str(work),
              *_overrides(targets, tiny_data_dir)])
    assert r.returncode == 0, r.stderr[-2000:]
    report = json.loads((work / "report.json").read_text())
    assert {"r2", "mse", "map@500", "rec_auc"} <= set(report)
    with np.load(work / "predictions_test.npz") as f:  # 4 windows per clip, 8 factors each
        assert f["logits"].shape == (9, 4, 8)
        # the report's R² is that of the window means
        t = load_targets(targets)
        assert report["r2"] == pytest.approx(regression_metrics(t.split("test")["factors"],
                                                                f["logits"].mean(1))["r2"], rel=1e-4)


@pytest.mark.slow
def test_regression_errors_are_one_line(tiny_targets, tiny_data_dir, tmp_path):
    targets, _ = tiny_targets
    cases = [([f"--config.dataset.targets={tmp_path / 'none.npz'}"], "not found"),
             (["--config.dataset.name=scorebank/default"], "were made for 'scorebank/tiny'"),
             (["--config.dataset.task=multilabel"], "does not fit dataset.task=multilabel")]
    for extra, message in cases:
        r = _run(["train.py", "--config", "configs/dieleman_recommend.py:cnn_wpe,tiny", "--workdir",
                  str(tmp_path / "w"), *_overrides(targets, tiny_data_dir), *extra])
        last = r.stderr.strip().splitlines()[-1]
        assert r.returncode == 2 and message in last and "Traceback" not in r.stderr, (extra, r.stderr[-1500:])
    no_wpe = str(tmp_path / "no_wpe.npz")
    build_targets("scorebank_listening/tiny", no_wpe, WMFParams(num_factors=8, num_iterations=2),
                  data_dir=tiny_data_dir, wpe=False, progress=False)
    r = _run(["train.py", "--config", "configs/dieleman_recommend.py:cnn_wpe,tiny", "--workdir", str(tmp_path / "w2"),
              *_overrides(no_wpe, tiny_data_dir)])
    assert r.returncode == 2 and "WPE quadratics" in r.stderr.strip().splitlines()[-1]


@pytest.mark.slow
def test_study_on_the_tiny_simulation(tiny_data_dir, tmp_path):
    from mirjax.studies import recommendation as study

    s = study.Setting(scorebank="tiny", num_words=8, max_frames=3000, cnn_steps=4, bow_steps=4, num_factors=8,
                      wmf_iterations=4, tag_folds=3, batch_size=8, data_dir=tiny_data_dir)
    out = str(tmp_path / "study")
    models = ("bow_linear", "cnn_mse")  # bow_mlp / cnn_wpe are the same code paths (the CLI tests cover wpe)
    result = study.run_study(out, s, models)
    assert not result["failed"]
    table = open(os.path.join(out, "recommendation.md")).read()
    for name in study.ROW_ORDER + (study.ORACLE,):
        assert f"| {name} |" in table
    for name in ("tag_prediction.md", "neighbours.md", "tsne.png", "recommendation.json"):
        assert os.path.getsize(os.path.join(out, name)) > 0
    assert set(result["analyses"]["neighbour_same_style"]) == {"WMF", "CNN (predicted)"}
    # rerunning reuses targets, codebook and runs
    again = study.run_study(out, s, models)
    assert again["table"] == result["table"]
    # a second seed: its run is added, the rows become mean ± sd over seeds
    import dataclasses
    two = study.run_study(out, dataclasses.replace(s, seeds=2), ("bow_linear",))
    assert os.path.isdir(os.path.join(out, "runs", "bow_linear_seed1"))
    assert " ± " in two["table"].split("| linear regression |")[1].splitlines()[0]


@pytest.mark.parametrize("model", ["cnn_mse", "cnn_wpe", "bow_linear", "bow_mlp"])
def test_shipped_configs(model):
    from mirjax.config import load_config
    c = load_config(f"configs/dieleman_recommend.py:{model}")
    assert c.dataset.task == "factors" and c.train.loss in ("mse", "wpe")
    with pytest.raises(ValueError, match="unknown model 'cnn'"):
        load_config("configs/dieleman_recommend.py:cnn")


def test_targets_cli(tiny_data_dir, tmp_path, capsys):
    from mirjax.cli import main

    out = str(tmp_path / "t.npz")
    assert main(["recommend", "targets", "scorebank_listening/tiny", "--data_dir", tiny_data_dir, "--out", out,
                 "--factors", "4", "--iterations", "2"]) == 0
    line = capsys.readouterr().out.strip().splitlines()[-1]
    assert line.startswith("targets of scorebank/tiny from scorebank_listening/tiny: 300 users × 45 items, 4 factors")
    assert load_targets(out).split("train")["factors"].shape == (27, 4)
    # other settings into the same file: refused in one line, the file kept
    assert main(["recommend", "targets", "scorebank_listening/tiny", "--data_dir", tiny_data_dir, "--out", out,
                 "--factors", "8"]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("error:") and "other WMF settings" in err
    assert load_targets(out).num_factors == 4
