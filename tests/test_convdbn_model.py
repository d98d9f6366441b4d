"""The Ch. 2 beat convnet (Dieleman thesis §2.5.1): forward pass against a direct numpy transcription, masking of
padded steps, and the DBN / matched-random initialisations of the study."""

import jax
import numpy as np
import pytest

from mirjax.models import create_model
from mirjax.studies.convdbn import dbn

W, P, FEAT, CLASSES = 3, 2, 4, 5


def sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_conv(x, kernel, bias):
    width = kernel.shape[0]
    return np.stack([np.einsum("kc,kcf->f", x[t:t + width], kernel) for t in range(len(x) - width + 1)]) + bias


def np_pool(x, size):
    return np.stack([x[i:i + size].max(axis=0) for i in range(0, len(x), size)])  # last window may be partial


def np_forward(params, x):
    """One unpadded track (steps, 24) → log of the mean over steps of the per-step softmax."""
    a = np_pool(sigmoid(np_conv(x[:, :12], params["conv_chroma"]["kernel"], params["conv_chroma"]["bias"])), P)
    b = np_pool(sigmoid(np_conv(x[:, 12:], params["conv_timbre"]["kernel"], params["conv_timbre"]["bias"])), P)
    h = np_pool(sigmoid(np_conv(np.concatenate([a, b], 1), params["conv_mix"]["kernel"], params["conv_mix"]["bias"])),
                P)
    z = h @ params["classifier"]["kernel"] + params["classifier"]["bias"]
    s = np.exp(z - z.max(1, keepdims=True))
    return np.log((s / s.sum(1, keepdims=True)).mean(0))


@pytest.fixture(scope="module")
def net():
    model = create_model("beat_convnet", CLASSES, features=FEAT, width=W, pool=P)
    variables = model.init(jax.random.PRNGKey(0), np.zeros((1, 20, 24), np.float32))
    params = jax.tree_util.tree_map(np.asarray, variables["params"])
    return model, variables, params


def test_forward_matches_numpy_and_ignores_padding(net):
    model, variables, params = net
    rng = np.random.default_rng(0)
    lengths = [model.min_steps(), 17, 23]
    x = rng.normal(size=(3, 30, 24)).astype(np.float32)  # steps past each length are garbage, masked out
    mask = np.arange(30)[None] < np.array(lengths)[:, None]
    out = np.asarray(model.apply(variables, x, mask=mask))
    for i, n in enumerate(lengths):
        np.testing.assert_allclose(out[i], np_forward(params, x[i, :n].astype(np.float64)), rtol=1e-4, atol=1e-5)
    assert model.min_steps() == W + (W - 1) * P


def test_dbn_and_matched_random_initialisations(net):
    _, variables, _ = net
    rng = np.random.default_rng(1)
    layers = {"conv_chroma": (12, 0.3), "conv_timbre": (12, -0.2), "conv_mix": (2 * FEAT, 0.1)}
    trained = {n: {"W": rng.normal(m, 0.5, (W, c, FEAT)) * 1.0, "b": rng.normal(-1, 0.2, FEAT), "c": np.zeros(c)}
               for n, (c, m) in layers.items()}
    pre = dbn.with_dbn_weights(variables, trained)
    np.testing.assert_allclose(pre["params"]["conv_mix"]["kernel"], trained["conv_mix"]["W"], rtol=1e-6)
    np.testing.assert_allclose(pre["params"]["conv_chroma"]["bias"], trained["conv_chroma"]["b"], rtol=1e-6)
    ctrl = dbn.with_matched_random_weights(variables, trained, seed=0)
    for name, layer in trained.items():
        k = np.asarray(ctrl["params"][name]["kernel"])
        assert k.shape == layer["W"].shape and not np.allclose(k, layer["W"])
        assert abs(k.mean() - layer["W"].mean()) < 0.15 and abs(k.std() - layer["W"].std()) < 0.15
    np.testing.assert_array_equal(ctrl["params"]["classifier"]["kernel"], variables["params"]["classifier"]["kernel"])
