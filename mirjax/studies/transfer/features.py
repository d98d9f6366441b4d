"""The features of Choi's transfer study (Choi thesis, Ch. 6, §6.2.2, §6.3.3): the multi-layer convnet feature of a
source network, the same from a random-weights copy of it, and the MFCC baseline.

Convnet feature: the source's five blocks, each averaged over frequency and time after its max-pool (global
average pooling; the fifth block's map is already 1×1 at the thesis's 29-s input), 32 values per block for the
Compact-convnet; a *strategy* ('1' … '12345', 31 of them) concatenates the chosen blocks. Every clip is first made
exactly `INPUT_SECONDS` long: longer clips keep their first 29 s, shorter ones are *repeated* (tiled) to 29 s, not
zero-padded, because zeros would pull every average towards silence (§6.2.2, footnote).

Sources are recognised by their layers (`LAYER_SETS`): a Compact-convnet (`ConvBlock_0…4`), musicnn (blocks front
= timbral+temporal, cnn1, cnn2, cnn3, penultimate) or musicnn's VGG (pool1…pool5). A source whose input window is
shorter than 29 s (musicnn: 3-s patches) sees evenly spaced windows covering the clip's first 29 s (a clip shorter
than one window is repeated to one; at most `MAX_WINDOWS` = 4 windows, spread evenly, for cost); its block features
are averaged over time within a window, then over the windows.

Random network: the source's structure with every kernel drawn from N(0, 2 / fan_in) ('he' normal, §6.3.3),
biases zero, no training. Batch-norm statistics are not weights but must come from somewhere: Keras 1's BN
(mode 2, Choi's) normalised with the statistics of the batch at hand, so here each BN's running mean and
variance are set to those of one calibration batch of target clips (train-mode statistics, dropout off).

MFCC baseline (§6.3.3, as the thesis's repository computes it): audio at 12 kHz, first 29 s, zero-padded to
1,024 samples if shorter; 20 MFCCs with librosa's defaults (n_fft 2048, hop 512, 128 mels, dB with top_db 80,
orthonormal DCT), their first differences Δ and the differences of those ΔΔ along time; the mean and standard
deviation over frames of each: [mean MFCC, std MFCC, mean Δ, std Δ, mean ΔΔ, std ΔΔ], 120 values.
"""

from __future__ import annotations

import dataclasses
import hashlib
import itertools
import logging
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from mirjax.errors import UserError
from mirjax.frontend.mfcc import mfcc as jax_mfcc
from mirjax.inference import model as model_lib

log = logging.getLogger("mirjax")

INPUT_SECONDS = 29.0  # §6.2.2: every clip becomes 29 s
MAX_WINDOWS = 4  # windows per clip for short-window sources (musicnn: 4 × 3 s, spread over the first 29 s)
BLOCKS = 5
MFCC_RATE, MFCC_N, MFCC_N_FFT, MFCC_HOP, MFCC_MIN_SAMPLES = 12000, 20, 2048, 512, 1024
MFCC_DIMS = 6 * MFCC_N
# Clips are zero-extended to a multiple of this before the jitted MFCC (one compilation per bucket); the frames
# kept are those of the unextended clip, which zero extension does not change (librosa pads with zeros too).
_MFCC_BUCKET = 64 * MFCC_HOP  # 2.7 s: at most 11 shapes up to 29 s


def strategies() -> tuple[str, ...]:
    """The 31 layer combinations, '1' … '12345': by size, then in order (§6.2.2)."""
    return tuple("".join(c) for n in range(1, BLOCKS + 1) for c in itertools.combinations("12345", n))


# The 28 the thesis shows (Fig. 6.3): all but three of the four-block combinations.
THESIS_STRATEGIES = tuple(s for s in strategies() if s not in ("1235", "1245", "1345"))


def strategy_matrix(blocks: dict[int, np.ndarray], strategy: str) -> np.ndarray:
    """(clips, Σ dims) = the chosen blocks' features side by side, in block order."""
    if not strategy or any(c not in "12345" for c in strategy) or len(set(strategy)) != len(strategy):
        raise UserError(f"bad strategy '{strategy}': a subset of the digits 1-5, e.g. '135'")
    return np.concatenate([blocks[int(c)] for c in sorted(strategy)], axis=1)


