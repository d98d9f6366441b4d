"""`game_soundtracks`: 30-s clips of the freely licensed game soundtracks packaged in Debian main, labelled by
soundtrack (a composer / style proxy): mirjax's one target task on real recordings that needs no manual download.

The packages (Debian 12 "bookworm" versions; sizes of the .deb):

  nexuiz-music            2.5.2-12    84 MB   18 tracks,  84 min  Ogg Vorbis inside data/music.pk3 (a zip)
  planetblupi-music-ogg   1.14.2-3    60 MB   10 tracks, 163 min  Ogg Vorbis
  ufoai-music             2.5-2      210 MB   64 tracks, 240 min  Ogg Vorbis inside base/0music.pk3 (a zip)
  warzone2100-music       4.3.3-3     86 MB   30 tracks, 243 min  Ogg Opus, three albums

Sources, in order: the manual directory, if it holds any of the packages, as `<package>/…` folders (e.g.
`dpkg-deb -x <package>_*.deb <manual_dir>/<package>`) or as the `<package>_<version>_<arch>.deb` files
`apt-get download` writes; else, with `fetch=True` (the default configs), the data cache's copy in
`<data_dir>/downloads/game_soundtracks/`, fetched there with `apt-get download` if absent. .deb files are
unpacked in Python (ar + data.tar.xz/gz/bz2; `dpkg-deb -x` for zstd), .pk3/.zip archives are unpacked once
into `<data_dir>/downloads/game_soundtracks/`; only their audio files are kept.

Every audio file (.ogg .oga .opus .flac .wav .mp3) of a package is one track. A track is cut into consecutive
non-overlapping clips of `clip_seconds` (30 s) from its start; the remainder shorter than a clip is dropped; a
track shorter than one clip is one clip of its whole length if at least `min_seconds` long (5 s), else dropped.
`max_clips_per_track` > 0 keeps that many clips per track, evenly spaced over it (0: every clip). Clips are
decoded block by block (a 29-minute track never sits in memory as float) and resampled one by one.

Each example: `audio` (mono int16 at the config's rate), `label` (the package; ClassLabel over `packages`),
`id` `<package>/<path>@<start>s` and `group` `<package>/<path>`, the track (its clips must stay in one fold).

One split, `train`, with every clip (see `mirjax.data.targets`). Configs: `default` (16 kHz), `12k` (both
fetch if needed), `manual` (16 kHz, never fetches). Unreadable tracks are skipped and counted in
`info.metadata["skipped"]`. Build:

    mirjax data build game_soundtracks            # fetches the four .debs (440 MB) with apt-get download
    mirjax data build game_soundtracks/manual --manual_dir DIR
"""

from __future__ import annotations

import dataclasses
import fnmatch
import io
import logging
import os
import shutil
import subprocess
import tarfile
import zipfile
from collections.abc import Sequence

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import manual, targets
from mirjax.data.audio import AudioError, check_file
from mirjax.errors import UserError

log = logging.getLogger("mirjax")

NAME = "game_soundtracks"
PACKAGES = ("nexuiz-music", "planetblupi-music-ogg", "ufoai-music", "warzone2100-music")
AUDIO_EXTS = (".ogg", ".oga", ".opus", ".flac", ".wav", ".mp3")
ARCHIVE_EXTS = (".pk3", ".zip")
WORK_DIR = "game_soundtracks"  # under <data_dir>/downloads: fetched .debs, unpacked/, archives/
MARKER = ".mirjax-unpacked"
SHORT_PREFIXES = ("usr/share/games/", "usr/share/")  # dropped from track ids


@dataclasses.dataclass(eq=False)
class GameSoundtracksConfig(targets.TargetConfig):
    """packages: the Debian packages, one class each. clip_seconds: clip length. min_seconds: shortest track
    kept (as one clip) when shorter than a clip. max_clips_per_track: 0 = every clip, else that many, evenly
    spaced. fetch: `apt-get download` the packages into the data cache when the manual dir lacks them."""
    packages: tuple = PACKAGES
    clip_seconds: float = 30.0
    min_seconds: float = 5.0
    max_clips_per_track: int = 0
    fetch: bool = True


