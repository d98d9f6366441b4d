"""Parity of mirjax.frontend with librosa (the independent reference), kapre style.

librosa is fed float64 audio so that the reference is more precise than the float32 code under test.
Tolerances: power within 1e-4 of each example's peak; dB within 1e-3 dB (see ``_assert_db_close``
for the one documented float32 caveat); MFCCs within the bound that 1e-3 dB implies through an
orthonormal DCT.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

import mirjax.frontend as F
from audio_refs import POWER_RTOL, assert_power_close as _assert_power_close, frames_bins as _T, test_audio as _audio  # noqa: F401

DB_ATOL = 1e-3  # dB


def _assert_db_close(ours_db, ref_db, within_db: float | None = None):
    """|ours − ref| ≤ 1e-3 dB, on every bin or (``within_db``) on bins within that many dB of their frame's peak.

    Why the mask for spectra computed from audio: a float32 FFT has an absolute error of ~1e-7–5e-7 of
    the frame's norm, so a bin 70+ dB below its frame's strongest bin cannot be within 1e-3 dB of a
    float64 reference (measured: ≤ 3e-4 dB down to 60 dB, ≤ 7e-4 dB down to 70 dB, up to 4e-2 dB below).
    Those deep bins are still checked by the power criterion (1e-4 of the peak) in the same tests.
    """
    ours_db, ref_db = np.asarray(ours_db, np.float64), np.asarray(ref_db, np.float64)
    assert ours_db.shape == ref_db.shape
    if within_db is None:
        np.testing.assert_allclose(ours_db, ref_db, rtol=0, atol=DB_ATOL)
        return
    keep = ref_db >= ref_db.max(axis=-1, keepdims=True) - within_db
    assert keep.mean() > 0.9  # the mask must leave almost everything under test
    np.testing.assert_allclose(ours_db[keep], ref_db[keep], rtol=0, atol=DB_ATOL)


FFT_DB_RANGE = 60.0  # dB below the frame peak within which spectra from audio are held to 1e-3 dB


# ----------------------------------------------------------------------------------------------
# STFT
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "n_fft,hop,win_length,n,batch,pad_mode",
    [
        (256, 128, None, 4001, None, "reflect"),
        (512, 256, None, 8000, 3, "reflect"),
        (1024, 300, None, 9999, 1, "reflect"),  # hop does not divide n_fft: gather path
        (2048, 512, None, 22050, 1, "reflect"),
        (512, 128, 400, 5000, 3, "reflect"),  # win_length < n_fft: centred zero-padded window
        (511, 128, None, 3001, None, "reflect"),  # odd n_fft
        (512, 256, None, 6001, 3, "constant"),  # the default padding, librosa's
        (2048, 512, None, 22050, None, "constant"),
    ],
)
def test_stft_matches_librosa(n_fft, hop, win_length, n, batch, pad_mode):
    y = _audio(1, batch, n, 16000)
    ref = _T(librosa.stft(y.astype(np.float64), n_fft=n_fft, hop_length=hop, win_length=win_length, pad_mode=pad_mode))
    # "constant" is the default (librosa's): leave it out so the default itself is under test.
    pad_kw = {} if pad_mode == "constant" else {"pad_mode": pad_mode}
    fn = jax.jit(functools.partial(F.stft, n_fft=n_fft, hop_length=hop, win_length=win_length, **pad_kw))
    ours = np.asarray(fn(y))
    assert ours.dtype == np.complex64 and ours.shape == ref.shape
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()


def test_stft_last_frame_uses_whole_signal_reflect_padding():
    """Independent numpy reference (np.pad of the whole signal, explicit frames, float64 FFT).

    librosa 0.11 pads the tail piece separately; when that piece is exactly n_fft // 2 samples long
    (here n % hop == 0) np.pad wraps around and librosa's last sample of the last frame differs
    from reflect padding of the whole signal. mirjax follows the whole-signal definition.
    """
    n, n_fft, hop = 8192, 512, 256
    y = _audio(2, 2, n, 16000)
    yp = np.pad(y.astype(np.float64), [(0, 0), (n_fft // 2, n_fft // 2)], mode="reflect")
    idx = np.arange(F.output_frames(n, hop))[:, None] * hop + np.arange(n_fft)[None, :]
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    ref = np.fft.rfft(yp[:, idx] * win, axis=-1)
    ours = np.asarray(F.stft(y, n_fft, hop, pad_mode="reflect"))
    assert np.abs(ours - ref).max() <= 1e-5 * np.abs(ref).max()
    # The last frame on its own, relative to its own peak: a wrong pad mode or an off-by-one reflection
    # shows here (librosa's one-sample quirk, weighted by a window value of 4e-5, is below float32 noise).
    assert np.abs(ours[:, -1] - ref[:, -1]).max() <= 1e-5 * np.abs(ref[:, -1]).max()


def test_stft_frames_formula_and_centering():
    # A unit impulse at sample t*hop must land in the centre of frame t (center=True).
    n, hop = 4096, 256
    assert F.output_frames(n, hop) == librosa.stft(np.zeros(n), n_fft=512, hop_length=hop).shape[-1]
    y = np.zeros(n, np.float32)
    y[5 * hop] = 1.0
    mag = np.abs(np.asarray(F.stft(y, 512, hop)))
    assert mag.shape == (F.output_frames(n, hop), 257)
    assert np.argmax(mag[:, 0]) == 5 and np.allclose(mag[5], 1.0, atol=1e-6)  # hann(256 of 512) = 1


# ----------------------------------------------------------------------------------------------
# Mel filterbank
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "sr,n_fft,n_mels,fmin,fmax,htk,norm",
    [
        (8000, 256, 40, 0.0, None, False, "slaney"),
        (16000, 512, 96, 0.0, None, False, "slaney"),
        (16000, 512, 96, 0.0, None, True, "slaney"),
        (22050, 2048, 128, 20.0, 8000.0, False, "slaney"),
        (22050, 1024, 128, 50.0, 11025.0, True, None),
        (44100, 2048, 40, 100.0, 16000.0, False, None),
    ],
)
def test_mel_filterbank_matches_librosa(sr, n_fft, n_mels, fmin, fmax, htk, norm):
    ref = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, htk=htk, norm=norm,
                              dtype=np.float64)
    ours = F.mel_filterbank(sr, n_fft, n_mels, fmin, fmax, htk=htk, norm=norm)
    assert ours.shape == (n_fft // 2 + 1, n_mels) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, ref.T, rtol=0, atol=1e-6 * ref.max())


def test_mel_scale_roundtrip_and_reference_points():
    # Slaney: 1000 Hz = 15 mel; HTK: 700 Hz ↦ 2595·log10(2).
    assert F.hz_to_mel(1000.0) == pytest.approx(15.0)
    assert F.hz_to_mel(700.0, htk=True) == pytest.approx(2595.0 * np.log10(2.0))
    f = np.array([0.0, 60.0, 999.0, 1000.0, 4000.0, 11025.0])
    for htk in (False, True):
        np.testing.assert_allclose(F.hz_to_mel(f, htk=htk), librosa.hz_to_mel(f, htk=htk), rtol=1e-12)
        np.testing.assert_allclose(F.mel_to_hz(F.hz_to_mel(f, htk=htk), htk=htk), f, rtol=1e-10, atol=1e-9)


# ----------------------------------------------------------------------------------------------
# Mel spectrogram (the contract) and dB
# ----------------------------------------------------------------------------------------------

MEL_CASES = [
    # sr, n_fft, hop, n_mels, fmin, fmax, htk, power, batch, n
    (8000, 256, 128, 40, 0.0, None, False, 2.0, None, 8000),
    (8000, 512, 256, 40, 0.0, None, True, 2.0, 3, 8001),
    (16000, 512, 256, 96, 0.0, None, False, 2.0, 3, 16000),
    (16000, 512, 128, 128, 0.0, None, False, 2.0, 1, 12345),
    (16000, 1024, 512, 96, 20.0, 7000.0, True, 2.0, 1, 16000),
    (22050, 2048, 512, 128, 0.0, None, False, 2.0, 3, 22050),
    (22050, 1024, 256, 128, 30.0, 11025.0, False, 1.0, 1, 22051),
    (22050, 2048, 512, 96, 0.0, 8000.0, True, 2.0, None, 33333),
    (44100, 2048, 441, 128, 0.0, None, False, 2.0, 1, 44100),  # hop ∤ n_fft
]


@pytest.mark.parametrize("pad_mode", ["constant", "reflect"])
@pytest.mark.parametrize("sr,n_fft,hop,n_mels,fmin,fmax,htk,power,batch,n", MEL_CASES)
def test_melspectrogram_matches_librosa(sr, n_fft, hop, n_mels, fmin, fmax, htk, power, batch, n, pad_mode):
    y = _audio(n, batch, n, sr)
    kw = dict(n_fft=n_fft, hop_length=hop, n_mels=n_mels, fmin=fmin, fmax=fmax, power=power, htk=htk,
              pad_mode=pad_mode)
    ref = _T(librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, **kw))
    ours = np.asarray(jax.jit(functools.partial(F.melspectrogram, sample_rate=sr, **kw))(y))
    assert ours.shape == ref.shape and ours.dtype == np.float32
    assert ours.shape[-2] == F.output_frames(n, hop)
    _assert_power_close(ours, ref)

    # dB (per example, top_db=80), through the matching conversion for power 2 / magnitude 1.
    to_db_ref = librosa.power_to_db if power == 2.0 else librosa.amplitude_to_db
    to_db = F.power_to_db if power == 2.0 else F.amplitude_to_db
    ref_db = np.stack([to_db_ref(r) for r in ref.reshape((-1,) + ref.shape[-2:])]).reshape(ref.shape)
    _assert_db_close(to_db(jnp.asarray(ours)), ref_db, within_db=FFT_DB_RANGE)


def test_melspectrogram_contract_call_with_librosa_defaults():
    """The design contract: the default call equals librosa's default call (zero padding) frame for frame."""
    sr, y = 22050, _audio(7, None, 22050, 22050)
    ref = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=2048, hop_length=512, n_mels=128)
    ours = F.melspectrogram(y, sr, 2048, 512, 128)
    _assert_power_close(ours, _T(ref))
    # And reflect, the option, is really reflect, i.e. differs from zero padding at the edges only.
    ours_reflect = np.asarray(F.melspectrogram(y, sr, 2048, 512, 128, pad_mode="reflect"))
    assert not np.allclose(ours_reflect[0], ref[:, 0], rtol=1e-3)
    _assert_power_close(ours_reflect[4:-4], _T(ref)[4:-4])


