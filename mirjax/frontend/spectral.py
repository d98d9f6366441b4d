"""Short-time Fourier transform, mel filterbank and mel spectrogram in pure ``jax.numpy``.

Layout convention: audio is ``(..., samples)``; every time–frequency output is
``(..., frames, bins)`` (time before frequency, i.e. librosa's output transposed), so that
leading batch/channel dims are arbitrary and a model sees ``(batch, frames, bins)``.

All numbers that depend only on the configuration (window, mel filterbank, frame indices)
are computed with numpy at trace time and enter the jitted graph as constants.
Parity with librosa (the test reference; never imported here) is checked in
``tests/test_frontend.py``.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError

WindowSpec = str | tuple | np.ndarray

_HIGHEST = jax.lax.Precision.HIGHEST


def output_frames(num_samples: int, hop_length: int) -> int:
    """Number of STFT frames for ``num_samples`` with ``center=True`` and an even ``n_fft``."""
    return 1 + num_samples // hop_length


def get_window(window: WindowSpec, win_length: int, n_fft: int | None = None) -> np.ndarray:
    """Periodic ("fftbins") analysis window of ``win_length`` samples, zero-padded centrally to ``n_fft``.

    ``"hann"`` is the closed form ``0.5 - 0.5 cos(2πn/N)`` (= scipy/librosa periodic Hann); other
    names or ``(name, param)`` tuples go through ``scipy.signal.get_window(..., fftbins=True)``;
    an array is used as is. Returns float64 numpy of length ``n_fft``.
    """
    n_fft = win_length if n_fft is None else n_fft
    if isinstance(window, str) and window in ("hann", "hanning"):
        w = 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(win_length) / win_length)
    elif isinstance(window, (str, tuple)):
        import scipy.signal  # scipy ships with jax; only needed for exotic windows

        w = scipy.signal.get_window(window, win_length, fftbins=True)
    else:
        w = np.asarray(window, dtype=np.float64)
        if w.shape != (win_length,):
            raise UserError(f"window array has shape {w.shape}, expected ({win_length},)")
    if win_length > n_fft:
        raise UserError(f"win_length={win_length} > n_fft={n_fft}")
    # Same centring as librosa.util.pad_center.
    lpad = (n_fft - win_length) // 2
    return np.pad(w, (lpad, n_fft - win_length - lpad))


def frame(x: jax.Array, frame_length: int, hop_length: int) -> jax.Array:
    """Slice ``(..., samples)`` into overlapping frames ``(..., frames, frame_length)``.

    ``frames = 1 + (samples - frame_length) // hop_length``. When ``hop_length`` divides
    ``frame_length`` (the usual 50 % / 75 % overlap), frames are built from a reshape into
    hop-sized blocks plus ``frame_length // hop_length`` shifted slices (plain copies, no gather);
    otherwise an index gather is used. Identical values; on a 2-core CPU both ran at the same
    speed inside the log-mel pipeline (and faster than ``conv_general_dilated_patches``), and the
    block path keeps gathers out of accelerator graphs.
    """
    n = x.shape[-1]
    if n < frame_length:
        raise UserError(f"signal of {n} samples is shorter than frame_length={frame_length}")
    n_frames = 1 + (n - frame_length) // hop_length
    lead = x.shape[:-1]
    if frame_length % hop_length == 0:
        k = frame_length // hop_length
        need = (n_frames + k - 1) * hop_length  # <= n by construction
        blocks = x[..., :need].reshape(lead + (n_frames + k - 1, hop_length))
        return jnp.concatenate([blocks[..., j : j + n_frames, :] for j in range(k)], axis=-1)
    idx = np.arange(n_frames)[:, None] * hop_length + np.arange(frame_length)[None, :]
    return x[..., idx]


def stft(
    audio: jax.Array,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> jax.Array:
    """Complex STFT of ``audio (..., samples)`` → ``(..., frames, n_fft // 2 + 1)`` complex64.

    Matches ``librosa.stft(y, n_fft=, hop_length=, win_length=, window=, center=, pad_mode=).T``.
    ``hop_length`` defaults to ``win_length // 4``. With ``center=True`` the signal is padded by
    ``n_fft // 2`` on both sides (``pad_mode`` is any ``jnp.pad`` mode: ``"constant"`` (zeros, librosa's
    default since 0.10) or ``"reflect"``), so frame ``t`` is centred on sample ``t * hop_length``.
    """
    audio = jnp.asarray(audio, dtype=jnp.float32)
    win_length = n_fft if win_length is None else win_length
    hop_length = win_length // 4 if hop_length is None else hop_length
    if hop_length <= 0:
        raise UserError(f"hop_length must be positive, got {hop_length}")
    win = get_window(window, win_length, n_fft).astype(np.float32)
    if center:
        p = n_fft // 2
        if pad_mode == "reflect" and audio.shape[-1] <= p:
            raise UserError(f"reflect padding needs more than n_fft//2={p} samples, got {audio.shape[-1]}")
        pad = [(0, 0)] * (audio.ndim - 1) + [(p, p)]
        audio = jnp.pad(audio, pad, mode=pad_mode)
    frames = frame(audio, n_fft, hop_length)
    return jnp.fft.rfft(frames * win, n=n_fft, axis=-1)


def spectrogram(
    audio: jax.Array,
    n_fft: int = 2048,
    hop_length: int | None = None,
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
    power: float = 2.0,
) -> jax.Array:
    """``|stft(audio)| ** power`` → ``(..., frames, n_fft // 2 + 1)`` float32 (power=2: energy, 1: magnitude)."""
    spec = stft(audio, n_fft, hop_length, win_length, window, center, pad_mode)
    if power == 2.0:
        # Avoids the sqrt inside abs(); also slightly more accurate.
        return jnp.real(spec) ** 2 + jnp.imag(spec) ** 2
    if power == 1.0:
        return jnp.abs(spec)
    return jnp.abs(spec) ** power


# ----------------------------------------------------------------------------------------------
# Mel scale and filterbank (numpy, float64; constants at trace time)
# ----------------------------------------------------------------------------------------------

_F_SP = 200.0 / 3  # Slaney: 66.67 Hz per mel below 1 kHz
_MIN_LOG_HZ = 1000.0
_MIN_LOG_MEL = _MIN_LOG_HZ / _F_SP  # = 15
_LOGSTEP = math.log(6.4) / 27.0  # Slaney: log-spaced above 1 kHz


def hz_to_mel(frequencies, htk: bool = False) -> np.ndarray:
    """Hz → mel. ``htk=True``: 2595·log10(1 + f/700); else Slaney (linear < 1 kHz, log above)."""
    f = np.asarray(frequencies, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    mels = f / _F_SP
    log_region = f >= _MIN_LOG_HZ
    safe = np.where(log_region, f, _MIN_LOG_HZ)  # avoid log(0) warnings off-region
    return np.where(log_region, _MIN_LOG_MEL + np.log(safe / _MIN_LOG_HZ) / _LOGSTEP, mels)


def mel_to_hz(mels, htk: bool = False) -> np.ndarray:
    """Mel → Hz, inverse of :func:`hz_to_mel`."""
    m = np.asarray(mels, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    freqs = _F_SP * m
    log_region = m >= _MIN_LOG_MEL
    return np.where(log_region, _MIN_LOG_HZ * np.exp(_LOGSTEP * (m - _MIN_LOG_MEL)), freqs)


def mel_frequencies(n_mels: int = 128, fmin: float = 0.0, fmax: float = 11025.0, htk: bool = False) -> np.ndarray:
    """``n_mels`` frequencies (Hz) evenly spaced on the mel scale from ``fmin`` to ``fmax``."""
    mels = np.linspace(hz_to_mel(fmin, htk=htk), hz_to_mel(fmax, htk=htk), n_mels)
    return mel_to_hz(mels, htk=htk)


def mel_filterbank(
    sample_rate: float,
    n_fft: int,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filterbank, numpy float32 ``(n_fft // 2 + 1, n_mels)`` (= ``librosa.filters.mel(...).T``).

    Triangles have corners at ``n_mels + 2`` mel-spaced frequencies between ``fmin`` and ``fmax``
    (default ``sample_rate / 2``) Hz. ``norm="slaney"`` divides each triangle by its width in Hz
    (constant energy per band, ×2/(f[i+2] − f[i])); ``norm=None`` keeps peak height 1.
    """
    if fmax is None:
        fmax = float(sample_rate) / 2
    if norm not in ("slaney", None):
        raise UserError(f"norm must be 'slaney' or None, got {norm!r}")
    fftfreqs = np.linspace(0.0, float(sample_rate) / 2, 1 + n_fft // 2)
    mel_f = mel_frequencies(n_mels + 2, fmin=fmin, fmax=fmax, htk=htk)
    fdiff = np.diff(mel_f)
    ramps = mel_f[:, None] - fftfreqs[None, :]
    lower = -ramps[:-2] / fdiff[:-1, None]  # rising edge of triangle i
    upper = ramps[2:] / fdiff[1:, None]  # falling edge of triangle i
    weights = np.maximum(0.0, np.minimum(lower, upper))  # (n_mels, bins)
    if norm == "slaney":
        weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, None]
    return np.ascontiguousarray(weights.T.astype(np.float32))


def apply_filterbank(spec: jax.Array, filterbank) -> jax.Array:
    """``(..., frames, bins) @ (bins, n_out)`` at full float32 precision → ``(..., frames, n_out)``."""
    return jnp.matmul(spec, jnp.asarray(filterbank, dtype=spec.dtype), precision=_HIGHEST)


def melspectrogram(
    audio: jax.Array,
    sample_rate: float,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    power: float = 2.0,
    htk: bool = False,
    norm: str | None = "slaney",
    win_length: int | None = None,
    window: WindowSpec = "hann",
    center: bool = True,
    pad_mode: str = "constant",
) -> jax.Array:
    """Mel spectrogram of ``audio (..., samples)`` at ``sample_rate`` Hz → ``(..., frames, n_mels)`` float32.

    Equals ``librosa.feature.melspectrogram(y=audio, sr=sample_rate, n_fft=, hop_length=, n_mels=,
    fmin=, fmax=, power=, htk=, norm=, pad_mode=pad_mode)`` transposed over the last two axes.
    ``power=2`` gives energy, ``1`` magnitude. The default padding is librosa's (``"constant"``: zeros), so the
    default call equals librosa's default call frame for frame; ``"reflect"`` is an option.
    """
    spec = spectrogram(audio, n_fft, hop_length, win_length, window, center, pad_mode, power)
    fb = mel_filterbank(sample_rate, n_fft, n_mels, fmin, fmax, htk, norm)
    return apply_filterbank(spec, fb)
