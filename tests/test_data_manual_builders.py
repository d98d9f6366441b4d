"""magnatagatune and msd_lastfm50: each built from a tiny fake manual directory with the real release's
layout (real mp3s, one corrupt and one missing file), checked against the fake annotations.

Every clip is a sine at its own frequency, so an example's audio can be traced back to the file it came
from independently of the builder's bookkeeping.
"""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import soundfile as sf
import tensorflow as tf
import tensorflow_datasets as tfds

from builder_refs import build as _build, peak_hz as _peak_hz
from mirjax import cli
from mirjax.data import magnatagatune as mtt, manual, msd

SPLITS = ("train", "validation", "test")
CLIP_SECONDS = 1.0


def _hide_gpus_from_tf() -> None:
    tf.config.set_visible_devices([], "GPU")


def _write_mp3(path, freq: float, sr: int = 16000, stereo: bool = False) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    t = np.arange(int(sr * CLIP_SECONDS)) / sr
    x = (0.4 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
    sf.write(path, np.stack([x, x], 1) if stereo else x, sr, format="MP3")


def _one_line_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, (n, msg)


# --- MagnaTagATune ----------------------------------------------------------------------------

N_ROWS, N_COLS = 60, 55  # > 50 tag columns, and enough rows for 55 distinct column counts
MTT_CORRUPT, MTT_MISSING = 5, 13  # rows: folder 5 (train), folder d (test)


def _mtt_freq(row: int) -> float:
    return 300.0 + 40.0 * row


@pytest.fixture(scope="module")
def mtt_fake(tmp_path_factory):
    """A fake MTT manual dir: annotations_final.csv (55 tags, distinct counts), 16 folders of mp3s, and
    Won-style split/mtat/*.npy. Returns a dict of what was written."""
    root = tmp_path_factory.mktemp("mtt_manual")
    rng = np.random.default_rng(0)
    tags = ["guitar", "classical", "no voice", "male vocal", "new age"] + [f"tag{j}" for j in range(5, N_COLS)]
    counts = rng.permutation(np.arange(5, 5 + N_COLS))  # distinct, in shuffled column order
    matrix = np.zeros((N_ROWS, N_COLS), np.uint8)
    for j, c in enumerate(counts):
        matrix[rng.choice(N_ROWS, size=c, replace=False), j] = 1
    clip_ids = [str(2 + 3 * i) for i in range(N_ROWS)]  # gaps, like the release
    paths = [f"{'0123456789abcdef'[i % 16]}/artist_{i:02d}-album-{i:02d}-track__{i}-30-59.mp3"
             for i in range(N_ROWS)]
    with open(root / "annotations_final.csv", "w", newline="") as f:
        w = csv.writer(f, delimiter="\t", quoting=csv.QUOTE_ALL)
        w.writerow(["clip_id"] + tags + ["mp3_path"])
        for i in range(N_ROWS):
            w.writerow([clip_ids[i]] + [str(v) for v in matrix[i]] + [paths[i]])
    (root / "clip_info_final.csv").write_text('"clip_id"\t"title"\n')
    for i, p in enumerate(paths):
        if i == MTT_MISSING:
            continue
        if i == MTT_CORRUPT:
            (root / p).parent.mkdir(parents=True, exist_ok=True)
            (root / p).write_bytes(b"this is not an mp3 " * 64)
            continue
        # A few 44.1-kHz stereo files exercise resampling and downmixing.
        _write_mp3(str(root / p), _mtt_freq(i), sr=44100 if i % 10 == 3 else 16000, stereo=i % 10 == 3)

    # Independent top-50: distinct counts, so simply the 50 largest, largest first.
    top = sorted(range(N_COLS), key=lambda j: -int(matrix[:, j].sum()))[:50]
    # Won-style clean split: a subset of each folder split, including the corrupt and missing rows;
    # their tags.npy order differs from ours (reversed) and binary.npy holds the matching labels.
    folder = {i: int(paths[i][0], 16) for i in range(N_ROWS)}
    clean = {"train": [i for i in range(N_ROWS) if folder[i] < 12 and (i % 3 == 0 or i == MTT_CORRUPT)],
             "validation": [i for i in range(N_ROWS) if folder[i] == 12][:2],
             "test": [i for i in range(N_ROWS) if folder[i] > 12 and (i % 2 == 1 or i == MTT_MISSING)]}
    won_top = top[::-1]
    split_dir = root / "split" / "mtat"
    split_dir.mkdir(parents=True)
    for s, fname in (("train", "train.npy"), ("validation", "valid.npy"), ("test", "test.npy")):
        np.save(split_dir / fname, np.array([f"{i}\t{paths[i]}" for i in clean[s]]))
    np.save(split_dir / "tags.npy", np.array([tags[j] for j in won_top]))
    np.save(split_dir / "binary.npy", matrix[:, won_top].astype(np.float64))
    return {"root": root, "tags": tags, "matrix": matrix, "clip_ids": clip_ids, "paths": paths,
            "folder": folder, "top": top, "won_top": won_top, "clean": clean}


@pytest.fixture(scope="module")
def mtt_original(mtt_fake, tmp_path_factory):
    _hide_gpus_from_tf()
    builder = mtt.Magnatagatune(config="original", data_dir=str(tmp_path_factory.mktemp("tfds_mtt")))
    examples, warnings = _build(builder, mtt_fake["root"])
    return builder, examples, warnings


@pytest.fixture(scope="module")
def mtt_clean(mtt_fake, tmp_path_factory):
    _hide_gpus_from_tf()
    builder = mtt.Magnatagatune(config="clean", data_dir=str(tmp_path_factory.mktemp("tfds_mtt_clean")))
    examples, _ = _build(builder, mtt_fake["root"])
    return builder, examples


def _check_mtt_examples(fake, examples, expected_rows, cols, sr):
    row_of = {c: i for i, c in enumerate(fake["clip_ids"])}
    for s in SPLITS:
        got = sorted(row_of[ex["clip_id"].decode()] for ex in examples[s])
        assert got == sorted(expected_rows[s]), s
        for ex in examples[s]:
            i = row_of[ex["clip_id"].decode()]
            np.testing.assert_array_equal(ex["tags"], fake["matrix"][i, cols])
            assert ex["tags"].dtype == np.uint8 and ex["tags"].shape == (50,)
            assert ex["audio"].dtype == np.int16 and ex["audio"].ndim == 1
            assert abs(len(ex["audio"]) / sr - CLIP_SECONDS) < 0.1
            assert abs(_peak_hz(ex["audio"], sr) - _mtt_freq(i)) < 5.0, (s, i)


def test_top_tags_by_count_then_column_order():
    assert mtt.top_tags([3, 5, 5, 1, 5, 0], k=4).tolist() == [1, 2, 4, 0]


def test_mtt_original_split_sizes_labels_and_audio(mtt_fake, mtt_original):
    builder, examples, warnings = mtt_original
    fake = mtt_fake
    rows = {"train": [i for i in range(N_ROWS) if fake["folder"][i] < 12],
            "validation": [i for i in range(N_ROWS) if fake["folder"][i] == 12],
            "test": [i for i in range(N_ROWS) if fake["folder"][i] > 12]}
    assert [len(rows[s]) for s in SPLITS] == [48, 3, 9]
    kept = {s: [i for i in rows[s] if i not in (MTT_CORRUPT, MTT_MISSING)] for s in SPLITS}
    assert {s: builder.info.splits[s].num_examples for s in SPLITS} == {"train": 47, "validation": 3, "test": 8}
    meta = builder.info.metadata
    assert meta["tag_names"] == [fake["tags"][j] for j in fake["top"]]
    assert set(meta["tag_names"]).isdisjoint(
        fake["tags"][j] for j in set(range(N_COLS)) - set(fake["top"]))
    assert {t: mtt.tag_category(t) for t in ("guitar", "classical", "no voice", "male vocal", "new age",
                                             "tag7")} == {
        "guitar": "instrument", "classical": "genre", "no voice": "vocal", "male vocal": "vocal",
        "new age": "genre", "tag7": "other"}
    assert set(meta["tag_categories"]) == set(meta["tag_names"])
    assert set(meta["tag_categories"].values()) <= set(mtt.CATEGORIES)
    assert builder.info.features["audio"].sample_rate == 16000
    assert builder.info.features["audio"].shape == (None,)
    _check_mtt_examples(fake, examples, kept, fake["top"], 16000)
    # Skips: counted in the metadata, one warning line per bad file with its path and reason.
    assert meta["skipped"] == {"train": {"missing": 0, "unreadable": 1},
                               "validation": {"missing": 0, "unreadable": 0},
                               "test": {"missing": 1, "unreadable": 0}}
    assert meta["listed"] == {"train": 48, "validation": 3, "test": 9}
    corrupt, missing = (fake["paths"][MTT_CORRUPT], fake["paths"][MTT_MISSING])
    assert [p for p, _ in meta["skipped_files"]["train"]] == [corrupt]
    assert meta["skipped_files"]["test"] == [[missing, "file not found"]]
    bad_lines = [w for w in warnings if "skipped " + str(fake["root"]) in w]
    assert len(bad_lines) == 2
    assert any(corrupt in w and "corrupt" in w for w in bad_lines)
    assert any(missing in w and "file not found" in w for w in bad_lines)
    assert any("train: kept 47 of 48" in w for w in warnings)


def test_mtt_metadata_is_saved_with_the_dataset(mtt_original):
    builder, _, _ = mtt_original
    reloaded = mtt.Magnatagatune(config="original", data_dir=builder.data_dir.split("/magnatagatune/")[0])
    assert reloaded.is_prepared()
    assert reloaded.info.metadata["tag_names"] == builder.info.metadata["tag_names"]
    assert reloaded.info.metadata["skipped"]["test"] == {"missing": 1, "unreadable": 0}


def test_mtt_clean_follows_won_split_and_tag_order(mtt_fake, mtt_clean):
    builder, examples = mtt_clean
    fake = mtt_fake
    kept = {s: [i for i in fake["clean"][s] if i not in (MTT_CORRUPT, MTT_MISSING)] for s in SPLITS}
    assert {s: builder.info.splits[s].num_examples for s in SPLITS} == {s: len(kept[s]) for s in SPLITS}
    assert [len(fake["clean"][s]) - len(kept[s]) for s in SPLITS] == [1, 0, 1]
    assert builder.info.metadata["tag_names"] == [fake["tags"][j] for j in fake["won_top"]]
    assert "tags.npy" in builder.info.metadata["tag_source"]
    _check_mtt_examples(fake, examples, kept, fake["won_top"], 16000)


def test_mtt_missing_manual_dir_is_one_line(tmp_path):
    absent = tmp_path / "absent"
    b = mtt.Magnatagatune(config="original", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(absent)))
    _one_line_error(e, str(absent), "MANUAL_DOWNLOAD_INSTRUCTIONS")


