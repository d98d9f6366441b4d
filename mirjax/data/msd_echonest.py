"""`msd_echonest`: the Million Song Dataset's Echo Nest analysis as beat-aligned chroma + timbre (Dieleman thesis
Ch. 2 §2.2), a TFDS builder over a user's copy of the MSD track files.

Reads every `*.h5` track file under the manual directory's `data/` (the MSD's `data/A/B/C/TRABC….h5` tree, the
10,000-track subset's `MillionSongSubset/data/…`, or any folder of them) with h5py, in the layout of the MSD's
`hdf5_getters.py`: `/analysis/segments_start`, `segments_pitches` (chroma), `segments_timbre`, `beats_start`,
the `/analysis/songs` table (`track_id`, `key`, `key_confidence`, `mode`, `duration`), the `/metadata/songs`
table (`artist_name`, `artist_id`, `title`) and `/musicbrainz/artist_mbtags` (the genre tags the thesis drew its
20 genres from). Each example is one track:

    beats          (beats, 24) float32: mean chroma (12) ‖ mean timbre (12) of the segments of each beat
    key            ClassLabel C … B (Echo Nest estimate), key_confidence float32, mode 0/1
    artist, artist_id, title, track_id   text
    artist_mbtags  sequence of text

Tracks named in LabROSA's duplicate list (`msd_duplicates.txt` in the manual directory, optional) are dropped
except the first of each group, as the thesis did ("over 78,000 tracks removed"). Unreadable files, files missing a
field, and tracks without segments or beats are reported (one warning line each) and skipped; the counts are in
`info.metadata`. Everything lands in one `train` split: the thesis's task subsets and 80/10/10 splits are
chosen from the labels downstream.

    mirjax data build msd_echonest --manual_dir DIR
"""

from __future__ import annotations

import logging
import os

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual
from mirjax.data.beat_features import BEAT_DIMS, beat_average

log = logging.getLogger("mirjax")

NAME = "msd_echonest"
DATA_DIR = "data"
DUPLICATES = "msd_duplicates.txt"
KEY_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")  # Echo Nest key 0-11

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put these in the manual directory (--manual_dir, or DownloadConfig(manual_dir=...)):

  {DATA_DIR}/               the MSD track files, data/A/B/C/TRABC….h5 (the full dataset from
                       http://millionsongdataset.com or its 10,000-track subset; may be a symlink)
  {DUPLICATES}   optional: LabROSA's list of duplicate tracks
                       (http://millionsongdataset.com/sites/default/files/AdditionalFiles/msd_duplicates.txt)

Unreadable track files are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


def read_duplicates(path: str) -> set[str]:
    """Track ids to drop: every track of a `%…` group of LabROSA's list but the group's first."""
    drop: set[str] = set()
    first = True
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if line.startswith("%"):
                first = True
                continue
            if not first:
                drop.add(line.split()[0])
            first = False
    return drop


def _text(x) -> str:
    return manual.as_str(x)


def read_track(path: str) -> dict:
    """One MSD track file as a feature dict (raises on a missing field or a track without segments or beats)."""
    import h5py

    with h5py.File(path, "r") as h5:
        an, meta = h5["analysis"], h5["metadata"]
        song, info = an["songs"][0], meta["songs"][0]
        starts = np.asarray(an["segments_start"], np.float64)
        chroma = np.asarray(an["segments_pitches"], np.float32)
        timbre = np.asarray(an["segments_timbre"], np.float32)
        beats = np.asarray(an["beats_start"], np.float64)
        tags = [_text(t) for t in h5["musicbrainz"]["artist_mbtags"]] if "musicbrainz" in h5 else []
    if len(starts) == 0 or len(beats) == 0:
        raise ValueError(f"{len(starts)} segments, {len(beats)} beats")
    if chroma.shape != (len(starts), 12) or timbre.shape != (len(starts), 12):
        raise ValueError(f"segment features of shapes {chroma.shape}, {timbre.shape} for {len(starts)} segments")
    return {
        "beats": beat_average(starts, np.concatenate([chroma, timbre], axis=1), beats),
        "key": int(song["key"]), "key_confidence": np.float32(song["key_confidence"]), "mode": int(song["mode"]),
        "track_id": _text(song["track_id"]), "artist": _text(info["artist_name"]),
        "artist_id": _text(info["artist_id"]), "title": _text(info["title"]), "artist_mbtags": tags,
    }


def track_files(root: str) -> list[str]:
    """Every `*.h5` under `root`, sorted."""
    out = []
    for d, _, files in os.walk(root, followlinks=True):
        out.extend(os.path.join(d, f) for f in files if f.endswith(".h5"))
    return sorted(out)


class MsdEchonest(manual.ManualBuilder):
    """Beat-aligned Echo Nest chroma and timbre of the MSD tracks (see module docstring)."""

    name = NAME
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=tfds.features.FeaturesDict({
                "beats": tfds.features.Tensor(shape=(None, BEAT_DIMS), dtype=np.float32,
                                              doc="per beat: mean segment chroma (12) ‖ mean segment timbre (12)"),
                "key": tfds.features.ClassLabel(names=list(KEY_NAMES)),
                "key_confidence": tfds.features.Scalar(dtype=np.float32),
                "mode": tfds.features.Scalar(dtype=np.int32, doc="Echo Nest mode: 1 major, 0 minor"),
                "track_id": tfds.features.Text(), "artist": tfds.features.Text(),
                "artist_id": tfds.features.Text(), "title": tfds.features.Text(),
                "artist_mbtags": tfds.features.Sequence(tfds.features.Text()),
            }),
            homepage="http://millionsongdataset.com",
            metadata=tfds.core.MetadataDict(),
        )

    def _split_generators(self, dl_manager):
        root = manual.manual_dir(dl_manager, NAME)
        data_root = os.path.join(root, DATA_DIR)
        if not os.path.isdir(data_root):
            raise manual.ManualDataError(f"{NAME}: track folder not found: expected {data_root} "
                                         f"({manual.instructions_hint(NAME)})")
        files = track_files(data_root)
        if not files:
            raise manual.ManualDataError(f"{NAME}: no .h5 track files under {data_root} "
                                         f"({manual.instructions_hint(NAME)})")
        dup_path = os.path.join(root, DUPLICATES)
        drop = read_duplicates(dup_path) if os.path.isfile(dup_path) else set()
        if not drop:
            log.warning("%s: no %s in %s: duplicates are kept", NAME, DUPLICATES, root)
        self._skips = manual.SkipLog(NAME, root)
        return {"train": self._generate_examples(files, drop)}

    def _generate_examples(self, files, drop):
        skips, split = self._skips, "train"
        skips.start(split, len(files))
        duplicates = 0
        for path in files:
            if os.path.basename(path)[:-3] in drop:
                duplicates += 1
                continue
            try:
                example = read_track(path)
            except Exception as exc:  # noqa: BLE001 - one bad file never stops a build
                skips.skip(split, path, f"{type(exc).__name__}: {exc}")
                continue
            if example["track_id"] in drop:
                duplicates += 1
                continue
            skips.keep(split)
            yield example["track_id"], example
        if not skips.kept[split]:
            raise manual.ManualDataError(f"{NAME}: none of the {len(files):,} track files could be read "
                                         f"({manual.instructions_hint(NAME)})")
        skips.finish(split, self.info.metadata)
        self.info.metadata["duplicates_dropped"] = duplicates
