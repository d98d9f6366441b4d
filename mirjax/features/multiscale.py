"""Multiscale time–frequency representations of Dieleman thesis §3.4 (built along time only; bins untouched):

- `gaussian_pyramid`: each level is the previous one smoothed along time with the 5-tap binomial kernel
  [1, 4, 6, 4, 1] / 16 and subsampled by 2 (Burt & Adelson; the thesis does not state the kernel, this is the
  standard one), whole-sample reflection at the edges;
- `laplacian_pyramid`: L_l = G_l − expand(G_{l+1}), top level = the Gaussian top; `reconstruct_laplacian` inverts it
  exactly;
- `multiresolution_melspectrogram`: the STFT window doubles at each level while the hop stays fixed, so every level
  has the same number of frames (Hamel et al.; the thesis's third representation).

All take and return `(…, frames, bins)` arrays and are pure, jittable JAX.
"""

from __future__ import annotations

import jax.numpy as jnp

from mirjax.errors import UserError
from mirjax.frontend import log1p_compress, melspectrogram

BINOMIAL = jnp.array([1.0, 4.0, 6.0, 4.0, 1.0]) / 16.0


def _smooth_time(x: jnp.ndarray, kernel: jnp.ndarray = BINOMIAL) -> jnp.ndarray:
    """Convolve along the frames axis (−2) with whole-sample reflection ('mirror') at both ends."""
    half = kernel.shape[0] // 2
    pad = [(0, 0)] * x.ndim
    pad[-2] = (half, half)
    xp = jnp.pad(x, pad, mode="reflect")
    frames = x.shape[-2]
    return sum(kernel[i] * xp[..., i:i + frames, :] for i in range(kernel.shape[0]))


def reduce(x: jnp.ndarray) -> jnp.ndarray:
    """One Gaussian-pyramid step: smooth, keep every other frame ((frames + 1) // 2 frames)."""
    return _smooth_time(x)[..., ::2, :]


def expand(x: jnp.ndarray, frames: int) -> jnp.ndarray:
    """Inverse-shaped step: put the frames at even positions of a `frames`-long zero sequence and smooth with
    2 × the kernel (so constants are preserved)."""
    up = jnp.zeros(x.shape[:-2] + (frames, x.shape[-1]), x.dtype).at[..., ::2, :].set(x[..., : (frames + 1) // 2, :])
    return _smooth_time(up, 2.0 * BINOMIAL)


def gaussian_pyramid(x: jnp.ndarray, levels: int = 6) -> list[jnp.ndarray]:
    """[G_0 = x, G_1, …, G_{levels−1}], each half the frames of the previous (rounded up)."""
    if levels < 1:
        raise UserError(f"levels must be ≥ 1, got {levels}")
    if x.shape[-2] < 2 ** (levels - 1) * 3:
        raise UserError(f"{x.shape[-2]} frames are too few for a {levels}-level pyramid "
                         f"(need ≥ {2 ** (levels - 1) * 3})")
    out = [jnp.asarray(x)]
    for _ in range(levels - 1):
        out.append(reduce(out[-1]))
    return out


def laplacian_pyramid(x: jnp.ndarray, levels: int = 6) -> list[jnp.ndarray]:
    """[L_0, …, L_{levels−1}] with L_l = G_l − expand(G_{l+1}) and L_top = G_top."""
    g = gaussian_pyramid(x, levels)
    return [g[i] - expand(g[i + 1], g[i].shape[-2]) for i in range(levels - 1)] + [g[-1]]


def reconstruct_laplacian(lap: list[jnp.ndarray]) -> jnp.ndarray:
    """G_0 from a Laplacian pyramid: G_l = L_l + expand(G_{l+1}), from the top down."""
    g = lap[-1]
    for level in reversed(lap[:-1]):
        g = level + expand(g, level.shape[-2])
    return g


def multiresolution_melspectrogram(audio: jnp.ndarray, sample_rate: int, n_fft: int = 1024, hop_length: int = 512,
                                   levels: int = 6, n_mels: int = 128, log_c: float = 1e4) -> list[jnp.ndarray]:
    """`levels` log-mel spectrograms (Dieleman's log(1 + C·x), C = 10⁴) with windows n_fft · 2^l and a fixed hop:
    every level has the same frames. `audio` (…, samples) → list of (…, frames, n_mels)."""
    return [log1p_compress(melspectrogram(audio, sample_rate, n_fft=n_fft * 2 ** level, hop_length=hop_length,
                                          n_mels=n_mels, pad_mode="reflect"), C=log_c)
            for level in range(levels)]
