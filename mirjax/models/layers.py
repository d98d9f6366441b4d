"""Building blocks shared by the convnet families: input normalisation, the conv → BN → ELU → pool block,
pool-size fitting for inputs shorter than a paper's, and global pooling of what is left."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
from jax import lax

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


ACTIVATIONS = {"elu": nn.elu, "relu": nn.relu}


class ConvBlock(nn.Module):
    """Conv → batch norm → ELU → max-pool → dropout, on `(batch, freq, time, channels)` (Choi's
    `get_convBNeluMPdrop`). `padding` per axis: 'same' everywhere unless given (k2c1's full-height first kernel
    is 'valid' in frequency). Pools larger than the map are clipped, so a short input never pools to zero.
    `activation="relu"`, `batch_norm=False`: the plain conv → ReLU → max-pool block of Choi's auralisation net
    (thesis §7.2), whose deconvolution needs ReLUs and no normalisation."""

    features: int
    kernel: tuple[int, int]
    pool: tuple[int, int]
    padding: tuple[tuple[int, int], ...] | None = None
    dropout: float = 0.0
    bn_momentum: float = 0.99
    activation: str = "elu"
    batch_norm: bool = True

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool) -> jnp.ndarray:
        x = nn.Conv(self.features, self.kernel, padding=self.padding or same_padding(self.kernel),
                    kernel_init=nn.initializers.he_normal(), conv_general_dilated=conv_general_dilated)(x)
        if self.batch_norm:
            x = nn.BatchNorm(use_running_average=not train, momentum=self.bn_momentum, epsilon=1e-3)(x)
        if self.activation not in ACTIVATIONS:
            raise UserError(f"ConvBlock: unknown activation '{self.activation}'; valid: {', '.join(ACTIVATIONS)}")
        pool = (min(self.pool[0], x.shape[1]), min(self.pool[1], x.shape[2]))
        # ELU and ReLU are increasing, so max-pool(f(x)) = f(max-pool(x)) exactly: pooling first applies f (and its
        # gradient) to a map `pool` times smaller.
        x = ACTIVATIONS[self.activation](max_pool(x, pool))
        if self.dropout > 0:
            x = nn.Dropout(self.dropout, deterministic=not train)(x)
        return x


# Kernel gradients of convolutions whose output has at least this many positions per example are computed as one
# matrix product over explicitly gathered patches (below); smaller ones keep XLA's own.
IM2COL_MIN_POSITIONS = 3000
# Bytes of patches gathered at once for such a kernel gradient (about a core's L2 cache).
IM2COL_BLOCK_BYTES = 2 * 2**20


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None, rhs_dilation=None,
                         dimension_numbers=None, feature_group_count=1, precision=None, **kwargs):
    """`lax.conv_general_dilated` (what `nn.Conv(conv_general_dilated=…)` calls), with a faster kernel gradient for
    the case of the conv blocks: 2-D, NHWC/HWIO, stride 1, explicit padding, no dilation or groups, at most 3×3.

    Same forward pass and input gradient (XLA's convolutions). The kernel gradient is, for large maps, the product
    of the (kh·kw·C_in, batch·H·W) patch matrix and the (batch·H·W, C_out) output gradient, accumulated block by
    block: XLA:CPU computes it as a convolution whose window is the whole map, which ran 4–5× slower than this on
    the thesis's 96 × 1366 inputs (and as fast as the forward convolution: docs/benchmarks.md)."""
    plain = functools.partial(lax.conv_general_dilated, window_strides=window_strides, padding=padding,
                              lhs_dilation=lhs_dilation, rhs_dilation=rhs_dilation,
                              dimension_numbers=dimension_numbers, feature_group_count=feature_group_count,
                              precision=precision, **kwargs)
    dn = lax.conv_dimension_numbers(lhs.shape, rhs.shape, dimension_numbers)
    nhwc = dn == lax.conv_dimension_numbers(lhs.shape, rhs.shape, ("NHWC", "HWIO", "NHWC"))
    ones = (1,) * (lhs.ndim - 2)
    if (lhs.ndim != 4 or not nhwc or tuple(window_strides) != ones or tuple(lhs_dilation or ones) != ones
            or tuple(rhs_dilation or ones) != ones or feature_group_count != 1 or isinstance(padding, str)
            or rhs.shape[0] * rhs.shape[1] > 9 or kwargs):
        return plain(lhs, rhs)
    padding = tuple((int(lo), int(hi)) for lo, hi in padding)
    out_hw = [n + lo + hi - k + 1 for n, (lo, hi), k in zip(lhs.shape[1:3], padding, rhs.shape[:2])]
    if out_hw[0] * out_hw[1] < IM2COL_MIN_POSITIONS:
        return plain(lhs, rhs)
    return _conv_im2col_grad(lhs, rhs, padding, precision)


def _conv_nhwc(x, w, padding, precision):
    return lax.conv_general_dilated(x, w, (1, 1), padding, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    precision=precision)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _conv_im2col_grad(x, w, padding, precision):
    return _conv_nhwc(x, w, padding, precision)


def _conv_fwd(x, w, padding, precision):
    return _conv_nhwc(x, w, padding, precision), (x, w)


def _conv_bwd(padding, precision, res, g):
    x, w = res
    _, x_vjp = jax.vjp(lambda x: _conv_nhwc(x, w, padding, precision), x)
    return x_vjp(g)[0], _kernel_grad_im2col(x, g, w.shape, padding).astype(w.dtype)


def _kernel_grad_im2col(x, g, kernel_shape, padding):
    """d(loss)/d(kernel) (kh, kw, C_in, C_out) = Σ_{b,h,w} x_pad[b, h+i, w+j, c] g[b, h, w, o], accumulated over
    blocks of output rows of one example: per block, the patch matrix (kh·kw·C_in, rows·W) — gathered channel-major
    so that the product needs no transpose, and small enough (IM2COL_BLOCK_BYTES) to stay in cache — times the
    block's (rows·W, C_out) output gradient. All patches at once ran at half the speed: gathering them is
    memory-bound on CPU."""
    kh, kw, cin, cout = kernel_shape
    batch, ho, wo = g.shape[:3]
    rows = max(1, min(ho, IM2COL_BLOCK_BYTES // (kh * kw * cin * wo * x.dtype.itemsize)))
    while ho % rows:
        rows -= 1
    blocks = ho // rows
    xt = jnp.pad(jnp.transpose(x, (0, 3, 1, 2)), ((0, 0), (0, 0)) + padding)  # (batch, C_in, H', W')
    gb = g.reshape(batch, blocks, rows * wo, cout)

    def block(acc, k):
        b, r = k // blocks, k % blocks
        xs = lax.dynamic_slice(xt, (b, 0, r * rows, 0), (1, cin, rows + kh - 1, xt.shape[3]))[0]
        patches = jnp.stack([xs[:, i:i + rows, j:j + wo] for i in range(kh) for j in range(kw)])
        gs = lax.dynamic_slice(gb, (b, r, 0, 0), (1, 1, rows * wo, cout))[0, 0]
        return acc + jnp.dot(patches.reshape(kh * kw * cin, rows * wo), gs, preferred_element_type=jnp.float32), None

    acc, _ = lax.scan(block, jnp.zeros((kh * kw * cin, cout), jnp.float32), jnp.arange(batch * blocks))
    return acc.reshape(kh, kw, cin, cout)


_conv_im2col_grad.defvjp(_conv_fwd, _conv_bwd)


def max_pool(x: jnp.ndarray, window: Sequence[int]) -> jnp.ndarray:
    """Max-pool `(batch, *spatial, channels)` over non-overlapping windows (stride = window, 'VALID': a partial
    last window is dropped), equal to `nn.max_pool(x, window, strides=window, padding="VALID")` in value and
    gradient (the gradient goes to the first maximum of each window, as XLA's select-and-scatter sends it).

    Why not `nn.max_pool`: on CPU, XLA expands the select-and-scatter of `reduce_window`'s gradient into iotas, a
    variadic reduce-window and a scatter, which took about half of the default config's train step; a reshape to
    (…, out, window, …) and a plain max, with the gradient computed the same way, is ~30× faster there."""
    return _max_pool(x, tuple(int(w) for w in window))


def _pool_windows(x: jnp.ndarray, window: tuple[int, ...]) -> jnp.ndarray:
    """(batch, *spatial, C) → (batch, out_0, w_0, out_1, w_1, …, C), the trailing partial windows cropped."""
    out = tuple(n // w for n, w in zip(x.shape[1:-1], window))
    x = x[(slice(None),) + tuple(slice(0, o * w) for o, w in zip(out, window))]
    return x.reshape((x.shape[0],) + tuple(d for ow in zip(out, window) for d in ow) + (x.shape[-1],))


def _window_axes(window: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(2 + 2 * i for i in range(len(window)))


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _max_pool(x: jnp.ndarray, window: tuple[int, ...]) -> jnp.ndarray:
    return jnp.max(_pool_windows(x, window), axis=_window_axes(window))


def _window_positions(window: tuple[int, ...], ndim: int) -> jnp.ndarray:
    """Row-major position of each element inside its window, broadcastable against `_pool_windows`' output."""
    pos = jnp.zeros((), jnp.int32)
    for ax, w in zip(_window_axes(window), window):
        shape = [1] * ndim
        shape[ax] = w
        pos = pos * w + jnp.arange(w, dtype=jnp.int32).reshape(shape)
    return pos


def _max_pool_fwd(x, window):
    axes = _window_axes(window)
    xw = _pool_windows(x, window)
    y = jnp.max(xw, axis=axes)
    # The residual is the position of each window's first maximum (small integers), not the input: XLA then fuses
    # the ops that produced `x` into the two reductions instead of writing `x` out at full resolution.
    size = math.prod(window)
    pos = _window_positions(window, xw.ndim)
    first = jnp.min(jnp.where(xw == jnp.expand_dims(y, axes), pos, size), axis=axes)
    return y, (first.astype(jnp.int8 if size < 128 else jnp.int32), x.shape)


def _max_pool_bwd(window, res, g):
    first, x_shape = res
    axes = _window_axes(window)
    pos = _window_positions(window, g.ndim + len(window))
    dx = jnp.where(pos == jnp.expand_dims(first.astype(jnp.int32), axes), jnp.expand_dims(g, axes),
                   jnp.zeros((), g.dtype))
    dx = dx.reshape((g.shape[0],) + tuple(o * w for o, w in zip(g.shape[1:-1], window)) + (g.shape[-1],))
    pad = [(0, 0)] + [(0, n - m) for n, m in zip(x_shape[1:-1], dx.shape[1:-1])] + [(0, 0)]
    return (jnp.pad(dx, pad),)


_max_pool.defvjp(_max_pool_fwd, _max_pool_bwd)


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
