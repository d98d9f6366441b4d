"""Galaxy preprocessing, augmentation and test-time views as ONE affine warp per crop, in JAX (Dieleman thesis,
App. A, §A.6.3–A.6.4 and §A.6.8).

The preprocessing (centre crop 424 → 207, downscale 3× → 69×69) and the four affine perturbations (rotation,
translation, log-uniform zoom, flip) compose into one affine map from output pixel coordinates to input pixel
coordinates, `input = matrix @ output + offset` (`scipy.ndimage.affine_transform`'s convention, which the tests
use as the reference). The image is then sampled once with bilinear interpolation, reflecting at the borders
(scipy's `mode="reflect"`). Brightness (colour-PCA) noise is added afterwards and the result clipped to [0, 1].

Coordinates are (row, column) pixel indices; a rotation by θ turns the image content counter-clockwise as
displayed; zoom > 1 magnifies (samples a smaller region); a flip mirrors the columns.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

# The Kaggle images' first colour principal component times the square root of its eigenvalue (RGB), as used by
# the competition code; the brightness noise is N(0, σ) times this vector.
KAGGLE_COLOR_PC = (-0.0148366, -0.01253134, -0.01040762)


def _rotation(theta: jax.Array) -> jax.Array:
    """2×2 map of output (row, col) offsets to input offsets for content rotated counter-clockwise by θ."""
    c, s = jnp.cos(theta), jnp.sin(theta)
    # rows grow downwards, so a counter-clockwise turn of the content samples the input at the clockwise position
    return jnp.stack([jnp.stack([c, s], -1), jnp.stack([-s, c], -1)], -2)


def affine(rotation: jax.Array, zoom: jax.Array, shift: jax.Array, flip: jax.Array, *, in_size: int = 424,
           out_size: int = 69, downscale: float = 3.0, extra_rotation: float = 0.0) -> tuple[jax.Array, jax.Array]:
    """(matrix (…, 2, 2), offset (…, 2)) with `input = matrix @ output + offset` for the whole chain.

    rotation: radians (…); zoom: > 0 (…); shift: input pixels (…, 2) as (row, col); flip: bool (…);
    `extra_rotation` (radians) turns the crop once more after the augmentation (the 45° viewpoint crop).
    """
    rotation, zoom, flip = jnp.asarray(rotation, jnp.float32), jnp.asarray(zoom, jnp.float32), jnp.asarray(flip)
    shift = jnp.asarray(shift, jnp.float32)
    flip_m = jnp.where(flip[..., None, None], jnp.array([[1.0, 0.0], [0.0, -1.0]]), jnp.eye(2))
    rot = _rotation(rotation + extra_rotation)
    matrix = (downscale / zoom)[..., None, None] * (rot @ flip_m)
    c_in, c_out = (in_size - 1) / 2.0, (out_size - 1) / 2.0
    offset = c_in + shift - jnp.einsum("...ij,j->...i", matrix, jnp.full((2,), c_out, jnp.float32))
    return matrix, offset


def _reflect(index: jax.Array, n: int) -> jax.Array:
    """Half-sample symmetric extension (d c b a | a b c d | d c b a), scipy's mode='reflect'."""
    period = 2 * n
    index = jnp.mod(index, period)
    return jnp.where(index >= n, period - 1 - index, index)


def warp(image: jax.Array, matrix: jax.Array, offset: jax.Array, out_size: int = 69) -> jax.Array:
    """Bilinear sample of `image` (H, W, C) on the affine grid → (out_size, out_size, C)."""
    h, w = image.shape[:2]
    grid = jnp.stack(jnp.meshgrid(jnp.arange(out_size, dtype=jnp.float32), jnp.arange(out_size, dtype=jnp.float32),
                                  indexing="ij"), -1)  # (o, o, 2) as (row, col)
    coords = jnp.einsum("ij,abj->abi", matrix, grid) + offset
    r0, c0 = jnp.floor(coords[..., 0]), jnp.floor(coords[..., 1])
    fr, fc = (coords[..., 0] - r0)[..., None], (coords[..., 1] - c0)[..., None]
    r0, c0 = r0.astype(jnp.int32), c0.astype(jnp.int32)
    ra, rb = _reflect(r0, h), _reflect(r0 + 1, h)
    ca, cb = _reflect(c0, w), _reflect(c0 + 1, w)
    top = image[ra, ca] * (1 - fc) + image[ra, cb] * fc
    bottom = image[rb, ca] * (1 - fc) + image[rb, cb] * fc
    return top * (1 - fr) + bottom * fr


