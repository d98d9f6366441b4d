"""First-layer filters of a trained raw-audio tagger (Dieleman thesis Ch. 5, Figs. 5.2–5.4).

The `dieleman_raw` model's strided convolution (`params['strided']['kernel']`, filter_length × 1 × filters)
is a learned filterbank. The thesis finds its filters frequency-selective, spanning the lower half of the
spectrum, dense and roughly linear up to about 1 kHz and sparser above: mel-like (Figs. 5.2, 5.3, length =
stride = 512); with L2 feature pooling in groups of 4 the filters of a group are phase- or translation-shifted
versions of one another (Fig. 5.4).

    mirjax analyze filters --workdir RUN_DIR [--out DIR] [--checkpoint best|latest] [--lowpass_hz HZ]

RUN_DIR is a `mirjax train` (or `mirjax study raw_audio`) workdir of a `dieleman_raw` model: its
`config.json` rebuilds the model and its checkpoint is restored as `eval.py` does (the dataset must be available,
for the number of outputs and the sample rate). Writes into DIR (default RUN_DIR/filters):

  filters_waveforms.png    every filter's waveform, ordered by dominant frequency (Fig. 5.2)
  filters_spectra.png      magnitude spectra ordered by dominant frequency, and dominant frequency (Hz) against
                           rank beside the mel scale over the same range (Fig. 5.3)
  filters_pool_groups.png  only for feature pooling: each pool group's filters overlaid (Fig. 5.4), optionally
                           low-passed for display (`--lowpass_hz`, as the thesis shows them)
  filters.json             sample rate, filter length, dominant frequencies (filter order and sorted), and how far
                           the kernels moved from the same seed's initialisation (‖W − W₀‖ / ‖W₀‖)
"""

from __future__ import annotations

import json
import logging
import os
from typing import Any

import numpy as np

from mirjax.errors import UserError
from mirjax.training import setup
from mirjax.training.optim import make_optimizer

log = logging.getLogger("mirjax")


