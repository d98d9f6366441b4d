"""KCNN (Zhang et al. §3): k-max pooling against a brute-force numpy reference, the lookup tables' centroid
initialisation, the Eq. 6 penalty, and the ULT variant's frozen tables."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax.models import MODELS, kcnn
from mirjax.studies.kcnn import train as ktrain


def kmax_reference(x: np.ndarray, k: int, mask: np.ndarray) -> np.ndarray:
    """Brute force: per example and channel, the k largest valid values (earlier position first on ties) in
    their original order, zeros for the missing slots."""
    b, t, c = x.shape
    out = np.zeros((b, k, c), x.dtype)
    for i in range(b):
        valid = np.flatnonzero(mask[i])
        for j in range(c):
            ranked = sorted(valid, key=lambda p: (-x[i, p, j], p))[:k]
            for slot, p in enumerate(sorted(ranked)):
                out[i, slot, j] = x[i, p, j]
    return out


@pytest.mark.parametrize("t,k", [(9, 3), (5, 5), (3, 5), (12, 1)])
def test_kmax_pool_matches_brute_force(t, k):
    rng = np.random.default_rng(t * 10 + k)
    x = rng.integers(-3, 4, size=(3, t, 4)).astype(np.float32)  # small integers: many ties
    mask = np.ones((3, t), bool)
    mask[1, max(1, t - 4):] = False  # padded tail
    mask[2, ::2] = False  # arbitrary holes
    got = np.asarray(kcnn.kmax_pool(jnp.asarray(x), k, jnp.asarray(mask)))
    np.testing.assert_array_equal(got, kmax_reference(x, k, mask))
    np.testing.assert_array_equal(np.asarray(kcnn.kmax_pool(jnp.asarray(x), k)),
                                  kmax_reference(x, k, np.ones_like(mask)))


def test_kmax_pool_keeps_order_and_ignores_padding():
    x = jnp.asarray([[5.0, 1.0, 4.0, 2.0, 9.0, 9.0]])[..., None]
    mask = jnp.asarray([[True, True, True, True, False, False]])
    np.testing.assert_array_equal(np.asarray(kcnn.kmax_pool(x, 3, mask))[0, :, 0], [5.0, 4.0, 2.0])
    np.testing.assert_array_equal(np.asarray(kcnn.kmax_pool(x, 3))[0, :, 0], [5.0, 9.0, 9.0])


def test_kmax_pool_gradient_reaches_only_the_selected_positions():
    x = jnp.asarray([[3.0, 1.0, 2.0, 0.0]])[..., None]
    g = jax.grad(lambda v: kcnn.kmax_pool(v, 2).sum())(x)
    np.testing.assert_array_equal(np.asarray(g)[0, :, 0], [1.0, 0.0, 1.0, 0.0])


@pytest.fixture(scope="module")
def small():
    """(model, params, centroids): two lookup tables (7 × 3, 5 × 2), 6 conv units, k = 2, 5 hidden, 3 classes."""
    rng = np.random.default_rng(0)
    centroids = [rng.normal(size=(7, 3)).astype(np.float32), rng.normal(size=(5, 2)).astype(np.float32)]
    model, params = ktrain.build(3, centroids, {"conv_units": 6, "hidden": (5,)}, k=2, seed=0)
    return model, params, centroids


def test_kcnn_is_registered_and_tables_start_at_the_centroids(small):
    assert MODELS["kcnn"] is kcnn.KCNN
    model, params, centroids = small
    np.testing.assert_array_equal(np.asarray(params["table_0"]), centroids[0])
    np.testing.assert_array_equal(np.asarray(params["table_1"]), centroids[1])
    # The forward pass really reads the tables: a one-position clip of word 3 / word 1 embeds their centroids.
    words = jnp.asarray([[[3, 1]]], jnp.int32)
    emb = jnp.concatenate([params["table_0"][3], params["table_1"][1]])
    conv = params["Conv_0"]
    centre = conv["kernel"].shape[0] // 2  # 'SAME': a lone position meets the kernel's centre tap
    h = jax.nn.sigmoid((emb @ conv["kernel"][centre] + conv["bias"]).reshape(1, -1) @ params["Dense_0"]["kernel"][:6]
                       + params["Dense_0"]["bias"])  # k = 2: the second slot is empty (zeros)
    expected = h @ params["Dense_1"]["kernel"] + params["Dense_1"]["bias"]
    np.testing.assert_allclose(np.asarray(model.apply({"params": params}, words)), np.asarray(expected), rtol=1e-5,
                               atol=1e-6)


def test_l2_term_covers_every_parameter_unless_tables_are_frozen(small):
    params = small[1]
    flat = {"/".join(str(getattr(k, "key", k)) for k in path): np.asarray(v)
            for path, v in jax.tree_util.tree_leaves_with_path(params)}
    total = sum(float(np.sum(v.astype(np.float64) ** 2)) for v in flat.values())
    tables = sum(float(np.sum(v.astype(np.float64) ** 2)) for n, v in flat.items() if n.startswith("table_"))
    assert any("bias" in n for n in flat)
    np.testing.assert_allclose(float(ktrain.l2_term(params, False)), total, rtol=1e-5)
    np.testing.assert_allclose(float(ktrain.l2_term(params, True)), total - tables, rtol=1e-5)


@pytest.mark.parametrize("frozen", [True, False])
def test_ult_leaves_the_tables_bit_identical(small, frozen):
    rng = np.random.default_rng(2)
    model, params, centroids = small
    words = ktrain.pad_words([np.stack([rng.integers(0, 7, n), rng.integers(0, 5, n)], 1) for n in (6, 4, 9, 3)])
    labels = np.asarray([0, 1, 2, 1])
    trained, hist = ktrain.train(model, params, words, labels, lr=0.5, l2=1e-2, epochs=3, batch_size=2,
                                 frozen_tables=frozen, seed=0)
    for i, c in enumerate(centroids):
        same = np.array_equal(np.asarray(trained[f"table_{i}"]), c)
        assert same == frozen, (i, frozen)
    assert not np.array_equal(np.asarray(trained["Dense_1"]["kernel"]), np.asarray(params["Dense_1"]["kernel"]))
    assert len(hist["loss"]) == 3 and all(np.isfinite(hist["loss"]))


def test_padding_does_not_change_the_output(small):
    rng = np.random.default_rng(3)
    model, params, _ = small
    seq = np.stack([rng.integers(0, 7, 8), rng.integers(0, 5, 8)], 1)
    short = model.apply({"params": params}, jnp.asarray(ktrain.pad_words([seq])))
    padded = model.apply({"params": params}, jnp.asarray(ktrain.pad_words([seq], length=15)))
    np.testing.assert_allclose(np.asarray(short), np.asarray(padded), rtol=1e-5, atol=1e-6)
