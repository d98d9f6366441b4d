"""musicnn's pretrained taggers in JAX vs musicnn's own TensorFlow code, on scorebank clips written to wav files.

    MIRJAX_DATA_DIR=/tmp/mnp/data .venv/bin/python -m mirjax data build scorebank/tiny      # once
    MIRJAX_DATA_DIR=/tmp/mnp/data .venv/bin/python bench/musicnn_parity.py [--clips 9] [--tf_keras /tmp/tfk]

Reads the first `--clips` examples of scorebank/`--config`'s test split with tensorflow_datasets, writes each clip
to a 16-bit wav file in a temporary folder, and for each of musicnn's four models compares

* TF: `musicnn.extractor.extractor(wav, model=M, extract_features=False)`: musicnn's own code (librosa log-mel
  of the whole file, cut into 3-s patches, its TF1 graph and checkpoint);
* JAX, whole file: mirjax's `musicnn_logmel` front-end on the whole clip, `mirjax.frontend.musicnn.patches`, then
  the Flax port with the weights read from the same checkpoint: the same patches as musicnn;
* JAX, per window: `Tagger.from_pretrained(...)` as `mirjax tag` runs it: every 3-s window has its own
  spectrogram (so a patch's first and last frame see the window's edge, not the neighbouring audio).

The whole-file comparison is made with `pad_mode="constant"` (what musicnn computes under librosa ≥ 0.10, which
pads the centred frames with zeros) and with mirjax's default `"reflect"` (the librosa of musicnn's training data);
the per-window taggram is compared with the reflect whole-file one, so only the patching differs.

Set up in this script only (musicnn is not modified): the legacy Keras 2 (`tf_keras` from `--tf_keras`,
`TF_USE_LEGACY_KERAS=1`) that musicnn's `tf.compat.v1.layers` calls need under TF 2.21, and the NumPy ≥ 2 float16
overflow in `batch_data` (`10000 * float16_array` stays float16): `musicnn.extractor.batch_data` is replaced by
one computing the same log-mel with the float16 rounding kept and the compression in float32.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import warnings

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
MODELS = {"MTT_musicnn": "musicnn-mtt", "MSD_musicnn": "musicnn-msd", "MTT_vgg": "vgg-mtt", "MSD_vgg": "vgg-msd"}


def _args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=9, help="test clips to compare (all if fewer)")
    ap.add_argument("--config", default="tiny", help="scorebank config (built into $MIRJAX_DATA_DIR)")
    ap.add_argument("--split", default="test")
    ap.add_argument("--tf_keras", default="/tmp/tfk", help="folder where tf-keras==2.21.0 is installed (--target)")
    return ap.parse_args()


ARGS = _args() if __name__ == "__main__" else None
if ARGS is not None:  # the tf-keras shim: must precede the first TensorFlow import
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    if os.path.isdir(ARGS.tf_keras):
        sys.path.append(ARGS.tf_keras)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    warnings.filterwarnings("ignore", message=".*is deprecated", category=UserWarning)
sys.path.insert(0, ROOT)  # run from a checkout

import numpy as np  # noqa: E402
import soundfile as sf  # noqa: E402
from bench_tagging import musicnn_fixed_batch_data  # noqa: E402  (bench/ is on sys.path when a bench script runs)


def write_clips(folder: str, n: int, config: str, split: str) -> list[str]:
    import tensorflow_datasets as tfds

    import mirjax.data  # noqa: F401  (registers scorebank with TFDS)

    builder = tfds.builder(f"scorebank/{config}")
    sr = int(builder.info.features["audio"].sample_rate)
    paths = []
    for i, ex in enumerate(tfds.as_numpy(builder.as_dataset(split=split))):
        if i == n:
            break
        path = os.path.join(folder, f"{split}_{i:02d}_{ex['work_id'].decode()[:40].replace('/', '_')}.wav")
        sf.write(path, np.asarray(ex["audio"], np.int16), sr, subtype="PCM_16")
        paths.append(path)
    return paths


def main() -> None:
    args = ARGS
    import jax
    import jax.numpy as jnp

    from mirjax.frontend import make_frontend
    from mirjax.frontend.musicnn import patches
    from mirjax.inference import Tagger
    from mirjax.models import musicnn_weights

    with tempfile.TemporaryDirectory(prefix="musicnn_parity_") as tmp:
        paths = write_clips(tmp, args.clips, args.config, args.split)
        audio = [sf.read(p, dtype="float32")[0] for p in paths]
        print(f"# {len(paths)} clips of scorebank/{args.config} {args.split} "
              f"({', '.join(f'{len(a) / 16000:g} s' for a in audio[:1])} each) in {tmp}", flush=True)

        frontends = {pad: jax.jit(make_frontend("musicnn_logmel", pad_mode=pad)) for pad in ("constant", "reflect")}
        ours: dict[tuple[str, str], list[np.ndarray]] = {}
        per_window: dict[str, list[np.ndarray]] = {}
        for model_name, pretrained in MODELS.items():
            model, variables, _ = musicnn_weights.load_variables(model_name)
            apply = jax.jit(lambda v, x, model=model: jax.nn.sigmoid(model.apply(v, x, train=False)))
            for pad, fe in frontends.items():
                ours[model_name, pad] = [np.asarray(apply(variables, patches(fe(jnp.asarray(a)[None]))[0]))
                                         for a in audio]
            tagger = Tagger.from_pretrained(pretrained)
            result = tagger.tag(paths, progress=False)
            per_window[model_name] = [f.taggram for f in sorted(result.files, key=lambda f: paths.index(f.path))]

        import musicnn
        import musicnn.extractor

        musicnn.extractor.batch_data = musicnn_fixed_batch_data  # the NumPy-2 fix, in this process only
        tf_out: dict[str, list[np.ndarray]] = {}
        for model_name in MODELS:
            tf_out[model_name] = []
            for p in paths:
                with contextlib.redirect_stdout(io.StringIO()):
                    tf_out[model_name].append(musicnn.extractor.extractor(p, model=model_name,
                                                                          extract_features=False)[0])

    def stats(a: list[np.ndarray], b: list[np.ndarray]) -> tuple[float, float, float]:
        if any(x.shape != y.shape for x, y in zip(a, b, strict=True)):
            raise SystemExit(f"taggram shapes differ: {[x.shape for x in a]} vs {[y.shape for y in b]}")
        d = np.concatenate([np.abs(x - y).ravel() for x, y in zip(a, b, strict=True)])
        top = np.mean([np.mean(x.argmax(-1) == y.argmax(-1)) for x, y in zip(a, b, strict=True)])
        return float(d.max()), float(d.mean()), float(top)

    n_patches = sum(len(t) for t in tf_out["MTT_musicnn"])
    print(f"# musicnn {getattr(musicnn, '__version__', '0.1.0')}, jax {jax.__version__}; {len(paths)} clips, "
          f"{n_patches} patches, 50 tags per model\n")
    print("| model | TF vs JAX whole-file, zero pad: max / mean abs | top-1 agree | TF vs JAX whole-file, reflect "
          "pad: max / mean abs | JAX per-window (`mirjax tag`) vs whole-file: max / mean abs | top-1 agree | "
          "same, file scores (mean over patches): max abs |")
    print("|---|---|---|---|---|---|---|")
    for m in MODELS:
        c, r, w = (stats(tf_out[m], ours[m, "constant"]), stats(tf_out[m], ours[m, "reflect"]),
                   stats(per_window[m], ours[m, "reflect"]))
        f = max(float(np.abs(x.mean(0) - y.mean(0)).max()) for x, y in zip(per_window[m], ours[m, "reflect"],
                                                                              strict=True))
        print(f"| {m} | {c[0]:.2e} / {c[1]:.2e} | {c[2]:.0%} | {r[0]:.2e} / {r[1]:.2e} | "
              f"{w[0]:.2e} / {w[1]:.2e} | {w[2]:.0%} | {f:.2e} |")


if __name__ == "__main__":
    main()