@pytest.mark.parametrize(
    "ref,amin,top_db",
    [(1.0, 1e-10, 80.0), (1.0, 1e-10, None), (2.5, 1e-6, 40.0), ("max", 1e-10, 60.0)],
)
def test_power_to_db_matches_librosa_per_example(ref, amin, top_db):
    rng = np.random.default_rng(3)
    # Three examples with very different levels: a batch-global top_db would clip the quiet one.
    S = (10.0 ** rng.uniform(-12, 1, size=(3, 50, 40))) * np.array([1.0, 1e-4, 1e-8])[:, None, None]
    S = S.astype(np.float32)
    S[0, 0, :5] = 0.0  # exact zeros exercise amin
    ref_l = np.max if ref == "max" else ref
    ref_m = jnp.max if ref == "max" else ref
    want = np.stack([librosa.power_to_db(s.astype(np.float64), ref=ref_l, amin=amin, top_db=top_db) for s in S])
    got = jax.jit(functools.partial(F.power_to_db, ref=ref_m, amin=amin, top_db=top_db))(S)
    _assert_db_close(got, want)
    if top_db is not None:
        # Per-example floor really differs from librosa's whole-array floor here.
        whole = librosa.power_to_db(S.astype(np.float64), ref=ref_l, amin=amin, top_db=top_db)
        assert not np.allclose(np.asarray(got), whole)


