"""A one-hidden-layer autoencoder in Flax (the autoencoder baseline of Zhang et al. §4.3; the paper used
DeepLearnToolbox and does not give its type or size). Sigmoid encoder, linear decoder, squared reconstruction
error; optional masking noise on the input (a denoising autoencoder, Vincent et al.); Adam.

    x (samples, dims) → code σ(x W_e + b_e) (samples, hidden) → reconstruction code W_d + b_d
"""

from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from mirjax.errors import UserError


class Autoencoder(nn.Module):
    """x (…, dims) → reconstruction (…, dims) through a sigmoid code (…, hidden)."""
    hidden: int
    dims: int

    def setup(self):
        self.encoder = nn.Dense(self.hidden)
        self.decoder = nn.Dense(self.dims)

    def encode(self, x: jax.Array) -> jax.Array:
        return nn.sigmoid(self.encoder(x))

    def __call__(self, x: jax.Array) -> jax.Array:
        return self.decoder(self.encode(x))


def _loss(params, model, x, key, noise):
    keep = jax.random.bernoulli(key, 1.0 - noise, x.shape)
    return jnp.mean((model.apply({"params": params}, x * keep) - x) ** 2)


@functools.partial(jax.jit, static_argnames=("hidden", "epochs", "batch_size"))
def _train(x, key, hidden, epochs, batch_size, lr, noise):
    n, d = x.shape
    model = Autoencoder(hidden, d)
    steps = n // batch_size
    k_init, key = jax.random.split(key)
    params = model.init(k_init, x[:1])["params"]
    tx = optax.adam(lr)
    opt = tx.init(params)

    def epoch(carry, k):
        kp, ks = jax.random.split(k)
        batches = x[jax.random.permutation(kp, n)[:steps * batch_size]].reshape(steps, batch_size, d)

        def step(carry, inputs):
            params, opt = carry
            xb, kb = inputs
            g = jax.grad(_loss)(params, model, xb, kb, noise)
            updates, opt = tx.update(g, opt, params)
            return (optax.apply_updates(params, updates), opt), None

        return jax.lax.scan(step, carry, (batches, jax.random.split(ks, steps)))[0], None

    return jax.lax.scan(epoch, (params, opt), jax.random.split(key, epochs))[0][0]


def train_autoencoder(x: np.ndarray, hidden: int = 256, seed: int = 0, epochs: int = 10, batch_size: int = 64,
                      lr: float = 1e-3, noise: float = 0.0):
    """Parameters of an Autoencoder(hidden) trained on x (samples, dims); `noise` = fraction of inputs zeroed."""
    x = jnp.asarray(x, jnp.float32)
    if x.ndim != 2 or x.shape[0] < batch_size:
        raise UserError(f"train_autoencoder needs (samples ≥ {batch_size}, dims) data, got {tuple(x.shape)}")
    return _train(x, jax.random.PRNGKey(seed), hidden, epochs, batch_size, lr, noise)


def autoencoder_codes(params, x: np.ndarray) -> np.ndarray:
    """(samples, dims) → (samples, hidden) sigmoid codes."""
    dims, hidden = params["encoder"]["kernel"].shape
    return np.asarray(Autoencoder(hidden, dims).apply({"params": params}, jnp.asarray(x, jnp.float32),
                                                method=Autoencoder.encode))
