"""`emomusic`: "1000 songs for emotional analysis of music" (Soleymani et al. 2013, MediaEval 2013 Emotion in
Music), Choi's target task T4: static arousal and valence regression.

The release has 45-s excerpts `clips_45seconds/<song_id>.mp3` (44,100 Hz) and per-song static ratings on a
1–9 scale in `annotations/static_annotations.csv` (columns song_id, mean_arousal, std_arousal, mean_valence,
std_valence); the organisers removed redundant songs, leaving 744 rated songs. Each rated song gives one example:

  audio     the first `clip_seconds` (29 s, as Choi: "I trim and use the first 29-second from the 45-second
            signals") as mono int16 at the config's sample rate
  arousal   mean_arousal / label_divisor (9, as Choi's repository: values in (0, 1])
  valence   mean_valence / label_divisor
  id, group the song id

One split, `train`, with every rated song (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k`.
Songs without a rating are not built; rated songs whose mp3 is missing or unreadable are skipped and counted
in `info.metadata["skipped"]`. Build:

    mirjax data build emomusic --manual_dir DIR
"""

from __future__ import annotations

import csv
import dataclasses
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual, targets
from mirjax.errors import UserError

NAME = "emomusic"
ANNOTATIONS = os.path.join("annotations", "static_annotations.csv")
CLIPS_DIR = "clips_45seconds"
# Where the two may lie under the manual dir (archives unpack with or without a top folder).
ROOT_DIRS = ("emoMusic45s", "clips_45sec", "1000songs", "emoMusic")
COLUMNS = ("song_id", "mean_arousal", "mean_valence")
EXPECTED_SIZE = 744


@dataclasses.dataclass(eq=False)
class EmomusicConfig(targets.TargetConfig):
    """clip_seconds: the audio kept from the start of each excerpt. label_divisor: the static ratings (1–9
    scale) are divided by it."""
    clip_seconds: float = 29.0
    label_divisor: float = 9.0


MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download the "Emotion in Music Database (1000 songs)" from https://cvml.unige.ch/databases/emoMusic/ (the 45-s
clips and the annotations) and unpack them in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...)), so that it holds

  {ANNOTATIONS}     song_id,mean_arousal,std_arousal,mean_valence,std_valence
  {CLIPS_DIR}/<song_id>.mp3                 e.g. {CLIPS_DIR}/2.mp3

(both may also lie under one subfolder, e.g. emoMusic45s/, and static_annotations.csv directly next to
{CLIPS_DIR}/). Missing or unreadable clips are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


def find_files(root: str) -> tuple[str, str]:
    """(static_annotations.csv, clips_45seconds/) under `root`, or a one-line error naming what is missing."""
    def ann_in(d):
        for rel in (ANNOTATIONS, os.path.basename(ANNOTATIONS)):
            if os.path.isfile(os.path.join(d, rel)):
                return os.path.join(d, rel)
        return None

    def clips_in(d):
        for rel in (CLIPS_DIR, os.path.join("clips_45sec", CLIPS_DIR)):
            if os.path.isdir(os.path.join(d, rel)):
                return os.path.join(d, rel)
        return None

    ann_root = targets.find_root(root, lambda d: ann_in(d) is not None, ROOT_DIRS)
    ann = ann_in(ann_root) if ann_root else manual.require_file(os.path.join(root, ANNOTATIONS), NAME,
                                                                 "static annotations file")
    clips_root = targets.find_root(root, lambda d: clips_in(d) is not None, ROOT_DIRS)
    if clips_root is None:
        raise manual.ManualDataError(f"{NAME}: audio folder not found: expected {os.path.join(root, CLIPS_DIR)} "
                                     f"({manual.instructions_hint(NAME)})")
    return ann, clips_in(clips_root)


def read_static(path: str) -> list[tuple[str, float, float]]:
    """[(song_id, mean_arousal, mean_valence)] of static_annotations.csv; malformed files fail with one line."""
    def bad(msg):
        return manual.ManualDataError(f"{NAME}: {path}: {msg} ({manual.instructions_hint(NAME)})")

    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [r for r in csv.reader(f) if any(c.strip() for c in r)]
    if not rows:
        raise bad("empty file")
    header = [h.strip().lower() for h in rows[0]]
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise bad(f"expected columns {', '.join(COLUMNS)} in the header, missing {', '.join(missing)}")
    ix = [header.index(c) for c in COLUMNS]
    out = []
    for n, r in enumerate(rows[1:], 2):
        try:
            song, a, v = (r[i].strip() for i in ix)
            song = str(int(float(song)))  # "2" or "2.0" → "2", the clip's file name
            out.append((song, float(a), float(v)))
        except (IndexError, ValueError):
            raise bad(f"line {n}: expected numbers in {', '.join(COLUMNS)}, got {','.join(r)[:80]!r}") from None
    if len({s for s, _, _ in out}) != len(out):
        raise bad("a song_id is listed twice")
    return out


class Emomusic(manual.ManualBuilder):
    """emoMusic static arousal/valence from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = targets.rate_configs(EmomusicConfig, "The 744 rated songs, first 29 s, ratings / 9, one split")
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        scalar = "static mean rating (1–9 scale) / metadata['label_divisor']"
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=targets.features(
                cfg.sample_rate, f"mono int16, the first {cfg.clip_seconds:g} s of the 45-s excerpt", "the song id",
                "the song id", {"arousal": tfds.features.Scalar(np.float32, doc=f"arousal: {scalar}"),
                                "valence": tfds.features.Scalar(np.float32, doc=f"valence: {scalar}")}),
            supervised_keys=None,
            homepage="https://cvml.unige.ch/databases/emoMusic/",
            metadata=tfds.core.MetadataDict(
                targets=["arousal", "valence"], sample_rate=int(cfg.sample_rate), clip_seconds=float(cfg.clip_seconds),
                label_divisor=float(cfg.label_divisor), expected_size=EXPECTED_SIZE),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        if cfg.clip_seconds <= 0 or cfg.label_divisor <= 0:
            raise UserError(f"{NAME}: clip_seconds and label_divisor must be > 0, got {cfg.clip_seconds}, "
                            f"{cfg.label_divisor}")
        root = manual.manual_dir(dl_manager, NAME)
        ann, clips = find_files(root)
        rated = read_static(ann)
        entries = [{"id": s, "path": os.path.join(clips, f"{s}.mp3"), "arousal": a / cfg.label_divisor,
                    "valence": v / cfg.label_divisor} for s, a, v in rated]
        targets.check_entries(entries, NAME, clips, f"rated songs in {ann}")
        on_disk = {os.path.splitext(fn)[0] for fn in targets.audio_files(clips, (".mp3",))}
        self.info.metadata["unrated_clips"] = len(on_disk - {e["id"] for e in entries})
        self._skips = targets.FileSkipLog(NAME, root)
        return {targets.SPLIT: self._generate_examples(entries)}

    def _generate_examples(self, entries: Sequence[dict]):
        cfg = self.builder_config

        def examples_of(e, audio):
            return [(e["id"], {"audio": targets.first_samples(audio, cfg.clip_seconds, cfg.sample_rate),
                               "arousal": np.float32(e["arousal"]), "valence": np.float32(e["valence"]),
                               "id": e["id"], "group": e["id"]})]

        yield from targets.generate(entries, targets.decode_whole(entries, cfg.sample_rate, cfg.num_workers, NAME),
                                    self._skips, self.info.metadata, examples_of)
