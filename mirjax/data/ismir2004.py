"""`ismir2004_genre`: the ISMIR 2004 genre classification contest collection (Magnatune tracks), as used by
Zhang et al. (ICMR'15, §4.1): 6 unbalanced genres, a predefined `training` part and a `development` part that the
paper uses as its test set (729 + 729 tracks; per split classical 320, electronic 115, jazz_blues 26,
metal_punk 45, rock_pop 101, world 122).

Layout read (the contest archives unpack to `ismir04_genre/audio/<part>/<genre>/<artist>/<album>/<track>.mp3`;
genre and artist come from the folders, so the `metadata/*/tracklist.csv` files are not needed):

    <manual dir>[/ismir04_genre]/audio/training/<genre>/<artist>/…/*.mp3   → split `train`
    <manual dir>[/ismir04_genre]/audio/development/<genre>/<artist>/…/*.mp3 → split `test`

(the `evaluation` part, released after the contest, is not read: the paper does not use it). Each example: the
track as mono int16 at the config's rate (whole, or the middle 30 s with the `30s` config), `label` (ClassLabel
over GENRES), `id` (the path below the genre folder), `group` (the artist folder: tracks of one artist stay in one
fold if a study cross-validates). Genre folders are matched case-insensitively. Missing or unreadable files are
skipped, one warning line each, and counted in `info.metadata["skipped"]`. Build:

    mirjax data build ismir2004_genre --manual_dir DIR
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual, targets

NAME = "ismir2004_genre"
GENRES = ("classical", "electronic", "jazz_blues", "metal_punk", "rock_pop", "world")
PARTS = {"train": "training", "test": "development"}  # split → the release's folder
RELEASE_DIR = "ismir04_genre"
AUDIO_EXTS = (".mp3", ".wav")
SAMPLE_RATE = 22050  # the paper's rate

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Get the ISMIR 2004 genre contest collection (http://ismir2004.ismir.net/genre_contest/; the training and
development archives) and unpack it in the manual directory so that it holds

  {RELEASE_DIR}/audio/training/<genre>/<artist>/<album>/<track>.mp3
  {RELEASE_DIR}/audio/development/<genre>/<artist>/<album>/<track>.mp3

with genre folders {', '.join(GENRES)} (the `audio` folder may also lie directly in the manual dir). Missing or
unreadable files are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


@dataclasses.dataclass(eq=False)
class Ismir2004Config(tfds.core.BuilderConfig):
    """sample_rate: Hz. seconds: keep the middle `seconds` of each track (0 = whole track). num_workers:
    decoding threads (0 = one per core)."""
    sample_rate: int = SAMPLE_RATE
    seconds: float = 0.0
    num_workers: int = 0


def genre_folders(folder: str) -> dict:
    """{genre: path} of the genre folders directly in `folder`, matched case-insensitively."""
    try:
        names = {e.name.lower(): e.path for e in os.scandir(folder) if e.is_dir()}
    except OSError:
        return {}
    return {g: names[g] for g in GENRES if g in names}


def scan(part_root: str) -> list[dict]:
    """Every audio file under `<part_root>/<genre>/…`, sorted by (genre order, relative path)."""
    entries = []
    for genre, folder in genre_folders(part_root).items():
        found = []
        for dirpath, dirnames, filenames in os.walk(folder):
            dirnames.sort()
            found += [os.path.join(dirpath, f) for f in filenames
                      if not f.startswith(".") and os.path.splitext(f)[1].lower() in AUDIO_EXTS]
        for path in sorted(found):
            rel = os.path.relpath(path, folder)
            parts = rel.split(os.sep)
            entries.append({"id": f"{genre}/{rel}", "label": genre, "path": path,
                            "group": parts[0] if len(parts) > 1 else os.path.splitext(parts[0])[0]})
    return entries


def _audio_root(root: str) -> str | None:
    has_parts = lambda d: os.path.isdir(os.path.join(d, "audio", PARTS["train"]))  # noqa: E731
    found = targets.find_root(root, has_parts, (RELEASE_DIR,))
    return os.path.join(found, "audio") if found else None


def middle(audio: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """The middle `seconds` of `audio` (all of it when shorter or when seconds is 0)."""
    n = int(round(seconds * sample_rate))
    if not n or len(audio) <= n:
        return audio
    start = (len(audio) - n) // 2
    return audio[start:start + n]


class Ismir2004Genre(manual.ManualBuilder):
    """ISMIR 2004 genre contest collection from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = [
        Ismir2004Config(name="default", description="Whole tracks, 22,050 Hz (the paper's rate)."),
        Ismir2004Config(name="30s", seconds=30.0, description="The middle 30 s of each track, 22,050 Hz."),
    ]
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=targets.features(
                cfg.sample_rate, "mono int16, whole track or its middle `seconds`",
                "<genre>/<artist>/<album>/<file>", "the artist folder",
                {"label": targets.class_label(GENRES, "genre, from the folder")}),
            supervised_keys=("audio", "label"),
            homepage="http://ismir2004.ismir.net/genre_contest/",
            metadata=tfds.core.MetadataDict(classes=list(GENRES), sample_rate=int(cfg.sample_rate),
                                            parts=dict(PARTS)),
        )

    def _split_generators(self, dl_manager):
        root = manual.manual_dir(dl_manager, NAME)
        audio_root = _audio_root(root)
        if audio_root is None:
            raise manual.ManualDataError(
                f"{NAME}: no audio/{PARTS['train']} folder under {root} or {os.path.join(root, RELEASE_DIR)} "
                f"({manual.instructions_hint(NAME)})")
        self._skips = manual.SkipLog(NAME, root)
        out = {}
        for split, part in PARTS.items():
            entries = scan(os.path.join(audio_root, part))
            if not entries:
                raise manual.ManualDataError(f"{NAME}: no audio files in genre folders under "
                                             f"{os.path.join(audio_root, part)} ({manual.instructions_hint(NAME)})")
            manual.require_some_audio(split, entries, NAME, audio_root, entries[0]["path"])
            out[split] = self._generate_examples(split, entries)
        return out

    def _generate_examples(self, split: str, entries: Sequence[dict]):
        cfg = self.builder_config
        yield from manual.generate(
            split, entries, self._skips.root, cfg.sample_rate, cfg.num_workers, self._skips, self.info.metadata,
            "id", lambda e, audio: {"audio": middle(audio, cfg.seconds, cfg.sample_rate), "label": e["label"],
                                    "id": e["id"], "group": e["group"]})
