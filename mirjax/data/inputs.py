"""Input kinds as plug-ins: how the model's input feature of an example is decoded, cropped for training, viewed
for evaluation, and what shape one example has.

The pipeline reads the feature `config.dataset.input_key` ("audio" for the music datasets) and hands it to the
input kind `config.dataset.input_kind` ("" = inferred from the TFDS feature: `Image` → `image`, anything else →
`audio`). A kind's front-end runs on the accelerator as the first layer of the step (`mirjax.frontend`: `logmel`,
`stft`, `waveform`, … for audio; `identity` for images).

* `audio`: int or float samples → float32 in [-1, 1), multi-channel → mono, NaN/inf → 0; training takes one random
  crop of `crop_seconds` per clip (clips shorter than a crop are padded with `pad_mode`); evaluation takes
  `num_crops` evenly spaced crops (offsets rounded to the nearest sample).
* `image`: uint8 → float32 in [0, 1] (floats as they are); the whole image is one view (test-time transforms are
  a later plug-in).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import ml_collections
import tensorflow as tf
import tensorflow_datasets as tfds

from mirjax.errors import UserError

# crop seeds: (seed, epoch * stride + example index)
EPOCH_STRIDE = 1 << 20


@dataclasses.dataclass(frozen=True)
class InputKind:
    name: str
    # tf tensor of the raw feature -> float32 tensor
    decode: Callable[[tf.Tensor], tf.Tensor]
    # (decoded, data config, seed (2,) int64 tensor) -> one training view
    train_view: Callable[[tf.Tensor, ml_collections.ConfigDict, tf.Tensor], tf.Tensor]
    # (decoded, data config, num_views) -> (views, …)
    eval_views: Callable[[tf.Tensor, ml_collections.ConfigDict, int], tf.Tensor]
    # (data config, tfds feature) -> shape of one view, without the batch axis
    view_shape: Callable[[ml_collections.ConfigDict, tfds.features.FeatureConnector], tuple[int, ...]]
    # num_crops (config) -> views per example in evaluation
    num_views: Callable[[int], int] = lambda num_crops: num_crops
    # data config -> the input's sample rate (0: not a signal in time); front-ends that take one get it
    sample_rate: Callable[[ml_collections.ConfigDict], int] = lambda cfg: 0
    # (data config, builder) -> raise UserError when the dataset does not fit the config
    check: Callable[[ml_collections.ConfigDict, tfds.core.DatasetBuilder], None] = lambda cfg, builder: None


INPUT_KINDS: dict[str, InputKind] = {}


def register(kind: InputKind) -> InputKind:
    if kind.name in INPUT_KINDS:
        raise ValueError(f"input kind {kind.name!r} is already registered")
    INPUT_KINDS[kind.name] = kind
    return kind


def kind_of(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder) -> InputKind:
    """The input kind of `config.dataset` (named, or inferred from the input feature's type)."""
    features = builder.info.features
    if cfg.input_key not in features:
        raise UserError(f"dataset '{cfg.name}' has no feature '{cfg.input_key}' (config.dataset.input_key); "
                        f"features: {', '.join(features)}")
    name = cfg.input_kind or ("image" if isinstance(features[cfg.input_key], tfds.features.Image) else "audio")
    if name not in INPUT_KINDS:
        raise UserError(f"unknown config.dataset.input_kind '{name}'; valid: {', '.join(sorted(INPUT_KINDS))}")
    return INPUT_KINDS[name]


# --- audio ---

def crop_samples(cfg: ml_collections.ConfigDict) -> int:
    return int(round(cfg.crop_seconds * cfg.sample_rate))


def audio_rate(builder: tfds.core.DatasetBuilder, name: str, expected: int,
               setting: str = "config.dataset.sample_rate", key: str = "audio") -> int:
    """The dataset's audio sample rate (`expected` when its audio feature states none); a different rate is a
    one-line UserError naming the `setting` that expected it."""
    rate = getattr(builder.info.features[key], "sample_rate", None) or expected
    if rate != expected:
        raise UserError(f"dataset '{name}' is at {rate} Hz but {setting}={expected}")
    return rate


def _decode_audio(audio: tf.Tensor) -> tf.Tensor:
    if audio.dtype.is_integer:
        audio = tf.cast(audio, tf.float32) / float(audio.dtype.max + 1)
    audio = tf.cast(audio, tf.float32)
    if audio.shape.rank == 2:  # (samples, channels) → mono
        audio = tf.reduce_mean(audio, axis=-1)
    return tf.where(tf.math.is_finite(audio), audio, tf.zeros_like(audio))  # NaN/inf samples → silence


def pad_to(audio: tf.Tensor, length: int, mode: str) -> tf.Tensor:
    """Clips shorter than `length` are repeat- or zero-padded; an empty clip becomes silence."""
    n = tf.shape(audio)[0]
    if mode == "repeat":
        reps = tf.math.floordiv(length + n - 1, tf.maximum(n, 1))
        padded = tf.cond(n > 0, lambda: tf.tile(audio, [reps]), lambda: tf.zeros([length], tf.float32))
        return tf.cond(n >= length, lambda: audio, lambda: padded[:length])
    if mode == "zero":
        return tf.pad(audio, [[0, tf.maximum(length - n, 0)]])
    raise UserError(f"unknown dataset.pad_mode '{mode}'; valid: repeat, zero")


def _audio_train_view(audio: tf.Tensor, cfg: ml_collections.ConfigDict, seed: tf.Tensor) -> tf.Tensor:
    length = crop_samples(cfg)
    audio = pad_to(audio, length, cfg.pad_mode)
    max_offset = tf.shape(audio, out_type=tf.int64)[0] - length
    offset = tf.random.stateless_uniform([], seed=seed, minval=0, maxval=max_offset + 1, dtype=tf.int64)
    return audio[offset:offset + length]


def _audio_eval_views(audio: tf.Tensor, cfg: ml_collections.ConfigDict, num_views: int) -> tf.Tensor:
    length = crop_samples(cfg)
    audio = pad_to(audio, length, cfg.pad_mode)
    max_offset = tf.shape(audio)[0] - length
    offsets = tf.cast(tf.round(tf.linspace(0.0, tf.cast(max_offset, tf.float32), num_views)), tf.int32)
    return tf.gather(audio, offsets[:, None] + tf.range(length)[None, :])


def _check_audio(cfg: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder) -> None:
    audio_rate(builder, cfg.name, cfg.sample_rate, key=cfg.input_key)


register(InputKind(
    name="audio", decode=_decode_audio, train_view=_audio_train_view, eval_views=_audio_eval_views,
    view_shape=lambda cfg, feature: (crop_samples(cfg),), check=_check_audio, sample_rate=lambda cfg: cfg.sample_rate))


# --- images ---

def _decode_image(image: tf.Tensor) -> tf.Tensor:
    if image.dtype == tf.uint8:
        return tf.cast(image, tf.float32) / 255.0
    return tf.cast(image, tf.float32)


def _image_shape(cfg: ml_collections.ConfigDict, feature) -> tuple[int, ...]:
    shape = tuple(feature.shape)
    if any(d is None for d in shape):
        raise UserError(f"dataset '{cfg.name}': image feature '{cfg.input_key}' has shape {shape}; images of one "
                        "fixed shape are needed")
    return shape


register(InputKind(
    name="image", decode=_decode_image, train_view=lambda image, cfg, seed: image,
    eval_views=lambda image, cfg, num_views: image[None], view_shape=_image_shape, num_views=lambda num_crops: 1))
