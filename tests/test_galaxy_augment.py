"""Galaxy preprocessing + augmentation as ONE affine warp (Dieleman thesis, App. A, §A.6.3–A.6.4): the JAX warp
against scipy.ndimage.affine_transform applying the same affine (bilinear, reflecting borders), and the composed
affine against the chain of elementary steps built independently in homogeneous coordinates."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import ndimage

from mirjax.models import galaxy_augment as aug


def _h(m2, t=(0.0, 0.0)):
    h = np.eye(3)
    h[:2, :2], h[:2, 2] = m2, t
    return h


def _chain(rotation, zoom, shift, flip, in_size=424, out_size=69, downscale=3.0):
    """Output pixel → input pixel as separate steps: centre the output grid, undo the 3× downscale, undo the
    zoom, undo the flip, undo the rotation, move to the input centre plus the shift."""
    c_out, c_in = (out_size - 1) / 2, (in_size - 1) / 2
    c, s = math.cos(rotation), math.sin(rotation)
    steps = [_h(np.eye(2), (-c_out, -c_out)), _h(downscale * np.eye(2)), _h(np.eye(2) / zoom),
             _h(np.diag([1.0, -1.0]) if flip else np.eye(2)), _h(np.array([[c, s], [-s, c]])),
             _h(np.eye(2), (c_in + shift[0], c_in + shift[1]))]
    m = np.eye(3)
    for step in steps:
        m = step @ m
    return m[:2, :2], m[:2, 2]


@pytest.mark.parametrize("rotation, zoom, shift, flip", [
    (0.0, 1.0, (0.0, 0.0), False), (0.7, 1.25, (3.0, -2.5), True), (4.0, 1 / 1.3, (-4.0, 4.0), False),
])
def test_affine_is_the_composed_chain(rotation, zoom, shift, flip):
    m, o = aug.affine(rotation, zoom, jnp.asarray(shift), flip)
    em, eo = _chain(rotation, zoom, shift, flip)
    np.testing.assert_allclose(np.asarray(m), em, atol=1e-5)
    np.testing.assert_allclose(np.asarray(o), eo, atol=1e-3)


def test_identity_warp_is_crop_and_downscale():
    image = np.random.default_rng(0).random((424, 424, 3)).astype(np.float32)
    m, o = aug.affine(0.0, 1.0, jnp.zeros(2), False)
    out = np.asarray(aug.warp(jnp.asarray(image), m, o))
    # output pixel k samples the input at 211.5 + 3 (k − 34): the mean of two neighbouring pixels per axis
    idx = (211.5 + 3 * (np.arange(69) - 34)).astype(int)
    expected = (image[idx][:, idx] + image[idx + 1][:, idx] + image[idx][:, idx + 1] + image[idx + 1][:, idx + 1]) / 4
    np.testing.assert_allclose(out, expected, atol=1e-5)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_warp_matches_scipy_affine_transform(seed):
    rng = np.random.default_rng(seed)
    image = ndimage.gaussian_filter(rng.random((424, 424, 3)), (2, 2, 0)).astype(np.float32)
    prm = aug.random_parameters(jax.random.PRNGKey(seed), 1)
    # a large zoom-out and shift on the last seed, so the sampled grid leaves the image (reflected borders)
    zoom = 0.4 if seed == 2 else float(prm["zoom"][0])
    shift = jnp.asarray([60.0, -45.0]) if seed == 2 else prm["shift"][0]
    for extra in (0.0, math.pi / 4):
        m, o = aug.affine(prm["rotation"][0], zoom, shift, prm["flip"][0], extra_rotation=extra)
        got = np.asarray(aug.warp(jnp.asarray(image), m, o))
        m, o = np.asarray(m, np.float64), np.asarray(o, np.float64)
        ref = np.stack([ndimage.affine_transform(image[..., ch].astype(np.float64), m, o, output_shape=(69, 69),
                                                 order=1, mode="reflect") for ch in range(3)], -1)
        np.testing.assert_allclose(got, ref, atol=2e-4)


def test_two_crops_are_the_0_and_45_degree_warps_and_brightness_is_clipped():
    rng = np.random.default_rng(3)
    images = jnp.asarray(rng.random((2, 424, 424, 3)), jnp.float32)
    prm = aug.random_parameters(jax.random.PRNGKey(5), 2)
    crops = np.asarray(aug.two_crops(images, prm["rotation"], prm["zoom"], prm["shift"], prm["flip"]))
    assert crops.shape == (2, 2, 69, 69, 3)
    for b in range(2):
        m, o = aug.affine(prm["rotation"][b] + math.pi / 4, prm["zoom"][b], prm["shift"][b], prm["flip"][b])
        np.testing.assert_allclose(crops[b, 1], np.asarray(aug.warp(images[b], m, o)), atol=1e-5)
    bright = np.asarray(aug.brightness(jax.random.PRNGKey(0), jnp.asarray(crops), sigma=50.0))
    assert bright.min() >= 0 and bright.max() <= 1
    bright = np.asarray(aug.brightness(jax.random.PRNGKey(0), jnp.asarray(crops), sigma=0.5))
    # one brightness factor per image, along the colour principal component
    delta = (bright - crops)[0][np.logical_and(crops[0] > 0.05, crops[0] < 0.95).all(-1)]
    ratio = delta / np.asarray(aug.KAGGLE_COLOR_PC)
    np.testing.assert_allclose(ratio, ratio[0, 0], rtol=1e-3, atol=1e-3)


def test_random_parameters_ranges_and_tta_grid():
    prm = aug.random_parameters(jax.random.PRNGKey(0), 4000)
    z = np.log(np.asarray(prm["zoom"]))
    assert abs(z).max() <= math.log(1.3) + 1e-6 and abs(z.mean()) < 0.02  # log-uniform, symmetric
    assert np.abs(np.asarray(prm["shift"])).max() <= 4.0
    assert 0.45 < float(np.mean(prm["flip"])) < 0.55
    tta = aug.tta_parameters()
    assert len(tta["rotation"]) == 60
    combos = set(zip(np.round(tta["rotation"], 4), np.round(tta["zoom"], 4), tta["flip"]))
    assert len(combos) == 60
    np.testing.assert_allclose(sorted(set(np.round(np.degrees(tta["rotation"]), 3))), np.arange(0, 360, 36))
    np.testing.assert_allclose(sorted(set(tta["zoom"])), [1 / 1.2, 1.0, 1.2], rtol=1e-6)
