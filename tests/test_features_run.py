"""The multiscale K-means pipeline (Dieleman Ch. 3) against numpy references and closed forms, its learners on
synthetic data with known answers, and `mirjax features` end to end on scorebank/tiny."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax.config import ConfigError, base_config, load_config
from mirjax.features import downstream, extraction
from mirjax.features.config import feature_config
from mirjax.features.whitening import apply_whitening, fit_pca_whitening

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _np_encode(x, kernel, bias, window, height):
    """Every (window × height) patch, flattened time-major, times the kernel; max over frequency offsets."""
    clips, frames, bands = x.shape
    out = np.full((clips, frames - window + 1, kernel.shape[1]), -np.inf)
    for t in range(frames - window + 1):
        for f in range(bands - height + 1):
            p = x[:, t:t + window, f:f + height].reshape(clips, -1)
            out[:, t] = np.maximum(out[:, t], p @ kernel + bias)
    return out


@pytest.mark.parametrize("window,height", [(1, 16), (2, 16), (4, 13), (3, 10)])
def test_encoding_is_one_convolution_matching_patch_products(window, height):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 20, 16)).astype(np.float32)
    d = extraction.Dictionary(mean=rng.normal(size=window * height).astype(np.float32),
                              kernel=rng.normal(size=(window * height, 5)).astype(np.float32),
                              window=window, height=height, explained_variance=np.ones(5))
    ours = np.asarray(extraction.encode_map(jnp.asarray(x), *d.conv_params()))
    ref = _np_encode(x, d.kernel, -d.mean @ d.kernel, window, height)
    np.testing.assert_allclose(ours, ref, rtol=1e-4, atol=1e-4)


def test_dictionary_is_whitening_then_centroid_dot_products():
    rng = np.random.default_rng(1)
    patches = (rng.normal(size=(4000, 8)) @ rng.normal(size=(8, 8))).astype(np.float32)
    d = extraction.fit_dictionary(patches, 6, jax.random.PRNGKey(0), variance=0.99, iters=5, window=2, height=4)
    w = fit_pca_whitening(patches, 0.99)
    z = np.asarray(apply_whitening(w, patches))
    centroids = np.linalg.lstsq(z, patches @ d.kernel - d.mean @ d.kernel, rcond=None)[0].T
    np.testing.assert_allclose(np.linalg.norm(centroids, axis=1), 1.0, atol=1e-3)  # unit-norm means
    pca = extraction.fit_dictionary(patches, 0, jax.random.PRNGKey(0), window=2, height=4)
    np.testing.assert_allclose(patches @ pca.kernel - pca.mean @ pca.kernel, z, atol=1e-3)  # "PCA" learner
    assert pca.num_features == w.num_components


def test_sample_patches_are_real_windows_and_all_of_them_when_few():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(2, 6, 5))
    every = extraction.sample_patches(x, 2, 3, 10_000, rng)
    assert every.shape == (2 * 5 * 3, 6)
    np.testing.assert_array_equal(every[0], x[0, 0:2, 0:3].ravel())
    np.testing.assert_array_equal(every[-1], x[1, 4:6, 2:5].ravel())
    some = extraction.sample_patches(x, 2, 3, 7, rng)
    assert len({tuple(r) for r in some}) == 7 and all(any((r == e).all() for e in every) for r in some)
    with pytest.raises(ValueError, match="too few"):
        extraction.sample_patches(x, 7, 3, 5, rng)


def test_time_pooling_and_window_sizes_per_level():
    rng = np.random.default_rng(3)
    f = rng.normal(size=(2, 13, 3)).astype(np.float32)
    pooled = np.asarray(extraction.pool_time(jnp.asarray(f), 4, 3))
    np.testing.assert_allclose(pooled, f[:, :12].reshape(2, 3, 4, 3).max(axis=2))
    short = np.asarray(extraction.pool_time(jnp.asarray(f[:, :9]), 4, 3))  # last window: frame 8 only
    np.testing.assert_allclose(short[:, 2], f[:, 8])
    assert [extraction.Spec("gaussian").pool_size(level) for level in range(6)] == [128, 64, 32, 16, 8, 4]
    assert [extraction.Spec("multires").pool_size(level) for level in range(6)] == [128] * 6
    assert extraction.num_windows(313, 128) == 2 and extraction.num_windows(90, 128) == 1


@pytest.mark.parametrize("representation,invariance,layers", [("gaussian", 1, 1), ("laplacian", 4, 1),
                                                              ("multires", 1, 1), ("laplacian", 1, 3)])
def test_extractor_blocks_and_shapes(representation, invariance, layers):
    spec = extraction.Spec(representation, levels=3, window=2, num_means=7, num_samples=500, kmeans_iters=3,
                           pool_frames=16, freq_invariance=invariance, layers=layers, n_fft=256, hop_length=128,
                           n_mels=24)
    audio = np.random.default_rng(4).normal(size=(3, 16000 // 2)).astype(np.float32) * 0.1
    levels = extraction.compute_levels(audio, 16000, spec, batch=2)
    assert len(levels) == 3 and levels[0].shape == (3, 63, 24)
    if representation == "multires":
        assert {lv.shape for lv in levels} == {(3, 63, 24)}
    else:
        assert [lv.shape[1] for lv in levels] == [63, 32, 16]
    ext = extraction.Extractor.fit(levels, spec, seed=0, batch=2)
    feats = ext.transform(levels, batch=2)
    assert feats.shape == (3, 3, 3 * 7 * layers) and np.isfinite(feats).all()
    assert [(b.layer, b.level) for b in ext.blocks][:3] == [(0, 0), (0, 1), (0, 2)]
    assert ext.dictionaries[0][0].height == 24 - invariance + 1
    assert len(ext.select(levels=[1])) == 7 * layers


def test_laplacian_and_gaussian_top_levels_agree():
    spec = extraction.Spec("gaussian", levels=3, n_fft=256, hop_length=128, n_mels=16)
    audio = np.random.default_rng(5).normal(size=(2, 8000)).astype(np.float32)
    g = extraction.compute_levels(audio, 16000, spec)
    lap = extraction.compute_levels(audio, 16000, extraction.Spec("laplacian", levels=3, n_fft=256, hop_length=128,
                                                                  n_mels=16))
    np.testing.assert_allclose(lap[-1], g[-1], rtol=1e-5)
    assert not np.allclose(lap[0], g[0])


def _clustered(sizes, rng, n_classes=4, windows=2, dims=20):
    """Splits of clips whose windows scatter around their class centre (the same centres in every split)."""
    centres = rng.normal(size=(n_classes, dims)) * 3
    out = []
    for n in sizes:
        labels = rng.integers(n_classes, size=n)
        x = centres[labels][:, None, :] + rng.normal(size=(n, windows, dims))
        out.append((x.astype(np.float32), labels.astype(np.int32)))
    return out


def test_mlp_learns_separable_classes_and_tags_with_early_stopping():
    rng = np.random.default_rng(6)
    splits = _clustered((300, 80, 80), rng)
    hp = downstream.Hparams(hidden=32, learning_rate=0.1, min_epochs=2, max_epochs=50, patience=2, batch_size=20)
    res = downstream.train_mlp(*splits, "multiclass", hp)
    assert res.test > 0.95 and res.epochs < 50 and res.best_epoch <= res.epochs
    assert res.epochs - res.best_epoch >= hp.patience or res.epochs == hp.max_epochs
    tags = [(x, np.eye(4, dtype=np.uint8)[y]) for x, y in splits]
    res = downstream.train_mlp(*tags, "multilabel", hp)
    assert res.metric == "roc_auc_macro" and res.test > 0.95
    fixed = downstream.train_mlp(*splits, "multiclass", downstream.Hparams(hidden=8, fixed_epochs=3, batch_size=50))
    assert fixed.epochs == 3 == fixed.best_epoch


def test_mlp_reports_divergence_in_one_line():
    rng = np.random.default_rng(7)
    splits = _clustered((100, 20, 20), rng)
    with pytest.raises(FloatingPointError, match="learning rate"):
        downstream.train_mlp(*splits, "multiclass", downstream.Hparams(hidden=8, learning_rate=1e20, max_epochs=3))


def test_nca_probability_matches_brute_force():
    rng = np.random.default_rng(8)
    z = rng.normal(size=(9, 3))
    labels = np.array([0, 0, 1, 1, 1, 2, 3, 3, 0])
    ours = np.asarray(downstream.nca_probability(jnp.asarray(z, jnp.float32), jnp.asarray(labels)))
    for i in range(9):
        w = np.array([np.exp(-np.sum((z[i] - z[j]) ** 2)) if j != i else 0.0 for j in range(9)])
        same = [j for j in range(9) if j != i and labels[j] == labels[i]]
        if same:
            np.testing.assert_allclose(ours[i], w[same].sum() / w.sum(), rtol=1e-4)
        else:
            assert np.isnan(ours[i])  # class 2 has one member


def test_nca_learns_a_projection_that_ignores_noise_dimensions():
    rng = np.random.default_rng(9)

    centres = rng.normal(size=(20, 2)) * 4

    def split(n):  # the class is in 2 dims, 30 dims of large noise
        labels = rng.integers(20, size=n)
        signal = centres[labels]
        x = np.concatenate([signal, rng.normal(size=(n, 30)) * 3], axis=1)[:, None, :]
        return x.astype(np.float32), labels.astype(np.int32)

    tr, va, te = split(400), split(100), split(100)
    before = downstream.nca_score(te[0][:, 0] / te[0].std(), te[1])
    res = downstream.train_nca(tr, va, te, downstream.Hparams(learning_rate=0.5, weight_decay=1e-4, min_epochs=5,
                                                              max_epochs=60, patience=5, nca_dims=5, batch_size=40))
    assert res.test > before + 0.2, (before, res.test)
    assert res.test_scores.shape == (100, 5)


def test_class_grouped_batches_keep_classes_together():
    labels = np.repeat(np.arange(10), 3)
    b = downstream.class_grouped_batches(labels, 6, np.random.default_rng(0))
    assert b.shape == (5, 6) and len(set(b.ravel())) == 30
    assert all(len(np.unique(labels[row])) == 2 for row in b)


def test_all_28_architectures_and_tasks_make_valid_configs():
    archs = [(r, w, k) for r in ("gaussian", "laplacian") for w in (1, 2, 4) for k in ("pca", 200, 500, 1000)]
    archs += [("multires", 1, k) for k in ("pca", 200, 500, 1000)]
    assert len(archs) == 28
    for r, w, k in archs:
        c = load_config(f"configs/dieleman_kmeans.py:{r},{w},{k}", feature_config())
        assert (c.features.representation, c.features.window) == (r, w)
        assert c.features.num_means == (0 if k == "pca" else k)
    for task, kind in (("style", "multiclass"), ("nca", "nca"), ("gtzan", "multiclass"), ("mtt", "multilabel")):
        assert load_config(f"configs/dieleman_kmeans.py:gaussian,2,500,{task}", feature_config()).dataset.task == kind
    with pytest.raises(ValueError, match="unknown task"):
        load_config("configs/dieleman_kmeans.py:gaussian,2,500,nope", feature_config())
    assert load_config("configs/dieleman_kmeans.py:gaussian,2,500").features.window == 2  # its own REFERENCE
    with pytest.raises(ConfigError, match="unknown config key"):  # not a train.py config
        load_config("configs/dieleman_kmeans.py:gaussian,2,500", base_config())


def _tiny(arg, data_dir, **overrides):
    c = load_config(f"configs/dieleman_kmeans.py:{arg},tiny", feature_config())
    c.dataset.data_dir = data_dir
    c.features.num_samples, c.features.levels = 2000, 3
    c.downstream.update(dict(min_epochs=2, max_epochs=4, hidden=16))
    for key, value in overrides.items():
        section, name = key.split(".")
        c[section][name] = value
    return c


@pytest.mark.slow
def test_run_tags_style_and_nca_on_tiny(tiny_data_dir, tmp_path):
    from mirjax.features import run
    work = str(tmp_path / "tags")
    report = run.run(_tiny("laplacian,2,20,tags", tiny_data_dir), work)
    assert report["feature_dims"] == 60 and 0.0 <= report["test"] <= 1.0 and report["per_tag_auc"]
    assert json.load(open(os.path.join(work, "report.json")))["test"] == pytest.approx(report["test"])
    assert os.path.exists(os.path.join(work, "dictionaries.npz"))
    # only the learner changes: features are reused; a level subset trains on that level's 20 features
    stamp = os.path.getmtime(os.path.join(work, "features.npz"))
    assert run.run(_tiny("laplacian,2,20,tags", tiny_data_dir, **{"downstream.use_levels": "2"}),
                   work)["feature_dims"] == 20
    assert os.path.getmtime(os.path.join(work, "features.npz")) == stamp
    # another features config in the same workdir is refused, the cached features kept
    with pytest.raises(ValueError, match="another dataset/features config"):
        run.run(_tiny("gaussian,2,20,tags", tiny_data_dir), work)
    assert os.path.getmtime(os.path.join(work, "features.npz")) == stamp
    report = run.run(_tiny("gaussian,1,pca,style", tiny_data_dir, **{"downstream.fixed_epochs": 0}),
                     str(tmp_path / "style"))
    assert report["metric"] == "accuracy" and 0.0 <= report["test"] <= 1.0
    # tiny has one clip per work, so works cannot be NCA classes there; styles can, scored on the train split
    with pytest.raises(ValueError, match="NCA needs classes with at least 2 clips"):
        run.run(_tiny("gaussian,1,pca,nca", tiny_data_dir), str(tmp_path / "nca_work"))
    report = run.run(_tiny("gaussian,1,pca,nca", tiny_data_dir, **{"dataset.label_key": "style",
                                                                   "dataset.eval_split": "train",
                                                                   "dataset.test_split": "train"}),
                     str(tmp_path / "nca"))
    assert report["metric"] == "nca_probability" and 0.0 < report["test"] <= 1.0


@pytest.mark.slow
def test_cli_prints_the_result_and_rejects_unknown_keys_in_one_line(tiny_data_dir, tmp_path):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    base = [sys.executable, "-m", "mirjax", "features",
            "--config", "configs/dieleman_kmeans.py:multires,1,10,tags,tiny",
            "--workdir", str(tmp_path), f"--config.dataset.data_dir={tiny_data_dir}", "--config.features.levels=2",
            "--config.downstream.max_epochs=2", "--config.downstream.min_epochs=1", "--config.downstream.hidden=8"]
    r = subprocess.run(base, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-2000:]
    assert "scorebank/tiny test roc_auc_macro" in r.stdout and "20 features" in r.stdout
    r = subprocess.run(base + ["--config.features.num_mean=3"], cwd=ROOT, env=env, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode != 0 and "num_mean" in r.stderr and "Traceback" not in r.stderr
