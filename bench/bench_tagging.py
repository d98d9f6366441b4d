"""Tagging throughput: mirjax's pretrained musicnn (JAX) vs musicnn's own TensorFlow code, same files, same model.

    .venv/bin/pip install --no-deps --target /tmp/tfk tf-keras==2.21.0      # once: the legacy Keras 2 musicnn needs
    .venv/bin/python bench/bench_tagging.py [--files 60] [--seconds 30] [--rounds 4] [--batch 32] [--tf_keras /tmp/tfk]

Writes `--files` seeded synthetic clips (tones with harmonics, noise bursts, white noise; 16-bit mono wav at
`--rate` Hz) into a temporary folder outside the repository and tags every file, end to end from the wav file
(decode, resample to 16 kHz, log-mel, 3-s patches, MTT_musicnn), with

* mirjax: `Tagger.from_pretrained("musicnn-mtt").tag(files)` (streamed windows, jitted batches of `--batch`);
  the first call (compilation) is timed on its own and not counted;
* musicnn: `musicnn.extractor.extractor(file, model="MTT_musicnn", extract_features=False)`, its own API
  (`top_tags` calls it), once per file: it builds the TF graph and restores the checkpoint each time;
* musicnn, one session: musicnn's `define_model` graph built and restored once, then per file musicnn's
  `batch_data` and `sess.run` in its `BATCH_SIZE` chunks, as `extractor` does (musicnn's best case).

The files are split into `--rounds` groups; each round runs the three on the same group, in a rotating order, so
that load from elsewhere on the machine falls on all of them. Throughput is seconds of audio per second of wall time.

Two things are set up inside this script only (musicnn's package is not modified): the legacy Keras 2 (`tf_keras`,
put on `sys.path` from `--tf_keras`, with `TF_USE_LEGACY_KERAS=1`) that gives TF 2.21 back the
`tf.compat.v1.layers` musicnn's graph calls, and NumPy ≥ 2's float16 overflow in `batch_data`
(`10000 * float16_array` stays float16 and overflows): `musicnn.extractor.batch_data` is replaced by a
function that computes the same log-mel with the float16 rounding kept and the compression in float32 (librosa's
default padding, as musicnn calls it).

With `--memory` (default on) it then measures the peak RSS (`/usr/bin/time`) of `python -m mirjax tag --pretrained
musicnn-mtt` on one 30-s file and on one `--long_seconds` (one hour) file, each in a fresh process.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
import warnings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def _early_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", type=int, default=60, help="number of clips")
    ap.add_argument("--seconds", type=float, default=30.0, help="length of each clip")
    ap.add_argument("--rate", type=int, default=44100, help="sample rate of the wav files")
    ap.add_argument("--rounds", type=int, default=4, help="alternating rounds (the files are split among them)")
    ap.add_argument("--batch", type=int, default=32, help="mirjax windows per jitted step")
    ap.add_argument("--tf_keras", default="/tmp/tfk", help="folder where tf-keras==2.21.0 is installed (--target)")
    ap.add_argument("--no_warm_musicnn", action="store_true", help="skip musicnn with one reused session")
    ap.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                    help="also measure mirjax tag's peak RSS on a 30-s and a long file")
    ap.add_argument("--long_seconds", type=float, default=3600.0, help="length of the long file (memory)")
    ap.add_argument("--tmp", default=None, help="folder for the generated audio (default: a new temporary one)")
    return ap.parse_args()


ARGS = _early_args() if __name__ == "__main__" else None
if ARGS is not None:  # the tf-keras shim: must precede the first TensorFlow import (mirjax imports TF too)
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if os.path.isdir(ARGS.tf_keras):
        sys.path.append(ARGS.tf_keras)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*is deprecated", category=UserWarning)
sys.path.insert(0, ROOT)  # run from a checkout

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from bench_frontend import cpu_name  # noqa: E402  (bench/ is on sys.path when a bench script runs)

SR = 16000
CHUNK = 1 << 20  # samples generated and written at a time (the one-hour file never sits in memory)


def synth_clip(path: str, seconds: float, rate: int, seed: int) -> None:
    """A seeded mixture of amplitude-modulated tones with harmonics, decaying noise bursts and white noise, written
    as 16-bit mono wav in chunks."""
    rng = np.random.default_rng(seed)
    n = int(round(seconds * rate))
    f0 = rng.uniform(60.0, 1500.0, 6)
    am = rng.uniform(0.1, 3.0, 6)
    phase = rng.uniform(0.0, 2 * np.pi, (6, 4))
    amp = rng.uniform(0.02, 0.08, 6)
    bursts = np.sort(rng.integers(0, max(n - rate // 4, 1), size=max(1, int(seconds * 2))))
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        for a in range(0, n, CHUNK):
            t = np.arange(a, min(a + CHUNK, n)) / rate
            x = 0.005 * rng.standard_normal(t.size)
            for k in range(6):
                env = 0.5 + 0.5 * np.sin(2 * np.pi * am[k] * t + phase[k, 0])
                for h, g in ((1, 1.0), (2, 0.5), (3, 0.25)):
                    x += amp[k] * g * env * np.sin(2 * np.pi * h * f0[k] * t + phase[k, h])
            for b in bursts[(bursts >= a - rate // 4) & (bursts < a + t.size)]:
                i0, i1 = max(b, a), min(b + rate // 4, a + t.size)
                if i1 > i0:
                    idx = np.arange(i0, i1)
                    x[idx - a] += 0.2 * rng.standard_normal(idx.size) * np.exp(-(idx - b) / (0.03 * rate))
            f.write(np.clip(x, -1.0, 1.0).astype(np.float32))


def synth_long(path: str, seconds: float, rate: int, seed: int, segment: float = 60.0) -> None:
    """A long file: one `segment`-s synthetic clip repeated (cheap to make; the tagger streams it all the same)."""
    seg_path = path + ".segment.wav"
    synth_clip(seg_path, min(segment, seconds), rate, seed)
    seg, _ = sf.read(seg_path, dtype="float32")
    os.remove(seg_path)
    n = int(round(seconds * rate))
    with sf.SoundFile(path, "w", samplerate=rate, channels=1, subtype="PCM_16") as f:
        for a in range(0, n, seg.size):
            f.write(seg[:n - a])


def musicnn_fixed_batch_data(audio_file: str, n_frames: int, overlap: int):
    """musicnn's `batch_data` log-mel and patches, with the compression done in float32 (NumPy ≥ 2 fix)."""
    import librosa
    from musicnn import configuration as config

    audio, sr = librosa.load(audio_file, sr=config.SR)
    rep = librosa.feature.melspectrogram(y=audio, sr=sr, hop_length=config.FFT_HOP, n_fft=config.FFT_SIZE,
                                         n_mels=config.N_MELS).T
    rep = rep.astype(np.float16).astype(np.float32)
    rep = np.log10(np.float32(10000) * rep + np.float32(1))
    starts = range(0, rep.shape[0] - n_frames + 1, overlap)
    return np.stack([rep[s:s + n_frames] for s in starts]), rep


