"""tf.data input pipelines over any registered TFDS dataset.

The model's input is the feature `config.dataset.input_key`, handled by its input kind (`mirjax.data.inputs`:
audio is cropped, an image is one view); the label is the feature `config.dataset.label_key`, unless the task
attaches its own (`attach_labels`, e.g. rows of a targets file). Batches are {'input', 'label'} (+ 'mask').

Training: seeded shuffling, one random view (audio: a crop of `crop_seconds`) per example, prefetch. The global
stream is a pure function of (seed, step): resuming at step s yields exactly the batches an uninterrupted run would
have seen from s on, with no iterator state in the checkpoint, and it does not depend on the number of processes.

Multi-host: process p of P > 1 reads the records with the model input still as stored (an int16 or PNG payload),
shuffles them exactly as every other process does (the shuffle moves records without looking at them), keeps the
rows [p·B/P, (p+1)·B/P) of each global batch of B, and only then decodes, crops and batches them: each process
decodes its own share, never the whole split, and `mirjax.training.sharding.to_global` joins the shares. (A single
process decodes every example once, before the cache.) Evaluation shards the records (p, p+P, …) before decoding.

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
    """`split` is a split's name or a TFDS slice of one (`test[:500]`, `validation[:10%]`)."""
    try:
        builder.info.splits[split]
    except (KeyError, ValueError):
        raise UserError(f"dataset '{name}' has no split '{split}'; splits: {', '.join(builder.info.splits)} "
                        "(or a slice such as test[:500])") from None


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


def _records(builder: tfds.core.DatasetBuilder, split: str, cfg: ml_collections.ConfigDict,
             attach_labels: AttachLabels | None) -> tf.data.Dataset:
    """The examples of `split` in file order as {'input': the input feature as stored (not decoded), 'label'} (no
    'label' when the task attaches its own): cheap to read, shuffle and shard; `_decode` does the work."""
    check_split(builder, builder.info.full_name, split)
    ds = builder.as_dataset(split=split, shuffle_files=False, decoders={cfg.input_key: tfds.decode.SkipDecoding()},
                            read_config=tfds.ReadConfig(interleave_cycle_length=1, add_tfds_id=False))
    if attach_labels is None:
        return ds.map(lambda ex: {"input": ex[cfg.input_key], "label": ex[cfg.label_key]})
    return ds.map(lambda ex: {"input": ex[cfg.input_key]})


def _decode(ds: tf.data.Dataset, cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder,
            kind: inputs.InputKind, attach_labels: AttachLabels | None, split: str, train: bool) -> tf.data.Dataset:
    """(index, record) → (index, {'input': decoded input, 'label': label}): TFDS's decoding of the stored feature,
    then the input kind's; labels attached by the task (by example index) when it has its own."""
    feature = builder.info.features[cfg.input_key]
    ds = ds.map(lambda i, ex: (i, {**ex, "input": kind.decode(feature.decode_example(ex["input"]))}),
                num_parallel_calls=AUTOTUNE)
    return ds if attach_labels is None else attach_labels(ds, cfg, split, train)


def process_rows(global_batch: int, process_index: int, process_count: int) -> tuple[int, int]:
    """[start, stop) of the rows of every global batch that process `process_index` of `process_count` loads: the
    contiguous block its devices hold (`mirjax.training.sharding.make_mesh` orders devices by process)."""
    if global_batch % process_count:
        raise UserError(f"train.batch_size={global_batch} must be divisible by the {process_count} processes")
    if not 0 <= process_index < process_count:
        raise UserError(f"process index {process_index} is not in [0, {process_count})")
    local = global_batch // process_count
    return process_index * local, (process_index + 1) * local


def steps_per_epoch(cfg: ml_collections.ConfigDict, info: DatasetInfo, global_batch: int) -> int:
    n = int(info.split_sizes[cfg.train_split] * cfg.train_fraction)
    if n < global_batch:
        raise UserError(f"split '{cfg.train_split}' of '{cfg.name}' has {n} examples, fewer than one batch "
                         f"of {global_batch} (train.batch_size)")
    return n // global_batch


