"""Greedy layer-wise pre-training of the Ch. 2 network as a convolutional DBN (Dieleman thesis §2.3, §2.5.2), and
the two initialisations of the fine-tuned net: from the DBN, or random with the DBN weights' statistics (§2.6).

Layer 1a: binary (mean-field) visible chroma; 1b: Gaussian visible, per-track standardised timbre; max-pool 4 of
both hidden probability maps, concatenated; layer 3: binary visible on that. Every layer sees the pre-training
tracks once (one pass), cut into non-overlapping `crop`-step pieces (tracks shorter than a crop are repeated).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.data.beat_features import CHROMA_DIMS
from mirjax.features import conv_rbm

# Thesis §2.5.2: learning rates and Goh et al. sparsity targets per layer, relative sparsity cost 0.1.
LAYERS = {
    "conv_chroma": conv_rbm.RBMConfig(visible="binary", learning_rate=0.005, sparsity_target=0.05, sparsity_cost=0.1),
    "conv_timbre": conv_rbm.RBMConfig(visible="gaussian", learning_rate=0.0001, sparsity_target=0.05,
                                      sparsity_cost=0.1),
    "conv_mix": conv_rbm.RBMConfig(visible="binary", learning_rate=0.005, sparsity_target=0.1, sparsity_cost=0.1),
}


@dataclasses.dataclass(frozen=True)
class DBNSettings:
    features: int = 100
    width: int = 8
    pool: int = 4
    crop: int = 64       # steps per training piece
    batch_size: int = 8  # pieces per CD-1 update (not stated in the thesis)
    passes: int = 1


def crops(tracks: Sequence[np.ndarray], length: int, seed: int) -> np.ndarray:
    """Non-overlapping `length`-step pieces of every track, shuffled: (pieces, length, dims)."""
    pieces = []
    for t in tracks:
        if len(t) < length:
            t = np.tile(t, (-(-length // len(t)), 1))
        pieces.extend(t[i:i + length] for i in range(0, len(t) - length + 1, length))
    pieces = np.stack(pieces)
    return pieces[np.random.default_rng(seed).permutation(len(pieces))]


def batches(x: np.ndarray, size: int, passes: int = 1):
    for _ in range(passes):
        for i in range(0, len(x) - size + 1, size):
            yield x[i:i + size]


def pretrain(tracks: Sequence[np.ndarray], settings: DBNSettings, seed: int = 0) -> tuple[dict, dict]:
    """tracks: (steps, 24) with per-track standardised timbre. Returns ({layer: {W, b, c}}, {layer: [recon. err]})."""
    key = jax.random.PRNGKey(seed)
    pieces = crops(tracks, settings.crop, seed)
    chroma, timbre = pieces[..., :CHROMA_DIMS], pieces[..., CHROMA_DIMS:]
    params, errors = {}, {}
    pooled = []
    for name, data in (("conv_chroma", chroma), ("conv_timbre", timbre)):
        key, k_init, k_train = jax.random.split(key, 3)
        p = conv_rbm.init_params(k_init, settings.width, data.shape[-1], settings.features)
        params[name], errors[name] = conv_rbm.train_layer(
            p, batches(data, settings.batch_size, settings.passes), k_train, LAYERS[name])
        probs = jax.jit(conv_rbm.hidden_probs)
        pooled.append(np.concatenate([np.asarray(conv_rbm.max_pool(probs(params[name], jnp.asarray(b)), settings.pool))
                                      for b in np.array_split(data, max(1, len(data) // 256))]))
    mixed = np.concatenate(pooled, axis=-1)
    key, k_init, k_train = jax.random.split(key, 3)
    p = conv_rbm.init_params(k_init, settings.width, mixed.shape[-1], settings.features)
    params["conv_mix"], errors["conv_mix"] = conv_rbm.train_layer(
        p, batches(mixed, settings.batch_size, settings.passes), k_train, LAYERS["conv_mix"])
    return params, errors


def with_dbn_weights(variables: dict, dbn: dict) -> dict:
    """The model's variables with each conv layer's kernel and bias taken from the DBN layer of the same name."""
    params = dict(variables["params"])
    for name, layer in dbn.items():
        params[name] = {"kernel": jnp.asarray(layer["W"]), "bias": jnp.asarray(layer["b"])}
    return {**variables, "params": params}


def with_matched_random_weights(variables: dict, dbn: dict, seed: int) -> dict:
    """The random-initialisation control (§2.6): every conv kernel and bias drawn from a Gaussian with the mean and
    standard deviation of the corresponding DBN-learned array."""
    rng = np.random.default_rng(seed)
    params = dict(variables["params"])
    for name, layer in dbn.items():
        draw = {k: rng.normal(np.mean(layer[src]), np.std(layer[src]), np.shape(layer[src])).astype(np.float32)
                for k, src in (("kernel", "W"), ("bias", "b"))}
        params[name] = {k: jnp.asarray(v) for k, v in draw.items()}
    return {**variables, "params": params}
