"""Choi's thesis Ch. 5 preprocessing options of the ``logmel``/``stft`` front-ends (mirjax.frontend.preprocess).

References are independent of the code under test: librosa (A_weighting, perceptual_weighting, mel and
STFT spectrograms, fed float64 audio), the IEC 61672-1 table, and numpy float64 statistics.
Tolerances follow tests/test_frontend.py: power within 1e-4 of each example's peak, dB within 1e-3 dB on
bins within 60 dB of their frame's peak (float32 FFT noise floor; see ``_assert_db_close`` there).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

import mirjax.frontend as F
from audio_refs import POWER_RTOL, assert_power_close as _assert_power_close, frames_bins as _T, test_audio as _audio  # noqa: F401

DB_ATOL = 1e-3
FFT_DB_RANGE = 60.0

# librosa.A_weighting takes log10(0) at the DC bin before flooring it at min_db.
pytestmark = pytest.mark.filterwarnings("ignore:divide by zero encountered in log10:RuntimeWarning")


def _librosa_mel(y, sr, n_fft, hop, n_mels, fmin=0.0, fmax=None, htk=False, power=2.0):
    """librosa mel spectrogram of float64 audio, mirjax layout ``(..., frames, n_mels)``."""
    return _T(librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=n_fft, hop_length=hop,
                                             n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, power=power,
                                             pad_mode="reflect"))


def _assert_db_close(ours_db, ref_db, mask_db):
    """|ours − ref| ≤ 1e-3 dB on bins whose *unweighted* dB ``mask_db`` is within 60 dB of its frame's peak."""
    ours_db, ref_db = np.asarray(ours_db, np.float64), np.asarray(ref_db, np.float64)
    assert ours_db.shape == ref_db.shape == mask_db.shape
    keep = mask_db >= mask_db.max(axis=-1, keepdims=True) - FFT_DB_RANGE
    assert keep.mean() > 0.9
    np.testing.assert_allclose(ours_db[keep], ref_db[keep], rtol=0, atol=DB_ATOL)


def _np_standardize(x, axis):
    x = np.asarray(x, np.float64)
    return (x - x.mean(axis=axis, keepdims=True)) / x.std(axis=axis, keepdims=True)


# ----------------------------------------------------------------------------------------------
# A-weighting curve and bin centre frequencies
# ----------------------------------------------------------------------------------------------

def test_a_weighting_matches_librosa_and_iec_table():
    f = np.concatenate([[0.0, 1.0, 10.0, 1000.0], librosa.fft_frequencies(sr=12000, n_fft=512),
                        np.random.default_rng(0).uniform(5.0, 24000.0, 200)])
    np.testing.assert_allclose(F.a_weighting_db(f), librosa.A_weighting(f), rtol=0, atol=1e-9)
    pos = f[f > 0]
    np.testing.assert_allclose(F.a_weighting_db(pos, min_db=None), librosa.A_weighting(pos, min_db=None),
                               rtol=0, atol=1e-9)
    np.testing.assert_allclose(F.a_weighting_db(f, min_db=-40.0), librosa.A_weighting(f, min_db=-40.0),
                               rtol=0, atol=1e-9)
    assert F.a_weighting_db(0.0) == -80.0 and F.a_weighting_db(0.0, min_db=None) == -np.inf
    # IEC 61672-1 Table 3 (nominal 1/3-octave frequencies are the base-10 exact 1000·10^(n/10) Hz;
    # the table's values are rounded to 0.1 dB).
    n = np.array([-20, -15, -12, -9, -6, -3, 0, 3, 6, 9, 12])
    table = np.array([-70.4, -39.4, -26.2, -16.1, -8.6, -3.2, 0.0, 1.2, 1.0, -1.1, -6.6])
    np.testing.assert_allclose(F.a_weighting_db(1000.0 * 10.0 ** (n / 10.0)), table, rtol=0, atol=0.05 + 1e-9)
    assert abs(F.a_weighting_db(1000.0)) < 1e-3


@pytest.mark.parametrize("sr,n_fft", [(12000, 512), (16000, 511), (22050, 2048)])
def test_fft_bin_frequencies_match_librosa(sr, n_fft):
    np.testing.assert_allclose(F.fft_bin_frequencies(sr, n_fft), librosa.fft_frequencies(sr=sr, n_fft=n_fft),
                               rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("n_mels,fmin,fmax,htk", [(96, 0.0, 6000.0, False), (40, 20.0, 7000.0, True),
                                                  (128, 30.0, 11025.0, False)])
def test_mel_bin_frequencies_are_the_filter_peaks(n_mels, fmin, fmax, htk):
    centres = F.mel_bin_frequencies(n_mels, fmin, fmax, htk)
    np.testing.assert_allclose(centres, librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)[1:-1],
                               rtol=1e-10)
    # Independently: each (peak-1) librosa triangle peaks there, to within one bin of a very fine FFT.
    sr, n_fft = 2 * fmax, 1 << 16
    fb = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=None)
    peaks = librosa.fft_frequencies(sr=sr, n_fft=n_fft)[fb.argmax(axis=1)]
    assert np.all(np.abs(peaks - centres) <= sr / n_fft)


