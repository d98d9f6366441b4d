"""PCA whitening (Dieleman thesis §3.5.2): fit on a sample of windows, keep the leading components that explain a
given fraction of the variance, scale each to unit variance. Matches `sklearn.decomposition.PCA(n_components=
variance, whiten=True)` up to the sign of each component (tests/test_features_learners.py)."""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError


@dataclasses.dataclass(frozen=True)
class Whitening:
    mean: jax.Array  # (dims,)
    matrix: jax.Array  # (dims, components): (x - mean) @ matrix has identity covariance on the fitted sample
    explained_variance: jax.Array  # (components,) eigenvalues kept, largest first

    @property
    def num_components(self) -> int:
        return int(self.matrix.shape[1])


def fit_pca_whitening(x: jax.Array, variance: float = 0.99, epsilon: float = 0.0) -> Whitening:
    """Fit on `x` (samples, dims). Keeps the fewest leading components whose explained-variance ratio sums past
    `variance` (sklearn's rule for a fractional `n_components`); `epsilon` is added to the eigenvalues before the
    inverse square root (Coates & Ng regularise with it; 0 = exact whitening)."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2 or x.shape[0] < 2:
        raise UserError(f"fit_pca_whitening needs (samples ≥ 2, dims) data, got shape {tuple(x.shape)}")
    if not 0.0 < variance <= 1.0:
        raise UserError(f"variance must be in (0, 1], got {variance}")
    mean = x.mean(axis=0)
    xc = x - mean
    cov = xc.T @ xc / (x.shape[0] - 1)
    eigval, eigvec = jnp.linalg.eigh(cov)  # ascending
    eigval, eigvec = jnp.clip(eigval[::-1], 0.0), eigvec[:, ::-1]
    ratio = np.cumsum(np.asarray(eigval, np.float64)) / float(np.sum(np.asarray(eigval, np.float64)))
    keep = min(int(np.searchsorted(ratio, variance, side="right")) + 1, x.shape[1]) if variance < 1.0 else x.shape[1]
    vals, vecs = eigval[:keep], eigvec[:, :keep]
    return Whitening(mean=mean, matrix=vecs / jnp.sqrt(vals + epsilon), explained_variance=vals)


def apply_whitening(w: Whitening, x: jax.Array) -> jax.Array:
    """(…, dims) → (…, components)."""
    return (jnp.asarray(x, jnp.float32) - w.mean) @ w.matrix
