"""What the recommendation package adds to mirjax's registries (loaded by `mirjax.registry.load_plugins`):

* the task `factors`: regression onto per-clip latent factors (Dieleman thesis Ch. 4) read from a targets file
  (`config.dataset.targets`, made by `mirjax recommend targets`) by clip index, with the losses `mse` (Eq. 4.4)
  and `wpe` (Eq. 4.5, user factors fixed, as each clip's quadratic), scored by R², MSE and — from the same file,
  when it holds the split's plays — the recommendation metrics of the predicted factors (mAP@500, AUC);
* the front-end `mfcc_bow` (the bag-of-words baseline, `mirjax.recommendation.bow`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import tensorflow as tf

from mirjax import tasks
from mirjax.errors import UserError
from mirjax.evaluation import metrics as eval_metrics
from mirjax.recommendation import bow  # noqa: F401  (registers the mfcc_bow front-end)
from mirjax.recommendation.metrics import ranking_metrics
from mirjax.recommendation.targets import Targets, load_targets as _load_targets_file


def wpe_loss(pred: jax.Array, labels: dict[str, jax.Array]) -> jax.Array:
    """Dieleman Eq. 4.5 with the user factors fixed: Σ_u c_ui (p_ui − x_uᵀy'_i)² per clip, from the clip's
    quadratic ŷᵀAŷ − 2bᵀŷ + k (`mirjax.recommendation.targets`), a mean over users and clips."""
    if "wpe_gram" not in labels:
        raise UserError("train.loss=wpe needs targets built with the WPE quadratics (targets --wpe)")
    quad = jnp.einsum("bi,bij,bj->b", pred, labels["wpe_gram"], pred)
    return (quad - 2.0 * jnp.sum(labels["wpe_b"] * pred, axis=-1) + labels["wpe_const"]).mean()


def factors_mse_loss(pred: jax.Array, labels: dict[str, jax.Array]) -> jax.Array:
    """Dieleman Eq. 4.4 on the targets' factors."""
    return tasks.mse_loss(pred, labels["factors"])


def load_targets(data: ml_collections.ConfigDict) -> Targets:
    """The targets of `config.dataset`, checked against its name."""
    if not data.targets:
        raise UserError("dataset.task=factors needs config.dataset.targets (a targets file, e.g. from "
                        "`mirjax recommend targets`)")
    targets = _load_targets_file(data.targets)
    made_for = targets.meta.get("dataset")
    if made_for and made_for != data.name:
        raise UserError(f"targets {data.targets} were made for '{made_for}', not for config.dataset.name="
                        f"'{data.name}'")
    return targets


def _check(data: ml_collections.ConfigDict, split_sizes: dict[str, int] | None = None) -> None:
    """Missing targets, or targets of another dataset, fail before any work; once the dataset is known, so do
    targets of another build (one row per clip of every split)."""
    targets = load_targets(data)
    for split, rows in targets.meta.get("split_sizes", {}).items():
        if split_sizes and split in split_sizes and split_sizes[split] != rows:
            raise UserError(f"targets {data.targets} have {rows} rows for split '{split}' but '{data.name}' has "
                            f"{split_sizes[split]} clips; were they made for another build?")


def _label_names(data: ml_collections.ConfigDict) -> Sequence[str]:
    return tuple(f"factor{i}" for i in range(load_targets(data).num_factors))


def _attach_labels(ds: tf.data.Dataset, data: ml_collections.ConfigDict, split: str, train: bool) -> tf.data.Dataset:
    """(index, example) → (index, example with 'label' = row `index` of the split's targets). Training gets every
    per-clip array (the WPE loss needs its quadratic), evaluation the factors only."""
    arrays = load_targets(data).per_clip(split)
    if not train:
        arrays = {"factors": arrays["factors"]}
    table = {k: tf.constant(v) for k, v in arrays.items()}
    if train:
        return ds.map(lambda i, ex: (i, {**ex, "label": {k: tf.gather(v, i) for k, v in table.items()}}),
                      num_parallel_calls=tf.data.AUTOTUNE)
    return ds.map(lambda i, ex: (i, {**ex, "label": tf.gather(table["factors"], i)}),
                  num_parallel_calls=tf.data.AUTOTUNE)


def _metrics(labels: np.ndarray, scores: np.ndarray, names: Sequence[str], ctx: tasks.Context) -> dict[str, Any]:
    result = eval_metrics.regression_metrics(labels, scores)
    targets = load_targets(ctx.data)
    if ctx.split in targets.splits and "plays_indptr" in targets.split(ctx.split):
        m = ranking_metrics(targets.user_factors, scores, targets.relevance(ctx.split))
        result.update({"map@500": m.map_at_k, "rec_auc": m.auc})  # AP@500 (= AP when a split has fewer clips)
    return result


FACTORS = tasks.register(tasks.Task(
    name="factors", losses={"mse": factors_mse_loss, "wpe": wpe_loss}, activation="identity", metrics=_metrics,
    validation_metric="r2", summary_keys=("r2", "mse", "map@500", "rec_auc"), check=_check,
    label_names=_label_names, attach_labels=_attach_labels))
