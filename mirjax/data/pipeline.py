"""tf.data input pipelines over any registered TFDS dataset.

The model's input is the feature `config.dataset.input_key`, handled by its input kind (`mirjax.data.inputs`:
audio is cropped, an image is one view); the label is the feature `config.dataset.label_key`, unless the task
attaches its own (`attach_labels`, e.g. rows of a targets file). Batches are {'input', 'label'} (+ 'mask').

Training: seeded shuffling, one random view (audio: a crop of `crop_seconds`) per example, the global batch split
per process (multi-host), prefetch. The stream is a pure function of (seed, step): resuming at step s yields exactly
the batches an uninterrupted run would have seen from s on, with no iterator state in the checkpoint.

Evaluation: K views per example (evenly spaced crops), in file order, padded to whole batches with a mask.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterator, Sequence

import jax
import ml_collections
import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

from mirjax.data import default_data_dir, inputs
from mirjax.data.inputs import audio_rate, crop_samples  # noqa: F401  (re-exported)
from mirjax.errors import UserError

AUTOTUNE = tf.data.AUTOTUNE

log = logging.getLogger("mirjax")


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    name: str
    label_key: str
    label_names: tuple[str, ...]
    split_sizes: dict[str, int]
    input_kind: str
    input_shape: tuple[int, ...]  # one view, without the batch axis (audio: the crop's samples)
    sample_rate: int = 0  # of a signal in time (audio); 0 for other inputs
    tag_categories: dict[str, str] = dataclasses.field(default_factory=dict)

    @property
    def num_outputs(self) -> int:
        return len(self.label_names)


# (ds of (index, example), data config, split, train) -> ds of (index, example with 'label'); see mirjax.tasks.
AttachLabels = Callable[[tf.data.Dataset, ml_collections.ConfigDict, str, bool], tf.data.Dataset]


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


def check_split(builder: tfds.core.DatasetBuilder, name: str, split: str) -> None:
    if split not in builder.info.splits:
        raise UserError(f"dataset '{name}' has no split '{split}'; splits: {', '.join(builder.info.splits)}")


def feature_label_names(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder) -> tuple[str, ...]:
    """Output names of the label feature `cfg.label_key`: a ClassLabel's class names; a multi-hot vector's
    `metadata["tag_names"]`; otherwise `KEY0…KEYn` for a vector (`KEY` for a scalar target)."""
    features = builder.info.features
    if cfg.label_key not in features:
        raise UserError(f"dataset '{cfg.name}' has no feature '{cfg.label_key}' (config.dataset.label_key); "
                        f"features: {', '.join(features)}")
    feature = features[cfg.label_key]
    if isinstance(feature, tfds.features.ClassLabel):
        return tuple(feature.names)
    shape = tuple(feature.shape)
    if not shape:
        return (cfg.label_key,)
    tag_names = (builder.info.metadata or {}).get("tag_names")
    if len(shape) == 1 and tag_names and len(tag_names) == shape[0]:
        return tuple(tag_names)
    return tuple(f"{cfg.label_key}{i}" for i in range(int(np.prod(shape))))


def dataset_info(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder | None = None,
                 label_names: Sequence[str] | None = None) -> DatasetInfo:
    """What the model and the task need to know of `config.dataset`: its outputs (`label_names`, else those of
    the label feature), split sizes, and the input kind and shape."""
    builder = builder or get_builder(cfg)
    info = builder.info
    kind = inputs.kind_of(cfg, builder)
    kind.check(cfg, builder)
    names = tuple(label_names) if label_names is not None else feature_label_names(cfg, builder)
    meta = info.metadata or {}
    return DatasetInfo(name=cfg.name, label_key=cfg.label_key, label_names=names,
                       split_sizes={k: v.num_examples for k, v in info.splits.items()}, input_kind=kind.name,
                       input_shape=kind.view_shape(cfg, info.features[cfg.input_key]),
                       sample_rate=kind.sample_rate(cfg),
                       tag_categories=dict(meta.get("tag_categories") or {}))


def _decoded(ds: tf.data.Dataset, cfg: ml_collections.ConfigDict, kind: inputs.InputKind,
             attach_labels: AttachLabels | None, split: str, train: bool) -> tf.data.Dataset:
    """(index, example) → (index, {'input': decoded input, 'label': label}); labels from the feature
    `cfg.label_key` unless the task attaches its own."""
    if attach_labels is None:
        ds = ds.map(lambda i, ex: (i, {"input": kind.decode(ex[cfg.input_key]), "label": ex[cfg.label_key]}),
                    num_parallel_calls=AUTOTUNE)
        return ds
    ds = ds.map(lambda i, ex: (i, {"input": kind.decode(ex[cfg.input_key])}), num_parallel_calls=AUTOTUNE)
    return attach_labels(ds, cfg, split, train)


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
                  global_batch: int, seed: int, start_step: int = 0, attach_labels: AttachLabels | None = None
                  ) -> Iterator[dict[str, np.ndarray]]:
    """Infinite iterator over this process's share of each global training batch, starting at `start_step`:
    {'input': (local batch, *view shape), 'label': …}."""
    kind = inputs.INPUT_KINDS[info.input_kind]
    n = int(info.split_sizes[cfg.train_split] * cfg.train_fraction)
    spe = steps_per_epoch(cfg, info, global_batch)
    n_proc, proc = jax.process_count(), jax.process_index()
    local_batch = global_batch // n_proc

    base = _split(builder, cfg.train_split).take(n).enumerate()  # example index → view seed, label row
    base = _decoded(base, cfg, kind, attach_labels, cfg.train_split, train=True)
    if cfg.cache:
        base = base.cache()

    def view(index, ex, epoch):
        view_seed = tf.stack([tf.constant(seed, tf.int64), epoch * inputs.EPOCH_STRIDE + index])
        return {**ex, "input": kind.train_view(ex["input"], cfg, view_seed)}

    epoch, skip = divmod(start_step, spe)
    while True:
        ds = base.shuffle(min(cfg.shuffle_buffer, n), seed=seed * 7919 + epoch, reshuffle_each_iteration=False)
        ds = ds.take(spe * global_batch).skip(skip * global_batch)
        ds = ds.shard(n_proc, proc)  # process p gets elements p, p+n, …: its part of every global batch
        e = tf.constant(epoch, tf.int64)
        ds = ds.map(lambda i, ex, e=e: view(i, ex, e), num_parallel_calls=AUTOTUNE)
        ds = ds.batch(local_batch, drop_remainder=True).prefetch(AUTOTUNE)
        yield from ds.as_numpy_iterator()
        epoch, skip = epoch + 1, 0


def eval_batches(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, split: str, num_crops: int,
                 batch_clips: int, attach_labels: AttachLabels | None = None) -> Iterator[dict[str, np.ndarray]]:
    """This process's examples of `split`, each as views (audio: `num_crops` evenly spaced crops; an image: one
    view): batches of {'input': (clips, views, *view shape), 'label': …, 'mask': (clips,)}; the last batch is
    padded, mask=False."""
    kind = inputs.kind_of(cfg, builder)
    ds = _split(builder, split).enumerate().shard(jax.process_count(), jax.process_index())
    ds = _decoded(ds, cfg, kind, attach_labels, split, train=False)
    ds = ds.map(lambda i, ex: {**ex, "input": kind.eval_views(ex["input"], cfg, num_crops), "mask": tf.constant(True)},
                num_parallel_calls=AUTOTUNE)
    ds = ds.padded_batch(batch_clips).prefetch(AUTOTUNE)
    for batch in ds.as_numpy_iterator():
        short = batch_clips - batch["mask"].shape[0]
        if short:  # static shapes for the jitted step: pad the last batch
            batch = {k: np.concatenate([v, np.zeros((short,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}
        yield batch
