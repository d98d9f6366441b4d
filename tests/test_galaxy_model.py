"""The galaxy convnet (Dieleman thesis, App. A, §A.6.5–A.6.6, Table A.2): its parameter count against the
thesis's architecture, the output constraints against the decision tree, and the viewpoints against a direct
numpy construction (corner patches turned with np.rot90)."""

from __future__ import annotations

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax import config as config_lib, galaxy_tree
from mirjax.models import create_model
from mirjax.models.galaxy import Dense, UntiedConv, output_constraints, viewpoints


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


def test_he_initialisation_matches_the_closed_form():
    """std = 0 in the config means He's N(0, 2 / fan_in) (the `cpu` size); fan_in = kernel² × input channels."""
    conv = UntiedConv(features=64, kernel=5, std=0.0, bias=0.1).init(jax.random.PRNGKey(0), jnp.zeros((1, 9, 9, 16)))
    w = np.asarray(conv["params"]["conv"]["kernel"])
    np.testing.assert_allclose(w.std(), np.sqrt(2 / (5 * 5 * 16)), rtol=0.05)
    np.testing.assert_array_equal(np.asarray(conv["params"]["bias"]), np.full((5, 5, 64), 0.1, np.float32))
    dense = Dense(features=256, std=0.0, bias=0.01).init(jax.random.PRNGKey(1), jnp.zeros((1, 512)))
    np.testing.assert_allclose(np.asarray(dense["params"]["kernel"]).std(), np.sqrt(2 / 512), rtol=0.05)
    fixed = Dense(features=256, std=0.001, bias=0.01).init(jax.random.PRNGKey(1), jnp.zeros((1, 512)))
    np.testing.assert_allclose(np.asarray(fixed["params"]["kernel"]).std(), 0.001, rtol=0.05)


def test_cpu_size_initialisation_lets_the_image_reach_the_outputs():
    """The scaled-down network with Table A.2's small weights (std 0.01/0.001 under 0.1 biases) gives every image
    the same outputs to ~1e-6, so a short run only learns the mean answers (what the first `cpu` runs did); with
    He's scale (std = sqrt(2 / fan_in), the `cpu` size's initialisation) the image reaches the outputs."""
    cfg = config_lib.load_config(str(pathlib.Path(__file__).resolve().parent.parent / "configs/dieleman_galaxy.py")
                                 + ":best,cpu")
    assert tuple(cfg.model.conv_std) == (0.0,) and tuple(cfg.model.dense_std) == (0.0,)  # He
    model = create_model("galaxy_convnet", 37, **{**config_lib.section_kwargs(cfg.model), "constraints": False})
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.random((4, 424, 424, 3)) * np.array([0.05, 0.2, 0.5, 1.0])[:, None, None, None], jnp.float32)
    # weights drawn here from the shapes (compiling `init` of the whole network takes ~30 s on CPU)
    shapes = jax.eval_shape(lambda: model.init({"params": jax.random.PRNGKey(0), "dropout": jax.random.PRNGKey(1)},
                                               x[:1], train=False))
    table_a2 = {"conv1": 0.01, "conv2": 0.01, "conv3": 0.01, "conv4": 0.1, "dense1": 0.001, "dense2": 0.001,
                "out": cfg.model.get("out_std", 0.01)}
    apply = jax.jit(lambda v, x: model.apply(v, x, train=False))
    spread = {}
    for name in ("he", "table_a2"):
        params = {}
        for layer, p in shapes["params"].items():
            kernel = [a for path, a in jax.tree_util.tree_leaves_with_path(p) if path[-1].key == "kernel"][0]
            fan_in = int(np.prod(kernel.shape[:-1]))
            std = table_a2[layer] if name == "table_a2" or layer == "out" else np.sqrt(2 / fan_in)
            bias = 0.1 if layer.startswith("conv") or layer == "out" else 0.01  # Table A.2's biases
            params[layer] = jax.tree_util.tree_map_with_path(
                lambda path, a, std=std, bias=bias: jnp.asarray(
                    rng.normal(0, std, a.shape) if path[-1].key == "kernel" else np.full(a.shape, bias), jnp.float32),
                p)
        variables = {"params": params, "batch_stats": {"examples_seen": jnp.zeros((), jnp.int32)}}
        spread[name] = float(np.asarray(apply(variables, x)).std(0).mean())  # across images
    assert spread["table_a2"] < 1e-4 < 1e-2 < spread["he"], spread
