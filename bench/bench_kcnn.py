"""KCNN speed on this machine (Zhang et al. ICMR'15; mirjax.models.kcnn, mirjax.features.audio_words).

    python bench/bench_kcnn.py [--positions 107] [--batches 1,4,16] [--steps 20] [--seconds 30] [--rounds 3]

1. KCNN train step (SGD + Eq. 6's L2, jitted, `mirjax.studies.kcnn.train`) at the paper's sizes (w = 5,
   V = 500, k = 5, 300 hidden, 9 classes) on random word sequences: `positions` audio words per clip (107 =
   a 10-s clip at 22,050 Hz, hop 512, 4-frame segments; a 30-s GTZAN clip gives ≈ 323), three lookup tables of
   256 words (ALL) with 40 / 10 / 10 dims. Reported: clips per second per batch size, median over rounds, after
   compilation.
2. Audio-word encoding: frame features (one STFT → log-mel 40, SFM 12, SCF 12) of `seconds` of noise at
   22,050 Hz, then segmentation, whitening and nearest-centroid lookup against a 256-word codebook per type.
   Reported: seconds of audio per second (frame features) and segments per second (whiten + VQ, three types).
3. The `audio_words` front-end as train.py runs it (`mirjax.features.words`: audio → words in one jitted
   function, the first layer of the step): a batch of `--batches`' largest size of 10-s clips at 22,050 Hz.
   Reported: clips per second, median over rounds, after compilation.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import optax  # noqa: E402
from bench_frontend import cpu_name  # noqa: E402

from mirjax.features import audio_words as aw  # noqa: E402
from mirjax.frontend import make_frontend  # noqa: E402
from mirjax.studies.kcnn import train as ktrain  # noqa: E402

DIMS = (40, 10, 10)
WORDS = 256


def bench_train(positions: int, batch: int, steps: int, rounds: int) -> float:
    rng = np.random.default_rng(0)
    centroids = [rng.normal(size=(WORDS, d)).astype(np.float32) for d in DIMS]
    model, params = ktrain.build(9, centroids, {}, k=5, seed=0)
    tx = optax.sgd(0.02)
    opt = tx.init(params)

    @jax.jit
    def step(params, opt, w, y):
        g = jax.grad(ktrain.loss_fn)(params, model, w, y, 1e-4, False)
        u, opt = tx.update(g, opt, params)
        return optax.apply_updates(params, u), opt

    w = jnp.asarray(rng.integers(0, WORDS, (batch, positions, len(DIMS))), jnp.int32)
    y = jnp.asarray(rng.integers(0, 9, batch))
    params, opt = jax.block_until_ready(step(params, opt, w, y))  # compile
    speeds = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            params, opt = step(params, opt, w, y)
        jax.block_until_ready(params)
        speeds.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(speeds)


def _vocabulary(segs: dict, rng: np.random.Generator) -> aw.Vocabulary:
    """Codebooks of WORDS words fitted on 40 noisy copies of `segs` (a stand-in for training segments)."""
    train = {t: np.concatenate([s] * 40) + rng.normal(size=(40 * len(s), s.shape[1])).astype(np.float32) * 0.1
             for t, s in segs.items()}
    return aw.fit_vocabulary(train, aw.FEATURE_TYPES, WORDS, seed=0, num_iters=5)


def bench_encoding(seconds: float, rounds: int) -> tuple[float, float]:
    rng = np.random.default_rng(1)
    cfg = aw.FrameConfig()
    audio = (0.1 * rng.normal(size=int(seconds * cfg.sample_rate))).astype(np.float32)
    feats = aw.frame_features(audio, cfg)  # compile
    segs = {t: aw.segments(f, 4) for t, f in feats.items()}
    vocab = _vocabulary(segs, rng)
    vocab.encode(segs)  # compile
    t_feat, t_enc = [], []
    for _ in range(rounds):
        t0 = time.perf_counter()
        feats = aw.frame_features(audio, cfg)
        t_feat.append(seconds / (time.perf_counter() - t0))
        segs = {t: aw.segments(f, 4) for t, f in feats.items()}
        t0 = time.perf_counter()
        vocab.encode(segs)
        t_enc.append(len(segs["mel"]) / (time.perf_counter() - t0))
    return statistics.median(t_feat), statistics.median(t_enc)


def bench_frontend(batch: int, steps: int, rounds: int, tmp: str) -> float:
    rng = np.random.default_rng(2)
    cfg = aw.FrameConfig()
    audio = (0.1 * rng.normal(size=(batch, 10 * cfg.sample_rate))).astype(np.float32)
    segs = {t: aw.segments(f, 4) for t, f in aw.frame_features(audio[0], cfg).items()}
    path = os.path.join(tmp, "vocabulary.npz")
    aw.save_vocabulary(path, _vocabulary(segs, rng), cfg, 4)
    fn = jax.jit(make_frontend("audio_words", vocabulary=path))
    x = jnp.asarray(audio)
    jax.block_until_ready(fn(x))  # compile
    speeds = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            out = fn(x)
        jax.block_until_ready(out)
        speeds.append(steps * batch / (time.perf_counter() - t0))
    return statistics.median(speeds)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--positions", type=int, default=107)
    p.add_argument("--batches", default="1,4,16")
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--rounds", type=int, default=3)
    a = p.parse_args()
    print(f"# KCNN on {cpu_name()}, jax {jax.__version__}, {os.cpu_count()} CPUs visible")
    print(f"\n| train step (positions {a.positions}, ALL tables {DIMS}, V 500, k 5) | clips / s |\n|---|---|")
    for b in (int(v) for v in a.batches.split(",")):
        print(f"| batch {b} | {bench_train(a.positions, b, a.steps, a.rounds):.1f} |")
    audio_rate, seg_rate = bench_encoding(a.seconds, a.rounds)
    print("\n| audio-word encoding | rate |\n|---|---|")
    print(f"| frame features (log-mel + SFM + SCF, one STFT) | {audio_rate:.0f} s of audio / s |")
    print(f"| whiten + nearest of 256 words, 3 codebooks | {seg_rate:,.0f} segments / s "
          f"(≈ {seg_rate * 4 * 512 / 22050:.0f} s of audio / s at 4 frames per segment) |")
    batch = max(int(v) for v in a.batches.split(","))
    with tempfile.TemporaryDirectory() as tmp:
        rate = bench_frontend(batch, max(1, a.steps // 4), a.rounds, tmp)
    print(f"| `audio_words` front-end, jitted, batch {batch} of 10-s clips (audio → words) | {rate:.1f} clips / s "
          f"({rate * 10:.0f} s of audio / s) |")


if __name__ == "__main__":
    main()