CONFIGS = targets.rate_configs(GameSoundtracksConfig, "30-s clips, label = package, fetched if needed") + [
    GameSoundtracksConfig(name="manual", sample_rate=16000, fetch=False,
                          description="30-s clips, label = package, from the manual dir only, 16,000 Hz.")]

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""\
Nothing to do on Debian/Ubuntu with network access to the archive: the default configs run
`apt-get download {' '.join(PACKAGES)}` into <data_dir>/downloads/{WORK_DIR}/ (440 MB; `apt-get update` first).
Otherwise put in the manual directory (config.dataset.manual_dir, --manual_dir, or
tfds.download.DownloadConfig(manual_dir=...)) either the packages' .deb files, as apt-get download names them

  <package>_<version>_all.deb       e.g. warzone2100-music_4.3.3-3_all.deb (from any Debian mirror, pool/main/)

or the unpacked packages, `dpkg-deb -x <package>_<version>_all.deb <manual_dir>/<package>`:

  <package>/usr/share/…             audio files and .pk3 archives are found anywhere below <package>/

Unreadable tracks are skipped and counted (info.metadata["skipped"]). See {manual.DOCS}.
"""


# --- locating, fetching and unpacking the packages ------------------------------------------------------

def find_deb(folder: str, package: str) -> str | None:
    """The .deb of `package` in `folder` (`<package>_<version>_<arch>.deb` or `<package>.deb`; the last by name
    if several), or None."""
    try:
        names = sorted(n for n in os.listdir(folder)
                       if n == f"{package}.deb" or fnmatch.fnmatchcase(n, f"{package}_*.deb"))
    except OSError:
        return None
    return os.path.join(folder, names[-1]) if names else None


def locate(folder: str | None, packages: Sequence[str]) -> dict:
    """{package: ("dir" | "deb", path)} of the packages present in `folder` (an unpacked folder wins)."""
    out: dict = {}
    if not folder or not os.path.isdir(folder):
        return out
    for p in packages:
        if os.path.isdir(os.path.join(folder, p)):
            out[p] = ("dir", os.path.join(folder, p))
        elif (deb := find_deb(folder, p)) is not None:
            out[p] = ("deb", deb)
    return out


def _last_error_line(text: str) -> str:
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("E:")]
    return (errors or lines or ["no output"])[-1][:200]


def fetch_packages(packages: Sequence[str], dest: str) -> None:
    """`apt-get download` each of `packages` that `dest` lacks into `dest`; failures are one-line errors."""
    todo = [p for p in packages if p not in locate(dest, [p])]
    if not todo:
        return
    apt = shutil.which("apt-get")
    if apt is None:
        raise manual.ManualDataError(
            f"{NAME}: apt-get not found, so the packages cannot be fetched; put their .deb files in a manual "
            f"directory ({manual.instructions_hint(NAME)})")
    os.makedirs(dest, exist_ok=True)
    for p in todo:
        log.info("%s: apt-get download %s (into %s)", NAME, p, dest)
        r = subprocess.run([apt, "download", p], cwd=dest, capture_output=True, text=True, check=False)
        if r.returncode != 0 or find_deb(dest, p) is None:
            raise manual.ManualDataError(
                f"{NAME}: `apt-get download {p}` failed in {dest} ({_last_error_line(r.stderr or r.stdout)}); run "
                f"`apt-get update` first, or put the .deb files in a manual directory "
                f"({manual.instructions_hint(NAME)})")


def _safe_relpath(name: str) -> str | None:
    """A member name as a relative path inside the destination, or None if it would leave it."""
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if not parts or any(p == ".." for p in parts):
        return None
    return os.path.join(*parts)


def _wanted(name: str) -> bool:
    return os.path.splitext(name)[1].lower() in AUDIO_EXTS + ARCHIVE_EXTS


class _Slice(io.RawIOBase):
    """A read-only view of `size` bytes of an open file from its current position (an ar member)."""

    def __init__(self, f, size: int):
        self._f, self._left = f, size

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._f.readinto(memoryview(b)[:min(len(b), self._left)])
        self._left -= n
        return n


def _ar_members(f):
    """Yields (name, size) of each member of the ar archive `f`, positioned at the member's data."""
    if f.read(8) != b"!<arch>\n":
        raise ValueError("not a .deb (ar) archive")
    while True:
        header = f.read(60)
        if len(header) < 60:
            return
        if header[58:60] != b"`\n":
            raise ValueError("corrupt ar member header")
        name, size = header[:16].decode("ascii", "replace").strip().rstrip("/"), int(header[48:58])
        start = f.tell()
        yield name, size
        f.seek(start + size + (size % 2))  # members are 2-byte aligned


