"""Spherical K-means (mirjax, jitted JAX) vs sklearn's KMeans on the same data, same start, same iterations.

    python bench/bench_kmeans.py [--data normal|scorebank|both] [--samples 100000] [--dims 128] [--means 500]
                                 [--iters 10] [--rounds 5] [--max-clips 0] [--elkan]

--data normal     (default) samples × dims standard-normal float32, a stand-in for whitened windows.
--data scorebank  real whitened windows as the Dieleman pipeline makes them (thesis §3.5; mirjax.features):
                  the cached `scorebank/default` train clips → 128-band log-mel (n_fft 1024, hop 512,
                  log(1 + 10⁴x)) → `samples` random 1-frame windows → PCA whitening to 99 % of the variance
                  (~85 of the 128 dims remain). Needs the built dataset (`mirjax data build scorebank/default`);
                  --dims is ignored; --max-clips caps the clips read (0 = just enough for `samples` windows).
--data both       one table per data set.
--rounds R        timed rounds; each round runs every implementation once, in alternating order, so all
                  see the same load. Reported: median seconds, and the median over rounds of the per-round
                  speed-up against sklearn lloyd (a shared 2-core VM swings ±30 % between runs).
--elkan           add a sklearn `algorithm="elkan"` row (slow here: ~6× lloyd at 128 dims, 500 means).
Run under `taskset -c 0` for a one-core comparison (XLA, OpenBLAS and OpenMP then all use one thread): on a
shared VM it is less sensitive to other jobs than the two-thread one, whose barrier waits suffer when a core is
taken.

Rows: sklearn `KMeans(algorithm="lloyd", n_init=1, tol=0, init=<same centroids>)` on the same float32 array (its
fastest setting: Lloyd in Cython over BLAS products, OpenMP over both cores); with --elkan, sklearn elkan
(triangle-inequality pruning); mirjax `spherical_kmeans` (the default plain iteration) and with `prune=True` (exact
bound pruning, see mirjax/features/kmeans.py). The algorithms differ (spherical vs Euclidean) but cost the same
per iteration: one samples × means product plus an O(samples · dims) update. sklearn's `fit` also runs one
final assignment pass for `labels_` after its `iters` updates; mirjax returns only the centroids.
mirjax is timed after compilation (first call, incl. compile, reported separately), called on the numpy array
as a user would. A last line checks that the pruned result equals the plain one (max |difference|).
"""

from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import numpy as np  # noqa: E402
from bench_frontend import cpu_name  # noqa: E402  (bench/ is on sys.path when a bench script runs)


def normal_data(samples: int, dims: int, rng: np.random.Generator) -> np.ndarray:
    return rng.normal(size=(samples, dims)).astype(np.float32)


