"""Auralisation of a ReLU convnet on STFT magnitudes (Choi thesis §7.2, Listing 7.1): Zeiler & Fergus's deconvnet
with switch unpooling gives, for one feature map of one layer, a mask over the input spectrogram; the mask times the
complex STFT (the original phase) is inverted to audio, so that one can listen to what the feature responds to.

The deconvolution follows the algorithm of Choi's public example code (`get_deconve_mask`, written here anew in
JAX), for a net of blocks conv → ReLU → max-pool on a (bins, frames) magnitude image:

1. forward pass up to the pooled output of layer `depth`, biases ignored (as in that code; `use_bias=True` adds
   them), recording in every block the *switches*: a binary map with a 1 at the first maximum (row-major) of each
   whole pool window of the ReLU'd conv output, 0 elsewhere (the partial windows at the edges are dropped);
2. for feature `k`: keep only channel `k` of that pooled map and go back down: per block, *unpool* (repeat each
   value over its window, times the switches, zero in the cropped edge), *ReLU*, *deconvolve* (the transpose of the
   block's 'same' convolution: its kernel flipped, input and output channels swapped);
3. what reaches the input, shape (bins, frames), is the mask M_k (any sign: no ReLU after the last deconvolution).
   The auralised signal is istft(M_k ⊙ STFT), peak-normalised (the STFT keeps the original phase).

Shapes: `image` is what the model sees, (frames, bins), as the front-end returns it; masks are (features, bins,
frames) like a librosa STFT. Only the deconvolvable part of the model (its conv kernels and pools) is used, from a
`compact_convnet` configured as the thesis's net (`activation="relu"`, `batch_norm=False`, `input_norm="none"`) on
the `stft` front-end (configs/choi_auralisation.py).

Table 7-A (`receptive_fields`): the thesis's "effective sizes" of the 3×3 kernels are, in both axes, (k · jump + 1)
cells, jump being the product of the pools below the layer and a cell one hop (time) or one FFT bin (frequency):
93/162/302/580/1137 ms and 86/151/280/538 Hz at 11,025 Hz, n_fft 512, hop 256 (its layer-5 height, 1270 Hz, does
not follow the rule: 1055 Hz). The true receptive field of each layer's conv output is given beside it.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from mirjax.errors import UserError
from mirjax.frontend import stft as complex_stft
from mirjax.models.compact_convnet import freq_pools_for
from mirjax.models.layers import same_padding

log = logging.getLogger("mirjax")

SUPPORTED_MODELS = ("compact_convnet",)
SUPPORTED_FRONTENDS = ("stft",)


@dataclasses.dataclass(frozen=True)
class ReluConvnet:
    """The deconvolvable part of a trained net: per block a 'same' conv kernel (kh, kw, c_in, c_out) applied as a
    cross-correlation (Flax's convention) on (bins, frames, channels), its bias (c_out,), and its max-pool
    (freq, time)."""

    kernels: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    pools: tuple[tuple[int, int], ...]

    @property
    def num_layers(self) -> int:
        return len(self.kernels)

    def num_features(self, layer: int) -> int:
        return int(self.kernels[layer - 1].shape[-1])


def _check_supported(model_cfg: dict, frontend_cfg: dict, where: str) -> None:
    name = model_cfg.get("name")
    if name not in SUPPORTED_MODELS:
        raise UserError(f"{where} holds a '{name}' model; auralisation needs a ReLU compact_convnet without batch "
                        "norm (configs/choi_auralisation.py)")
    problems = [f"{k}={model_cfg.get(k, default)!r}" for k, want, default in
                (("activation", "relu", "elu"), ("batch_norm", False, True), ("input_norm", "none", "none"))
                if model_cfg.get(k, default) != want]
    if problems:
        raise UserError(f"{where}: model has {', '.join(problems)}; auralisation needs activation='relu', "
                        "batch_norm=False, input_norm='none' (configs/choi_auralisation.py)")
    if frontend_cfg.get("name") not in SUPPORTED_FRONTENDS:
        raise UserError(f"{where}: front-end '{frontend_cfg.get('name')}' is not an STFT; auralisation inverts "
                        "the STFT, so the model must read one (frontend.name='stft')")


def convnet_from_variables(variables: Any, model_cfg: dict, frontend_cfg: dict, where: str = "model") -> ReluConvnet:
    """Kernels, biases and pools of a trained `compact_convnet` (its Flax `variables` and config sections as
    dicts); a model that is not a supported ReLU convnet on an STFT is a one-line UserError naming `where`."""
    _check_supported(model_cfg, frontend_cfg, where)
    params = variables["params"] if "params" in variables else variables
    blocks = sorted((k for k in params if k.startswith("ConvBlock_")), key=lambda k: int(k.split("_")[1]))
    kernels = tuple(np.asarray(params[b]["Conv_0"]["kernel"], np.float32) for b in blocks)
    biases = tuple(np.asarray(params[b]["Conv_0"].get("bias", np.zeros(k.shape[-1])), np.float32)
                   for b, k in zip(blocks, kernels))
    n_bins = int(frontend_cfg.get("n_fft", 512)) // 2 + 1
    freq = model_cfg.get("freq_pools") or freq_pools_for(n_bins)
    time = model_cfg.get("time_pools")
    if not kernels or time is None or len(freq) < len(kernels) or len(time) < len(kernels):
        raise UserError(f"{where}: cannot read {len(kernels)} conv blocks with pools {freq} × {time}")
    return ReluConvnet(kernels, biases, tuple((int(f), int(t)) for f, t in zip(freq, time)))


# ------------------------------------------------------------------------------------------------------------------
# The deconvnet (pure JAX)
# ------------------------------------------------------------------------------------------------------------------

def _conv(x: jax.Array, kernel: jax.Array) -> jax.Array:
    """'same' cross-correlation of (H, W, C_in) with (kh, kw, C_in, C_out) → (H, W, C_out), as the model's conv."""
    pad = same_padding(kernel.shape[:2])
    return lax.conv_general_dilated(x[None], kernel, (1, 1), pad, dimension_numbers=("NHWC", "HWIO", "NHWC"),
                                    precision=lax.Precision.HIGHEST)[0]


def _deconv(g: jax.Array, kernel: jax.Array) -> jax.Array:
    """Transpose of `_conv` (the deconvnet's filtering: flipped kernel, channels swapped): (H, W, C_out) → (H, W,
    C_in). The conv is linear, so its VJP at any point is the transpose."""
    zeros = jnp.zeros(g.shape[:2] + (kernel.shape[2],), g.dtype)
    return jax.vjp(lambda x: _conv(x, kernel), zeros)[1](g)[0]


def _clip_pool(pool: tuple[int, int], shape: Sequence[int]) -> tuple[int, int]:
    """Pools larger than the map are clipped, as the model's ConvBlock does."""
    return min(pool[0], shape[0]), min(pool[1], shape[1])


def max_pool_with_switches(a: jax.Array, pool: tuple[int, int]) -> tuple[jax.Array, jax.Array]:
    """Max-pool (H, W, C) over non-overlapping `pool` windows (partial edge windows dropped) → pooled (H//p, W//q,
    C) and switches (H, W, C): 1.0 at each window's first maximum in row-major order (numpy's argmax), else 0."""
    p, q = pool
    ho, wo, c = a.shape[0] // p, a.shape[1] // q, a.shape[2]
    win = a[:ho * p, :wo * q].reshape(ho, p, wo, q, c).transpose(0, 2, 4, 1, 3).reshape(ho, wo, c, p * q)
    first = jnp.argmax(win, axis=-1)
    onehot = jax.nn.one_hot(first, p * q, dtype=a.dtype).reshape(ho, wo, c, p, q).transpose(0, 3, 1, 4, 2)
    switches = jnp.pad(onehot.reshape(ho * p, wo * q, c), ((0, a.shape[0] - ho * p), (0, a.shape[1] - wo * q),
                                                          (0, 0)))
    return jnp.max(win, axis=-1), switches


def unpool(g: jax.Array, switches: jax.Array, pool: tuple[int, int]) -> jax.Array:
    """Switch unpooling: each value of (h, w, C) repeated over its `pool` window, times the (H, W, C) switches;
    the rows/columns that pooling cropped stay 0."""
    up = jnp.repeat(jnp.repeat(g, pool[0], axis=0), pool[1], axis=1)
    up = jnp.pad(up, ((0, switches.shape[0] - up.shape[0]), (0, switches.shape[1] - up.shape[1]), (0, 0)))
    return up * switches


def forward(net: ReluConvnet, image: jax.Array, depth: int, use_bias: bool = False
            ) -> tuple[list[jax.Array], list[tuple[int, int]], jax.Array]:
    """(bins, frames) image → per block up to `depth` the switches and pools used, and the pooled output of block
    `depth`, (h, w, C)."""
    x = jnp.asarray(image, jnp.float32)[..., None]
    switches, pools = [], []
    for layer in range(depth):
        a = _conv(x, jnp.asarray(net.kernels[layer]))
        if use_bias:
            a = a + jnp.asarray(net.biases[layer])
        a = jax.nn.relu(a)
        pool = _clip_pool(net.pools[layer], a.shape)
        x, sw = max_pool_with_switches(a, pool)
        switches.append(sw)
        pools.append(pool)
    return switches, pools, x


def deconvolve(net: ReluConvnet, image: np.ndarray, layer: int, features: Sequence[int],
               use_bias: bool = False, chunk: int = 8) -> np.ndarray:
    """Deconvnet masks of `features` (0-based) of block `layer` (1-based): (frames, bins) image → (len(features),
    bins, frames). `chunk` features are deconvolved at once (memory: chunk × the largest map)."""
    check_indices(net, layer, features)
    switches, pools, top = forward(net, jnp.asarray(image).T, layer, use_bias)
    kernels = [jnp.asarray(k) for k in net.kernels[:layer]]

    def one(k: jax.Array) -> jax.Array:
        g = top * jax.nn.one_hot(k, top.shape[-1], dtype=top.dtype)  # only feature map k
        for level in reversed(range(layer)):
            g = jax.nn.relu(unpool(g, switches[level], pools[level]))
            g = _deconv(g, kernels[level])
        return g[..., 0]

    masks = jax.jit(lambda ks: lax.map(one, ks, batch_size=chunk))(jnp.asarray(list(features), jnp.int32))
    return np.asarray(masks)


def config_widths(model_cfg: dict) -> tuple[int, ...]:
    """Feature maps per conv layer of a compact_convnet config section (known before any checkpoint is read)."""
    channels, blocks = model_cfg.get("channels", 32), int(model_cfg.get("num_blocks", 5))
    return (int(channels),) * blocks if isinstance(channels, int) else tuple(int(c) for c in channels)


def check_indices(net: ReluConvnet | Sequence[int], layer: int, features: Sequence[int]) -> None:
    """One-line UserError for a layer outside 1..num_layers or a feature outside 0..num_features-1; `net` is the
    convnet or its feature maps per layer (`config_widths`)."""
    widths = [net.num_features(i + 1) for i in range(net.num_layers)] if isinstance(net, ReluConvnet) else net
    if not 1 <= layer <= len(widths):
        raise UserError(f"layer {layer} is out of range: the model has conv layers 1..{len(widths)}")
    n = widths[layer - 1]
    bad = [f for f in features if not 0 <= f < n]
    if bad:
        raise UserError(f"feature {bad[0]} is out of range for layer {layer}: it has feature maps 0..{n - 1}")
    if not features:
        raise UserError("no features selected")


# ------------------------------------------------------------------------------------------------------------------
# STFT side: masks → audio
# ------------------------------------------------------------------------------------------------------------------

def stft_matrix(audio: np.ndarray, n_fft: int, hop_length: int, pad_mode: str = "reflect") -> np.ndarray:
    """Complex STFT (bins, frames) of mono `audio`, on the same grid as the `stft` front-end (Hann, centred)."""
    return np.asarray(complex_stft(jnp.asarray(audio, jnp.float32), n_fft, hop_length, pad_mode=pad_mode)).T


def istft(spec: np.ndarray, hop_length: int, length: int) -> np.ndarray:
    """Inverse of `stft_matrix` (centred, periodic Hann): (bins, frames) complex → (length,) samples, by weighted
    overlap-add divided by the summed squared window (librosa.istft's method; numpy, so no JIT compile)."""
    from scipy.signal import get_window

    n_fft = 2 * (spec.shape[0] - 1)
    win = get_window("hann", n_fft, fftbins=True)
    frames = np.fft.irfft(np.asarray(spec).T, n=n_fft, axis=-1) * win  # (frames, n_fft)
    total = n_fft + hop_length * (frames.shape[0] - 1)
    y, wsum = np.zeros(total), np.zeros(total)
    for t, frame in enumerate(frames):
        y[t * hop_length:t * hop_length + n_fft] += frame
        wsum[t * hop_length:t * hop_length + n_fft] += win ** 2
    y = np.divide(y, wsum, out=np.zeros_like(y), where=wsum > 1e-8)[n_fft // 2:]
    return np.pad(y[:length], (0, max(0, length - y.shape[0])))


def auralise(spec: np.ndarray, mask: np.ndarray, hop_length: int, length: int, normalize: bool = True
             ) -> np.ndarray:
    """istft(mask ⊙ spec): the masked complex STFT (bins, frames), keeping the original phase, back to `length`
    samples; peak-normalised to 0.99 when `normalize` and not silent (Choi's code writes its WAVs normalised)."""
    if mask.shape != spec.shape:
        raise UserError(f"mask shape {mask.shape} differs from the STFT's {spec.shape}")
    y = istft(spec * mask, hop_length, length)
    peak = float(np.max(np.abs(y))) if y.size else 0.0
    return (0.99 * y / peak if normalize and peak > 0 else y).astype(np.float32)


# ------------------------------------------------------------------------------------------------------------------
# Table 7-A
# ------------------------------------------------------------------------------------------------------------------

def receptive_fields(kernel_sizes: Sequence[int], pools: Sequence[tuple[int, int]], sample_rate: float, n_fft: int,
                     hop_length: int) -> list[dict[str, float]]:
    """Per conv layer (1-based): Table 7-A's effective width (ms) and height (Hz) — (k · jump + 1) hops and FFT bins,
    jump = product of the pools below — and the true receptive field of the layer's conv output: r frames span
    ((r − 1) · hop + n_fft) samples, r bins r · sample_rate / n_fft Hz."""
    rows = []
    bin_hz, hop_ms = sample_rate / n_fft, 1000.0 * hop_length / sample_rate
    jump, rf = [1, 1], [1, 1]
    for layer, (k, pool) in enumerate(zip(kernel_sizes, pools), start=1):
        rf = [r + (k - 1) * j for r, j in zip(rf, jump)]
        rows.append({"layer": layer, "kernel": k, "jump_bins": jump[0], "jump_frames": jump[1],
                     "thesis_width_ms": (k * jump[1] + 1) * hop_ms, "thesis_height_hz": (k * jump[0] + 1) * bin_hz,
                     "rf_frames": rf[1], "rf_bins": rf[0],
                     "rf_width_ms": 1000.0 * ((rf[1] - 1) * hop_length + n_fft) / sample_rate,
                     "rf_height_hz": rf[0] * bin_hz})
        rf = [r + (p - 1) * j for r, p, j in zip(rf, pool, jump)]
        jump = [j * p for j, p in zip(jump, pool)]
    return rows


def receptive_fields_from_config(model_cfg: dict, frontend_cfg: dict) -> list[dict[str, float]]:
    """`receptive_fields` of a compact_convnet config section on its front-end's STFT grid."""
    n_fft = int(frontend_cfg.get("n_fft", 512))
    blocks = int(model_cfg.get("num_blocks", 5))
    freq = model_cfg.get("freq_pools") or freq_pools_for(n_fft // 2 + 1)
    pools = list(zip(freq, model_cfg["time_pools"]))[:blocks]
    return receptive_fields([int(model_cfg.get("kernel_size", 3))] * blocks, pools,
                            float(frontend_cfg.get("sample_rate", 16000)), n_fft,
                            int(frontend_cfg.get("hop_length", 256)))


# ------------------------------------------------------------------------------------------------------------------
# Files
# ------------------------------------------------------------------------------------------------------------------

def parse_indices(spec: str, what: str) -> list[int]:
    """"3", "0,5,9", "0-7" or a mix ("0-3,9") → sorted unique ints; anything else is a one-line UserError."""
    out: set[int] = set()
    try:
        for part in filter(None, (p.strip() for p in str(spec).split(","))):
            lo, sep, hi = part.partition("-")
            out.update(range(int(lo), int(hi) + 1) if sep else [int(lo)])
    except ValueError:
        raise UserError(f"{what} must be integers like 3, 0,5,9 or 0-7; got {spec!r}") from None
    if not out:
        raise UserError(f"no {what} given")
    return sorted(out)


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save(fig, path: str, dpi: int = 80) -> str:
    import io

    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    _plt().close(fig)
    Image.open(buf).convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def _db(x: np.ndarray) -> np.ndarray:
    x = np.abs(x)
    return 20 * np.log10(np.maximum(x, 1e-6 * (x.max() or 1.0)))


def _show(ax, img: np.ndarray, extent, title: str, cmap: str, symmetric: bool = False) -> None:
    # Robust colour limits: a few extreme cells would otherwise wash out the rest.
    lim = float(np.percentile(np.abs(img), 99.5)) or float(np.max(np.abs(img))) or 1.0
    above_floor = img[img > img.min()]  # masked-out cells sit at the dB floor
    top = float(np.percentile(above_floor, 99.9)) if above_floor.size else float(img.max())
    kw = dict(vmin=-lim, vmax=lim) if symmetric else dict(vmin=top - 60, vmax=top)
    ax.imshow(img, origin="lower", aspect="auto", cmap=cmap, extent=extent, **kw)
    ax.set_title(title, fontsize=8)
    ax.tick_params(labelsize=6)


def plot_feature(mask: np.ndarray, masked: np.ndarray, extent, title: str, path: str) -> str:
    """Two panels: the mask (signed, symmetric colour scale) and the masked magnitude |STFT| ⊙ mask (dB)."""
    plt = _plt()
    fig, (a, b) = plt.subplots(1, 2, figsize=(8, 3))
    _show(a, mask, extent, f"{title}: mask", "RdBu_r", symmetric=True)
    _show(b, _db(masked), extent, f"{title}: |STFT| ⊙ mask (dB)", "magma")
    for ax in (a, b):
        ax.set_xlabel("time (s)", fontsize=7)
    a.set_ylabel("frequency (Hz)", fontsize=7)
    fig.tight_layout()
    return _save(fig, path)


def plot_overview(spec_mag: np.ndarray, masked: dict[tuple[int, int], np.ndarray], extent, path: str,
                  columns: int = 4) -> str:
    """The input |STFT| (dB), then |STFT| ⊙ mask (dB) of every (layer, feature), one row per layer."""
    plt = _plt()
    layers = sorted({lf[0] for lf in masked})
    cols = max(columns, max(sum(1 for lf in masked if lf[0] == layer) for layer in layers))
    fig, axes = plt.subplots(len(layers) + 1, cols, figsize=(1.9 * cols, 1.45 * (len(layers) + 1)), squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    axes[0, 0].axis("on")
    _show(axes[0, 0], _db(spec_mag), extent, "input |STFT| (dB)", "magma")
    for r, layer in enumerate(layers, start=1):
        for c, f in enumerate(sorted(f for lay, f in masked if lay == layer)):
            axes[r, c].axis("on")
            _show(axes[r, c], _db(masked[(layer, f)]), extent, f"feature {layer}-{f}", "magma")
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
    fig.tight_layout()
    return _save(fig, path)


def run(audio: np.ndarray, sample_rate: int, net: ReluConvnet, frontend, frontend_cfg: dict,
        layers: Sequence[int], features: Sequence[int], out: str, use_bias: bool = False) -> dict[str, Any]:
    """Auralise `features` of each of `layers` for mono `audio` (samples,) at `sample_rate`; `frontend` is the
    model's own (audio (1, samples) → (1, frames, bins)). Writes into `out`:

      input.wav, input.png                     the clip as analysed and its |STFT|
      layer{L}/feature{F:02d}.wav               the auralised signal (peak-normalised)
      layer{L}/feature{F:02d}.png               mask and masked magnitude
      layer{L}/masks.npy                        (features, bins, frames) float32 masks
      overview.png                              masked magnitudes of every (layer, feature)
      auralise.json                             settings, Table 7-A rows, per-feature statistics
    """
    import soundfile as sf

    for layer in layers:
        check_indices(net, layer, features)
    n_fft, hop = int(frontend_cfg["n_fft"]), int(frontend_cfg["hop_length"])
    if audio.shape[-1] <= n_fft:
        raise UserError(f"audio of {audio.shape[-1]} samples is too short for n_fft={n_fft}")
    os.makedirs(out, exist_ok=True)
    image = np.asarray(frontend(jnp.asarray(audio[None], jnp.float32)))[0]  # (frames, bins)
    spec = stft_matrix(audio, n_fft, hop, frontend_cfg.get("pad_mode", "reflect"))
    if spec.shape != image.T.shape:
        raise UserError(f"front-end grid {image.T.shape} differs from the STFT's {spec.shape}")
    extent = (0.0, audio.shape[-1] / sample_rate, 0.0, sample_rate / 2)
    sf.write(os.path.join(out, "input.wav"), audio, sample_rate)
    files = {"input_wav": os.path.join(out, "input.wav")}
    plt = _plt()
    fig, ax = plt.subplots(figsize=(5, 3))
    _show(ax, _db(spec), extent, "input |STFT| (dB)", "magma")
    fig.tight_layout()
    files["input_png"] = _save(fig, os.path.join(out, "input.png"))

    summary: dict[str, Any] = {"sample_rate": sample_rate, "n_fft": n_fft, "hop_length": hop,
                               "seconds": audio.shape[-1] / sample_rate, "use_bias": use_bias,
                               "receptive_fields": receptive_fields([k.shape[0] for k in net.kernels], net.pools,
                                                                    sample_rate, n_fft, hop),
                               "features": {}, "files": files}
    masked_all = {}
    for layer in layers:
        masks = deconvolve(net, image, layer, features, use_bias)
        folder = os.path.join(out, f"layer{layer}")
        os.makedirs(folder, exist_ok=True)
        np.save(os.path.join(folder, "masks.npy"), masks.astype(np.float32))
        for f, mask in zip(features, masks):
            stem = os.path.join(folder, f"feature{f:02d}")
            silent = not np.any(mask)
            y = auralise(spec, mask, hop, audio.shape[-1])
            sf.write(stem + ".wav", y, sample_rate)
            masked = np.abs(spec) * mask
            masked_all[(layer, f)] = masked
            plot_feature(mask, masked, extent, f"feature {layer}-{f}", stem + ".png")
            summary["features"][f"{layer}-{f}"] = {
                "wav": stem + ".wav", "png": stem + ".png", "silent": silent,
                "mask_positive_fraction": float(np.mean(mask > 0)),
                "mask_abs_max": float(np.max(np.abs(mask))),
                "centroid_hz": float(np.sum(np.abs(masked).sum(1) * np.linspace(0, sample_rate / 2, spec.shape[0]))
                                     / max(np.abs(masked).sum(), 1e-12))}
            if silent:
                log.info("feature %d-%d is inactive on this clip (all-zero mask)", layer, f)
    files["overview_png"] = plot_overview(np.abs(spec), masked_all, extent, os.path.join(out, "overview.png"))
    with open(os.path.join(out, "auralise.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary


def summary_text(summary: dict[str, Any]) -> str:
    lines = [f"auralised {len(summary['features'])} feature maps of a {summary['seconds']:.2f}-s clip "
             f"({summary['sample_rate']} Hz, n_fft {summary['n_fft']}, hop {summary['hop_length']})"]
    for key, s in summary["features"].items():
        what = "inactive (silent)" if s["silent"] else f"centroid {s['centroid_hz']:.0f} Hz"
        lines.append(f"  {key}: {what}  {s['wav']}")
    lines.append(f"  overview: {summary['files']['overview_png']}")
    return "\n".join(lines)


def workdir_sections(workdir: str) -> tuple[dict, dict]:
    """(model, frontend) config sections of a training workdir, checked to be a supported ReLU convnet on an STFT
    before anything is restored; one-line UserError otherwise."""
    path = os.path.join(workdir, "config.json")
    if not os.path.isdir(workdir):
        raise UserError(f"workdir {workdir} does not exist")
    if not os.path.exists(path):
        raise UserError(f"no config.json in {workdir} (not a training workdir?)")
    try:
        with open(path) as fh:
            config = json.load(fh)
        model_cfg, frontend_cfg = dict(config["model"]), dict(config["frontend"])
    except (ValueError, KeyError, TypeError) as e:
        raise UserError(f"{path}: unreadable config ({type(e).__name__}: {e})") from None
    _check_supported(model_cfg, frontend_cfg, workdir)
    return model_cfg, frontend_cfg
