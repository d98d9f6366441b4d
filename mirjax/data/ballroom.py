"""`extended_ballroom`: the Extended Ballroom dataset (Marchand & Peeters 2016), Choi's target task T1.

4,180 excerpts of about 30 s in 13 dance-style folders, `<Style>/<track id>.mp3` (the release unpacks to
`ballroom_extended_2016/Chacha/100701.mp3`, …). Each example: the whole excerpt as mono int16 at the config's
sample rate, its style (`label`, ClassLabel over STYLES, from the folder; matched case-insensitively), `id`
`<Style>/<track id>` and `group` `<track id>` (a track id filed under two styles stays in one fold).

One split, `train`, with every excerpt (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k`.
Missing or unreadable files are skipped and counted in `info.metadata["skipped"]`. Build:

    mirjax data build extended_ballroom --manual_dir DIR
"""

from __future__ import annotations

import collections
import logging
import os

from mirjax.data import manual, targets

log = logging.getLogger("mirjax")

NAME = "extended_ballroom"
# The release's folder names, alphabetical (Choi's repository lists the same 13).
STYLES = ("Chacha", "Foxtrot", "Jive", "Pasodoble", "Quickstep", "Rumba", "Salsa", "Samba", "Slowwaltz", "Tango",
          "Viennesewaltz", "Waltz", "Wcswing")
AUDIO_EXTS = (".mp3", ".wav")
RELEASE_DIR = "ballroom_extended_2016"
EXPECTED_SIZE = 4180

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Download the Extended Ballroom audio from http://anasynth.ircam.fr/home/media/ExtendedBallroom and unpack it
in the manual directory (config.dataset.manual_dir, --manual_dir, or tfds.download.DownloadConfig(manual_dir=...)),
so that it holds

  {RELEASE_DIR}/<Style>/<track id>.mp3      e.g. {RELEASE_DIR}/Chacha/100701.mp3

with the 13 style folders {', '.join(STYLES)}. The style folders may also lie directly in the manual dir or in
any one subfolder of it. Missing or unreadable files are skipped and counted (info.metadata["skipped"]).
See {manual.DOCS}.
"""


def style_folders(folder: str) -> dict:
    """{style: path} of the style folders directly in `folder`, matched case-insensitively."""
    try:
        names = {e.name.lower(): e.path for e in os.scandir(folder) if e.is_dir()}
    except OSError:
        return {}
    return {s: names[s.lower()] for s in STYLES if s.lower() in names}


def scan(audio_root: str) -> list[dict]:
    """Every `<Style>/<id>.mp3|.wav` under `audio_root`, by (style order, id); an id in two styles is logged."""
    folders = style_folders(audio_root)
    for s in STYLES:
        if s not in folders:
            log.warning("%s: style folder %s is missing", NAME, os.path.join(audio_root, s))
    entries = []
    for s in STYLES:
        if s not in folders:
            continue
        for fn in targets.audio_files(folders[s], AUDIO_EXTS):
            stem = os.path.splitext(fn)[0]
            entries.append({"id": f"{s}/{stem}", "group": stem, "label": s, "path": os.path.join(folders[s], fn)})
    dupes = [g for g, n in collections.Counter(e["group"] for e in entries).items() if n > 1]
    if dupes:
        log.warning("%s: %d track ids appear under two styles or twice (e.g. %s); each copy is kept, in one group",
                    NAME, len(dupes), dupes[0])
    return entries


class ExtendedBallroom(targets.ClassTargetBuilder):
    """Extended Ballroom (13 dance styles) from a manual directory (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = targets.rate_configs(targets.TargetConfig, "All 4,180 excerpts, one train split")
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS
    CLASSES = STYLES
    LABEL_DOC = "dance style, from the folder"
    AUDIO_DOC = "mono int16, whole excerpt (about 30 s)"
    ID_DOC = "<Style>/<track id>, e.g. Chacha/100701"
    GROUP_DOC = "the track id (e.g. 100701)"
    HOMEPAGE = "http://anasynth.ircam.fr/home/media/ExtendedBallroom"
    EXPECTED_SIZE = EXPECTED_SIZE
    WHAT = "audio files (<Style>/<id>.mp3)"

    def list_entries(self, root: str) -> tuple[list[dict], str]:
        audio_root = targets.find_root(root, lambda d: bool(style_folders(d)), (RELEASE_DIR,))
        if audio_root is None:
            raise manual.ManualDataError(
                f"{NAME}: no style folders ({', '.join(STYLES)}) under {root} or {os.path.join(root, RELEASE_DIR)} "
                f"({manual.instructions_hint(NAME)})")
        entries = scan(audio_root)
        self.info.metadata["groups"] = len({e["group"] for e in entries})
        return entries, audio_root
