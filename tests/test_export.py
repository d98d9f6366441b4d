"""`mirjax export` (mirjax.inference.export): the whole model, front-end included, as StableHLO (jax.export) and a
TensorFlow SavedModel (jax2tf); each artefact reloaded on its own reproduces the JAX model's scores."""

from __future__ import annotations

import importlib.util
import json
import os

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from conftest import tiny_config
from mirjax import cli
from mirjax.cli.export import EXPORT
from mirjax.errors import UserError
from mirjax.inference import LoadedModel, from_pretrained, from_workdir
from mirjax.inference.export import export
from mirjax.training import trainer

ATOL = 1e-5


@pytest.fixture(scope="module")
def workdir(tiny_data_dir, tmp_path_factory):
    """A Choi Compact-convnet (32 channels per block) trained 6 steps on scorebank/tiny."""
    config = tiny_config(tiny_data_dir, **{"model.channels": (32,) * 5, "model.global_pool": "max"})
    path = str(tmp_path_factory.mktemp("run"))
    trainer.train_and_evaluate(config, path)
    return path


def _reference(loaded: LoadedModel, audio: np.ndarray) -> np.ndarray:
    return loaded.scores(np.asarray(loaded.model.apply(loaded.variables, loaded.frontend(audio), train=False)))


def _audio(loaded: LoadedModel, n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (n, loaded.window_samples)).astype(np.float32)


def _check_artefacts(loaded: LoadedModel, out: str, batches=(3, 1)) -> dict:
    import tensorflow as tf

    card = json.load(open(os.path.join(out, "model_card.json")))
    assert card["outputs"] == loaded.outputs
    exp = jax.export.deserialize(open(os.path.join(out, "model.stablehlo"), "rb").read())
    saved = tf.saved_model.load(os.path.join(out, "saved_model"))
    serve = saved.signatures["serving_default"]
    assert list(serve.structured_outputs) == ["scores"]
    for i, b in enumerate(batches):
        audio = _audio(loaded, b, seed=i)
        want = _reference(loaded, audio)
        np.testing.assert_allclose(np.asarray(exp.call(audio)), want, atol=ATOL)
        np.testing.assert_allclose(serve(audio=tf.constant(audio))["scores"].numpy(), want, atol=ATOL)
    return card


def test_trained_model_exports_with_any_batch_size(workdir, tmp_path):
    loaded = from_workdir(workdir)
    out = str(tmp_path / "export")
    summary = export(loaded, out)
    assert summary["symbolic_batch"] and summary["batch"] == "b" and summary["note"] == ""
    assert set(summary["files"]) == {"stablehlo", "savedmodel", "card"}
    assert max(summary["max_abs_diff"].values()) < ATOL
    card = _check_artefacts(loaded, out, batches=(3,))  # export's own check ran a batch of 2
    e = card["export"]
    assert e["input"]["shape"] == ["batch", 16000] and e["input"]["sample_rate"] == 16000
    assert e["output"]["shape"] == ["batch", 34] and e["output"]["activation"] == "sigmoid"
    assert e["files"] == {"stablehlo": "model.stablehlo", "savedmodel": "saved_model"}
    assert export(loaded, out, formats=["stablehlo"], verify=False)["max_abs_diff"] == {}  # again, same --out


@pytest.fixture
def export_command(monkeypatch):
    """`mirjax export` in the command table, whether or not mirjax.cli registers it yet."""
    if EXPORT not in cli.COMMANDS:
        build = cli.build_parser
        monkeypatch.setattr(cli, "build_parser", lambda commands=(*cli.COMMANDS, EXPORT): build(commands))


def test_cli_export_and_its_user_error(workdir, tmp_path, capsys, export_command):
    out = tmp_path / "cli"
    assert cli.main(["export", "--workdir", workdir, "--out", str(out), "--batch", "2", "--checkpoint", "latest",
                     "--formats", "stablehlo"]) == 0
    printed = capsys.readouterr().out
    assert "audio float32 (2, 16000)" in printed and f"wrote {out / 'model.stablehlo'}" in printed
    assert sorted(os.listdir(out)) == ["model.stablehlo", "model_card.json"]
    exp = jax.export.deserialize((out / "model.stablehlo").read_bytes())
    assert exp.in_avals[0].shape == (2, 16000) and exp.out_avals[0].shape == (2, 34)
    assert cli.main(["export", "--out", str(tmp_path / "none")]) == 2
    assert "give either --workdir DIR" in capsys.readouterr().err
    assert cli.main(["export", "--workdir", workdir, "--out", str(out), "--formats", "onnx"]) == 2


class _NeedsConcreteBatch(nn.Module):
    """A model whose Python control flow reads the batch size: it cannot be exported with a symbolic batch."""
    outputs: int

    @nn.compact
    def __call__(self, x, train: bool = False):
        x = x.reshape((x.shape[0], -1))
        if x.shape[0] > 1:  # inconclusive for a symbolic batch
            x = x * 1.0
        return nn.Dense(self.outputs)(x)


@pytest.mark.parametrize("activation", ["softmax", "identity"])
def test_fixed_batch_fallback_and_activations(activation, tmp_path):
    model = _NeedsConcreteBatch(3)
    n = 64

    def frontend(audio):
        return jnp.asarray(audio, jnp.float32).reshape((-1, 8, 8))

    variables = model.init(jax.random.key(0), jnp.zeros((1, 8, 8)))
    card = {"task": "multiclass" if activation == "softmax" else "regression", "activation": activation,
            "outputs": ["a", "b", "c"], "input": {"kind": "audio", "shape": [n], "sample_rate": 8000}}
    loaded = LoadedModel(card, frontend, model, variables, "toy")
    out = str(tmp_path / "toy")
    summary = export(loaded, out)
    assert not summary["symbolic_batch"] and summary["batch"] == 1
    assert "symbolic batch" in summary["note"] and "fixed batch of 1" in summary["note"]
    got = json.load(open(os.path.join(out, "model_card.json")))["export"]
    assert got["input"]["shape"] == [1, n] and got["batch"] == 1 and got["note"] == summary["note"]
    _check_artefacts(loaded, out, batches=(1,))
    if activation == "softmax":
        audio = _audio(loaded, 1)
        np.testing.assert_allclose(jax.export.deserialize(open(os.path.join(out, "model.stablehlo"), "rb").read())
                                   .call(audio).sum(-1), 1.0, atol=1e-6)
    with pytest.raises(UserError, match="unknown export format"):
        export(loaded, out, formats=["onnx"])
    with pytest.raises(UserError, match="batch must be at least 1"):
        export(loaded, out, batch=0)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("musicnn") is None, reason="musicnn not installed")
def test_pretrained_musicnn_exports_with_any_batch_size(tmp_path):
    loaded = from_pretrained("musicnn-mtt")
    out = str(tmp_path / "musicnn")
    summary = export(loaded, out, verify=False)
    assert summary["symbolic_batch"] and summary["max_abs_diff"] == {}
    card = _check_artefacts(loaded, out, batches=(2,))
    assert card["export"]["output"]["shape"] == ["batch", 50] and card["source"].startswith("musicnn 0.1.0")
