"""1-D convolutional RBMs trained with CD-1, stacked into a convolutional DBN (Dieleman thesis Ch. 2 §2.3, §2.5.2).

A layer has a kernel `W` (width, in_channels, features) shared over time, one hidden bias per feature map `b`
(features,) and one visible bias per input channel `c` (in_channels,). With visible sequence `v` (steps,
in_channels) and hidden maps `h` (steps - width + 1, features):

    E(v, h) = -Σ_t,f h[t,f] (Σ_k,c W[k,c,f] v[t+k,c] + b[f]) + V(v)
    V(v) = -Σ_t,c c[c] v[t,c]                 binary visible units (chroma in [0, 1] taken as probabilities)
    V(v) = Σ_t,c (v[t,c] - c[c])² / 2          Gaussian visible units of unit variance (per-track standardised
                                               timbre)

so p(h[t,f] = 1 | v) = σ(conv(v, W)[t,f] + b[f]) and E[v | h] = σ(convᵀ(h, W) + c) (binary) or convᵀ(h, W) + c
(Gaussian). CD-1 as in the thesis (after Hinton's practical guide): mean-field everywhere except the hidden states
that drive the reconstruction, which are sampled. Sparsity after Goh et al. (2010): the data-phase hidden
probabilities are biased towards the target activation, ĥ = (1 - λ) h + λ p, with λ the relative sparsity cost.

Statistics are averaged over the batch and the positions (hidden positions for `W` and `b`, visible ones for `c`),
so a learning rate does not depend on the sequence length. Arrays: `v` (batch, steps, channels).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError

VISIBLE_KINDS = ("binary", "gaussian")


@dataclasses.dataclass(frozen=True)
class RBMConfig:
    """One layer's training settings. Thesis: lr 0.005 (binary visible) / 0.0001 (Gaussian visible); sparsity target
    0.05 (layers 1a, 1b) / 0.1 (layer 3), cost 0.1; CD-1; one pass over the data."""
    visible: str = "binary"
    learning_rate: float = 0.005
    sparsity_target: float = 0.05
    sparsity_cost: float = 0.1

    def __post_init__(self):
        if self.visible not in VISIBLE_KINDS:
            raise UserError(f"unknown RBM visible kind '{self.visible}'; valid: {', '.join(VISIBLE_KINDS)}")


def init_params(key: jax.Array, width: int, in_channels: int, features: int, scale: float = 0.01) -> dict:
    """Small Gaussian weights (Hinton's guide: std 0.01), zero biases."""
    return {"W": scale * jax.random.normal(key, (width, in_channels, features), jnp.float32),
            "b": jnp.zeros((features,), jnp.float32), "c": jnp.zeros((in_channels,), jnp.float32)}


def _conv(x: jnp.ndarray, kernel: jnp.ndarray) -> jnp.ndarray:
    """Valid 1-D cross-correlation: (batch, steps, in) * (width, in, out) → (batch, steps - width + 1, out)."""
    return jax.lax.conv_general_dilated(x, kernel, window_strides=(1,), padding="VALID",
                                        dimension_numbers=("NWC", "WIO", "NWC"))


def hidden_input(params: dict, v: jnp.ndarray) -> jnp.ndarray:
    """conv(v, W) + b: (batch, steps, in) → (batch, steps - width + 1, features)."""
    return _conv(v, params["W"]) + params["b"]


def hidden_probs(params: dict, v: jnp.ndarray) -> jnp.ndarray:
    return jax.nn.sigmoid(hidden_input(params, v))


def visible_input(params: dict, h: jnp.ndarray) -> jnp.ndarray:
    """convᵀ(h, W) + c, the full (transposed) convolution: (batch, hidden_steps, features) → (batch, hidden_steps +
    width - 1, in)."""
    width = params["W"].shape[0]
    padded = jnp.pad(h, ((0, 0), (width - 1, width - 1), (0, 0)))
    return _conv(padded, jnp.transpose(params["W"][::-1], (0, 2, 1))) + params["c"]


def visible_mean(params: dict, h: jnp.ndarray, visible: str) -> jnp.ndarray:
    """E[v | h]: the mean-field reconstruction."""
    x = visible_input(params, h)
    return jax.nn.sigmoid(x) if visible == "binary" else x


def _correlation(params: dict, v: jnp.ndarray, h: jnp.ndarray) -> jnp.ndarray:
    """Σ_batch,t v[t+k, c] h[t, f] → (width, in, features): the gradient of Σ h · conv(v, W) with respect to W."""
    return jax.grad(lambda w: jnp.sum(_conv(v, w) * h))(params["W"])


def cd1_statistics(params: dict, v0: jnp.ndarray, h0_sample: jnp.ndarray, cfg: RBMConfig) -> dict:
    """The CD-1 update direction (to be *added*, times the learning rate) given the data `v0` and the sampled
    hidden states `h0_sample` that drive the reconstruction. Returns {"W", "b", "c"} of the parameters' shapes."""
    h0 = hidden_probs(params, v0)
    if cfg.sparsity_cost:
        h0 = (1.0 - cfg.sparsity_cost) * h0 + cfg.sparsity_cost * cfg.sparsity_target
    v1 = visible_mean(params, h0_sample, cfg.visible)
    h1 = hidden_probs(params, v1)
    n_hidden = h0.shape[0] * h0.shape[1]
    n_visible = v0.shape[0] * v0.shape[1]
    return {"W": (_correlation(params, v0, h0) - _correlation(params, v1, h1)) / n_hidden,
            "b": jnp.sum(h0 - h1, axis=(0, 1)) / n_hidden,
            "c": jnp.sum(v0 - v1, axis=(0, 1)) / n_visible}


def cd1_step(params: dict, v0: jnp.ndarray, key: jax.Array, cfg: RBMConfig) -> tuple[dict, jnp.ndarray]:
    """One CD-1 update on a batch; returns (new params, mean squared reconstruction error)."""
    h0_sample = jax.random.bernoulli(key, hidden_probs(params, v0)).astype(v0.dtype)
    grads = cd1_statistics(params, v0, h0_sample, cfg)
    new = jax.tree_util.tree_map(lambda p, g: p + cfg.learning_rate * g, params, grads)
    error = jnp.mean((v0 - visible_mean(params, h0_sample, cfg.visible)) ** 2)
    return new, error


_cd1_step = jax.jit(cd1_step, static_argnums=3)


def train_layer(params: dict, batches: Iterable[np.ndarray], key: jax.Array, cfg: RBMConfig) -> tuple[dict, list]:
    """CD-1 over `batches` (each (batch, steps, in); one pass = each batch once). Returns (params, errors)."""
    errors = []
    for batch in batches:
        key, sub = jax.random.split(key)
        params, err = _cd1_step(params, jnp.asarray(batch, jnp.float32), sub, cfg)
        errors.append(float(err))
    return params, errors


def max_pool(x: np.ndarray | jnp.ndarray, size: int) -> jnp.ndarray:
    """Non-overlapping max-pooling over time, dropping a last incomplete window: (batch, steps, f) → (batch,
    steps // size, f)."""
    x = jnp.asarray(x)
    steps = (x.shape[1] // size) * size
    return x[:, :steps].reshape(x.shape[0], steps // size, size, x.shape[2]).max(axis=2)
