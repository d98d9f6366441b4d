"""Audio words (Zhang et al., ICMR'15, §3 and §4.2): frame features → segments of F frames → PCA whitening →
K-means codebook → one word index per segment.

Frame features, all from one STFT (paper: 22,050 Hz mono, frame 1,024, hop 512 = 50 %):

* `mel`: log mel spectrogram, log(mel power + 1e-6), `n_mels` bands (paper: MIR toolbox; 40 bands here).
* `sfm`: spectral flatness per sub-band, geometric mean / arithmetic mean of the power spectrum's bins in the band
  (paper: Marsyas' definition). 1 for a flat spectrum, → 0 for a pure tone; a frame of white noise gives
  ≈ e^(−γ) ≈ 0.56 in expectation (its periodogram bins are exponentially distributed).
* `scf`: spectral crest factor per sub-band, peak amplitude / RMS amplitude of the band's bins,
  max|X| / sqrt(mean |X|²) (≥ 1; = 1 for a flat spectrum, = sqrt(bins) for a single bin).

Sub-band layout (the paper does not state it; ours): `n_bands` = 12 bands with log-spaced edges from 250 Hz to
the Nyquist frequency (≈ 0.45 octave each at 22,050 Hz), rounded to FFT bins, each at least `min_bins` = 4 bins
wide (a band too narrow in the bass is widened upwards) — so a flatness is never taken over one or two bins.

Segments: F consecutive frames concatenated (frame-major: [frame t dims…, frame t+1 dims…]), hop F (no overlap;
the paper's s_1…s_n). Codebook: PCA whitening (`mirjax.features.whitening`) then Euclidean K-means
(`mirjax.features.kmeans.kmeans`, k-means++ start) on the whitened segments of the training items only; words are
nearest-centroid indices. "ALL" = one codebook per feature type (`Vocabulary` with three codebooks), words stacked
per position: (segments, feature types).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.features import kmeans as km
from mirjax.features.whitening import Whitening, apply_whitening, fit_pca_whitening
from mirjax.frontend import spectral

FEATURE_TYPES = ("mel", "sfm", "scf")
_EPS = 1e-10


@dataclasses.dataclass(frozen=True)
class FrameConfig:
    """Frame-feature settings (paper §4.2 where stated; bands ours, see module docstring)."""
    sample_rate: int = 22050
    n_fft: int = 1024
    hop_length: int = 512
    n_mels: int = 40
    n_bands: int = 12
    band_fmin: float = 250.0
    min_bins: int = 4


def band_edges(sample_rate: int, n_fft: int, n_bands: int = 12, fmin: float = 250.0, min_bins: int = 4) -> np.ndarray:
    """(n_bands + 1,) FFT-bin edges: band b is bins [edges[b], edges[b+1]). Log-spaced in Hz from `fmin` to the
    Nyquist frequency, each band ≥ `min_bins` bins (narrower ones widened upwards, later edges pushed along)."""
    num_bins = n_fft // 2 + 1
    hz = np.geomspace(fmin, sample_rate / 2, n_bands + 1)
    edges = np.round(hz * n_fft / sample_rate).astype(int)
    for b in range(1, n_bands + 1):
        edges[b] = max(edges[b], edges[b - 1] + min_bins)
    edges[-1] = max(edges[-1], edges[-2] + 1)
    if edges[-1] > num_bins:
        raise UserError(f"{n_bands} bands of ≥ {min_bins} bins from {fmin} Hz do not fit in {num_bins} FFT bins; "
                        f"lower n_bands or min_bins")
    return edges


def _band_matrix(edges: np.ndarray, num_bins: int) -> np.ndarray:
    """(bins, bands) averaging matrix: column b = 1/width on the band's bins."""
    m = np.zeros((num_bins, len(edges) - 1), np.float32)
    for b in range(len(edges) - 1):
        m[edges[b]:edges[b + 1], b] = 1.0 / (edges[b + 1] - edges[b])
    return m


