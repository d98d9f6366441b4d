"""SVM classifiers and regressors of the transfer study (Choi thesis, Ch. 6, §6.2.3, §6.4.1), with scikit-learn.

Grid (`GRIDS["full"]`, the thesis's): kernel linear or RBF exp(−γ|x − x'|²), γ ∈ {2⁻³, 2⁻⁵, …, 2⁻¹³, 1/N_f}
(`"auto"`: N_f = feature dimensions), C ∈ {0.1, 2, 8, 32}; standardisation on or off is itself a grid parameter
(a Pipeline whose first step is a StandardScaler or `passthrough`): 2 × (4 + 7 × 4) = 64 points.
`GRIDS["small"]` (2 × (2 + 3 × 2) = 16 points) is for quick looks on a small machine, `GRIDS["tiny"]` (2) for
smoke tests.

Folds: 10-fold cross-validation with a fixed seed, stratified for classification (KFold for regression), group-aware
where the items have groups (StratifiedGroupKFold / GroupKFold), predefined where the dataset has folds
(PredefinedSplit). Two scores per feature:
- `cv`: the best grid point's mean score over the folds that chose it (`GridSearchCV.best_score_`), the number the
  thesis reports — optimistic, since the same folds select and score;
- `nested`: the mean over the same outer folds of the score of a grid search run *inside* each outer training part
  (`cross_val_score` of a `GridSearchCV`, inner folds of the same kind), so that no outer test item takes part in
  the selection.
"""

from __future__ import annotations

import contextlib
import dataclasses
import warnings

import numpy as np
import sklearn
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, FitFailedWarning
from sklearn.metrics import confusion_matrix
from sklearn.model_selection import (
    GridSearchCV,
    GroupKFold,
    KFold,
    PredefinedSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    cross_val_score,
)
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC, SVR

from mirjax.errors import UserError
from mirjax.studies.transfer.targets import CLASSIFICATION, Problem

SEED = 1209  # the seed of the thesis's scripts


@dataclasses.dataclass(frozen=True)
class Grid:
    gammas: tuple  # RBF widths: floats, and "auto" = 1 / N_f; empty = no RBF points
    cs: tuple[float, ...]
    scalers: tuple[bool, ...] = (False, True)
    linear: bool = True


GRIDS = {
    "full": Grid(tuple(2.0 ** -i for i in (3, 5, 7, 9, 11, 13)) + ("auto",), (0.1, 2.0, 8.0, 32.0)),
    "small": Grid((2.0 ** -5, 2.0 ** -9, "auto"), (2.0, 32.0)),
    "tiny": Grid(("auto",), (2.0,), (True,)),  # 2 points: smoke tests
}


def get_grid(name: str) -> Grid:
    if name not in GRIDS:
        raise UserError(f"unknown grid '{name}'; valid: {', '.join(GRIDS)}")
    return GRIDS[name]


def pipeline(kind: str, max_iter: int = -1) -> Pipeline:
    """[scaler or passthrough, SVC / SVR]. `max_iter` > 0 caps libsvm's iterations per binary problem (-1: none)."""
    svm = (SVC(cache_size=500, max_iter=max_iter) if kind == CLASSIFICATION
           else SVR(cache_size=500, max_iter=max_iter))
    return Pipeline([("scale", "passthrough"), ("svm", svm)])


def param_grid(grid: Grid) -> list[dict]:
    """The grid as GridSearchCV's list of dicts (RBF points and linear points)."""
    scale = [StandardScaler() if s else "passthrough" for s in grid.scalers]
    rbf = [{"scale": scale, "svm__kernel": ["rbf"], "svm__gamma": list(grid.gammas), "svm__C": list(grid.cs)}]
    linear = [{"scale": scale, "svm__kernel": ["linear"], "svm__C": list(grid.cs)}]
    return (rbf if grid.gammas else []) + (linear if grid.linear else [])


def grid_size(grid: Grid) -> int:
    return len(grid.scalers) * len(grid.cs) * (len(grid.gammas) + int(grid.linear))


def scoring(kind: str) -> str:
    return "accuracy" if kind == CLASSIFICATION else "r2"


def outer_cv(p: Problem, n_folds: int, seed: int = SEED):
    """(splitter, groups to pass to it) for the reported scores."""
    if p.folds is not None:
        return PredefinedSplit(p.folds), None
    if p.target.kind == CLASSIFICATION:
        if p.groups is not None:
            return StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed), p.groups
        return StratifiedKFold(n_folds, shuffle=True, random_state=seed), None
    if p.groups is not None:
        return GroupKFold(n_folds, shuffle=True, random_state=seed), p.groups
    return KFold(n_folds, shuffle=True, random_state=seed), None


