"""The rotation-invariant galaxy convnet (Dieleman thesis, App. A, §A.5–A.6, Table A.2, Fig. A.6).

    424×424×3 image ─ one affine warp each ─▶ 0° and 45° crops (69×69) ─▶ 16 viewpoints (45×45, stacked on the
    batch axis) ─▶ shared convnet 6×6/32, 5×5/64, 3×3/128, 3×3/128 (untied biases, ReLU, 2×2 max-pool after
    conv 1, 2, 4) ─▶ concatenation (16 × 512) ─▶ 2 maxout layers (2048 units × 2 pieces) ─▶ 37 linear outputs
    ─▶ output constraints (ReLU, per-question normalisation, scaling along the decision tree).

Dropout 0.5 on every dense layer's input. The model takes whole images: in training it draws the random
augmentation itself (from the step's dropout key), so augmentation runs inside the jitted step; in inference it
evaluates the configured test-time views (`tta_rotations` × `tta_scales` × flips) and returns them side by side,
`(batch, views × 37)` — the `galaxy` task unfolds and averages them (`mirjax.galaxy_plugin`).

The warm-up of §A.6.7 (constraints off and the linear outputs clipped to [0, 1] for the first `warmup_examples`
training examples) needs to know how many examples were seen; the model counts them in its `batch_stats`
collection, which the train step already threads through and checkpoints, so resuming keeps the count.

Variants (the thesis's and the competition ensemble's, as config values): `num_dense=1` (only two dense
layers), `kernel_sizes=(8, 4, 3, 3)`, `dense_activation="relu"` with `dense_units=4096`, `features=(32, 64, 128,
256)`, `shared_dense=512` (a maxout layer applied to every viewpoint with shared weights before the
concatenation), `max_norm=…` (dense weight columns clipped to a maximal L2 norm in the forward pass).
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from mirjax import galaxy_tree
from mirjax.errors import UserError
from mirjax.models import galaxy_augment as aug, register
from mirjax.models.layers import max_pool

# --- output constraints (§A.6.6) ---

_SAME_QUESTION = (galaxy_tree.QUESTION_OF[:, None] == galaxy_tree.QUESTION_OF[None, :]).astype(np.float32)


def _question_mask(questions: tuple[str, ...]) -> np.ndarray:
    mask = np.zeros(galaxy_tree.NUM_ANSWERS, np.float32)
    for q in questions:
        mask[galaxy_tree.SLICES[q]] = 1.0
    return mask


_SCALING = tuple((answer, _question_mask(qs)) for answer, qs in galaxy_tree.SCALING_ORDER)


def output_constraints(z: jax.Array) -> jax.Array:
    """(…, 37) linear outputs → cumulative answer probabilities: ReLU, divide by the question's sum (+1e-12),
    then multiply questions by their parent answer in the competition code's order (each step uses the values
    already scaled)."""
    p = jax.nn.relu(z)
    p = p / (p @ _SAME_QUESTION + 1e-12)
    for answer, mask in _SCALING:
        p = p * (1.0 - mask + mask * p[..., answer:answer + 1])
    return p


# --- viewpoints (§A.6.5) ---

def viewpoints(crops: jax.Array, patch: int = 45) -> jax.Array:
    """(N, 2, S, S, C) 0° and 45° crops → (16, N, patch, patch, C) viewpoints: each crop and its horizontal flip,
    then its four corner patches turned so that the crop's centre is in the patch's bottom-right corner. Pure
    indexing (slices, reversals, transposes), no interpolation."""
    p = patch
    swap = lambda t: jnp.swapaxes(t, 1, 2)  # transpose rows ↔ columns
    parts = []
    for k in range(crops.shape[1]):
        for x in (crops[:, k], crops[:, k, :, ::-1]):
            parts += [x[:, :p, :p],  # top-left, as it is
                      swap(x[:, :p, :-p - 1:-1]),  # top-right, turned 90°
                      x[:, :-p - 1:-1, :-p - 1:-1],  # bottom-right, turned 180°
                      swap(x[:, :-p - 1:-1, :p])]  # bottom-left, turned 270°
    return jnp.stack(parts)


# --- layers ---

def _weight_init(std: float):
    """N(0, std²) for std > 0 (Table A.2); std = 0 → He's N(0, 2 / fan_in), which keeps the activations' scale
    through the layers (used by the CPU-scale configs, where Table A.2's small values leave the outputs blind
    to the image for far longer than a short run lasts)."""
    return nn.initializers.normal(std) if std > 0 else nn.initializers.variance_scaling(2.0, "fan_in", "normal")


class UntiedConv(nn.Module):
    """VALID convolution with one bias per output position and feature (untied biases, thesis §1.3.4)."""
    features: int
    kernel: int
    std: float  # N(0, std) weights; 0 → He: std = sqrt(2 / fan_in)
    bias: float

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        y = nn.Conv(self.features, (self.kernel, self.kernel), padding="VALID", use_bias=False,
                    kernel_init=_weight_init(self.std), name="conv")(x)
        b = self.param("bias", nn.initializers.constant(self.bias), y.shape[1:])
        return y + b


class Dense(nn.Module):
    """Dense layer with N(0, std) weights (std 0: He), constant bias, optional max-norm on each unit's weight
    column."""
    features: int
    std: float
    bias: float
    max_norm: float = 0.0

    @nn.compact
    def __call__(self, x: jax.Array) -> jax.Array:
        w = self.param("kernel", _weight_init(self.std), (x.shape[-1], self.features))
        b = self.param("bias", nn.initializers.constant(self.bias), (self.features,))
        if self.max_norm > 0:
            norms = jnp.sqrt(jnp.sum(w * w, axis=0, keepdims=True))
            w = w * jnp.minimum(1.0, self.max_norm / jnp.maximum(norms, 1e-12))
        return x @ w + b


class HiddenDense(nn.Module):
    """Dropout on the input, then maxout (`pieces` linear filters per unit, max over them) or ReLU."""
    units: int
    pieces: int
    activation: str
    std: float
    bias: float
    dropout: float
    max_norm: float

    @nn.compact
    def __call__(self, x: jax.Array, train: bool) -> jax.Array:
        x = nn.Dropout(self.dropout, deterministic=not train)(x)
        if self.activation == "maxout":
            y = Dense(self.units * self.pieces, self.std, self.bias, self.max_norm)(x)
            return y.reshape(y.shape[:-1] + (self.units, self.pieces)).max(-1)
        return jax.nn.relu(Dense(self.units, self.std, self.bias, self.max_norm)(x))


@register("galaxy_convnet")
class GalaxyConvnet(nn.Module):
    # settings that change inference only: an ensemble's eval config sets them for every member
    INFERENCE_KEYS = ("tta_rotations", "tta_scales", "tta_flip")

    num_outputs: int = galaxy_tree.NUM_ANSWERS
    # conv part (Table A.2)
    features: tuple[int, ...] = (32, 64, 128, 128)
    kernel_sizes: tuple[int, ...] = (6, 5, 3, 3)
    pool_after: tuple[bool, ...] = (True, True, False, True)
    conv_std: tuple[float, ...] = (0.01, 0.01, 0.01, 0.1)  # weight std per layer; 0 → He, sqrt(2 / fan_in)
    conv_bias: float = 0.1
    # dense part
    num_dense: int = 2  # hidden dense layers (1: the "only two dense layers" variant)
    dense_units: int = 2048
    dense_activation: str = "maxout"  # maxout | relu
    maxout_pieces: int = 2
    dense_std: tuple[float, ...] = (0.001, 0.001)  # hidden dense layers; 0 → He
    dense_bias: float = 0.01
    out_std: float = 0.01
    out_bias: float = 0.1
    dropout: float = 0.5
    shared_dense: int = 0  # > 0: a shared maxout layer of this width on every viewpoint before concatenation
    max_norm: float = 0.0  # > 0: dense weight columns clipped to this L2 norm
    constraints: bool = True
    warmup_examples: int = 10_000  # constraints off, outputs clipped to [0, 1], for the first examples
    # preprocessing / viewpoints
    crop_size: int = 69
    downscale: float = 3.0
    patch: int = 45
    # augmentation (training)
    augment: bool = True
    max_shift: float = 4.0
    max_zoom: float = 1.3
    flip: bool = True
    brightness_sigma: float = 0.5
    color_pc: tuple[float, ...] = aug.KAGGLE_COLOR_PC
    # test-time views (inference): rotations × scales × (1 or 2 flips); 10 × (1/1.2, 1, 1.2) × 2 = 60
    tta_rotations: int = 1
    tta_scales: tuple[float, ...] = (1.0,)
    tta_flip: bool = False

    @property
    def num_views(self) -> int:
        return self.tta_rotations * len(self.tta_scales) * (2 if self.tta_flip else 1)

    def crops(self, images: jax.Array, train: bool) -> jax.Array:
        """(B, H, W, C) → training: (B, 2, S, S, C) augmented crops; inference: (B × views, 2, S, S, C)."""
        images = images.astype(jnp.float32)
        if images.ndim == 3:
            images = images[..., None]
        b = images.shape[0]
        if self.is_initializing():  # shapes suffice; skips warping (constant-folded when init sees a constant)
            n = b if train else b * self.num_views
            return jnp.zeros((n, 2, self.crop_size, self.crop_size, images.shape[-1]), jnp.float32)
        if train:
            key = jax.random.fold_in(self.make_rng("dropout"), 0x6A1A)  # augmentation stream, apart from dropout
            k_geo, k_col = jax.random.split(key)
            if self.augment:
                prm = aug.random_parameters(k_geo, b, self.max_shift, self.max_zoom, self.flip)
            else:
                prm = {"rotation": jnp.zeros((b,)), "zoom": jnp.ones((b,)), "shift": jnp.zeros((b, 2)),
                       "flip": jnp.zeros((b,), bool)}
            crops = aug.two_crops(images, prm["rotation"], prm["zoom"], prm["shift"], prm["flip"], self.crop_size,
                                  self.downscale)
            if self.augment and self.brightness_sigma > 0 and images.shape[-1] == len(self.color_pc):
                crops = aug.brightness(k_col, crops, self.brightness_sigma, self.color_pc)
            return crops
        prm = {k: jnp.asarray(v) for k, v in aug.tta_parameters(self.tta_rotations, self.tta_scales,
                                                                 self.tta_flip).items()}
        v = self.num_views
        rep = lambda a: jnp.tile(a, (b,) + (1,) * (a.ndim - 1))  # (views, …) → (B × views, …), image-major
        crops = aug.two_crops(jnp.repeat(images, v, axis=0), rep(prm["rotation"]), rep(prm["zoom"]),
                              rep(prm["shift"]), rep(prm["flip"]), self.crop_size, self.downscale)
        return crops

    @nn.compact
    def __call__(self, x: jax.Array, train: bool = False) -> jax.Array:
        if len(self.kernel_sizes) != len(self.features) or len(self.pool_after) != len(self.features):
            raise UserError("galaxy_convnet: features, kernel_sizes and pool_after need one entry per conv layer")
        batch = x.shape[0]
        crops = self.crops(x, train)
        views = viewpoints(crops, self.patch)  # (16, N, p, p, C)
        nv, n = views.shape[:2]
        h = views.reshape((nv * n,) + views.shape[2:])
        stds = tuple(self.conv_std) + (self.conv_std[-1],) * (len(self.features) - len(self.conv_std))
        for i, (f, k, pool) in enumerate(zip(self.features, self.kernel_sizes, self.pool_after)):
            h = jax.nn.relu(UntiedConv(f, k, stds[i], self.conv_bias, name=f"conv{i + 1}")(h))
            if pool:
                h = max_pool(h, (2, 2))  # = nn.max_pool(h, (2, 2), strides=(2, 2)), faster gradient on CPU
        h = h.reshape((nv * n, -1))
        dense_std = tuple(self.dense_std) + (self.dense_std[-1],) * self.num_dense
        pieces = self.maxout_pieces if self.dense_activation == "maxout" else 1
        if self.dense_activation not in ("maxout", "relu"):
            raise UserError(f"galaxy_convnet: dense_activation must be maxout or relu, got {self.dense_activation}")
        if self.shared_dense:
            h = HiddenDense(self.shared_dense, pieces, self.dense_activation, dense_std[0], self.dense_bias,
                            self.dropout, self.max_norm, name="shared_dense")(h, train)
        # viewpoint-major rows → (N, 16 × features): concatenate the viewpoints' features
        h = h.reshape((nv, n, -1)).transpose(1, 0, 2).reshape((n, -1))
        for i in range(self.num_dense):
            h = HiddenDense(self.dense_units, pieces, self.dense_activation, dense_std[i], self.dense_bias,
                            self.dropout, self.max_norm, name=f"dense{i + 1}")(h, train)
        h = nn.Dropout(self.dropout, deterministic=not train)(h)
        z = Dense(self.num_outputs, self.out_std, self.out_bias, self.max_norm, name="out")(h)
        seen = self.variable("batch_stats", "examples_seen", lambda: jnp.zeros((), jnp.int32))
        if train:
            warm = seen.value < self.warmup_examples
            out = jnp.clip(z, 0.0, 1.0)
            if self.constraints:
                out = jnp.where(warm, out, output_constraints(z))
            if not self.is_initializing():
                seen.value = seen.value + batch
            return out
        out = output_constraints(z) if self.constraints else z
        out = jnp.clip(out, 0.0, 1.0)  # test-time outputs clipped to [0, 1]
        return out.reshape((batch, -1))  # (B, views × outputs), image-major
