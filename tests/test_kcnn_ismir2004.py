"""The ISMIR 2004 genre builder on a fake manual directory with the release's layout (training / development
parts, genre / artist / album folders), a corrupt file (reported and skipped) and a macOS resource fork."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf
import tensorflow_datasets as tfds

from builder_refs import peak_hz, prepare as _build
from mirjax.data import ismir2004, manual

SR = ismir2004.SAMPLE_RATE  # written at the builder's rate: no resampling (and no numba compilation) in the test
CORRUPT = b"this is not audio " * 64


def _tone(path, hz, seconds=0.3):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t = np.arange(int(seconds * SR)) / SR
    sf.write(path, (0.4 * np.sin(2 * np.pi * hz * t)).astype(np.float32), SR, format="MP3")


def test_ismir2004_builder(tmp_path):
    root = tmp_path / "manual"
    audio = root / ismir2004.RELEASE_DIR / "audio"
    expected = {}  # split → {id: (genre, Hz, artist)}
    for split, part in ismir2004.PARTS.items():
        expected[split] = {}
        for g, genre in enumerate(ismir2004.GENRES):
            folder = genre.upper() if genre == "world" else genre  # genre folders match case-insensitively
            for a in range(2 if genre == "classical" else 1):
                artist = f"artist_{g}{a}"
                rel = os.path.join(artist, "album_1", f"0{a + 1}-track.mp3")
                hz = 300.0 + 70 * len(expected[split]) + (35 if split == "test" else 0)
                _tone(str(audio / part / folder / rel), hz)
                expected[split][f"{genre}/{rel}"] = (genre, hz, artist)
    corrupt = os.path.join(ismir2004.RELEASE_DIR, "audio", "training", "rock_pop", "artist_x", "al", "bad.mp3")
    os.makedirs(os.path.dirname(root / corrupt))
    (root / corrupt).write_bytes(CORRUPT)
    (audio / "development" / "jazz_blues" / "._hidden.mp3").write_bytes(CORRUPT)  # not listed
    # The evaluation part is not read.
    _tone(str(audio / "evaluation" / "classical" / "a" / "b" / "x.mp3"), 500.0)

    builder = ismir2004.Ismir2004Genre(config="default", data_dir=str(tmp_path / "tfds"))
    warnings = _build(builder, root)
    assert sorted(builder.info.splits) == ["test", "train"]
    names = builder.info.features["label"].names
    assert names == list(ismir2004.GENRES)
    for split in ("train", "test"):
        got = {ex["id"].decode(): ex for ex in tfds.as_numpy(builder.as_dataset(split=split))}
        assert sorted(got) == sorted(expected[split])
        for i, ex in got.items():
            genre, hz, artist = expected[split][i]
            assert names[ex["label"]] == genre and ex["group"].decode() == artist
            assert ex["audio"].dtype == np.int16 and abs(len(ex["audio"]) - 0.3 * SR) < 0.05 * SR
            assert abs(peak_hz(ex["audio"], SR) - hz) < 8.0, i
    meta = builder.info.metadata
    assert meta["listed"] == {"train": 8, "test": 7}
    assert meta["skipped"] == {"train": {"missing": 0, "unreadable": 1}, "test": {"missing": 0, "unreadable": 0}}
    assert [p for p, _ in meta["skipped_files"]["train"]] == [corrupt]
    assert any(f"skipped {root / corrupt}" in w for w in warnings), warnings


def test_ismir2004_middle_seconds():
    x = np.arange(100)
    np.testing.assert_array_equal(ismir2004.middle(x, 2.0, 10), np.arange(40, 60))
    np.testing.assert_array_equal(ismir2004.middle(x, 0.0, 10), x)
    np.testing.assert_array_equal(ismir2004.middle(x, 20.0, 10), x)


def test_ismir2004_missing_layout_is_one_line(tmp_path):
    (tmp_path / "manual" / "something").mkdir(parents=True)
    builder = ismir2004.Ismir2004Genre(config="default", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        _build(builder, tmp_path / "manual")
    assert "\n" not in str(e.value) and "audio/training" in str(e.value)
