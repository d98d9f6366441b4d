"""What `mirjax tag` and `mirjax embed` write into `--out DIR`."""

from __future__ import annotations

import csv
import os
import re

import numpy as np
from matplotlib.figure import Figure

from mirjax.evaluation.plots import save_figure
from mirjax.evaluation.report import write_report
from mirjax.inference.tagger import Result, file_embeddings


def write_tags(result: Result, out: str, top: int = 5, taggram_png: bool = False) -> list[str]:
    """`tags.csv` (file, rank, tag, score: each file's `top` tags by mean score over its windows), `tags.json` (the
    same, every output's mean score, the full per-window taggram, the skipped files with reasons) and, with
    `taggram_png`, one taggram plot per file under `taggrams/`. Returns the written paths."""
    os.makedirs(out, exist_ok=True)
    csv_path = os.path.join(out, "tags.csv")
    with open(csv_path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["file", "rank", "tag", "score"])
        for fr in result.files:
            for rank, (tag, score) in enumerate(fr.top(result.outputs, top), 1):
                w.writerow([fr.path, rank, tag, f"{score:.4f}"])
    doc = {"model": result.source, "outputs": result.outputs, "window_seconds": result.window_seconds,
           "hop_seconds": result.hop_seconds,
           "files": [{"path": fr.path, "windows": int(len(fr.taggram)), "top_tags": fr.top(result.outputs, top),
                      "scores": dict(zip(result.outputs, np.round(fr.scores, 5).tolist(), strict=True)),
                      "taggram": np.round(fr.taggram, 5).tolist()} for fr in result.files],
           "skipped": [{"path": p, "reason": r} for p, r in result.skipped]}
    paths = [csv_path, write_report(out, doc, filename="tags.json")]
    if taggram_png:
        for fr in result.files:
            paths.append(plot_taggram(fr.taggram, result.outputs, result.hop_seconds,
                                      os.path.join(out, "taggrams", _safe_name(fr.path) + ".png"), fr.path))
    return paths


def plot_taggram(taggram: np.ndarray, outputs: list[str], hop_seconds: float, path: str, title: str) -> str:
    """Outputs × time image of a file's window scores (as musicnn's taggram plots)."""
    fig = Figure(figsize=(max(6.0, min(24.0, 0.25 * len(taggram) + 3)), 0.18 * len(outputs) + 1.5))
    ax = fig.add_subplot(1, 1, 1)
    ax.imshow(taggram.T, aspect="auto", interpolation="nearest", cmap="viridis", vmin=0.0, vmax=1.0,
              extent=(0, len(taggram) * hop_seconds, len(outputs) - 0.5, -0.5))
    ax.set_yticks(range(len(outputs)), outputs, fontsize=7)
    ax.set_xlabel("time (s)")
    ax.set_title(os.path.basename(title), fontsize=9)
    fig.tight_layout()
    return save_figure(fig, path)


def write_embeddings(result: Result, out: str, pooling: str = "mean") -> str:
    """`embeddings.npz`: `paths` (files), `window_file` (each window's file index) and per layer `window/LAYER`
    (windows, dims) and `file/LAYER` (files, dims, pooled with `pooling`); `skipped` files and reasons."""
    os.makedirs(out, exist_ok=True)
    arrays = {"paths": np.array([f.path for f in result.files]),
              "window_file": np.concatenate([np.full(len(f.taggram), i) for i, f in enumerate(result.files)])
              if result.files else np.zeros(0, int),
              "skipped": np.array([f"{p}: {r}" for p, r in result.skipped])}
    pooled = [vecs for _, vecs in file_embeddings(result, pooling)]
    for name in (result.files[0].layers if result.files else {}):
        arrays[f"window/{name}"] = np.concatenate([f.layers[name] for f in result.files])
        arrays[f"file/{name}"] = np.stack([p[name] for p in pooled])
    path = os.path.join(out, "embeddings.npz")
    np.savez_compressed(path, **arrays)
    return path


def _safe_name(path: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", os.path.splitext(path.strip("/"))[0])[-120:]
