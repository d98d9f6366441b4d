"""Shared fixtures: scorebank/tiny built once per test session into a fresh directory.

The session's data cache is a fresh temporary directory: `MIRJAX_DATA_DIR` is set here, before any test module
imports mirjax.data, so neither a fixture nor a CLI run in a subprocess can pick up a stale dataset from the
user's ~/.cache/mirjax (or from a `MIRJAX_DATA_DIR` set in the shell)."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
SESSION_DATA_DIR = tempfile.mkdtemp(prefix="mirjax-test-data-")
os.environ["MIRJAX_DATA_DIR"] = SESSION_DATA_DIR
# librosa's numba functions are cached (cache=True) next to librosa in site-packages; two pytest-xdist workers
# compiling and writing the same cache files at once can leave one loading a half-written file (a segfault in
# librosa.onset). Each test process gets a cache of its own.
os.environ["NUMBA_CACHE_DIR"] = os.path.join(SESSION_DATA_DIR, "numba-cache")
atexit.register(shutil.rmtree, SESSION_DATA_DIR, ignore_errors=True)
# The tests compile the same training steps again and again (every tiny training run, in this process and in the
# CLI subprocesses, which inherit these variables): XLA's persistent compilation cache, keyed by the program, the
# jax version and the flags, lets them compile once. One fresh directory per test session, made by the first
# process to import this file (the pytest-xdist controller, whose workers inherit it) and removed by it at exit.
# A size cap turns on JAX's file lock (without one, a reader could load an entry another process is still
# writing); since JAX then rescans the directory at every write, only compilations of ≥ 1 s (JAX's default) are
# cached, which keeps it to the few hundred that matter.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    os.environ["JAX_COMPILATION_CACHE_DIR"] = tempfile.mkdtemp(prefix="mirjax-test-jax-cache-")
    atexit.register(shutil.rmtree, os.environ["JAX_COMPILATION_CACHE_DIR"], ignore_errors=True)
os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(1 << 30))

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
    from mirjax.config import load_config
    c = load_config("configs/default.py:tiny")  # resolved from the repository root
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
