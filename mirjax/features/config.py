"""The config schema of feature-learning experiments (`mirjax features`): every key such a config may
set, with its default. Like `mirjax.config.base_config` for train.py, an unknown key fails at once with one line.
`features` are `extraction.Spec`'s fields, `downstream` are `downstream.Hparams`' plus the run controls below."""

from __future__ import annotations

import dataclasses

import ml_collections

from mirjax.errors import UserError
from mirjax.features.downstream import Hparams
from mirjax.features.extraction import Spec

TASKS = ("multilabel", "multiclass", "nca")


def feature_config() -> ml_collections.ConfigDict:
    c = ml_collections.ConfigDict()
    c.seed = 0
    c.batch_clips = 32  # clips per jitted spectrogram / encoding batch

    c.dataset = ml_collections.ConfigDict()
    c.dataset.name = "scorebank/default"
    c.dataset.data_dir = ""
    c.dataset.manual_dir = ""
    c.dataset.label_key = "tags"
    c.dataset.task = "multilabel"  # multilabel (tag MLP) | multiclass (genre MLP) | nca (metric learning)
    c.dataset.sample_rate = 16000
    c.dataset.clip_seconds = 0.0  # every clip cut / padded to this; 0 = the first clip's length
    c.dataset.pad_mode = "repeat"
    c.dataset.train_split = "train"
    c.dataset.eval_split = "validation"
    c.dataset.test_split = "test"
    c.dataset.max_clips = 0  # per split; 0 = all (smoke runs)

    c.features = ml_collections.ConfigDict(dataclasses.asdict(Spec()))

    c.downstream = ml_collections.ConfigDict(dataclasses.asdict(Hparams()))
    c.downstream.runs = 1  # learner restarts with different seeds; the thesis averages 10
    c.downstream.use_levels = ""  # comma-separated levels to train on ("" = all): the per-level analysis
    c.downstream.use_layers = ""  # comma-separated hierarchy layers, 1-based ("" = all)
    return c


def spec(config: ml_collections.ConfigDict) -> Spec:
    return Spec(**config.features.to_dict())


def hparams(config: ml_collections.ConfigDict) -> Hparams:
    fields = {f.name for f in dataclasses.fields(Hparams)}
    return Hparams(**{k: v for k, v in config.downstream.to_dict().items() if k in fields})


def index_list(text: str, what: str, offset: int = 0) -> list[int] | None:
    """"0,2,5" → [0, 2, 5] (minus `offset`); "" → None (all)."""
    if not str(text).strip():
        return None
    try:
        return [int(v) - offset for v in str(text).split(",")]
    except ValueError:
        raise UserError(f"downstream.{what} must be comma-separated integers, got '{text}'") from None
