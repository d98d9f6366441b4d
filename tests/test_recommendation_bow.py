"""Bag-of-words baseline (Dieleman thesis §4.5.1): Euclidean K-means against sklearn, the `mfcc_bow` front-end
against a numpy reference built on the `mfcc` front-end, codebook fitting end to end on scorebank/tiny (PCA
against sklearn), and the `mlp` regressor's parameter count against the closed form."""

from __future__ import annotations

import json
import os

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax import cli
from mirjax.features.kmeans import assign, kmeans, kmeans_plusplus
from mirjax.frontend.registry import make_frontend, output_shape
from mirjax.models import create_model
from mirjax.recommendation import bow
from mirjax.recommendation.bow import mfcc_bow_settings

# --- Euclidean K-means ---------------------------------------------------------------------------------------

def _blobs(n=600, dims=5, centers=8, seed=0):
    from sklearn.datasets import make_blobs
    x, _ = make_blobs(n, n_features=dims, centers=centers, cluster_std=2.0, random_state=seed)
    return x.astype(np.float32)


def _inertia(x, centroids):
    x, c = np.asarray(x, np.float64), np.asarray(centroids, np.float64)
    return ((x[:, None] - c[None]) ** 2).sum(-1).min(1).sum()


@pytest.mark.parametrize("chunk", [1024, 97])  # one chunk, and chunks that do not divide the samples
def test_kmeans_matches_sklearn_lloyd_from_the_same_start(chunk):
    from sklearn.cluster import KMeans
    x = _blobs()
    init = np.asarray(kmeans_plusplus(x, 8, jax.random.PRNGKey(0)))
    for iters in (1, 10):
        ours = np.asarray(kmeans(x, 8, init=init, num_iters=iters, chunk=chunk))
        ref = KMeans(8, init=init, n_init=1, algorithm="lloyd", max_iter=iters, tol=0.0).fit(x)
        np.testing.assert_allclose(ours, ref.cluster_centers_, atol=1e-4)
        np.testing.assert_allclose(_inertia(x, ours), ref.inertia_, rtol=1e-5)


def test_kmeans_plusplus_draws_distinct_rows_seeded_and_a_key_start_works():
    x = _blobs()
    a = np.asarray(kmeans_plusplus(x, 8, jax.random.PRNGKey(3)))
    assert all((np.abs(x - row).max(1) == 0).any() for row in a)  # every start is a sample
    assert len({tuple(r) for r in a}) == 8
    np.testing.assert_array_equal(a, np.asarray(kmeans_plusplus(x, 8, jax.random.PRNGKey(3))))
    c = np.asarray(kmeans(x, 8, key=jax.random.PRNGKey(3), num_iters=5))
    np.testing.assert_allclose(c, np.asarray(kmeans(x, 8, init=a, num_iters=5)), atol=1e-6)
    with pytest.raises(ValueError, match="key or an init"):
        kmeans(x, 8)


def test_kmeans_empty_cluster_keeps_its_centroid_and_assign_is_the_nearest_mean():
    x = _blobs(n=301)
    init = np.concatenate([x[:4], np.full((1, x.shape[1]), 1e3, np.float32)])  # the last mean gets no sample
    words = np.asarray(assign(init, x, chunk=64))
    np.testing.assert_array_equal(words, ((x[:, None] - init[None]) ** 2).sum(-1).argmin(1))
    one = np.asarray(kmeans(x, 5, init=init, num_iters=1, chunk=64))
    np.testing.assert_allclose(one[:4], [x[words == j].mean(0) for j in range(4)], atol=1e-4)
    np.testing.assert_array_equal(one[4], init[4])
    np.testing.assert_array_equal(np.asarray(kmeans(x, 5, init=init, num_iters=3, chunk=64))[4], init[4])


# --- codebook fitting and the mfcc_bow front-end ------------------------------------------------------------

WORDS, FRAMES = 16, 5000


@pytest.fixture(scope="module")
def tiny_dir(tiny_data_dir) -> str:
    """The session's fresh scorebank/tiny (never the user's cache)."""
    return tiny_data_dir


@pytest.fixture(scope="module")
def codebook(tiny_dir, tmp_path_factory):
    out = str(tmp_path_factory.mktemp("bow") / "tiny.npz")
    summary = bow.fit_codebook(out, dataset="scorebank/tiny", num_words=WORDS, max_frames=FRAMES, num_iters=10,
                               data_dir=tiny_dir)
    return out, summary


def _tiny_train_audio(data_dir):
    from mirjax.features.config import feature_config
    from mirjax.features.data import load_split
    cfg = feature_config().dataset
    cfg.name, cfg.data_dir = "scorebank/tiny", data_dir
    return load_split(cfg, "train").audio


def _reference_histograms(frames, z):
    """numpy: standardise, nearest word by explicit float64 distances, bincount / frames."""
    x = (np.asarray(frames, np.float64) - z["feature_mean"]) / z["feature_std"]
    d = ((x[..., None, :] - np.asarray(z["means"], np.float64)) ** 2).sum(-1)  # (clips, frames, words)
    words = d.argmin(-1)
    return np.stack([np.bincount(w, minlength=len(z["means"])) for w in words]) / frames.shape[1]


