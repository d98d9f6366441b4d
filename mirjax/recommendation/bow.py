"""Bag-of-words audio features, the baseline of Dieleman thesis §4.5.1 (van den Oord, Dieleman & Schrauwen, NIPS
2013) for predicting latent factors from audio:

    MFCC + Δ + ΔΔ (39 dims; windows of 1024 samples, hop 512) → standardise each dim → vector quantisation with
    Euclidean K-means (4,000 words, hard assignment) → per-clip word histogram → PCA keeping 95 % of the variance

The regressors on top (linear regression, or an MLP with 1000 ReLU hidden units) are the `mlp` model trained by
train.py on the `mfcc_bow` front-end, which applies a codebook fitted here. Where the thesis is silent:

* **MFCCs** are the `mfcc` front-end (librosa's definition: DCT-II of dB mel, 40 mel bands, centred frames) at the
  corpus's sample rate (16 kHz for scorebank; the thesis's 22,050 Hz is MSD's).
* **Standardisation** of the 39 dims (mean / std over the sampled frames) before the Euclidean K-means. The thesis
  does not mention it; without it the 0th coefficient (log energy, tens of dB) and the raw coefficients, whose
  scales are ~10× those of the deltas, would decide the nearest word alone.
* **K-means**: k-means++ start and `num_iters` Lloyd iterations on at most `max_frames` frames drawn uniformly
  (seeded, without replacement) from all frames of the training split.
* **Histogram**: the thesis takes the count of each word per song; all MSD previews are 30 s long, so counts
  divided by the clip's number of frames (what we use) differ from counts only by a constant factor there, while
  they keep clips (or crops) of other lengths comparable.
* **PCA** on the training clips' histograms, keeping the fewest components whose explained variance reaches
  `variance` (≥ 0.95 of the total); projections are centred and not whitened.

A codebook is one .npz file; its keys (all written by `fit_codebook`):

    means (num_words, dims)  feature_mean (dims,)  feature_std (dims,)  pca_mean (num_words,)
    pca_components (n_components, num_words)  explained_variance (n_components,)
    explained_variance_ratio (n_components,)  num_words ()  num_frames ()  num_clips ()
    mfcc_settings, fit_settings (JSON strings)  dataset, split (strings)

`mirjax recommend codebook --dataset scorebank/default --words 4000 --out FILE` fits one.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import tempfile
import time
from collections.abc import Iterator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.data import default_data_dir, pipeline
from mirjax.errors import UserError
from mirjax.features.data import fit_length, to_float
from mirjax.features.kmeans import assign, kmeans
from mirjax.frontend import registry as frontend_registry
from mirjax.frontend.registry import make_frontend

log = logging.getLogger("mirjax")

_ARRAYS = ("means", "feature_mean", "feature_std", "pca_mean", "pca_components", "explained_variance",
           "explained_variance_ratio")
_STD_FLOOR = 1e-6  # a constant feature dim (e.g. silence everywhere) standardises to 0 instead of nan


@dataclasses.dataclass(frozen=True)
class Codebook:
    """A fitted codebook (see the module docstring for the fields)."""

    means: np.ndarray
    feature_mean: np.ndarray
    feature_std: np.ndarray
    pca_mean: np.ndarray
    pca_components: np.ndarray
    explained_variance: np.ndarray
    explained_variance_ratio: np.ndarray
    num_frames: int
    num_clips: int
    mfcc_settings: dict
    fit_settings: dict

    @property
    def num_words(self) -> int:
        return self.means.shape[0]

    @property
    def num_components(self) -> int:
        return self.pca_components.shape[0]

    def save(self, path: str) -> None:
        """Write the .npz atomically at exactly `path` (np.savez would append .npz to a bare name)."""
        fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as f:
                np.savez(f, **{k: getattr(self, k) for k in _ARRAYS}, num_words=self.num_words,
                         num_frames=self.num_frames, num_clips=self.num_clips,
                         mfcc_settings=json.dumps(self.mfcc_settings, sort_keys=True),
                         fit_settings=json.dumps(self.fit_settings, sort_keys=True),
                         dataset=self.fit_settings["dataset"], split=self.fit_settings["split"])
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.remove(tmp)


def load_codebook(path: str, mfcc_settings: dict | None = None) -> Codebook:
    """Read a codebook .npz; with `mfcc_settings`, a file fitted on other MFCC settings is a one-line ValueError
    naming every difference."""
    if not os.path.isfile(path):
        raise UserError(f"codebook {path} does not exist; make one with "
                         f"`mirjax recommend codebook --dataset scorebank/default --words 4000 --out {path}`")
    try:
        with np.load(path, allow_pickle=False) as z:
            book = Codebook(**{k: np.asarray(z[k], np.float32) for k in _ARRAYS},
                            num_frames=int(z["num_frames"]), num_clips=int(z["num_clips"]),
                            mfcc_settings=json.loads(str(z["mfcc_settings"])),
                            fit_settings=json.loads(str(z["fit_settings"])))
    except (OSError, KeyError, ValueError) as e:
        raise UserError(f"{path} is not a mirjax bag-of-words codebook ({type(e).__name__}: "
                         f"{(str(e).splitlines() or [''])[0]})") from None
    if mfcc_settings is not None:
        diff = _differences(book.mfcc_settings, mfcc_settings)
        if diff:
            raise UserError(f"codebook {path} was fitted with other MFCC settings than the front-end's: {diff}")
    return book


def _differences(stored: dict, wanted: dict) -> str:
    """"key=stored (now wanted), …" over the keys whose values differ ('' when none)."""
    keys = sorted(set(stored) | set(wanted))
    return ", ".join(f"{k}={stored.get(k, '(unset)')!r} (now {wanted.get(k, '(unset)')!r})"
                     for k in keys if stored.get(k) != wanted.get(k))


def word_histograms(frames: jax.Array, means: jax.Array, feature_mean: jax.Array, feature_std: jax.Array,
                    chunk: int = 1024) -> jax.Array:
    """MFCC frames (..., frames, dims) → (..., num_words): the fraction of each clip's frames whose standardised
    MFCC vector is nearest to each word. Memory: chunk × num_words for the distances (1024 × 4000 floats = 16 MB),
    plus the histograms."""
    *lead, num_frames, dims = frames.shape
    x = ((frames - feature_mean) / feature_std).reshape(-1, num_frames, dims)
    words = assign(means, x.reshape(-1, dims), chunk).reshape(x.shape[:2])
    clips = jnp.arange(x.shape[0])[:, None]
    counts = jnp.zeros((x.shape[0], means.shape[0]), jnp.float32).at[clips, words].add(1.0)
    return (counts / num_frames).reshape(*lead, means.shape[0])


def encode(book: Codebook, frames: jax.Array) -> jax.Array:
    """MFCC frames (..., frames, dims) → PCA-reduced bag of words (..., 1, n_components): one "frame" per clip,
    the layout front-ends return."""
    h = word_histograms(frames, jnp.asarray(book.means), jnp.asarray(book.feature_mean), jnp.asarray(book.feature_std))
    return ((h - jnp.asarray(book.pca_mean)) @ jnp.asarray(book.pca_components).T)[..., None, :]


# --- the `mfcc_bow` front-end: the codebook format lives with the code that fits and reads it ---

@frontend_registry.register("mfcc_bow")
def mfcc_bow(
    codebook: str = "",
    sample_rate: int = 16000,
    n_fft: int = 1024,
    hop_length: int = 512,
    n_mels: int = 40,
    n_mfcc: int = 13,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    top_db: float | None = 80.0,
    lifter: float = 0.0,
    deltas: bool = True,
    delta_width: int = 9,
) -> frontend_registry.Frontend:
    """The bag-of-words front-end (Dieleman thesis §4.5.1), registered by this package:
    ``(batch, samples)`` → ``(batch, 1, n_components)``.

    The ``mfcc`` front-end with these settings (defaults: 13 MFCCs + Δ + ΔΔ from windows of 1024 samples, hop
    512), each frame standardised and assigned to its nearest K-means word, the words' frequencies in the clip
    (counts / frames, so crops of any length are comparable), then the PCA projection; words, standardisation and
    PCA come from the ``codebook`` .npz (``mirjax.recommendation.bow``), which must have been fitted with the same
    MFCC settings. Meant for whole clips: one histogram per input.
    """
    settings = {k: v for k, v in locals().items() if k != "codebook"}  # the MFCC arguments, as passed
    if not codebook:
        raise UserError("frontend 'mfcc_bow' needs codebook=FILE.npz (config.frontend.codebook); make one with "
                        "`mirjax recommend codebook --dataset scorebank/default --words 4000 --out FILE.npz`")
    book = load_codebook(codebook, settings)
    frames = frontend_registry.FRONTENDS["mfcc"](**settings)  # the bare factory: make_frontend wraps the whole
    return lambda audio: encode(book, frames(audio))


def mfcc_bow_settings(**kwargs) -> dict:
    """The MFCC settings (every ``mfcc_bow`` argument but ``codebook``, defaults filled in) of an ``mfcc_bow``
    front-end made with ``kwargs``: what a codebook records and is checked against."""
    cfg = frontend_registry.frontend_config("mfcc_bow", kwargs)
    cfg.pop("codebook", None)
    return cfg


def components_for_variance(explained_variance_ratio: np.ndarray, variance: float) -> int:
    """The fewest leading components whose explained-variance ratios sum to at least `variance` (all if the total
    falls short by rounding)."""
    total = np.cumsum(explained_variance_ratio)
    return int(min(np.searchsorted(total, variance, side="left") + 1, len(total)))


def fit_pca(x: np.ndarray, variance: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """PCA of x (samples, dims) by SVD → (mean (dims,), components (k, dims), explained variance (k,), its ratio
    (k,)), keeping the k leading components that explain at least `variance` of the total."""
    x = np.asarray(x, np.float64)
    mean = x.mean(axis=0)
    _, s, vt = np.linalg.svd(x - mean, full_matrices=False)
    var = s ** 2 / max(x.shape[0] - 1, 1)
    if var.sum() <= 0:
        raise UserError("the word histograms of all clips are identical: nothing for PCA to keep")
    ratio = var / var.sum()
    k = components_for_variance(ratio, variance)
    return mean, vt[:k], var[:k], ratio[:k]


def _clip_batches(dataset: str, split: str, data_dir: str | None, sample_rate: int,
                  batch: int) -> Iterator[tuple[np.ndarray, int]]:
    """(batch, samples) float32 clips of a TFDS split, each cut or repeated to the first clip's length (like
    `mirjax.features.data.load_split`, without holding the whole split in memory), the last batch zero-padded;
    yields (clips, number of real clips). Shows a tqdm bar."""
    import ml_collections
    import tensorflow_datasets as tfds
    from tqdm.auto import tqdm


    builder = pipeline.get_builder(ml_collections.ConfigDict(dict(name=dataset, data_dir=data_dir or "",
                                                                  manual_dir="")))
    pipeline.check_split(builder, dataset, split)
    pipeline.audio_rate(builder, dataset, sample_rate, setting="the MFCC settings' sample_rate")
    total = builder.info.splits[split].num_examples
    ds = builder.as_dataset(split=split, shuffle_files=False)
    clips, length = [], 0
    for ex in tqdm(tfds.as_numpy(ds), total=total, desc=f"mfcc {dataset} {split}", unit="clip", leave=False):
        clip = to_float(ex["audio"])
        length = length or clip.shape[0]
        clips.append(fit_length(clip, length))
        if len(clips) == batch:
            yield np.stack(clips), batch
            clips = []
    if clips:
        yield np.pad(np.stack(clips), ((0, batch - len(clips)), (0, 0))), len(clips)
    if not length:
        raise UserError(f"split '{split}' of '{dataset}' is empty")


def _fit_settings(dataset: str, split: str, num_words: int, max_frames: int, variance: float, seed: int,
                  num_iters: int) -> dict:
    return dict(dataset=dataset, split=split, num_words=int(num_words), max_frames=int(max_frames),
                variance=float(variance), seed=int(seed), num_iters=int(num_iters))


def fit_codebook(out: str, dataset: str = "scorebank/default", split: str = "train", num_words: int = 4000,
                 max_frames: int = 200_000, variance: float = 0.95, seed: int = 0, num_iters: int = 20,
                 data_dir: str | None = None, batch_clips: int = 32, **mfcc_kwargs: Any) -> dict:
    """Fit a codebook on `split` of `dataset` and write it to `out` (.npz). `mfcc_kwargs` are `mfcc_bow` front-end
    settings (sample_rate, n_fft, hop_length, n_mfcc, deltas, …; its defaults otherwise).

    An existing `out` fitted with the same settings is kept as it is (nothing is recomputed); one fitted with other
    settings, or any other file, is a one-line ValueError. Returns a summary: path, num_words, num_frames,
    num_clips, num_components, variance_kept, seconds, reused."""
    start = time.time()
    settings = mfcc_bow_settings(**mfcc_kwargs)
    fit = _fit_settings(dataset, split, num_words, max_frames, variance, seed, num_iters)
    if not 0.0 < variance <= 1.0:
        raise UserError(f"variance must be in (0, 1]; got {variance}")
    if num_words < 1 or max_frames < 1:
        raise UserError(f"num_words and max_frames must be positive; got {num_words}, {max_frames}")
    if os.path.exists(out):
        book = load_codebook(out)
        diff = _differences({**book.fit_settings, **book.mfcc_settings}, {**fit, **settings})
        if diff:
            raise UserError(f"{out} exists and was made with other settings: {diff}; pass another --out or delete it")
        return _summary(out, book, time.time() - start, reused=True)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)

    mfcc_fn = jax.jit(make_frontend("mfcc", **settings))
    frames = np.concatenate([np.asarray(mfcc_fn(clips))[:real] for clips, real in
                             _clip_batches(dataset, split, data_dir, settings["sample_rate"], batch_clips)])
    num_clips, frames_per_clip, dims = frames.shape
    flat = frames.reshape(-1, dims)
    rng = np.random.default_rng(seed)
    sample = flat[np.sort(rng.choice(flat.shape[0], size=min(max_frames, flat.shape[0]), replace=False))]
    if num_words > sample.shape[0]:
        raise UserError(f"num_words={num_words} > the {sample.shape[0]} frames sampled from {dataset} {split}; "
                         f"use fewer words or a larger split")
    mean, std = sample.mean(axis=0), np.maximum(sample.std(axis=0), _STD_FLOOR)
    log.info("k-means: %d words on %d frames of %d dims", num_words, sample.shape[0], dims)
    means = kmeans(jnp.asarray((sample - mean) / std), num_words, key=jax.random.PRNGKey(seed), num_iters=num_iters)

    histograms = jax.jit(word_histograms)
    h = np.concatenate([np.asarray(histograms(jnp.asarray(frames[i:i + batch_clips]), means, mean, std))
                        for i in range(0, num_clips, batch_clips)])
    pca_mean, components, var, ratio = fit_pca(h, variance)
    book = Codebook(means=np.asarray(means, np.float32), feature_mean=mean.astype(np.float32),
                    feature_std=std.astype(np.float32), pca_mean=pca_mean.astype(np.float32),
                    pca_components=components.astype(np.float32), explained_variance=var.astype(np.float32),
                    explained_variance_ratio=ratio.astype(np.float32), num_frames=int(sample.shape[0]),
                    num_clips=int(num_clips), mfcc_settings=settings, fit_settings=fit)
    book.save(out)
    return _summary(out, book, time.time() - start, reused=False)


def _summary(path: str, book: Codebook, seconds: float, reused: bool) -> dict:
    return dict(path=path, num_words=book.num_words, num_frames=book.num_frames, num_clips=book.num_clips,
                num_components=book.num_components, variance_kept=float(book.explained_variance_ratio.sum()),
                seconds=seconds, reused=reused)


def default_path(dataset: str, data_dir: str | None = None) -> str:
    """Where the CLI writes a dataset's codebook by default (and configs/dieleman_recommend.py reads it):
    `recommendation/<dataset>_codebook.npz` next to the TFDS data dir, outside the repository."""

    root = os.path.dirname(os.path.abspath(os.path.expanduser(data_dir or default_data_dir())))
    return os.path.join(root, "recommendation", dataset.replace("/", "_") + "_codebook.npz")


def summary_line(s: dict) -> str:
    """One line about `fit_codebook`'s summary (what `mirjax recommend codebook` prints)."""
    return (f"{s['path']}: {s['num_words']} words from {s['num_frames']} frames of {s['num_clips']} clips, "
            f"{s['num_components']} PCA components keep {100 * s['variance_kept']:.1f} % of the variance, "
            f"{s['seconds']:.0f} s" + (" (existing file, same settings: kept)" if s["reused"] else ""))