def two_crops(images: jax.Array, rotation: jax.Array, zoom: jax.Array, shift: jax.Array, flip: jax.Array,
              out_size: int = 69, downscale: float = 3.0) -> jax.Array:
    """(B, H, W, C) images and per-image parameters (B,)/(B, 2) → (B, 2, out, out, C): the 0° and 45° crops of
    each image (Dieleman thesis, App. A, §A.6.5), each ONE warp of the original image."""
    in_size = images.shape[1]

    def crops(image, rot, z, sh, fl):
        out = []
        for extra in (0.0, math.pi / 4):
            m, o = affine(rot, z, sh, fl, in_size=in_size, out_size=out_size, downscale=downscale,
                          extra_rotation=extra)
            out.append(warp(image, m, o, out_size))
        return jnp.stack(out)

    return jax.vmap(crops)(images, rotation, zoom, shift, flip)


def random_parameters(key: jax.Array, batch: int, max_shift: float = 4.0, max_zoom: float = 1.3,
                      flip: bool = True, rotate: bool = True) -> dict[str, jax.Array]:
    """Dieleman thesis, App. A, §A.6.4: rotation U[0, 2π), shift U[−4, 4] px (of the 424 image) per axis, zoom
    log-uniform in [1/1.3, 1.3], flip with probability 0.5."""
    k_rot, k_shift, k_zoom, k_flip = jax.random.split(key, 4)
    rotation = jax.random.uniform(k_rot, (batch,), maxval=2 * math.pi) if rotate else jnp.zeros((batch,))
    shift = jax.random.uniform(k_shift, (batch, 2), minval=-max_shift, maxval=max_shift)
    log_zoom = math.log(max_zoom)
    zoom = jnp.exp(jax.random.uniform(k_zoom, (batch,), minval=-log_zoom, maxval=log_zoom))
    flips = jax.random.bernoulli(k_flip, 0.5, (batch,)) if flip else jnp.zeros((batch,), bool)
    return {"rotation": rotation, "zoom": zoom, "shift": shift, "flip": flips}


def brightness(key: jax.Array, crops: jax.Array, sigma: float = 0.5,
               color_pc: Sequence[float] = KAGGLE_COLOR_PC) -> jax.Array:
    """Colour-PCA brightness noise (one factor per image, shared by its crops), clipped to [0, 1]."""
    factor = jax.random.normal(key, (crops.shape[0],)) * sigma
    shift = factor[:, None] * jnp.asarray(color_pc, crops.dtype)[None, :]
    shape = (crops.shape[0],) + (1,) * (crops.ndim - 2) + (crops.shape[-1],)
    return jnp.clip(crops + shift.reshape(shape), 0.0, 1.0)


def tta_parameters(rotations: int = 10, scales: Sequence[float] = (1 / 1.2, 1.0, 1.2),
                   flip: bool = True) -> dict[str, np.ndarray]:
    """The test-time views (Dieleman thesis, App. A, §A.6.8): `rotations` evenly spaced angles × `scales` ×
    (no flip, flip) — 10 × 3 × 2 = 60 by default. Order: flip, then scale, then rotation (slowest first)."""
    combos = list(itertools.product((False, True) if flip else (False,), tuple(scales),
                                    [2 * math.pi * k / rotations for k in range(rotations)]))
    return {"rotation": np.array([c[2] for c in combos], np.float32),
            "zoom": np.array([c[1] for c in combos], np.float32),
            "shift": np.zeros((len(combos), 2), np.float32),
            "flip": np.array([c[0] for c in combos], bool)}
