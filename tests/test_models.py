"""Models against the papers' parameter counts and shapes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax.models import create_model
from mirjax.models.compact_convnet import freq_pools_for
from mirjax.training.state import count_params


def _params(model, shape):
    variables = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros(shape), train=False))
    return count_params(variables["params"])


def test_compact_convnet_has_choi_parameter_count():
    # Choi thesis Table 2-B: 320 + 4×9,248 (conv) + 5×64 (BN γ/β) + 32×50+50 (dense) = 39,282 trainable.
    assert _params(create_model("compact_convnet", 50), (1, 1360, 96)) == 39_282


@pytest.mark.parametrize("bins,frames", [(96, 1360), (128, 1360), (257, 1360)])
def test_compact_convnet_reduces_thesis_input_to_one_cell(bins, frames):
    # At the thesis's input size the pools alone reach 1×1 (the final global max is then a no-op).
    fp = freq_pools_for(bins)
    f, t = bins, frames
    for p, q in zip(fp, (4, 4, 5, 4, 4)):
        f, t = f // p, t // q
    assert (f, t) == (1, 1)
    model = create_model("compact_convnet", 50)
    out = jax.eval_shape(lambda: model.init_with_output(jax.random.key(0), jnp.zeros((2, frames, bins)))[0])
    assert out.shape == (2, 50)


def test_compact_convnet_input_norm_adds_no_trainable_parameters():
    model = create_model("compact_convnet", 50, input_norm="frequency")
    assert _params(model, (1, 1360, 96)) == 39_282
    x = jax.random.normal(jax.random.key(1), (4, 64, 96)) * 10 + 3
    variables = model.init(jax.random.key(0), x)
    _, upd = model.apply(variables, x, train=True, mutable=["batch_stats"])
    mean = upd["batch_stats"]["input_norm"]["mean"]
    assert mean.shape == (96,)  # statistics per mel bin
    np.testing.assert_allclose(mean, 0.01 * np.asarray(x.mean(axis=(0, 1))), rtol=1e-4)  # momentum 0.99 from 0


def test_compact_convnet_unknown_height_needs_explicit_pools():
    with pytest.raises(ValueError, match="freq_pools"):
        _params(create_model("compact_convnet", 50), (1, 1360, 80))


def test_dieleman_spectrogram_tagger_shapes_and_count():
    # 3 s at hop 256 / 16 kHz = 188 frames of 128 mels: conv8 → 181, pool4 → 45, conv8 → 38, pool4 → 9.
    model = create_model("dieleman_spectrogram", 50)
    expected = (8 * 128 * 32 + 32) + (8 * 32 * 32 + 32) + (9 * 32 * 100 + 100) + (100 * 50 + 50)
    assert _params(model, (1, 188, 128)) == expected


def test_registry_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown model 'nope'"):
        create_model("nope", 10)
    with pytest.raises(ValueError, match="model.chanels"):
        create_model("compact_convnet", 10, chanels=16)


# --- Inference against a numpy transcription (conv → BN with running statistics → ELU → max-pool). -----------


def _np_conv2d_same(x, kernel, bias):
    """Cross-correlation of `(batch, h, w, cin)` with `(kh, kw, cin, cout)`, TF 'same' padding (extra after)."""
    kh, kw = kernel.shape[:2]
    pads = [(0, 0), ((kh - 1) // 2, kh - 1 - (kh - 1) // 2), ((kw - 1) // 2, kw - 1 - (kw - 1) // 2), (0, 0)]
    xp = np.pad(x, pads)
    b, h, w, _ = x.shape
    out = np.zeros((b, h, w, kernel.shape[3]))
    for i in range(h):
        for j in range(w):
            patch = xp[:, i:i + kh, j:j + kw, :]  # (b, kh, kw, cin)
            out[:, i, j, :] = np.einsum("bxyc,xyco->bo", patch, kernel)
    return out + bias


def _np_bn(x, v, eps=1e-3):
    return (x - v["mean"]) / np.sqrt(v["var"] + eps) * v["scale"] + v["bias"]


def _np_elu(x):
    return np.where(x > 0, x, np.expm1(np.minimum(x, 0)))


def _np_max_pool(x, pool):
    p, q = min(pool[0], x.shape[1]), min(pool[1], x.shape[2])
    b, h, w, c = x.shape
    h2, w2 = h // p, w // q
    return x[:, :h2 * p, :w2 * q, :].reshape(b, h2, p, w2, q, c).max(axis=(2, 4))


def _np_conv_block(x, params, stats, pool):
    y = _np_conv2d_same(x, params["Conv_0"]["kernel"], params["Conv_0"]["bias"])
    y = _np_bn(y, {**params["BatchNorm_0"], **stats["BatchNorm_0"]})
    return _np_max_pool(_np_elu(y), pool)


def _randomise(variables, seed):
    """Replace every parameter and BN statistic by fixed non-trivial values (variances positive, ≠ 1)."""
    rng = np.random.default_rng(seed)

    def fill(path, leaf):
        name = path[-1].key
        shape = np.shape(leaf)
        if name == "var":
            return rng.uniform(0.3, 2.5, shape)
        if name == "scale":
            return rng.uniform(0.5, 1.5, shape) * rng.choice([-1.0, 1.0], shape)
        return rng.normal(0.0, 0.6, shape)

    return jax.tree_util.tree_map_with_path(fill, jax.tree_util.tree_map(np.asarray, variables))


def _as_np(tree):
    return jax.tree_util.tree_map(lambda a: np.asarray(a, np.float64), tree)


def test_conv_block_inference_matches_numpy():
    from mirjax.models.layers import ConvBlock
    block = ConvBlock(4, (3, 3), (2, 3))
    x = np.random.default_rng(0).normal(0, 1, (2, 7, 10, 3))  # 7 → 3 rows (floor), 10 → 3 columns
    variables = _randomise(block.init(jax.random.key(0), jnp.zeros(x.shape), train=False), 1)
    out = np.asarray(block.apply(variables, jnp.asarray(x, jnp.float32), train=False))
    v = _as_np(variables)
    pre_pool = _np_elu(_np_bn(_np_conv2d_same(x, v["params"]["Conv_0"]["kernel"], v["params"]["Conv_0"]["bias"]),
                              {**v["params"]["BatchNorm_0"], **v["batch_stats"]["BatchNorm_0"]}))
    assert (pre_pool < -0.05).mean() > 0.2  # ELU's negative branch is exercised (≠ ReLU)
    windows = pre_pool[:, :6, :9].reshape(2, 3, 2, 3, 3, 4)
    assert np.abs(windows.max(axis=(2, 4)) - windows.mean(axis=(2, 4))).min() > 1e-3  # max ≠ mean in every window
    expected = _np_conv_block(x, v["params"], v["batch_stats"], (2, 3))
    assert out.shape == expected.shape == (2, 3, 3, 4)
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_conv_block_clips_pool_larger_than_map():
    from mirjax.models.layers import ConvBlock
    block = ConvBlock(2, (3, 3), (4, 8))
    x = np.random.default_rng(2).normal(0, 1, (1, 3, 5, 2))  # pool (4, 8) → clipped to (3, 5): one cell
    variables = _randomise(block.init(jax.random.key(0), jnp.zeros(x.shape), train=False), 3)
    out = np.asarray(block.apply(variables, jnp.asarray(x, jnp.float32), train=False))
    v = _as_np(variables)
    np.testing.assert_allclose(out, _np_conv_block(x, v["params"], v["batch_stats"], (4, 8)), rtol=1e-4, atol=1e-5)
    assert out.shape == (1, 1, 1, 2)


def test_dense_block_inference_matches_numpy():
    from mirjax.models.layers import DenseBlock
    block = DenseBlock(6)
    x = np.random.default_rng(4).normal(0, 1, (5, 7))
    variables = _randomise(block.init(jax.random.key(0), jnp.zeros(x.shape), train=False), 5)
    out = np.asarray(block.apply(variables, jnp.asarray(x, jnp.float32), train=False))
    p, s = _as_np(variables["params"]), _as_np(variables["batch_stats"])
    pre = _np_bn(x @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"], {**p["BatchNorm_0"], **s["BatchNorm_0"]})
    assert (pre < -0.05).mean() > 0.2
    np.testing.assert_allclose(out, _np_elu(pre), rtol=1e-4, atol=1e-5)


def test_compact_convnet_inference_matches_numpy():
    # Two blocks of 3 channels on 12 frames × 8 bins: (8, 12) → pool (2, 3) → (4, 4) → pool (2, 2) → (2, 2),
    # then the global max over what is left and the dense layer to 5 logits.
    model = create_model("compact_convnet", 5, channels=3, num_blocks=2, freq_pools=(2, 2), time_pools=(3, 2))
    x = np.random.default_rng(6).normal(0, 1, (2, 12, 8))  # (batch, frames, bins)
    variables = _randomise(model.init(jax.random.key(0), jnp.zeros(x.shape), train=False), 7)
    out = np.asarray(model.apply(variables, jnp.asarray(x, jnp.float32), train=False))
    p, s = _as_np(variables["params"]), _as_np(variables["batch_stats"])
    h = np.swapaxes(x, 1, 2)[..., None]  # (batch, bins, frames, 1)
    h = _np_conv_block(h, p["ConvBlock_0"], s["ConvBlock_0"], (2, 3))
    h = _np_conv_block(h, p["ConvBlock_1"], s["ConvBlock_1"], (2, 2))
    assert h.shape == (2, 2, 2, 3)
    expected = h.max(axis=(1, 2)) @ p["Dense_0"]["kernel"] + p["Dense_0"]["bias"]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)
