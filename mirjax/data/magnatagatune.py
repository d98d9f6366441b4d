"""`magnatagatune`: MagnaTagATune (Law et al. 2009) top-50 tagging, as a TFDS builder over a manual directory.

25,863 clips of about 29 s from 16 folders (`0`…`9`, `a`…`f`), annotated with 188 tags in
`annotations_final.csv`. Each example: the whole clip as mono int16 at the config's sample rate
(variable length, about 29.1 s; `mirjax.data.pipeline` crops/pads), a multi-hot `tags` vector over the
top-50 tags (names in `info.metadata["tag_names"]`, our coarse grouping in `tag_categories`) and the
release's `clip_id`.

Split configurations:
  original, original_12k: the classic folder split (Dieleman & Schrauwen): folders 0–b train, c
      validation, d–f test; every annotated clip, including those with none of the top-50 tags.
  clean, clean_12k (default `clean`): Won et al.'s split (minzwon/sota-music-tagging-models
      `split/mtat/{train,valid,test}.npy`): the same folders, clips with at least one top-50 tag whose
      audio decodes, 15,247 / 1,529 / 4,332 clips; tag order from their `tags.npy` when present.

Missing or unreadable mp3s are skipped (one warning line each, a summary per split) and counted in
`info.metadata["skipped"]`. Build:

    mirjax data build magnatagatune/clean --manual_dir DIR [--data_dir DIR]
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import os
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual
from mirjax.errors import UserError

log = logging.getLogger("mirjax")

NAME = "magnatagatune"
SPLITS = manual.SPLITS
NUM_TAGS = 50
FOLDERS = tuple("0123456789abcdef")
ANNOTATIONS = "annotations_final.csv"
WON_DIR = os.path.join("split", "mtat")  # where the user copies Won et al.'s split files
WON_SPLIT_FILES = {"train": "train.npy", "validation": "valid.npy", "test": "test.npy"}

# Our coarse grouping of MagnaTagATune's top-50 tags (not from any paper). Keys are normalised names
# (lower case, no spaces) so that both the CSV's "no voice" and the camelCase "noVoice" of published
# tag lists match. Tempo, loudness and texture words ("slow", "loud", "beats", "solo") are "other".
CATEGORIES = ("genre", "instrument", "vocal", "mood", "other")
_CATEGORY_OF = {
    **{t: "genre" for t in (
        "classical", "techno", "electronic", "rock", "ambient", "indian", "opera", "pop", "classic",
        "newage", "dance", "country", "metal", "electro", "jazz", "hardrock", "baroque", "folk",
        "industrial", "orchestral", "medieval", "irish", "eastern", "oriental", "middleeastern")},
    **{t: "instrument" for t in (
        "guitar", "strings", "drums", "piano", "violin", "synth", "harpsichord", "flute", "sitar", "harp",
        "cello", "bass", "organ", "electronicguitar", "acousticguitar", "classicalguitar", "string",
        "percussion", "drum", "horns", "trumpet", "keyboard", "viola", "banjo", "clarinet", "lute")},
    **{t: "vocal" for t in (
        "vocal", "vocals", "female", "male", "singing", "novocals", "novocal", "novoice", "woman", "man",
        "malevocal", "femalevocal", "malevoice", "femalevoice", "choir", "voice", "choral", "singer",
        "femalesinger", "malesinger", "chant", "chanting", "talking", "spoken", "duet")},
    **{t: "mood" for t in ("soft", "weird", "calm", "dark", "happy", "sad", "mellow", "spacey",
                           "peaceful", "upbeat", "eerie", "heavy")},
}


def normalise_tag(name: str) -> str:
    return "".join(name.lower().split())


def tag_category(name: str) -> str:
    """Our coarse category of an MTT tag: genre / instrument / vocal / mood / other."""
    return _CATEGORY_OF.get(normalise_tag(name), "other")


def folder_split(mp3_path: str) -> str:
    """The classic split of a clip by its folder: 0–b train (parts 1–12), c validation, d–f test."""
    part = int(mp3_path.split("/")[0], 16)
    return "train" if part < 12 else "validation" if part == 12 else "test"


def top_tags(counts: Sequence[int], k: int = NUM_TAGS) -> np.ndarray:
    """Column indices of the `k` most frequent tags: by count, descending; ties by column order."""
    counts = np.asarray(counts, dtype=np.int64)
    order = np.lexsort((np.arange(len(counts)), -counts))  # last key is the primary one
    return order[:k]


@dataclasses.dataclass
class Annotations:
    """annotations_final.csv: `tag_names` (188 in the release), per data row the `clip_ids`,
    `mp3_paths` and a (rows, tags) uint8 `matrix`."""
    tag_names: list
    clip_ids: list
    mp3_paths: list
    matrix: np.ndarray


def read_annotations(path: str) -> Annotations:
    """Parses annotations_final.csv (tab-separated, every field double-quoted, header
    "clip_id", <tags…>, "mp3_path"; values "0"/"1"). Malformed files fail with one line."""
    def bad(msg):
        return manual.ManualDataError(f"{NAME}: {path}: {msg} ({manual.instructions_hint(NAME)})")

    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f, delimiter="\t", quotechar='"') if r]
    if not rows:
        raise bad("empty file")
    header = [h.strip() for h in rows[0]]
    if len(header) < 3 or header[0] != "clip_id" or header[-1] != "mp3_path":
        raise bad(f"expected a tab-separated header \"clip_id\" <tags…> \"mp3_path\", got "
                  f"{header[:2]}…{header[-1:]}")
    tag_names = header[1:-1]
    body = rows[1:]
    for i, r in enumerate(body):
        if len(r) != len(header):
            raise bad(f"data row {i} has {len(r)} fields, the header {len(header)}")
    try:
        matrix = np.array([[int(v) for v in r[1:-1]] for r in body], dtype=np.uint8).reshape(
            len(body), len(tag_names))
    except ValueError as exc:
        raise bad(f"tag values must be 0/1 ({exc})") from None
    if matrix.size and matrix.max() > 1:
        raise bad("tag values must be 0/1")
    return Annotations(tag_names=tag_names, clip_ids=[r[0].strip() for r in body],
                       mp3_paths=[r[-1].strip() for r in body], matrix=matrix)


def read_won_split(path: str) -> list[tuple[int, str]]:
    """A Won et al. split file: a 1-D array of "<row index>\\t<mp3 path>" strings, the row index
    counting annotations_final.csv's data rows from 0 (their `preprocessing/split.py`)."""
    arr = manual.load_npy(path, NAME)
    out = []
    for x in np.asarray(arr).reshape(-1):
        s = manual.as_str(x)
        ix, sep, fn = s.partition("\t")
        if not sep or not ix.strip().isdigit():
            raise manual.ManualDataError(f"{NAME}: {path}: entries must be \"<index>\\t<mp3 path>\", got "
                                         f"{s[:80]!r} ({manual.instructions_hint(NAME)})")
        out.append((int(ix), fn.strip()))
    return out


