"""`urbansound8k`: UrbanSound8K (Salamon, Jacoby & Bello 2014), Choi's target task T6 (audio events, not music).

8,732 excerpts of at most 4 s from Freesound recordings, 10 classes, pre-sorted into 10 folds:
`UrbanSound8K/metadata/UrbanSound8K.csv` (slice_file_name, fsID, start, end, salience, fold, classID, class)
and `UrbanSound8K/audio/fold<k>/<slice_file_name>` (WAV at the uploader's rate, depth and channels). Each
example: the whole excerpt as mono int16 at the config's sample rate, `label` (ClassLabel over CLASSES, indexed
by classID), `id` (the file name without `.wav`, e.g. `100032-3-0-0`), `group` (the Freesound recording,
fsID: slices of one recording share it) and `fold` (1–10, the official fold; use these folds, as Choi did, to
keep slices of one recording out of each other's test folds).

One split, `train`, with every excerpt (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k`.
Missing or unreadable files are skipped and counted in `info.metadata["skipped"]`. Build:

    mirjax data build urbansound8k --manual_dir DIR
"""

from __future__ import annotations

import csv
import os

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual, targets

NAME = "urbansound8k"
CLASSES = ("air_conditioner", "car_horn", "children_playing", "dog_bark", "drilling", "engine_idling", "gun_shot",
           "jackhammer", "siren", "street_music")  # by classID
RELEASE_DIR = "UrbanSound8K"
METADATA = os.path.join("metadata", "UrbanSound8K.csv")
COLUMNS = ("slice_file_name", "fsID", "fold", "classID", "class")
N_FOLDS = 10
EXPECTED_SIZE = 8732

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download UrbanSound8K.tar.gz (https://urbansounddataset.weebly.com/urbansound8k.html) and unpack it in the
manual directory (config.dataset.manual_dir, --manual_dir, or tfds.download.DownloadConfig(manual_dir=...)),
so that it holds

  {RELEASE_DIR}/{METADATA}
  {RELEASE_DIR}/audio/fold1/ … fold10/<fsID>-<classID>-<occurrence>-<slice>.wav

(or metadata/ and audio/ directly in the manual dir). Missing or unreadable excerpts are skipped and counted
(info.metadata["skipped"]). See {manual.DOCS}.
"""


def read_metadata(path: str, audio_root: str) -> list[dict]:
    """The entries of UrbanSound8K.csv; a malformed file fails with one line."""
    def bad(msg):
        return manual.ManualDataError(f"{NAME}: {path}: {msg} ({manual.instructions_hint(NAME)})")

    with open(path, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        header = [h.strip() for h in reader.fieldnames or []]
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise bad(f"expected columns {', '.join(COLUMNS)} in the header, missing {', '.join(missing)}")
        rows = [{k.strip(): (v or "").strip() for k, v in r.items() if k} for r in reader]
    entries = []
    for n, r in enumerate(rows, 2):
        try:
            fold, cid = int(r["fold"]), int(r["classID"])
        except ValueError:
            raise bad(f"line {n}: fold and classID must be integers, got {r['fold']!r}, {r['classID']!r}") from None
        if not 1 <= fold <= N_FOLDS or not 0 <= cid < len(CLASSES) or r["class"] != CLASSES[cid]:
            raise bad(f"line {n}: expected fold 1–{N_FOLDS} and classID/class one of "
                      f"{', '.join(f'{i}={c}' for i, c in enumerate(CLASSES))}; got fold {fold}, {cid}={r['class']}")
        fn = r["slice_file_name"]
        entries.append({"id": os.path.splitext(fn)[0], "group": r["fsID"], "label": cid, "fold": fold,
                        "path": os.path.join(audio_root, f"fold{fold}", fn)})
    if len({e["id"] for e in entries}) != len(entries):
        raise bad("a slice_file_name is listed twice")
    return entries


class Urbansound8k(targets.ClassTargetBuilder):
    """UrbanSound8K from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = targets.rate_configs(targets.TargetConfig, "All 8,732 excerpts with their folds, one train split")
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    CLASSES = CLASSES
    LABEL_DOC = "sound class, indexed by the release's classID"
    AUDIO_DOC = "mono int16, whole excerpt (at most 4 s)"
    ID_DOC = "slice file name without .wav"
    GROUP_DOC = "fsID, the Freesound recording the slice was cut from"
    HOMEPAGE = "https://urbansounddataset.weebly.com/urbansound8k.html"
    EXPECTED_SIZE = EXPECTED_SIZE
    METADATA = {"n_folds": N_FOLDS}

    def extra_features(self) -> dict:
        return {"fold": tfds.features.Scalar(np.int32, doc="the official fold, 1–10")}

    def list_entries(self, root: str) -> tuple[list[dict], str]:
        base = targets.find_root(root, lambda d: os.path.isfile(os.path.join(d, METADATA)), (RELEASE_DIR,))
        meta_path = manual.require_file(os.path.join(base or os.path.join(root, RELEASE_DIR), METADATA), NAME,
                                        "metadata file")
        audio_root = os.path.join(os.path.dirname(os.path.dirname(meta_path)), "audio")
        entries = read_metadata(meta_path, audio_root)
        self.WHAT = f"excerpts in {meta_path}"
        self.info.metadata["listed_fold_sizes"] = {str(k): sum(e["fold"] == k for e in entries)
                                                   for k in range(1, N_FOLDS + 1)}
        return entries, audio_root
