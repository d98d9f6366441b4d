"""Unsupervised feature learning as pure JAX functions (Dieleman thesis Ch. 3): multiscale representations
(Gaussian / Laplacian pyramids, multiresolution spectrograms), PCA whitening, spherical K-means with linear
encoding."""

from mirjax.features.kmeans import encode, spherical_kmeans, spherical_kmeans_step
from mirjax.features.multiscale import (
                                       gaussian_pyramid,
                                       laplacian_pyramid,
                                       multiresolution_melspectrogram,
                                       reconstruct_laplacian,
)
from mirjax.features.whitening import Whitening, apply_whitening, fit_pca_whitening

__all__ = ["Whitening", "apply_whitening", "encode", "fit_pca_whitening", "gaussian_pyramid", "laplacian_pyramid",
           "multiresolution_melspectrogram", "reconstruct_laplacian", "spherical_kmeans", "spherical_kmeans_step"]