def test_mtt_missing_annotations_is_one_line(tmp_path):
    (tmp_path / "manual" / "0").mkdir(parents=True)
    b = mtt.Magnatagatune(config="original", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "manual")))
    _one_line_error(e, str(tmp_path / "manual" / "annotations_final.csv"), "MANUAL_DOWNLOAD_INSTRUCTIONS")


def test_mtt_clean_missing_split_file_is_one_line(mtt_fake, tmp_path):
    m = tmp_path / "manual"
    m.mkdir()
    (m / "annotations_final.csv").write_bytes((mtt_fake["root"] / "annotations_final.csv").read_bytes())
    b = mtt.Magnatagatune(config="clean", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(m)))
    _one_line_error(e, str(m / "split" / "mtat" / "train.npy"))


def _mtt_annotations_and_split(fake, m, **replace):
    """A manual dir with the fake's annotations and split/mtat files (no audio); `replace` maps a
    split/mtat file name to the array to write instead."""
    (m / "split" / "mtat").mkdir(parents=True)
    (m / "annotations_final.csv").write_bytes((fake["root"] / "annotations_final.csv").read_bytes())
    for f in (fake["root"] / "split" / "mtat").iterdir():
        if f.name in replace:
            np.save(m / "split" / "mtat" / f.name, replace[f.name])
        else:
            (m / "split" / "mtat" / f.name).write_bytes(f.read_bytes())


