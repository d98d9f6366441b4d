"""musicnn's log-mel front-end (Pons & Serra's pretrained taggers, ``mirjax.models.musicnn``), and its patching.

musicnn computes ``librosa.feature.melspectrogram(y, sr=16000, hop_length=256, n_fft=512, n_mels=96)`` — power 2,
Slaney mel scale and area norm, Hann window, centred frames — casts it to float16 (its training data was stored
as float16) and compresses with ``log10(10000·x + 1)``.

Two deliberate differences from running musicnn's own ``batch_data`` today:

* NumPy ≥ 2 (NEP 50) keeps ``10000 * float16_array`` in float16, which overflows to ``inf`` for any mel energy
  above ≈ 6.55. We reproduce the intended arithmetic: the float16 *rounding* of the mel energies is kept (the
  models were trained on it), the compression is done in float32.
* librosa ≥ 0.10 pads the centred frames at the clip's edges with zeros; the librosa of 2019 that made the
  training data reflected. ``pad_mode="reflect"`` (the default, as for every mirjax front-end) follows the
  training data; ``"constant"`` matches musicnn run under a current librosa. Only the first and last frame differ.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from mirjax.errors import UserError
from mirjax.frontend.compression import log10_compress
from mirjax.frontend.registry import Frontend, register
from mirjax.frontend.spectral import melspectrogram

SAMPLE_RATE = 16000
N_FFT = 512
HOP_LENGTH = 256
N_MELS = 96
PATCH_FRAMES = 187  # 3 s: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1


@register("musicnn_logmel")
def musicnn_logmel(sample_rate: int = SAMPLE_RATE, pad_mode: str = "reflect", float16: bool = True) -> Frontend:
    """musicnn's log-mel: ``(batch, samples)`` at 16 kHz → ``(batch, frames, 96)``, frames = samples // 256 + 1.

    ``float16``: round the mel energies to float16 before the compression, as musicnn does (the pretrained
    models saw that rounding). ``sample_rate`` must be 16000 (the models' rate); it is accepted so that a config
    can name it."""
    if sample_rate != SAMPLE_RATE:
        raise UserError(f"musicnn_logmel takes {SAMPLE_RATE} Hz audio (resample first); got sample_rate={sample_rate}")
    if pad_mode not in ("reflect", "constant"):
        raise UserError(f"musicnn_logmel: pad_mode must be 'reflect' or 'constant'; got {pad_mode!r}")

    def fn(audio: jax.Array) -> jax.Array:
        S = melspectrogram(audio, SAMPLE_RATE, n_fft=N_FFT, hop_length=HOP_LENGTH, n_mels=N_MELS, power=2.0,
                           htk=False, norm="slaney", pad_mode=pad_mode)
        if float16:
            S = S.astype(jnp.float16).astype(jnp.float32)
        return log10_compress(S, C=1e4)

    return fn


def patches(features: jax.Array, n_frames: int = PATCH_FRAMES, hop: int | None = None) -> jax.Array:
    """Cut ``(…, frames, bins)`` into musicnn's patches ``(…, n_patches, n_frames, bins)``.

    As musicnn's ``batch_data``: patches start at ``0, hop, 2·hop, …`` (``hop`` defaults to ``n_frames``: no
    overlap) while a whole patch fits; a tail shorter than a patch is dropped. Fewer than ``n_frames`` frames
    (a clip under 3 s) → UserError."""
    hop = n_frames if hop is None else hop
    if hop < 1:
        raise UserError(f"patch hop must be ≥ 1 frame; got {hop}")
    total = features.shape[-2]
    if total < n_frames:
        raise UserError(f"a musicnn patch needs {n_frames} frames ({n_frames * HOP_LENGTH / SAMPLE_RATE:.1f} s); "
                        f"got {total}")
    starts = range(0, total - n_frames + 1, hop)
    return jnp.stack([features[..., s:s + n_frames, :] for s in starts], axis=-3)


__all__ = ["musicnn_logmel", "patches", "PATCH_FRAMES", "SAMPLE_RATE", "N_FFT", "HOP_LENGTH", "N_MELS"]
