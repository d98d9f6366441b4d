"""The transfer-learning target builders (Choi Ch. 6 T1, T3–T6, and game_soundtracks): each built from a tiny
fake manual directory with its real release's layout (short generated audio, one corrupt file that must be
reported and skipped), checked against what the test wrote.

Every file (or every segment / clip of a file) is a sine at its own frequency, so an example's audio can be
traced back to where it was cut from independently of the builders' bookkeeping.
"""

from __future__ import annotations

import csv
import io
import os
import stat
import tarfile
import zipfile

import numpy as np
import pytest
import soundfile as sf
import tensorflow_datasets as tfds

from builder_refs import build_train as _build, peak_hz
from mirjax.data import (
    ballroom,
    emomusic,
    game_soundtracks as gs,
    gtzan_speech_music as gsm,
    jamendo,
    manual,
    urbansound8k as us8k,
)

SR = 16000
CORRUPT = b"this is not audio " * 64
# The fakes of the manual-dir releases are written at the builders' 16 kHz: a first librosa.resample costs
# a numba compilation of 10–25 s per test session, and load_audio's resampling is tested with the other manual
# builders (tests/test_data_manual_builders.py). game_soundtracks resamples with soxr itself: its Opus track is
# at 48 kHz.


def _tone(freqs_and_seconds, sr=SR, channels=1):
    """Concatenated sines: [(Hz, seconds), …] → float32 (samples,) or (samples, channels)."""
    parts = []
    for f, s in freqs_and_seconds:
        t = np.arange(int(round(s * sr))) / sr
        parts.append(0.4 * np.sin(2 * np.pi * f * t))
    x = np.concatenate(parts).astype(np.float32)
    return np.stack([x] * channels, 1) if channels > 1 else x


def _write(path, pieces, sr=SR, channels=1, **kw):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if isinstance(pieces, bytes):
        with open(path, "wb") as f:
            f.write(pieces)
        return
    ext = os.path.splitext(path)[1]
    fmt = {".mp3": "MP3", ".ogg": "OGG", ".opus": "OGG", ".wav": "WAV"}[ext]
    sub = kw.pop("subtype", {".ogg": "VORBIS", ".opus": "OPUS"}.get(ext))
    sf.write(path, _tone(pieces, sr, channels), sr, format=fmt, subtype=sub, **kw)


def _by_id(examples):
    return {ex["id"].decode(): ex for ex in examples}