def train_batches(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, info: DatasetInfo,
                  global_batch: int, seed: int, start_step: int = 0, attach_labels: AttachLabels | None = None,
                  process_index: int | None = None, process_count: int | None = None
                  ) -> Iterator[dict[str, np.ndarray]]:
    """Infinite iterator over this process's share of each global training batch, starting at `start_step`:
    {'input': (local batch, *view shape), 'label': …}. The process is JAX's unless given; every process count
    gives the same global batches."""
    kind = inputs.INPUT_KINDS[info.input_kind]
    n = int(info.split_sizes[cfg.train_split] * cfg.train_fraction)
    spe = steps_per_epoch(cfg, info, global_batch)
    n_proc = jax.process_count() if process_count is None else process_count
    proc = jax.process_index() if process_index is None else process_index
    lo, hi = process_rows(global_batch, proc, n_proc)

    base = _records(builder, cfg.train_split, cfg, attach_labels).take(n).enumerate()  # index → view seed, label
    whole = hi - lo == global_batch
    if whole:  # a single process decodes every example anyway: once, before the cache
        base = _decode(base, cfg, builder, kind, attach_labels, cfg.train_split, train=True)
    if cfg.cache:
        base = base.cache()

    def view(index, ex, epoch):
        view_seed = tf.stack([tf.constant(seed, tf.int64), epoch * inputs.EPOCH_STRIDE + index])
        return {**ex, "input": kind.train_view(ex["input"], cfg, view_seed)}

    epoch, skip = divmod(start_step, spe)
    while True:
        # The shuffle reorders records without looking at them: the same permutation in every process.
        ds = base.shuffle(min(cfg.shuffle_buffer, n), seed=seed * 7919 + epoch, reshuffle_each_iteration=False)
        ds = ds.take(spe * global_batch).skip(skip * global_batch)
        if not whole:  # this process's rows of every global batch, and only those decoded
            ds = ds.enumerate().filter(lambda pos, rec: (pos % global_batch >= lo) & (pos % global_batch < hi))
            ds = ds.map(lambda pos, rec: rec)
            ds = _decode(ds, cfg, builder, kind, attach_labels, cfg.train_split, train=True)
        e = tf.constant(epoch, tf.int64)
        ds = ds.map(lambda i, ex, e=e: view(i, ex, e), num_parallel_calls=AUTOTUNE)
        ds = ds.batch(hi - lo, drop_remainder=True).prefetch(AUTOTUNE)
        yield from ds.as_numpy_iterator()
        epoch, skip = epoch + 1, 0


def eval_batches(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, split: str, num_crops: int,
                 batch_clips: int, attach_labels: AttachLabels | None = None, process_index: int | None = None,
                 process_count: int | None = None) -> Iterator[dict[str, np.ndarray]]:
    """This process's examples of `split` (examples p, p+P, … for process p of P; JAX's process unless given), each
    as views (audio: `num_crops` evenly spaced crops; an image: one view): batches of {'input': (clips, views, *view
    shape), 'label': …, 'mask': (clips,)}; the last batch is padded, mask=False."""
    kind = inputs.kind_of(cfg, builder)
    n_proc = jax.process_count() if process_count is None else process_count
    proc = jax.process_index() if process_index is None else process_index
    ds = _records(builder, split, cfg, attach_labels).enumerate().shard(n_proc, proc)  # before decoding
    ds = _decode(ds, cfg, builder, kind, attach_labels, split, train=False)
    ds = ds.map(lambda i, ex: {**ex, "input": kind.eval_views(ex["input"], cfg, num_crops), "mask": tf.constant(True)},
                num_parallel_calls=AUTOTUNE)
    ds = ds.padded_batch(batch_clips).prefetch(AUTOTUNE)
    for batch in ds.as_numpy_iterator():
        short = batch_clips - batch["mask"].shape[0]
        if short:  # static shapes for the jitted step: pad the last batch
            batch = {k: np.concatenate([v, np.zeros((short,) + v.shape[1:], v.dtype)]) for k, v in batch.items()}
        yield batch
