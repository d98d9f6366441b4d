"""`jamendo_vocal`: the Jamendo singing-voice corpus (Ramona, Richard & David 2008), Choi's target task T5
(vocal / non-vocal classification of excerpts).

93 Creative-Commons songs in three subsets, as the release's archives unpack them: `train/`, `valid/`, `test/`
(61 / 16 / 16 songs, `.ogg`, a few `.mp3`) and `jamendo_lab/<song>.lab`, one line per segment,
`<start s> <end s> sing|nosing`, the segments tiling the song. Each song is decoded once and cut into examples:

  segment_seconds = 0 (default; Choi's reading): one example per `.lab` line, the whole segment (from a fraction
      of a second to over a minute; Choi's repository cut "each .lab segment into its own wav", 4,086 in all)
  segment_seconds = s > 0: each `.lab` segment is cut into consecutive non-overlapping windows of s seconds
      (a remainder shorter than s is dropped, so are segments shorter than s)

Each example: `audio` (mono int16 at the config's rate), `label` (nosing, sing), `id` `<song>_<line>` (Choi's
naming; `<song>_<line>_<window>` with windows), `group` `<song>` (all excerpts of a song stay in one fold) and
`subset` (train, valid or test: the release's split, which the thesis used as its single train/test split).
Segments are cut at round(time × rate); a segment reaching past the decoded audio is shortened, one starting
after its end is dropped (counted in `info.metadata["segments_outside_audio"]`).

One split, `train`, with every excerpt (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k`,
`windows_1s` (1-s windows, 16 kHz). Songs whose audio is missing or unreadable are skipped and counted in
`info.metadata["skipped"]`; a song without its `.lab` file is a one-line error. Build:

    mirjax data build jamendo_vocal --manual_dir DIR
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Sequence

import tensorflow_datasets as tfds

from mirjax.data import manual, targets
from mirjax.errors import UserError

log = logging.getLogger("mirjax")

NAME = "jamendo_vocal"
CLASSES = ("nosing", "sing")  # the .lab vocabulary; 0 = non-vocal, 1 = vocal, as in Choi's repository
SUBSETS = ("train", "valid", "test")
AUDIO_EXTS = (".ogg", ".mp3", ".wav", ".flac")
LAB_DIR = "jamendo_lab"
AUDIO_PARENTS = ("audio", "jamendo")  # folders that may hold train/ valid/ test/
EXPECTED_SIZE = 4086  # Choi's count of .lab segments


@dataclasses.dataclass(eq=False)
class JamendoConfig(targets.TargetConfig):
    """segment_seconds: 0 = one example per .lab segment; s > 0 = s-second windows inside each segment."""
    segment_seconds: float = 0.0


CONFIGS = targets.rate_configs(JamendoConfig, "One example per .lab segment (Choi), one train split") + [
    JamendoConfig(name="windows_1s", sample_rate=16000, segment_seconds=1.0,
                  description="1-s windows inside each .lab segment, one train split, 16,000 Hz.")]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download the Jamendo corpus for singing-voice detection (Ramona et al. 2008; http://www.mathieuramona.com/wp/data/jamendo/:
jam_train_audio.tar.gz, jam_valid_audio.tar.gz, jam_test_audio.tar.gz and jam_annote.tar.gz) and unpack the
archives in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...)), so that it holds

  train/<song>.ogg  valid/<song>.ogg  test/<song>.ogg      61 / 16 / 16 songs (a few .mp3)
  {LAB_DIR}/<song>.lab                                   lines "<start> <end> sing|nosing" (seconds)

train/ valid/ test/ may also lie in audio/; the .lab files may lie in any folder under the manual dir. Missing
or unreadable songs are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


def subset_folders(folder: str) -> dict:
    return {s: os.path.join(folder, s) for s in SUBSETS if os.path.isdir(os.path.join(folder, s))}


def index_labs(root: str) -> dict:
    """{song: path} of every `<song>.lab` under `root` (recursively; hidden files and folders ignored)."""
    labs: dict = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            stem, ext = os.path.splitext(fn)
            if ext.lower() == ".lab" and not fn.startswith(".") and stem not in labs:
                labs[stem] = os.path.join(dirpath, fn)
    return labs


def read_lab(path: str) -> list[tuple[float, float, str]]:
    """[(start s, end s, sing|nosing)] of a .lab file; a malformed line fails with one line."""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for n, line in enumerate(f, 1):
            parts = line.split()
            if not parts:
                continue
            try:
                start, end, label = float(parts[0]), float(parts[1]), parts[2]
            except (IndexError, ValueError):
                label, start, end = None, 0.0, 0.0
            if len(parts) != 3 or label not in CLASSES or not 0 <= start <= end:
                raise manual.ManualDataError(
                    f"{NAME}: {path} line {n}: expected \"<start> <end> sing|nosing\" with 0 <= start <= end, got "
                    f"{line.strip()[:80]!r} ({manual.instructions_hint(NAME)})")
            out.append((start, end, label))
    return out


def cut(audio, segments: Sequence[tuple], sample_rate: int, segment_seconds: float) -> tuple[list, int]:
    """([(line index, window index or None, label, samples)], segments outside the audio) for one song."""
    out, outside = [], 0
    win = int(round(segment_seconds * sample_rate)) if segment_seconds > 0 else 0
    for k, (start, end, label) in enumerate(segments):
        a, b = int(round(start * sample_rate)), min(int(round(end * sample_rate)), len(audio))
        if b - a < 1:
            outside += a >= len(audio)
            continue
        if not win:
            out.append((k, None, label, audio[a:b]))
            continue
        for w in range((b - a) // win):
            out.append((k, w, label, audio[a + w * win:a + (w + 1) * win]))
    return out, outside


class JamendoVocal(manual.ManualBuilder):
    """Jamendo vocal / non-vocal excerpts from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        unit = f"{cfg.segment_seconds:g}-s window of a .lab segment" if cfg.segment_seconds > 0 else ".lab segment"
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=targets.features(
                cfg.sample_rate, f"mono int16, one {unit}", "<song>_<.lab line>[_<window>], e.g. 01 - Song_4",
                "the song (file name without extension)",
                {"label": targets.class_label(CLASSES, "the .lab label: nosing (non-vocal) or sing (vocal)")},
                {"subset": tfds.features.Text(doc="the release's subset of the song: train, valid or test")}),
            supervised_keys=("audio", "label"),
            homepage="http://www.mathieuramona.com/wp/data/jamendo/",
            metadata=tfds.core.MetadataDict(
                classes=list(CLASSES), sample_rate=int(cfg.sample_rate), segment_seconds=float(cfg.segment_seconds),
                expected_size=EXPECTED_SIZE if cfg.segment_seconds <= 0 else None),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        if cfg.segment_seconds < 0:
            raise UserError(f"{NAME}: segment_seconds must be >= 0, got {cfg.segment_seconds}")
        root = manual.manual_dir(dl_manager, NAME)
        audio_root = targets.find_root(root, lambda d: bool(subset_folders(d)), AUDIO_PARENTS)
        if audio_root is None:
            raise manual.ManualDataError(f"{NAME}: no train/, valid/ or test/ audio folder under {root} or "
                                         f"{os.path.join(root, 'audio')} ({manual.instructions_hint(NAME)})")
        labs = index_labs(root)
        if not labs:
            raise manual.ManualDataError(f"{NAME}: annotation files not found: expected {os.path.join(root, LAB_DIR)}"
                                         f"/<song>.lab ({manual.instructions_hint(NAME)})")
        entries = []
        for subset, folder in subset_folders(audio_root).items():
            for fn in targets.audio_files(folder, AUDIO_EXTS):
                song = os.path.splitext(fn)[0]
                lab = labs.get(song) or manual.require_file(os.path.join(root, LAB_DIR, song + ".lab"), NAME,
                                                            f"annotation of {os.path.join(subset, fn)}")
                entries.append({"song": song, "subset": subset, "path": os.path.join(folder, fn),
                                "segments": read_lab(lab)})
        songs = [e["song"] for e in entries]
        if len(set(songs)) != len(songs):
            dup = next(s for s in songs if songs.count(s) > 1)
            raise manual.ManualDataError(f"{NAME}: song {dup!r} is in two subsets (or in two formats) under "
                                         f"{audio_root} ({manual.instructions_hint(NAME)})")
        targets.check_entries(entries, NAME, audio_root, "songs in train/, valid/, test/")
        meta = self.info.metadata
        meta["songs"] = {s: sum(e["subset"] == s for e in entries) for s in SUBSETS}
        meta["lab_segments"] = sum(len(e["segments"]) for e in entries)
        self._skips = targets.FileSkipLog(NAME, root, unit="songs")
        return {targets.SPLIT: self._generate_examples(entries)}

    def _generate_examples(self, entries: Sequence[dict]):
        cfg = self.builder_config
        meta = self.info.metadata
        meta["segments_outside_audio"] = 0

        def examples_of(e, audio):
            pieces, outside = cut(audio, e["segments"], cfg.sample_rate, cfg.segment_seconds)
            meta["segments_outside_audio"] += outside
            if outside:
                log.warning("%s: %s: %d .lab segments start after the audio ends; dropped", NAME, e["path"], outside)
            for k, w, label, samples in pieces:
                i = f"{e['song']}_{k}" if w is None else f"{e['song']}_{k}_{w}"
                yield i, {"audio": samples, "label": label, "id": i, "group": e["song"], "subset": e["subset"]}

        yield from targets.generate(entries, targets.decode_whole(entries, cfg.sample_rate, cfg.num_workers, NAME),
                                    self._skips, self.info.metadata, examples_of)