def magnitude_spectra(kernels: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """(filter_length, filters) kernels → (filters, n_fft // 2 + 1) |rfft|, zero-padded to `n_fft` (default 4 ×
    the filter length, which interpolates the spectrum four times more finely than the filter's own bins)."""
    kernels = np.asarray(kernels, dtype=np.float64)
    if kernels.ndim != 2:
        raise UserError(f"kernels must be (filter_length, filters), got shape {kernels.shape}")
    n_fft = n_fft or 4 * kernels.shape[0]
    return np.abs(np.fft.rfft(kernels, n=n_fft, axis=0)).T


def dominant_frequencies(kernels: np.ndarray, sample_rate: float, n_fft: int | None = None) -> np.ndarray:
    """Hz of each filter's largest spectral magnitude: (filter_length, filters) → (filters,), in filter order.
    Resolution is sample_rate / n_fft (default n_fft = 4 × filter length)."""
    kernels = np.asarray(kernels)
    n_fft = n_fft or 4 * kernels.shape[0]
    return magnitude_spectra(kernels, n_fft).argmax(axis=1) * (sample_rate / n_fft)


def lowpass(kernels: np.ndarray, sample_rate: float, cutoff_hz: float) -> np.ndarray:
    """Kernels with every DFT component above `cutoff_hz` removed (zero-phase): the display smoothing of the
    thesis's Fig. 5.4, which shows its filters low-pass filtered."""
    kernels = np.asarray(kernels, dtype=np.float64)
    spec = np.fft.rfft(kernels, axis=0)
    spec[np.fft.rfftfreq(kernels.shape[0], 1.0 / sample_rate) > cutoff_hz] = 0
    return np.fft.irfft(spec, n=kernels.shape[0], axis=0)


def mel_frequencies(n: int, fmax: float) -> np.ndarray:
    """`n` frequencies (Hz) evenly spaced on the HTK mel scale from 0 to `fmax`: the reference curve for a
    mel-like filterbank."""
    mel = np.linspace(0.0, 2595.0 * np.log10(1.0 + fmax / 700.0), n)
    return 700.0 * (10.0 ** (mel / 2595.0) - 1.0)


def load_filters(workdir: str, checkpoint: str = "best") -> dict[str, Any]:
    """Restore `workdir`'s checkpoint and return its strided-layer kernels as (filter_length, filters), with the
    sample rate, the model section and which checkpoint was used."""
    import ml_collections

    if not os.path.isdir(workdir):
        raise UserError(f"workdir {workdir} does not exist")
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        raise UserError(f"no config.json in {workdir} (not a training workdir?)")
    with open(path) as f:
        config = ml_collections.ConfigDict(json.load(f))
    name = config.model.get("name")
    if name != "dieleman_raw":
        raise UserError(f"{workdir} holds a '{name}' model; the filter analysis needs a dieleman_raw model "
                         "(configs/dieleman_raw.py)")
    exp = setup.build_experiment(config)
    try:
        state, which, step = setup.restore_for_eval(exp, workdir, checkpoint)
    except FileNotFoundError as e:
        raise UserError(str(e).splitlines()[0]) from None
    kernel = np.asarray(state.params["strided"]["kernel"])  # (filter_length, 1, filters)
    # The same seed's initial weights: how far training moved the filters from random (a short run may not).
    initial = np.asarray(exp.init_state(make_optimizer(config.optim, config.train.num_steps)[0])
                         .params["strided"]["kernel"])
    change = float(np.linalg.norm(kernel - initial) / np.linalg.norm(initial))
    return {"kernels": kernel[:, 0, :], "sample_rate": int(exp.info.sample_rate), "model": config.model.to_dict(),
            "checkpoint": which, "step": int(step), "relative_change_from_init": change}


def _plt():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def _save_grid(fig, ax, columns: int, rows: int, title: str, path: str) -> str:
    """Frame a rows × columns grid of small waveform panels (one unit each, row 0 at the top) and save it."""
    ax.set_xlim(0, columns)
    ax.set_ylim(-rows + 0.5, 0.5)
    ax.axis("off")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    return _save(fig, path)


def _save(fig, path: str, dpi: int = 90) -> str:
    """PNG with an adaptive 128-colour palette: line art and heat maps look the same at a third of the bytes,
    which keeps the figures small enough for docs/."""
    import io

    from PIL import Image
    buf = io.BytesIO()
    fig.savefig(buf, dpi=dpi, format="png")
    _plt().close(fig)
    Image.open(buf).convert("RGB").quantize(colors=128).save(path, optimize=True)
    return path


def plot_waveforms(kernels: np.ndarray, order: np.ndarray, path: str, title: str, columns: int = 16) -> str:
    """Every filter (each scaled to its peak) in a grid, row-major in `order` (Fig. 5.2)."""
    plt = _plt()
    length, n = kernels.shape
    rows = -(-n // columns)
    fig, ax = plt.subplots(figsize=(columns * 0.75, rows * 0.6 + 0.5))
    t = np.linspace(0.05, 0.95, length)
    for i, f in enumerate(order):
        w = kernels[:, f] / (np.abs(kernels[:, f]).max() or 1.0)
        r, c = divmod(i, columns)
        ax.plot(c + t, -r + 0.42 * w, lw=0.4, color="k")
    return _save_grid(fig, ax, columns, rows, title, path)


def plot_spectra(kernels: np.ndarray, sample_rate: float, path: str, title: str) -> str:
    """Left: per-filter magnitude spectra (dB re each filter's peak) ordered by dominant frequency; right: dominant
    frequency against rank, beside the mel scale over 0 … sample_rate / 2 (Fig. 5.3)."""
    plt = _plt()
    spectra = magnitude_spectra(kernels)
    freqs = dominant_frequencies(kernels, sample_rate)
    order = np.argsort(freqs, kind="stable")
    db = 20 * np.log10(spectra[order] / (spectra[order].max(axis=1, keepdims=True) + 1e-12) + 1e-6)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 4))
    im = a.imshow(db.T, origin="lower", aspect="auto", cmap="magma", vmin=-40, vmax=0,
                  extent=(-0.5, len(order) - 0.5, 0, sample_rate / 2))
    fig.colorbar(im, ax=a, label="dB re filter peak")
    a.set_xlabel("filter (ordered by dominant frequency)")
    a.set_ylabel("frequency (Hz)")
    a.set_title("magnitude spectra", fontsize=9)
    rank = np.arange(1, len(order) + 1)
    b.plot(rank, freqs[order], ".", ms=4, label="learned filters")
    b.plot(rank, mel_frequencies(len(order), sample_rate / 2), "--", lw=1, color="gray",
           label="mel scale, 0 – Nyquist")
    b.set_xlabel("filter rank")
    b.set_ylabel("dominant frequency (Hz)")
    b.set_ylim(0, sample_rate / 2)
    b.grid(alpha=0.3)
    b.legend(fontsize=8)
    b.set_title("dominant frequency vs rank", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return _save(fig, path)


def plot_pool_groups(kernels: np.ndarray, group_size: int, sample_rate: float, path: str, title: str,
                     columns: int = 8, lowpass_hz: float = 0.0) -> str:
    """Each feature-pool group's filters overlaid in one cell (peak-scaled), groups ordered by the median dominant
    frequency of their members (Fig. 5.4). Group g holds filters g·size … g·size + size − 1, as the model
    reshapes them. `lowpass_hz` > 0 smooths the drawn waveforms (not the frequencies) as the thesis does."""
    plt = _plt()
    length, n = kernels.shape
    groups = n // group_size
    freqs = dominant_frequencies(kernels, sample_rate).reshape(groups, group_size)
    if lowpass_hz > 0:
        kernels = lowpass(kernels, sample_rate, lowpass_hz)
    order = np.argsort(np.median(freqs, axis=1), kind="stable")
    rows = -(-groups // columns)
    fig, ax = plt.subplots(figsize=(columns * 1.3, rows * 0.9 + 0.6))
    t = np.linspace(0.05, 0.95, length)
    colors = plt.get_cmap("tab10").colors
    for i, g in enumerate(order):
        r, c = divmod(i, columns)
        for j in range(group_size):
            w = kernels[:, g * group_size + j]
            ax.plot(c + t, -r + 0.42 * w / (np.abs(w).max() or 1.0), lw=0.45, color=colors[j % len(colors)])
        ax.text(c + 0.05, -r + 0.45, f"{np.median(freqs[g]):.0f} Hz", fontsize=5, va="top")
    return _save_grid(fig, ax, columns, rows, title, path)


def analyse(workdir: str, out: str | None = None, checkpoint: str = "best", lowpass_hz: float = 0.0) -> dict[str, Any]:
    """Restore, plot and summarise `workdir`'s first-layer filters; returns the summary (also filters.json)."""
    f = load_filters(workdir, checkpoint)
    kernels, sr, model = f["kernels"], f["sample_rate"], f["model"]
    out = out or os.path.join(workdir, "filters")
    os.makedirs(out, exist_ok=True)
    freqs = dominant_frequencies(kernels, sr)
    order = np.argsort(freqs, kind="stable")
    setting = (f"{kernels.shape[1]} filters of {kernels.shape[0]} samples, stride {model.get('stride')}, "
               f"{model.get('nonlinearity')}, pooling {model.get('feature_pool')}"
               + (f" ×{model.get('feature_pool_size')}" if model.get("feature_pool") != "none" else "")
               + f"; {f['checkpoint']} checkpoint, step {f['step']}")
    paths = [plot_waveforms(kernels, order, os.path.join(out, "filters_waveforms.png"),
                            f"first-layer filters ordered by dominant frequency\n{setting}"),
             plot_spectra(kernels, sr, os.path.join(out, "filters_spectra.png"), setting)]
    size = int(model.get("feature_pool_size") or 1)
    if model.get("feature_pool", "none") != "none" and size > 1:
        paths.append(plot_pool_groups(kernels, size, sr, os.path.join(out, "filters_pool_groups.png"),
                                      f"{model['feature_pool']} pool groups of {size}, one colour per member"
                                      + (f", low-passed at {lowpass_hz:g} Hz for display" if lowpass_hz > 0 else "")
                                      + f"\n{setting}", lowpass_hz=lowpass_hz))
    summary = {"workdir": os.path.abspath(workdir), "checkpoint": f["checkpoint"], "step": f["step"],
               "sample_rate": sr, "filter_length": int(kernels.shape[0]), "filters": int(kernels.shape[1]),
               "model": model, "relative_change_from_init": f["relative_change_from_init"],
               "median_dominant_hz": float(np.median(freqs)),
               "fraction_below_1000_hz": float(np.mean(freqs < 1000)),
               "fraction_in_lower_half": float(np.mean(freqs < sr / 4)),
               "dominant_hz": freqs.tolist(), "dominant_hz_sorted": freqs[order].tolist(), "plots": paths}
    with open(os.path.join(out, "filters.json"), "w") as fh:
        json.dump(summary, fh, indent=1)
    return summary


def summary(s: dict) -> str:
    """Two lines about `analyse`'s result (what `mirjax analyze filters` prints)."""
    files = [*s["plots"], os.path.join(os.path.dirname(s["plots"][0]), "filters.json")]
    return (f"{s['filters']} filters of {s['filter_length']} samples at {s['sample_rate']} Hz ({s['checkpoint']} "
            f"checkpoint, step {s['step']}): median dominant frequency {s['median_dominant_hz']:.0f} Hz, "
            f"{100 * s['fraction_below_1000_hz']:.0f} % below 1 kHz, {100 * s['fraction_in_lower_half']:.0f} % in "
            f"the lower half of the spectrum; weights moved {100 * s['relative_change_from_init']:.1f} % (L2) from "
            f"their initialisation\nwrote {' '.join(files)}")
