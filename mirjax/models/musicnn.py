"""musicnn (Pons & Serra, 2019): the musically-motivated tagging CNN and its VGG-like baseline, in Flax.

Both map 3-s log-mel patches ``(batch, 187, 96)`` (front-end ``musicnn_logmel``) to ``num_outputs`` tag logits.
They follow the graph of the pretrained TF1 checkpoints in the ``musicnn`` package layer for layer, so that
``mirjax.models.musicnn_weights.load_variables`` can load them: TF's batch-norm epsilon (1e-3), TF's 'same' padding
(the extra sample after), ReLU *before* batch norm, and the same concatenation orders.

``Musicnn``:
  * front-end: batch norm of the input, then five conv → ReLU → BN → max-over-frequency branches — two "timbral"
    ones (7 frames × 38 and × 67 mel bins, 'valid' in frequency, time zero-padded by 3 each side) and three
    "temporal" ones (128, 64, 32 frames × 1 bin, 'same'); concatenated along channels (561 = 2·204 + 3·51).
  * mid-end: three 1-D convolutions over time (7 frames, zero-padded by 3, 64 filters) with ReLU → BN, the second
    and third with residual connections; the front-end and the three mid-end outputs are concatenated (753).
  * back-end: max and mean over time, interleaved per channel ``[max_0, mean_0, max_1, …]`` (1506; the order of
    TF's flatten of the stacked pools), BN → dropout → dense(200) → ReLU → BN → dropout → dense(``num_outputs``).

``MusicnnVGG``: input BN, five 3×3 'same' conv (128) → ReLU → BN → max-pool blocks with pools (4,1)/stride 2,
(2,2), (2,2), (2,2), (4,4), dropout 0.25 between blocks, flatten (256) → dropout 0.5 → dense(``num_outputs``).

Intermediate features (musicnn's ``extract_features=True`` outputs) are sown into the ``intermediates``
collection: ``timbral``, ``temporal``, ``cnn1``–``cnn3``, ``mean_pool``, ``max_pool``, ``penultimate`` (musicnn)
and ``pool1``–``pool5``, ``penultimate`` (the flattened pool5; VGG).
"""

from __future__ import annotations

import flax.linen as nn
import jax.numpy as jnp

from mirjax.errors import UserError
from mirjax.models import register

TF_BN_EPSILON = 1e-3  # tf.compat.v1.layers.batch_normalization's default
TF_BN_MOMENTUM = 0.99


def _bn(train: bool, name: str) -> nn.BatchNorm:
    return nn.BatchNorm(use_running_average=not train, momentum=TF_BN_MOMENTUM, epsilon=TF_BN_EPSILON, name=name)


def _pad_time(x: jnp.ndarray, before: int, after: int) -> jnp.ndarray:
    """Zero-pad axis 1 (time) of ``(batch, time, …)``."""
    return jnp.pad(x, [(0, 0), (before, after)] + [(0, 0)] * (x.ndim - 2))


def _check_input(x: jnp.ndarray, n_mels: int, owner: str) -> None:
    if x.ndim != 3 or x.shape[-1] != n_mels:
        raise UserError(f"{owner} takes (batch, frames, {n_mels}) log-mel patches; got shape {tuple(x.shape)}")


@register("musicnn")
class Musicnn(nn.Module):
    """musicnn; MTT_musicnn and MSD_musicnn: ``num_filt_midend=64, num_units_backend=200`` (the defaults)."""

    num_outputs: int
    n_mels: int = 96
    num_filt_frontend: float = 1.6  # × 128 timbral and × 32 temporal filters per branch
    num_filt_midend: int = 64
    num_units_backend: int = 200
    dropout: float = 0.5

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        _check_input(x, self.n_mels, "musicnn")
        x = _bn(train, "input_bn")(x[..., None])  # (batch, time, mels, 1)

        def branch(inp: jnp.ndarray, name: str, filters: int, kernel: tuple[int, int], padding: str) -> jnp.ndarray:
            y = nn.relu(nn.Conv(filters, kernel, padding=padding, name=f"{name}_conv")(inp))
            y = _bn(train, f"{name}_bn")(y)
            return jnp.max(y, axis=2)  # max over all remaining frequency positions → (batch, time, filters)

        timbral_filters = int(self.num_filt_frontend * 128)
        temporal_filters = int(self.num_filt_frontend * 32)
        padded = _pad_time(x, 3, 3)
        timbral = [branch(padded, f"timbral_{k}", timbral_filters, (7, int(f * self.n_mels)), "VALID")
                   for k, f in ((74, 0.4), (77, 0.7))]
        temporal = [branch(x, f"temporal_{n}", temporal_filters, (n, 1), "SAME") for n in (128, 64, 32)]
        self.sow("intermediates", "timbral", jnp.concatenate(timbral, axis=-1))
        self.sow("intermediates", "temporal", jnp.concatenate(temporal, axis=-1))
        front = jnp.concatenate(timbral + temporal, axis=-1)  # (batch, time, 561)

        # Mid-end: TF's [7, channels] 'valid' 2-D convs over a transposed map are 1-D convs over time.
        mid = [front]
        h = front
        for i in range(1, 4):
            conv = nn.Conv(self.num_filt_midend, (7,), padding="VALID", name=f"midend{i}_conv")
            y = nn.relu(conv(_pad_time(h, 3, 3)))
            y = _bn(train, f"midend{i}_bn")(y)
            h = y if i == 1 else y + h
            self.sow("intermediates", f"cnn{i}", h)
            mid.append(h)
        features = jnp.concatenate(mid, axis=-1)  # (batch, time, 753)

        max_pool = jnp.max(features, axis=1)
        mean_pool = jnp.mean(features, axis=1)
        self.sow("intermediates", "mean_pool", mean_pool)
        self.sow("intermediates", "max_pool", max_pool)
        pooled = jnp.stack([max_pool, mean_pool], axis=-1).reshape(max_pool.shape[0], -1)  # interleaved, as TF
        h = _bn(train, "backend_pool_bn")(pooled)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        h = nn.relu(nn.Dense(self.num_units_backend, name="backend_dense")(h))
        h = _bn(train, "backend_dense_bn")(h)
        self.sow("intermediates", "penultimate", h)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        return nn.Dense(self.num_outputs, name="output")(h)


@register("musicnn_vgg")
class MusicnnVGG(nn.Module):
    """musicnn's VGG-like baseline (MTT_vgg, MSD_vgg: 128 filters). Takes 187-frame patches only (its dense
    layer's width depends on the input size)."""

    num_outputs: int
    n_mels: int = 96
    num_filters: int = 128
    dropout: float = 0.25
    dropout_dense: float = 0.5

    @nn.compact
    def __call__(self, x: jnp.ndarray, train: bool = False) -> jnp.ndarray:
        _check_input(x, self.n_mels, "musicnn_vgg")
        h = _bn(train, "input_bn")(x[..., None])
        pools = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
        for i, (window, strides) in enumerate(pools, start=1):
            if i > 1:
                h = nn.Dropout(self.dropout, deterministic=not train)(h)
            h = nn.relu(nn.Conv(self.num_filters, (3, 3), padding="SAME", name=f"conv{i}")(h))
            h = _bn(train, f"bn{i}")(h)
            h = nn.max_pool(h, window, strides=strides, padding="VALID")
            self.sow("intermediates", f"pool{i}", h)
        h = h.reshape(h.shape[0], -1)
        self.sow("intermediates", "penultimate", h)
        h = nn.Dropout(self.dropout_dense, deterministic=not train)(h)
        return nn.Dense(self.num_outputs, name="output")(h)
