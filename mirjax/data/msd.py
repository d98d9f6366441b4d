"""`msd_lastfm50`: Million Song Dataset previews with Choi's top-50 Last.fm tags, as a TFDS builder over a
manual directory.

Choi's split (keunwoochoi/MSD_split_for_tagging, used in Choi et al. ISMIR 2016 / ICASSP 2017 and his
thesis): 201,680 / 12,634 / 28,540 tracks, labels `{train,valid,test}_y.npy` (N × 50, column order of the
repo's `tags.py`), track ids `*_x_msd_id.txt` and, line by line, their 7digital ids `*_x_7d_id.txt`.
Audio: the user's 7digital preview mp3s, looked up by 7digital id as
`previews/<id[0]>/<id[1]>/<id>.clip.mp3`. Each example: the whole preview as mono int16 at the config's
sample rate (variable length, typically 30 s; `mirjax.data.pipeline` crops/pads), the multi-hot `tags`
and the MSD `track_id`. Missing or unreadable previews are skipped (one warning line each, a summary
per split) and counted in `info.metadata["skipped"]`, so the splits may be smaller than listed.

Build:

    mirjax data build msd_lastfm50/default --manual_dir DIR [--data_dir DIR]
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual

log = logging.getLogger("mirjax")

NAME = "msd_lastfm50"
SPLITS = manual.SPLITS
SPLIT_DIR = "MSD_split_for_tagging"  # a clone of keunwoochoi/MSD_split_for_tagging
PREVIEW_DIR = "previews"
SPLIT_PREFIX = {"train": "train", "validation": "valid", "test": "test"}
EXPECTED_SIZES = {"train": 201_680, "validation": 12_634, "test": 28_540}

# keunwoochoi/MSD_split_for_tagging tags.py: the columns of {train,valid,test}_y.npy, by popularity.
TAG_NAMES = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul",
    "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies",
    "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop",
    "70s", "party", "country", "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal",
    "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy")

# Choi's thesis §3.1.3: "28 genres ('rock', 'pop', 'jazz', 'funk'), 5 eras ('60s' – '00s'), 5 instruments
# ('guitar', 'female vocalists'), and 12 moods ('sad', 'happy', 'chill')". The per-tag assignment is in
# figures only (Figs. 3.5, 4.3); the instrument tags are the four of Table 3-A plus 'female vocalist',
# and the genre/mood split below is the one that gives exactly 28 / 12.
CATEGORIES = ("genre", "mood", "instrument", "era")
_ERAS = ("60s", "70s", "80s", "90s", "00s")
_INSTRUMENTS = ("female vocalists", "male vocalists", "instrumental", "female vocalist", "guitar")
_MOODS = ("beautiful", "chillout", "Mellow", "chill", "oldies", "acoustic", "party", "easy listening",
          "sexy", "catchy", "sad", "happy")
TAG_CATEGORIES = {t: ("era" if t in _ERAS else "instrument" if t in _INSTRUMENTS else
                      "mood" if t in _MOODS else "genre") for t in TAG_NAMES}


def preview_relpath(seven_digital_id: str) -> str:
    """Where a 7digital preview lies under the previews folder: `<id[0]>/<id[1]>/<id>.clip.mp3`
    (the repo's `*_x_filename.txt` gives `3/6/36122424.npy` for the same ids)."""
    d = seven_digital_id
    return os.path.join(d[:1], d[1:2], f"{d}.clip.mp3")


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


@dataclasses.dataclass(eq=False)
class MsdConfig(tfds.core.BuilderConfig):
    """sample_rate: Hz of the stored audio. num_workers: decoding threads; 0 = one per core."""
    sample_rate: int = 12000
    num_workers: int = 0


CONFIGS = [
    MsdConfig(name="default", sample_rate=12000, description="Choi's setting: 12 kHz mono."),
    MsdConfig(name="16k", sample_rate=16000, description="16 kHz mono."),
]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put these in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...); default <data_dir>/downloads/manual):

  {SPLIT_DIR}/     `git clone https://github.com/keunwoochoi/MSD_split_for_tagging`; read are
                   {{train,valid,test}}_x_msd_id.txt, {{train,valid,test}}_x_7d_id.txt (line-aligned)
                   and {{train,valid,test}}_y.npy (N x 50, the tags.py order)
  {PREVIEW_DIR}/         the MSD 7digital preview mp3s as <id[0]>/<id[1]>/<7digital id>.clip.mp3,
                   e.g. {PREVIEW_DIR}/3/6/3612242.clip.mp3 (may be a symlink to where they are)

