"""Inference over a whole split: K views per example (evenly spaced crops of a clip), jitted and sharded like
training."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import jax
import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from jax.experimental import multihost_utils
from tqdm.auto import tqdm

from mirjax.data import inputs, pipeline
from mirjax.errors import UserError
from mirjax.training import sharding


def predict_split(cfg_data: ml_collections.ConfigDict, builder: tfds.core.DatasetBuilder, split: str,
                  predict_fn: Callable[[Any, jax.Array], jax.Array], variables: Any, mesh: jax.sharding.Mesh,
                  num_crops: int, batch_clips: int, progress: bool = True,
                  attach_labels: pipeline.AttachLabels | None = None) -> tuple[np.ndarray, np.ndarray]:
    """View outputs `(clips, views, num_outputs)` and labels for every example of `split`, in file order
    (interleaved by process on multi-host runs; outputs and labels stay aligned). Audio has `num_crops` views."""
    n_dev, n_proc = jax.device_count(), jax.process_count()
    # Rows per step (clips × crops) must split evenly over this process's devices.
    num_views = inputs.kind_of(cfg_data, builder).num_views(num_crops)
    while (batch_clips * num_views) % (n_dev // n_proc):
        batch_clips += 1
    n_clips = builder.info.splits[split].num_examples
    num_batches = math.ceil(math.ceil(n_clips / n_proc) / batch_clips)  # the same on every process
    data_sharding = sharding.batch_sharding(mesh)
    it = pipeline.eval_batches(cfg_data, builder, split, num_crops, batch_clips, attach_labels)
    logits, labels, template = [], [], None
    for _ in tqdm(range(num_batches), desc=f"predict {split}", disable=not progress, leave=False):
        batch = next(it, None)
        if batch is None:  # this process ran out of clips before another: a fully masked batch
            if template is None:
                raise UserError(f"split '{split}' has fewer clips ({n_clips}) than processes ({n_proc})")
            batch = {k: np.zeros_like(v) for k, v in template.items()}
        template = batch
        views = batch["input"].shape[1]
        rows = batch["input"].reshape((-1,) + batch["input"].shape[2:])  # (clips × views, *view shape)
        out = predict_fn(variables, jax.make_array_from_process_local_data(data_sharding, rows))
        out = multihost_utils.process_allgather(out, tiled=True) if n_proc > 1 else np.asarray(out)
        mask, label = batch["mask"], batch["label"]
        if n_proc > 1:
            mask = multihost_utils.process_allgather(mask, tiled=True)
            label = multihost_utils.process_allgather(label, tiled=True)
        out = np.asarray(out).reshape((len(mask), views, -1))
        logits.append(out[mask])
        labels.append(np.asarray(label)[mask])
    return np.concatenate(logits), np.concatenate(labels)
