"""Whole clips of a TFDS split as numpy arrays, for the feature-learning pipelines (Dieleman Ch. 3), which work
on whole clips rather than random crops.

Every clip is brought to one length (`dataset.clip_seconds`; 0 → the first clip's length) so clips batch into
one jitted transform: longer clips are cut, shorter ones repeated (`pad_mode=repeat`) or zero-padded, and the
number of clips that needed it is logged. Labels are the split's `label_key` column; string labels (e.g.
scorebank's `work_id`, for NCA) are mapped to integer ids within the split.
"""

from __future__ import annotations

import dataclasses
import logging

import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import pipeline
from mirjax.errors import UserError

log = logging.getLogger("mirjax")


@dataclasses.dataclass
class Split:
    audio: np.ndarray  # (clips, samples) float32 in [-1, 1]
    labels: np.ndarray  # (clips, tags) multi-hot, or (clips,) int ids
    names: tuple[str, ...]  # tag / class names (for string labels: the distinct strings of this split)


def to_float(audio: np.ndarray) -> np.ndarray:
    """int16 (or float) audio, (samples,) or (samples, channels) → mono float32 in [-1, 1), non-finite → 0."""
    audio = np.asarray(audio)
    if np.issubdtype(audio.dtype, np.integer):
        audio = audio.astype(np.float32) / float(np.iinfo(audio.dtype).max + 1)
    audio = np.asarray(audio, np.float32)
    if audio.ndim == 2:  # (samples, channels) → mono
        audio = audio.mean(axis=-1)
    return np.where(np.isfinite(audio), audio, 0.0).astype(np.float32)


def fit_length(audio: np.ndarray, length: int, mode: str = "repeat") -> np.ndarray:
    """Cut or pad a 1-D clip to `length` samples; an empty clip becomes silence."""
    if audio.shape[0] >= length:
        return audio[:length]
    if mode == "repeat" and audio.shape[0] > 0:
        return np.tile(audio, -(-length // audio.shape[0]))[:length]
    if mode not in ("repeat", "zero"):
        raise UserError(f"unknown dataset.pad_mode '{mode}'; valid: repeat, zero")
    return np.pad(audio, (0, length - audio.shape[0]))


def load_split(cfg: ml_collections.ConfigDict, split: str, builder=None, max_clips: int = 0) -> Split:
    """`cfg` is a config's `dataset` section (name, data_dir, label_key, sample_rate, clip_seconds, pad_mode)."""
    builder = builder or pipeline.get_builder(cfg)
    pipeline.check_split(builder, cfg.name, split)
    features = builder.info.features
    if cfg.label_key not in features:
        raise UserError(f"dataset '{cfg.name}' has no feature '{cfg.label_key}' (config.dataset.label_key); "
                         f"features: {', '.join(features)}")
    rate = pipeline.audio_rate(builder, cfg.name, cfg.sample_rate)
    ds = builder.as_dataset(split=split, shuffle_files=False)
    if max_clips:
        ds = ds.take(max_clips)
    length = int(round(cfg.clip_seconds * rate)) if cfg.clip_seconds else 0
    audio, labels, fitted = [], [], 0
    for ex in tfds.as_numpy(ds):
        clip = to_float(ex["audio"])
        length = length or clip.shape[0]
        fitted += clip.shape[0] != length
        audio.append(fit_length(clip, length, cfg.pad_mode))
        labels.append(ex[cfg.label_key])
    if not audio:
        raise UserError(f"split '{split}' of '{cfg.name}' is empty")
    if fitted:
        log.info("%s/%s: %d of %d clips cut or padded to %.1f s", cfg.name, split, fitted, len(audio), length / rate)
    label_feature = features[cfg.label_key]
    if isinstance(labels[0], (bytes, str)):  # e.g. work_id: classes local to this split
        strings = [x.decode() if isinstance(x, bytes) else x for x in labels]
        names = tuple(sorted(set(strings)))
        index = {n: i for i, n in enumerate(names)}
        return Split(np.stack(audio), np.array([index[s] for s in strings], np.int32), names)
    meta = builder.info.metadata or {}
    if isinstance(label_feature, tfds.features.ClassLabel):
        names = tuple(label_feature.names)
    else:
        names = tuple(meta.get("tag_names") or [f"tag{i}" for i in range(np.asarray(labels[0]).shape[-1])])
    return Split(np.stack(audio), np.stack(labels), names)