@dataclasses.dataclass(eq=False)
class MagnaTagATuneConfig(tfds.core.BuilderConfig):
    """split_scheme: "original" (folder split, all clips) or "clean" (Won et al.'s lists).
    sample_rate: Hz of the stored audio. num_workers: decoding threads; 0 = one per core."""
    split_scheme: str = "clean"
    sample_rate: int = 16000
    num_workers: int = 0


CONFIGS = [
    MagnaTagATuneConfig(name="clean", split_scheme="clean", sample_rate=16000,
                        description="Won et al.'s cleaned split (15,247 / 1,529 / 4,332), 16 kHz."),
    MagnaTagATuneConfig(name="original", split_scheme="original", sample_rate=16000,
                        description="Folder split 0–b / c / d–f, every clip, 16 kHz."),
    MagnaTagATuneConfig(name="clean_12k", split_scheme="clean", sample_rate=12000,
                        description="Won et al.'s cleaned split, 12 kHz (Choi's rate)."),
    MagnaTagATuneConfig(name="original_12k", split_scheme="original", sample_rate=12000,
                        description="Folder split 0–b / c / d–f, every clip, 12 kHz (Choi's rate)."),
]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Put these in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...); default <data_dir>/downloads/manual):

  {ANNOTATIONS}        https://mirg.city.ac.uk/datasets/magnatagatune/{ANNOTATIONS}
  clip_info_final.csv          same page (optional; not read)
  0/ 1/ … 9/ a/ … f/           the mp3s: download mp3.zip.001, mp3.zip.002, mp3.zip.003 from
                               https://mirg.city.ac.uk/datasets/magnatagatune/ and, inside the manual
                               directory, run `cat mp3.zip.* > mp3_all.zip && unzip mp3_all.zip`
                               (files like f/american_bach_soloists-…-30-59.mp3)

