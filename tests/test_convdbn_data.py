"""Beat-aligned chroma/timbre (Dieleman thesis Ch. 2 §2.2.2): beat averaging against a direct loop, and the
`msd_echonest` builder on fake MSD track files with the real HDF5 layout (incl. a broken file and duplicates)."""


import h5py
import numpy as np
import pytest

from builder_refs import build_train
from mirjax.data import beat_features, manual, msd_echonest


def direct_beat_average(seg_starts, feats, beats):
    """Each segment to the beat its start falls in (before the first beat: the first); an empty beat copies the
    segment sounding at its start."""
    out = []
    for i, b in enumerate(beats):
        end = beats[i + 1] if i + 1 < len(beats) else np.inf
        lo = -np.inf if i == 0 else b
        members = [f for s, f in zip(seg_starts, feats) if lo <= s < end]
        if members:
            out.append(np.mean(members, axis=0))
        else:
            sounding = [f for s, f in zip(seg_starts, feats) if s <= b]
            out.append(sounding[-1] if sounding else feats[0])
    return np.array(out)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_beat_average_matches_a_direct_loop(seed):
    rng = np.random.default_rng(seed)
    seg = np.sort(rng.uniform(0, 20, 60))
    beats = np.sort(rng.uniform(0.5, 21, 30))  # some beats hold no segment start, some segments precede beat 0
    feats = rng.normal(size=(60, 24))
    np.testing.assert_allclose(beat_features.beat_average(seg, feats, beats), direct_beat_average(seg, feats, beats),
                               rtol=1e-5, atol=1e-6)


def test_subdivide_splits_beats_evenly():
    np.testing.assert_allclose(beat_features.subdivide(np.array([1.0, 2.0, 4.0]), 2), [1, 1.5, 2, 3, 4, 5])


# --- msd_echonest on fake track files ------------------------------------------------------------------------

def write_track(path, track_id, artist, key, n_seg, n_beats, rng):
    path.parent.mkdir(parents=True, exist_ok=True)
    starts = np.sort(rng.uniform(0, 30, n_seg))
    starts[0] = 0.0
    pitches, timbre = rng.uniform(0, 1, (n_seg, 12)), rng.normal(0, 50, (n_seg, 12))
    beats = np.linspace(0.3, 29, n_beats)
    with h5py.File(path, "w") as h5:  # the layout of the MSD's hdf5_getters.py (tables of one row per file)
        an = h5.create_group("analysis")
        song = np.zeros(1, dtype=[("track_id", "S18"), ("key", "<i4"), ("key_confidence", "<f8"),
                                  ("mode", "<i4"), ("duration", "<f8"), ("idx_segments_start", "<i4")])
        song[0] = (track_id.encode(), key, 0.8, 1, 30.0, 0)
        an.create_dataset("songs", data=song)
        an.create_dataset("segments_start", data=starts)
        an.create_dataset("segments_pitches", data=pitches)
        an.create_dataset("segments_timbre", data=timbre)
        an.create_dataset("segments_loudness_max", data=rng.normal(-20, 3, n_seg))
        an.create_dataset("beats_start", data=beats)
        meta = h5.create_group("metadata")
        info = np.zeros(1, dtype=[("artist_name", "S64"), ("artist_id", "S18"), ("title", "S64")])
        info[0] = (artist.encode(), b"AR" + track_id[2:].encode(), b"Song " + track_id.encode())
        meta.create_dataset("songs", data=info)
        h5.create_group("musicbrainz").create_dataset("artist_mbtags", data=np.array([b"rock", b"punk"]))
    return direct_beat_average(starts, np.concatenate([pitches, timbre], axis=1), beats)


@pytest.fixture(scope="module")
def msd_fake(tmp_path_factory):
    root = tmp_path_factory.mktemp("msd_echonest")
    rng = np.random.default_rng(0)
    expected = {}
    for i, tid in enumerate(["TRAAAAA128F1", "TRAABBB128F2", "TRABCCC128F3", "TRBAAAA128F4"]):
        p = root / "data" / tid[2] / tid[3] / tid[4] / f"{tid}.h5"
        expected[tid] = (write_track(p, tid, f"Artist {i % 2}", i + 3, 40 + 5 * i, 20 + i, rng), i + 3)
    broken = root / "data" / "A" / "Z" / "Z" / "TRAZZZZ128F9.h5"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"\x89HDF\r\n\x1a\n truncated")
    (root / "msd_duplicates.txt").write_text(
        "# MSD duplicates\n%1 Artist 0 - Song\nTRAAAAA128F1\nTRABCCC128F3\n%2 Other\nTRXXXXX128F0\n")
    return root, expected, "TRABCCC128F3"


def test_msd_echonest_reads_beats_keys_artists_skipping_broken_and_duplicate_files(msd_fake, tmp_path):
    root, expected, duplicate = msd_fake
    builder = msd_echonest.MsdEchonest(data_dir=str(tmp_path))
    examples, warnings = build_train(builder, root)
    got = {ex["track_id"].decode(): ex for ex in examples}
    assert set(got) == set(expected) - {duplicate}
    for tid, ex in got.items():
        beats, key = expected[tid]
        np.testing.assert_allclose(ex["beats"], beats, rtol=1e-5, atol=1e-4)
        assert ex["key"] == key and ex["artist"].decode().startswith("Artist")
        assert [t.decode() for t in ex["artist_mbtags"]] == ["rock", "punk"]
    assert any("TRAZZZZ128F9.h5" in w for w in warnings)
    meta = builder.info.metadata
    assert meta["skipped"]["train"]["unreadable"] == 1 and meta["duplicates_dropped"] == 1


def test_msd_echonest_without_track_folder_is_one_line(tmp_path):
    (tmp_path / "manual").mkdir()
    (tmp_path / "manual" / "readme.txt").write_text("x")
    builder = msd_echonest.MsdEchonest(data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError, match=r"msd_echonest: track folder not found") as e:
        build_train(builder, tmp_path / "manual")
    assert "\n" not in str(e.value)


def test_read_duplicates_keeps_the_first_of_each_group(tmp_path):
    p = tmp_path / "d.txt"
    p.write_text("# c\n%1 a\nTR1\nTR2\nTR3\n%2 b\nTR4\nTR5\n")
    assert msd_echonest.read_duplicates(str(p)) == {"TR2", "TR3", "TR5"}

