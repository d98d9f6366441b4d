"""Tasks as plug-ins: what a model's outputs mean, how it is trained on them and how it is scored.

A `Task` names its losses (the first is the default), the activation that turns outputs into scores, how labels
are attached to a dataset's examples, its metrics, its plots, and the validation score that keep-best and early
stopping follow. The trainer and the evaluation call the task; they never branch on its name. The core tasks:

| task         | outputs          | losses     | metrics                               | validation score |
|--------------|------------------|------------|---------------------------------------|------------------|
| `multilabel` | sigmoid per tag  | bce        | macro / per-tag ROC-AUC and PR-AUC    | roc_auc_macro    |
| `multiclass` | softmax          | ce         | accuracy, confusion matrix            | accuracy         |
| `regression` | identity         | mse        | R², MSE                               | r2               |

Their labels are the dataset feature `config.dataset.label_key`. A plug-in registers more with `register(Task(…))`
from its own package (e.g. `mirjax.recommendation.plugin` registers `factors`: latent-factor regression with the
WPE loss and ranking metrics, labels read from a targets file); `get(name)` loads the installed plug-ins
(`mirjax.registry`) before it gives up on an unknown name.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from mirjax import registry
from mirjax.errors import UserError
from mirjax.evaluation import averaging, metrics, plots

Loss = Callable[[jax.Array, Any], jax.Array]  # (outputs (batch, n), labels) -> scalar


def bce_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Binary cross-entropy of independent tags, mean over examples and tags."""
    return optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype)).mean()


def ce_loss(logits: jax.Array, labels: jax.Array) -> jax.Array:
    """Softmax cross-entropy with integer class labels, mean over examples."""
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32)).mean()


def mse_loss(pred: jax.Array, labels: jax.Array) -> jax.Array:
    """Squared error summed over outputs, mean over examples (Dieleman thesis Eq. 4.4)."""
    labels = labels.astype(pred.dtype).reshape(pred.shape)
    return jnp.sum((pred - labels) ** 2, axis=-1).mean()


@dataclasses.dataclass(frozen=True)
class Context:
    """Where scores come from: the dataset config and the split (plug-in metrics may need more than labels)."""
    data: ml_collections.ConfigDict
    split: str


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    losses: Mapping[str, Loss]  # name -> loss; the first is the default
    activation: str  # averaging activation: sigmoid | softmax | identity
    metrics: Callable[[np.ndarray, np.ndarray, Sequence[str], Context], dict[str, Any]]  # (labels, scores, names, ctx)
    validation_metric: str  # the default `train.best_metric` (higher is better)
    summary_keys: tuple[str, ...]  # report keys printed in eval's one-line summary
    # (labels, scores, metrics result, names, workdir) -> written PNG paths
    plots: Callable[[np.ndarray, np.ndarray, dict, Sequence[str], str], list[str]] = lambda *a: []
    # Optional hooks for labels that are not a dataset feature (e.g. a targets file):
    # (data config, split sizes or None before the dataset is loaded) -> raise UserError on a bad config, early
    check: Callable[[ml_collections.ConfigDict, dict[str, int] | None], None] = lambda data, split_sizes=None: None
    label_names: Callable[[ml_collections.ConfigDict], Sequence[str]] | None = None  # else from the feature
    # (ds of (index, example), data config, split, train) -> ds of (index, example with 'label'); None: the
    # feature `data.label_key` is the label.
    attach_labels: Callable[[Any, ml_collections.ConfigDict, str, bool], Any] | None = None

    def loss(self, name: str = "") -> Loss:
        """The loss `name` (default: the task's first); a loss that does not fit the task is a UserError."""
        if name and name not in self.losses:
            raise UserError(f"config key 'train.loss'={name!r} does not fit dataset.task={self.name}; valid: "
                            f"{', '.join(self.losses)}")
        return self.losses[name or next(iter(self.losses))]

    def scores(self, views: np.ndarray, averaging_mode: str) -> np.ndarray:
        """(clips, views, outputs) outputs -> (clips, outputs) scores, averaged over the views (crops, models)."""
        return np.asarray(averaging.average_predictions(views, axis=1, mode=averaging_mode,
                                                        activation=self.activation))

    def best_metric(self, configured: str = "") -> str:
        return configured or self.validation_metric


TASKS: dict[str, Task] = {}


def register(task: Task) -> Task:
    if task.name in TASKS:
        raise ValueError(f"task {task.name!r} is already registered")
    TASKS[task.name] = task
    return task


def get(name: str) -> Task:
    if name not in TASKS:
        registry.load_plugins()
    if name not in TASKS:
        raise UserError(f"unknown dataset.task '{name}'; valid: {', '.join(sorted(TASKS))}")
    return TASKS[name]


# --- the core tasks ---

def _tagging_plots(labels, scores, result, names, workdir) -> list[str]:
    return [plots.plot_per_tag_auc(result["roc_auc_per_tag"], os.path.join(workdir, "per_tag_auc.png"),
                                   title=f"Per-tag ROC-AUC (macro {result['roc_auc_macro']:.3f})"),
            plots.plot_roc_curves(labels, scores, list(names), os.path.join(workdir, "roc_curves.png"))]


def _confusion_plot(labels, scores, result, names, workdir) -> list[str]:
    return [plots.plot_confusion(np.asarray(result["confusion_matrix"]), list(names),
                                 os.path.join(workdir, "confusion.png"))]


register(Task(
    name="multilabel", losses={"bce": bce_loss}, activation="sigmoid",
    metrics=lambda labels, scores, names, ctx: metrics.tagging_metrics(labels, scores, list(names)),
    validation_metric="roc_auc_macro", summary_keys=("roc_auc_macro", "pr_auc_macro"), plots=_tagging_plots))

register(Task(
    name="multiclass", losses={"ce": ce_loss}, activation="softmax",
    metrics=lambda labels, scores, names, ctx: metrics.classification_metrics(labels, scores, list(names)),
    validation_metric="accuracy", summary_keys=("accuracy",), plots=_confusion_plot))

register(Task(
    name="regression", losses={"mse": mse_loss}, activation="identity",
    metrics=lambda labels, scores, names, ctx: metrics.regression_metrics(
        np.asarray(labels).reshape(np.shape(scores)), scores),
    validation_metric="r2", summary_keys=("r2", "mse")))