For the `clean` configs also copy, from https://github.com/minzwon/sota-music-tagging-models,
the files of its folder split/mtat/ into <manual_dir>/{WON_DIR}/:

  {WON_DIR}/train.npy, valid.npy, test.npy   (required)
  {WON_DIR}/tags.npy                         (optional: their top-50 tag order; else computed)
  {WON_DIR}/binary.npy                       (optional: their labels, used as a cross-check)

Missing or unreadable mp3s are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


class Magnatagatune(manual.ManualBuilder):
    """MagnaTagATune top-50 from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "clean"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=manual.tagging_features(cfg.sample_rate, NUM_TAGS, "clip_id", "clip_id of annotations_final.csv",
                                             "mono int16, whole clip (about 29.1 s)"),
            supervised_keys=("audio", "tags"),
            homepage="https://mirg.city.ac.uk/codeapps/the-magnatagatune-dataset",
            # tag_names / tag_categories depend on the user's files: filled in by _split_generators
            # and saved with the prepared dataset (metadata.json).
            metadata=tfds.core.MetadataDict(
                tag_names=[], tag_categories={}, categories=list(CATEGORIES),
                sample_rate=int(cfg.sample_rate), split_scheme=cfg.split_scheme),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        root = manual.manual_dir(dl_manager, NAME)
        ann_path = manual.require_file(os.path.join(root, ANNOTATIONS), NAME,
                                       f"annotations file {ANNOTATIONS}")
        ann = read_annotations(ann_path)
        if cfg.split_scheme == "original":
            cols = top_tags(ann.matrix.sum(axis=0))
            tag_source = (f"computed: the {NUM_TAGS} most frequent columns of {ANNOTATIONS}, by count "
                          f"descending, ties by column order")
            rows = {s: [] for s in SPLITS}
            for i, p in enumerate(ann.mp3_paths):
                rows[folder_split(p)].append(i)
        elif cfg.split_scheme == "clean":
            cols, tag_source = self._won_tags(root, ann)
            rows = self._won_rows(root, ann)
            self._check_won_binary(root, ann, cols, rows)
        else:
            raise UserError(f"{NAME}: unknown split_scheme {cfg.split_scheme!r}; valid: original, clean")
        names = [ann.tag_names[c] for c in cols]
        labels = ann.matrix[:, cols]
        meta = self.info.metadata
        meta["tag_names"] = names
        meta["tag_categories"] = {t: tag_category(t) for t in names}
        meta["tag_source"] = tag_source
        meta["tag_counts"] = {t: int(n) for t, n in zip(names, labels.sum(axis=0))}
        self._skips = manual.SkipLog(NAME, root)
        entries = {}
        for s in SPLITS:
            entries[s] = [{"clip_id": ann.clip_ids[i], "path": os.path.join(root, ann.mp3_paths[i]),
                           "tags": labels[i]} for i in rows[s]]
            if not entries[s]:
                raise manual.ManualDataError(f"{NAME}: the {s} split lists no clips "
                                             f"({manual.instructions_hint(NAME)})")
            manual.require_some_audio(s, entries[s], NAME, root, entries[s][0]["path"])
        return {s: self._generate_examples(s, entries[s]) for s in SPLITS}

    @staticmethod
    def _won_tags(root: str, ann: Annotations) -> tuple[np.ndarray, str]:
        """Won et al.'s tag order from tags.npy if present, else the computed top 50."""
        path = os.path.join(root, WON_DIR, "tags.npy")
        if not os.path.isfile(path):
            cols = top_tags(ann.matrix.sum(axis=0))
            return cols, (f"computed ({WON_DIR}/tags.npy absent): the {NUM_TAGS} most frequent columns "
                          f"of {ANNOTATIONS}, by count descending, ties by column order")
        names = [manual.as_str(t).strip() for t in np.asarray(manual.load_npy(path, NAME)).reshape(-1)]
        index = {t: i for i, t in enumerate(ann.tag_names)}
        unknown = [t for t in names if t not in index]
        if len(names) != NUM_TAGS or unknown:
            raise manual.ManualDataError(
                f"{NAME}: {path} must list {NUM_TAGS} column names of {ANNOTATIONS}; got {len(names)}"
                f"{', unknown: ' + ', '.join(unknown[:5]) if unknown else ''} "
                f"({manual.instructions_hint(NAME)})")
        return np.array([index[t] for t in names]), f"{WON_DIR}/tags.npy (Won et al.)"

    @staticmethod
    def _won_rows(root: str, ann: Annotations) -> dict:
        """Annotation row indices of each split, checking each entry's path against its row."""
        rows = {}
        for s, fname in WON_SPLIT_FILES.items():
            path = manual.require_file(os.path.join(root, WON_DIR, fname), NAME, f"clean split file {fname}")
            rows[s] = []
            for ix, fn in read_won_split(path):
                if ix >= len(ann.mp3_paths) or ann.mp3_paths[ix] != fn:
                    got = ann.mp3_paths[ix] if ix < len(ann.mp3_paths) else "no such row"
                    raise manual.ManualDataError(
                        f"{NAME}: {path}: entry {ix}\\t{fn} does not match row {ix} of {ANNOTATIONS} "
                        f"({got}); the split files and annotations must come from the same releases "
                        f"({manual.instructions_hint(NAME)})")
                rows[s].append(ix)
        return rows

    @staticmethod
    def _check_won_binary(root: str, ann: Annotations, cols: np.ndarray, rows: dict) -> None:
        """If binary.npy is there (with tags.npy), our labels must equal theirs on the split's rows."""
        path = os.path.join(root, WON_DIR, "binary.npy")
        if not (os.path.isfile(path) and os.path.isfile(os.path.join(root, WON_DIR, "tags.npy"))):
            return
        binary = np.asarray(manual.load_npy(path, NAME))
        ours = ann.matrix[:, cols]
        used = np.array(sorted({i for s in rows for i in rows[s]}), dtype=np.int64)
        if binary.ndim != 2 or binary.shape[1] != NUM_TAGS or binary.shape[0] < len(ann.mp3_paths):
            raise manual.ManualDataError(f"{NAME}: {path} has shape {binary.shape}, expected "
                                         f"({len(ann.mp3_paths)}, {NUM_TAGS})")
        bad = np.flatnonzero(np.any((binary[used] > 0.5) != (ours[used] > 0), axis=1))
        if bad.size:
            raise manual.ManualDataError(
                f"{NAME}: {path} disagrees with {ANNOTATIONS} at {bad.size} rows (first: row {used[bad[0]]}); "
                f"the split files and annotations must come from the same releases")

    def _generate_examples(self, split: str, entries: Sequence[dict]):
        cfg = self.builder_config
        yield from manual.generate(
            split, entries, self._skips.root, cfg.sample_rate, cfg.num_workers, self._skips,
            self.info.metadata, key="clip_id",
            to_example=lambda e, audio: {"audio": audio, "tags": e["tags"], "clip_id": e["clip_id"]})
