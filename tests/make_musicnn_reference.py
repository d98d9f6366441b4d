"""Make ``tests/data/musicnn_reference.npz``: musicnn's own TensorFlow taggrams of a seeded synthetic clip.

Run once by hand. It needs musicnn and, because TF ≥ 2.16 ships Keras 3, which dropped the
``tf.compat.v1.layers`` that musicnn's graph code calls, the legacy Keras 2 (``tf-keras``, same version as TF),
here installed outside the venv::

    .venv/bin/pip install --no-deps musicnn==0.1.0
    .venv/bin/pip install --no-deps --target /tmp/tfk tf-keras==2.21.0
    PYTHONPATH=/tmp/tfk .venv/bin/python tests/make_musicnn_reference.py

It builds musicnn's graph with musicnn's own ``models.define_model`` under ``tensorflow.compat.v1`` (graph mode),
restores each packaged checkpoint and runs it on the log-mel patches of ``synthetic_audio()``, computed as
musicnn's ``extractor.batch_data`` does, with two fixes that are made here only (the package is not modified):

* the float16 overflow under NumPy ≥ 2: musicnn computes ``np.log10(10000 * x.astype(np.float16) + 1)``, which now
  stays float16 and overflows to inf; we keep the float16 rounding and do the compression in float32;
* ``pad_mode="reflect"`` for the centred frames, as the librosa of 2019 that made musicnn's training data did
  (librosa ≥ 0.10 pads with zeros).

The audio is not stored: ``tests/test_models_musicnn.py`` regenerates it with ``synthetic_audio(SEED)``.
Stored per model: ``<model>/taggram`` (sigmoid outputs per 3-s patch) and ``<model>/penultimate``.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np

SEED = 20190401
SECONDS = 6.5
SR = 16000
N_FRAMES = 187  # librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1
OUT = Path(__file__).parent / "data" / "musicnn_reference.npz"


def synthetic_audio(seed: int = SEED, seconds: float = SECONDS, sr: int = SR) -> np.ndarray:
    """A deterministic mixture of six amplitude-modulated tones (with three harmonics), a few decaying noise bursts
    and a little white noise; float32 in [-1, 1]."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(round(seconds * sr))) / sr
    x = np.zeros_like(t)
    for _ in range(6):
        f0 = rng.uniform(80.0, 1500.0)
        env = 0.5 + 0.5 * np.sin(2 * np.pi * rng.uniform(0.2, 3.0) * t + rng.uniform(0, 2 * np.pi))
        for h, gain in ((1, 1.0), (2, 0.5), (3, 0.25)):
            x += rng.uniform(0.02, 0.08) * gain * env * np.sin(2 * np.pi * h * f0 * t + rng.uniform(0, 2 * np.pi))
    for onset in rng.uniform(0.0, seconds - 0.3, size=8):
        i = int(onset * sr)
        n = int(0.2 * sr)
        x[i:i + n] += 0.2 * rng.standard_normal(n) * np.exp(-np.arange(n) / (0.03 * sr))
    x += 0.005 * rng.standard_normal(t.shape)
    return (x / max(1.0, np.abs(x).max())).astype(np.float32)


def musicnn_logmel_librosa(audio: np.ndarray) -> np.ndarray:
    """musicnn's ``batch_data`` log-mel ``(frames, 96)``, with the two fixes above."""
    import librosa

    mel = librosa.feature.melspectrogram(y=audio, sr=SR, hop_length=256, n_fft=512, n_mels=96, pad_mode="reflect").T
    mel = mel.astype(np.float16).astype(np.float32)
    return np.log10(np.float32(10000) * mel + np.float32(1)).astype(np.float32)


def musicnn_patches_numpy(logmel: np.ndarray, n_frames: int = N_FRAMES, hop: int = N_FRAMES) -> np.ndarray:
    """``batch_data``'s patching: starts 0, hop, … while a whole patch fits."""
    return np.stack([logmel[s:s + n_frames] for s in range(0, logmel.shape[0] - n_frames + 1, hop)])


def run_tf(model: str, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    os.environ["TF_USE_LEGACY_KERAS"] = "1"  # tf.compat.v1.layers from tf_keras (must precede the TF import)
    warnings.filterwarnings("ignore", message=".*is deprecated", category=UserWarning)
    import musicnn
    import tensorflow as tf
    from musicnn import configuration, models

    tf.compat.v1.disable_eager_execution()
    tf.compat.v1.reset_default_graph()
    labels = configuration.MTT_LABELS if model.startswith("MTT") else configuration.MSD_LABELS
    with tf.name_scope("model"):
        x = tf.compat.v1.placeholder(tf.float32, [None, N_FRAMES, 96])
        is_training = tf.compat.v1.placeholder(tf.bool)
        out = models.define_model(x, is_training, model, len(labels))
        y = tf.nn.sigmoid(out[0])
        penultimate = tf.compat.v1.layers.flatten(out[5]) if "vgg" in model else out[8]
    with tf.compat.v1.Session() as sess:
        tf.compat.v1.train.Saver().restore(sess, os.path.join(os.path.dirname(musicnn.__file__), model) + "/")
        return sess.run([y, penultimate], feed_dict={x: batch, is_training: False})


def main() -> None:
    batch = musicnn_patches_numpy(musicnn_logmel_librosa(synthetic_audio()))
    out = {"seed": np.int64(SEED), "seconds": np.float64(SECONDS)}
    for model in ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg"):
        taggram, penultimate = run_tf(model, batch)
        out[f"{model}/taggram"] = taggram.astype(np.float32)
        out[f"{model}/penultimate"] = penultimate.astype(np.float32)
        print(model, taggram.shape, "top tag per patch:", taggram.argmax(-1))
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(OUT, **out)
    print(f"wrote {OUT} ({OUT.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
