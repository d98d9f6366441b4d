"""The fast paths of mirjax.features.kmeans give the plain algorithm's result: the grouped argmax equals
jnp.argmax(|p|) (first index on ties), its block bounds are the exact block maxima without the winner, and the
bound-pruned iteration (`prune=True`) returns the same centroids as the plain one and as a numpy transcription."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

from kmeans_refs import numpy_spherical_kmeans
from mirjax.features import kmeans as km, spherical_kmeans, spherical_kmeans_step


@pytest.mark.parametrize("num_means", [1, 7, 20, 23, 64, 500])
def test_grouped_argmax_matches_argmax_with_ties(num_means):
    rng = np.random.default_rng(num_means)
    x = rng.normal(size=(300, 6)).astype(np.float32)
    d = np.round(rng.normal(size=(num_means, 6)), 1).astype(np.float32)
    x[:50] = np.round(x[:50])  # many exact ties in |x·d|, including +v vs −v
    x[50:60] = 0.0  # all-zero rows: every mean ties, argmax is 0
    padded, groups = km._pad_means(jnp.asarray(d))
    best, weight, upper = km._assign(jnp.asarray(x), padded, groups, bounds=True)
    p = x @ padded.T
    ref = np.argmax(np.abs(p), axis=1)
    np.testing.assert_array_equal(np.asarray(best), ref)
    np.testing.assert_array_equal(np.asarray(weight), p[np.arange(len(x)), ref])
    others = np.abs(p)
    others[np.arange(len(x)), ref] = -1.0
    np.testing.assert_array_equal(np.asarray(upper), others.reshape(len(x), groups, -1).max(axis=2))


def test_step_matches_numpy_one_iteration():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(1000, 12)).astype(np.float32)
    init = rng.normal(size=(30, 12)).astype(np.float32)
    init /= np.linalg.norm(init, axis=1, keepdims=True)
    ref = numpy_spherical_kmeans(x.astype(np.float64), init.astype(np.float64), 1)
    for chunk in (64, 1000, 4096):
        np.testing.assert_allclose(np.asarray(spherical_kmeans_step(x, init, chunk=chunk)), ref, atol=2e-6)


def _clustered(rng, n, dims, centres):
    dirs = rng.normal(size=(centres, dims))
    x = dirs[rng.integers(0, centres, n)] * rng.choice([-1.0, 1.0], size=(n, 1)) * rng.uniform(0.5, 2, (n, 1))
    return (x + 0.4 * rng.normal(size=x.shape)).astype(np.float32)


@pytest.mark.parametrize("n,num_means,chunk,window,iters", [
    (3000, 23, 256, 8, 30),  # means padded to blocks; windows pad the samples
    (2500, 100, 128, 4, 40),
    (777, 7, 1024, 8, 25),  # fewer samples than a chunk
    (4096, 60, 512, 1, 20),  # window of one chunk
])
def test_pruned_equals_plain_and_numpy(n, num_means, chunk, window, iters):
    rng = np.random.default_rng(n)
    x = _clustered(rng, n, 16, 12)
    init = rng.normal(size=(num_means, 16)).astype(np.float32)
    plain = np.asarray(spherical_kmeans(x, num_means, init=init, num_iters=iters, chunk=chunk))
    pruned = np.asarray(spherical_kmeans(x, num_means, init=init, num_iters=iters, chunk=chunk, prune=True,
                                         window=window))
    np.testing.assert_allclose(pruned, plain, atol=1e-5)
    np.testing.assert_allclose(pruned, numpy_spherical_kmeans(x.astype(np.float64), init.astype(np.float64), iters),
                               atol=1e-4)
    np.testing.assert_allclose(np.linalg.norm(pruned, axis=1), 1.0, atol=1e-5)


def test_pruned_random_key_and_default_args():
    import jax

    rng = np.random.default_rng(5)
    x = _clustered(rng, 2000, 8, 5)
    a = spherical_kmeans(x, 10, key=jax.random.key(0), num_iters=15)
    b = spherical_kmeans(x, 10, key=jax.random.key(0), num_iters=15, prune=True)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-5)


@pytest.mark.parametrize("size", [1, 7, 64, 100, 8192])
def test_compact_matches_nonzero(size):
    rng = np.random.default_rng(size)
    for p in (0.0, 0.3, 1.0):
        mask = jnp.asarray(rng.uniform(size=size) < p)
        np.testing.assert_array_equal(np.asarray(km._compact(mask)),
                                      np.asarray(jnp.nonzero(mask, size=size, fill_value=size)[0]))
