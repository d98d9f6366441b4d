"""gtzan_genres: built from a tiny fake manual directory with the release's layout (10 genres × 6 real WAV/AU
clips, one corrupt file, one listed-but-missing file), checked against the fake split lists and an
independent recomputation of the folds.

Every clip is a sine at its own frequency, so an example's audio can be traced back to its file.
"""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import soundfile as sf
import tensorflow_datasets as tfds

from builder_refs import build as _build, peak_hz as _peak_hz
from mirjax import cli
from mirjax.data import gtzan, manual

SPLITS = ("train", "validation", "test")
SR = 22050
CLIP_SECONDS = 0.5
PER_GENRE = 6
CORRUPT = "rock.00003"       # garbage bytes; in the filtered validation list
MISSING = "jazz.00007"       # listed in the filtered validation list, not on disk
AU_CLIP = "pop.00002"        # stored as .au (older copies of the release)
UNLISTED = "blues.00005"     # on disk, in no filtered list


def _clip_ids():
    return [f"{g}.{i:05d}" for g in gtzan.GENRES for i in range(PER_GENRE)]


def _freq(clip_id: str) -> float:
    return 300.0 + 50.0 * _clip_ids().index(clip_id)


def _ids(examples):
    return sorted(ex["clip_id"].decode() for ex in examples)


@pytest.fixture(scope="module")
def fake(tmp_path_factory):
    """<root>/genres/<genre>/<clip>.wav and <root>/split/gtzan/*_filtered.txt."""
    root = tmp_path_factory.mktemp("gtzan_manual")
    t = np.arange(int(SR * CLIP_SECONDS)) / SR
    for c in _clip_ids():
        g = c.split(".")[0]
        folder = root / "genres" / g
        folder.mkdir(parents=True, exist_ok=True)
        if c == CORRUPT:
            (folder / f"{c}.wav").write_bytes(b"this is not a wav " * 64)
            continue
        x = (0.4 * np.sin(2 * np.pi * _freq(c) * t)).astype(np.float32)
        if c == AU_CLIP:
            sf.write(str(folder / f"{c}.au"), x, SR, format="AU", subtype="PCM_16")
        else:
            sf.write(str(folder / f"{c}.wav"), x, SR, subtype="PCM_16")
    (root / "genres" / "blues" / ".DS_Store").write_bytes(b"\0")  # not audio: ignored
    # Filtered lists in the release's format; the .au clip is listed as .wav, as in the real lists.
    lists = {"train": [c for c in _clip_ids() if int(c[-1]) < 3],
             "validation": [c for c in _clip_ids() if int(c[-1]) == 3] + [MISSING],
             "test": [c for c in _clip_ids() if int(c[-1]) >= 4 and c != UNLISTED]}
    split_dir = root / "split" / "gtzan"
    split_dir.mkdir(parents=True)
    for s, fn in gtzan.FILTERED_FILES.items():
        (split_dir / fn).write_text("".join(f"{c.split('.')[0]}/{c}.wav\n" for c in lists[s]))
    # The same clips with the genre folders directly in the manual dir (the other accepted layout).
    flat = tmp_path_factory.mktemp("gtzan_flat")
    for g in gtzan.GENRES:
        os.symlink(root / "genres" / g, flat / g)
    return {"root": root, "flat": flat, "lists": lists}


@pytest.fixture(scope="module")
def filtered(fake, tmp_path_factory):
    builder = gtzan.Gtzan(config="fault_filtered", data_dir=str(tmp_path_factory.mktemp("tfds_gtzan")))
    examples, warnings = _build(builder, fake["root"])
    return builder, examples, warnings


def _check_examples(examples):
    for s in SPLITS:
        for ex in examples[s]:
            c = ex["clip_id"].decode()
            assert gtzan.GENRES[ex["genre"]] == c.split(".")[0], (s, c)
            assert ex["audio"].dtype == np.int16 and ex["audio"].ndim == 1
            assert len(ex["audio"]) == int(SR * CLIP_SECONDS)
            assert abs(_peak_hz(ex["audio"], SR) - _freq(c)) < 5.0, (s, c)


