"""Recommendation (Dieleman thesis Ch. 4): weighted matrix factorisation of implicit feedback by ALS, the ranking
metrics (mAP@500, per-user AUC) used to evaluate recommendations, and (submodules) the regression targets for
predicting latent factors from audio (`targets`), the bag-of-words baseline (`bow`) and the analyses (`analysis`)."""

from mirjax.recommendation.metrics import RankingMetrics, metrics_from_scores, random_baseline, ranking_metrics
from mirjax.recommendation.wmf import (
                                       Interactions,
                                       WMFResult,
                                       as_interactions,
                                       balance_factors,
                                       factorize,
                                       fit_wmf,
                                       solve_rows,
                                       surplus_confidence,
                                       wmf_objective,
)

__all__ = ["Interactions", "RankingMetrics", "WMFResult", "as_interactions", "balance_factors", "factorize", "fit_wmf",
           "metrics_from_scores", "random_baseline", "ranking_metrics", "solve_rows", "surplus_confidence",
           "wmf_objective"]
