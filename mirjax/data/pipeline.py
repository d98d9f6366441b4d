"""tf.data input pipelines over any registered TFDS dataset.

Training: seeded shuffling, a random crop of `crop_seconds` per clip, the global batch split per process
(multi-host), prefetch. The stream is a pure function of (seed, step): resuming at step s yields exactly
the batches an uninterrupted run would have seen from s on, with no iterator state in the checkpoint.

Evaluation: K evenly spaced crops per clip, in file order, padded to whole batches with a mask.
"""

from __future__ import annotations

from mirjax.errors import UserError
import dataclasses
import logging
from typing import Iterator

import jax
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mirjax.data import default_data_dir

AUTOTUNE = tf.data.AUTOTUNE
_EPOCH_STRIDE = 1 << 20  # crop seeds: (seed, epoch * stride + example index)

log = logging.getLogger("mirjax")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str
    task: str
    label_key: str
    label_names: tuple[str, ...]
    split_sizes: dict[str, int]
    sample_rate: int
    tag_categories: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def num_outputs(self) -> int:
        return len(self.label_names)


def get_builder(cfg: ml_collections.ConfigDict) -> tfds.core.DatasetBuilder:
    """The prepared TFDS builder for `config.dataset`; builds generated corpora on first use."""
    data_dir = cfg.data_dir or default_data_dir()
    try:
        builder = tfds.builder(cfg.name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserError(f"unknown dataset '{cfg.name}' (config.dataset.name): {str(e).splitlines()[0]}") from None
    if not builder.is_prepared():
        log.warning("preparing %s into %s (first use; cached afterwards)", cfg.name, data_dir)
        dl = tfds.download.DownloadConfig(manual_dir=cfg.manual_dir or None)
        builder.download_and_prepare(download_config=dl)
    return builder


def audio_rate(builder: tfds.core.DatasetBuilder, name: str, expected: int,
               setting: str = "config.dataset.sample_rate") -> int:
    """The dataset's audio sample rate (`expected` when its audio feature states none); a different rate is a
    one-line ValueError naming the `setting` that expected it."""
    rate = getattr(builder.info.features["audio"], "sample_rate", None) or expected
    if rate != expected:
        raise UserError(f"dataset '{name}' is at {rate} Hz but {setting}={expected}")
    return rate


def check_split(builder: tfds.core.DatasetBuilder, name: str, split: str) -> None:
    if split not in builder.info.splits:
        raise UserError(f"dataset '{name}' has no split '{split}'; splits: {', '.join(builder.info.splits)}")


def dataset_info(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder | None = None) -> DatasetInfo:
    builder = builder or get_builder(cfg)
    info = builder.info
    if cfg.task != "regression" and cfg.label_key not in info.features:
        raise UserError(f"dataset '{cfg.name}' has no feature '{cfg.label_key}' (config.dataset.label_key); "
                         f"features: {', '.join(info.features)}")
    meta = info.metadata or {}
    rate = audio_rate(builder, cfg.name, cfg.sample_rate)
    if cfg.task == "regression":
        return _regression_info(cfg, info, rate)
    if cfg.task == "multilabel":
        names = meta.get("tag_names") or [f"tag{i}" for i in range(info.features[cfg.label_key].shape[-1])]
    elif cfg.task == "multiclass":
        names = info.features[cfg.label_key].names
    else:
        raise UserError(f"unknown dataset.task '{cfg.task}'; valid: multilabel, multiclass, regression")
    return DatasetInfo(name=cfg.name, task=cfg.task, label_key=cfg.label_key, label_names=tuple(names),
                       split_sizes={k: v.num_examples for k, v in info.splits.items()},
                       sample_rate=rate, tag_categories=dict(meta.get("tag_categories") or {}))


def _regression_info(cfg: ml_collections.ConfigDict, info, rate: int) -> DatasetInfo:
    """Regression onto per-clip vectors from `dataset.targets` (e.g. WMF latent factors, Dieleman Ch. 4); the
    file must belong to this dataset and hold one row per clip of every split."""
    targets = load_targets(cfg)
    splits = {k: v.num_examples for k, v in info.splits.items()}
    for split, rows in targets.meta.get("split_sizes", {}).items():
        if split in splits and splits[split] != rows:
            raise UserError(f"targets {cfg.targets} have {rows} rows for split '{split}' but '{cfg.name}' has "
                             f"{splits[split]} clips; were they made for another build?")
    return DatasetInfo(name=cfg.name, task=cfg.task, label_key="targets",
                       label_names=tuple(f"factor{i}" for i in range(targets.num_factors)),
                       split_sizes=splits, sample_rate=rate)


def load_targets(cfg: ml_collections.ConfigDict):
    """The regression targets of `config.dataset` (task regression), checked against its name."""
    from mirjax.recommendation.targets import load_targets as _load

    if not cfg.targets:
        raise UserError("dataset.task=regression needs config.dataset.targets (a targets file, e.g. from "
                         "`python -m mirjax.recommendation targets`)")
    targets = _load(cfg.targets)
    made_for = targets.meta.get("dataset")
    if made_for and made_for != cfg.name:
        raise UserError(f"targets {cfg.targets} were made for '{made_for}', not for config.dataset.name="
                         f"'{cfg.name}'")
    return targets


def _with_targets(ds: tf.data.Dataset, cfg: ml_collections.ConfigDict, split: str, train: bool) -> tf.data.Dataset:
    """(index, example) → (index, example with 'label' = the split's target row(s) `index`). Training gets
    every per-clip array (the WPE loss needs its quadratic), evaluation the factors only."""
    if cfg.task != "regression":
        return ds
    arrays = load_targets(cfg).per_clip(split)
    if not train:
        arrays = {"factors": arrays["factors"]}
    table = {k: tf.constant(v) for k, v in arrays.items()}
    pick = (lambda i: {k: tf.gather(v, i) for k, v in table.items()}) if train else \
        (lambda i: tf.gather(table["factors"], i))
    return ds.map(lambda i, ex: (i, {**ex, "label": pick(i)}), num_parallel_calls=AUTOTUNE)


def crop_samples(cfg: ml_collections.ConfigDict) -> int:
    return int(round(cfg.crop_seconds * cfg.sample_rate))


def _decode(example: dict, label_key: str) -> dict[str, tf.Tensor]:
    audio = example["audio"]
    if audio.dtype.is_integer:
        audio = tf.cast(audio, tf.float32) / float(audio.dtype.max + 1)
    audio = tf.cast(audio, tf.float32)
    if audio.shape.rank == 2:  # (samples, channels) → mono
        audio = tf.reduce_mean(audio, axis=-1)
    audio = tf.where(tf.math.is_finite(audio), audio, tf.zeros_like(audio))  # NaN/inf samples → silence
    # Regression labels come from the targets file by clip index (`_with_targets`), not from a feature.
    return {"audio": audio, "label": example[label_key] if label_key in example else tf.constant(0)}


def _pad_to(audio: tf.Tensor, length: int, mode: str) -> tf.Tensor:
    """Clips shorter than `length` are repeat- or zero-padded; an empty clip becomes silence."""
    n = tf.shape(audio)[0]
    if mode == "repeat":
        reps = tf.math.floordiv(length + n - 1, tf.maximum(n, 1))
        padded = tf.cond(n > 0, lambda: tf.tile(audio, [reps]), lambda: tf.zeros([length], tf.float32))
        return tf.cond(n >= length, lambda: audio, lambda: padded[:length])
    if mode == "zero":
        return tf.pad(audio, [[0, tf.maximum(length - n, 0)]])
    raise UserError(f"unknown dataset.pad_mode '{mode}'; valid: repeat, zero")


def _split(builder: tfds.core.DatasetBuilder, split: str) -> tf.data.Dataset:
    check_split(builder, builder.info.full_name, split)
    return builder.as_dataset(split=split, shuffle_files=False,
                              read_config=tfds.ReadConfig(interleave_cycle_length=1, add_tfds_id=False))


def steps_per_epoch(cfg: ml_collections.ConfigDict, info: DatasetInfo, global_batch: int) -> int:
    n = int(info.split_sizes[cfg.train_split] * cfg.train_fraction)
    if n < global_batch:
        raise UserError(f"split '{cfg.train_split}' of '{cfg.name}' has {n} examples, fewer than one batch "
                         f"of {global_batch} (train.batch_size)")
    return n // global_batch


def train_batches(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, info: DatasetInfo,
                  global_batch: int, seed: int, start_step: int = 0) -> Iterator[dict[str, np.ndarray]]:
    """Infinite iterator over this process's share of each global training batch, starting at `start_step`."""
    length = crop_samples(cfg)
    n = int(info.split_sizes[cfg.train_split] * cfg.train_fraction)
    spe = steps_per_epoch(cfg, info, global_batch)
    n_proc, proc = jax.process_count(), jax.process_index()
    local_batch = global_batch // n_proc

    base = _split(builder, cfg.train_split).take(n)
    base = base.map(lambda ex: _decode(ex, cfg.label_key), num_parallel_calls=AUTOTUNE)
    if cfg.cache:
        base = base.cache()
    base = base.enumerate()  # example index → crop seed, independent of the shuffled order
    base = _with_targets(base, cfg, cfg.train_split, train=True)

    def crop(index, ex, epoch):
        audio = _pad_to(ex["audio"], length, cfg.pad_mode)
        max_offset = tf.shape(audio, out_type=tf.int64)[0] - length
        offset = tf.random.stateless_uniform(
            [], seed=tf.stack([tf.constant(seed, tf.int64), epoch * _EPOCH_STRIDE + index]),
            minval=0, maxval=max_offset + 1, dtype=tf.int64)
        return {"audio": audio[offset:offset + length], "label": ex["label"]}

    epoch, skip = divmod(start_step, spe)
    while True:
        ds = base.shuffle(min(cfg.shuffle_buffer, n), seed=seed * 7919 + epoch, reshuffle_each_iteration=False)
        ds = ds.take(spe * global_batch).skip(skip * global_batch)
        ds = ds.shard(n_proc, proc)  # process p gets elements p, p+n, …: its part of every global batch
        e = tf.constant(epoch, tf.int64)
        ds = ds.map(lambda i, ex: crop(i, ex, e), num_parallel_calls=AUTOTUNE)
        ds = ds.batch(local_batch, drop_remainder=True).prefetch(AUTOTUNE)
        yield from ds.as_numpy_iterator()
        epoch, skip = epoch + 1, 0


def eval_batches(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, split: str, num_crops: int,
                 batch_clips: int) -> Iterator[dict[str, np.ndarray]]:
    """This process's clips of `split`, each as `num_crops` evenly spaced crops: batches of
    {'audio': (clips, crops, samples), 'label': …, 'mask': (clips,)}; the last batch is padded, mask=False."""
    length = crop_samples(cfg)

    def crops(ex):
        audio = _pad_to(ex["audio"], length, cfg.pad_mode)
        max_offset = tf.shape(audio)[0] - length
        offsets = tf.cast(tf.round(tf.linspace(0.0, tf.cast(max_offset, tf.float32), num_crops)), tf.int32)
        idx = offsets[:, None] + tf.range(length)[None, :]
        return {"audio": tf.gather(audio, idx), "label": ex["label"], "mask": tf.constant(True)}

    ds = _split(builder, split).enumerate().shard(jax.process_count(), jax.process_index())
    ds = ds.map(lambda i, ex: (i, _decode(ex, cfg.label_key)), num_parallel_calls=AUTOTUNE)
    ds = _with_targets(ds, cfg, split, train=False)
    ds = ds.map(lambda i, ex: crops(ex), num_parallel_calls=AUTOTUNE)
    ds = ds.padded_batch(batch_clips).prefetch(AUTOTUNE)
    for batch in ds.as_numpy_iterator():
        short = batch_clips - batch["mask"].shape[0]
        if short:  # static shapes for the jitted step: pad the last batch
            batch = {k: np.concatenate([v, np.zeros((short,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}
        yield batch
