"""The Ch. 2 baselines (thesis §2.6): naive Bayes and logistic regression on 32-beat windows of the 24-d features,
both standardised to zero mean and unit variance per dimension (fitted on the training split); a track's
posterior is the mean of its windows' posteriors. Logistic regression is trained by plain SGD with a constant
learning rate for 30 epochs (scikit-learn's `SGDClassifier`), as in the thesis's learning-rate grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.naive_bayes import GaussianNB

WINDOW = 32
LR_GRID = (5e-3, 5e-4, 5e-5, 5e-6, 5e-7)  # thesis §2.6


def windows(tracks: Sequence[np.ndarray], length: int = WINDOW, hop: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Flattened windows (n, length × dims) and the index of each window's track; short tracks are repeated."""
    out, owner = [], []
    for i, t in enumerate(tracks):
        if len(t) < length:
            t = np.tile(t, (-(-length // len(t)), 1))
        for s in range(0, len(t) - length + 1, hop):
            out.append(t[s:s + length].reshape(-1))
            owner.append(i)
    return np.stack(out).astype(np.float32), np.asarray(owner)


def track_accuracy(window_probs: np.ndarray, owner: np.ndarray, labels: np.ndarray, classes: np.ndarray) -> float:
    sums = np.zeros((len(labels), window_probs.shape[1]))
    np.add.at(sums, owner, window_probs)
    return float(np.mean(classes[np.argmax(sums, axis=1)] == labels))


def prepare(data: dict, hop: int = 8) -> dict:
    """{split: (standardised windows, owner)}; the scaler is fitted on the training steps."""
    steps = np.concatenate(data["train"]["tracks"])
    mean, std = steps.mean(axis=0), steps.std(axis=0) + 1e-6
    return {s: windows([(t - mean) / std for t in d["tracks"]], hop=hop) for s, d in data.items()}


def naive_bayes(win: dict, data: dict, task: str) -> dict:
    x, owner = win["train"]
    model = GaussianNB().fit(x, data["train"][task][owner])
    return {s: track_accuracy(model.predict_proba(win[s][0]), win[s][1], data[s][task], model.classes_)
            for s in ("validation", "test")}


def logistic_regression(win: dict, data: dict, task: str, learning_rate: float, epochs: int = 30,
                        seed: int = 0) -> dict:
    x, owner = win["train"]
    model = SGDClassifier(loss="log_loss", learning_rate="constant", eta0=learning_rate, alpha=0.0,
                          max_iter=epochs, tol=None, random_state=seed)
    model.fit(x, data["train"][task][owner])
    return {s: track_accuracy(model.predict_proba(win[s][0]), win[s][1], data[s][task], model.classes_)
            for s in ("validation", "test")}
