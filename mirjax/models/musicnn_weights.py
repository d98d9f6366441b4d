"""Load musicnn's pretrained TF1 checkpoints (PyPI ``musicnn`` 0.1.0, ISC licence) into ``mirjax.models.musicnn``.

The checkpoints are read where the installed package keeps them (``<site-packages>/musicnn/<name>/``); they are
never copied into this repository. Install them with ``pip install --no-deps musicnn==0.1.0`` (``make venv``
does). Reading needs TensorFlow (a mirjax dependency); only the variables are read — musicnn's own graph code,
which needs TF1 behaviour, is not run.

``load_variables("MTT_musicnn")`` → ``(model, variables, tag_names)``: ``model.apply(variables, patches)`` gives
the 50 tag logits of ``(batch, 187, 96)`` patches of the ``musicnn_logmel`` front-end (sigmoid → musicnn's taggram).
"""

from __future__ import annotations

import importlib
import importlib.util
from pathlib import Path
from typing import Any

import numpy as np

from mirjax.errors import UserError
from mirjax.models import create_model

MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")
INSTALL_HINT = "pip install --no-deps musicnn==0.1.0"
PATCH_FRAMES = 187  # musicnn's 3-s input: librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1

_BN_FIELDS = {"gamma": ("params", "scale"), "beta": ("params", "bias"),
              "moving_mean": ("batch_stats", "mean"), "moving_variance": ("batch_stats", "var")}

# TF variable scope → Flax module name, in the order musicnn's graph creates the layers.
_MUSICNN_NAMES = {
    "batch_normalization": "input_bn",
    "conv2d": "timbral_74_conv", "batch_normalization_1": "timbral_74_bn",
    "conv2d_1": "timbral_77_conv", "batch_normalization_2": "timbral_77_bn",
    "conv2d_2": "temporal_128_conv", "batch_normalization_3": "temporal_128_bn",
    "conv2d_3": "temporal_64_conv", "batch_normalization_4": "temporal_64_bn",
    "conv2d_4": "temporal_32_conv", "batch_normalization_5": "temporal_32_bn",
    "conv2d_5": "midend1_conv", "batch_normalization_6": "midend1_bn",
    "conv2d_6": "midend2_conv", "batch_normalization_7": "midend2_bn",
    "conv2d_7": "midend3_conv", "batch_normalization_8": "midend3_bn",
    "batch_normalization_9": "backend_pool_bn",
    "dense": "backend_dense", "batch_normalization_10": "backend_dense_bn",
    "dense_1": "output",
}
_VGG_NAMES = {
    "batch_normalization": "input_bn", "dense": "output",
    **{f"{i}CNN": f"conv{i}" for i in range(1, 6)},
    **{f"batch_normalization_{i}": f"bn{i}" for i in range(1, 6)},
}
_MIDEND_CONVS = ("midend1_conv", "midend2_conv", "midend3_conv")  # TF [7, C, 1, F] → Flax Conv1D [7, C, F]


def _package_dir() -> Path:
    spec = importlib.util.find_spec("musicnn")
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the pretrained musicnn models need the musicnn package: {INSTALL_HINT}")
    return Path(next(iter(spec.submodule_search_locations)))


def checkpoint_dir(name: str) -> Path:
    """The folder of checkpoint ``name`` (one of ``MODELS``) inside the installed musicnn package."""
    if name not in MODELS:
        raise UserError(f"unknown musicnn model '{name}'; valid: {', '.join(MODELS)}")
    path = _package_dir() / name
    if not (path / ".index").is_file():
        raise UserError(f"musicnn checkpoint {path} is missing or incomplete; reinstall: {INSTALL_HINT}")
    return path


def tag_names(name: str) -> list[str]:
    """The 50 tags of model ``name``, in output order, from the installed package's configuration module."""
    if name not in MODELS:
        raise UserError(f"unknown musicnn model '{name}'; valid: {', '.join(MODELS)}")
    _package_dir()
    config = importlib.import_module("musicnn.configuration")
    return list(config.MTT_LABELS if name.startswith("MTT") else config.MSD_LABELS)


def read_checkpoint(name: str) -> dict[str, np.ndarray]:
    """Every model variable of checkpoint ``name`` as ``{tf_name: array}`` (no optimiser slots or counters)."""
    import tensorflow as tf  # heavy; only needed here

    prefix = str(checkpoint_dir(name)) + "/"  # the checkpoint's files are "<dir>/.index", "<dir>/.data-…"
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    return {k: np.asarray(reader.get_tensor(k), dtype=np.float32) for k in reader.get_variable_to_shape_map()
            if "Adam" not in k and not k.startswith("beta1_power") and not k.startswith("beta2_power")}


def to_flax(name: str, tf_vars: dict[str, np.ndarray]) -> dict[str, Any]:
    """Map checkpoint variables to the ``{"params", "batch_stats"}`` tree of the matching Flax model."""
    names = _VGG_NAMES if name.endswith("vgg") else _MUSICNN_NAMES
    tree: dict[str, dict[str, dict[str, np.ndarray]]] = {"params": {}, "batch_stats": {}}
    for key, value in tf_vars.items():
        scope, _, field = key.rpartition("/")
        if scope not in names:
            raise UserError(f"unexpected variable '{key}' in musicnn checkpoint {name}")
        module = names[scope]
        if field in _BN_FIELDS:
            collection, flax_field = _BN_FIELDS[field]
        elif field in ("kernel", "bias"):
            collection, flax_field = "params", field
            if field == "kernel" and module in _MIDEND_CONVS:
                value = value[:, :, 0, :]
        else:
            raise UserError(f"unexpected variable '{key}' in musicnn checkpoint {name}")
        tree[collection].setdefault(module, {})[flax_field] = value
    return tree


def build_model(name: str):
    """The unloaded Flax model with checkpoint ``name``'s architecture (50 outputs)."""
    if name not in MODELS:
        raise UserError(f"unknown musicnn model '{name}'; valid: {', '.join(MODELS)}")
    # MTT and MSD share one architecture per family (musicnn: 64 mid-end filters, 200 back-end units).
    return create_model("musicnn_vgg" if name.endswith("vgg") else "musicnn", 50)


def load_variables(name: str) -> tuple[Any, dict[str, Any], list[str]]:
    """``(model, variables, tag_names)`` for pretrained checkpoint ``name`` (``MTT_musicnn``, ``MSD_musicnn``,
    ``MTT_vgg`` or ``MSD_vgg``). Shapes are checked against the Flax model's own."""
    import jax
    import jax.numpy as jnp

    model = build_model(name)
    tags = tag_names(name)
    variables = to_flax(name, read_checkpoint(name))
    expected = jax.eval_shape(lambda: model.init(jax.random.PRNGKey(0), jnp.zeros((1, PATCH_FRAMES, 96))))
    expected = {k: v for k, v in expected.items() if k in ("params", "batch_stats")}
    got_shapes = jax.tree_util.tree_map(lambda a: tuple(a.shape), variables)
    want_shapes = jax.tree_util.tree_map(lambda a: tuple(a.shape), expected)
    if got_shapes != want_shapes:
        raise UserError(f"musicnn checkpoint {name} does not match the Flax model's variables")
    return model, jax.tree_util.tree_map(jnp.asarray, variables), tags


__all__ = ["MODELS", "INSTALL_HINT", "PATCH_FRAMES", "checkpoint_dir", "tag_names", "read_checkpoint", "to_flax",
           "build_model", "load_variables"]
