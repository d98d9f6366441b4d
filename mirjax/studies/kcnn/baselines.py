"""Song-level representations of the baselines (Zhang et al. §4.3) and the SVM that classifies every
representation.

Each baseline learns frame-level (here: segment-level, the same whitened F-frame segments the codebooks see)
features on the training part, encodes every segment of every clip, and max-pools them over the clip:

  sc   sparse coding: scikit-learn `MiniBatchDictionaryLearning` (L1-penalised dictionary learning, Mairal et
       al. 2009, the SPAMS algorithm) and lasso encoding with the same α
  ae   `mirjax.features.autoencoder` (sigmoid code, masking noise)
  dbn  `mirjax.features.rbm` (Gaussian-binary then binary CD-1 RBMs; top layer's probabilities)

SVM: RBF SVC on standardised features, C and γ = scale / dims chosen by grouped, stratified inner CV on the
training part only (the paper's "nonlinear SVM"; its parameters are not stated).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import ml_collections
import numpy as np
from sklearn.decomposition import MiniBatchDictionaryLearning
from sklearn.metrics import balanced_accuracy_score
from sklearn.model_selection import GridSearchCV, StratifiedGroupKFold, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mirjax.features import autoencoder, rbm


def _sample(segs: list[np.ndarray], max_samples: int, seed: int) -> np.ndarray:
    x = np.concatenate(segs)
    if len(x) > max_samples:
        x = x[np.random.default_rng(seed).choice(len(x), max_samples, replace=False)]
    return x


def _pool(encode: Callable[[np.ndarray], np.ndarray], segs: list[np.ndarray]) -> np.ndarray:
    """Encode every clip's segments in one call and max-pool per clip → (clips, features)."""
    codes = encode(np.concatenate(segs))
    return np.stack([c.max(axis=0) for c in np.split(codes, np.cumsum([len(s) for s in segs])[:-1])])


def sparse_coding(train: list[np.ndarray], every: list[np.ndarray], b: ml_collections.ConfigDict, seed: int):
    dl = MiniBatchDictionaryLearning(n_components=b.sc_atoms, alpha=b.sc_alpha, max_iter=b.sc_iters,
                                     batch_size=256, transform_algorithm="lasso_cd", transform_alpha=b.sc_alpha,
                                     random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        dl.fit(_sample(train, b.max_samples, seed))
        return _pool(dl.transform, every)


def autoencoder_rep(train: list[np.ndarray], every: list[np.ndarray], b: ml_collections.ConfigDict, seed: int):
    params = autoencoder.train_autoencoder(_sample(train, b.max_samples, seed), b.ae_hidden, seed,
                                           epochs=b.ae_epochs, noise=b.ae_noise)
    return _pool(lambda x: autoencoder.autoencoder_codes(params, x), every)


def dbn_rep(train: list[np.ndarray], every: list[np.ndarray], b: ml_collections.ConfigDict, seed: int):
    rbms = rbm.train_dbn(_sample(train, b.max_samples, seed), tuple(b.dbn_layers), seed, visible="gaussian",
                         epochs=b.dbn_epochs)
    return _pool(lambda x: rbm.dbn_transform(rbms, x), every)


# row name → representation learner (train segments, every clip's segments, config.baselines, seed) → (clips, dims)
BASELINES = {"SC + SVM": sparse_coding, "AE + SVM": autoencoder_rep, "DBN + SVM": dbn_rep}


def svm_scores(x_train, y_train, g_train, x_test, y_test, svm: ml_collections.ConfigDict, inner_folds: int,
               seed: int) -> dict:
    """Accuracy and mean per-class accuracy on the test items of an RBF SVC tuned by inner CV (module doc)."""
    dims = x_train.shape[1]
    grid = {"svm__C": list(svm.cs), "svm__gamma": [s / dims for s in svm.gamma_scales]}
    folds = min(inner_folds, int(np.bincount(y_train).min()) if len(np.unique(y_train)) else 2)
    if g_train is not None and len(np.unique(g_train)) >= inner_folds:
        cv = StratifiedGroupKFold(inner_folds, shuffle=True, random_state=seed)
    else:
        cv = StratifiedKFold(max(2, folds), shuffle=True, random_state=seed)
    search = GridSearchCV(Pipeline([("scale", StandardScaler()), ("svm", SVC(kernel="rbf"))]), grid, cv=cv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        search.fit(x_train, y_train, groups=g_train)
    pred = search.predict(x_test)
    return {"accuracy": float(np.mean(pred == y_test)),
            "mean_class_accuracy": float(balanced_accuracy_score(y_test, pred)),
            "C": float(search.best_params_["svm__C"]),
            "gamma_scale": float(search.best_params_["svm__gamma"] * dims)}