def test_mtt_clean_without_tags_npy_computes_the_top_50(mtt_fake, tmp_path):
    ann = mtt.read_annotations(str(mtt_fake["root"] / "annotations_final.csv"))
    np.testing.assert_array_equal(ann.matrix, mtt_fake["matrix"])
    assert ann.tag_names == mtt_fake["tags"] and ann.clip_ids == mtt_fake["clip_ids"]
    cols, source = mtt.Magnatagatune._won_tags(str(tmp_path), ann)  # no split/mtat/tags.npy here
    assert cols.tolist() == mtt_fake["top"] and source.startswith("computed")


@pytest.mark.parametrize("bad_file", ["test.npy", "binary.npy"])
def test_mtt_clean_rejects_split_files_from_another_release(mtt_fake, tmp_path, bad_file):
    fake, m = mtt_fake, tmp_path / "manual"
    if bad_file == "test.npy":  # an entry whose index points at another clip's row
        i = fake["clean"]["test"][0]
        arr = np.array([f"{i + 1}\t{fake['paths'][i]}"])
        needle = f"does not match row {i + 1}"
    else:  # labels that disagree with the annotations
        arr = 1.0 - fake["matrix"][:, fake["won_top"]].astype(np.float64)
        needle = "disagrees with annotations_final.csv"
    _mtt_annotations_and_split(fake, m, **{bad_file: arr})
    b = mtt.Magnatagatune(config="clean", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(m)))
    _one_line_error(e, needle)