def fit_to_input(audio: np.ndarray, length: int) -> np.ndarray:
    """A clip made exactly `length` samples: its beginning if longer, else repeated (tiled) and cut (§6.2.2);
    an empty clip becomes silence."""
    audio = np.asarray(audio, np.float32)
    if audio.shape[0] >= length:
        return audio[:length]
    if audio.shape[0] == 0:
        return np.zeros(length, np.float32)
    return np.tile(audio, -(-length // audio.shape[0]))[:length]


def window_offsets(length: int, window: int, max_windows: int = 0) -> np.ndarray:
    """Starts of the fewest evenly spaced windows that cover `length` samples (one when window ≥ length), or of
    `max_windows` evenly spaced ones (> 0) when covering would need more."""
    n = max(1, math.ceil(length / window))
    n = min(n, max_windows) if max_windows > 0 else n
    return np.round(np.linspace(0, max(length - window, 0), n)).astype(int)


def resample(audio: np.ndarray, rate: int, target: int) -> np.ndarray:
    if rate == target:
        return np.asarray(audio, np.float32)
    import soxr
    return soxr.resample(np.asarray(audio, np.float32), rate, target, quality="HQ").astype(np.float32)


# --- sources -----------------------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class LayerSet:
    """What the five blocks of a source family are: per block, the intermediate layers concatenated."""
    name: str
    blocks: tuple[tuple[str, ...], ...]
    window_seconds: float | None  # None: the model card's own input length

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(n for b in self.blocks for n in b)


LAYER_SETS = (
    LayerSet("compact_convnet", tuple((f"ConvBlock_{i}",) for i in range(BLOCKS)), INPUT_SECONDS),
    LayerSet("musicnn", (("timbral", "temporal"), ("cnn1",), ("cnn2",), ("cnn3",), ("penultimate",)), None),
    LayerSet("musicnn_vgg", tuple((f"pool{i}",) for i in range(1, BLOCKS + 1)), None),
)


def layer_set_of(loaded: model_lib.LoadedModel) -> LayerSet:
    """The LayerSet whose layers the model has, else a one-line UserError."""
    names = set(model_lib.WindowRunner(loaded, 1).layer_names())
    for ls in LAYER_SETS:
        if set(ls.layers) <= names:
            return ls
    raise UserError(f"source {loaded.source} has none of the layer sets the transfer study needs "
                    f"({'; '.join(f'{ls.name}: ' + ', '.join(ls.layers) for ls in LAYER_SETS)}); "
                    f"its layers: {', '.join(sorted(names)[:12])}")


def fingerprint(variables) -> str:
    """A short hash of a model's weights (and statistics): tells caches apart when a workdir is retrained."""
    h = hashlib.sha1()
    for path, leaf in sorted(jax.tree_util.tree_flatten_with_path(variables)[0], key=lambda kv: str(kv[0])):
        h.update(str(path).encode())
        h.update(np.ascontiguousarray(np.asarray(leaf, np.float32)).tobytes())
    return h.hexdigest()[:12]


def _he_normal_kernels(params, key: jax.Array):
    """Every `kernel` leaf redrawn from N(0, 2 / fan_in), fan_in = product of all but its last axis."""
    leaves, tree = jax.tree_util.tree_flatten_with_path(params)
    keys = jax.random.split(key, len(leaves))
    out = []
    for (path, leaf), k in zip(leaves, keys):
        if getattr(path[-1], "key", None) == "kernel":
            fan_in = int(np.prod(leaf.shape[:-1]))
            leaf = jax.random.normal(k, leaf.shape, leaf.dtype) * np.sqrt(2.0 / fan_in).astype(np.float32)
        out.append(leaf)
    return jax.tree_util.tree_unflatten(tree, [leaf for leaf in out])


def _without_dropout(model):
    rates = {f.name: 0.0 for f in dataclasses.fields(model) if f.name.startswith("dropout")}
    return model.clone(**rates) if rates else model


def calibrate_batch_norm(loaded: model_lib.LoadedModel, calibration: np.ndarray, variables=None,
                         source: str = "") -> model_lib.LoadedModel:
    """`loaded` (or its structure with `variables`) with every BN's running mean and variance set to the statistics
    of the `calibration` windows `(n, samples)` in a train-mode pass with dropout off — what Keras 1's BN mode 2
    used at extraction time; weights, scales and offsets unchanged."""
    variables = dict(variables if variables is not None else loaded.variables)
    if "batch_stats" in variables:
        features = loaded.frontend(jnp.asarray(calibration, jnp.float32))
        model = _without_dropout(loaded.model)

        # One train-mode pass gives stats' = m·stats + (1 − m)·batch; with stats 0 and then 1, m = (1-run) − (0-run)
        # and batch = (0-run) / (1 − m), whatever the momentum m of each BN.
        @jax.jit
        def after_one_pass(variables, fill):
            stats = jax.tree_util.tree_map(lambda x: jnp.full_like(x, fill), variables["batch_stats"])
            _, upd = model.apply({**variables, "batch_stats": stats}, features, train=True, mutable=["batch_stats"])
            return upd["batch_stats"]

        zero, one = after_one_pass(variables, 0.0), after_one_pass(variables, 1.0)
        variables["batch_stats"] = jax.tree_util.tree_map(lambda z, o: z / (1.0 - (o - z)), zero, one)
    return model_lib.LoadedModel(loaded.card, loaded.frontend, loaded.model, jax.device_get(variables),
                                 source or f"{loaded.source}, BN statistics of the target clips")


def random_model(loaded: model_lib.LoadedModel, calibration: np.ndarray, seed: int) -> model_lib.LoadedModel:
    """`loaded`'s structure with he-normal random kernels (no training); BN statistics set to those of the
    `calibration` windows `(n, samples)` as in Keras 1's BN mode 2 (see the module docstring)."""
    features = loaded.frontend(jnp.asarray(calibration[:1], jnp.float32))
    key = jax.random.PRNGKey(seed)
    variables = jax.jit(lambda k: loaded.model.init({"params": k, "dropout": k}, features, train=False))(key)
    variables = dict(variables)
    variables["params"] = _he_normal_kernels(variables["params"], jax.random.fold_in(key, 1))
    return calibrate_batch_norm(loaded, calibration, variables,
                                f"random {loaded.card['model'].get('name')} (he-normal, seed {seed})")


class BlockExtractor:
    """Clips (float32 at the source's rate) → {block 1…5: (clips, dims)} per §6.2.2.

    A source whose input is `input_seconds` long (the Compact-convnet: 29 s) sees each clip once, cut or repeated to
    that length. A source with a shorter input window (musicnn: 3 s) sees evenly spaced windows covering the clip's
    first `input_seconds` (at most `MAX_WINDOWS` of them, evenly spread: four cover a 10-s clip, and sample a 29-s
    one at a third of the cost of covering it); only a clip shorter than one window is repeated (to one window).
    Block features are averaged over the clip's windows."""

    def __init__(self, loaded: model_lib.LoadedModel, layer_set: LayerSet, batch_size: int = 8,
                 input_seconds: float = INPUT_SECONDS):
        self.loaded, self.layer_set = loaded, layer_set
        self.rate = loaded.sample_rate
        self.length = int(round(input_seconds * self.rate))
        window = (int(round(layer_set.window_seconds * self.rate)) if layer_set.window_seconds
                  else loaded.window_samples)
        self.window = min(window, self.length)
        per_batch = batch_size if self.window == self.length else 4 * batch_size
        self.runner = model_lib.WindowRunner(loaded, per_batch, layer_set.layers)

    def windows(self, clip: np.ndarray) -> np.ndarray:
        """(windows, samples) of one clip at the source rate."""
        if self.window == self.length:
            return fit_to_input(clip, self.length)[None]
        x = np.asarray(clip, np.float32)[:self.length]
        if x.shape[0] < self.window:
            x = fit_to_input(x, self.window)
        return np.stack([x[o:o + self.window] for o in window_offsets(x.shape[0], self.window, MAX_WINDOWS)])

    def __call__(self, clips: Sequence[np.ndarray]) -> dict[int, np.ndarray]:
        per_clip = [self.windows(c) for c in clips]
        counts = np.array([len(w) for w in per_clip])
        windows = np.concatenate(per_clip) if per_clip else np.zeros((0, self.window), np.float32)
        outs: dict[str, list[np.ndarray]] = {n: [] for n in self.layer_set.layers}
        for start in range(0, len(windows), self.runner.batch_size):
            _, layers = self.runner(windows[start:start + self.runner.batch_size])
            for n in outs:
                outs[n].append(layers[n].reshape(layers[n].shape[0], -1))
        bounds = np.cumsum(counts)[:-1]
        merged = {n: np.stack([w.mean(axis=0) for w in np.split(np.concatenate(v), bounds)])
                  for n, v in outs.items()}
        return {i + 1: np.concatenate([merged[n] for n in names], axis=1).astype(np.float32)
                for i, names in enumerate(self.layer_set.blocks)}


# --- MFCC baseline -----------------------------------------------------------------------------------------------

@jax.jit
def _mfcc_frames(audio: jax.Array) -> jax.Array:
    return jax_mfcc(audio, MFCC_RATE, n_mfcc=MFCC_N, n_fft=MFCC_N_FFT, hop_length=MFCC_HOP)


def mfcc_stats_from_frames(m: np.ndarray) -> np.ndarray:
    """(frames, 20) MFCCs → the 120-d vector (first differences along frames, as the thesis's repository)."""
    m = np.asarray(m, np.float64)
    d = np.diff(m, axis=0)
    dd = np.diff(d, axis=0)
    parts = []
    for x in (m, d, dd):
        parts += [x.mean(axis=0) if len(x) else np.zeros(MFCC_N), x.std(axis=0) if len(x) else np.zeros(MFCC_N)]
    return np.concatenate(parts).astype(np.float32)


def mfcc_vector(audio: np.ndarray, rate: int) -> np.ndarray:
    """The MFCC baseline of one clip at `rate` Hz (see the module docstring)."""
    x = resample(audio, rate, MFCC_RATE)[:int(INPUT_SECONDS * MFCC_RATE)]
    if x.shape[0] < MFCC_MIN_SAMPLES:
        x = np.pad(x, (0, MFCC_MIN_SAMPLES - x.shape[0]))
    frames = 1 + x.shape[0] // MFCC_HOP  # librosa's centred frames
    padded = np.pad(x, (0, -x.shape[0] % _MFCC_BUCKET))
    m = np.asarray(_mfcc_frames(jnp.asarray(padded)))[:frames]
    return mfcc_stats_from_frames(m)