def spectral_flatness(power: jax.Array, edges: np.ndarray) -> jax.Array:
    """Per-band SFM of a power spectrogram (..., frames, bins) → (..., frames, bands): exp(mean log P) / mean P."""
    m = jnp.asarray(_band_matrix(edges, power.shape[-1]))
    hp = jax.lax.Precision.HIGHEST
    geo = jnp.exp(jnp.matmul(jnp.log(power + _EPS), m, precision=hp))
    return geo / (jnp.matmul(power, m, precision=hp) + _EPS)


def spectral_crest(power: jax.Array, edges: np.ndarray) -> jax.Array:
    """Per-band SCF of a power spectrogram (..., frames, bins) → (..., frames, bands): peak amplitude / RMS
    amplitude = sqrt(max P / mean P)."""
    m = jnp.asarray(_band_matrix(edges, power.shape[-1]))
    mean = jnp.matmul(power, m, precision=jax.lax.Precision.HIGHEST)
    peak = jnp.stack([power[..., edges[b]:edges[b + 1]].max(axis=-1) for b in range(len(edges) - 1)], axis=-1)
    return jnp.sqrt((peak + _EPS) / (mean + _EPS))


def _log_mel(power: jax.Array, cfg: FrameConfig) -> jax.Array:
    fb = spectral.mel_filterbank(cfg.sample_rate, cfg.n_fft, cfg.n_mels)
    return jnp.log(spectral.apply_filterbank(power, fb) + 1e-6)


def _edges(cfg: FrameConfig) -> np.ndarray:
    return band_edges(cfg.sample_rate, cfg.n_fft, cfg.n_bands, cfg.band_fmin, cfg.min_bins)


# feature type → (power spectrogram (…, frames, bins), config) → (…, frames, dims)
FRAME_FEATURES: dict[str, Callable[[jax.Array, FrameConfig], jax.Array]] = {
    "mel": _log_mel,
    "sfm": lambda p, cfg: spectral_flatness(p, _edges(cfg)),
    "scf": lambda p, cfg: spectral_crest(p, _edges(cfg)),
}


def check_types(types: Sequence[str]) -> tuple[str, ...]:
    unknown = [t for t in types if t not in FRAME_FEATURES]
    if unknown or not types:
        raise UserError(f"unknown frame feature(s) {', '.join(unknown) or '(none)'}; "
                        f"valid: {', '.join(FRAME_FEATURES)}")
    return tuple(types)


def frame_features(audio: np.ndarray, cfg: FrameConfig = FrameConfig(),
                   types: Sequence[str] = FEATURE_TYPES) -> dict[str, np.ndarray]:
    """Mono audio (samples,) at cfg.sample_rate → {type: (frames, dims) float32}, one STFT for all types."""
    audio = np.asarray(audio, np.float32)
    if audio.ndim != 1 or audio.shape[0] < cfg.n_fft:
        raise UserError(f"frame_features needs mono audio of ≥ {cfg.n_fft} samples, got shape {audio.shape}")
    power = spectral.spectrogram(audio, n_fft=cfg.n_fft, hop_length=cfg.hop_length)  # (frames, bins)
    return {t: np.asarray(FRAME_FEATURES[t](power, cfg)) for t in check_types(types)}


def segments(frames: np.ndarray, frames_per_segment: int, hop: int | None = None) -> np.ndarray:
    """(frames, dims) → (segments, F·dims): F consecutive frames concatenated, frame-major, every `hop` frames
    (default F: no overlap). A clip shorter than F frames gives one segment of its frames padded by repeating the
    last frame."""
    f = int(frames_per_segment)
    hop = int(hop or f)
    frames = np.asarray(frames, np.float32)
    if frames.shape[0] < f:
        frames = np.concatenate([frames, np.repeat(frames[-1:], f - frames.shape[0], axis=0)])
    starts = np.arange(0, frames.shape[0] - f + 1, hop)
    return frames[starts[:, None] + np.arange(f)].reshape(len(starts), -1)


@dataclasses.dataclass(frozen=True)
class Codebook:
    """One feature type's audio words: whitening + (num_words, components) centroids in the whitened space."""
    whitening: Whitening
    centroids: np.ndarray

    @property
    def num_words(self) -> int:
        return int(self.centroids.shape[0])

    @property
    def dims(self) -> int:
        return int(self.centroids.shape[1])


