"""Choi's Compact-convnet (Choi thesis §2.4, Table 2-B; the k2c2 family of Ch. 4).

Five blocks of conv 3×3 (32 channels, 'same') → batch norm → ELU → max-pool, then a dense layer to the
tags. Frequency pool sizes follow the input height as in Choi's `models_transfer.py` (Table 2-B's list
reduces 96 bins to zero; see spec/choi_thesis.md §1.3):

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

from typing import Sequence

import flax.linen as nn
import jax.numpy as jnp

from mirjax.models import register

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
    raise ValueError(f"compact_convnet has no frequency pool list for {height} bins "
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

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        if self.input_norm == "frequency":
            x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, use_scale=False,
                             use_bias=False, axis=-1, name="input_norm")(x)
        elif self.input_norm != "none":
            raise ValueError(f"compact_convnet: unknown input_norm '{self.input_norm}'; valid: none, frequency")
        x = jnp.swapaxes(x, 1, 2)[..., None]  # (batch, bins, frames, 1): pools are (freq, time) as in Choi
        freq_pools = tuple(self.freq_pools) if self.freq_pools is not None else freq_pools_for(x.shape[1])
        if len(freq_pools) != self.num_blocks or len(self.time_pools) != self.num_blocks:
            raise ValueError(f"compact_convnet: need {self.num_blocks} freq and time pools, "
                             f"got {freq_pools} and {tuple(self.time_pools)}")
        widths = (self.channels,) * self.num_blocks if isinstance(self.channels, int) else tuple(self.channels)
        if len(widths) != self.num_blocks:
            raise ValueError(f"compact_convnet: need {self.num_blocks} channel widths, got {widths}")
        for width, fp, tp in zip(widths, freq_pools, self.time_pools):
            x = nn.Conv(width, (self.kernel_size, self.kernel_size), padding="SAME",
                        kernel_init=nn.initializers.he_normal())(x)
            x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3)(x)
            x = nn.elu(x)
            fp, tp = min(fp, x.shape[1]), min(tp, x.shape[2])  # short inputs: never pool below one cell
            x = nn.max_pool(x, (fp, tp), strides=(fp, tp), padding="VALID")
            if self.dropout > 0:
                x = nn.Dropout(self.dropout, deterministic=not train)(x)
        if self.global_pool == "max":
            x = jnp.max(x, axis=(1, 2))  # (batch, channels); identity at the thesis's 96×1360 input
        elif self.global_pool == "mean_max":  # evidence summed over time as well as detected anywhere
            x = jnp.concatenate([jnp.mean(x, axis=(1, 2)), jnp.max(x, axis=(1, 2))], axis=-1)
        else:
            raise ValueError(f"compact_convnet: unknown global_pool '{self.global_pool}'; valid: max, mean_max")
        return nn.Dense(self.num_outputs)(x)
