"""Multiscale feature extraction of Dieleman thesis §3.5 (Fig. 3.2), the same pipeline at every level:

    level spectrogram (frames, 128) → windows of w frames (× h bands) → PCA whitening (99 % variance)
    → spherical K-means (K means; K = 0: the whitened components themselves, the thesis's "PCA" learner)
    → linear encoding D·W(x − μ), applied as ONE convolution over the spectrogram
    → max over frequency offsets (frequency invariance k: patches of h = bands − k + 1 bands, k offsets)
    → max over time in pooling windows of 128 frames (128 / 2^l at pyramid level l, so levels stay aligned)
    → concatenation across levels (and across layers, for feature hierarchies).

Hierarchies (§3.5.6) repeat whitening + K-means on the previous layer's (unpooled) feature maps, separately per
level: the thesis does not say how layer-2 windows are formed or whether pooling happens between layers; we use
windows of the same w frames over the layer-1 maps and no pooling between layers (so every layer is still a
linear function of the spectrogram followed by the final max-pooling, as the thesis notes).

Everything that touches a spectrogram is jitted JAX, batched over clips; fitting uses `num_samples` randomly
sampled windows of the training clips (all of them when there are fewer).
"""

from __future__ import annotations

import dataclasses
import functools
import logging
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.features.kmeans import spherical_kmeans
from mirjax.features.multiscale import gaussian_pyramid, laplacian_pyramid, multiresolution_melspectrogram
from mirjax.features.whitening import apply_whitening, fit_pca_whitening
from mirjax.frontend import log1p_compress, melspectrogram

log = logging.getLogger("mirjax")


@dataclasses.dataclass(frozen=True)
class Spec:
    """One architecture of the §3.6 grid plus the §3.5.5/§3.5.6 extensions (`features` config section)."""
    representation: str = "laplacian"  # gaussian | laplacian | multires
    levels: int = 6
    window: int = 1  # frames per window: 1, 2 or 4
    num_means: int = 500  # 200 / 500 / 1000; 0 = PCA whitening only
    pca_variance: float = 0.99
    pca_epsilon: float = 0.0
    num_samples: int = 100_000  # windows sampled to fit PCA and K-means (per level and layer)
    kmeans_iters: int = 10
    pool_frames: int = 128  # pooling window at level 0
    freq_invariance: int = 1  # frequency offsets max-pooled over (1 = none; thesis sweeps 1–32)
    layers: int = 1  # feature hierarchy depth (thesis: 3)
    # front-end of the level-0 spectrogram (§3.5.1): 1024 / 512, 128 mel bands, log(1 + 10⁴ x)
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 128
    log_c: float = 1e4

    def __post_init__(self):
        if self.representation not in REPRESENTATIONS:
            raise UserError(f"unknown features.representation '{self.representation}'; "
                             f"valid: {', '.join(REPRESENTATIONS)}")
        for key, lo in (("levels", 1), ("window", 1), ("num_means", 0), ("num_samples", 2), ("kmeans_iters", 1),
                        ("pool_frames", 1), ("freq_invariance", 1), ("layers", 1)):
            if getattr(self, key) < lo:
                raise UserError(f"features.{key} must be ≥ {lo}, got {getattr(self, key)}")
        if self.freq_invariance > self.n_mels:
            raise UserError(f"features.freq_invariance={self.freq_invariance} exceeds the {self.n_mels} mel bands")

    def pool_size(self, level: int) -> int:
        """Pooling-window frames at `level`: fixed for multiresolution spectrograms (same hop at every level),
        halved per level for the pyramids."""
        return self.pool_frames if self.representation == "multires" else max(1, self.pool_frames >> level)


# --- representations: audio (clips, samples) → [level (clips, frames_l, bands)] ----------------------------------

def _logmel(audio, sample_rate, spec: Spec, n_fft=None):
    return log1p_compress(melspectrogram(audio, sample_rate, n_fft=n_fft or spec.n_fft, hop_length=spec.hop_length,
                                         n_mels=spec.n_mels, pad_mode="reflect"), C=spec.log_c)


REPRESENTATIONS: dict[str, Callable] = {
    "gaussian": lambda audio, sr, spec: gaussian_pyramid(_logmel(audio, sr, spec), spec.levels),
    "laplacian": lambda audio, sr, spec: laplacian_pyramid(_logmel(audio, sr, spec), spec.levels),
    "multires": lambda audio, sr, spec: multiresolution_melspectrogram(
        audio, sr, n_fft=spec.n_fft, hop_length=spec.hop_length, levels=spec.levels, n_mels=spec.n_mels,
        log_c=spec.log_c),
}