def fit_codebook(segs: np.ndarray, num_words: int, seed: int = 0, variance: float = 0.95, epsilon: float = 1e-2,
                 num_iters: int = 20, max_samples: int = 20000) -> Codebook:
    """PCA whitening (keeping `variance`, eigenvalue floor `epsilon` relative to the largest) and K-means with
    `num_words` means, fitted on ≤ `max_samples` rows (drawn with `seed`) of the training segments (N, D)."""
    segs = np.asarray(segs, np.float32)
    rng = np.random.default_rng(seed)
    if segs.shape[0] > max_samples:
        segs = segs[rng.choice(segs.shape[0], max_samples, replace=False)]
    if segs.shape[0] < num_words:
        raise UserError(f"fit_codebook: {segs.shape[0]} segments for {num_words} words; use fewer words")
    # Scale the floor to the data: the spectra of different feature types differ by orders of magnitude.
    top = float(np.linalg.eigvalsh(np.cov(segs, rowvar=False)).max())
    w = fit_pca_whitening(segs, variance=variance, epsilon=epsilon * top)
    x = apply_whitening(w, segs)
    centroids = km.kmeans(x, num_words, key=jax.random.PRNGKey(seed), num_iters=num_iters)
    return Codebook(w, np.asarray(centroids))


def whiten(cb: Codebook, segs: np.ndarray) -> np.ndarray:
    """(N, D) segments → (N, components) whitened."""
    return np.asarray(apply_whitening(cb.whitening, segs))


def encode_words(cb: Codebook, segs: np.ndarray) -> np.ndarray:
    """(N, D) segments → (N,) int32 nearest-centroid word indices (`kmeans.assign`: memory-bounded chunks)."""
    return np.asarray(km.assign(jnp.asarray(cb.centroids), apply_whitening(cb.whitening, segs)), np.int32)


def word_indices(cb: Codebook, segs: jax.Array) -> jax.Array:
    """`encode_words` as a jittable (…, D) → (…,) for a front-end: the same whitening and nearest-centroid rule
    (`kmeans.nearest`), without chunking."""
    return km.nearest(cb.centroids, apply_whitening(cb.whitening, segs))


@dataclasses.dataclass(frozen=True)
class Vocabulary:
    """One codebook per feature type, in order ("ALL" = mel, sfm, scf); or one joint codebook over the
    concatenated segment vectors (`joint=True`, the paper's other reading of "ALL")."""
    types: tuple[str, ...]
    codebooks: tuple[Codebook, ...]
    joint: bool = False

    def encode(self, segs_by_type: dict[str, np.ndarray]) -> np.ndarray:
        """{type: (N, D_type)} → (N, tables) int32 words."""
        if self.joint:
            return encode_words(self.codebooks[0], joint_segments(segs_by_type, self.types))[:, None]
        return np.stack([encode_words(cb, segs_by_type[t]) for t, cb in zip(self.types, self.codebooks)], axis=1)

    def whitened(self, segs_by_type: dict[str, np.ndarray]) -> np.ndarray:
        """{type: (N, D_type)} → (N, Σ components): the whitened segments concatenated (the baselines' input)."""
        if self.joint:
            return whiten(self.codebooks[0], joint_segments(segs_by_type, self.types))
        return np.concatenate([whiten(cb, segs_by_type[t]) for t, cb in zip(self.types, self.codebooks)], axis=1)


def joint_segments(segs_by_type: dict[str, np.ndarray], types: Sequence[str]) -> np.ndarray:
    return np.concatenate([segs_by_type[t] for t in types], axis=1)


def fit_vocabulary(train_segs: dict[str, np.ndarray], types: Sequence[str], num_words: int, seed: int = 0,
                   joint: bool = False, **kw) -> Vocabulary:
    """Codebooks of `types` from the training segments {type: (N, D_type)} (same N per type)."""
    types = check_types(types)
    if joint:
        return Vocabulary(types, (fit_codebook(joint_segments(train_segs, types), num_words, seed, **kw),), True)
    return Vocabulary(types, tuple(fit_codebook(train_segs[t], num_words, seed + i, **kw)
                                   for i, t in enumerate(types)))


# --- a vocabulary on disk, and words computed from audio in one jittable function (the `audio_words` front-end) ---

