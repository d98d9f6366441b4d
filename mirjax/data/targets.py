"""Shared pieces of the transfer-learning target builders (Choi thesis Ch. 6, T1–T6, and `game_soundtracks`).

Every target builder reads a user's manual directory (or, for `game_soundtracks`, Debian packages) and writes
ONE split, `train`, holding every item: the thesis cross-validates over whole datasets, so the folds are the
study's business, not the builder's. Every example has

  audio   mono int16 at the config's sample rate (default 16,000 Hz; `12k` configs 12,000 Hz), variable length
  id      text, unique within the dataset
  group   text: items sharing a group come from one recording and must never be split across folds (the
          Jamendo track a segment was cut from, the game track a clip was cut from, the Freesound recording
          of an UrbanSound8K slice); otherwise the item's own recording
  label   ClassLabel (names in the feature), or regression targets (emomusic: `arousal`, `valence`)

plus per-dataset extras (urbansound8k `fold`, jamendo_vocal `subset`). Missing directories and annotation files
fail with one line (`manual.ManualDataError`); missing or unreadable audio files are skipped, logged and
counted in `info.metadata` as in the other manual builders (`manual.SkipLog`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual

log = logging.getLogger("mirjax")

SPLIT = "train"
RATES = {"default": 16000, "12k": 12000}


@dataclasses.dataclass(eq=False)
class TargetConfig(tfds.core.BuilderConfig):
    """sample_rate: Hz of the stored audio. num_workers: decoding threads; 0 = one per core."""
    sample_rate: int = 16000
    num_workers: int = 0


def rate_configs(cls, what: str, **fields) -> list:
    """The `default` (16 kHz) and `12k` (12 kHz, Choi's rate) configs of a target builder."""
    return [cls(name=name, sample_rate=sr, description=f"{what}, {sr:,} Hz.", **fields) for name, sr in RATES.items()]


class FileSkipLog(manual.SkipLog):
    """manual.SkipLog whose summary names what was listed (`tracks` when a file gives several examples)."""

    def __init__(self, builder_name: str, root: str, unit: str = "clips"):
        super().__init__(builder_name, root)
        self.unit = unit

    def summary_line(self, split: str) -> str:
        c = self.counts[split]
        return (f"{self.builder_name} {split}: kept {self.kept[split]:,} of {self.listed[split]:,} listed "
                f"{self.unit}; skipped {c['missing'] + c['unreadable']:,} (missing {c['missing']:,}, "
                f"unreadable {c['unreadable']:,})")


def features(sample_rate: int, audio_doc: str, id_doc: str, group_doc: str, targets: dict, extra: dict | None = None):
    """The FeaturesDict of a target dataset: `audio`, the `targets` (label or regression values), `id`, `group`
    and any `extra` features."""
    return tfds.features.FeaturesDict({
        "audio": manual.whole_clip_audio(sample_rate, audio_doc),
        **targets,
        "id": tfds.features.Text(doc=id_doc),
        "group": tfds.features.Text(doc=group_doc),
        **(extra or {}),
    })


def class_label(names: Sequence[str], doc: str) -> tfds.features.ClassLabel:
    return tfds.features.ClassLabel(names=list(names), doc=doc)


def find_root(root: str, found: Callable[[str], bool], preferred: Sequence[str] = ()) -> str | None:
    """The first of `root`, `root/<preferred…>` and `root`'s other immediate subfolders (sorted) for which
    `found(folder)` holds, or None. Lets a user point the manual dir at the unpacked archive or its parent."""
    cands = [root] + [os.path.join(root, p) for p in preferred]
    try:
        subs = sorted(e.path for e in os.scandir(root) if e.is_dir() and not e.name.startswith("."))
    except OSError:
        subs = []
    for cand in cands + [s for s in subs if s not in cands]:
        if os.path.isdir(cand) and found(cand):
            return cand
    return None


def audio_files(folder: str, exts: Sequence[str]) -> list[str]:
    """Sorted names of the audio files in `folder` (not recursive) whose extension is in `exts`. Hidden files
    are ignored: they include the macOS resource forks `._name.mp3` that some archives carry, which are not audio."""
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    return sorted(n for n in names if not n.startswith(".") and os.path.splitext(n)[1].lower() in exts
                  and os.path.isfile(os.path.join(folder, n)))


def generate(entries: Sequence[dict], decoded: Iterable[tuple], skips: FileSkipLog, metadata,
             examples_of: Callable[[dict, object], Iterable[tuple]]):
    """The `train` split's `_generate_examples` body: for each `(entry, audio_or_None, reason)` of `decoded`,
    skip (and log) the bad files and yield the `(key, example)` pairs of `examples_of(entry, audio)`, zero or
    more per file; record the skip counts and the number of examples in `metadata` once exhausted."""
    skips.start(SPLIT, len(entries))
    n = 0
    for entry, audio, reason in decoded:
        if audio is None:
            skips.skip(SPLIT, entry["path"], reason)
            continue
        skips.keep(SPLIT)
        for key, example in examples_of(entry, audio):
            n += 1
            yield key, example
    if entries and not skips.kept[SPLIT]:
        # Else TFDS fails with a traceback ("No examples were yielded") that hides the cause.
        path, reason = skips.files[SPLIT][0]
        raise manual.ManualDataError(
            f"{skips.builder_name}: none of the {len(entries):,} audio files could be read (e.g. {path}: {reason}) "
            f"({manual.instructions_hint(skips.builder_name)})")
    if not n:
        raise manual.ManualDataError(f"{skips.builder_name}: the audio files gave no examples "
                                     f"({manual.instructions_hint(skips.builder_name)})")
    metadata["examples"] = n
    skips.finish(SPLIT, metadata)


def resource_fork(path: str) -> str:
    """The macOS resource fork (AppleDouble file) that archives made on a Mac carry next to `path`."""
    return os.path.join(os.path.dirname(path), "._" + os.path.basename(path))


def decode_whole(entries: Sequence[dict], sample_rate: int, num_workers: int, name: str) -> Iterator[tuple]:
    """`(entry, int16 audio or None, reason)` for each entry's whole file (manual.decode_in_order).

    libsndfile reads a `._<name>` file next to `<name>` as its resource fork and then fails to open `<name>`
    ("bad data offset"); such files are decoded through a symbolic link in a temporary folder instead.
    """
    forked = {e["path"] for e in entries if os.path.isfile(resource_fork(e["path"]))}
    if forked:
        log.warning("%s: %d audio files have a macOS resource fork (._<name>) beside them, which libsndfile "
                    "cannot ignore; decoding them through links (delete the ._* files to avoid this)", name,
                    len(forked))
    with tempfile.TemporaryDirectory(prefix="mirjax-decode-") as tmp:
        def path_of(e):
            p = e["path"]
            if p not in forked:
                return p
            link = os.path.join(tmp, f"{hashlib.sha1(p.encode()).hexdigest()[:12]}_{os.path.basename(p)}")
            if not os.path.lexists(link):
                os.symlink(os.path.abspath(p), link)
            return link

        yield from manual.decode_in_order(entries, path_of, sample_rate, num_workers)


def check_entries(entries: Sequence[dict], name: str, audio_root: str, what: str) -> None:
    """One-line errors for an empty listing and for a listing none of whose files exists (wrong folder)."""
    if not entries:
        raise manual.ManualDataError(f"{name}: no {what} found under {audio_root} ({manual.instructions_hint(name)})")
    manual.require_some_audio(SPLIT, entries, name, audio_root, entries[0]["path"])


def first_samples(audio: np.ndarray, seconds: float, sample_rate: int) -> np.ndarray:
    """The first `seconds` of `audio` (all of it when shorter)."""
    return audio[:int(round(seconds * sample_rate))]


class ClassTargetBuilder(manual.ManualBuilder, skip_registration=True):
    """A single-label target builder: one example per audio file, with a ClassLabel `label`, `id` and `group`
    (see the module docstring), plus the features named in `EXTRA_FEATURES`, copied from each entry.

    A subclass sets the class attributes below and `list_entries(root)`, which finds the files under the manual
    directory and returns the entries (`id`, `group`, `label`, `path` and the extra features' values) and the
    folder they are in, raising `manual.ManualDataError` with one line when the layout is wrong. Everything
    else — configs, features, metadata, decoding, skipping bad files — is shared.
    """

    BUILDER_CONFIGS = rate_configs(TargetConfig, "one train split")
    DEFAULT_CONFIG_NAME = "default"
    CLASSES: tuple[str, ...] = ()
    LABEL_DOC = ""
    AUDIO_DOC = ""  # what one example's audio is, e.g. "mono int16, whole clip (30 s)"
    ID_DOC = ""
    GROUP_DOC = ""
    HOMEPAGE = ""
    EXPECTED_SIZE = 0  # examples in the full release
    METADATA: dict = {}  # further static info.metadata entries
    WHAT = "audio files"  # how an empty listing's error names the files

    def extra_features(self) -> dict:
        """{name: tfds feature} stored next to the shared ones; each entry carries the value under `name`."""
        return {}

    def list_entries(self, root: str) -> tuple[list[dict], str]:
        raise NotImplementedError

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=self.__doc__,
            features=features(cfg.sample_rate, self.AUDIO_DOC, self.ID_DOC, self.GROUP_DOC,
                              {"label": class_label(self.CLASSES, self.LABEL_DOC)}, self.extra_features()),
            supervised_keys=("audio", "label"),
            homepage=self.HOMEPAGE,
            metadata=tfds.core.MetadataDict(classes=list(self.CLASSES), sample_rate=int(cfg.sample_rate),
                                            expected_size=self.EXPECTED_SIZE, **self.METADATA),
        )

    def _split_generators(self, dl_manager):
        root = manual.manual_dir(dl_manager, self.name)
        entries, audio_root = self.list_entries(root)
        check_entries(entries, self.name, audio_root, self.WHAT)
        self._skips = FileSkipLog(self.name, root)
        return {SPLIT: self._generate_examples(entries)}

    def _generate_examples(self, entries: Sequence[dict]):
        cfg = self.builder_config
        extra = tuple(self.extra_features())
        decoded = decode_whole(entries, cfg.sample_rate, cfg.num_workers, self.name)
        yield from generate(
            entries, decoded, self._skips, self.info.metadata,
            lambda e, audio: [(e["id"], {"audio": audio, "label": e["label"], "id": e["id"], "group": e["group"],
                                         **{k: e[k] for k in extra}})])
