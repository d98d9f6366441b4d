"""A weak-labelling simulation: clean multi-hot tags made noisy the way crowd-sourced tags are (Choi thesis Ch. 3).

Under weak labelling a tag that is present is often not applied ("unknown" rather than "false"), and now and
then a tag is applied that is absent. The simulation gives every tag t two rates,

    tagability (recall)  r_t = P(labelled positive | truly positive)
    false-positive rate  f_t = P(labelled positive | truly negative)

and labels each (clip, tag) independently: a true positive stays positive with probability r_t, a true
negative turns positive with probability f_t. The clean labels then play the part of the thesis's
re-annotation, and the noisy ones that of the Last.fm "ground truth" (GT).

Settings: the config section `dataset.label_noise` (read by the task `weak_multilabel`,
`mirjax.analysis.weak_task`):

    seed            int: draws the per-tag rates (seed) and the labels of each split (seed, split)
    recall          (lo, hi): per-tag tagability drawn uniformly in [lo, hi], independently of popularity
    false_positive  (lo, hi): per-tag false-positive rate drawn uniformly in [lo, hi]
    tag_recall      {tag: r}: fixed tagabilities that replace the drawn ones (optional)
    tag_false_positive {tag: f}: fixed false-positive rates (optional)
    splits          the splits whose labels are made noisy (default: all); the others keep their clean labels

Everything is a pure function of (clean labels, settings, split name): the same settings give the same noisy
labels in training, evaluation and analysis. Shapes: labels `(clips, tags)` 0/1; rates `(tags,)`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
from collections.abc import Mapping, Sequence

import ml_collections
import numpy as np

from mirjax.errors import UserError

KEYS = ("seed", "recall", "false_positive", "tag_recall", "tag_false_positive", "splits")


@dataclasses.dataclass(frozen=True)
class NoiseRates:
    """Per-tag rates of the simulation, in the order of `tags`."""
    tags: tuple[str, ...]
    recall: np.ndarray  # (tags,) P(noisy 1 | clean 1), the tagability
    false_positive: np.ndarray  # (tags,) P(noisy 1 | clean 0)

    def as_dict(self) -> dict[str, dict[str, float]]:
        return {"recall": dict(zip(self.tags, map(float, self.recall))),
                "false_positive": dict(zip(self.tags, map(float, self.false_positive)))}


def _range(settings: Mapping, key: str, default: tuple[float, float]) -> tuple[float, float]:
    value = settings.get(key, default)
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise UserError(f"config key 'dataset.label_noise.{key}' must be a pair (lo, hi), got {value!r}") from None
    if not 0.0 <= lo <= hi <= 1.0:
        raise UserError(f"config key 'dataset.label_noise.{key}'=({lo}, {hi}) must satisfy 0 <= lo <= hi <= 1")
    return lo, hi


def check_settings(settings: Mapping) -> None:
    """One-line UserError for an unknown key or a value out of range in `dataset.label_noise`."""
    for key in settings:
        if key not in KEYS:
            raise UserError(f"unknown config key 'dataset.label_noise.{key}'; valid: {', '.join(KEYS)}")
    _range(settings, "recall", (1.0, 1.0))
    _range(settings, "false_positive", (0.0, 0.0))
    for key in ("tag_recall", "tag_false_positive"):
        for tag, v in dict(settings.get(key) or {}).items():
            if not 0.0 <= float(v) <= 1.0:
                raise UserError(f"config key 'dataset.label_noise.{key}.{tag}'={v} must be in [0, 1]")


def draw_rates(tags: Sequence[str], settings: Mapping) -> NoiseRates:
    """The per-tag rates of `settings` (see the module docstring) for the output names `tags`."""
    check_settings(settings)
    tags = tuple(tags)
    rng = np.random.default_rng([int(settings.get("seed", 0)), 0])
    recall = rng.uniform(*_range(settings, "recall", (1.0, 1.0)), size=len(tags))
    fp = rng.uniform(*_range(settings, "false_positive", (0.0, 0.0)), size=len(tags))
    for key, arr in (("tag_recall", recall), ("tag_false_positive", fp)):
        fixed = dict(settings.get(key) or {})
        unknown = sorted(set(fixed) - set(tags))
        if unknown:
            raise UserError(f"config key 'dataset.label_noise.{key}' names unknown tag(s): {', '.join(unknown[:5])}")
        for tag, v in fixed.items():
            arr[tags.index(tag)] = float(v)
    return NoiseRates(tags, recall, fp)


def _split_seed(seed: int, split: str) -> list[int]:
    return [int(seed), 1, int.from_bytes(hashlib.sha256(split.encode()).digest()[:4], "little")]


def apply_noise(clean: np.ndarray, rates: NoiseRates, seed: int, split: str = "") -> np.ndarray:
    """Noisy 0/1 labels (uint8, shape of `clean`) of a `(clips, tags)` 0/1 matrix, drawn with (seed, split)."""
    clean = np.asarray(clean)
    if clean.ndim != 2 or clean.shape[1] != len(rates.tags):
        raise UserError(f"labels of shape {clean.shape} do not match the {len(rates.tags)} tags of the noise rates")
    u = np.random.default_rng(_split_seed(seed, split)).random(clean.shape)
    positive = clean.astype(bool)
    noisy = np.where(positive, u < rates.recall, u < rates.false_positive)
    return noisy.astype(np.uint8)


def noisy_splits(settings: Mapping, all_splits: Sequence[str]) -> tuple[str, ...]:
    splits = tuple(settings.get("splits") or all_splits)
    unknown = sorted(set(splits) - set(all_splits))
    if unknown:
        raise UserError(f"config key 'dataset.label_noise.splits' names unknown split(s): {', '.join(unknown)}")
    return splits


# ---------------------------------------------------------------- reading a split's labels

@functools.lru_cache(maxsize=16)
def _clean_labels(name: str, data_dir: str, label_key: str, split: str) -> np.ndarray:
    import tensorflow_datasets as tfds

    from mirjax.data import default_data_dir
    from mirjax.data.pipeline import check_split

    builder = tfds.builder(name, data_dir=data_dir or default_data_dir())
    if not builder.is_prepared():
        raise UserError(f"dataset '{name}' is not prepared in {builder.data_dir}")
    check_split(builder, name, split)
    ds = builder.as_dataset(split=split, shuffle_files=False,
                            decoders=tfds.decode.PartialDecoding({label_key: True}),
                            read_config=tfds.ReadConfig(interleave_cycle_length=1, add_tfds_id=False))
    rows = [np.asarray(b[label_key]) for b in ds.batch(4096).as_numpy_iterator()]
    labels = np.concatenate(rows) if rows else np.zeros((0, 0), np.uint8)
    if labels.ndim != 2:
        raise UserError(f"dataset '{name}' feature '{label_key}' is not a multi-hot vector (shape {labels.shape})")
    return (labels > 0).astype(np.uint8)


def clean_split_labels(data: ml_collections.ConfigDict, split: str) -> np.ndarray:
    """The label feature `data.label_key` of every example of `split`, in file order (the pipeline's index)."""
    return _clean_labels(data.name, data.data_dir, data.label_key, split).copy()


def label_names(data: ml_collections.ConfigDict) -> tuple[str, ...]:
    """The output names of `data.label_key` (the tags the rates are drawn for)."""
    from mirjax.data.pipeline import feature_label_names

    return feature_label_names(data, _builder(data))


def _builder(data: ml_collections.ConfigDict):
    import tensorflow_datasets as tfds

    from mirjax.data import default_data_dir

    return tfds.builder(data.name, data_dir=data.data_dir or default_data_dir())


def settings_of(data: ml_collections.ConfigDict) -> dict:
    return data.label_noise.to_dict() if "label_noise" in data else {}


def split_labels(data: ml_collections.ConfigDict, split: str) -> np.ndarray:
    """The labels the task trains and scores on: the clean labels of `split` (clips, tags), made noisy when
    `split` is among `dataset.label_noise.splits`."""
    settings = settings_of(data)
    clean = clean_split_labels(data, split)
    if split not in noisy_splits(settings, list(_builder(data).info.splits)):
        return clean
    return apply_noise(clean, draw_rates(label_names(data), settings), int(settings.get("seed", 0)), split)


def attach_noisy_labels(ds, data: ml_collections.ConfigDict, split: str, train: bool):
    """The pipeline hook (`mirjax.data.pipeline.AttachLabels`): (index, example) → (index, example with
    'label' = row `index` of `split_labels(data, split)`)."""
    import tensorflow as tf

    table = tf.constant(split_labels(data, split))
    return ds.map(lambda i, ex: (i, {**ex, "label": tf.gather(table, i)}), num_parallel_calls=tf.data.AUTOTUNE)
