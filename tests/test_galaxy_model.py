"""The galaxy convnet (Dieleman thesis, App. A, §A.6.5–A.6.6, Table A.2): its parameter count against the
thesis's architecture, the output constraints against the decision tree, and the viewpoints against a direct
numpy construction (corner patches turned with np.rot90)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax import galaxy_tree
from mirjax.models import create_model
from mirjax.models.galaxy import output_constraints, viewpoints


def _param_counts(**kwargs):
    model = create_model("galaxy_convnet", 37, **kwargs)
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                               jnp.zeros((1, 424, 424, 3)), train=False))
    return {k: sum(int(np.prod(x.shape)) for x in jax.tree.leaves(v)) for k, v in shapes["params"].items()}


def test_parameter_count_is_the_thesis_network():
    counts = _param_counts()
    # untied biases: conv1 = 6·6·3·32 weights + 40·40·32 biases; dense1 = 8192 (16 views × 2·2·128) → 2·2048
    assert counts == {"conv1": 6 * 6 * 3 * 32 + 40 * 40 * 32, "conv2": 5 * 5 * 32 * 64 + 16 * 16 * 64,
                      "conv3": 3 * 3 * 64 * 128 + 6 * 6 * 128, "conv4": 3 * 3 * 128 * 128 + 4 * 4 * 128,
                      "dense1": 8192 * 4096 + 4096, "dense2": 2048 * 4096 + 4096, "out": 2048 * 37 + 37}
    assert sum(counts.values()) == 42_377_125


@pytest.mark.parametrize("kwargs, total", [
    (dict(num_dense=1), 42_377_125 - (2048 * 4096 + 4096)),  # only two dense layers
    (dict(features=(32, 64, 128, 256)), None),
    (dict(dense_activation="relu", dense_units=4096), None),
])
def test_variants_build(kwargs, total):
    counts = _param_counts(**kwargs)
    if total is not None:
        assert sum(counts.values()) == total
    assert "out" in counts


def _random_outputs(n, seed=0):
    """Linear outputs with some negative answers, but at least one positive answer per question."""
    z = np.random.default_rng(seed).normal(0.2, 0.5, (n, 37)).astype(np.float32)
    for s in galaxy_tree.SLICES.values():
        block = z[:, s]
        top = block.argmax(1)
        block[np.arange(n), top] = np.abs(block[np.arange(n), top]) + 0.05
        z[:, s] = block
    return z


def test_constraints_follow_the_decision_tree():
    p = np.asarray(output_constraints(jnp.asarray(_random_outputs(500))), np.float64)
    assert (p >= 0).all() and (p <= 1 + 1e-6).all()
    s = galaxy_tree.SLICES
    for q in ("Q1", "Q6"):  # never scaled (Q6: a competition quirk)
        np.testing.assert_allclose(p[:, s[q]].sum(1), 1.0, atol=1e-5)
    # a question whose outputs are all negative gets zeros (the 1e-12 in the division), not NaN
    assert float(np.asarray(output_constraints(-jnp.ones((1, 37)))).max()) == 0.0
    for q in galaxy_tree.QUESTIONS:
        parent = galaxy_tree.parent_answer(q.name)
        if parent is not None:  # each question's answers sum to the answer leading to it
            np.testing.assert_allclose(p[:, s[q.name]].sum(1), p[:, parent], atol=1e-5)
    # orderings implied by the tree: p(bar question asked) ≥ p(spiral) ≥ p(any arm count), p(features) ≥ p(not edge-on)
    assert (p[:, 1] + 1e-6 >= p[:, 4]).all() and (p[:, 4] + 1e-6 >= p[:, 7]).all()
    assert (p[:, 7][:, None] + 1e-6 >= p[:, s["Q11"]]).all()
    # the same as the numpy tree applied to ReLU-normalised outputs
    z = np.maximum(_random_outputs(500), 0)
    np.testing.assert_allclose(p, galaxy_tree.cumulative(galaxy_tree.conditional(z)), atol=1e-5)


def test_constraints_are_differentiable():
    g = jax.grad(lambda z: output_constraints(z).sum())(jnp.asarray(_random_outputs(4)))
    assert np.isfinite(np.asarray(g)).all()


def test_viewpoints_match_rot90_of_corner_patches():
    rng = np.random.default_rng(0)
    crops = rng.random((3, 2, 69, 69, 3)).astype(np.float32)
    ps = 45
    expected = []
    for k in range(2):
        for x in (crops[:, k], crops[:, k, :, ::-1]):
            top, bottom, left, right = slice(0, ps), slice(69 - ps, 69), slice(0, ps), slice(69 - ps, 69)
            for corner, turns in (((top, left), 0), ((top, right), 1), ((bottom, right), 2), ((bottom, left), 3)):
                patch = x[:, corner[0], corner[1]]
                expected.append(np.rot90(patch, k=turns, axes=(1, 2)))
    got = np.asarray(viewpoints(jnp.asarray(crops), ps))
    assert got.shape == (16, 3, ps, ps, 3)
    np.testing.assert_array_equal(got, np.stack(expected))
    # the crop's centre pixel lands at the same place, towards the bottom-right corner, in every viewpoint
    centre = crops[:, :, 34, 34]
    for v in range(16):
        np.testing.assert_array_equal(got[v, :, 34, 34], centre[:, v // 8])


def test_warmup_clips_then_constrains_and_inference_returns_the_views():
    model = create_model("galaxy_convnet", 37, features=(4, 4, 4, 4), dense_units=8, warmup_examples=4,
                         tta_rotations=2, tta_scales=(1.0, 1.2), tta_flip=True)
    x = jnp.asarray(np.random.default_rng(0).random((2, 424, 424, 3)), jnp.float32)
    # random weights from the shapes (compiling `init` is slow on CPU and beside the point here)
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                               x, train=False))
    rng = np.random.default_rng(1)
    variables = {"params": jax.tree.map(lambda a: jnp.asarray(rng.normal(0, 0.5, a.shape), a.dtype), shapes["params"]),
                 "batch_stats": jax.tree.map(lambda a: jnp.zeros(a.shape, a.dtype), shapes["batch_stats"])}
    step = jax.jit(lambda v, x: model.apply(v, x, train=True, rngs={"dropout": jax.random.PRNGKey(2)},
                                            mutable=["batch_stats"]))
    train = lambda v: step(v, x)
    out, upd = train(variables)
    assert int(upd["batch_stats"]["examples_seen"]) == 2
    assert out.shape == (2, 37) and float(out.min()) >= 0 and float(out.max()) <= 1
    warm = np.asarray(out, np.float64)  # clipped linear outputs: not consistent with the tree
    assert not np.allclose(warm, galaxy_tree.cumulative(galaxy_tree.conditional(warm)), atol=1e-3)
    out, upd = train({**variables, **upd})
    out, _ = train({**variables, **upd})
    after = np.asarray(out, np.float64)  # after the warm-up: constrained
    np.testing.assert_allclose(after, galaxy_tree.cumulative(galaxy_tree.conditional(after)), atol=1e-5)
    views = jax.jit(lambda v, x: model.apply(v, x, train=False))(variables, x)
    assert views.shape == (2, 8 * 37)
    assert float(views.min()) >= 0 and float(views.max()) <= 1
