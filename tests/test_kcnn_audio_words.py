"""Audio words (Zhang et al. §4.2): SFM and SCF per sub-band against direct numpy computations on test signals,
the band layout, segments, and nearest-centroid encoding in the whitened space."""

from __future__ import annotations

import numpy as np
import pytest

from mirjax.features import audio_words as aw

SR, N_FFT, HOP = 22050, 1024, 512
CFG = aw.FrameConfig(SR, N_FFT, HOP, n_mels=16, n_bands=12)


def numpy_power(x: np.ndarray) -> np.ndarray:
    """Centred (zero-padded) periodic-Hann STFT power, numpy only: (frames, bins)."""
    x = np.pad(x.astype(np.float64), N_FFT // 2)
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)
    starts = np.arange(0, len(x) - N_FFT + 1, HOP)
    return np.abs(np.fft.rfft(x[starts[:, None] + np.arange(N_FFT)] * win, axis=1)) ** 2


def numpy_sfm_scf(power: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    sfm = np.zeros((power.shape[0], len(edges) - 1))
    scf = np.zeros_like(sfm)
    for b in range(len(edges) - 1):
        p = power[:, edges[b]:edges[b + 1]]
        sfm[:, b] = np.exp(np.mean(np.log(p), axis=1)) / np.mean(p, axis=1)  # geometric / arithmetic mean
        a = np.sqrt(p)  # amplitude
        scf[:, b] = a.max(axis=1) / np.sqrt(np.mean(a ** 2, axis=1))  # peak / RMS
    return sfm, scf


def test_band_layout():
    edges = aw.band_edges(SR, N_FFT, 12, 250.0, 4)
    assert len(edges) == 13 and edges[-1] == round(SR / 2 * N_FFT / SR)  # up to the Nyquist bin
    assert np.all(np.diff(edges) >= 4)
    assert abs(edges[0] * SR / N_FFT - 250.0) < SR / N_FFT
    widths = np.diff(edges)
    assert widths[-1] > 5 * widths[1]  # log-spaced: the top band is much wider than the low ones


def test_sfm_scf_match_numpy_on_white_noise():
    x = np.random.default_rng(0).normal(size=SR).astype(np.float32) * 0.1
    feats = aw.frame_features(x, CFG, ("sfm", "scf"))
    power = numpy_power(x)[2:-2]  # interior frames: the zero padding at the ends is not noise
    sfm, scf = numpy_sfm_scf(power, aw.band_edges(SR, N_FFT, 12))
    np.testing.assert_allclose(feats["sfm"][2:-2], sfm, rtol=2e-3, atol=1e-4)
    np.testing.assert_allclose(feats["scf"][2:-2], scf, rtol=2e-3, atol=1e-4)
    # Periodogram bins of white noise are exponential: E[log P] − log E[P] = −γ, so a frame's SFM ≈ e^−γ ≈ 0.56
    # (a bit more over narrow bands); the frame-averaged (long-term) spectrum is flat: SFM ≈ 1.
    assert 0.5 < np.median(sfm[:, 4:]) < 0.7
    long_term = np.asarray(aw.spectral_flatness(power.mean(axis=0, keepdims=True).astype(np.float32),
                                                aw.band_edges(SR, N_FFT, 12)))
    assert np.all(long_term > 0.9)


def test_sfm_and_scf_of_a_flat_spectrum_and_a_pure_tone():
    edges = aw.band_edges(SR, N_FFT, 12)
    flat = np.ones((3, N_FFT // 2 + 1), np.float32)
    np.testing.assert_allclose(np.asarray(aw.spectral_flatness(flat, edges)), 1.0, rtol=1e-5)
    np.testing.assert_allclose(np.asarray(aw.spectral_crest(flat, edges)), 1.0, rtol=1e-5)
    band = 8
    hz = (edges[band] + edges[band + 1]) // 2 * SR / N_FFT  # on a bin centre inside band 8
    t = np.arange(SR) / SR
    feats = aw.frame_features((0.5 * np.sin(2 * np.pi * hz * t)).astype(np.float32), CFG, ("sfm", "scf"))
    sfm, scf = feats["sfm"][2:-2, band], feats["scf"][2:-2, band]
    assert np.all(sfm < 0.01)  # a pure tone: SFM ≈ 0
    width = edges[band + 1] - edges[band]
    # Hann: the tone's bin and its two neighbours hold power 1, 1/4, 1/4 (relative) → peak/RMS = sqrt(width / 1.5)
    np.testing.assert_allclose(scf, np.sqrt(width / 1.5), rtol=0.02)


def test_log_mel_is_the_log_of_the_mel_power():
    from mirjax.frontend import mel_filterbank  # itself checked against librosa.filters.mel (test_frontend.py)

    x = np.random.default_rng(1).normal(size=SR // 4).astype(np.float32) * 0.1
    got = aw.frame_features(x, CFG, ("mel",))["mel"]
    ref = np.log(numpy_power(x) @ mel_filterbank(SR, N_FFT, 16).astype(np.float64) + 1e-6)
    np.testing.assert_allclose(got, ref, atol=2e-3)


def test_segments_concatenate_consecutive_frames():
    frames = np.arange(10 * 3, dtype=np.float32).reshape(10, 3)
    s = aw.segments(frames, 4)
    assert s.shape == (2, 12)
    np.testing.assert_array_equal(s[1], frames[4:8].reshape(-1))
    np.testing.assert_array_equal(aw.segments(frames, 4, hop=2)[1], frames[2:6].reshape(-1))
    short = aw.segments(frames[:2], 4)
    np.testing.assert_array_equal(short[0], np.concatenate([frames[0], frames[1], frames[1], frames[1]]))


def test_codebook_words_are_the_nearest_whitened_centroids():
    rng = np.random.default_rng(2)
    x = (rng.normal(size=(600, 6)) @ rng.normal(size=(6, 6))).astype(np.float32)
    cb = aw.fit_codebook(x, 8, seed=0, variance=1.0, epsilon=0.0, num_iters=5)
    w = aw.whiten(cb, x)
    np.testing.assert_allclose(np.cov(w, rowvar=False), np.eye(w.shape[1]), atol=1e-3)  # whitened
    brute = np.argmin(((w[:, None, :] - cb.centroids[None]) ** 2).sum(-1), axis=1)
    np.testing.assert_array_equal(aw.encode_words(cb, x), brute)
    vocab = aw.fit_vocabulary({"mel": x, "sfm": x[:, ::-1]}, ("mel", "sfm"), 8, seed=0, variance=1.0, epsilon=0.0,
                              num_iters=5)
    words = vocab.encode({"mel": x[:5], "sfm": x[:5, ::-1]})
    assert words.shape == (5, 2) and words.dtype == np.int32
    np.testing.assert_array_equal(words[:, 1], aw.encode_words(vocab.codebooks[1], x[:5, ::-1]))


def test_bad_inputs_are_one_line_errors():
    from mirjax.errors import UserError

    with pytest.raises(UserError, match="mono audio of ≥ 1024 samples"):
        aw.frame_features(np.zeros(100, np.float32), CFG)
    with pytest.raises(UserError, match="unknown frame feature"):
        aw.frame_features(np.zeros(4096, np.float32), CFG, ("mfcc",))
