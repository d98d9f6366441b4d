"""Building blocks shared by the convnet families: input normalisation, the conv → BN → ELU → pool block,
pool-size fitting for inputs shorter than a paper's, and global pooling of what is left."""

from __future__ import annotations

from collections.abc import Sequence

import flax.linen as nn
import jax.numpy as jnp

from mirjax.errors import UserError

INPUT_NORMS = ("none", "frequency")
GLOBAL_POOLS = ("max", "mean_max")


def input_norm(x: jnp.ndarray, mode: str, train: bool, momentum: float, owner: str) -> jnp.ndarray:
    """`frequency`: per-bin standardisation of `(batch, frames, bins)` with a parameter-free batch norm (batch
    statistics in training, running averages at test time), as Choi's Keras code normalises the log-mel input
    per frequency; `none`: identity. Call inside a compact module."""
    if mode == "frequency":
        return nn.BatchNorm(use_running_average=not train, momentum=momentum, use_scale=False, use_bias=False,
                            axis=-1, name="input_norm")(x)
    if mode != "none":
        raise UserError(f"{owner}: unknown input_norm '{mode}'; valid: {', '.join(INPUT_NORMS)}")
    return x


def same_padding(kernel: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """TF/Keras 'same' padding per axis (the extra sample goes after)."""
    return tuple(((k - 1) // 2, k - 1 - (k - 1) // 2) for k in kernel)


class ConvBlock(nn.Module):
    """Conv → batch norm → ELU → max-pool → dropout, on `(batch, freq, time, channels)` (Choi's
    `get_convBNeluMPdrop`). `padding` per axis: 'same' everywhere unless given (k2c1's full-height first kernel
    is 'valid' in frequency). Pools larger than the map are clipped, so a short input never pools to zero."""

    features: int
    kernel: tuple[int, int]
    pool: tuple[int, int]
    padding: tuple[tuple[int, int], ...] | None = None
    dropout: float = 0.0
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        x = nn.Conv(self.features, self.kernel, padding=self.padding or same_padding(self.kernel),
                    kernel_init=nn.initializers.he_normal())(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3)(x)
        x = nn.elu(x)
        pool = (min(self.pool[0], x.shape[1]), min(self.pool[1], x.shape[2]))
        x = nn.max_pool(x, pool, strides=pool, padding="VALID")
        if self.dropout > 0:
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return x


class DenseBlock(nn.Module):
    """Dense → batch norm → ELU (the hidden fully-connected layers of k1c2 and k2c1)."""

    features: int
    bn_momentum: float = 0.99

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        x = nn.Dense(self.features, kernel_init=nn.initializers.he_normal())(x)
        x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3)(x)
        return nn.elu(x)


def global_pool(x: jnp.ndarray, mode: str, axes: tuple[int, ...], owner: str) -> jnp.ndarray:
    """Reduce `axes` of what is left after the last block: `max`, or `mean_max` (mean and max concatenated on
    the channel axis). A no-op for `max` when those axes already have size 1 (the papers' input sizes)."""
    if mode == "max":
        return jnp.max(x, axis=axes)
    if mode == "mean_max":
        return jnp.concatenate([jnp.mean(x, axis=axes), jnp.max(x, axis=axes)], axis=-1)
    raise UserError(f"{owner}: unknown global_pool '{mode}'; valid: {', '.join(GLOBAL_POOLS)}")


def check_lengths(owner: str, **seqs: Sequence) -> None:
    """All named sequences must have the same length (one entry per block)."""
    lengths = {k: len(v) for k, v in seqs.items()}
    if len(set(lengths.values())) > 1:
        raise UserError(f"{owner}: need one entry per block; got " +
                         ", ".join(f"{k}={tuple(v)}" for k, v in seqs.items()))
