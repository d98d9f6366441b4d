"""Dieleman's Ch. 5 spectrogram tagger (Dieleman thesis §5.2; Dieleman & Schrauwen, ICASSP 2014).

1-D convolutions along time only, with the frequency bins as input channels (frequency convolution is
deliberately left out so that the comparison with raw audio is fair):

  conv 32×8 → max-pool 4 → conv 32×8 → max-pool 4 → dense 100 → dense num_outputs (sigmoid in the loss)

ReLU everywhere. The dense layer sees the flattened time × channel map, as in the paper, so its size follows
the crop length (3 s at hop 256 and 16 kHz: 188 frames → 181 → 45 → 38 → 9 → 288 inputs). Pooling is
'VALID' (floor); the thesis does not pin down the border mode (spec §5.2).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from mirjax.models import register


@register("dieleman_spectrogram")
class DielemanSpectrogramCNN(nn.Module):
    """(batch, frames, bins) features → (batch, num_outputs) logits."""

    num_outputs: int
    filters: int = 32
    filter_length: int = 8
    pool_size: int = 4
    num_conv: int = 2
    hidden: int = 100
    dropout: float = 0.0  # in the dense layers; "no significant effect" in the thesis

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        for _ in range(self.num_conv):
            x = nn.relu(nn.Conv(self.filters, (self.filter_length,), padding="VALID")(x))
            x = nn.max_pool(x, (self.pool_size,), strides=(self.pool_size,), padding="VALID")
        x = x.reshape(x.shape[0], -1)
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.num_outputs)(x)
