"""Shared fixtures: scorebank/tiny built once per test session into a fresh directory."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402


def _hide_gpus_from_tf() -> None:
    import tensorflow as tf
    tf.config.set_visible_devices([], "GPU")


@pytest.fixture(scope="session")
def tiny_data_dir(tmp_path_factory) -> str:
    """A data dir holding a freshly built scorebank/tiny (≤ 60 s)."""
    _hide_gpus_from_tf()
    import tensorflow_datasets as tfds
    import mirjax.data  # noqa: F401  (registers the builders)
    data_dir = str(tmp_path_factory.mktemp("tfds"))
    tfds.builder("scorebank/tiny", data_dir=data_dir).download_and_prepare()
    return data_dir


def tiny_config(data_dir: str, **overrides):
    """The default config shrunk to run in seconds on scorebank/tiny."""
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parent.parent / "configs" / "default.py"
    spec = importlib.util.spec_from_file_location("default_config", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    c = mod.get_config("tiny")
    c.dataset.data_dir = data_dir
    c.dataset.crop_seconds = 1.0
    c.dataset.shuffle_buffer = 64
    c.train.batch_size = 8
    c.train.num_steps = 6
    c.train.log_every = 1
    c.train.checkpoint_every = 2
    c.train.eval_every = 3
    c.train.eval_crops = 2
    c.train.progress = False
    c.eval.num_crops = 2
    c.eval.batch_size = 4
    c.optim.warmup_steps = 2
    for key, value in overrides.items():
        section, name = key.split(".")
        c[section][name] = value
    return c