def extract_deb(deb: str, dest: str) -> str:
    """Unpacks the audio files and .pk3/.zip archives of the .deb `deb` into `dest` (once: a marker records
    which .deb it holds) and returns `dest`. Python's tarfile reads xz/gz/bz2; zstd needs `dpkg-deb -x`."""
    stamp = f"{os.path.basename(deb)} {os.path.getsize(deb)}"
    marker = os.path.join(dest, MARKER)
    if os.path.isfile(marker):
        with open(marker, encoding="utf-8") as f:
            if f.read() == stamp:
                return dest
    partial = dest + ".partial"
    shutil.rmtree(partial, ignore_errors=True)
    os.makedirs(partial)
    modes = {"data.tar.xz": "r|xz", "data.tar.gz": "r|gz", "data.tar.bz2": "r|bz2", "data.tar": "r|"}
    try:
        with open(deb, "rb") as f:
            member = None
            for name, size in _ar_members(f):
                if name.startswith("data.tar"):
                    member = name
                    if name in modes:
                        with tarfile.open(fileobj=io.BufferedReader(_Slice(f, size), 1 << 20), mode=modes[name]) as tar:
                            for m in tar:
                                rel = _safe_relpath(m.name)
                                if m.isfile() and rel and _wanted(rel):
                                    out = os.path.join(partial, rel)
                                    os.makedirs(os.path.dirname(out), exist_ok=True)
                                    with tar.extractfile(m) as src, open(out, "wb") as dst:
                                        shutil.copyfileobj(src, dst, 1 << 20)
                    break
        if member is None:
            raise ValueError("no data.tar member")
        if member not in modes:
            dpkg = shutil.which("dpkg-deb")
            if dpkg is None:
                raise ValueError(f"{member} needs dpkg-deb, which is not installed")
            subprocess.run([dpkg, "-x", deb, partial], check=True, capture_output=True)
    except (OSError, ValueError, tarfile.TarError, subprocess.CalledProcessError) as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise manual.ManualDataError(f"{NAME}: cannot unpack {deb} ({type(exc).__name__}: {exc}); download it "
                                     f"again ({manual.instructions_hint(NAME)})") from None
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(partial, dest)
    with open(marker, "w", encoding="utf-8") as f:
        f.write(stamp)
    return dest


def unpack_archive(archive: str, dest: str) -> list[tuple[str, str]]:
    """[(member, path)] of the audio members of the zip `archive` (a .pk3), unpacked into `dest` unless a file of
    the member's size is already there. Raises zipfile.BadZipFile / OSError on a broken archive."""
    out = []
    with zipfile.ZipFile(archive) as z:
        for info in sorted(z.infolist(), key=lambda i: i.filename):
            rel = _safe_relpath(info.filename)
            if info.is_dir() or not rel or os.path.splitext(rel)[1].lower() not in AUDIO_EXTS:
                continue
            path = os.path.join(dest, rel)
            if not (os.path.isfile(path) and os.path.getsize(path) == info.file_size):
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with z.open(info) as src, open(path + ".partial", "wb") as dst:
                    shutil.copyfileobj(src, dst, 1 << 20)
                os.replace(path + ".partial", path)
            out.append((info.filename, path))
    return out


def short_path(rel: str) -> str:
    rel = rel.replace(os.sep, "/")
    for p in SHORT_PREFIXES:
        if rel.startswith(p):
            return rel[len(p):]
    return rel


