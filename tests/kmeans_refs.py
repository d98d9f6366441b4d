"""The independent reference of the spherical K-means tests: Coates & Ng (2012), Algorithm 1, in numpy."""

from __future__ import annotations

import numpy as np


def numpy_spherical_kmeans(x: np.ndarray, init: np.ndarray, iters: int) -> np.ndarray:
    """`iters` iterations from `init` (rows are centroids): each sample's code is its largest-|projection|
    centroid's projection, centroids become S^T X + D, renormalised to unit length."""
    d = init / np.linalg.norm(init, axis=1, keepdims=True)
    for _ in range(iters):
        proj = x @ d.T
        best = np.argmax(np.abs(proj), axis=1)
        s = np.zeros_like(proj)
        s[np.arange(len(x)), best] = proj[np.arange(len(x)), best]
        d = s.T @ x + d
        d = d / np.linalg.norm(d, axis=1, keepdims=True)
    return d
