"""Evaluation: tagging/classification metrics, test-time and ensemble averaging, plots, reports."""

from mirjax.evaluation.averaging import (
    ACTIVATIONS,
    AVERAGING_MODES,
    average_predictions,
    evenly_spaced_offsets,
)
from mirjax.evaluation.metrics import (
    accuracy,
    classification_metrics,
    confusion_matrix,
    macro,
    pr_auc_per_tag,
    regression_metrics,
    roc_auc_per_tag,
    roc_curve,
    tagging_metrics,
)
from mirjax.evaluation.plots import plot_confusion, plot_per_tag_auc, plot_roc_curves
from mirjax.evaluation.report import to_jsonable, write_report

__all__ = [
    "ACTIVATIONS",
    "AVERAGING_MODES",
    "accuracy",
    "average_predictions",
    "classification_metrics",
    "confusion_matrix",
    "evenly_spaced_offsets",
    "macro",
    "plot_confusion",
    "plot_per_tag_auc",
    "plot_roc_curves",
    "pr_auc_per_tag",
    "regression_metrics",
    "roc_auc_per_tag",
    "roc_curve",
    "tagging_metrics",
    "to_jsonable",
    "write_report",
]
