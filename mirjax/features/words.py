"""Zhang et al.'s KCNN as an ordinary `train.py` experiment (a plug-in, loaded by `mirjax.registry`): the
`audio_words` front-end, and fitting the vocabulary it reads.

    mirjax words --config configs/zhang_kcnn_train.py                # codebooks from the training split
    mirjax train --config configs/zhang_kcnn_train.py --workdir DIR  # front-end audio_words → model kcnn
    mirjax eval  --config configs/zhang_kcnn_train.py --workdir DIR

`fit` reads the whole clips of the config's training split (`mirjax.features.data.load_split`), computes the
frame features at the dataset's sample rate (`mirjax.features.audio_words.frame_features`), cuts F-frame
segments and fits one PCA-whitening + K-means codebook per feature type (or one joint codebook) on them: the
training split only, as the paper fits its codebooks on the training folds. The file it writes
(`audio_words.save_vocabulary`) holds everything the front-end needs, and the centroids that `kcnn`
(`model.vocabulary`) starts its lookup tables at.

The front-end `audio_words` (`frontend.vocabulary=PATH`) turns each crop (batch, samples) into words
(batch, positions, tables) int32 inside the jitted step, on the accelerator: the same STFT, frame features,
segments (the incomplete last one dropped), whitening and nearest centroid as the study's numpy path
(`mirjax study kcnn`, which refits codebooks per outer fold and so trains its networks in its own loop).
"""

from __future__ import annotations

import logging
import os
import time

import ml_collections
import numpy as np
from tqdm.auto import tqdm

from mirjax.data import pipeline
from mirjax.errors import UserError
from mirjax.features import audio_words as aw
from mirjax.features.data import load_split
from mirjax.frontend.registry import register

log = logging.getLogger("mirjax")


@register("audio_words")
def audio_words_frontend(vocabulary: str = "", sample_rate: int = 0):
    """(…, samples) audio → (…, positions, tables) int32 audio words of the vocabulary file `vocabulary`
    (written by `mirjax words`); `sample_rate` (the dataset's, filled in by train.py) must be the vocabulary's."""
    if not vocabulary:
        raise UserError("frontend audio_words needs frontend.vocabulary=PATH (a file written by `mirjax words`)")
    vocab, cfg, frames_per_segment = aw.load_vocabulary(vocabulary)
    if sample_rate and sample_rate != cfg.sample_rate:
        raise UserError(f"frontend audio_words: {vocabulary} was fitted at {cfg.sample_rate} Hz, the data is at "
                        f"{sample_rate} Hz; refit it with `mirjax words` on this dataset")
    return aw.words_from_audio(vocab, cfg, frames_per_segment)


def fit(config: ml_collections.ConfigDict, out: str, types=aw.FEATURE_TYPES, num_words: int = 256,
        frames_per_segment: int = 4, joint: bool = False, max_clips: int = 0, seed: int = 0,
        **codebook_kw) -> dict:
    """Fit the vocabulary on `config.dataset`'s training split and write it to `out` (a .npz); a summary dict.
    `codebook_kw`: `fit_codebook`'s variance, epsilon, num_iters, max_samples."""
    types = aw.check_types(types)
    t0 = time.perf_counter()
    d = ml_collections.ConfigDict(config.dataset.to_dict())
    d.clip_seconds = 0.0  # whole clips
    builder = pipeline.get_builder(d)
    rate = pipeline.audio_rate(builder, d.name, d.sample_rate)
    split = load_split(d, d.train_split, builder, max_clips)
    cfg = aw.FrameConfig(sample_rate=rate)
    segs: dict[str, list] = {t: [] for t in types}
    skipped = 0
    for i, clip in enumerate(tqdm(split.audio, desc="audio words: frame features", unit="clip", leave=False)):
        try:
            frames = aw.frame_features(clip, cfg, types)
        except UserError as e:  # a clip shorter than one frame: reported, skipped, counted
            log.warning("words: skipped clip %d of %s: %s", i, d.train_split, e)
            skipped += 1
            continue
        for t in types:
            segs[t].append(aw.segments(frames[t], frames_per_segment))
    if not segs[types[0]]:
        raise UserError(f"no clip of split '{d.train_split}' of '{d.name}' could be featurised")
    train = {t: np.concatenate(v) for t, v in segs.items()}
    vocab = aw.fit_vocabulary(train, types, num_words, seed, joint=joint, **codebook_kw)
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    aw.save_vocabulary(out, vocab, cfg, frames_per_segment)
    return {"path": out, "clips": len(split.audio) - skipped, "skipped": skipped,
            "segments": int(len(train[types[0]])), "types": list(types), "joint": joint,
            "num_words": [cb.num_words for cb in vocab.codebooks], "dims": [cb.dims for cb in vocab.codebooks],
            "sample_rate": rate, "seconds": time.perf_counter() - t0}
