"""scorebank: the TFDS builder (built once, config `tiny`) and its rendering functions.

References are independent of the renderer where possible: music21's own tie stripping for note
extraction, an FFT for the synthesised pitch, numpy frame energies for silence, librosa onset
detection for the tempo classes and librosa chroma for the key labels.
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow_datasets as tfds

import mirjax.data
from mirjax import cli
from mirjax.data import scorebank, scorebank_render as render

SPLITS = ("train", "validation", "test")
SR = 16000


def _build(data_dir):
    builder = scorebank.Scorebank(config="tiny", data_dir=str(data_dir))
    builder.download_and_prepare()
    examples = {s: list(tfds.as_numpy(builder.as_dataset(split=s))) for s in SPLITS}
    return builder, examples


@pytest.fixture(scope="session")
def tiny(tiny_data_dir):
    """(builder, {split: [examples]}) of `scorebank/tiny`, the build shared by the whole session."""
    return _build(tiny_data_dir)


@pytest.fixture(scope="session")
def tiny_examples(tiny):
    return [ex for s in SPLITS for ex in tiny[1][s]]


@pytest.fixture(scope="session")
def catalog():
    return render.build_catalog()


# --- the built dataset ----------------------------------------------------------------------

def test_registered_name_and_configs(tiny):
    builder, _ = tiny
    assert "scorebank" in tfds.list_builders()
    assert builder.name == "scorebank"
    assert str(builder.version) == "1.1.0"
    assert {c.name for c in scorebank.Scorebank.BUILDER_CONFIGS} == {"tiny", "default"}
    reloaded = tfds.builder("scorebank/tiny", data_dir=builder.data_dir.split("/scorebank/")[0])
    assert reloaded.is_prepared()
    assert reloaded.info.metadata["tag_names"] == list(scorebank.TAG_NAMES)
    assert "build_summary" in reloaded.info.metadata


def test_features_shapes_and_dtypes(tiny, tiny_examples):
    builder, _ = tiny
    info = builder.info
    n = 10 * SR
    assert info.features["audio"].sample_rate == SR
    assert info.features["audio"].shape == (n,)
    assert info.features["key"].num_classes == 24
    assert info.features["key"].names[0] == "C major" and info.features["key"].names[-1] == "B minor"
    assert "unknown" in info.features["composer"].names
    assert len(info.metadata["tag_names"]) >= 24
    assert info.metadata["tag_names"] == list(scorebank.TAG_NAMES)
    assert set(info.metadata["tag_categories"]) == set(scorebank.TAG_NAMES)
    assert set(info.metadata["tag_categories"].values()) == set(scorebank.CATEGORIES)
    for ex in tiny_examples:
        assert ex["audio"].dtype == np.int16 and ex["audio"].shape == (n,)
        assert ex["tags"].dtype == np.uint8 and ex["tags"].shape == (len(scorebank.TAG_NAMES),)
        assert set(np.unique(ex["tags"])) <= {0, 1}
        assert isinstance(ex["work_id"], bytes) and ex["work_id"]


def test_every_example_has_a_tag_per_category(tiny, tiny_examples):
    names = scorebank.TAG_NAMES
    cats = np.array([scorebank.TAG_CATEGORIES[t] for t in names])
    styles = tiny[0].info.features["style"].names
    for ex in tiny_examples:
        on = ex["tags"].astype(bool)
        for c in scorebank.CATEGORIES:
            k = int(on[cats == c].sum())
            assert k >= 1, (c, ex["work_id"])
            if c in ("tempo", "mode", "meter", "dynamics", "texture"):
                assert k == 1, (c, ex["work_id"])
        style = styles[ex["style"]]
        got = {t for t, o in zip(names, on) if o and scorebank.TAG_CATEGORIES[t] == "style"}
        assert got == set(render.STYLE_TAGS[style])
        key = tiny[0].info.features["key"].names[ex["key"]]
        assert on[names.index(key.split()[1])], "mode tag must match the key label"


def test_meter_and_bpm_agree_with_the_tags(tiny, tiny_examples):
    """1.1.0's `meter` is the clip's meter tag; `bpm` = 30 × onset rate falls in its tempo tag's class."""
    names = scorebank.TAG_NAMES
    meters = tiny[0].info.features["meter"].names
    assert tuple(meters) == ("duple", "triple", "compound")
    lo, hi = (30.0 * t for t in render.TEMPO_THRESHOLDS)
    for ex in tiny_examples:
        assert ex["tags"][names.index(meters[ex["meter"]])] == 1
        bpm = float(ex["bpm"])
        tempo = "slow" if bpm < lo else ("medium" if bpm < hi else "fast")
        assert ex["tags"][names.index(tempo)] == 1, (bpm, ex["work_id"])