def test_fit_codebook_writes_the_documented_file_and_pca_keeps_the_fewest_components(codebook, tiny_dir):
    from sklearn.decomposition import PCA
    out, summary = codebook
    z = dict(np.load(out))
    assert summary["num_words"] == WORDS and summary["num_frames"] == FRAMES and not summary["reused"]
    assert z["means"].shape == (WORDS, 39) and z["feature_mean"].shape == z["feature_std"].shape == (39,)
    assert int(z["num_words"]) == WORDS and int(z["num_frames"]) == FRAMES
    assert str(z["dataset"]) == "scorebank/tiny" and str(z["split"]) == "train"
    assert json.loads(str(z["mfcc_settings"])) == mfcc_bow_settings()
    assert json.loads(str(z["fit_settings"]))["max_frames"] == FRAMES

    audio = _tiny_train_audio(tiny_dir)
    frames = np.asarray(jax.jit(make_frontend("mfcc", **mfcc_bow_settings()))(audio))
    assert int(z["num_clips"]) == len(audio)
    h = _reference_histograms(frames, z)
    pca = PCA(svd_solver="full").fit(h)
    total = np.cumsum(pca.explained_variance_ratio_)
    k = int(np.argmax(total >= 0.95)) + 1
    assert z["pca_components"].shape == (k, WORDS) and summary["num_components"] == k
    assert total[k - 2] < 0.95 <= total[k - 1]
    np.testing.assert_allclose(z["explained_variance_ratio"], pca.explained_variance_ratio_[:k], rtol=1e-4)
    np.testing.assert_allclose(z["pca_mean"], pca.mean_, atol=1e-6)
    np.testing.assert_allclose(np.abs(z["pca_components"] @ pca.components_[:k].T), np.eye(k), atol=1e-4)


def test_fit_codebook_keeps_a_same_settings_file_and_refuses_other_settings(codebook, tiny_dir, tmp_path):
    out, _ = codebook
    again = bow.fit_codebook(out, dataset="scorebank/tiny", num_words=WORDS, max_frames=FRAMES, num_iters=10,
                             data_dir=tiny_dir)
    assert again["reused"]
    with pytest.raises(ValueError, match=r"other settings: num_words=16 \(now 8\)") as e:
        bow.fit_codebook(out, dataset="scorebank/tiny", num_words=8, max_frames=FRAMES, num_iters=10, data_dir=tiny_dir)
    assert "\n" not in str(e.value)
    with pytest.raises(ValueError, match="num_words=16 > the 10 frames sampled"):
        bow.fit_codebook(str(tmp_path / "few.npz"), dataset="scorebank/tiny", num_words=16, max_frames=10,
                         data_dir=tiny_dir)
    assert not os.path.exists(tmp_path / "few.npz")


def test_cli_user_errors_are_one_line_and_exit_2(codebook, capsys, tmp_path):
    out, _ = codebook
    (tmp_path / "a_file").write_text("")
    for argv, text in [(["--words", "8", "--out", out], "other settings"),
                       (["--out", str(tmp_path / "a_file" / "x.npz")], "a_file"),
                       (["--dataset", "no_such_dataset", "--out", str(tmp_path / "x.npz")], "no_such_dataset")]:
        assert cli.main(["recommend", "codebook", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("error:") and text in err and "\n" not in err


def test_mfcc_bow_matches_numpy_reference_on_the_mfcc_front_end(codebook):
    out, _ = codebook
    z = dict(np.load(out))
    rng = np.random.default_rng(0)
    t = np.arange(2 * 16000) / 16000
    audio = np.stack([0.3 * np.sin(2 * np.pi * 440 * t) + 0.05 * rng.normal(size=t.shape),
                      0.1 * rng.normal(size=t.shape),
                      0.5 * np.sign(np.sin(2 * np.pi * 110 * t)),
                      0.2 * np.sin(2 * np.pi * 1500 * t * (1 + t))]).astype(np.float32)
    ours = np.asarray(jax.jit(make_frontend("mfcc_bow", codebook=out))(audio))
    frames = np.asarray(make_frontend("mfcc", **mfcc_bow_settings())(audio))
    ref = (_reference_histograms(frames, z) - z["pca_mean"]) @ z["pca_components"].T
    assert ours.shape == (4, 1, z["pca_components"].shape[0])
    np.testing.assert_allclose(ours[:, 0], ref, atol=1e-5)
    assert output_shape("mfcc_bow", 160000, codebook=out) == (1, z["pca_components"].shape[0])


def test_mfcc_bow_errors_are_one_line(codebook, tmp_path):
    out, _ = codebook
    with pytest.raises(ValueError, match="mirjax recommend codebook") as e:
        make_frontend("mfcc_bow")
    with pytest.raises(ValueError, match="does not exist") as e2:
        make_frontend("mfcc_bow", codebook=str(tmp_path / "nope.npz"))
    with pytest.raises(ValueError, match=r"hop_length=512 \(now 256\), n_fft=1024 \(now 512\)") as e3:
        make_frontend("mfcc_bow", codebook=out, n_fft=512, hop_length=256)
    (tmp_path / "junk.npz").write_text("not a codebook")
    with pytest.raises(ValueError, match="not a mirjax bag-of-words codebook") as e4:
        make_frontend("mfcc_bow", codebook=str(tmp_path / "junk.npz"))
    assert all("\n" not in str(x.value) for x in (e, e2, e3, e4))


# --- regressors ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("hidden", [(), (1000,), (64, 32)])
def test_mlp_parameter_count_is_the_closed_form(hidden):
    inputs, outputs = 300, 50
    model = create_model("mlp", outputs, hidden=hidden, dropout=0.5)
    x = jnp.ones((2, 1, inputs))
    params = model.init(jax.random.PRNGKey(0), x)["params"]
    widths = (inputs, *hidden, outputs)
    expected = sum(a * b + b for a, b in zip(widths[:-1], widths[1:]))  # (1000,): 300·1000 + 1000 + 1000·50 + 50
    assert sum(p.size for p in jax.tree_util.tree_leaves(params)) == expected
    assert model.apply({"params": params}, x).shape == (2, outputs)
    y = model.apply({"params": params}, x, train=True, rngs={"dropout": jax.random.PRNGKey(1)})
    assert y.shape == (2, outputs)
