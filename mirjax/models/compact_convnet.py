"""Choi's Compact-convnet (Choi thesis §2.4, Table 2-B; the k2c2 family of Ch. 4).

Five blocks of conv 3×3 (32 channels, 'same') → batch norm → ELU → max-pool, then a dense layer to the
tags. Frequency pool sizes follow the input height as in Choi's `models_transfer.py` (Table 2-B's list
reduces 96 bins to zero; Choi thesis §2.4):

  96 bins  → (2,3,2,2,4)   128 bins → (2,4,2,2,4)   ≥ 256 bins (257-bin STFT) → (2,4,4,2,4)

Time pools default to the thesis's (4,4,5,4,4) for 29-s inputs (1360 frames → 1). For shorter crops set
`time_pools` in the config; whatever time/frequency extent remains after the last block is max-pooled to
1×1 (a no-op at the thesis's input size), so the parameter count does not depend on the crop length.

Input normalisation: Choi's Keras code normalises the log-mel input per frequency bin before the first conv
(`Normalization2D`/batch norm over the frequency axis; thesis Ch. 5 studies it as per-frequency
standardisation). `input_norm="frequency"` does that with a parameter-free batch norm (statistics per mel bin,
running averages at test time), so the 39,282 trainable parameters of Table 2-B are unchanged.

Batch norm: Keras-1 `mode=2` used batch statistics at test time too; we use the standard running averages
(`train=False` at evaluation) so that a clip's prediction does not depend on its batch.
"""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from mirjax.errors import UserError
from mirjax.models import layers, register

FREQ_POOLS_BY_HEIGHT = {
    96: (2, 3, 2, 2, 4),
    128: (2, 4, 2, 2, 4),
    256: (2, 4, 4, 2, 4),  # also used for the 257-bin STFT (floor pooling)
}
PAPER_TIME_POOLS = (4, 4, 5, 4, 4)


def freq_pools_for(height: int) -> tuple[int, ...]:
    if height in FREQ_POOLS_BY_HEIGHT:
        return FREQ_POOLS_BY_HEIGHT[height]
    if height >= 256:
        return FREQ_POOLS_BY_HEIGHT[256]
    raise UserError(f"compact_convnet has no frequency pool list for {height} bins "
                     f"(known: {sorted(FREQ_POOLS_BY_HEIGHT)}, ≥256); set model.freq_pools")


@register("compact_convnet")
class CompactConvnet(nn.Module):
    """(batch, frames, bins) features → (batch, num_outputs) logits."""

    num_outputs: int
    channels: int | Sequence[int] = 32  # one width for all blocks (the thesis) or one per block
    num_blocks: int = 5
    kernel_size: int = 3
    freq_pools: Sequence[int] | None = None  # None → chosen by input height
    time_pools: Sequence[int] = PAPER_TIME_POOLS
    dropout: float = 0.0  # after each pool (0 in the thesis)
    bn_momentum: float = 0.99
    input_norm: str = "none"  # none | frequency (per-bin standardisation, no trainable parameters)
    global_pool: str = "max"  # max | mean_max: how the map left after the last block becomes a vector
    activation: str = "elu"  # elu | relu (Choi's auralisation net, thesis §7.2: ReLU, no batch norm)
    batch_norm: bool = True
    hidden_units: int = 0  # > 0: a hidden dense layer (with `activation`) before the output, as in §7.2's net

    def widths(self) -> tuple[int, ...]:
        """Channels of each block."""
        return (self.channels,) * self.num_blocks if isinstance(self.channels, int) else tuple(self.channels)

    def default_freq_pools(self, height: int) -> tuple[int, ...]:
        return freq_pools_for(height)

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        owner = type(self).__name__
        x = layers.input_norm(x, self.input_norm, train, self.bn_momentum, owner)
        x = jnp.swapaxes(x, 1, 2)[..., None]  # (batch, bins, frames, 1): pools are (freq, time) as in Choi
        freq_pools = tuple(self.freq_pools) if self.freq_pools is not None else self.default_freq_pools(x.shape[1])
        widths = self.widths()
        layers.check_lengths(owner, channels=widths, freq_pools=freq_pools, time_pools=self.time_pools,
                             blocks=range(self.num_blocks))
        k = (self.kernel_size, self.kernel_size)
        for width, fp, tp in zip(widths, freq_pools, self.time_pools):
            x = layers.ConvBlock(width, k, (fp, tp), dropout=self.dropout, bn_momentum=self.bn_momentum,
                                 activation=self.activation, batch_norm=self.batch_norm)(x, train)
        x = layers.global_pool(x, self.global_pool, (1, 2), owner)  # identity at the thesis's input size
        if self.hidden_units > 0:
            x = layers.ACTIVATIONS[self.activation](nn.Dense(self.hidden_units)(x))
        return nn.Dense(self.num_outputs)(x)
