"""scorebank: the TFDS builder (built once, config `tiny`) and its rendering functions.

References are independent of the renderer where possible: music21's own tie stripping for note
extraction, an FFT for the synthesised pitch, numpy frame energies for silence, librosa onset
detection for the tempo classes and librosa chroma for the key labels.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

tfds = pytest.importorskip("tensorflow_datasets")
pytest.importorskip("music21")
pytest.importorskip("pretty_midi")
pytest.importorskip("tinysoundfont")

from mirjax.data import scorebank  # noqa: E402
from mirjax.data import scorebank_render as render  # noqa: E402

SPLITS = ("train", "validation", "test")
SR = 16000


def _build(data_dir):
  builder = scorebank.Scorebank(config="tiny", data_dir=str(data_dir))
  builder.download_and_prepare()
  examples = {s: list(tfds.as_numpy(builder.as_dataset(split=s))) for s in SPLITS}
  return builder, examples


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
  """(builder, {split: [examples]}) of `scorebank/tiny`, built once per session."""
  return _build(tmp_path_factory.mktemp("scorebank_tiny"))


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
  assert str(builder.version) == "1.0.0"
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


def test_key_labels_match_audio_chroma(tiny, tiny_examples):
  """The labelled tonic is among the 3 strongest pitch classes of the audio in most clips."""
  librosa = pytest.importorskip("librosa")
  key_names = tiny[0].info.features["key"].names
  hits = 0
  for ex in tiny_examples:
    y = ex["audio"].astype(np.float32) / 32767.0
    chroma = librosa.feature.chroma_stft(y=y, sr=SR, n_fft=4096, hop_length=2048).mean(axis=1)
    tonic = render.TONICS.index(key_names[ex["key"]].split()[0])
    hits += tonic in np.argsort(chroma)[-3:]
  assert hits >= 0.7 * len(tiny_examples), (hits, len(tiny_examples))


def test_cli_reports_built_dataset(tiny, capsys):
  builder, _ = tiny
  data_dir = builder.data_dir.split("/scorebank/")[0]
  assert scorebank.main(["--config", "tiny", "--data_dir", data_dir]) == 0
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
  assert scorebank.default_data_dir() == "/some/where"
  monkeypatch.delenv("MIRJAX_DATA_DIR")
  d = scorebank.default_data_dir()
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
  score = corpus.parse("oneills1850/0001-0050.abc", number=2, forceSource=True)  # 66 ties
  sn = render.extract_notes(score)
  ref = []
  for n in score.parts[0].stripTies().flatten().notes:
    if n.duration.isGrace:
      continue
    for p in (n.pitches if n.isChord else [n.pitch]):
      ref.append((round(float(n.offset), 6), round(float(n.quarterLength), 6), p.midi))
  got = [(round(o, 6), round(d, 6), int(p)) for o, d, p, _ in sn.parts[0]]
  assert sorted(got) == sorted(ref)
  # Bars: 2/4 meter -> duple; the pickup bar starts before 0 so bar lines fall on downbeats.
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
