"""MFCCs and Savitzky–Golay deltas, matching ``librosa.feature.mfcc`` / ``librosa.feature.delta``.

Layout: ``(..., frames, coefficients)`` — librosa's ``(n_mfcc, frames)`` transposed.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.frontend.compression import power_to_db
from mirjax.frontend.spectral import WindowSpec, melspectrogram

_HIGHEST = jax.lax.Precision.HIGHEST


def dct_matrix(n_in: int, n_out: int, norm: str | None = "ortho") -> np.ndarray:
    """DCT-II as a numpy float32 matrix ``(n_in, n_out)``: ``y = x @ M`` equals
    ``scipy.fft.dct(x, type=2, norm=norm)[..., :n_out]``."""
    n = np.arange(n_in)[:, None]
    k = np.arange(n_out)[None, :]
    m = 2.0 * np.cos(np.pi * k * (2 * n + 1) / (2.0 * n_in))
    if norm == "ortho":
        scale = np.full(n_out, math.sqrt(1.0 / (2.0 * n_in)))
        scale[0] = math.sqrt(1.0 / (4.0 * n_in))
        m = m * scale[None, :]
    elif norm is not None:
        raise UserError(f"norm must be 'ortho' or None, got {norm!r}")
    return m.astype(np.float32)


def mfcc_from_db(S_db: jax.Array, n_mfcc: int = 20, norm: str | None = "ortho", lifter: float = 0.0) -> jax.Array:
    """Log-mel ``(..., frames, n_mels)`` in dB → MFCC ``(..., frames, n_mfcc)`` via DCT-II (+ optional liftering)."""
    n_mels = S_db.shape[-1]
    if n_mfcc > n_mels:
        raise UserError(f"n_mfcc={n_mfcc} > n_mels={n_mels}")
    M = jnp.matmul(S_db, jnp.asarray(dct_matrix(n_mels, n_mfcc, norm)), precision=_HIGHEST)
    if lifter > 0:
        # librosa: M[n] *= 1 + (lifter / 2) sin(pi (n + 1) / lifter)
        lift = 1.0 + (lifter / 2.0) * np.sin(np.pi * np.arange(1, n_mfcc + 1) / lifter)
        M = M * jnp.asarray(lift, dtype=M.dtype)
    elif lifter < 0:
        raise UserError("lifter must be a non-negative number")
    return M


def mfcc(
    audio: jax.Array,
    sample_rate: float,
    n_mfcc: int = 20,
    n_fft: int = 2048,
    hop_length: int = 512,
    n_mels: int = 128,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    mel_norm: str | None = "slaney",
    power: float = 2.0,
    top_db: float | None = 80.0,
    norm: str | None = "ortho",
    lifter: float = 0.0,
    window: WindowSpec = "hann",
    pad_mode: str = "constant",
) -> jax.Array:
    """MFCCs of ``audio (..., samples)`` at ``sample_rate`` Hz → ``(..., frames, n_mfcc)`` float32.

    = ``librosa.feature.mfcc(y=, sr=, n_mfcc=, n_fft=, hop_length=, n_mels=, ...).T``: DCT-II
    (``norm="ortho"``) of ``power_to_db(melspectrogram)`` (ref 1, amin 1e-10). ``top_db`` is applied
    per example (librosa applies it over the whole input array; identical for a single clip).
    """
    S = melspectrogram(
        audio, sample_rate, n_fft=n_fft, hop_length=hop_length, n_mels=n_mels, fmin=fmin, fmax=fmax,
        power=power, htk=htk, norm=mel_norm, window=window, pad_mode=pad_mode,
    )
    return mfcc_from_db(power_to_db(S, top_db=top_db), n_mfcc=n_mfcc, norm=norm, lifter=lifter)


def _savgol_edge_matrices(width: int, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear maps of scipy's ``savgol_filter(..., deriv=order, polyorder=order, mode='interp')``.

    Least-squares polynomial of degree ``order`` fitted to ``width`` samples, ``order``-th
    derivative evaluated (a) at the window centre → interior FIR taps ``(width,)``, (b) at the
    first / last ``width // 2`` positions of the window → edge matrices ``(width // 2, width)``
    applied to the first / last ``width`` samples (scipy's ``_fit_edges_polyfit``).
    """
    half = width // 2
    pos = np.arange(width, dtype=np.float64) - half  # centred positions: better conditioned
    V = pos[:, None] ** np.arange(order + 1)[None, :]  # (width, order+1)
    coef_map = np.linalg.pinv(V)  # (order+1, width): samples → polynomial coefficients

    def deriv_rows(x):
        # d^order/dx^order of sum_k c_k x^k = sum_{k>=order} c_k k!/(k-order)! x^(k-order)
        k = np.arange(order + 1)
        fall = np.array([math.factorial(kk) / math.factorial(kk - order) if kk >= order else 0.0 for kk in k])
        expo = np.maximum(k - order, 0)
        return fall[None, :] * x[:, None] ** expo[None, :]

    taps = (deriv_rows(np.array([0.0])) @ coef_map)[0]
    left = deriv_rows(pos[:half]) @ coef_map
    right = deriv_rows(pos[width - half :]) @ coef_map
    return taps.astype(np.float32), left.astype(np.float32), right.astype(np.float32)


def delta(x: jax.Array, width: int = 9, order: int = 1, axis: int = -2) -> jax.Array:
    """Local ``order``-th derivative along ``axis`` (default frames), = ``librosa.feature.delta(mode='interp')``.

    Savitzky–Golay filter of ``width`` (odd, ≥ 3) frames with polynomial order ``order``; the first and
    last ``width // 2`` outputs come from a polynomial fitted to the first / last ``width`` frames,
    exactly as scipy's ``mode='interp'``. Needs at least ``width`` frames.
    """
    if width < 3 or width % 2 != 1:
        raise UserError(f"width must be an odd integer >= 3, got {width}")
    if not isinstance(order, int) or order <= 0:
        raise UserError(f"order must be a positive integer, got {order}")
    x = jnp.moveaxis(jnp.asarray(x), axis, -1)
    n = x.shape[-1]
    if width > n:
        raise UserError(f"width={width} cannot exceed the length {n} of the delta axis (mode='interp')")
    taps, left, right = _savgol_edge_matrices(width, order)
    half = width // 2
    m = n - 2 * half
    # Interior: FIR with `width` taps as shifted slices (XLA fuses them into one loop).
    interior = sum(float(taps[j]) * x[..., j : j + m] for j in range(width))
    head = jnp.einsum("...w,iw->...i", x[..., :width], jnp.asarray(left), precision=_HIGHEST)
    tail = jnp.einsum("...w,iw->...i", x[..., n - width :], jnp.asarray(right), precision=_HIGHEST)
    out = jnp.concatenate([head, interior, tail], axis=-1)
    return jnp.moveaxis(out, -1, axis)


def mfcc_with_deltas(audio: jax.Array, sample_rate: float, n_mfcc: int = 13, width: int = 9,
                     **mfcc_kwargs) -> jax.Array:
    """``[MFCC, Δ, ΔΔ]`` concatenated on the last axis → ``(..., frames, 3 * n_mfcc)``; deltas along frames."""
    M = mfcc(audio, sample_rate, n_mfcc=n_mfcc, **mfcc_kwargs)
    return jnp.concatenate([M, delta(M, width=width, order=1), delta(M, width=width, order=2)], axis=-1)