def compute_levels(audio: np.ndarray, sample_rate: int, spec: Spec, batch: int = 32) -> list[np.ndarray]:
    """All levels of `spec.representation` for every clip, computed on the accelerator in batches."""
    fn = jax.jit(lambda a: REPRESENTATIONS[spec.representation](a, sample_rate, spec))
    out: list[list[np.ndarray]] = []
    for i in range(0, audio.shape[0], batch):
        chunk = audio[i:i + batch]
        short = batch - chunk.shape[0]
        if short and i:  # keep one compiled shape: pad the last batch
            chunk = np.concatenate([chunk, np.zeros((short,) + chunk.shape[1:], chunk.dtype)])
        levels = fn(chunk)
        out.append([np.asarray(x)[:batch - short] for x in levels])
    return [np.concatenate([b[level] for b in out]) for level in range(spec.levels)]


# --- one dictionary: whitening + K-means as one affine map ------------------------------------------------------

@dataclasses.dataclass
class Dictionary:
    """Whitening + encoding of (window × height) patches: features = (patch − mean) @ kernel."""
    mean: np.ndarray  # (window·height,)
    kernel: np.ndarray  # (window·height, K)
    window: int
    height: int
    explained_variance: np.ndarray  # PCA eigenvalues kept

    @property
    def num_features(self) -> int:
        return int(self.kernel.shape[1])

    def conv_params(self) -> tuple[jax.Array, jax.Array]:
        """The affine map as a (window, height, 1, K) conv kernel and a (K,) bias."""
        k = jnp.asarray(self.kernel, jnp.float32)
        return k.reshape(self.window, self.height, 1, -1), -jnp.asarray(self.mean, jnp.float32) @ k


def sample_patches(x: np.ndarray, window: int, height: int, n: int, rng: np.random.Generator) -> np.ndarray:
    """`n` random (window × height) patches of x (clips, frames, bands), flattened time-major; all of them, in
    order, when there are no more than `n`."""
    clips, frames, bands = x.shape
    nt, nf = frames - window + 1, bands - height + 1
    if nt < 1 or nf < 1:
        raise UserError(f"{frames} frames × {bands} bands are too few for {window}-frame × {height}-band windows")
    total = clips * nt * nf
    flat = np.arange(total) if total <= n else np.sort(rng.choice(total, size=n, replace=False))
    c, rem = np.divmod(flat, nt * nf)
    t, f = np.divmod(rem, nf)
    rows = (t[:, None, None] + np.arange(window)[None, :, None])
    cols = (f[:, None, None] + np.arange(height)[None, None, :])
    return x[c[:, None, None], rows, cols].reshape(len(flat), window * height)


def fit_dictionary(patches: np.ndarray, num_means: int, key: jax.Array, variance: float = 0.99,
                   epsilon: float = 0.0, iters: int = 10, window: int = 1, height: int | None = None) -> Dictionary:
    """PCA whitening on the patches, then spherical K-means on the whitened patches (num_means = 0: PCA only)."""
    height = height or patches.shape[1] // window
    w = fit_pca_whitening(patches, variance, epsilon)
    kernel = w.matrix
    if num_means:
        centroids = spherical_kmeans(apply_whitening(w, patches), num_means, key=key, num_iters=iters)
        kernel = w.matrix @ centroids.T
    return Dictionary(mean=np.asarray(w.mean), kernel=np.asarray(kernel), window=window, height=height,
                      explained_variance=np.asarray(w.explained_variance))


@jax.jit
def encode_map(x: jax.Array, kernel: jax.Array, bias: jax.Array) -> jax.Array:
    """(clips, frames, bands) → (clips, frames − w + 1, K): the affine map at every window position (one
    convolution), max over the bands − h + 1 frequency offsets."""
    y = jax.lax.conv_general_dilated(x[..., None], kernel, (1, 1), "VALID",
                                     dimension_numbers=("NHWC", "HWIO", "NHWC"))
    return jnp.max(y, axis=2) + bias


@functools.partial(jax.jit, static_argnames=("size", "num_windows"))
def pool_time(features: jax.Array, size: int, num_windows: int) -> jax.Array:
    """Max over `num_windows` consecutive windows of `size` frames: (clips, frames, K) → (clips, windows, K).
    Frames beyond the last window are dropped; a map too short for them is edge-padded (the last windows
    then pool what there is)."""
    need = size * num_windows
    frames = features.shape[1]
    if frames < need:
        features = jnp.pad(features, ((0, 0), (0, need - frames), (0, 0)), mode="edge")
    return features[:, :need].reshape(features.shape[0], num_windows, size, -1).max(axis=2)


