"""The 1-D convnet on beat-aligned chroma and timbre of Dieleman's thesis Ch. 2 §2.5.1 (ISMIR 2011), whose layers
are pre-trained as a convolutional DBN (`mirjax.features.conv_rbm`).

    (batch, beats, 24) = chroma (12) ‖ timbre (12)
    chroma → Conv(100, width 8) → σ → max-pool 4 ┐
    timbre → Conv(100, width 8) → σ → max-pool 4 ┴ concat (200) → Conv(100, width 8) → σ → max-pool 4
    → Dense(num_outputs) softmax at every step → track posterior = mean over the valid steps

Valid convolutions; a pooling window counts when it holds at least one valid step. Variable-length tracks come
padded to one length with `mask` (batch, beats) marking the real beats; a track needs at least `min_steps()` beats
(shorter ones are to be repeated or padded by the caller). The output is the log of the track posterior, so it
serves as logits: softmax(output) is the posterior and the cross-entropy of it is the track's NLL.
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from mirjax.models import register

CHROMA_DIMS = 12


def _valid_after_conv(mask: jnp.ndarray, width: int) -> jnp.ndarray:
    """A valid conv output needs its whole window valid: (batch, steps) → (batch, steps - width + 1)."""
    steps = mask.shape[1] - width + 1
    return jnp.all(jnp.stack([mask[:, k:k + steps] for k in range(width)]), axis=0)


def _masked_max_pool(x: jnp.ndarray, mask: jnp.ndarray, size: int) -> tuple[jnp.ndarray, jnp.ndarray]:
    """Non-overlapping max over time ignoring masked steps (a last partial window is kept)."""
    pad = (-x.shape[1]) % size
    x = jnp.pad(x, ((0, 0), (0, pad), (0, 0)))
    mask = jnp.pad(mask, ((0, 0), (0, pad)))
    b, t, f = x.shape
    x = jnp.where(mask[..., None], x, -jnp.inf).reshape(b, t // size, size, f).max(axis=2)
    mask = mask.reshape(b, t // size, size).any(axis=2)
    return jnp.where(mask[..., None], x, 0.0), mask


@register("beat_convnet")
class BeatConvNet(nn.Module):
    """(batch, beats, 24) → (batch, num_outputs) log track posteriors. Parameter names follow the DBN layers:
    `conv_chroma` (1a), `conv_timbre` (1b), `conv_mix` (3), `classifier`."""

    num_outputs: int
    features: int = 100      # feature maps of every conv layer
    width: int = 8           # conv width in (pooled) steps
    pool: int = 4
    chroma_dims: int = CHROMA_DIMS

    def setup(self):
        conv = lambda: nn.Conv(self.features, (self.width,), padding="VALID")  # noqa: E731
        self.conv_chroma, self.conv_timbre, self.conv_mix = conv(), conv(), conv()
        self.classifier = nn.Dense(self.num_outputs)

    def min_steps(self) -> int:
        """Fewest input steps that give one output step."""
        return self.width + (self.width - 1) * self.pool

    def hidden(self, x: jnp.ndarray, mask: jnp.ndarray | None = None) -> tuple[jnp.ndarray, jnp.ndarray]:
        """The layer-4 features (batch, steps', features) and their mask."""
        mask = jnp.ones(x.shape[:2], bool) if mask is None else mask.astype(bool)
        m1 = _valid_after_conv(mask, self.width)
        branches = []
        parts = ((self.conv_chroma, x[..., :self.chroma_dims]), (self.conv_timbre, x[..., self.chroma_dims:]))
        for conv, part in parts:
            h, m2 = _masked_max_pool(nn.sigmoid(conv(part)), m1, self.pool)
            branches.append(h)
        h = jnp.concatenate(branches, axis=-1)
        h = nn.sigmoid(self.conv_mix(h))
        return _masked_max_pool(h, _valid_after_conv(m2, self.width), self.pool)

    def __call__(self, x: jnp.ndarray, train: bool = False, mask: jnp.ndarray | None = None) -> jnp.ndarray:
        del train  # no dropout or batch norm in this 2011 network
        h, m = self.hidden(x, mask)
        probs = nn.softmax(self.classifier(h))  # (batch, steps', classes)
        weights = m.astype(probs.dtype)
        mean = jnp.sum(probs * weights[..., None], axis=1) / jnp.maximum(weights.sum(axis=1), 1.0)[:, None]
        return jnp.log(jnp.maximum(mean, 1e-12))
