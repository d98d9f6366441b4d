"""Dieleman's Ch. 5 taggers (Dieleman thesis §5.2–5.4; Dieleman & Schrauwen, ICASSP 2014): the spectrogram
model, and the raw-audio model that puts a learned strided convolution in front of the same stack.

1-D convolutions along time only, with the frequency bins as input channels (frequency convolution is
deliberately left out so that the comparison with raw audio is fair):

  conv 32×8 → max-pool 4 → conv 32×8 → max-pool 4 → dense 100 → dense num_outputs (sigmoid in the loss)

ReLU everywhere. The dense layer sees the flattened time × channel map, as in the paper, so its size follows
the crop length (3 s at hop 256 and 16 kHz: 188 frames → 181 → 45 → 38 → 9 → 288 inputs). Pooling is
'VALID' (floor); the thesis does not pin down the border mode (Dieleman thesis §5.4.1).

The same stack, configured, is the Ch. 4 network that predicts latent factors from 3-s windows (§4.5.2):
conv 128×6 → max-pool 4 → conv 128×6 → max-pool 5 → dense 400 → dense 50 (linear outputs, MSE or WPE), i.e.
`filters=128, filter_length=6, pool_size=(4, 5), hidden=400` (configs/dieleman_recommend.py).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from mirjax.errors import UserError
from mirjax.models import layers, register


@register("dieleman_spectrogram")
class DielemanSpectrogramCNN(nn.Module):
    """(batch, frames, bins) features → (batch, num_outputs) logits."""

    num_outputs: int
    filters: int = 32
    filter_length: int = 8
    pool_size: int | tuple[int, ...] = 4  # one size for every conv layer, or one per layer (Ch. 4: (4, 5))
    num_conv: int = 2
    hidden: int = 100
    dropout: float = 0.0  # in the dense layers; "no significant effect" in the thesis
    pool_padding: str = "VALID"  # VALID (floor) | SAME (keeps a partial last window; short raw-audio inputs)
    input_norm: str = "none"  # none | frequency (per-band standardisation, no trainable parameters)

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        x = layers.input_norm(x, self.input_norm, train, 0.99, type(self).__name__)
        pools = (self.pool_size,) * self.num_conv if isinstance(self.pool_size, int) else tuple(self.pool_size)
        if len(pools) != self.num_conv:
            raise UserError(f"model.pool_size {self.pool_size} needs one size per conv layer ({self.num_conv})")
        for pool in pools:
            x = nn.relu(nn.Conv(self.filters, (self.filter_length,), padding="VALID")(x))
            x = nn.max_pool(x, (pool,), strides=(pool,), padding=self.pool_padding)
        x = x.reshape(x.shape[0], -1)
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        x = nn.relu(nn.Dense(self.hidden)(x))
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return nn.Dense(self.num_outputs)(x)


NONLINEARITIES = ("relu", "log_square", "log_rect")
FEATURE_POOLS = ("none", "l2", "max")


@register("dieleman_raw")
class DielemanRawCNN(nn.Module):
    """(batch, samples, 1) raw audio (front-end `waveform`) → (batch, num_outputs) logits.

    A strided 1-D convolution (`filter_length`, `stride`; Table 5.1: 1024/1024 … 256/256) with `strided_filters`
    filters (not given in the text; 128 mirrors the 128 mel bands), its nonlinearity (Table 5.2: `relu`,
    `log_square` = log(1 + C·x²), `log_rect` = log(1 + C·max(x, 0)); the thesis does not say how log(1 + C·x)
    treats negative x, we rectify), optional feature pooling across groups of `feature_pool_size` filters
    (Table 5.3: `l2` = sqrt of the summed squares of the linear outputs, which is then the layer's nonlinearity;
    `max` = maxout over the linear outputs, followed by the nonlinearity), then the spectrogram model's stack.
    """

    num_outputs: int
    filter_length: int = 1024
    stride: int = 1024
    strided_filters: int = 128
    nonlinearity: str = "relu"
    log_c: float = 1e4
    feature_pool: str = "none"
    feature_pool_size: int = 1
    filters: int = 32
    hidden: int = 100
    dropout: float = 0.0

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        if self.nonlinearity not in NONLINEARITIES:
            raise UserError(f"dieleman_raw: unknown nonlinearity '{self.nonlinearity}'; "
                            f"valid: {', '.join(NONLINEARITIES)}")
        if self.feature_pool not in FEATURE_POOLS:
            raise UserError(f"dieleman_raw: unknown feature_pool '{self.feature_pool}'; "
                            f"valid: {', '.join(FEATURE_POOLS)}")
        if self.strided_filters % max(self.feature_pool_size, 1):
            raise UserError(f"dieleman_raw: strided_filters={self.strided_filters} is not a multiple of "
                             f"feature_pool_size={self.feature_pool_size}")
        if x.ndim == 2:
            x = x[..., None]
        x = nn.Conv(self.strided_filters, (self.filter_length,), strides=(self.stride,), padding="VALID",
                    name="strided")(x)  # (batch, frames, strided_filters), linear
        if self.feature_pool != "none" and self.feature_pool_size > 1:
            groups = x.reshape(x.shape[:-1] + (-1, self.feature_pool_size))
            if self.feature_pool == "l2":
                x = jnp.sqrt(jnp.sum(groups ** 2, axis=-1) + 1e-8)
                return self._stack(x, train)
            x = jnp.max(groups, axis=-1)
        x = _NONLINEARITY[self.nonlinearity](x, self.log_c)
        return self._stack(x, train)

    def _stack(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        # SAME pooling: 3 s at stride 1024 leave 2 frames before the last pool of 4 (Dieleman §5.4.1: the thesis's
        # border mode is not stated), so a partial window is kept instead of pooling to nothing.
        return DielemanSpectrogramCNN(self.num_outputs, filters=self.filters, hidden=self.hidden,
                                      dropout=self.dropout, pool_padding="SAME", name="stack")(x, train)


_NONLINEARITY = {
    "relu": lambda x, c: jax.nn.relu(x),
    "log_square": lambda x, c: jnp.log1p(c * x ** 2),
    "log_rect": lambda x, c: jnp.log1p(c * jax.nn.relu(x)),
}