# --- MSD / Last.fm top-50 ---------------------------------------------------------------------

MSD_SIZES = {"train": 5, "valid": 3, "test": 3}


@pytest.fixture(scope="module")
def msd_fake(tmp_path_factory):
    """A fake manual dir: MSD_split_for_tagging/{split}_x_msd_id.txt, _x_7d_id.txt, _y.npy and
    previews/<d0>/<d1>/<7d id>.clip.mp3 (22.05 kHz stereo, like the real previews)."""
    root = tmp_path_factory.mktemp("msd_manual")
    split_dir = root / "MSD_split_for_tagging"
    split_dir.mkdir()
    rng = np.random.default_rng(1)
    tracks, k = {}, 0
    for prefix, n in MSD_SIZES.items():
        ids = [f"TR{prefix[:3].upper()}{i:02d}128F93{k + i:04X}" for i in range(n)]
        d7 = [str(int(rng.integers(10, 9_999_999))) for _ in range(n)]
        y = rng.random((n, 50)) < 0.2
        y[:, 0] = True  # every track has a tag
        (split_dir / f"{prefix}_x_msd_id.txt").write_text("\n".join(ids) + "\n")
        (split_dir / f"{prefix}_x_7d_id.txt").write_text("\n".join(d7) + "\n")
        np.save(split_dir / f"{prefix}_y.npy", y)
        for i in range(n):
            tracks[ids[i]] = {"d7": d7[i], "y": y[i], "freq": 250.0 + 50.0 * (k + i), "split": prefix}
        k += n
    train_ids = [t for t in tracks if tracks[t]["split"] == "train"]
    missing, empty = train_ids[1], [t for t in tracks if tracks[t]["split"] == "test"][0]
    for t, info in tracks.items():
        d = info["d7"]
        path = root / "previews" / d[0] / d[1] / f"{d}.clip.mp3"
        if t == missing:
            continue
        if t == empty:  # the repo's README warns of zero-sized previews
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
            continue
        _write_mp3(str(path), info["freq"], sr=22050, stereo=True)
    return {"root": root, "tracks": tracks, "missing": missing, "empty": empty}


@pytest.fixture(scope="module")
def msd_built(msd_fake, tmp_path_factory):
    _hide_gpus_from_tf()
    data_dir = str(tmp_path_factory.mktemp("tfds_msd"))
    builder = msd.MsdLastfm50(config="default", data_dir=data_dir)
    examples, warnings = _build(builder, msd_fake["root"])
    return builder, examples, warnings, data_dir