def test_amplitude_to_db_and_log_compressions_match_closed_forms():
    rng = np.random.default_rng(4)
    A = (10.0 ** rng.uniform(-7, 1, size=(2, 30, 20))).astype(np.float32)
    want = np.stack([librosa.amplitude_to_db(a.astype(np.float64), top_db=80.0) for a in A])
    _assert_db_close(F.amplitude_to_db(A), want)
    np.testing.assert_allclose(F.log1p_compress(A, C=1e4), np.log(1 + 1e4 * A.astype(np.float64)), rtol=1e-5)
    np.testing.assert_allclose(F.log10_compress(A, C=100.0), np.log10(1 + 100.0 * A.astype(np.float64)), rtol=1e-5)


# ----------------------------------------------------------------------------------------------
# MFCC and deltas
# ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "sr,n_fft,hop,n_mels,n_mfcc,htk,lifter,batch",
    [
        (22050, 2048, 512, 128, 20, False, 0.0, None),
        (16000, 512, 256, 40, 13, True, 0.0, 3),
        (8000, 256, 128, 40, 20, False, 22.0, 1),
    ],
)
def test_mfcc_matches_librosa(sr, n_fft, hop, n_mels, n_mfcc, htk, lifter, batch):
    y = _audio(11, batch, sr + 77, sr)
    kw = dict(n_mfcc=n_mfcc, n_fft=n_fft, hop_length=hop, n_mels=n_mels, htk=htk, lifter=lifter)
    flat = y.reshape((-1, y.shape[-1])).astype(np.float64)
    # librosa applies top_db over its whole input, so feed it one example at a time.
    ref = np.stack([librosa.feature.mfcc(y=v, sr=sr, **kw) for v in flat])  # both with their default padding
    ref = _T(ref).reshape(y.shape[:-1] + _T(ref).shape[-2:])
    ours = jax.jit(functools.partial(F.mfcc, sample_rate=sr, **kw))(y)
    scale = 1.0 + (lifter / 2.0 if lifter else 0.0)  # liftering multiplies by at most this
    np.testing.assert_allclose(ours, ref, rtol=0, atol=DB_ATOL * np.sqrt(n_mels) * scale)


