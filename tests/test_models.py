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