def test_every_tag_and_style_occurs(tiny, tiny_examples):
    counts = np.sum([ex["tags"] for ex in tiny_examples], axis=0)
    missing = [t for t, c in zip(scorebank.TAG_NAMES, counts) if c == 0]
    assert not missing
    assert {ex["style"] for ex in tiny_examples} == set(range(len(scorebank.STYLES)))
    assert len(tiny_examples) <= 64


def test_no_silent_clip(tiny_examples):
    for ex in tiny_examples:
        x = ex["audio"].astype(np.float64) / 32767.0
        assert np.any(ex["audio"] != 0)
        frames = x[: len(x) // 1600 * 1600].reshape(-1, 1600)  # 100 ms
        rms = np.sqrt((frames ** 2).mean(axis=1))
        assert rms.max() > 1e-3, ex["work_id"]
        assert np.mean(rms < 1e-3 * np.abs(x).max()) <= 0.25, ex["work_id"]
        # First and last seconds sound too (the excerpt starts on a note).
        assert rms[:10].max() > 1e-4 and rms[-10:].max() > 1e-4, ex["work_id"]


def test_peak_level_follows_dynamics(tiny_examples):
    names = scorebank.TAG_NAMES
    for ex in tiny_examples:
        peak_db = 20 * np.log10(np.abs(ex["audio"].astype(np.float64)).max() / 32767.0)
        want = -1.0 if ex["tags"][names.index("loud")] else -13.0
        assert abs(peak_db - want) < 0.05, (peak_db, want)


def test_splits_disjoint_by_work_and_nonempty(tiny):
    _, examples = tiny
    works = {s: {ex["work_id"] for ex in examples[s]} for s in SPLITS}
    assert all(works[s] for s in SPLITS)
    assert not works["train"] & works["validation"]
    assert not works["train"] & works["test"]
    assert not works["validation"] & works["test"]
    # Each split holds every style (stratified split).
    for s in SPLITS:
        assert len({ex["style"] for ex in examples[s]}) == len(scorebank.STYLES)


def test_rebuild_is_identical(tiny, tmp_path):
    """Same version and seed give identical examples (a second build in another directory)."""
    _, first = tiny
    _, second = _build(tmp_path / "again")
    for s in SPLITS:
        a = {ex["work_id"]: ex for ex in first[s]}
        b = {ex["work_id"]: ex for ex in second[s]}
        assert a.keys() == b.keys()
        for k in a:
            np.testing.assert_array_equal(a[k]["audio"], b[k]["audio"])
            np.testing.assert_array_equal(a[k]["tags"], b[k]["tags"])
            assert (a[k]["style"], a[k]["key"], a[k]["composer"]) == (
                b[k]["style"], b[k]["key"], b[k]["composer"])


def test_in_process_render_matches_stored_examples(tiny, catalog):
    """render_work in this process reproduces what the spawned workers stored."""
    builder, examples = tiny
    cfg = builder.builder_config
    works = render.select_works(catalog, dict(cfg.works_per_style), cfg.seed)
    jobs = {j.work.work_id: j for j in render.plan_jobs(works, dict(cfg.clips_per_work), cfg.seed)}
    stored = {ex["work_id"].decode(): ex for ex in examples["validation"]}
    for wid in sorted(stored)[:3]:
        out = render.render_work(jobs[wid])
        np.testing.assert_array_equal(out["clips"][0]["audio"], stored[wid]["audio"])
        np.testing.assert_array_equal(render.multi_hot(out["clips"][0]["tags"]), stored[wid]["tags"])


def test_tempo_classes_are_audible(tiny_examples):
    """Onsets detected by librosa (independent of the renderer) grow from slow to fast."""
    librosa = pytest.importorskip("librosa")
    names = scorebank.TAG_NAMES
    rates = {"slow": [], "medium": [], "fast": []}
    for ex in tiny_examples:
        y = ex["audio"].astype(np.float32) / 32767.0
        n = len(librosa.onset.onset_detect(y=y, sr=SR, hop_length=256, units="frames"))
        for t in rates:
            if ex["tags"][names.index(t)]:
                rates[t].append(n / 10.0)
    means = {t: float(np.mean(v)) for t, v in rates.items()}
    assert means["slow"] < means["medium"] < means["fast"], means


def _key_relation(label: str, estimate: str) -> str:
    (tl, ml), (te, me) = label.split(), estimate.split()
    d = (render.TONICS.index(te) - render.TONICS.index(tl)) % 12
    if label == estimate:
        return "same"
    if ml == me and d in (5, 7):
        return "fifth"
    if (ml, me, d) in (("major", "minor", 9), ("minor", "major", 3)):
        return "relative"
    return "parallel" if d == 0 else "other"


def test_key_labels_match_audio_chroma(tiny, tiny_examples):
    """Krumhansl-Kessler key finding on librosa chroma of the audio agrees with the key labels.

    Audio key finding on 10-s excerpts errs mostly to the dominant, relative or parallel key, so the
    check is: exact agreement far above chance (1/24) and related keys in most clips. A label
    shifted by any interval would fail both.
    """
    librosa = pytest.importorskip("librosa")
    major = np.array([6.35, 2.23, 3.48, 2.33, 4.38, 4.09, 2.52, 5.19, 2.39, 3.66, 2.29, 2.88])
    minor = np.array([6.33, 2.68, 3.52, 5.38, 2.60, 3.53, 2.54, 4.75, 3.98, 2.69, 3.34, 3.17])
    profiles = [np.roll(major, k) for k in range(12)] + [np.roll(minor, k) for k in range(12)]
    key_names = tiny[0].info.features["key"].names
    relations = []
    for ex in tiny_examples:
        y = ex["audio"].astype(np.float32) / 32767.0
        chroma = librosa.feature.chroma_cqt(y=y, sr=SR, hop_length=512).mean(axis=1)
        est = int(np.argmax([np.corrcoef(p, chroma)[0, 1] for p in profiles]))
        relations.append(_key_relation(key_names[ex["key"]], key_names[est]))
    n = len(relations)
    assert relations.count("same") >= 0.25 * n, relations
    assert sum(r != "other" for r in relations) >= 0.7 * n, relations


def test_cli_reports_built_dataset(tiny, capsys):
    builder, _ = tiny
    data_dir = builder.data_dir.split("/scorebank/")[0]
    assert cli.main(["data", "build", "scorebank/tiny", "--data_dir", data_dir]) == 0
    out = capsys.readouterr().out
    assert "already built" in out
    n = {s: builder.info.splits[s].num_examples for s in SPLITS}
    assert f"train {n['train']}" in out
    assert "scorebank/tiny:" in out and "clips from" in out
    for t in scorebank.TAG_NAMES:
        assert t in out


# --- plain functions ------------------------------------------------------------------------

def test_default_data_dir(monkeypatch):
    monkeypatch.setenv("MIRJAX_DATA_DIR", "/some/where")
    assert mirjax.data.default_data_dir() == "/some/where"
    monkeypatch.delenv("MIRJAX_DATA_DIR")
    d = mirjax.data.default_data_dir()
    assert d == os.path.join(os.path.expanduser("~"), ".cache", "mirjax", "tensorflow_datasets")
    repo = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    assert not os.path.abspath(d).startswith(repo + os.sep)


def test_vocabulary():
    assert len(render.KEYS) == 24 and len(set(render.KEYS)) == 24
    assert len(render.TAG_NAMES) >= 24 and len(set(render.TAG_NAMES)) == len(render.TAG_NAMES)
    for style, tags in render.STYLE_TAGS.items():
        assert style in render.STYLES and set(tags) <= set(render.TAG_NAMES)
    for fam, progs in render.INSTRUMENT_FAMILIES.items():
        assert render.TAG_CATEGORIES[fam] == "instrument"
        assert all(0 <= p < 128 and lo < hi for p, lo, hi in progs)
    assert [render.meter_code(n) for n in (2, 3, 4, 6, 9, 12, 5)] == [0, 1, 0, 2, 2, 2, -1]


def test_default_selection_is_stratified_and_disjoint(catalog):
    cfg = next(c for c in scorebank.Scorebank.BUILDER_CONFIGS if c.name == "default")
    works = render.select_works(catalog, dict(cfg.works_per_style), cfg.seed)
    ids = [w.work_id for w in works]
    assert len(ids) == len(set(ids))
    clips = sum(dict(cfg.clips_per_work)[w.style] for w in works)
    assert clips >= 2000
    for style, n in cfg.works_per_style:
        got = [w.split for w in works if w.style == style]
        assert len(got) == min(n, len(catalog[style]))
        assert got.count("train") / len(got) == pytest.approx(0.8, abs=0.03)
        assert got.count("validation") >= 1 and got.count("test") >= 1
    # A different seed changes the selection (the seed is really used).
    other = {w.work_id for w in render.select_works(catalog, dict(cfg.works_per_style), 1)}
    assert other != set(ids)


def test_plan_schedules_are_balanced(catalog):
    works = render.select_works(catalog, {s: 20 for s in render.STYLES}, seed=0)
    jobs = render.plan_jobs(works, {s: 2 for s in render.STYLES}, seed=0)
    plans = [p for j in jobs for p in j.clips]
    for attr, values in (("tempo", render.TEMPO_RANGES), ("dynamics", render.DYNAMICS_PEAK_DBFS),
                         ("family", render.FAMILIES)):
        counts = [sum(getattr(p, attr) == v for p in plans) for v in values]
        assert max(counts) - min(counts) <= 1, (attr, counts)


def test_extract_notes_matches_music21_strip_ties():
    """Tied notes are merged like music21's stripTies (independent implementation)."""
    from music21 import corpus
    score = corpus.parse("palestrina/Agnus_01.krn", forceSource=True)  # ties across bar lines
    sn = render.extract_notes(score)
    assert len(sn.parts) == len(score.parts)
    n_ties = 0
    for part, got_arr in zip(score.parts, sn.parts):
        n_ties += sum(n.tie is not None for n in part.recurse().notes)
        ref = sorted((round(float(n.getOffsetInHierarchy(part)), 6), round(float(n.quarterLength), 6),
                      n.pitch.midi) for n in part.stripTies().recurse().notes)
        got = sorted((round(o, 6), round(d, 6), int(p)) for o, d, p, _ in got_arr)
        assert got == ref
    assert n_ties > 0
    # 4/2: duple bars of 8 quarters from 0; the downbeat has accent weight 1.
    assert set(sn.bars[:, 2]) == {0} and sn.bars[0, :2].tolist() == [0.0, 8.0]
    assert sn.parts[0][0, 3] == 1.0


def test_extract_notes_keeps_notes_tied_to_another_pitch():
    """ABC tunes often mark slurs as ties between different pitches: both notes must sound."""
    from music21 import corpus
    score = corpus.parse("oneills1850/0001-0050.abc", number=2, forceSource=True)
    notes = [n for n in score.parts[0].recurse().notes if not n.duration.isGrace]
    cross = [b for a, b in zip(notes, notes[1:])
             if b.tie is not None and b.tie.type == "stop" and a.pitch.midi != b.pitch.midi]
    same = [b for a, b in zip(notes, notes[1:])
            if b.tie is not None and b.tie.type == "stop" and a.pitch.midi == b.pitch.midi]
    assert cross and same
    sn = render.extract_notes(score)
    assert len(sn.parts[0]) == len(notes) - len(same)
    # The pickup bar starts before 0 so that bar lines fall on the downbeats (2/4 -> duple).
    assert set(sn.bars[:, 2]) == {0}
    assert sn.bars[0, 0] < 0 and sn.bars[1, 0] == pytest.approx(0.5)


def test_synthesize_plays_the_written_pitch():
    import pretty_midi
    pm = pretty_midi.PrettyMIDI()
    inst = pretty_midi.Instrument(program=73)  # flute
    inst.notes.append(pretty_midi.Note(velocity=100, pitch=69, start=0.5, end=1.5))
    pm.instruments.append(inst)
    y = render.synthesize(pm, 2 * SR, SR)
    assert y.dtype == np.float32 and y.shape == (2 * SR,)
    assert np.abs(y[: int(0.45 * SR)]).max() < 1e-6  # silent before the onset
    seg = y[int(0.7 * SR): int(1.3 * SR)]
    spec = np.abs(np.fft.rfft(seg * np.hanning(len(seg))))
    f0 = np.fft.rfftfreq(len(seg), 1 / SR)[np.argmax(spec)]
    assert f0 == pytest.approx(440.0, rel=0.02)
    # Reproducible: a fresh synthesizer per call.
    np.testing.assert_array_equal(y, render.synthesize(pm, 2 * SR, SR))


def test_to_int16_peak_level():
    x = np.sin(np.linspace(0, 100, 16000)).astype(np.float32) * 0.01
    for db in (-1.0, -13.0):
        y = render.to_int16(x, db)
        assert y.dtype == np.int16
        assert 20 * np.log10(np.abs(y).max() / 32767.0) == pytest.approx(db, abs=0.01)
