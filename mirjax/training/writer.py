"""Metrics to `metrics.jsonl` (one JSON object per line) and TensorBoard event files, from process 0."""

from __future__ import annotations

import json
import math
import os
from typing import Any

import jax


class MetricWriter:
    def __init__(self, workdir: str):
        self.enabled = jax.process_index() == 0
        if not self.enabled:
            return
        os.makedirs(workdir, exist_ok=True)
        self._jsonl = open(os.path.join(workdir, "metrics.jsonl"), "a")
        import tensorflow as tf  # TensorBoard event files; tf is already our tf.data dependency
        self._tb = tf.summary.create_file_writer(os.path.join(workdir, "tensorboard"))

    def write(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in metrics.items() if _is_scalar(v)}
        self._jsonl.write(json.dumps({"step": int(step), **{k: (None if not math.isfinite(v) else v)
                                                            for k, v in scalars.items()}}) + "\n")
        self._jsonl.flush()
        import tensorflow as tf
        with self._tb.as_default(step=int(step)):
            for k, v in scalars.items():
                tf.summary.scalar(k, v)
        self._tb.flush()

    def close(self) -> None:
        if self.enabled:
            self._jsonl.close()
            self._tb.close()


def _is_scalar(v: Any) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False
