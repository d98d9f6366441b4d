"""Analyses of evaluated models beyond the headline metrics (per-tag, per-category, tag popularity)."""

from mirjax.analysis.tags import (
    category_summary,
    compare_models,
    plot_category_auc,
    plot_popularity_vs_auc,
    plot_tagwise_comparison,
    popularity_correlation,
    tag_popularity,
)

__all__ = [
    "category_summary",
    "compare_models",
    "plot_category_auc",
    "plot_popularity_vs_auc",
    "plot_tagwise_comparison",
    "popularity_correlation",
    "tag_popularity",
]