The audio is not public: the previews were fetched from 7digital by MSD users; we cannot download
them. Missing or unreadable previews are skipped and counted (info.metadata["skipped"]), so the
splits may be smaller than 201,680 / 12,634 / 28,540. See {manual.DOCS}.
"""


class MsdLastfm50(manual.ManualBuilder):
    """MSD previews with Choi's top-50 Last.fm tags and split (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=manual.tagging_features(cfg.sample_rate, len(TAG_NAMES), "track_id", "MSD track id (TR…)",
                                             "mono int16, whole preview (about 30 s)"),
            supervised_keys=("audio", "tags"),
            homepage="https://github.com/keunwoochoi/MSD_split_for_tagging",
            metadata=tfds.core.MetadataDict(
                tag_names=list(TAG_NAMES), tag_categories=dict(TAG_CATEGORIES),
                categories=list(CATEGORIES), sample_rate=int(cfg.sample_rate),
                expected_sizes=dict(EXPECTED_SIZES)),
        )

    def _split_generators(self, dl_manager):
        root = manual.manual_dir(dl_manager, NAME)
        split_dir = os.path.join(root, SPLIT_DIR)
        audio_root = os.path.join(root, PREVIEW_DIR)
        self._skips = manual.SkipLog(NAME, root)
        entries = {s: self._read_split(split_dir, audio_root, s) for s in SPLITS}
        for s in SPLITS:
            manual.require_some_audio(s, entries[s], NAME, audio_root, entries[s][0]["path"])
        return {s: self._generate_examples(s, entries[s]) for s in SPLITS}

    def _read_split(self, split_dir: str, audio_root: str, split: str) -> list[dict]:
        prefix = SPLIT_PREFIX[split]

        def need(fname, what):
            return manual.require_file(os.path.join(split_dir, fname), NAME, what)

        ids_path = need(f"{prefix}_x_msd_id.txt", f"{split} MSD track id list {prefix}_x_msd_id.txt")
        d7_path = need(f"{prefix}_x_7d_id.txt", f"{split} 7digital id list {prefix}_x_7d_id.txt")
        y_path = need(f"{prefix}_y.npy", f"{split} label file {prefix}_y.npy")
        ids, d7 = read_lines(ids_path), read_lines(d7_path)
        y = np.asarray(manual.load_npy(y_path, NAME))
        if len(ids) != len(d7) or y.ndim != 2 or y.shape != (len(ids), len(TAG_NAMES)):
            raise manual.ManualDataError(
                f"{NAME}: {split} files disagree: {len(ids)} track ids, {len(d7)} 7digital ids, labels of "
                f"shape {y.shape} (expected ({len(ids)}, {len(TAG_NAMES)}))")
        if y.dtype != np.bool_ and not np.all((y == 0) | (y == 1)):
            raise manual.ManualDataError(f"{NAME}: {y_path}: labels must be boolean or 0/1")
        if not ids:
            raise manual.ManualDataError(f"{NAME}: {ids_path} lists no tracks")
        y = y.astype(bool).astype(np.uint8)
        return [{"track_id": t, "path": os.path.join(audio_root, preview_relpath(d)), "tags": y[i]}
                for i, (t, d) in enumerate(zip(ids, d7))]

    def _generate_examples(self, split: str, entries: Sequence[dict]):
        cfg = self.builder_config
        yield from manual.generate(
            split, entries, self._skips.root, cfg.sample_rate, cfg.num_workers, self._skips,
            self.info.metadata, key="track_id",
            to_example=lambda e, audio: {"audio": audio, "tags": e["tags"], "track_id": e["track_id"]})
