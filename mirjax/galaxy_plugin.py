"""What the galaxy system (Dieleman thesis, App. A) adds to mirjax's registries (loaded by
`mirjax.registry.load_plugins`; the model `galaxy_convnet` and the datasets `galaxies` and `galaxy_zoo` register
with their packages):

* the task `galaxy`: the 37 cumulative Galaxy Zoo answers of `config.dataset.label_key` (`answers`), the MSE over
  images × answers as the loss, and as metrics the competition's RMSE (`rmse`, validation score `neg_rmse`),
  per-question RMSE, and on images where ≥ 50 % of the volunteers answered a question the per-answer precision
  and recall (Table A.4) and the accuracy per agreement bin (Fig. A.7, also plotted).

The galaxy convnet returns all its test-time views side by side, `(images, views × 37)`; this task's `scores`
unfolds them into `(images, views, 37)` next to the ensemble's models and averages every prediction set
uniformly (outputs are already probabilities, so every `eval.averaging` mode is the mean, as in the thesis).
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from mirjax import galaxy_tree, tasks
from mirjax.analysis import galaxy as analysis
from mirjax.evaluation import averaging


def mse_loss(pred: jax.Array, labels: jax.Array) -> jax.Array:
    """Mean squared error over images × 37 answers (the competition code's objective)."""
    return jnp.mean((pred - labels.astype(pred.dtype).reshape(pred.shape)) ** 2)


def unfold_views(views: np.ndarray) -> np.ndarray:
    """(images, k, views × 37) → (images, k × views, 37): test-time views next to the ensemble's models."""
    views = np.asarray(views)
    return views.reshape(views.shape[0], -1, galaxy_tree.NUM_ANSWERS)


def _metrics(labels: np.ndarray, scores: np.ndarray, names: Sequence[str], ctx: tasks.Context) -> dict[str, Any]:
    labels = np.asarray(labels, np.float64).reshape(np.shape(scores))
    err = (np.asarray(scores, np.float64) - labels) ** 2
    result: dict[str, Any] = {"rmse": float(np.sqrt(err.mean())), "neg_rmse": -float(np.sqrt(err.mean())),
                              "mse": float(err.mean())}
    result["rmse_per_question"] = {q.name: float(np.sqrt(err[:, galaxy_tree.SLICES[q.name]].mean()))
                                   for q in galaxy_tree.QUESTIONS}
    result["precision_recall"] = analysis.precision_recall(labels, scores)
    result["accuracy_vs_agreement"] = analysis.accuracy_vs_agreement(labels, scores)
    return result


def _plots(labels, scores, result, names, workdir) -> list[str]:
    curves = result.get("accuracy_vs_agreement") or analysis.accuracy_vs_agreement(labels, scores)
    if not curves:
        return []
    return [analysis.plot_accuracy_vs_agreement(curves, os.path.join(workdir, "accuracy_vs_agreement.png"),
                                                title=f"Accuracy vs agreement (RMSE {result['rmse']:.4f})")]


@dataclasses.dataclass(frozen=True)
class GalaxyTask(tasks.Task):
    def scores(self, views: np.ndarray, averaging_mode: str) -> np.ndarray:
        return np.asarray(averaging.average_predictions(unfold_views(views), axis=1, mode=averaging_mode,
                                                        activation=self.activation))


GALAXY = tasks.register(GalaxyTask(
    name="galaxy", losses={"mse": mse_loss}, activation="identity", metrics=_metrics, validation_metric="neg_rmse",
    summary_keys=("rmse",), plots=_plots))
