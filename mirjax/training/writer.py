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
        # tensorboardX writes TensorBoard event files without the tensorboard package (tensorflow-cpu lacks it).
        from tensorboardX import SummaryWriter
        self._tb = SummaryWriter(os.path.join(workdir, "tensorboard"))

    def write(self, step: int, metrics: dict[str, Any]) -> None:
        if not self.enabled:
            return
        scalars = {k: float(v) for k, v in metrics.items() if _is_scalar(v)}
        self._jsonl.write(json.dumps({"step": int(step), **{k: (None if not math.isfinite(v) else v)
                                                            for k, v in scalars.items()}}) + "\n")
        self._jsonl.flush()
        for k, v in scalars.items():
            self._tb.add_scalar(k, v, global_step=int(step))
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
