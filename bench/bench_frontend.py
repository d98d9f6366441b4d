"""Log-mel throughput: mirjax (jitted, batched) vs librosa (per-clip loop) on the same clips and machine.

    .venv/bin/python bench/bench_frontend.py [--clips N] [--batch B] [--repeats R]

Config: 10-s clips at 16 kHz, n_fft 512, hop 256, 96 Slaney mels, power → dB (top_db 80).
Prints a markdown table row (clips/s for each, ratio) plus the device, and the max |dB| difference
between the two outputs as a sanity check.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))  # run from a checkout

import jax  # noqa: E402
import librosa  # noqa: E402

from mirjax.frontend import make_frontend  # noqa: E402

SR, SECONDS, N_FFT, HOP, N_MELS = 16000, 10.0, 512, 256, 96


def make_clips(n: int, seed: int = 0) -> np.ndarray:
    """``(n, 160000)`` float32: a few random sines over white noise, per clip."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(SR * SECONDS)) / SR
    clips = 0.05 * rng.standard_normal((n, t.size))
    for _ in range(3):
        f = rng.uniform(50, 7000, size=(n, 1))
        clips += rng.uniform(0.05, 0.3, size=(n, 1)) * np.sin(2 * np.pi * f * t + rng.uniform(0, 2 * np.pi, (n, 1)))
    return clips.astype(np.float32)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=128, help="number of 10-s clips")
    ap.add_argument("--batch", type=int, default=32, help="clips per jitted call")
    ap.add_argument("--repeats", type=int, default=3, help="timed passes; the median is reported")
    args = ap.parse_args()

    load0 = os.getloadavg()[0]  # other processes on the machine skew both timings
    clips = make_clips(args.clips)
    fe = jax.jit(make_frontend("logmel", sample_rate=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS))
    batches = [jax.device_put(clips[i : i + args.batch]) for i in range(0, args.clips, args.batch)]
    for b in {b.shape: b for b in batches}.values():  # warm-up: compile every batch shape once
        fe(b).block_until_ready()

    def run_mirjax():
        return [fe(b).block_until_ready() for b in batches]

    def run_librosa():
        return [
            librosa.power_to_db(
                librosa.feature.melspectrogram(
                    y=c, sr=SR, n_fft=N_FFT, hop_length=HOP, n_mels=N_MELS, pad_mode="reflect"
                )
            )
            for c in clips
        ]

    def timed(fn):
        times, out = [], None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            out = fn()
            times.append(time.perf_counter() - t0)
        return float(np.median(times)), out

    t_mx, out_mx = timed(run_mirjax)
    t_lr, out_lr = timed(run_librosa)
    ours = np.concatenate([np.asarray(o) for o in out_mx])
    ref = np.stack(out_lr).transpose(0, 2, 1)
    max_db_diff = float(np.abs(ours - ref).max())
    # librosa 0.11 reflect-pads the tail piece on its own; for n % hop == 0 that changes the last
    # sample of the last frame (tests/test_frontend.py). Report the other frames separately.
    max_db_diff_body = float(np.abs(ours[:, :-1] - ref[:, :-1]).max())

    dev = jax.devices()[0]
    device = f"{dev.platform}: {cpu_name()} ({os.cpu_count()} cores)" if dev.platform == "cpu" else dev.device_kind
    mx, lr = args.clips / t_mx, args.clips / t_lr
    print(f"device: {device}; jax {jax.__version__}, librosa {librosa.__version__}; "
          f"{args.clips} clips x {SECONDS:g} s @ {SR} Hz, batch {args.batch}, median of {args.repeats}; "
          f"max |dB diff| = {max_db_diff:.2e} (all but the last frame: {max_db_diff_body:.2e}); "
          f"load average before/after {load0:.2f}/{os.getloadavg()[0]:.2f}")
    print("| device | clips | mirjax clips/s | librosa clips/s | speed-up |")
    print("|---|---|---|---|---|")
    print(f"| {device} | {args.clips} | {mx:.1f} | {lr:.1f} | {mx / lr:.1f}x |")


if __name__ == "__main__":
    main()
