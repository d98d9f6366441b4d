"""`gtzan_speech_music`: GTZAN music/speech collection (Tzanetakis 1999), Choi's target task T3.

128 clips of 30 s, 22,050 Hz mono, 64 music and 64 speech, as the marsyas archive `music_speech.tar.gz` unpacks
them: `music_speech/music_wav/<name>.wav` and `music_speech/speech_wav/<name>.wav` (the Kaggle copy has the two
folders at its top level; folders renamed `music/`, `speech/` are accepted too). Each example: the whole clip as
mono int16 at the config's sample rate, `label` (music, speech; from the folder), `id` `<label>/<name>` (e.g.
`music/bagpipe`) and `group` `<name>`.

Registered as `gtzan_speech_music`: TFDS ships a download-based builder named `gtzan_music_speech`.

One split, `train`, with every clip (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k`.
Missing or unreadable files are skipped and counted in `info.metadata["skipped"]`. Build:

    mirjax data build gtzan_speech_music --manual_dir DIR
"""

from __future__ import annotations

import os

from mirjax.data import manual, targets

NAME = "gtzan_speech_music"
CLASSES = ("music", "speech")
FOLDERS = {c: (f"{c}_wav", c) for c in CLASSES}  # preferred first
AUDIO_EXTS = (".wav", ".au")
RELEASE_DIR = "music_speech"
EXPECTED_SIZE = 128

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download music_speech.tar.gz (the GTZAN music/speech collection, http://marsyas.info/index.html, formerly
http://opihi.cs.uvic.ca/sound/music_speech.tar.gz; a copy is on Kaggle as "GTZAN music/speech collection") and
unpack it in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...)), so that it holds

  {RELEASE_DIR}/music_wav/<name>.wav     64 files, e.g. bagpipe.wav
  {RELEASE_DIR}/speech_wav/<name>.wav    64 files, e.g. acomic.wav

(or music_wav/ and speech_wav/ directly in the manual dir). Missing or unreadable files are skipped and counted
(info.metadata["skipped"]). See {manual.DOCS}.
"""


def class_folders(folder: str) -> dict:
    """{class: path} of the class folders directly in `folder` (`music_wav` preferred to `music`)."""
    out = {}
    for c in CLASSES:
        for sub in FOLDERS[c]:
            if os.path.isdir(os.path.join(folder, sub)):
                out[c] = os.path.join(folder, sub)
                break
    return out


def scan(audio_root: str) -> list[dict]:
    """Every `<class>_wav/<name>.wav` under `audio_root`, by (class order, name)."""
    folders = class_folders(audio_root)
    entries = []
    for c in CLASSES:
        for fn in targets.audio_files(folders.get(c, ""), AUDIO_EXTS):
            stem = os.path.splitext(fn)[0]
            entries.append({"id": f"{c}/{stem}", "group": stem, "label": c, "path": os.path.join(folders[c], fn)})
    return entries


class GtzanSpeechMusic(targets.ClassTargetBuilder):
    """GTZAN music/speech from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = targets.rate_configs(targets.TargetConfig, "All 128 clips, one train split")
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    CLASSES = CLASSES
    LABEL_DOC = "music or speech"
    AUDIO_DOC = "mono int16, whole clip (30 s)"
    ID_DOC = "<label>/<name>, e.g. music/bagpipe"
    GROUP_DOC = "the file name without extension"
    HOMEPAGE = "http://marsyas.info/index.html"
    EXPECTED_SIZE = EXPECTED_SIZE
    WHAT = "audio files (music_wav/*.wav, speech_wav/*.wav)"

    def list_entries(self, root: str) -> tuple[list[dict], str]:
        audio_root = targets.find_root(root, lambda d: len(class_folders(d)) == len(CLASSES), (RELEASE_DIR,))
        if audio_root is None:
            raise manual.ManualDataError(
                f"{NAME}: no music_wav/ and speech_wav/ folders under {root} or {os.path.join(root, RELEASE_DIR)} "
                f"({manual.instructions_hint(NAME)})")
        return scan(audio_root), audio_root