def test_filtered_follows_the_lists(fake, filtered):
    builder, examples, warnings = filtered
    lists = fake["lists"]
    expected = {s: sorted(c for c in lists[s] if c not in (CORRUPT, MISSING)) for s in SPLITS}
    assert {s: _ids(examples[s]) for s in SPLITS} == expected
    assert {s: builder.info.splits[s].num_examples for s in SPLITS} == {"train": 30, "validation": 9,
                                                                         "test": 19}
    assert AU_CLIP in expected["train"] and UNLISTED not in sum(expected.values(), [])
    _check_examples(examples)
    info = builder.info
    assert info.features["genre"].names == list(gtzan.GENRES)
    assert info.features["audio"].sample_rate == SR and info.metadata["sample_rate"] == SR
    meta = info.metadata
    assert meta["listed"] == {"train": 30, "validation": 11, "test": 19}
    assert meta["skipped"] == {"train": {"missing": 0, "unreadable": 0},
                               "validation": {"missing": 1, "unreadable": 1},
                               "test": {"missing": 0, "unreadable": 0}}
    assert meta["expected_sizes"] == {"train": 443, "validation": 197, "test": 290}
    assert sorted(p for p, _ in meta["skipped_files"]["validation"]) == [
        os.path.join("genres", "jazz", f"{MISSING}.wav"), os.path.join("genres", "rock", f"{CORRUPT}.wav")]
    bad = [w for w in warnings if "skipped " + str(fake["root"]) in w]
    assert len(bad) == 2 and any(MISSING in w and "file not found" in w for w in bad)


def _fold_expectation(clips, n_folds, fold):
    """Independent: sklearn's folds over the sorted on-disk clip list, validation = a tenth of the rest."""
    from sklearn.model_selection import StratifiedKFold
    clips = sorted(clips, key=lambda c: (gtzan.GENRES.index(c.split(".")[0]), c))
    y = np.array([gtzan.GENRES.index(c.split(".")[0]) for c in clips])
    rest, test = list(StratifiedKFold(n_folds, shuffle=True, random_state=0).split(y, y))[fold]
    n_val = min(10, int(np.bincount(y[rest]).max()))  # 10 needs ≥ 10 clips of some genre
    tr, va = next(StratifiedKFold(n_val, shuffle=True, random_state=0).split(y[rest], y[rest]))
    return {"train": [clips[i] for i in rest[tr]], "validation": [clips[i] for i in rest[va]],
            "test": [clips[i] for i in test]}


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_five_folds_partition_the_readable_clips(fake, tmp_path_factory):
    readable = sorted(c for c in _clip_ids() if c != CORRUPT)
    tests = []
    for k in range(5):
        builder = gtzan.Gtzan(config=f"5fold_{k}", data_dir=str(tmp_path_factory.mktemp(f"tfds_5fold_{k}")))
        # Alternate the two layouts: the folds must not depend on where the genre folders lie.
        examples, _ = _build(builder, fake["root"] if k % 2 else fake["flat"])
        got = {s: _ids(examples[s]) for s in SPLITS}
        assert sorted(sum(got.values(), [])) == readable, k
        want = _fold_expectation(_clip_ids(), 5, k)
        assert got == {s: sorted(c for c in want[s] if c != CORRUPT) for s in SPLITS}, k
        # Stratified: every genre in each listed test fold, 1–2 of its 6 clips.
        per_genre = np.bincount([gtzan.GENRES.index(c.split(".")[0]) for c in want["test"]], minlength=10)
        assert per_genre.min() >= 1 and per_genre.max() <= 2, k
        assert builder.info.metadata["fold"] == k and builder.info.metadata["n_folds"] == 5
        tests += got["test"]
        if k == 0:
            _check_examples(examples)
    assert sorted(tests) == readable  # each readable clip in exactly one test fold