class WarmMusicnn:
    """musicnn's MTT_musicnn graph, built and restored once; per file its `batch_data` and batched `sess.run`."""

    def __init__(self, model: str = "MTT_musicnn"):
        import librosa
        import musicnn
        import tensorflow as tf
        from musicnn import configuration as config, models

        self.config = config
        self.n_frames = librosa.time_to_frames(3, sr=config.SR, n_fft=config.FFT_SIZE, hop_length=config.FFT_HOP) + 1
        self.graph = tf.Graph()
        with self.graph.as_default(), tf.name_scope("model"):
            self.x = tf.compat.v1.placeholder(tf.float32, [None, self.n_frames, config.N_MELS])
            self.is_training = tf.compat.v1.placeholder(tf.bool)
            self.y = tf.nn.sigmoid(models.define_model(self.x, self.is_training, model, 50)[0])
            saver = tf.compat.v1.train.Saver()
        self.sess = tf.compat.v1.Session(graph=self.graph)
        saver.restore(self.sess, os.path.join(os.path.dirname(musicnn.__file__), model) + "/")

    def __call__(self, path: str) -> np.ndarray:
        import musicnn.extractor

        batch, _ = musicnn.extractor.batch_data(path, self.n_frames, self.n_frames)
        bs = self.config.BATCH_SIZE
        return np.concatenate([self.sess.run(self.y, {self.x: batch[i:i + bs], self.is_training: False})
                               for i in range(0, len(batch), bs)])