def scan_package(package: str, pkg_root: str, archive_root: str) -> list[dict]:
    """The tracks of one package: its audio files and the audio members of its .pk3/.zip archives (unpacked
    under `archive_root/<package>/`). A broken archive is an entry with an `error` (skipped, counted)."""
    entries, seen = [], set()
    for dirpath, dirnames, filenames in os.walk(pkg_root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for fn in sorted(filenames):
            ext = os.path.splitext(fn)[1].lower()
            path = os.path.join(dirpath, fn)
            if fn.startswith(".") or ext not in AUDIO_EXTS + ARCHIVE_EXTS or os.path.realpath(path) in seen:
                continue
            seen.add(os.path.realpath(path))
            rel = short_path(os.path.relpath(path, pkg_root))
            if ext in AUDIO_EXTS:
                entries.append({"package": package, "track": f"{package}/{rel}", "path": path})
                continue
            try:
                members = unpack_archive(path, os.path.join(archive_root, package, rel))
            except (zipfile.BadZipFile, OSError, ValueError) as exc:
                entries.append({"package": package, "track": f"{package}/{rel}", "path": path,
                                "error": f"unreadable archive ({type(exc).__name__}: {exc})"})
                continue
            entries += [{"package": package, "track": f"{package}/{rel}/{m}", "path": p} for m, p in members]
    return entries


# --- decoding a track into clips ----------------------------------------------------------------------------

def clip_indices(n_clips: int, max_clips: int) -> list[int]:
    """Indices of the clips kept: all, or `max_clips` evenly spaced from the first to the last."""
    if max_clips <= 0 or n_clips <= max_clips:
        return list(range(n_clips))
    return sorted({int(i) for i in np.round(np.linspace(0, n_clips - 1, max_clips))})


def _mono_int16(block: np.ndarray, native_sr: int, sample_rate: int) -> np.ndarray:
    x = np.asarray(block, np.float32).mean(axis=1)
    x = np.where(np.isfinite(x), x, np.float32(0.0))
    if native_sr != sample_rate:
        import soxr  # librosa's resampler: librosa.resample(res_type="soxr_hq") gives the same samples
        x = soxr.resample(x, native_sr, sample_rate, quality="HQ").astype(np.float32, copy=False)
    return manual.to_int16(x)


def decode_clips(path: str, sample_rate: int, clip_seconds: float, min_seconds: float,
                 max_clips: int) -> list[tuple[int, np.ndarray]]:
    """[(clip index, mono int16 clip at `sample_rate`)] of the track `path` (see module docstring); raises
    AudioError when the file cannot be decoded."""
    import soundfile as sf

    check_file(path)
    try:
        f = sf.SoundFile(path)
    except Exception:  # noqa: BLE001 - a container libsndfile cannot open: whole-file decoding (librosa)
        audio = manual.decode_int16(path, sample_rate)
        n = int(round(clip_seconds * sample_rate))
        if len(audio) < n:
            return [(0, audio)] if len(audio) >= min_seconds * sample_rate else []
        return [(k, audio[k * n:(k + 1) * n]) for k in clip_indices(len(audio) // n, max_clips)]
    try:
        with f:
            native_sr, frames = f.samplerate, f.frames
            n = int(round(clip_seconds * native_sr))
            if frames < n:
                if frames < min_seconds * native_sr:
                    return []
                return [(0, _mono_int16(f.read(dtype="float32", always_2d=True), native_sr, sample_rate))]
            keep = set(clip_indices(frames // n, max_clips))
            out = []
            for k, block in enumerate(f.blocks(blocksize=n, dtype="float32", always_2d=True)):
                if len(block) < n:
                    break
                if k in keep:
                    out.append((k, _mono_int16(block, native_sr, sample_rate)))
            if not out:
                raise AudioError(path, "contains no audio samples")
            return out
    except AudioError:
        raise
    except Exception as exc:  # noqa: BLE001 - one bad track must never stop a build
        raise AudioError(path, f"decoding failed ({type(exc).__name__}: {exc})") from None


# --- the builder -----------------------------------------------------------------------------------------------

class GameSoundtracks(manual.ManualBuilder):
    """Game soundtracks from Debian packages (see module docstring)."""

    name = NAME
    BUILDER_CONFIGS = CONFIGS
    DEFAULT_CONFIG_NAME = "default"
    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        cfg = self.builder_config
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            features=targets.features(
                cfg.sample_rate, f"mono int16, a {cfg.clip_seconds:g}-s clip (a shorter track: all of it)",
                "<package>/<path of the track>@<start>s", "<package>/<path of the track>: the track",
                {"label": targets.class_label(cfg.packages, "the Debian package (soundtrack) of the track")}),
            supervised_keys=("audio", "label"),
            homepage="https://packages.debian.org/",
            metadata=tfds.core.MetadataDict(
                classes=list(cfg.packages), sample_rate=int(cfg.sample_rate), clip_seconds=float(cfg.clip_seconds),
                min_seconds=float(cfg.min_seconds), max_clips_per_track=int(cfg.max_clips_per_track)),
        )

    def _split_generators(self, dl_manager):
        cfg = self.builder_config
        if cfg.clip_seconds <= 0 or cfg.min_seconds < 0 or cfg.max_clips_per_track < 0 or not cfg.packages:
            raise UserError(f"{NAME}: need clip_seconds > 0, min_seconds >= 0, max_clips_per_track >= 0 and at "
                            f"least one package; got {cfg.clip_seconds}, {cfg.min_seconds}, {cfg.max_clips_per_track}, "
                            f"{cfg.packages}")
        work = os.path.join(os.fspath(dl_manager.download_dir), WORK_DIR)
        given = getattr(dl_manager, "_manual_dir", None)
        given = os.fspath(given) if given else None
        sources = locate(given, cfg.packages)
        if sources:
            root = given
        elif cfg.fetch:
            root = work
            log.info("%s: no package in the manual dir %s; using the data cache's copy in %s", NAME, given, work)
            fetch_packages(cfg.packages, work)
            sources = locate(work, cfg.packages)
        else:
            root = manual.manual_dir(dl_manager, NAME)  # one line if missing or empty
            raise manual.ManualDataError(
                f"{NAME}: none of the packages ({', '.join(cfg.packages)}) found in {root} as <package>/ folders or "
                f"<package>_*.deb files ({manual.instructions_hint(NAME)})")
        for p in cfg.packages:
            if p not in sources:
                log.warning("%s: package %s not found in %s; its class will be empty", NAME, p, root)
        entries, meta = [], {}
        for p, (kind, path) in sources.items():
            pkg_root = extract_deb(path, os.path.join(work, "unpacked", p)) if kind == "deb" else path
            tracks = scan_package(p, pkg_root, os.path.join(work, "archives"))
            meta[p] = {"source": os.path.basename(path), "tracks": len(tracks)}
            entries += tracks
        if not entries:
            raise manual.ManualDataError(f"{NAME}: no audio files ({', '.join(AUDIO_EXTS)}) in the packages under "
                                         f"{root} ({manual.instructions_hint(NAME)})")
        self.info.metadata["packages"] = meta
        self._skips = targets.FileSkipLog(NAME, root, unit="tracks")
        return {targets.SPLIT: self._generate_examples(entries)}

    def _generate_examples(self, entries: Sequence[dict]):
        cfg = self.builder_config
        clips_per_package = {p: 0 for p in cfg.packages}
        self.info.metadata["clips"] = clips_per_package

        def job(e):
            if "error" in e:
                return None, e["error"]
            try:
                return decode_clips(e["path"], cfg.sample_rate, cfg.clip_seconds, cfg.min_seconds,
                                    cfg.max_clips_per_track), None
            except AudioError as exc:
                return None, exc.reason
            except Exception as exc:  # noqa: BLE001 - one bad track must never stop a build
                return None, f"{type(exc).__name__}: {exc}"

        def examples_of(e, clips):
            for k, audio in clips:
                clips_per_package[e["package"]] += 1
                i = f"{e['track']}@{k * cfg.clip_seconds:g}s"
                yield i, {"audio": audio, "label": e["package"], "id": i, "group": e["track"]}

        decoded = ((e, *r) for e, r in manual.ordered_map(job, entries, cfg.num_workers))
        yield from targets.generate(entries, decoded, self._skips, self.info.metadata, examples_of)
