"""Unsupervised feature learners against independent references: a numpy transcription of Coates & Ng's
spherical K-means, sklearn's PCA(whiten=True), and closed-form cases."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from sklearn.decomposition import PCA

from kmeans_refs import numpy_spherical_kmeans
from mirjax.features import apply_whitening, encode, fit_pca_whitening, spherical_kmeans


@pytest.mark.parametrize("chunk", [64, 8192])
def test_spherical_kmeans_matches_numpy_reference(chunk):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 12)) * rng.uniform(0.5, 2.0, size=12)
    init = rng.normal(size=(7, 12))
    ours = np.asarray(spherical_kmeans(x.astype(np.float32), 7, init=init.astype(np.float32), num_iters=5,
                                       chunk=chunk))
    ref = numpy_spherical_kmeans(x, init, 5)
    np.testing.assert_allclose(ours, ref, atol=2e-4)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)


def test_spherical_kmeans_recovers_directions():
    # Samples lie along ±4 orthogonal directions with small noise: the centroids must find them (up to sign).
    rng = np.random.default_rng(1)
    dirs = np.linalg.qr(rng.normal(size=(16, 4)))[0].T  # (4, 16) orthonormal
    x = dirs[rng.integers(0, 4, 4000)] * rng.choice([-1.0, 1.0], size=(4000, 1)) * rng.uniform(1, 3, (4000, 1))
    x = (x + 0.05 * rng.normal(size=x.shape)).astype(np.float32)
    d = np.asarray(spherical_kmeans(x, 8, key=jax.random.key(3), num_iters=20))
    cos = np.abs(d @ dirs.T)
    assert np.all(cos.max(axis=0) > 0.99)  # every direction has a centroid (8 means: no unlucky start)
    # Every centroid that wins samples sits on one of the directions.
    used = np.unique(np.argmax(np.abs(x @ d.T), axis=1))
    assert np.all(cos[used].max(axis=1) > 0.99)
    feats = np.asarray(encode(d, x[:5]))
    np.testing.assert_allclose(feats, x[:5] @ d.T, rtol=1e-5, atol=1e-5)


def test_spherical_kmeans_needs_key_or_init():
    with pytest.raises(ValueError, match="PRNG key or an init"):
        spherical_kmeans(np.zeros((4, 3), np.float32), 2)


@pytest.mark.parametrize("variance", [0.9, 0.99])
def test_pca_whitening_matches_sklearn(variance):
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(2000, 20)) @ rng.normal(size=(20, 20)) * np.linspace(3, 0.1, 20) + 5.0)
    ours = fit_pca_whitening(x.astype(np.float32), variance)
    pca = PCA(n_components=variance, whiten=True, svd_solver="full").fit(x)
    assert ours.num_components == pca.n_components_
    z, ref = np.asarray(apply_whitening(ours, x)), pca.transform(x)
    signs = np.sign(np.sum(z * ref, axis=0))  # components are defined up to sign
    np.testing.assert_allclose(z * signs, ref, atol=2e-3 * np.abs(ref).max())
    np.testing.assert_allclose(np.cov(z, rowvar=False), np.eye(z.shape[1]), atol=2e-3)


def test_pca_whitening_rejects_bad_input():
    with pytest.raises(ValueError, match="samples ≥ 2"):
        fit_pca_whitening(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="variance must be in"):
        fit_pca_whitening(np.zeros((5, 3)), variance=1.5)


def test_gaussian_pyramid_is_binomial_smoothing_and_subsampling():
    from scipy.ndimage import convolve1d

    from mirjax.features.multiscale import gaussian_pyramid
    x = np.random.default_rng(4).normal(size=(2, 101, 8)).astype(np.float32)
    levels = gaussian_pyramid(x, 6)
    assert [g.shape[1] for g in levels] == [101, 51, 26, 13, 7, 4]
    ref = x.astype(np.float64)
    for g in levels[1:]:
        ref = convolve1d(ref, np.array([1, 4, 6, 4, 1]) / 16.0, axis=1, mode="mirror")[:, ::2]
        np.testing.assert_allclose(np.asarray(g), ref, atol=1e-5)


def test_laplacian_pyramid_sums_back_to_the_gaussian_base():
    from mirjax.features.multiscale import gaussian_pyramid, laplacian_pyramid, reconstruct_laplacian
    x = np.random.default_rng(5).normal(size=(3, 200, 16)).astype(np.float32)
    lap = laplacian_pyramid(x, 6)
    np.testing.assert_allclose(np.asarray(reconstruct_laplacian(lap)), x, atol=1e-5)
    np.testing.assert_array_equal(np.asarray(lap[-1]), np.asarray(gaussian_pyramid(x, 6)[-1]))
    const = laplacian_pyramid(np.full((1, 96, 4), 3.0, np.float32), 4)  # constants live in the top level only
    for level in const[:-1]:
        np.testing.assert_allclose(np.asarray(level), 0.0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(const[-1]), 3.0, atol=1e-5)
    with pytest.raises(ValueError, match="too few"):
        laplacian_pyramid(np.zeros((1, 20, 4), np.float32), 6)


def test_multiresolution_levels_share_frames_and_match_librosa_at_level_0():
    import librosa

    from mirjax.features.multiscale import multiresolution_melspectrogram
    y = np.random.default_rng(6).normal(size=16000).astype(np.float32) * 0.1
    levels = multiresolution_melspectrogram(y, 16000, levels=4)
    assert len({lv.shape for lv in levels}) == 1 and levels[0].shape == (1 + 16000 // 512, 128)
    ref = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=16000, n_fft=1024, hop_length=512, n_mels=128,
                                         pad_mode="reflect").T
    np.testing.assert_allclose(np.asarray(levels[0]), np.log1p(1e4 * ref), atol=2e-3)
