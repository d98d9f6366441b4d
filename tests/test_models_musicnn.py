"""musicnn's pretrained taggers in JAX (mirjax.models.musicnn, musicnn_weights, frontend.musicnn) against
musicnn's own TensorFlow graph: ``tests/data/musicnn_reference.npz`` from ``tests/make_musicnn_reference.py``."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import jax
import jax.numpy as jnp
import librosa
import numpy as np
import pytest

from make_musicnn_reference import musicnn_logmel_librosa, musicnn_patches_numpy, synthetic_audio
from mirjax.errors import UserError
from mirjax.frontend import make_frontend
from mirjax.frontend.musicnn import patches
from mirjax.models import create_model, musicnn_weights as mw

REFERENCE = Path(__file__).parent / "data" / "musicnn_reference.npz"
needs_musicnn = pytest.mark.skipif(importlib.util.find_spec("musicnn") is None,
                                   reason="musicnn not installed (pip install --no-deps musicnn==0.1.0)")


@functools.cache
def _loaded(name: str):
    model, variables, tags = mw.load_variables(name)
    return model, variables, tags, jax.jit(lambda x: model.apply(variables, x, mutable=["intermediates"]))


@functools.lru_cache(maxsize=1)
def _audio() -> np.ndarray:
    return synthetic_audio()


@functools.lru_cache(maxsize=1)
def _librosa_logmel() -> np.ndarray:
    return musicnn_logmel_librosa(_audio())


@needs_musicnn
@pytest.mark.parametrize("name", mw.MODELS)
def test_taggram_and_penultimate_match_tensorflow(name):
    ref = np.load(REFERENCE)
    *_, apply = _loaded(name)
    # The same log-mel patches that musicnn's graph got, so that only the network is compared ...
    logits, state = apply(jnp.asarray(musicnn_patches_numpy(_librosa_logmel())))
    np.testing.assert_allclose(jax.nn.sigmoid(logits), ref[f"{name}/taggram"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(state["intermediates"]["penultimate"][0], ref[f"{name}/penultimate"], rtol=0, atol=1e-4)
    # ... and end to end, through our musicnn_logmel front-end and patching.
    features = make_frontend("musicnn_logmel")(jnp.asarray(_audio())[None])[0]
    logits, _ = apply(patches(features))
    np.testing.assert_allclose(jax.nn.sigmoid(logits), ref[f"{name}/taggram"], rtol=0, atol=1e-4)


@needs_musicnn
@pytest.mark.parametrize("name", mw.MODELS)
def test_parameter_counts_match_checkpoint(name):
    tf_vars = mw.read_checkpoint(name)
    trainable = sum(v.size for k, v in tf_vars.items() if not k.endswith(("moving_mean", "moving_variance")))
    moving = sum(v.size for k, v in tf_vars.items() if k.endswith(("moving_mean", "moving_variance")))
    # The architecture alone (randomly initialised, no checkpoint) has exactly the checkpoint's variables.
    model = mw.build_model(name)
    shapes = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, mw.PATCH_FRAMES, 96))))
    count = lambda tree: sum(int(np.prod(a.shape)) for a in jax.tree_util.tree_leaves(tree))  # noqa: E731
    assert (count(shapes["params"]), count(shapes["batch_stats"])) == (trainable, moving)
    assert (trainable, moving) == ((787_159, 4_920) if name.endswith("musicnn") else (605_748, 1_282))
    tags = mw.tag_names(name)
    assert len(tags) == 50 and tags[0] == ("guitar" if name.startswith("MTT") else "rock")


@needs_musicnn
def test_intermediates_are_sown():
    _, _, _, apply = _loaded("MTT_musicnn")
    _, state = apply(jnp.asarray(musicnn_patches_numpy(_librosa_logmel())))
    shapes = {k: v[0].shape for k, v in state["intermediates"].items()}
    assert shapes == {"timbral": (2, 187, 408), "temporal": (2, 187, 153), "cnn1": (2, 187, 64),
                      "cnn2": (2, 187, 64), "cnn3": (2, 187, 64), "mean_pool": (2, 753), "max_pool": (2, 753),
                      "penultimate": (2, 200)}
    _, _, _, apply = _loaded("MTT_vgg")
    _, state = apply(jnp.asarray(musicnn_patches_numpy(_librosa_logmel())))
    assert state["intermediates"]["pool5"][0].shape == (2, 2, 1, 128)
    assert state["intermediates"]["penultimate"][0].shape == (2, 256)


@pytest.mark.parametrize("pad_mode", ["reflect", "constant"])
def test_frontend_matches_librosa(pad_mode):
    audio = _audio()
    mel = librosa.feature.melspectrogram(y=audio, sr=16000, hop_length=256, n_fft=512, n_mels=96, pad_mode=pad_mode).T
    want = np.log10(10000 * mel.astype(np.float16).astype(np.float32) + 1)
    got = np.asarray(make_frontend("musicnn_logmel", pad_mode=pad_mode)(jnp.asarray(audio)[None])[0])
    assert got.shape == want.shape == (audio.size // 256 + 1, 96)
    # Equal but where float32 round-off moves a mel energy across a float16 rounding boundary (one float16 ulp).
    diff = np.abs(got - want)
    assert diff.max() < 1e-3 and np.mean(diff > 1e-5) < 0.005


def test_frontend_is_finite_where_musicnn_float16_overflows():
    t = np.arange(16000) / 16000
    loud = (0.9 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    got = np.asarray(make_frontend("musicnn_logmel")(jnp.asarray(loud)[None]))
    assert np.isfinite(got).all() and got.max() > np.log10(1 + 10000 * 6.6)  # past float16's 65504 / 10000
    with np.errstate(over="ignore"):
        mel = librosa.feature.melspectrogram(y=loud, sr=16000, hop_length=256, n_fft=512, n_mels=96)
        mel16 = mel.astype(np.float16)
        assert np.isinf(10000 * mel16).any()  # NumPy >= 2 keeps float16: what musicnn's own code does now


def test_frontend_checks_arguments():
    with pytest.raises(UserError, match="16000 Hz"):
        make_frontend("musicnn_logmel", sample_rate=22050)
    with pytest.raises(UserError, match="pad_mode"):
        make_frontend("musicnn_logmel", pad_mode="edge")


def test_patches_match_musicnn_batching():
    x = np.random.default_rng(0).standard_normal((400, 96)).astype(np.float32)
    np.testing.assert_array_equal(patches(jnp.asarray(x)), musicnn_patches_numpy(x))
    np.testing.assert_array_equal(patches(jnp.asarray(x), hop=62), musicnn_patches_numpy(x, hop=62))
    assert patches(jnp.asarray(x)).shape == (2, 187, 96)
    with pytest.raises(UserError, match="187 frames"):
        patches(jnp.zeros((100, 96)))


def test_missing_package_is_one_line_error(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(mw.importlib.util, "find_spec", lambda n, *a: None if n == "musicnn" else real(n, *a))
    for call in (lambda: mw.checkpoint_dir("MTT_musicnn"), lambda: mw.load_variables("MSD_vgg")):
        with pytest.raises(UserError) as err:
            call()
        assert "\n" not in str(err.value) and "pip install --no-deps musicnn==0.1.0" in str(err.value)
    with pytest.raises(UserError, match="unknown musicnn model"):
        mw.checkpoint_dir("MSD_musicnn_big")


def test_models_train_from_scratch_with_other_outputs():
    x = jnp.asarray(np.random.default_rng(0).standard_normal((2, 187, 96)), jnp.float32)
    for name in ("musicnn", "musicnn_vgg"):
        model = create_model(name, 7)
        # Shapes only (traced, not compiled: compiling both networks' training step takes ~15 s on 2 cores).
        def step(model=model):
            variables = model.init(jax.random.PRNGKey(0), x)
            return model.apply(variables, x, train=True, mutable=["batch_stats"],
                               rngs={"dropout": jax.random.PRNGKey(1)})
        logits, updates = jax.eval_shape(step)
        assert logits.shape == (2, 7) and "batch_stats" in updates
    with pytest.raises(UserError, match=r"\(batch, frames, 96\)"):
        create_model("musicnn", 7).init(jax.random.PRNGKey(0), jnp.zeros((1, 187, 128)))