# ----------------------------------------------------------------------------------------------
# A-weighting in the front-ends
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "sr,n_fft,hop,n_mels,fmin,fmax,htk,batch",
    [(12000, 512, 256, 96, 0.0, 6000.0, False, 2), (16000, 512, 256, 40, 20.0, 7000.0, True, None)],
)
def test_logmel_db_a_weighting_is_librosa_perceptual_weighting(sr, n_fft, hop, n_mels, fmin, fmax, htk, batch):
    y = _audio(31, batch, 9000, sr)
    fe = jax.jit(F.make_frontend("logmel", sample_rate=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin,
                                 fmax=fmax, htk=htk, weighting="a_weighting"))
    got = np.asarray(fe(y))
    mel = _T(librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=n_fft, hop_length=hop,
                                            n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, pad_mode="reflect"))
    freqs = librosa.mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)[1:-1]
    flat = _T(mel).reshape((-1,) + _T(mel).shape[-2:])  # librosa layout, one example at a time (top_db)
    want = _T(np.stack([librosa.perceptual_weighting(m, freqs, kind="A", ref=1.0, top_db=80.0) for m in flat]))
    unweighted = _T(np.stack([librosa.power_to_db(m, ref=1.0, top_db=80.0) for m in flat]))
    _assert_db_close(got.reshape(want.shape), want, unweighted)


def test_stft_magnitude_db_a_weighting_is_librosa_perceptual_weighting():
    sr, y = 12000, _audio(32, 2, 7000, 12000)
    fe = jax.jit(F.make_frontend("stft", sample_rate=sr, n_fft=256, hop_length=128, power=1.0,
                                 weighting="a_weighting"))
    got = np.asarray(fe(y))
    S = np.abs(librosa.stft(y.astype(np.float64), n_fft=256, hop_length=128, pad_mode="reflect"))
    freqs = librosa.fft_frequencies(sr=sr, n_fft=256)
    # amplitude_to_db(S) = power_to_db(S**2, amin=1e-10): perceptual_weighting takes the power spectrum.
    want = _T(np.stack([librosa.perceptual_weighting(s**2, freqs, ref=1.0, amin=1e-10, top_db=80.0) for s in S]))
    unweighted = _T(np.stack([librosa.amplitude_to_db(s, top_db=80.0) for s in S]))
    _assert_db_close(got, want, unweighted)
    np.testing.assert_allclose(got[..., 0] - unweighted[..., 0], -80.0, atol=DB_ATOL)  # DC: the min_db floor


@pytest.mark.parametrize("power", [2.0, 1.0])
def test_linear_a_weighting_multiplies_the_spectrum(power):
    sr, y = 12000, _audio(33, 2, 8000, 12000)
    kw = dict(sample_rate=sr, n_fft=512, hop_length=256, n_mels=64, fmax=6000.0, power=power, compression="none")
    got = np.asarray(jax.jit(F.make_frontend("logmel", weighting="a_weighting", **kw))(y))
    mel = _librosa_mel(y, sr, 512, 256, 64, fmax=6000.0, power=power)
    A = librosa.A_weighting(librosa.mel_frequencies(66, fmin=0.0, fmax=6000.0)[1:-1])
    _assert_power_close(got, mel * 10.0 ** (A / (10.0 if power == 2.0 else 20.0)))
    # STFT, power spectrum.
    got = np.asarray(F.make_frontend("stft", sample_rate=sr, n_fft=256, hop_length=128, power=power,
                                     compression="none", weighting="a_weighting")(y))
    S = _T(np.abs(librosa.stft(y.astype(np.float64), n_fft=256, hop_length=128, pad_mode="reflect")) ** power)
    A = librosa.A_weighting(librosa.fft_frequencies(sr=sr, n_fft=256))
    _assert_power_close(got, S * 10.0 ** (A * power / 20.0))


@pytest.mark.parametrize("compression", ["log1p", "log10"])
def test_a_weighting_before_log1p_log10(compression):
    """No additive dB form for log(1 + C·S): the linear gain is applied before compressing (documented)."""
    sr, y = 8000, _audio(34, 2, 8000, 8000)
    fe = F.make_frontend("logmel", sample_rate=sr, n_fft=256, hop_length=128, n_mels=40, compression=compression,
                         log_c=100.0, weighting="a_weighting")
    mel = _librosa_mel(y, sr, 256, 128, 40)
    gain = 10.0 ** (librosa.A_weighting(librosa.mel_frequencies(42, fmax=4000.0)[1:-1]) / 10.0)
    weighted = 100.0 * mel * gain
    want = np.log1p(weighted) if compression == "log1p" else np.log10(1.0 + weighted)
    np.testing.assert_allclose(np.asarray(jax.jit(fe)(y)), want, rtol=0, atol=100.0 * POWER_RTOL * (mel * gain).max())