def inner_cv(p: Problem, n_folds: int, seed: int = SEED):
    """(splitter, groups) for the selection inside an outer training part: whole predefined folds held out where
    the dataset has numbered folds, else folds of the same kind as the outer ones."""
    if p.folds is not None and len(np.unique(p.folds[p.folds >= 0])) > 1:
        return GroupKFold(min(n_folds, len(np.unique(p.folds)) - 1)), p.folds
    if p.target.kind == CLASSIFICATION:
        if p.groups is not None:
            return StratifiedGroupKFold(n_folds, shuffle=True, random_state=seed + 1), p.groups
        return StratifiedKFold(n_folds, shuffle=True, random_state=seed + 1), None
    if p.groups is not None:
        return GroupKFold(n_folds, shuffle=True, random_state=seed + 1), p.groups
    return KFold(n_folds, shuffle=True, random_state=seed + 1), None


@contextlib.contextmanager
def _quiet():
    """sklearn's per-fit warnings (a fold lacking a class, an SVM at its iteration limit) would flood the log."""
    with warnings.catch_warnings():
        for w in (ConvergenceWarning, FitFailedWarning, UserWarning, RuntimeWarning):
            warnings.simplefilter("ignore", w)
        yield


def _params_json(params: dict) -> dict:
    out = {}
    for k, v in params.items():
        name = k.split("__")[-1]
        out["standardise" if k == "scale" else name] = (not isinstance(v, str)) if k == "scale" else v
    if out.get("kernel") == "linear":
        out.pop("gamma", None)
    return out


def evaluate(X: np.ndarray, p: Problem, grid: Grid, n_folds: int = 10, nested: bool = False,
             inner_folds: int = 5, per_class: bool = False, n_jobs: int = 1, seed: int = SEED,
             max_iter: int = -1) -> dict:
    """Grid search (and optionally nested CV and per-class recall of the chosen point) of one feature set."""
    kind = p.target.kind
    cv, groups = outer_cv(p, n_folds, seed)
    search = GridSearchCV(pipeline(kind, max_iter), param_grid(grid), scoring=scoring(kind), cv=cv, n_jobs=n_jobs,
                          refit=False)
    with _quiet():
        search.fit(X, p.y, groups=groups)
        best = int(np.nanargmax(search.cv_results_["mean_test_score"]))
        out = {"cv": float(search.cv_results_["mean_test_score"][best]),
               "cv_std": float(search.cv_results_["std_test_score"][best]),
               "params": _params_json(search.cv_results_["params"][best]), "dims": int(X.shape[1]),
               "folds": int(cv.get_n_splits(X, p.y, groups))}
        if per_class and kind == CLASSIFICATION:
            out["per_class"] = per_class_recall(X, p, search.cv_results_["params"][best], cv, groups, max_iter)
        if nested:
            out["nested"], out["nested_std"] = nested_score(X, p, grid, cv, inner_folds, n_jobs, seed, max_iter)
    return out


def nested_score(X: np.ndarray, p: Problem, grid: Grid, cv, inner_folds: int, n_jobs: int = 1,
                 seed: int = SEED, max_iter: int = -1) -> tuple[float, float]:
    kind = p.target.kind
    inner, inner_groups = inner_cv(p, inner_folds, seed)
    with _quiet(), sklearn.config_context(enable_metadata_routing=True):
        search = GridSearchCV(pipeline(kind, max_iter), param_grid(grid), scoring=scoring(kind), cv=inner,
                              n_jobs=n_jobs)
        scores = cross_val_score(search, X, p.y, cv=cv, scoring=scoring(kind),
                                 params={"groups": inner_groups} if inner_groups is not None else None)
    return float(np.nanmean(scores)), float(np.nanstd(scores))


def per_class_recall(X: np.ndarray, p: Problem, params: dict, cv, groups, max_iter: int = -1) -> list[float]:
    """Recall of each class (the fraction of its items predicted right: Fig. 6.5's per-genre accuracy) over the
    outer test folds, with the chosen grid point refitted on each outer training part."""
    n_classes = max(len(p.class_names), int(p.y.max()) + 1)
    cm = np.zeros((n_classes, n_classes))
    est = pipeline(p.target.kind, max_iter).set_params(**params)
    for train, test in cv.split(X, p.y, groups):
        model = clone(est).fit(X[train], p.y[train])
        cm += confusion_matrix(p.y[test], model.predict(X[test]), labels=np.arange(n_classes))
    support = cm.sum(axis=1)
    return [float(cm[i, i] / support[i]) if support[i] else float("nan") for i in range(n_classes)]