def test_msd_split_sizes_labels_and_audio(msd_fake, msd_built):
    builder, examples, warnings, _ = msd_built
    tracks = msd_fake["tracks"]
    prefix = {"train": "train", "validation": "valid", "test": "test"}
    bad = {msd_fake["missing"], msd_fake["empty"]}
    kept = {s: sorted(t for t in tracks if tracks[t]["split"] == prefix[s] and t not in bad) for s in SPLITS}
    assert {s: builder.info.splits[s].num_examples for s in SPLITS} == {"train": 4, "validation": 3, "test": 2}
    sr = 12000
    assert builder.info.features["audio"].sample_rate == sr
    for s in SPLITS:
        assert sorted(ex["track_id"].decode() for ex in examples[s]) == kept[s]
        for ex in examples[s]:
            t = tracks[ex["track_id"].decode()]
            np.testing.assert_array_equal(ex["tags"], t["y"].astype(np.uint8))
            assert ex["audio"].dtype == np.int16 and ex["audio"].ndim == 1
            assert abs(len(ex["audio"]) / sr - CLIP_SECONDS) < 0.1
            assert abs(_peak_hz(ex["audio"], sr) - t["freq"]) < 5.0
    meta = builder.info.metadata
    assert meta["skipped"] == {"train": {"missing": 1, "unreadable": 0},
                               "validation": {"missing": 0, "unreadable": 0},
                               "test": {"missing": 0, "unreadable": 1}}
    assert meta["skipped_files"]["test"][0][1] == "empty file (0 bytes)"
    assert len([w for w in warnings if w.startswith("msd_lastfm50: skipped ")]) == 2
    assert meta["tag_names"] == list(msd.TAG_NAMES) and len(msd.TAG_NAMES) == 50
    assert meta["expected_sizes"] == {"train": 201_680, "validation": 12_634, "test": 28_540}


def test_msd_tag_categories_match_choi_counts():
    from collections import Counter
    assert Counter(msd.TAG_CATEGORIES.values()) == {"genre": 28, "mood": 12, "instrument": 5, "era": 5}
    assert [t for t in msd.TAG_NAMES if msd.TAG_CATEGORIES[t] == "era"] == ["00s", "80s", "90s", "70s", "60s"]
    for t, c in (("guitar", "instrument"), ("female vocalists", "instrument"), ("sad", "mood"),
                 ("happy", "mood"), ("chill", "mood"), ("rock", "genre"), ("funk", "genre")):
        assert msd.TAG_CATEGORIES[t] == c


def test_msd_pipeline_decode_and_cli(msd_built, capsys):
    from mirjax.config import base_config
    from mirjax.data import pipeline
    builder, _, _, data_dir = msd_built
    cfg = base_config().dataset
    cfg.name, cfg.sample_rate, cfg.crop_seconds = "msd_lastfm50", builder.info.features["audio"].sample_rate, 1.0
    for batch in pipeline.eval_batches(cfg, builder, "validation", num_crops=1, batch_clips=1):
        if batch["mask"][0]:
            assert batch["input"].dtype == np.float32 and 0.2 < np.abs(batch["input"]).max() <= 1.0
            assert batch["label"].shape == (1, 50)
    # The CLI reports an already built dataset (no rebuild) with its per-split summaries.
    assert cli.main(["data", "build", "msd_lastfm50/default", "--data_dir", data_dir]) == 0
    out = capsys.readouterr().out
    assert "already built" in out and "train: kept 4 of 5 listed clips; skipped 1" in out


def test_msd_missing_label_file_is_one_line(msd_fake, tmp_path):
    m = tmp_path / "manual"
    (m / "MSD_split_for_tagging").mkdir(parents=True)
    for f in (msd_fake["root"] / "MSD_split_for_tagging").iterdir():
        if f.name != "valid_y.npy":
            (m / "MSD_split_for_tagging" / f.name).write_bytes(f.read_bytes())
    b = msd.MsdLastfm50(config="default", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(m)))
    _one_line_error(e, str(m / "MSD_split_for_tagging" / "valid_y.npy"), "MANUAL_DOWNLOAD_INSTRUCTIONS")


def test_msd_missing_manual_dir_cli_is_one_line(tmp_path, capsys):
    absent = tmp_path / "absent"
    rc = cli.main(["data", "build", "msd_lastfm50", "--manual_dir", str(absent), "--data_dir", str(tmp_path / "tfds")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and str(absent) in err[0]