# ----------------------------------------------------------------------------------------------
# Standardisation
# ----------------------------------------------------------------------------------------------

def test_per_frequency_standardize_per_bin_over_time():
    sr, y = 16000, _audio(35, 3, 12000, 16000)
    kw = dict(sample_rate=sr, n_fft=512, hop_length=256, n_mels=48)
    base = np.asarray(F.make_frontend("logmel", **kw)(y))
    got = np.asarray(jax.jit(F.make_frontend("logmel", weighting="per_frequency", **kw))(y))
    np.testing.assert_allclose(got.mean(axis=-2), 0.0, atol=1e-5)
    np.testing.assert_allclose(got.std(axis=-2), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, _np_standardize(base, axis=-2), rtol=0, atol=1e-4)
    # End to end against librosa: dB error (≤ ~4e-2 dB on bins 70+ dB below their frame's peak, see
    # test_frontend) divided by a per-bin std of several dB.
    mel = _librosa_mel(y, sr, 512, 256, 48)
    ref = np.stack([_T(librosa.power_to_db(_T(m), top_db=80.0)) for m in mel])
    np.testing.assert_allclose(got, _np_standardize(ref, axis=-2), rtol=0, atol=1e-2)


def test_per_sample_standardize_over_the_clip():
    sr, y = 16000, _audio(36, 3, 12000, 16000)
    kw = dict(sample_rate=sr, n_fft=512, hop_length=256, n_mels=48)
    base = np.asarray(F.make_frontend("logmel", **kw)(y))
    got = np.asarray(jax.jit(F.make_frontend("logmel", standardize="sample", **kw))(y))
    np.testing.assert_allclose(got.mean(axis=(-2, -1)), 0.0, atol=1e-5)
    np.testing.assert_allclose(got.std(axis=(-2, -1)), 1.0, atol=1e-5)
    np.testing.assert_allclose(got, _np_standardize(base, axis=(-2, -1)), rtol=0, atol=1e-4)


@pytest.mark.parametrize("a,b", [(3.0, -40.0), (0.5, 7.0), (1e3, 0.0)])
def test_standardization_is_affine_invariant(a, b):
    x = np.random.default_rng(37).normal(-30.0, 12.0, size=(2, 50, 20)).astype(np.float32)
    for fn in (F.per_sample_standardize, F.per_frequency_standardize):
        np.testing.assert_allclose(fn(jnp.asarray(a * x + b)), fn(jnp.asarray(x)), rtol=0, atol=1e-4)


def test_frontend_standardization_is_gain_invariant():
    """A gain on the audio is an additive shift in dB and a factor on linear power: both standardise away."""
    y = _audio(38, 2, 8000, 16000)
    for compression in ("db", "none"):
        for opts in (dict(standardize="sample"), dict(weighting="per_frequency")):
            fe = jax.jit(F.make_frontend("logmel", n_mels=40, compression=compression, **opts))
            np.testing.assert_allclose(fe(3.0 * y), fe(y), rtol=0, atol=1e-3)


def test_constant_inputs_standardize_to_zero():
    # A bin pinned at the top_db floor (or digital silence) must give 0, not NaN or amplified rounding.
    x = np.full((2, 40, 8), np.float32(-103.3))
    x[:, :, :4] += np.random.default_rng(39).standard_normal((2, 40, 4)).astype(np.float32)
    out = np.asarray(F.per_frequency_standardize(jnp.asarray(x)))
    assert np.all(np.isfinite(out)) and np.abs(out[..., 4:]).max() < 1e-3
    np.testing.assert_allclose(out[..., :4].std(axis=-2), 1.0, atol=1e-5)
    assert np.abs(np.asarray(F.per_sample_standardize(jnp.full((3, 40, 8), -103.3)))).max() < 1e-3
    silent = np.asarray(F.make_frontend("logmel", n_mels=40, standardize="sample")(np.zeros((1, 4000), np.float32)))
    assert np.all(silent == 0.0)


# ----------------------------------------------------------------------------------------------
# Scale, defaults, composition, errors, shapes, transformations
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["logmel", "stft"])
def test_scale_multiplies_exactly(name):
    y = _audio(40, 2, 6000, 16000)
    for opts in (dict(), dict(weighting="per_frequency", standardize="sample")):
        base = np.asarray(jax.jit(F.make_frontend(name, **opts))(y))
        np.testing.assert_array_equal(np.asarray(jax.jit(F.make_frontend(name, scale=10, **opts))(y)),
                                      base * np.float32(10.0))