@pytest.mark.parametrize("width,order,n", [(3, 1, 10), (5, 2, 5), (9, 1, 40), (9, 2, 40), (7, 2, 23)])
def test_delta_matches_librosa(width, order, n):
    x = np.random.default_rng(width * 10 + order).standard_normal((2, n, 6)).astype(np.float32)  # (batch, frames, coef)
    ref = np.swapaxes(librosa.feature.delta(np.swapaxes(x, -1, -2).astype(np.float64), width=width, order=order),
                      -1, -2)
    ours = F.delta(x, width=width, order=order, axis=-2)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-5 * np.abs(ref).max())
    # Edges (the Savitzky–Golay polynomial fits) are part of the comparison above; check them explicitly too.
    h = width // 2
    np.testing.assert_allclose(np.asarray(ours)[:, :h], ref[:, :h], rtol=0, atol=1e-5 * np.abs(ref).max())


def test_delta_rejects_bad_arguments():
    x = np.zeros((8, 3), np.float32)
    for kwargs in (dict(width=4), dict(width=1), dict(width=9), dict(order=0)):
        with pytest.raises(ValueError):
            F.delta(x, axis=0, **kwargs)


def test_mfcc_with_deltas_matches_librosa():
    sr = 16000
    y = _audio(5, None, 16000, sr)
    M = librosa.feature.mfcc(y=y.astype(np.float64), sr=sr, n_mfcc=13, n_fft=512, hop_length=256, n_mels=40)
    ref = _T(np.concatenate([M, librosa.feature.delta(M), librosa.feature.delta(M, order=2)], axis=0))
    ours = F.mfcc_with_deltas(y, sr, n_mfcc=13, n_fft=512, hop_length=256, n_mels=40)
    assert ours.shape == ref.shape == (F.output_frames(16000, 256), 39)
    np.testing.assert_allclose(ours, ref, rtol=0, atol=DB_ATOL * np.sqrt(40))


# ----------------------------------------------------------------------------------------------
# Transformations: jit / vmap / arbitrary leading dims
# ----------------------------------------------------------------------------------------------

def test_jit_vmap_and_leading_dims_match_librosa():
    sr, y = 16000, _audio(9, 6, 9000, 16000)
    kw = dict(n_fft=512, hop_length=256, n_mels=64, pad_mode="reflect")
    ref = _T(librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, **kw))
    mel = functools.partial(F.melspectrogram, sample_rate=sr, **kw)
    _assert_power_close(jax.jit(mel)(y), ref)
    _assert_power_close(jax.jit(jax.vmap(mel))(y), ref)
    _assert_power_close(jax.jit(mel)(y.reshape(2, 3, -1)).reshape(ref.shape), ref)
    fe = F.make_frontend("logmel", sample_rate=sr, n_fft=512, hop_length=256, n_mels=64)
    a = np.asarray(jax.jit(fe)(y))
    b = np.asarray(jax.jit(jax.vmap(fe))(y.reshape(3, 2, -1))).reshape(a.shape)
    ref_db = np.stack([librosa.power_to_db(r) for r in ref])
    _assert_db_close(a, ref_db, within_db=FFT_DB_RANGE)
    _assert_db_close(b, ref_db, within_db=FFT_DB_RANGE)


# ----------------------------------------------------------------------------------------------
# Registry
# ----------------------------------------------------------------------------------------------

def test_logmel_frontend_matches_librosa_with_per_example_top_db():
    sr, n = 16000, 16000
    y = _audio(21, 3, n, sr) * np.array([[1.0], [1e-3], [30.0]], np.float32)  # different levels
    fe = jax.jit(F.make_frontend("logmel"))  # defaults: 16 kHz, n_fft 512, hop 256, 96 mels, dB
    out = np.asarray(fe(y))
    assert out.shape == (3,) + F.output_shape("logmel", n) == (3, F.output_frames(n, 256), 96)
    mel = librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=512, hop_length=256, n_mels=96,
                                         pad_mode="reflect")
    _assert_db_close(out, np.stack([_T(librosa.power_to_db(m, top_db=80.0)) for m in mel]), within_db=FFT_DB_RANGE)