def num_windows(frames: int, pool_frames: int) -> int:
    """Pooling windows per clip: whole 128-frame windows of the level-0 spectrogram, at least one."""
    return max(1, frames // pool_frames)


# --- the learner: dictionaries for every (layer, level) ---------------------------------------------------------

@dataclasses.dataclass
class Block:
    layer: int
    level: int
    start: int
    stop: int


def select_columns(blocks: Sequence[Block], levels: Sequence[int] | None = None,
                   layers: Sequence[int] | None = None) -> np.ndarray:
    """Feature column indices of the blocks of the given levels / layers (None = all)."""
    idx = [np.arange(b.start, b.stop) for b in blocks
           if (levels is None or b.level in levels) and (layers is None or b.layer in layers)]
    if not idx:
        raise UserError(f"no feature blocks for levels {levels} / layers {layers}")
    return np.concatenate(idx)


class Extractor:
    """Fitted dictionaries[layer][level]; `transform` maps level spectrograms to pooled feature vectors."""

    def __init__(self, spec: Spec, dictionaries: list[list[Dictionary]]):
        self.spec, self.dictionaries = spec, dictionaries
        self.blocks: list[Block] = []
        start = 0
        for layer, row in enumerate(dictionaries):
            for level, d in enumerate(row):
                self.blocks.append(Block(layer, level, start, start + d.num_features))
                start += d.num_features
        self.num_features = start

    @classmethod
    def fit(cls, levels: Sequence[np.ndarray], spec: Spec, seed: int = 0, batch: int = 32,
            progress: Callable | None = None) -> Extractor:
        rng = np.random.default_rng(seed)
        key = jax.random.PRNGKey(seed)
        dictionaries: list[list[Dictionary]] = [[] for _ in range(spec.layers)]
        for level, x in enumerate(levels):
            for layer in range(spec.layers):
                height = x.shape[2] - spec.freq_invariance + 1 if layer == 0 else x.shape[2]
                key, sub = jax.random.split(key)
                d = fit_dictionary(sample_patches(x, spec.window, height, spec.num_samples, rng), spec.num_means,
                                   sub, spec.pca_variance, spec.pca_epsilon, spec.kmeans_iters, spec.window, height)
                dictionaries[layer].append(d)
                if progress:
                    progress(f"level {level} layer {layer + 1}: {d.kernel.shape[0]} dims → "
                             f"{d.explained_variance.shape[0]} components → {d.num_features} features")
                if layer + 1 < spec.layers:
                    x = _encode_all(x, d, batch)
        return cls(spec, dictionaries)

    def transform(self, levels: Sequence[np.ndarray], batch: int = 32) -> np.ndarray:
        """(clips, windows, features): every layer's and level's pooled features, concatenated."""
        n_win = num_windows(levels[0].shape[1], self.spec.pool_frames)
        clips = levels[0].shape[0]
        out = np.zeros((clips, n_win, self.num_features), np.float32)
        for level, x in enumerate(levels):
            size = self.spec.pool_size(level)
            for i in range(0, clips, batch):
                y = jnp.asarray(x[i:i + batch])
                for layer, row in enumerate(self.dictionaries):
                    y = encode_map(y, *row[level].conv_params())
                    b = next(b for b in self.blocks if b.layer == layer and b.level == level)
                    out[i:i + batch, :, b.start:b.stop] = np.asarray(pool_time(y, size, n_win))
        return out

    def select(self, levels: Sequence[int] | None = None, layers: Sequence[int] | None = None) -> np.ndarray:
        """Column indices of the blocks of the given levels / layers (None = all)."""
        return select_columns(self.blocks, levels, layers)

    def save(self, path: str) -> None:
        arrays = {}
        for layer, row in enumerate(self.dictionaries):
            for level, d in enumerate(row):
                arrays[f"L{layer}_{level}_mean"] = d.mean
                arrays[f"L{layer}_{level}_kernel"] = d.kernel
                arrays[f"L{layer}_{level}_eig"] = d.explained_variance
                arrays[f"L{layer}_{level}_shape"] = np.array([d.window, d.height])
        np.savez(path, **arrays)


def _encode_all(x: np.ndarray, d: Dictionary, batch: int) -> np.ndarray:
    kernel, bias = d.conv_params()
    return np.concatenate([np.asarray(encode_map(jnp.asarray(x[i:i + batch]), kernel, bias))
                           for i in range(0, x.shape[0], batch)])
