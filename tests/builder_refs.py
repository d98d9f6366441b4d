"""Shared helpers of the real-data builder tests: build a builder from a fake manual directory while
collecting the warning lines, and find the frequency of a test sine."""

from __future__ import annotations

import logging

import numpy as np
import tensorflow as tf
import tensorflow_datasets as tfds

SPLITS = ("train", "validation", "test")


def peak_hz(audio: np.ndarray, sr: int) -> float:
    x = audio.astype(np.float64)
    spec = np.abs(np.fft.rfft(x * np.hanning(len(x))))
    return float(np.fft.rfftfreq(len(x), 1.0 / sr)[np.argmax(spec)])


class _Records(logging.Handler):
    def __init__(self):
        super().__init__(logging.WARNING)
        self.lines = []

    def emit(self, record):
        self.lines.append(record.getMessage())


def prepare(builder, manual_dir=None) -> list[str]:
    """download_and_prepare (manual dir optional); returns the warning lines mirjax logged meanwhile."""
    tf.config.set_visible_devices([], "GPU")
    rec = _Records()
    logging.getLogger("mirjax").addHandler(rec)
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(manual_dir) if manual_dir else None))
    finally:
        logging.getLogger("mirjax").removeHandler(rec)
    return rec.lines


def build(builder, manual_dir):
    """download_and_prepare with `manual_dir`; returns ({split: [examples]}, warning lines)."""
    lines = prepare(builder, manual_dir)
    return {s: list(tfds.as_numpy(builder.as_dataset(split=s))) for s in SPLITS}, lines


def build_train(builder, manual_dir=None):
    """For a builder with one split, `train`: download_and_prepare; returns ([train examples], warning lines)."""
    lines = prepare(builder, manual_dir)
    assert list(builder.info.splits) == ["train"]
    return list(tfds.as_numpy(builder.as_dataset(split="train"))), lines