@pytest.mark.parametrize("compression", ["log1p", "log10", "none"])
def test_logmel_frontend_compressions(compression):
    sr, y = 8000, _audio(22, 2, 8000, 8000)
    fe = F.make_frontend("logmel", sample_rate=sr, n_fft=256, hop_length=128, n_mels=40, compression=compression,
                         log_c=100.0)
    mel = _T(librosa.feature.melspectrogram(y=y.astype(np.float64), sr=sr, n_fft=256, hop_length=128, n_mels=40,
                                            pad_mode="reflect"))
    want = {"log1p": np.log1p(100.0 * mel), "log10": np.log10(1 + 100.0 * mel), "none": mel}[compression]
    got = np.asarray(jax.jit(fe)(y))
    if compression == "none":
        _assert_power_close(got, want)
    else:  # log(1 + C x) has derivative <= C: power error bound carries over
        np.testing.assert_allclose(got, want, rtol=0, atol=100.0 * POWER_RTOL * mel.max())


def test_stft_frontend_matches_librosa():
    y = _audio(23, 2, 7000, 16000)
    S = np.abs(librosa.stft(y.astype(np.float64), n_fft=256, hop_length=64, pad_mode="reflect"))
    fe = jax.jit(F.make_frontend("stft", n_fft=256, hop_length=64, power=1.0, compression="db", top_db=None))
    want = _T(np.stack([librosa.amplitude_to_db(s, top_db=None) for s in S]))
    got = np.asarray(fe(y))
    _assert_db_close(got, want, within_db=FFT_DB_RANGE)
    # Every bin, in the amplitude domain: float32 FFT error stays below 1e-6 of the frame's peak magnitude.
    amp, amp_ref = 10.0 ** (got / 20.0), 10.0 ** (want / 20.0)
    assert np.all(np.abs(amp - amp_ref) <= 1e-6 * amp_ref.max(axis=-1, keepdims=True))
    assert F.output_bins("stft", n_fft=256) == 129


def test_mfcc_frontend_matches_librosa_and_shapes():
    sr, y = 16000, _audio(24, 2, 12000, 16000)
    fe = jax.jit(F.make_frontend("mfcc", n_mfcc=13, n_mels=40))
    out = np.asarray(fe(y))
    assert out.shape == (2,) + F.output_shape("mfcc", 12000, n_mfcc=13, n_mels=40)
    assert F.output_bins("mfcc", n_mfcc=13) == 39 and F.output_bins("mfcc", deltas=False, n_mfcc=20) == 20
    for o, v in zip(out, y.astype(np.float64)):
        M = librosa.feature.mfcc(y=v, sr=sr, n_mfcc=13, n_fft=512, hop_length=256, n_mels=40, pad_mode="reflect")
        ref = _T(np.concatenate([M, librosa.feature.delta(M), librosa.feature.delta(M, order=2)]))
        np.testing.assert_allclose(o, ref, rtol=0, atol=DB_ATOL * np.sqrt(40))


def test_registry_errors_name_the_culprit_and_list_valid_options():
    with pytest.raises(ValueError, match=r"unknown frontend 'melspec'.*valid: .*logmel.*mfcc.*stft"):
        F.make_frontend("melspec")
    with pytest.raises(ValueError, match=r"unknown argument\(s\) nmels for frontend 'logmel'; valid: .*n_mels"):
        F.make_frontend("logmel", nmels=64)
    with pytest.raises(ValueError, match=r"compression must be one of db, log1p, log10, none; got 'ln'"):
        F.make_frontend("stft", compression="ln")
    with pytest.raises(ValueError, match=r"unknown argument"):
        F.output_bins("mfcc", n_mel=40)
    with pytest.raises(ValueError, match="already registered"):
        F.register("logmel")(lambda: None)
    msg = ""
    try:
        F.make_frontend("logmel", hop=1)
    except ValueError as e:
        msg = str(e)
    assert "\n" not in msg and "hop" in msg


def test_register_adds_a_frontend():
    name = "_test_identity_frames"

    @F.register(name)
    def _factory(hop_length: int = 4):
        return lambda audio: audio.reshape(audio.shape[:-1] + (-1, hop_length))

    try:
        out = F.make_frontend(name)(np.arange(16, dtype=np.float32)[None])
        assert out.shape == (1, 4, 4) and float(out[0, 1, 0]) == 4.0
        assert F.output_bins(name, hop_length=8) == 8
    finally:
        del F.FRONTENDS[name]
