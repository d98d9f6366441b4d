"""Spherical K-means (Coates & Ng 2012, as used in Dieleman thesis §3.5.3): unit-norm centroids, each sample
assigned to the centroid with the largest |dot product|, centroids moved by the assigned samples weighted by that
dot product, then renormalised. Encoding is linear: `features = x @ D.T` (no thresholding), so whitening +
encoding is one affine map that can run as a single convolution over a spectrogram.

    D ← random unit rows;  repeat: s_i = argmax_j |D_j·x_i|,  S_ij = D_j·x_i [j = s_i],  D ← SᵀX + D,  D_j ← D_j/‖D_j‖

Jitted with the number of iterations static; samples go through the product `chunk` rows at a time, so memory
stays at chunk × num_means whatever the sample count, and at the default 1,024 rows the product block stays in
cache for the reductions that follow. Nearly all the time is the samples × means product of the assignment step
(at BLAS speed on CPU); the rest is kept small without changing the result beyond float rounding:

* **Grouped argmax.** argmax_j |p_ij| over all means as one XLA variadic reduction costs about a third of the
  product on CPU. Instead the means are cut into G ≤ 20 blocks of B consecutive means (zero means pad the last
  block): one vectorised max per block, an argmax over the G block maxima, then an argmax inside the winning block
  only. The first block holding the maximum holds the first mean with it, so ties resolve exactly like
  `jnp.argmax`. SᵀX is a scatter-add of each sample into its mean (O(samples · dims)), never a dense S.
* **Bound pruning** (`prune=True`; Hamerly/Yinyang-style bounds, adapted to |cosine|). A centroid that moves by
  δ_j = ‖D_j' − D_j‖ changes every |D_j·x_i| by at most δ_j‖x_i‖. Each sample keeps, per block, an upper bound on
  |D_j·x_i| over the block's means other than its own, loosened by the block's largest drift after every update.
  When the exact |D_a·x_i| of its current mean a (one dot product per sample, needed for S anyway) beats every
  block bound (with a 1e-5‖x_i‖ margin for float rounding), no other mean can win and the sample keeps its
  assignment without the full product. Within each window of `window` chunks the other samples are gathered
  into dense chunks and reassigned with the full product, which also refreshes their bounds. Exact, but it only
  pays once assignments settle: in the first iterations nearly every sample can still move (whitened data are
  close to isotropic, the gap between the best and second-best |cosine| is small and the early drifts are
  large), and the bookkeeping then costs ~10 %. Measured on 100,000 whitened scorebank windows, 500 means
  (one core), speed relative to the plain iteration: 0.93× at 10 iterations, 1.1× at 20, 1.4× at 40; on
  random normal data 1.1× at 40. Hence off by default (the Dieleman pipeline runs 10 iterations).

Euclidean K-means (`kmeans`, for the vector quantisation of the bag-of-words baseline, Dieleman thesis §4.5.1):
plain Lloyd iterations from a k-means++ start (Arthur & Vassilvitskii 2007; one candidate per draw, not sklearn's
greedy 2 + log k). The nearest mean argmin_j ‖x − c_j‖² is computed as argmax_j 2x·c_j − ‖c_j‖² (‖x‖² is the same
for every j), `chunk` rows at a time like the spherical version; each mean moves to the mean of its samples (a
scatter-add, never a dense assignment matrix) and a mean that got no sample stays where it was (sklearn would move
it to a far sample; with a k-means++ start this is rare).
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
from jax import lax

from mirjax.errors import UserError

_MARGIN = 1e-5  # relative slack on the bound test, for float rounding in the dot products and drifts
_TARGET_GROUPS = 20


def _normalise(d: jax.Array, eps: float = 1e-8) -> jax.Array:
    return d / jnp.maximum(jnp.linalg.norm(d, axis=-1, keepdims=True), eps)


def _blocks(num_means: int) -> tuple[int, int]:
    """(G, B): G blocks of B consecutive means, G·B ≥ num_means (the rest padded with zero means)."""
    size = -(-num_means // min(_TARGET_GROUPS, num_means))
    return -(-num_means // size), size


def _assign(xb: jax.Array, d: jax.Array, groups: int, bounds: bool):
    """For a chunk xb (C, dims) and padded centroids d (G·B, dims): winning mean (C,) = argmax_j |xb·d_j| (first
    on ties), its signed dot product (C,), and, with `bounds`, each block's max |xb·d_j| over the means other than
    the winner (C, G)."""
    c = xb.shape[0]
    p = (xb @ d.T).reshape(c, groups, -1)  # (C, G, B)
    gmax = jnp.abs(p).max(axis=2)  # (C, G)
    g = jnp.argmax(gmax, axis=1)  # first block holding the maximum
    block = jnp.take_along_axis(p, g[:, None, None], axis=1)[:, 0]  # (C, B), signed
    t = jnp.argmax(jnp.abs(block), axis=1)
    best = g * p.shape[2] + t
    weight = jnp.take_along_axis(block, t[:, None], axis=1)[:, 0]
    if not bounds:
        return best, weight, None
    runner_up = jnp.where(lax.broadcasted_iota(jnp.int32, block.shape, 1) == t[:, None], -1.0,
                          jnp.abs(block)).max(axis=1)
    upper = jnp.where(lax.broadcasted_iota(jnp.int32, gmax.shape, 1) == g[:, None], runner_up[:, None], gmax)
    return best, weight, upper


def _pad_means(centroids: jax.Array) -> tuple[jax.Array, int]:
    groups, size = _blocks(centroids.shape[0])
    return jnp.pad(centroids, ((0, groups * size - centroids.shape[0]), (0, 0))), groups


def _chunked(x: jax.Array, size: int) -> jax.Array:
    """(samples, dims) → (⌈samples/size⌉, size, dims), zero rows appended."""
    return jnp.pad(x, ((0, (-x.shape[0]) % size), (0, 0))).reshape((-1, size, x.shape[1]))


def spherical_kmeans_step(x: jax.Array, centroids: jax.Array, chunk: int = 1024) -> jax.Array:
    """One update of the (num_means, dims) centroids on x (samples, dims): the plain dense iteration."""
    k = centroids.shape[0]
    d, groups = _pad_means(centroids)

    def accumulate(total, xb):
        best, weight, _ = _assign(xb, d, groups, bounds=False)  # padded rows are zero and add nothing
        # SᵀX without the dense (chunk × means) S: a scatter-add of each sample into its mean, O(chunk · dims).
        return total + jax.ops.segment_sum(weight[:, None] * xb, best, num_segments=d.shape[0]), None

    moved, _ = lax.scan(accumulate, jnp.zeros_like(d), _chunked(x, min(chunk, x.shape[0])))
    return _normalise(moved[:k] + centroids)


def _compact(mask: jax.Array) -> jax.Array:
    """Indices of the True entries of a 1-D mask, in order, then len(mask) (= out of range) for the rest: like
    jnp.nonzero(mask, size=len(mask), fill_value=len(mask)) at a third of the cost on CPU. The prefix sum inside
    blocks of ≤ 64 entries is a small triangular matrix product (exact in float32), across blocks a cumsum."""
    size = mask.shape[0]
    block = next(b for b in (64, 32, 16, 8, 4, 2, 1) if size % b == 0)
    v = mask.astype(jnp.float32).reshape(-1, block)
    within = (v @ jnp.triu(jnp.ones((block, block), jnp.float32))).astype(jnp.int32)  # inclusive, per block
    offsets = jnp.cumsum(within[:, -1]) - within[:, -1]
    position = (within + offsets[:, None]).reshape(size) - 1
    return jnp.full((size,), size, jnp.int32).at[jnp.where(mask, position, size)].set(
        jnp.arange(size, dtype=jnp.int32), mode="drop")


def _pruned_kmeans(x: jax.Array, init: jax.Array, num_iters: int, chunk: int, window: int) -> jax.Array:
    """spherical K-means with bound pruning: samples are visited in windows of `window` chunks; in each window
    the samples whose assignment can change are gathered into dense `chunk`-row blocks for the full product."""
    n, dims = x.shape
    k = init.shape[0]
    d0, groups = _pad_means(init)
    sub = min(chunk, n)
    xs = _chunked(x, sub * min(window, -(-n // sub)))  # (windows, W, dims), W a multiple of sub
    num_windows, size = xs.shape[:2]
    norms = jnp.linalg.norm(xs, axis=2)  # (windows, W)
    real = (jnp.arange(num_windows * size) < n).reshape(num_windows, size)

    def iteration(_, state):
        d, best, upper, drift = state

        def window_step(total, inputs):
            xw, r, ok, b, u = inputs
            u = u + r[:, None] * drift[None, :]  # each mean moved by ≤ its block's drift
            w = jnp.sum(d[b] * xw, axis=1)  # exact S entry if the sample keeps its mean
            need = (jnp.abs(w) <= u.max(axis=1) + _MARGIN * r) & ok
            count = need.sum()
            # One code path for all cases (a lax.cond between a dense and a gathered branch measured no faster):
            # when every real sample needs the product, they are taken in order.
            order = jnp.where(count == ok.sum(), jnp.arange(size, dtype=jnp.int32), _compact(need))

            def reassign(j, carry):
                b, w, u = carry
                idx = lax.dynamic_slice(order, (j * sub,), (sub,))
                nb, nw, nu = _assign(xw.at[idx].get(mode="fill", fill_value=0.0), d, groups, True)
                return b.at[idx].set(nb, mode="drop"), w.at[idx].set(nw, mode="drop"), u.at[idx].set(nu, mode="drop")

            b, w, u = lax.fori_loop(0, (count + sub - 1) // sub, reassign, (b, w, u))
            return total + jax.ops.segment_sum(w[:, None] * xw, b, num_segments=d.shape[0]), (b, u)

        moved, (best, upper) = lax.scan(window_step, jnp.zeros_like(d), (xs, norms, real, best, upper))
        new = _normalise(moved + d)
        return new, best, upper, jnp.linalg.norm(new - d, axis=1).reshape(groups, -1).max(axis=1)

    state = (d0, jnp.zeros((num_windows, size), jnp.int32),
             jnp.full((num_windows, size, groups), jnp.inf, jnp.float32), jnp.zeros((groups,), jnp.float32))
    return lax.fori_loop(0, num_iters, iteration, state)[0][:k]


@functools.partial(jax.jit, static_argnames=("num_means", "num_iters", "chunk", "prune", "window"))
def spherical_kmeans(x: jax.Array, num_means: int, key: jax.Array | None = None, num_iters: int = 10,
                     init: jax.Array | None = None, chunk: int = 1024, prune: bool = False,
                     window: int = 8) -> jax.Array:
    """Learn `num_means` unit-norm centroids (num_means, dims) from x (samples, dims), usually whitened.
    `init` (num_means, dims) overrides the random unit-norm start drawn from `key`. `chunk` rows go through the
    product at a time (memory ∝ chunk × num_means). `prune=True` skips the product for samples whose assignment
    provably cannot change, compacting the rest within windows of `window` chunks: the same result as the plain
    iteration, faster once assignments settle (≳ 20 iterations on real data), slower before (module docstring)."""
    x = jnp.asarray(x, jnp.float32)
    if init is None:
        if key is None:
            raise UserError("spherical_kmeans needs a PRNG key or an init")
        init = jax.random.normal(key, (num_means, x.shape[1]), jnp.float32)
    centroids = _normalise(jnp.asarray(init, jnp.float32))
    if prune:
        return _pruned_kmeans(x, centroids, num_iters, chunk, window)
    return lax.fori_loop(0, num_iters, lambda _, d: spherical_kmeans_step(x, d, chunk), centroids)


def encode(centroids: jax.Array, x: jax.Array) -> jax.Array:
    """Linear encoding (…, dims) → (…, num_means): dot products with the centroids."""
    return jnp.asarray(x, jnp.float32) @ centroids.T


def _nearest(xb: jax.Array, centroids: jax.Array, sq_norms: jax.Array) -> jax.Array:
    """Index (…,) of the nearest centroid to each row of xb (…, dims) in Euclidean distance (first on ties)."""
    return jnp.argmax(2.0 * (xb @ centroids.T) - sq_norms, axis=-1)


def nearest(centroids: jax.Array, x: jax.Array) -> jax.Array:
    """`assign`'s rule without its chunking, for small inputs inside a jitted function (a front-end): index (…,)
    int32 of the Euclidean-nearest of the (num_means, dims) centroids for each row of x (…, dims)."""
    centroids = jnp.asarray(centroids, jnp.float32)
    return _nearest(jnp.asarray(x, jnp.float32), centroids, jnp.sum(centroids * centroids, axis=1)).astype(jnp.int32)


@functools.partial(jax.jit, static_argnames=("chunk",))
def assign(centroids: jax.Array, x: jax.Array, chunk: int = 1024) -> jax.Array:
    """Hard vector quantisation: index (samples,) int32 of the Euclidean-nearest of the (num_means, dims)
    centroids for each row of x (samples, dims); memory stays at chunk × num_means."""
    x = jnp.asarray(x, jnp.float32)
    centroids = jnp.asarray(centroids, jnp.float32)
    sq_norms = jnp.sum(centroids * centroids, axis=1)
    best = lax.map(lambda xb: _nearest(xb, centroids, sq_norms), _chunked(x, min(chunk, x.shape[0])))
    return best.reshape(-1)[:x.shape[0]].astype(jnp.int32)


def kmeans_step(x: jax.Array, centroids: jax.Array, chunk: int = 1024) -> jax.Array:
    """One Lloyd iteration on x (samples, dims): every mean of the (num_means, dims) centroids moves to the mean of
    the samples nearest to it; a mean with no sample keeps its place."""
    k = centroids.shape[0]
    size = min(chunk, x.shape[0])
    sq_norms = jnp.sum(centroids * centroids, axis=1)
    real = _chunked(jnp.ones((x.shape[0], 1), x.dtype), size)[..., 0]  # 0 on the zero rows padding the last chunk

    def accumulate(carry, inputs):
        sums, counts = carry
        xb, rb = inputs
        best = _nearest(xb, centroids, sq_norms)  # padding rows are zero: they add nothing to the sums
        return (sums + jax.ops.segment_sum(xb, best, num_segments=k),
                counts + jax.ops.segment_sum(rb, best, num_segments=k)), None

    (sums, counts), _ = lax.scan(accumulate, (jnp.zeros_like(centroids), jnp.zeros((k,), x.dtype)),
                                 (_chunked(x, size), real))
    return jnp.where(counts[:, None] > 0, sums / jnp.maximum(counts, 1.0)[:, None], centroids)


@functools.partial(jax.jit, static_argnames=("num_means",))
def kmeans_plusplus(x: jax.Array, num_means: int, key: jax.Array) -> jax.Array:
    """k-means++ seeding: (num_means, dims) rows of x (samples, dims), the first uniform, each next one drawn with
    probability ∝ its squared distance to the nearest row drawn so far."""
    x = jnp.asarray(x, jnp.float32)
    n = x.shape[0]
    first_key, key = jax.random.split(key)
    first = x[jax.random.randint(first_key, (), 0, n)]
    sq_dist = jnp.sum((x - first) ** 2, axis=1)

    def draw(j, state):
        centroids, sq_dist = state
        # Inverse-CDF sampling: one uniform and a cumsum, cheaper than a categorical over all samples.
        cdf = jnp.cumsum(sq_dist)
        u = jax.random.uniform(jax.random.fold_in(key, j)) * cdf[-1]
        pick = x[jnp.minimum(jnp.searchsorted(cdf, u, side="right"), n - 1)]
        return centroids.at[j].set(pick), jnp.minimum(sq_dist, jnp.sum((x - pick) ** 2, axis=1))

    init = jnp.zeros((num_means, x.shape[1]), jnp.float32).at[0].set(first)
    return lax.fori_loop(1, num_means, draw, (init, sq_dist))[0]


@functools.partial(jax.jit, static_argnames=("num_means", "num_iters", "chunk"))
def kmeans(x: jax.Array, num_means: int, key: jax.Array | None = None, num_iters: int = 20,
           init: jax.Array | None = None, chunk: int = 1024) -> jax.Array:
    """Euclidean K-means: `num_means` centroids (num_means, dims) of x (samples, dims) after `num_iters` Lloyd
    iterations from `init` (num_means, dims), or from a k-means++ start drawn with `key`. `chunk` rows go through
    the distance product at a time (memory ∝ chunk × num_means)."""
    x = jnp.asarray(x, jnp.float32)
    if num_means > x.shape[0]:
        raise UserError(f"kmeans: num_means={num_means} > {x.shape[0]} samples")
    if init is None:
        if key is None:
            raise UserError("kmeans needs a PRNG key or an init")
        init = kmeans_plusplus(x, num_means, key)
    elif init.shape != (num_means, x.shape[1]):
        raise UserError(f"kmeans: init has shape {init.shape}, expected {(num_means, x.shape[1])}")
    return lax.fori_loop(0, num_iters, lambda _, c: kmeans_step(x, c, chunk), jnp.asarray(init, jnp.float32))