VOCABULARY_FORMAT = 1


def save_vocabulary(path: str, vocab: Vocabulary, cfg: FrameConfig, frames_per_segment: int) -> None:
    """One .npz with everything needed to turn audio into words: the frame settings, F, the types, and per
    codebook i its whitening (`mean_i`, `matrix_i`, `explained_variance_i`) and `centroids_i` (num_words,
    components) — the keys `mirjax.models.kcnn.load_centroids` reads to start the lookup tables."""
    arrays = {"format": VOCABULARY_FORMAT, "types": np.array(vocab.types), "joint": vocab.joint,
              "frames_per_segment": int(frames_per_segment),
              **{f"frame_{k}": v for k, v in dataclasses.asdict(cfg).items()}}
    for i, cb in enumerate(vocab.codebooks):
        arrays.update({f"mean_{i}": np.asarray(cb.whitening.mean), f"matrix_{i}": np.asarray(cb.whitening.matrix),
                       f"explained_variance_{i}": np.asarray(cb.whitening.explained_variance),
                       f"centroids_{i}": np.asarray(cb.centroids)})
    tmp = path + ".tmp.npz"
    np.savez(tmp, **arrays)
    os.replace(tmp, path)


def load_vocabulary(path: str) -> tuple[Vocabulary, FrameConfig, int]:
    """(vocabulary, frame settings, F) from `save_vocabulary`'s file; a missing or foreign file is a UserError."""
    if not os.path.isfile(path):
        raise UserError(f"no audio-word vocabulary at {path} (fit one first: mirjax words --config … --out {path})")
    try:
        z = np.load(path)
        if int(z["format"]) != VOCABULARY_FORMAT:
            raise UserError(f"{path}: vocabulary format {int(z['format'])}, this mirjax reads {VOCABULARY_FORMAT}")
        types = tuple(str(t) for t in z["types"])
        joint = bool(z["joint"])
        cfg = FrameConfig(**{f.name: (float if f.type == "float" else int)(z[f"frame_{f.name}"])
                             for f in dataclasses.fields(FrameConfig)})
        books = tuple(Codebook(Whitening(jnp.asarray(z[f"mean_{i}"]), jnp.asarray(z[f"matrix_{i}"]),
                                         jnp.asarray(z[f"explained_variance_{i}"])), np.asarray(z[f"centroids_{i}"]))
                      for i in range(1 if joint else len(types)))
        return Vocabulary(check_types(types), books, joint), cfg, int(z["frames_per_segment"])
    except (KeyError, ValueError, OSError) as e:
        raise UserError(f"{path} is not an audio-word vocabulary ({type(e).__name__}: {e})") from None


def words_from_audio(vocab: Vocabulary, cfg: FrameConfig, frames_per_segment: int
                     ) -> Callable[[jax.Array], jax.Array]:
    """A pure, jittable (…, samples) float audio → (…, positions, tables) int32 words: the same STFT, frame
    features, F-frame segments (no overlap, the incomplete last segment dropped), whitening and nearest centroid
    as `frame_features` → `segments` → `Vocabulary.encode`, on the accelerator."""
    f = int(frames_per_segment)

    def segs(frames: jax.Array) -> jax.Array:  # (…, frames, d) → (…, positions, F·d), frame-major
        t, d = frames.shape[-2:]
        if t < f:
            raise UserError(f"audio_words: {t} frames is shorter than one {f}-frame segment; use longer crops")
        return frames[..., :(t // f) * f, :].reshape(frames.shape[:-2] + (t // f, f * d))

    def encode(audio: jax.Array) -> jax.Array:
        power = spectral.spectrogram(jnp.asarray(audio, jnp.float32), n_fft=cfg.n_fft, hop_length=cfg.hop_length)
        by_type = {t: segs(FRAME_FEATURES[t](power, cfg)) for t in vocab.types}
        if vocab.joint:
            return word_indices(vocab.codebooks[0], jnp.concatenate([by_type[t] for t in vocab.types], -1))[..., None]
        return jnp.stack([word_indices(cb, by_type[t]) for t, cb in zip(vocab.types, vocab.codebooks)], axis=-1)

    return encode
