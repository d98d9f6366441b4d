"""Dense restricted Boltzmann machines trained by one-step contrastive divergence (CD-1), stacked into a deep
belief net (Hamel & Eck, ISMIR'10, the DBN baseline of Zhang et al. §4.3). Pure JAX functions.

Energy, binary hidden units h, visible units v either binary or Gaussian with unit variance (for whitened input):

    binary:    E(v, h) = −bᵀv − cᵀh − vᵀWh
    gaussian:  E(v, h) = ½‖v − b‖² − cᵀh − vᵀWh

    p(h_j = 1 | v) = σ(c_j + vᵀW_j);   E[v | h] = σ(b + Wh) (binary) or b + Wh (gaussian)

CD-1 from data v0: h0 = p(h | v0), a sample h0s ~ Bernoulli(h0), reconstruction v1 = E[v | h0s] (the mean, as in
Hinton's practical guide), h1 = p(h | v1); the update direction (ascent on the log-likelihood approximation) is

    ΔW = ⟨v0 h0ᵀ⟩ − ⟨v1 h1ᵀ⟩,   Δb = ⟨v0⟩ − ⟨v1⟩,   Δc = ⟨h0⟩ − ⟨h1⟩   (⟨·⟩ = batch mean).

A dense RBM is the convolutional RBM of `mirjax.features.conv_rbm` with a kernel of width 1 on sequences of one
step, so the conditionals and the CD-1 statistics are that module's; this one adds the dense parameter layout
(`RBM`: W, visible bias b, hidden bias c) and the training recipe of the DBN baseline (shuffled epochs, momentum,
L2 weight decay on W).
"""

from __future__ import annotations

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.features import conv_rbm

VISIBLE = conv_rbm.VISIBLE_KINDS


@jax.tree_util.register_dataclass
@dataclasses.dataclass(frozen=True)
class RBM:
    w: jax.Array  # (visible, hidden)
    b: jax.Array  # (visible,)
    c: jax.Array  # (hidden,)


def init_rbm(key: jax.Array, num_visible: int, num_hidden: int, scale: float = 0.01) -> RBM:
    return RBM(scale * jax.random.normal(key, (num_visible, num_hidden)), jnp.zeros(num_visible),
               jnp.zeros(num_hidden))


def _as_conv(rbm: RBM) -> dict:
    """The width-1 conv-RBM with the same energy (conv_rbm names the hidden bias b and the visible bias c)."""
    return {"W": rbm.w[None], "b": rbm.c, "c": rbm.b}


def hidden_probs(rbm: RBM, v: jax.Array) -> jax.Array:
    """(batch, visible) → (batch, hidden) p(h = 1 | v)."""
    return conv_rbm.hidden_probs(_as_conv(rbm), v[:, None, :])[:, 0]


def visible_mean(rbm: RBM, h: jax.Array, visible: str) -> jax.Array:
    """(batch, hidden) → (batch, visible) E[v | h]."""
    return conv_rbm.visible_mean(_as_conv(rbm), h[:, None, :], visible)[:, 0]


def cd1_gradient(rbm: RBM, v0: jax.Array, key: jax.Array, visible: str = "binary") -> RBM:
    """The CD-1 update direction (module docstring) on a batch v0 (batch, visible), as an RBM of deltas."""
    if visible not in VISIBLE:
        raise UserError(f"unknown visible unit type '{visible}'; valid: {', '.join(VISIBLE)}")
    h0s = jax.random.bernoulli(key, hidden_probs(rbm, v0)).astype(v0.dtype)
    g = conv_rbm.cd1_statistics(_as_conv(rbm), v0[:, None, :], h0s[:, None, :],
                                conv_rbm.RBMConfig(visible=visible, sparsity_cost=0.0))
    return RBM(g["W"][0], g["c"], g["b"])


@functools.partial(jax.jit, static_argnames=("num_hidden", "epochs", "batch_size", "visible"))
def _train(x, key, num_hidden, epochs, batch_size, visible, lr, momentum, weight_decay):
    n, d = x.shape
    steps = n // batch_size
    k_init, key = jax.random.split(key)
    rbm = init_rbm(k_init, d, num_hidden)
    vel = jax.tree.map(jnp.zeros_like, rbm)

    def epoch(carry, k):
        rbm, vel = carry
        kp, ks = jax.random.split(k)
        batches = x[jax.random.permutation(kp, n)[:steps * batch_size]].reshape(steps, batch_size, d)

        def step(carry, inputs):
            rbm, vel = carry
            vb, kb = inputs
            g = cd1_gradient(rbm, vb, kb, visible)
            g = dataclasses.replace(g, w=g.w - weight_decay * rbm.w)
            vel = jax.tree.map(lambda v, gi: momentum * v + lr * gi, vel, g)
            return (jax.tree.map(jnp.add, rbm, vel), vel), None

        return jax.lax.scan(step, (rbm, vel), (batches, jax.random.split(ks, steps)))[0], None

    return jax.lax.scan(epoch, (rbm, vel), jax.random.split(key, epochs))[0][0]


def train_rbm(x: np.ndarray, num_hidden: int, seed: int = 0, epochs: int = 10, batch_size: int = 64,
              visible: str = "binary", lr: float = 0.01, momentum: float = 0.5, weight_decay: float = 1e-4) -> RBM:
    """CD-1 with momentum and L2 weight decay on W, on x (samples, visible)."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2 or x.shape[0] < batch_size:
        raise UserError(f"train_rbm needs (samples ≥ batch_size={batch_size}, visible) data, got {tuple(x.shape)}")
    return _train(x, jax.random.PRNGKey(seed), num_hidden, epochs, batch_size, visible, lr, momentum, weight_decay)


def train_dbn(x: np.ndarray, layers: tuple[int, ...], seed: int = 0, visible: str = "gaussian",
              lr: float = 0.01, gaussian_lr_scale: float = 0.1, **kw) -> list[RBM]:
    """Greedy layer-wise stack: the first RBM has `visible` units on x, each next one binary units on the
    previous layer's hidden probabilities. A Gaussian first layer learns at lr × `gaussian_lr_scale` (its
    unbounded reconstructions make the plain rate unstable; Hinton's practical guide)."""
    rbms, h = [], jnp.asarray(x, jnp.float32)
    for i, units in enumerate(layers):
        kind = visible if i == 0 else "binary"
        rate = lr * (gaussian_lr_scale if kind == "gaussian" else 1.0)
        rbm = train_rbm(h, units, seed + i, visible=kind, lr=rate, **kw)
        rbms.append(rbm)
        h = hidden_probs(rbm, h)
    return rbms


def dbn_transform(rbms: list[RBM], x: np.ndarray) -> np.ndarray:
    """(samples, visible) → (samples, hidden of the top RBM) probabilities."""
    h = jnp.asarray(x, jnp.float32)
    for rbm in rbms:
        h = hidden_probs(rbm, h)
    return np.asarray(h)