@pytest.mark.parametrize("name", ["logmel", "stft"])
def test_defaults_are_unchanged(name):
    y = _audio(41, 3, 7000, 16000)
    explicit = F.make_frontend(name, weighting="none", standardize="none", scale=1.0)
    np.testing.assert_array_equal(jax.jit(explicit)(y), jax.jit(F.make_frontend(name))(y))
    # ... and the same as the plain composition the front-end was before the options existed.
    plain = (F.melspectrogram(y, 16000, 512, 256, 96, pad_mode="reflect") if name == "logmel"
             else F.spectrogram(y, 512, 256, pad_mode="reflect"))
    np.testing.assert_allclose(explicit(y), F.power_to_db(plain, top_db=80.0), rtol=0, atol=1e-5)
    if name == "logmel":  # and still librosa's per-example power_to_db
        mel = _librosa_mel(y, 16000, 512, 256, 96)
        ref = np.stack([_T(librosa.power_to_db(_T(m), top_db=80.0)) for m in mel])
        _assert_db_close(explicit(y), ref, ref)


def test_chain_order_weighting_then_sample_then_scale():
    y = _audio(42, 2, 8000, 12000)
    kw = dict(sample_rate=12000, n_mels=96, fmax=6000.0)
    weighted = np.asarray(F.make_frontend("logmel", weighting="a_weighting", **kw)(y))
    got = np.asarray(F.make_frontend("logmel", weighting="a_weighting", standardize="sample", scale=10.0, **kw)(y))
    np.testing.assert_allclose(got, 10.0 * _np_standardize(weighted, axis=(-2, -1)), rtol=0, atol=1e-3)
    # per_frequency then per-sample: the per-sample step leaves per-bin-standardised data (mean 0, std 1) ~unchanged.
    pf = np.asarray(F.make_frontend("logmel", weighting="per_frequency", **kw)(y))
    both = np.asarray(F.make_frontend("logmel", weighting="per_frequency", standardize="sample", **kw)(y))
    np.testing.assert_allclose(both, pf, rtol=0, atol=1e-4)


@pytest.mark.parametrize(
    "kwargs,match",
    [
        (dict(weighting="A"), r"weighting must be one of none, a_weighting, per_frequency; got 'A'"),
        (dict(weighting="a-weighting"), r"weighting must be one of .*a_weighting"),
        (dict(standardize="batch"), r"standardize must be one of none, sample; got 'batch'"),
        (dict(scale=0.0), r"scale must be a positive finite number; got 0.0"),
        (dict(scale=-10.0), r"scale must be a positive finite number"),
        (dict(scale=float("inf")), r"scale must be a positive finite number"),
        (dict(scale="ten"), r"scale must be a positive finite number; got 'ten'"),
    ],
)
@pytest.mark.parametrize("name", ["logmel", "stft"])
def test_bad_options_raise_one_line_value_error(name, kwargs, match):
    with pytest.raises(ValueError, match=match) as info:
        F.make_frontend(name, **kwargs)
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match=match):
        F.output_bins(name, **kwargs)


@pytest.mark.parametrize("name,bins", [("logmel", 64), ("stft", 257)])
def test_output_shape_and_bins_with_options(name, bins):
    kw = dict(n_mels=64) if name == "logmel" else {}
    opts = dict(weighting="a_weighting", standardize="sample", scale=10.0)
    assert F.output_bins(name, **kw, **opts) == bins
    assert F.output_shape(name, 16000, **kw, **opts) == (F.output_frames(16000, 256), bins)


@pytest.mark.parametrize("weighting", ["a_weighting", "per_frequency"])
def test_leading_dims_jit_vmap_and_batch_independence(weighting):
    y = _audio(43, 6, 6000, 16000)  # 6 clips: on CPU, groups of 4 plus a remainder
    fe = F.make_frontend("logmel", n_mels=40, weighting=weighting, standardize="sample", scale=10.0)
    a = np.asarray(jax.jit(fe)(y))
    tol = dict(rtol=0, atol=1e-4)  # values up to ~50 (×10): a few float32 ulps from different fusion
    np.testing.assert_allclose(np.asarray(jax.jit(fe)(y.reshape(2, 3, -1))).reshape(a.shape), a, **tol)
    np.testing.assert_allclose(np.asarray(jax.jit(jax.vmap(fe))(y.reshape(3, 2, -1))).reshape(a.shape), a, **tol)
    # Per-clip statistics: a clip's features do not depend on the rest of its batch.
    np.testing.assert_allclose(np.asarray(fe(y[2])), a[2], **tol)