@pytest.mark.filterwarnings("ignore:The least populated class")
def test_ten_fold_config(fake, tmp_path):
    """6 clips per genre are too few for 10 folds (one line); with 4 more per genre it builds."""
    builder = gtzan.Gtzan(config="10fold_7", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        _build(builder, fake["root"])
    _one_line_error(e, "too few for 10 stratified folds")
    m = tmp_path / "manual"
    t = np.arange(int(SR * CLIP_SECONDS)) / SR
    clips = []
    for j, g in enumerate(gtzan.GENRES):
        (m / g).mkdir(parents=True)
        for i in range(10):
            c = f"{g}.{i:05d}"
            clips.append(c)
            if i < PER_GENRE:
                os.symlink(fake["root"] / "genres" / g / (c + (".au" if c == AU_CLIP else ".wav")),
                           m / g / (c + (".au" if c == AU_CLIP else ".wav")))
            else:
                sf.write(str(m / g / f"{c}.wav"), 0.3 * np.sin(2 * np.pi * (5000 + 40 * (4 * j + i)) * t), SR)
    builder = gtzan.Gtzan(config="10fold_7", data_dir=str(tmp_path / "tfds2"))
    examples, _ = _build(builder, m)
    want = _fold_expectation(clips, 10, 7)
    assert {s: _ids(examples[s]) for s in SPLITS} == {s: sorted(c for c in want[s] if c != CORRUPT)
                                                      for s in SPLITS}
    assert sorted(c.split(".")[0] for c in want["test"]) == sorted(gtzan.GENRES)  # one per genre
    assert [len(want[s]) for s in SPLITS] == [80, 10, 10]  # 9 per genre left: 9 validation folds


@pytest.mark.parametrize("n_folds", [5, 10])
def test_fold_splits_on_the_full_release(n_folds):
    """On 10 × 100 clips: exact stratified sizes, test folds partition everything, no overlaps."""
    y = np.repeat(np.arange(10), 100)
    seen = []
    for k in range(n_folds):
        idx = gtzan.fold_splits(y, n_folds, k)
        n_test, n_val = 1000 // n_folds, (1000 - 1000 // n_folds) // 10
        assert [len(idx[s]) for s in SPLITS] == [1000 - n_test - n_val, n_val, n_test]
        assert np.bincount(y[idx["test"]]).tolist() == [n_test // 10] * 10
        assert np.bincount(y[idx["validation"]]).tolist() == [n_val // 10] * 10
        assert len(np.unique(np.concatenate([idx[s] for s in SPLITS]))) == 1000
        seen += idx["test"].tolist()
    assert sorted(seen) == list(range(1000))
    # Deterministic.
    assert all(np.array_equal(a, b) for a, b in zip(gtzan.fold_splits(y, n_folds, 1).values(),
                                                    gtzan.fold_splits(y, n_folds, 1).values()))


def _one_line_error(excinfo, *needles):
    msg = str(excinfo.value)
    assert "\n" not in msg, msg
    for n in needles:
        assert n in msg, (n, msg)


def test_missing_split_file_is_one_line(fake, tmp_path):
    m = tmp_path / "manual"
    m.mkdir()
    os.symlink(fake["root"] / "genres", m / "genres")
    (m / "split" / "gtzan").mkdir(parents=True)
    for fn in ("train_filtered.txt", "test_filtered.txt"):
        (m / "split" / "gtzan" / fn).write_bytes((fake["root"] / "split" / "gtzan" / fn).read_bytes())
    b = gtzan.Gtzan(config="fault_filtered", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(m)))
    _one_line_error(e, str(m / "split" / "gtzan" / "valid_filtered.txt"), "MANUAL_DOWNLOAD_INSTRUCTIONS")
    # The CLI prints that line and exits 2.
    assert cli.main(["data", "build", "gtzan_genres/fault_filtered", "--manual_dir", str(m), "--data_dir",
                     str(tmp_path / "tfds_cli")]) == 2


def test_missing_manual_dir_and_bad_lines_are_one_line(tmp_path):
    b = gtzan.Gtzan(config="5fold_0", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as e:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(tmp_path / "absent")))
    _one_line_error(e, str(tmp_path / "absent"))
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "readme.txt").write_text("x")
    with pytest.raises(manual.ManualDataError) as e:
        gtzan.find_audio_root(str(tmp_path / "other"))
    _one_line_error(e, "no genre folders")
    bad = tmp_path / "bad.txt"
    bad.write_text("blues/blues.00000.wav\nfolk/folk.00001.wav\n")
    with pytest.raises(manual.ManualDataError) as e:
        gtzan.read_filtered_list(str(bad))
    _one_line_error(e, "line 2", "folk/folk.00001.wav")


def test_registered_name_is_free_of_tfds_own_gtzan():
    """TFDS ships a builder named `gtzan`; importing it and `mirjax.data` in one process must work."""
    assert gtzan.Gtzan.name == "gtzan_genres"
    code = (
        "import tensorflow_datasets as tfds, tensorflow_datasets.audio.gtzan as tg\n"
        "import mirjax.data\n"
        "from mirjax.data import gtzan\n"
        "assert tfds.builder_cls('gtzan') is tg.GTZAN, tfds.builder_cls('gtzan')\n"
        "assert tfds.builder_cls('gtzan_genres') is gtzan.Gtzan, tfds.builder_cls('gtzan_genres')\n"
    )
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2", CUDA_VISIBLE_DEVICES="")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    proc = subprocess.run([sys.executable, "-c", code], cwd=root, env=env, capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
