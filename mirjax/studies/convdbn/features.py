"""The scorebank analogue of the thesis's MSD data (Dieleman Ch. 2 §2.4): per-step 24-d beat features of every
clip, with the three single-label tasks, cached in `OUT/features_<config>.npz`.

Tasks: `composer` (artist analogue), `style` (genre analogue) and `tonic` (key analogue: the 12 tonics, the
scorebank key with its mode dropped).
"""

from __future__ import annotations

import logging
import os
import time

import numpy as np

from mirjax.data.beat_features import audio_beat_features

log = logging.getLogger("mirjax")

SPLITS = ("train", "validation", "test")
TASKS = ("composer", "style", "tonic")


def _labels(example: dict) -> dict:
    return {"composer": int(example["composer"]), "style": int(example["style"]), "tonic": int(example["key"]) % 12}


def task_names() -> dict:
    from mirjax.data import scorebank
    return {"composer": list(scorebank.COMPOSERS), "style": list(scorebank.STYLES),
            "tonic": [k.split()[0] for k in scorebank.KEYS[:12]]}


def extract(path: str, config: str = "default", subdivisions: int = 4, max_train: int = 0,
            data_dir: str | None = None) -> str:
    """Computes (or reuses) `path`: for each split, `<split>_x` (steps_total, 24) float32, `<split>_offsets`
    (clips + 1,) and `<split>_<task>` (clips,) int labels. A clip whose features fail is reported and skipped.
    `max_train` > 0 keeps that many training clips (the first in the dataset's order)."""
    if os.path.exists(path):
        return path
    import tensorflow_datasets as tfds

    import mirjax.data  # noqa: F401 - registers scorebank
    from mirjax.data import default_data_dir

    builder = tfds.builder(f"scorebank/{config}", data_dir=data_dir or default_data_dir())
    rate = int(builder.info.metadata["sample_rate"])
    out: dict = {}
    for split in SPLITS:
        ds = builder.as_dataset(split=split, shuffle_files=False)
        if split == "train" and max_train:
            ds = ds.take(max_train)
        feats, labels, t0 = [], {t: [] for t in TASKS}, time.time()
        for ex in tfds.as_numpy(ds):
            try:
                f = audio_beat_features(ex["audio"].astype(np.float32) / 32768.0, rate, subdivisions=subdivisions)
            except Exception as exc:  # noqa: BLE001 - one bad clip never stops the study
                log.warning("convdbn: skipped %s: %s: %s", ex["work_id"].decode(), type(exc).__name__, exc)
                continue
            feats.append(f)
            for t, v in _labels(ex).items():
                labels[t].append(v)
        log.info("convdbn: %s: %d clips in %.0f s", split, len(feats), time.time() - t0)
        out[f"{split}_x"] = np.concatenate(feats).astype(np.float32)
        out[f"{split}_offsets"] = np.concatenate([[0], np.cumsum([len(f) for f in feats])]).astype(np.int64)
        for t in TASKS:
            out[f"{split}_{t}"] = np.asarray(labels[t], np.int32)
    tmp = path + ".tmp.npz"
    np.savez_compressed(tmp, subdivisions=subdivisions, **out)
    os.replace(tmp, path)
    return path


def load(path: str) -> dict:
    """{split: {"tracks": [(steps, 24) arrays], task: labels}}."""
    z = np.load(path)
    data = {}
    for split in SPLITS:
        x, off = z[f"{split}_x"], z[f"{split}_offsets"]
        data[split] = {"tracks": [x[a:b] for a, b in zip(off[:-1], off[1:])]}
        data[split].update({t: z[f"{split}_{t}"] for t in TASKS})
    return data