def _one_line(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, (n, msg)


def _check_skipped(builder, warnings, root, rel_paths, listed):
    meta = builder.info.metadata
    assert meta["listed"] == {"train": listed}
    assert meta["skipped"] == {"train": {"missing": 0, "unreadable": len(rel_paths)}}
    assert sorted(p for p, _ in meta["skipped_files"]["train"]) == sorted(rel_paths)
    for rel in rel_paths:
        assert any(f"skipped {os.path.join(str(root), rel)}" in w for w in warnings), (rel, warnings)


# --- T1 Extended Ballroom ------------------------------------------------------------------------------------

def test_extended_ballroom(tmp_path):
    root = tmp_path / "manual"
    base = root / ballroom.RELEASE_DIR
    files = {}  # id → (style, Hz)
    for i, style in enumerate(ballroom.STYLES):
        folder = style.lower() if style == "Wcswing" else style  # folders are matched case-insensitively
        for j in range(2 if style == "Tango" else 1):
            tid = str(100000 + 100 * i + j)
            files[f"{style}/{tid}"] = (style, 300.0 + 60 * len(files))
            _write(str(base / folder / f"{tid}.mp3"), [(files[f"{style}/{tid}"][1], 0.3)])
    _write(str(base / "Jive" / "199999.mp3"), CORRUPT)
    # macOS resource forks: not audio, not listed. libsndfile reads `._100200.mp3` as the fork of 100200.mp3 and
    # cannot open that file any more; the builder decodes it through a link.
    _write(str(base / "Jive" / "._100200.mp3"), CORRUPT)
    _write(str(base / "Jive" / "._100299.mp3"), CORRUPT)
    builder = ballroom.ExtendedBallroom(config="default", data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    got = _by_id(examples)
    assert sorted(got) == sorted(files)
    names = builder.info.features["label"].names
    assert names == sorted(names) and len(names) == 13 and set(names) == set(ballroom.STYLES)
    for i, ex in got.items():
        style, hz = files[i]
        assert names[ex["label"]] == style and ex["group"].decode() == i.split("/")[1]
        assert ex["audio"].dtype == np.int16 and abs(len(ex["audio"]) - 0.3 * SR) < 0.05 * SR
        assert abs(peak_hz(ex["audio"], SR) - hz) < 8.0, i
    _check_skipped(builder, warnings, root, [os.path.join(ballroom.RELEASE_DIR, "Jive", "199999.mp3")], 15)
    assert any("1 audio files have a macOS resource fork" in w for w in warnings)


# --- T3 GTZAN speech/music -----------------------------------------------------------------------------------

def test_gtzan_speech_music(tmp_path):
    root = tmp_path / "manual"
    files = {"music/bagpipe": 400.0, "music/ballad": 500.0, "speech/acomic": 600.0, "speech/allison": 700.0}
    for i, hz in files.items():
        c, name = i.split("/")
        _write(str(root / gsm.RELEASE_DIR / f"{c}_wav" / f"{name}.wav"), [(hz, 0.5)])  # the release: 22,050 Hz
    _write(str(root / gsm.RELEASE_DIR / "speech_wav" / "broken.wav"), CORRUPT)
    builder = gsm.GtzanSpeechMusic(config="default", data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    got = _by_id(examples)
    assert sorted(got) == sorted(files)
    assert builder.info.features["label"].names == ["music", "speech"]
    for i, ex in got.items():
        assert builder.info.features["label"].names[ex["label"]] == i.split("/")[0]
        assert ex["group"].decode() == i.split("/")[1]
        assert len(ex["audio"]) == 0.5 * SR
        assert abs(peak_hz(ex["audio"], SR) - files[i]) < 5.0
    _check_skipped(builder, warnings, root, [os.path.join(gsm.RELEASE_DIR, "speech_wav", "broken.wav")], 5)


# --- T4 emoMusic -------------------------------------------------------------------------------------------------

EMO = {"2": (3.1, 1.1, 4.5, 1.2), "3": (5.0, 0.9, 6.3, 1.0), "7": (7.2, 1.4, 2.9, 0.8), "10": (4.4, 1.0, 5.5, 1.3)}


def _emomusic_fake(root, with_annotations=True):
    (root / "annotations").mkdir(parents=True)
    if with_annotations:
        with open(root / "annotations" / "static_annotations.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["song_id", "mean_arousal", "std_arousal", "mean_valence", "std_valence"])
            for s, row in EMO.items():
                w.writerow([s, *row])
    for k, s in enumerate(EMO):
        # A scaled stand-in for the 45-s clip: 0.6 s at one frequency, then 0.3 s at another.
        path = str(root / "clips_45seconds" / f"{s}.mp3")
        _write(path, CORRUPT if s == "10" else [(400.0 + 100 * k, 0.6), (2500.0, 0.3)])
    _write(str(root / "clips_45seconds" / "11.mp3"), [(300.0, 0.9)])  # on disk but unrated: not built


def test_emomusic_first_seconds_and_static_ratings(tmp_path):
    root = tmp_path / "manual"
    _emomusic_fake(root)
    assert all(c.clip_seconds == 29.0 and c.label_divisor == 9.0 for c in emomusic.Emomusic.BUILDER_CONFIGS)
    cfg = emomusic.EmomusicConfig(name="scaled", clip_seconds=0.5)  # the 29-of-45-s rule, scaled down
    builder = emomusic.Emomusic(config=cfg, data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    got = _by_id(examples)
    assert sorted(got) == ["2", "3", "7"]
    for k, s in enumerate(EMO):
        if s not in got:
            continue
        ex = got[s]
        assert ex["group"].decode() == s
        np.testing.assert_allclose([ex["arousal"], ex["valence"]], [EMO[s][0] / 9, EMO[s][2] / 9], rtol=1e-6)
        assert len(ex["audio"]) == int(0.5 * SR)  # the first 0.5 s only …
        assert abs(peak_hz(ex["audio"], SR) - (400.0 + 100 * k)) < 8.0  # … so none of the 2.5-kHz tail
    assert builder.info.metadata["unrated_clips"] == 1 and builder.info.metadata["clip_seconds"] == 0.5
    _check_skipped(builder, warnings, root, [os.path.join("clips_45seconds", "10.mp3")], 4)


def test_emomusic_missing_annotations_is_one_line(tmp_path):
    root = tmp_path / "manual"
    _emomusic_fake(root, with_annotations=False)
    b = emomusic.Emomusic(config="default", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        _build(b, root)
    _one_line(e, str(root / "annotations" / "static_annotations.csv"), "MANUAL_DOWNLOAD_INSTRUCTIONS")


# --- T5 Jamendo ----------------------------------------------------------------------------------------------------

NOSING, SING = 300.0, 900.0
# Songs: subset, extension, .lab lines (start, end, label). Audio lasts 2.0 s; the last segment of `a` runs past
# the end (shortened), its extra line starts after it (dropped).
JAM = {"01 - A": ("train", ".ogg",
                  [(0.0, 0.5, "nosing"), (0.5, 1.3, "sing"), (1.3, 2.2, "nosing"), (2.5, 3.0, "sing")]),
       "02 - B": ("train", ".ogg", [(0.0, 1.1, "sing"), (1.1, 2.0, "nosing")]),
       "03 - C": ("valid", ".ogg", [(0.0, 0.7, "nosing"), (0.7, 2.0, "sing")]),
       "04 - D": ("test", ".mp3", [(0.0, 1.0, "nosing"), (1.0, 2.0, "sing")]),
       "05 - E": ("test", ".ogg", [(0.0, 2.0, "sing")])}  # corrupt audio
AUDIO_SECONDS = 2.0


def _jamendo_fake(root, with_labs=True):
    for song, (subset, ext, segs) in JAM.items():
        path = str(root / subset / f"{song}{ext}")
        if song == "05 - E":
            _write(path, CORRUPT)
        else:
            pieces = [({"sing": SING, "nosing": NOSING}[lab], min(b, AUDIO_SECONDS) - a)
                      for a, b, lab in segs if a < AUDIO_SECONDS]
            _write(path, pieces)
        if with_labs:
            (root / jamendo.LAB_DIR).mkdir(exist_ok=True)
            (root / jamendo.LAB_DIR / f"{song}.lab").write_text("".join(f"{a:g} {b:g} {lab}\n" for a, b, lab in segs))
    _write(str(root / "train" / "._00 - Z.ogg"), CORRUPT)  # resource fork: ignored


def test_jamendo_lab_segments(tmp_path):
    root = tmp_path / "manual"
    _jamendo_fake(root)
    builder = jamendo.JamendoVocal(config="default", data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    got = _by_id(examples)
    names = builder.info.features["label"].names
    assert names == ["nosing", "sing"]
    want = {f"{song}_{k}": (song, subset, a, min(b, AUDIO_SECONDS), lab)
            for song, (subset, _, segs) in JAM.items() if song != "05 - E"
            for k, (a, b, lab) in enumerate(segs) if a < AUDIO_SECONDS}
    assert sorted(got) == sorted(want)
    for i, (song, subset, a, b, lab) in want.items():
        ex = got[i]
        assert names[ex["label"]] == lab and ex["group"].decode() == song and ex["subset"].decode() == subset
        assert len(ex["audio"]) == round(b * SR) - round(a * SR), i
        if not song.endswith("D"):  # the mp3's encoder delay shifts its boundaries a little
            assert abs(peak_hz(ex["audio"], SR) - {"sing": SING, "nosing": NOSING}[lab]) < 10.0, i
    meta = builder.info.metadata
    assert meta["segments_outside_audio"] == 1 and meta["songs"] == {"train": 2, "valid": 1, "test": 2}
    _check_skipped(builder, warnings, root, [os.path.join("test", "05 - E.ogg")], 5)


def test_jamendo_fixed_windows_inside_segments(tmp_path):
    root = tmp_path / "manual"
    _jamendo_fake(root)
    builder = jamendo.JamendoVocal(config=jamendo.JamendoConfig(name="w", segment_seconds=0.25),
                                   data_dir=str(tmp_path / "tfds"))
    examples, _ = _build(builder, root)
    want = {}
    for song, (_, _, segs) in JAM.items():
        for k, (a, b, lab) in enumerate(segs):
            if song != "05 - E" and a < AUDIO_SECONDS:
                for w in range(int((round(min(b, AUDIO_SECONDS) * SR) - round(a * SR)) // (0.25 * SR))):
                    want[f"{song}_{k}_{w}"] = lab
    got = _by_id(examples)
    assert sorted(got) == sorted(want)
    for i, lab in want.items():
        assert len(got[i]["audio"]) == 0.25 * SR
        assert builder.info.features["label"].names[got[i]["label"]] == lab


def test_jamendo_missing_labels_is_one_line(tmp_path):
    root = tmp_path / "manual"
    _jamendo_fake(root, with_labs=False)
    with pytest.raises(manual.ManualDataError) as e:
        _build(jamendo.JamendoVocal(config="default", data_dir=str(tmp_path / "tfds")), root)
    _one_line(e, str(root / jamendo.LAB_DIR), ".lab")


# --- T6 UrbanSound8K ---------------------------------------------------------------------------------------------

US = [("100032-3-0-0.wav", 100032, 3, 5), ("100263-2-0-117.wav", 100263, 2, 5), ("100263-2-0-121.wav", 100263, 2, 5),
      ("100648-1-0-0.wav", 100648, 1, 10), ("101415-3-0-2.wav", 101415, 3, 1), ("102305-6-0-0.wav", 102305, 6, 1)]
US_CORRUPT = "100648-1-0-0.wav"


def _urbansound_fake(root, with_metadata=True):
    base = root / us8k.RELEASE_DIR
    (base / "metadata").mkdir(parents=True)
    if with_metadata:
        with open(base / "metadata" / "UrbanSound8K.csv", "w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["slice_file_name", "fsID", "start", "end", "salience", "fold", "classID", "class"])
            for fn, fs, cid, fold in US:
                w.writerow([fn, fs, 0.0, 0.4, 1, fold, cid, us8k.CLASSES[cid]])
    for k, (fn, _, _, fold) in enumerate(US):
        path = str(base / "audio" / f"fold{fold}" / fn)
        if fn == US_CORRUPT:
            _write(path, CORRUPT)
        else:  # stereo 24-bit, as many of the release's files: downmixed
            _write(path, [(350.0 + 100 * k, 0.4)], channels=2, subtype="PCM_24")


def test_urbansound8k_folds_and_groups(tmp_path):
    root = tmp_path / "manual"
    _urbansound_fake(root)
    builder = us8k.Urbansound8k(config="default", data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    got = _by_id(examples)
    assert sorted(got) == sorted(fn[:-4] for fn, *_ in US if fn != US_CORRUPT)
    assert builder.info.features["label"].names == list(us8k.CLASSES)
    for k, (fn, fs, cid, fold) in enumerate(US):
        if fn == US_CORRUPT:
            continue
        ex = got[fn[:-4]]
        assert (ex["label"], ex["group"].decode(), int(ex["fold"])) == (cid, str(fs), fold)
        assert ex["fold"].dtype == np.int32 and len(ex["audio"]) == 0.4 * SR
        assert abs(peak_hz(ex["audio"], SR) - (350.0 + 100 * k)) < 8.0
    _check_skipped(builder, warnings, root, [os.path.join(us8k.RELEASE_DIR, "audio", "fold10", US_CORRUPT)], 6)


def test_urbansound8k_missing_metadata_is_one_line(tmp_path):
    root = tmp_path / "manual"
    _urbansound_fake(root, with_metadata=False)
    with pytest.raises(manual.ManualDataError) as e:
        _build(us8k.Urbansound8k(config="default", data_dir=str(tmp_path / "tfds")), root)
    _one_line(e, str(root / us8k.RELEASE_DIR / "metadata" / "UrbanSound8K.csv"))


# --- game_soundtracks ---------------------------------------------------------------------------------------------

def _ar(members):
    """An ar archive (a .deb) of [(name, bytes)]."""
    out = [b"!<arch>\n"]
    for name, data in members:
        out.append(f"{name:<16}{0:<12}{0:<6}{0:<6}{100644:<8}{len(data):<10}`\n".encode())
        out.append(data + (b"\n" if len(data) % 2 else b""))
    return b"".join(out)


def _tar_xz(files):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:xz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _ogg_bytes(pieces, sr=SR):
    buf = io.BytesIO()
    sf.write(buf, _tone(pieces, sr), sr, format="OGG", subtype="VORBIS")
    return buf.getvalue()


# Tracks with one frequency per second, so each 1-s clip can be traced to its place in its track.
GS_TRACKS = {
    "pkg-a/a/music/t1.ogg": [(400.0, 1.0), (600.0, 1.0), (800.0, 0.6)],  # 2 clips, 0.6 s dropped
    "pkg-a/a/music/t2.ogg": [(1000.0, 0.7)],  # shorter than a clip, ≥ min_seconds: one 0.7-s clip
    "pkg-a/a/music/t3.ogg": [(1200.0, 0.3)],  # < min_seconds: dropped
    "pkg-b/b/data/music.pk3/music/u1.ogg": [(1400.0, 1.0), (1600.0, 1.0), (1800.0, 1.2)],  # 3 clips
    "pkg-c/c/x.opus": [(2000.0, 1.0), (2200.0, 0.5)],  # Opus at 48 kHz: 1 clip
}


def _pkg_b_deb():
    pk3 = io.BytesIO()
    with zipfile.ZipFile(pk3, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("music/", b"")
        z.writestr("music/u1.ogg", _ogg_bytes(GS_TRACKS["pkg-b/b/data/music.pk3/music/u1.ogg"]))
        z.writestr("readme.txt", b"not audio")
    data = _tar_xz({"./usr/share/doc/pkg-b/copyright": b"free", "./usr/share/games/b/data/music.pk3": pk3.getvalue()})
    return _ar([("debian-binary", b"2.0\n"), ("control.tar.xz", _tar_xz({"./control": b"Package: pkg-b\n"})),
                ("data.tar.xz", data)])


def _gs_config(name="t", **kw):
    return gs.GameSoundtracksConfig(name=name, packages=("pkg-a", "pkg-b", "pkg-c"), clip_seconds=1.0,
                                    min_seconds=0.5, **kw)


def test_game_soundtracks_from_folders_debs_and_pk3(tmp_path):
    root = tmp_path / "manual"
    for track, pieces in GS_TRACKS.items():
        pkg, rel = track.split("/", 1)
        if pkg == "pkg-a":
            _write(str(root / pkg / "usr" / "share" / "games" / rel), pieces)  # ids drop usr/share/games/
        elif pkg == "pkg-c":
            _write(str(root / pkg / rel), pieces, sr=48000)
    _write(str(root / "pkg-a" / "usr" / "share" / "games" / "a" / "music" / "broken.ogg"), CORRUPT)
    (root / "pkg-b_1.0-1_all.deb").write_bytes(_pkg_b_deb())  # as `apt-get download` leaves it
    builder = gs.GameSoundtracks(config=_gs_config(fetch=False), data_dir=str(tmp_path / "tfds"))
    examples, warnings = _build(builder, root)
    names = builder.info.features["label"].names
    assert names == ["pkg-a", "pkg-b", "pkg-c"]
    want = {}  # id → (track, Hz, samples)
    for track, pieces in GS_TRACKS.items():
        total = sum(s for _, s in pieces)
        if total < 1.0:
            if total >= 0.5:
                want[f"{track}@0s"] = (track, pieces[0][0], round(total * SR))
            continue
        for k in range(int(total // 1.0)):
            want[f"{track}@{k}s"] = (track, pieces[k][0], SR)
    got = _by_id(examples)
    assert sorted(got) == sorted(want)
    for i, (track, hz, n) in want.items():
        ex = got[i]
        assert names[ex["label"]] == track.split("/")[0] and ex["group"].decode() == track
        assert abs(len(ex["audio"]) - n) <= 1, i
        assert abs(peak_hz(ex["audio"], SR) - hz) < 10.0, i
    meta = builder.info.metadata
    assert meta["clips"] == {"pkg-a": 3, "pkg-b": 3, "pkg-c": 1}
    assert meta["packages"]["pkg-b"] == {"source": "pkg-b_1.0-1_all.deb", "tracks": 1}
    # Only the audio and archives of the .deb were unpacked, into the data dir's downloads, not the manual dir.
    unpacked = tmp_path / "tfds" / "downloads" / gs.WORK_DIR / "unpacked" / "pkg-b"
    assert (unpacked / "usr" / "share" / "games" / "b" / "data" / "music.pk3").is_file()
    assert not (unpacked / "usr" / "share" / "doc").exists()
    broken = os.path.join("pkg-a", "usr", "share", "games", "a", "music", "broken.ogg")
    _check_skipped(builder, warnings, root, [broken], 6)


def test_game_soundtracks_clip_indices_spread_over_the_track():
    assert gs.clip_indices(5, 0) == [0, 1, 2, 3, 4] and gs.clip_indices(3, 5) == [0, 1, 2]
    assert gs.clip_indices(10, 4) == [0, 3, 6, 9] and gs.clip_indices(21, 3) == [0, 10, 20]


def _fake_apt_get(tmp_path, monkeypatch):
    """An `apt-get` on PATH that 'downloads' pkg-b (writes its .deb into the working directory) and knows no
    other package, as the real one answers for an unknown name."""
    src = tmp_path / "pool" / "pkg-b_1.0-1_all.deb"
    src.parent.mkdir()
    src.write_bytes(_pkg_b_deb())
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "apt-get"
    script.write_text(f"#!/bin/sh\n[ \"$1\" = download ] && [ \"$2\" = pkg-b ] && cp '{src}' . && exit 0\n"
                      f"echo \"E: Unable to locate package $2\" >&2\nexit 100\n")
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")


def test_game_soundtracks_fetches_with_apt_get_into_the_data_cache(tmp_path, monkeypatch):
    _fake_apt_get(tmp_path, monkeypatch)
    cfg = gs.GameSoundtracksConfig(name="f", packages=("pkg-b",), clip_seconds=1.0)
    builder = gs.GameSoundtracks(config=cfg, data_dir=str(tmp_path / "tfds"))
    examples, _ = _build(builder)  # no manual dir
    assert (tmp_path / "tfds" / "downloads" / gs.WORK_DIR / "pkg-b_1.0-1_all.deb").is_file()
    assert sorted(_by_id(examples)) == [f"pkg-b/b/data/music.pk3/music/u1.ogg@{k}s" for k in range(3)]

    bad = gs.GameSoundtracksConfig(name="g", packages=("pkg-b", "pkg-z"), clip_seconds=1.0)
    with pytest.raises(manual.ManualDataError) as e:
        _build(gs.GameSoundtracks(config=bad, data_dir=str(tmp_path / "tfds2")))
    _one_line(e, "apt-get download pkg-z", "Unable to locate package pkg-z", "apt-get update")


# --- every builder: a missing manual directory is one line ----------------------------------------------------------

@pytest.mark.parametrize("make", [
    lambda d: ballroom.ExtendedBallroom(config="default", data_dir=d),
    lambda d: gsm.GtzanSpeechMusic(config="default", data_dir=d),
    lambda d: emomusic.Emomusic(config="default", data_dir=d),
    lambda d: jamendo.JamendoVocal(config="default", data_dir=d),
    lambda d: us8k.Urbansound8k(config="default", data_dir=d),
    lambda d: gs.GameSoundtracks(config="manual", data_dir=d),
], ids=["extended_ballroom", "gtzan_speech_music", "emomusic", "jamendo_vocal", "urbansound8k", "game_soundtracks"])
def test_missing_manual_dir_is_one_line(make, tmp_path):
    absent = tmp_path / "absent"
    with pytest.raises(manual.ManualDataError) as e:
        _build(make(str(tmp_path / "tfds")), absent)
    _one_line(e, str(absent), "MANUAL_DOWNLOAD_INSTRUCTIONS")


def test_missing_manual_dir_cli_is_one_line(tmp_path, capsys):
    from mirjax import cli
    absent = tmp_path / "absent"
    rc = cli.main(["data", "build", "emomusic", "--manual_dir", str(absent), "--data_dir", str(tmp_path / "tfds")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(absent) in err[0]


def test_builders_are_registered_with_their_configs():
    import mirjax.data  # noqa: F401  (registers the builders)
    for name, configs in [("extended_ballroom", ["default", "12k"]), ("gtzan_speech_music", ["default", "12k"]),
                          ("emomusic", ["default", "12k"]), ("jamendo_vocal", ["default", "12k", "windows_1s"]),
                          ("urbansound8k", ["default", "12k"]), ("game_soundtracks", ["default", "12k", "manual"])]:
        cls = tfds.builder_cls(name)
        assert [c.name for c in cls.BUILDER_CONFIGS] == configs
        assert [c.sample_rate for c in cls.BUILDER_CONFIGS][:2] == [16000, 12000]
