"""KCNN (Zhang et al., "A Deep Neural Network for Modeling Music", ICMR'15, §3, Table 1).

    words (batch, positions, tables) int32, −1 = padding
      → one lookup table per feature type (num_words_t, dims_t), outputs concatenated per position   (Eq. 1)
      → 1-D convolution over positions, window w = 5, V = 500 units, affine                       (Eqs. 2–3)
      → order-preserving k-max pooling over positions, k = 5, padded positions masked            (Eq. 4)
      → flatten (V·k = 2,500) → sigmoid hidden layer(s) of 300                                   (Eq. 5)
      → logits (the softmax is in the loss, Eq. 6)

The tables are parameters `table_0`, `table_1`, … ; `tables_from_centroids` sets them to the K-means
centroids of the audio-word codebooks (§3.1), and so does `vocabulary=PATH` at init (train.py: the front-end
`audio_words` reads the same file, `mirjax.features.words`). Choices the paper leaves open (ours, configurable): 'SAME'
zero-padded convolution, no nonlinearity between convolution and pooling (the paper's Eq. 3 is affine; a
sigmoid there would select the same entries since it is monotone), one hidden layer, padded positions embedded
as zeros. A clip with fewer valid positions than k fills the missing pooled slots with zeros, after the
selected ones.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.models import register


def kmax_pool(x: jax.Array, k: int, mask: jax.Array | None = None) -> jax.Array:
    """Order-preserving k-max pooling over axis 1: x (batch, positions, channels) → (batch, k, channels).

    Per channel, the k largest values among the valid positions (`mask` (batch, positions) bool; None = all
    valid), in their original order; on ties the earlier position wins (`jax.lax.top_k`'s rule). If fewer than
    k positions are valid, the missing slots (at the end) are 0."""
    b, t, c = x.shape
    if mask is None:
        mask = jnp.ones((b, t), bool)
    if t < k:  # pad with invalid positions so top_k always has k candidates
        x = jnp.pad(x, ((0, 0), (0, k - t), (0, 0)))
        mask = jnp.pad(mask, ((0, 0), (0, k - t)))
        t = k
    xt = jnp.swapaxes(x, 1, 2)  # (batch, channels, positions)
    valid = jnp.broadcast_to(mask[:, None, :], xt.shape)
    _, idx = jax.lax.top_k(jnp.where(valid, xt, -jnp.inf), k)  # (batch, channels, k)
    picked_valid = jnp.take_along_axis(valid, idx, axis=-1)
    # Restore temporal order; invalid picks (only when < k valid positions) go last.
    order = jnp.sort(jnp.where(picked_valid, idx, t + idx), axis=-1)
    idx = jnp.where(order >= t, order - t, order)
    values = jnp.take_along_axis(xt, idx, axis=-1)
    values = jnp.where(order >= t, 0.0, values)
    return jnp.swapaxes(values, 1, 2)


@register("kcnn")
class KCNN(nn.Module):
    """(batch, positions, tables) int32 audio words (−1 = padding) → (batch, num_outputs) logits.

    `representation=True` returns the top hidden layer (batch, hidden[-1]) instead: the song-level
    representation fed to the SVM (§4.3)."""

    num_outputs: int
    num_words: Sequence[int] = (512,)  # per lookup table
    embed_dims: Sequence[int] = (32,)  # per lookup table (= whitened dims when initialised from centroids)
    window: int = 5
    conv_units: int = 500
    conv_layers: int = 1
    k: int = 5
    hidden: Sequence[int] = (300,)
    padding: str = "SAME"
    # An audio-word vocabulary file (`mirjax words`): the tables' sizes and initial values are its centroids,
    # and num_words / embed_dims are ignored. "" = tables of num_words × embed_dims from N(0, 1).
    vocabulary: str = ""

    @nn.compact
    def __call__(self, words: jax.Array, train: bool = False, representation: bool = False) -> jax.Array:
        del train  # no dropout or batch norm in the paper
        centroids = load_centroids(self.vocabulary) if self.vocabulary else None
        num_words = [len(c) for c in centroids] if centroids else self.num_words
        embed_dims = [c.shape[1] for c in centroids] if centroids else self.embed_dims
        if len(num_words) != len(embed_dims):
            raise UserError(f"kcnn: {len(num_words)} num_words but {len(embed_dims)} embed_dims")
        if words.ndim == 2:
            words = words[..., None]
        if words.shape[-1] != len(num_words):
            raise UserError(f"kcnn: input has {words.shape[-1]} word tables, the model {len(num_words)}")
        words = words.astype(jnp.int32)
        mask = words[..., 0] >= 0  # (batch, positions)
        parts = []
        for i, (n, d) in enumerate(zip(num_words, embed_dims)):
            init = (nn.initializers.normal(1.0) if centroids is None else
                    lambda key, shape, dtype=jnp.float32, c=centroids[i]: jnp.asarray(c, dtype))
            table = self.param(f"table_{i}", init, (n, d))
            parts.append(jnp.take(table, jnp.maximum(words[..., i], 0), axis=0))
        h = jnp.concatenate(parts, axis=-1) * mask[..., None]  # (batch, positions, Σd); padding → 0
        for _ in range(self.conv_layers):
            h = nn.Conv(self.conv_units, (self.window,), padding=self.padding)(h)
            if self.padding.upper() == "VALID":
                mask = mask[:, self.window - 1:]
        h = kmax_pool(h, self.k, mask).reshape(h.shape[0], -1)  # (batch, k·V)
        for units in self.hidden:
            h = nn.sigmoid(nn.Dense(units)(h))
        if representation:
            return h
        return nn.Dense(self.num_outputs)(h)


def load_centroids(path: str) -> list[np.ndarray]:
    """The `centroids_0`, `centroids_1`, … arrays (num_words, dims) of an audio-word vocabulary file (the format
    of `mirjax.features.audio_words.save_vocabulary`), in table order."""
    if not os.path.isfile(path):
        raise UserError(f"kcnn: no vocabulary at model.vocabulary={path} (fit one with `mirjax words`)")
    out: list[np.ndarray] = []
    with np.load(path) as z:
        while f"centroids_{len(out)}" in z.files:
            out.append(np.asarray(z[f"centroids_{len(out)}"], np.float32))
    if not out:
        raise UserError(f"kcnn: {path} holds no centroids_0 (not an audio-word vocabulary)")
    return out


def table_names(params) -> list[str]:
    return sorted(n for n in params if n.startswith("table_"))


def tables_from_centroids(params, centroids: Sequence[np.ndarray]):
    """params with `table_i` replaced by centroids[i] (num_words_i, dims_i); shapes must match."""
    names = table_names(params)
    if len(names) != len(centroids):
        raise UserError(f"kcnn: {len(names)} lookup tables but {len(centroids)} codebooks")
    out = dict(params)
    for name, c in zip(names, centroids):
        if tuple(params[name].shape) != tuple(np.shape(c)):
            raise UserError(f"kcnn: {name} has shape {tuple(params[name].shape)}, its codebook {np.shape(c)}")
        out[name] = jnp.asarray(c, params[name].dtype)
    return out