def scorebank_data(samples: int, max_clips: int, rng: np.random.Generator) -> tuple[np.ndarray, str]:
    """Whitened 1-frame log-mel windows of scorebank/default's train split, via mirjax's own feature code."""
    from mirjax.features import data as fdata
    from mirjax.features.config import feature_config
    from mirjax.features.extraction import Spec, compute_levels, sample_patches
    from mirjax.features.whitening import apply_whitening, fit_pca_whitening

    cfg = feature_config().dataset  # scorebank/default, 16 kHz
    spec = Spec(representation="gaussian", levels=1)  # level 0 = the plain log-mel spectrogram
    frames_per_clip = 300  # 10-s clips at hop 512 have 313 frames: read ~5 % more windows than needed
    clips = max_clips or -(-samples // frames_per_clip) + 8
    try:
        split = fdata.load_split(cfg, "train", max_clips=clips)
    except Exception as e:  # noqa: BLE001 — a missing dataset should say how to build it
        raise SystemExit(f"--data scorebank: cannot read {cfg.name} ({e}); build it with "
                         f"`mirjax data build scorebank/default`") from None
    spec_frames = compute_levels(split.audio, cfg.sample_rate, spec)[0]  # (clips, frames, 128)
    windows = sample_patches(spec_frames, 1, spec.n_mels, samples, rng)
    white = fit_pca_whitening(windows, spec.pca_variance)
    x = np.asarray(apply_whitening(white, windows), np.float32)
    return x, (f"scorebank/default train, {split.audio.shape[0]} clips → {spec_frames.shape[1]}-frame 128-band "
               f"log-mel → 1-frame windows → PCA whitening 99 % ({x.shape[1]} dims)")


def bench(x: np.ndarray, label: str, args) -> None:
    import sklearn
    from sklearn.cluster import KMeans
    from threadpoolctl import threadpool_info

    from mirjax.features import spherical_kmeans

    rng = np.random.default_rng(1)
    init = rng.normal(size=(args.means, x.shape[1])).astype(np.float32)
    init /= np.linalg.norm(init, axis=1, keepdims=True)
    iters = args.iters

    fitted = {}

    def sk(algorithm):
        def run():
            km = KMeans(n_clusters=args.means, init=init, n_init=1, max_iter=iters, tol=0.0, algorithm=algorithm)
            fitted[algorithm] = km.fit(x)
        return run

    def mx(**kw):
        return lambda: jax.block_until_ready(spherical_kmeans(x, args.means, init=init, num_iters=iters, **kw))

    rows = {"sklearn KMeans (lloyd)": sk("lloyd")}
    if args.elkan:
        rows["sklearn KMeans (elkan)"] = sk("elkan")
    rows["mirjax spherical_kmeans"] = mx()
    rows["mirjax spherical_kmeans(prune=True)"] = mx(prune=True)

    compile_s = {}
    for name, fn in rows.items():  # warm-up: compiles the jitted functions, touches every code path once
        t0 = time.perf_counter()
        fn()
        compile_s[name] = time.perf_counter() - t0

    load0 = os.getloadavg()[0]
    times = {name: [] for name in rows}
    for r in range(args.rounds):
        order = list(rows.items()) if r % 2 == 0 else list(rows.items())[::-1]
        for name, fn in order:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    load1 = os.getloadavg()[0]

    plain = np.asarray(spherical_kmeans(x, args.means, init=init, num_iters=iters))
    pruned = np.asarray(spherical_kmeans(x, args.means, init=init, num_iters=iters, prune=True))
    threads = ", ".join(f"{p['internal_api']} {p['num_threads']}" for p in threadpool_info())
    ref = np.array(times["sklearn KMeans (lloyd)"])
    print(f"\n# {label}: {x.shape[0]:,} × {x.shape[1]} float32, {args.means} means, {iters} iterations "
          f"(sklearn lloyd ran {fitted['lloyd'].n_iter_})")
    cores = f"{len(os.sched_getaffinity(0))} of {os.cpu_count()} cores" if hasattr(os, "sched_getaffinity") \
        else f"{os.cpu_count()} cores"
    print(f"# {cpu_name()} ({cores}), jax {jax.__version__} ({jax.devices()[0].platform}), "
          f"sklearn {sklearn.__version__} (threads: {threads}); {args.rounds} interleaved rounds, "
          f"load average {load0:.2f} before / {load1:.2f} after")
    print("| implementation | seconds (median) | per iteration | speed-up vs sklearn lloyd (median of rounds) |")
    print("|---|---|---|---|")
    for name, ts in times.items():
        ts = np.array(ts)
        ratio = np.median(ref / ts)
        extra = f" (first call incl. compile {compile_s[name]:.2f} s)" if name.startswith("mirjax") else ""
        bold = "**" if name == "mirjax spherical_kmeans" else ""
        print(f"| {name} | {np.median(ts):.3f} | {np.median(ts) / iters:.4f} | {bold}{ratio:.2f}×{bold}{extra} |")
    print(f"# prune=True vs plain: max |centroid difference| = {np.abs(pruned - plain).max():.1e}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("normal", "scorebank", "both"), default="normal")
    ap.add_argument("--samples", type=int, default=100_000)
    ap.add_argument("--dims", type=int, default=128, help="for --data normal")
    ap.add_argument("--means", type=int, default=500)
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--max-clips", type=int, default=0, help="for --data scorebank (0 = as many as needed)")
    ap.add_argument("--elkan", action="store_true", help="add a sklearn elkan row")
    args = ap.parse_args()

    rng = np.random.default_rng(0)
    if args.data in ("normal", "both"):
        bench(normal_data(args.samples, args.dims, rng), "random normal", args)
    if args.data in ("scorebank", "both"):
        x, label = scorebank_data(args.samples, args.max_clips, rng)
        bench(x, label, args)


if __name__ == "__main__":
    main()