def peak_rss_mb(cmd: list[str]) -> tuple[float, float]:
    """(peak RSS in MB, wall seconds) of `cmd` in a fresh process, by GNU time."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as out:
        subprocess.run(["/usr/bin/time", "-f", "%M %e", "-o", out.name, *cmd], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        kb, wall = out.read().split()[-2:]
    return int(kb) / 1024, float(wall)


def main() -> None:
    args = ARGS
    import jax

    from mirjax.inference import Tagger, model as model_lib

    load0 = os.getloadavg()[0]
    tmp_ctx = tempfile.TemporaryDirectory(prefix="bench_tagging_") if args.tmp is None else None
    tmp = args.tmp or tmp_ctx.name
    os.makedirs(tmp, exist_ok=True)
    try:
        paths = [os.path.join(tmp, f"clip_{i:03d}.wav") for i in range(args.files)]
        t0 = time.perf_counter()
        for i, p in enumerate(paths):
            if not os.path.exists(p):
                synth_clip(p, args.seconds, args.rate, seed=1000 + i)
        print(f"# {args.files} clips x {args.seconds:g} s written to {tmp} in {time.perf_counter() - t0:.1f} s",
              flush=True)

        t0 = time.perf_counter()
        tagger = Tagger.from_pretrained("musicnn-mtt", batch_size=args.batch)
        t_load = time.perf_counter() - t0
        t0 = time.perf_counter()
        tagger.tag([paths[0]], progress=False)
        t_first = time.perf_counter() - t0
        # `Tagger.tag` builds a new WindowRunner (a new jitted step) per call: time its compilation on its own
        runner = model_lib.WindowRunner(tagger.loaded, args.batch)
        zeros = np.zeros((runner.batch_size, tagger.loaded.window_samples), np.float32)
        t0 = time.perf_counter()
        runner(zeros)
        t_compile = time.perf_counter() - t0
        t0 = time.perf_counter()
        runner(zeros)
        t_step = time.perf_counter() - t0
        t_compile -= t_step

        import musicnn
        import musicnn.extractor

        musicnn.extractor.batch_data = musicnn_fixed_batch_data  # the NumPy-2 fix, in this process only
        warm = None if args.no_warm_musicnn else WarmMusicnn()

        def run_mirjax(group):
            return {f.path: f.taggram for f in tagger.tag(group, progress=False).files}

        def run_musicnn(group):
            out = {}
            for p in group:
                with contextlib.redirect_stdout(io.StringIO()):
                    out[p] = musicnn.extractor.extractor(p, model="MTT_musicnn", extract_features=False)[0]
            return out

        def run_warm(group):
            return {p: warm(p) for p in group}

        runners = {"mirjax": run_mirjax, "musicnn extractor": run_musicnn}
        if warm is not None:
            runners["musicnn, one session"] = run_warm
        names = list(runners)
        totals = dict.fromkeys(names, 0.0)
        per_round: dict[str, list[float]] = {k: [] for k in names}
        taggrams: dict[str, dict[str, np.ndarray]] = {k: {} for k in names}
        groups = [list(g) for g in np.array_split(np.array(paths), args.rounds) if len(g)]
        for r, group in enumerate(groups):
            order = names[r % len(names):] + names[:r % len(names)]
            for name in order:
                t0 = time.perf_counter()
                taggrams[name].update(runners[name](group))
                dt = time.perf_counter() - t0
                totals[name] += dt
                per_round[name].append(len(group) * args.seconds / dt)
            print(f"# round {r + 1}/{len(groups)}: " + ", ".join(
                f"{k} {per_round[k][-1]:.1f} s/s" for k in names) + f"; load {os.getloadavg()[0]:.2f}", flush=True)
        load1 = os.getloadavg()[0]

        audio_s = args.files * args.seconds
        diffs = [float(np.abs(taggrams["mirjax"][p] - taggrams["musicnn extractor"][p]).max()) for p in paths
                 if taggrams["mirjax"][p].shape == taggrams["musicnn extractor"][p].shape]
        dev = jax.devices()[0]
        device = f"{cpu_name()} ({os.cpu_count()} cores)" if dev.platform == "cpu" else dev.device_kind
        import librosa
        import tensorflow as tf

        print(f"\ndevice: {device}; jax {jax.__version__}, tensorflow {tf.__version__}, librosa {librosa.__version__}, "
              f"musicnn {getattr(musicnn, '__version__', '0.1.0')}; {args.files} files x {args.seconds:g} s "
              f"({audio_s / 60:.0f} min, {args.rate} Hz 16-bit mono wav), MTT_musicnn, mirjax batch {args.batch}, "
              f"{len(groups)} alternating rounds; load average before/after {load0:.2f}/{load1:.2f}")
        print(f"mirjax: model load {t_load:.1f} s (not counted); first `tag` call, one file: {t_first:.1f} s (not "
              f"counted); compiling the jitted step: {t_compile:.1f} s, then {t_step:.2f} s per batch of "
              f"{runner.batch_size} windows ({runner.batch_size * tagger.loaded.window_samples / SR / t_step:.0f} "
              f"audio s/s); each `tag` call compiles its step again, so each round below includes one compilation")
        print(f"max |taggram difference| mirjax vs musicnn extractor over {len(diffs)} files: "
              f"{max(diffs) if diffs else float('nan'):.3f} (per-window vs whole-file spectrograms, and librosa's "
              f"zero padding in musicnn; see docs/results.md)\n")
        print("| implementation | wall time (s) | audio s / wall s | range over rounds | mirjax speed-up |")
        print("|---|---|---|---|---|")
        for name in names:
            rate = audio_s / totals[name]
            print(f"| {name} | {totals[name]:.1f} | {rate:.1f} | {min(per_round[name]):.1f}–"
                  f"{max(per_round[name]):.1f} | {totals[name] / totals['mirjax']:.2f}x |")

        if args.memory:
            long_path = os.path.join(tmp, "long.wav")
            if not os.path.exists(long_path):
                synth_long(long_path, args.long_seconds, args.rate, seed=7)
            cmd = [sys.executable, "-m", "mirjax", "tag", "--pretrained", "musicnn-mtt", "--no_progress",
                   "--batch", str(args.batch)]
            print("\n| `mirjax tag --pretrained musicnn-mtt` on | peak RSS (MB) | wall time (s) |")
            print("|---|---|---|")
            for label, p in ((f"one {args.seconds:g}-s file", paths[0]),
                             (f"one {args.long_seconds / 60:g}-min file", long_path)):
                with tempfile.TemporaryDirectory(prefix="bench_tag_out_") as out:
                    mb, wall = peak_rss_mb([*cmd, "--out", out, p])
                print(f"| {label} | {mb:.0f} | {wall:.1f} |", flush=True)
    finally:
        if tmp_ctx is not None:
            tmp_ctx.cleanup()


if __name__ == "__main__":
    main()
