"""Dieleman Ch. 5 raw-audio tagger: parameter counts in closed form, the Table 5.2 nonlinearities, feature
pooling, the `waveform` front-end, and a short training run on scorebank/tiny."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from mirjax.frontend import make_frontend, output_bins
from mirjax.models import create_model
from mirjax.models.dieleman import _NONLINEARITY


def _count(model, samples=48000):
    v = jax.eval_shape(lambda: model.init(jax.random.key(0), jnp.zeros((1, samples, 1))))
    return sum(a.size for a in jax.tree.leaves(v["params"]))


@pytest.mark.parametrize("length,stride,pool,size", [(1024, 1024, "none", 1), (256, 256, "none", 1),
                                                       (1024, 1024, "l2", 4), (1024, 1024, "max", 2)])
def test_parameter_count_closed_form(length, stride, pool, size):
    model = create_model("dieleman_raw", 50, filter_length=length, stride=stride, feature_pool=pool,
                         feature_pool_size=size)
    frames = (48000 - length) // stride + 1
    channels = 128 // size
    t = frames - 7  # conv 8, VALID
    t = -(-t // 4) - 7  # SAME pool 4 (partial window kept), conv 8
    t = -(-t // 4)
    expected = ((length * 128 + 128) + (8 * channels * 32 + 32) + (8 * 32 * 32 + 32) + (t * 32 * 100 + 100)
                + (100 * 50 + 50))
    assert _count(model) == expected


def test_nonlinearities_are_table_5_2():
    x = jnp.array([-2.0, -0.1, 0.0, 0.3, 5.0])
    np.testing.assert_allclose(_NONLINEARITY["relu"](x, 1e4), np.maximum(x, 0))
    np.testing.assert_allclose(_NONLINEARITY["log_square"](x, 1e4), np.log1p(1e4 * np.asarray(x) ** 2), rtol=1e-6)
    np.testing.assert_allclose(_NONLINEARITY["log_rect"](x, 10.0), np.log1p(10.0 * np.maximum(x, 0)), rtol=1e-6)


def test_l2_feature_pooling_is_the_norm_of_each_group():
    model = create_model("dieleman_raw", 3, filter_length=16, stride=16, strided_filters=8, feature_pool="l2",
                         feature_pool_size=4)
    x = jax.random.normal(jax.random.key(1), (2, 16 * 200, 1))
    v = model.init(jax.random.key(0), x)
    _, inter = model.apply(v, x, capture_intermediates=True)
    linear = np.asarray(inter["intermediates"]["strided"]["__call__"][0])  # (2, 200, 8)
    stack_in = np.asarray(inter["intermediates"]["stack"]["Conv_0"]["__call__"][0])
    ref_pooled = np.sqrt((linear.reshape(2, 200, 2, 4) ** 2).sum(-1) + 1e-8)
    k = np.asarray(v["params"]["stack"]["Conv_0"]["kernel"])  # (8, 2, 32)
    b = np.asarray(v["params"]["stack"]["Conv_0"]["bias"])
    ref = np.stack([np.einsum("btc,tco->bo", ref_pooled[:, i:i + 8], k) for i in range(200 - 7)], axis=1) + b
    np.testing.assert_allclose(stack_in, ref, rtol=1e-4, atol=1e-4)


def test_bad_options_fail_with_one_line():
    x = jnp.zeros((1, 4096, 1))
    for kwargs, match in ((dict(nonlinearity="tanh"), "unknown nonlinearity"),
                          (dict(feature_pool="mean"), "unknown feature_pool"),
                          (dict(feature_pool="l2", feature_pool_size=3), "not a multiple")):
        with pytest.raises(ValueError, match=match):
            create_model("dieleman_raw", 2, filter_length=256, stride=256, **kwargs).init(jax.random.key(0), x)


def test_waveform_frontend():
    fe = make_frontend("waveform")
    y = np.random.default_rng(0).normal(size=(3, 100)).astype(np.float32)
    np.testing.assert_array_equal(np.asarray(fe(y)), y[..., None])
    assert output_bins("waveform") == 1


@pytest.mark.slow
def test_raw_tagger_trains_and_evaluates_on_tiny(tiny_data_dir, tmp_path):
    from mirjax.config import load_config
    from mirjax.training.evaluate import evaluate
    from mirjax.training.trainer import train_and_evaluate
    c = load_config("configs/dieleman_raw.py:512,256,tiny")
    c.dataset.data_dir, c.dataset.crop_seconds, c.dataset.shuffle_buffer = tiny_data_dir, 1.0, 64
    c.train.batch_size, c.train.num_steps, c.train.log_every = 8, 2, 1
    c.train.eval_every = c.train.checkpoint_every = 2
    c.train.eval_crops, c.eval.num_crops, c.eval.batch_size, c.train.progress, c.eval.plots = 1, 2, 4, False, False
    c.model.feature_pool, c.model.feature_pool_size = "l2", 2
    assert train_and_evaluate(c, str(tmp_path))["step"] == 2
    report = evaluate(c, [str(tmp_path)])
    assert report["num_clips"] == 9 and 0.0 <= report["roc_auc_macro"] <= 1.0
