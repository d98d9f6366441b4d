"""A generic multilayer perceptron on flattened features, for the regressors of the bag-of-words baseline (Dieleman
thesis §4.5.1): `hidden=()` is linear regression, `hidden=(1000,)` the MLP with 1000 hidden units (ReLU: the
thesis does not name the nonlinearity; it is the one used throughout Ch. 4).

    (batch, frames, bins) → flatten → [Dense(h) → ReLU → Dropout] per h in `hidden` → Dense(num_outputs)
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from mirjax.models import register


@register("mlp")
class MLP(nn.Module):
    """(batch, frames, bins) features (e.g. the `mfcc_bow` front-end's (batch, 1, n_components)) → (batch,
    num_outputs) linear outputs."""

    num_outputs: int
    hidden: tuple = ()  # hidden layer widths; empty = linear regression
    dropout: float = 0.0  # after each hidden layer

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        x = x.reshape(x.shape[0], -1)
        for width in self.hidden:
            x = nn.relu(nn.Dense(width)(x))
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.num_outputs)(x)
