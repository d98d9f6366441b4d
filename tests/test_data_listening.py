"""Listening data for Dieleman Ch. 4: the simulation over scorebank (`scorebank_listening`), `load_matrix`,
and the Taste Profile builder on a tiny fake manual directory with the release's file formats.

References are independent of the code under test: statistics recomputed with numpy from the returned
triplets and the simulation's ground truth (tastes, popularity), the scorebank clips read back from the
scorebank build itself, and hand-worked expected play counts for the fake Taste Profile.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import types

import numpy as np
import pytest
import tensorflow_datasets as tfds

from mirjax.data import listening, manual, scorebank, taste_profile as tp


def _params(**kw) -> listening.SimulationParams:
    base = dict(num_users=1500, median_events=40.0)
    base.update(kw)
    return listening.SimulationParams(**base)


@pytest.fixture(scope="module")
def clip_tags():
    """400 clips, 12 tags, each clip carrying 1–4 of them (like scorebank's style/instrument/… tags)."""
    rng = np.random.default_rng(123)
    g = np.zeros((400, 12), np.uint8)
    for i in range(400):
        g[i, rng.choice(12, size=rng.integers(1, 5), replace=False)] = 1
    return g


def _dense(sim, n_users, n_items):
    m = np.zeros((n_users, n_items), np.int64)
    m[sim["users"], sim["items"]] = sim["plays"]
    return m


# --- the simulation -------------------------------------------------------------------------

def test_simulation_is_seeded(clip_tags):
    p = _params(num_users=300)
    a, b, c = (listening.simulate(clip_tags, p, s) for s in (0, 0, 1))
    for k in ("users", "items", "plays", "popularity", "taste", "events"):
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(_dense(a, 300, 400), _dense(c, 300, 400))
    assert a["plays"].min() > 0
    pairs = a["users"].astype(np.int64) * 400 + a["items"]
    assert np.all(np.diff(pairs) > 0)  # sorted by user then item, no pair twice


def test_activity_and_replays(clip_tags):
    """Without replays a user's plays are exactly their events; events are lognormal around the median;
    replays add replays_mean extra plays per event on average."""
    sim = listening.simulate(clip_tags, _params(replays_mean=0.0), 0)
    per_user = np.bincount(sim["users"], weights=sim["plays"], minlength=1500)
    np.testing.assert_array_equal(per_user, sim["events"])
    assert sim["events"].min() >= 5
    assert 0.85 * 40 < np.median(sim["events"]) < 1.15 * 40
    sim2 = listening.simulate(clip_tags, _params(replays_mean=1.0), 0)
    assert 1.9 < sim2["plays"].sum() / sim2["events"].sum() < 2.1


def test_popularity_skew(clip_tags):
    """Top 10 % of items get far more than 10 % of the plays; with no popularity spread and no taste,
    about 10 %."""
    def top_share(sim):
        per_item = np.bincount(sim["items"], weights=sim["plays"], minlength=400)
        return np.sort(per_item)[::-1][:40].sum() / per_item.sum()

    skewed = listening.simulate(clip_tags, _params(), 0)
    flat = listening.simulate(clip_tags, _params(popularity_sigma=0.0, taste_beta=0.0), 0)
    assert top_share(skewed) > 0.40
    assert top_share(flat) < 0.15
    # summary_stats agrees with the independent figures; its Gini with the mean-absolute-difference form.
    st = listening.summary_stats(skewed["users"], skewed["items"], skewed["plays"], 1500, 400)
    per_item = np.bincount(skewed["items"], weights=skewed["plays"], minlength=400)
    gini_ref = np.abs(per_item[:, None] - per_item[None, :]).sum() / (2 * 400 ** 2 * per_item.mean())
    assert st["gini_item_plays"] == pytest.approx(gini_ref, rel=1e-9)
    assert st["top10pct_items_play_share"] == pytest.approx(top_share(skewed))
    assert st["density"] == pytest.approx(skewed["plays"].size / (1500 * 400))
    assert st["total_plays"] == skewed["plays"].sum()


def _favourite_tag_lift(sim, g):
    """Mean over users of: share of plays on clips with the user's favourite tag (the largest entry
    of the true taste) / that share under popularity alone."""
    fav = sim["taste"].argmax(axis=1)
    m = _dense(sim, len(fav), g.shape[0]).astype(np.float64)
    on_fav = g[:, fav].T.astype(bool)                                  # users × clips
    share = (m * on_fav).sum(1) / m.sum(1)
    base = (on_fav * sim["popularity"][None, :]).sum(1) / sim["popularity"].sum()
    return float(np.mean(share / base))


def test_plays_follow_taste(clip_tags):
    """Users play clips carrying their favourite tag far more than popularity alone predicts; with
    taste_beta = 0 the ratio is 1 (so this would fail if the taste term were ignored)."""
    with_taste = listening.simulate(clip_tags, _params(), 0)
    without = listening.simulate(clip_tags, _params(taste_beta=0.0), 0)
    lift = _favourite_tag_lift(with_taste, clip_tags)
    assert lift > 2.0
    assert 0.9 < _favourite_tag_lift(without, clip_tags) < 1.1
    assert listening.taste_lift(with_taste["users"], with_taste["items"], with_taste["plays"],
                                with_taste["taste"], clip_tags, with_taste["popularity"]) == pytest.approx(lift)
    assert np.allclose(with_taste["taste"].sum(1), 1.0)
    assert np.mean(np.sort(with_taste["taste"], 1)[:, -3:].sum(1)) > 0.7  # sparse: a few favourite tags


@pytest.mark.parametrize("rho", [0.0, 0.2, 1.0])
def test_popularity_partly_explained_by_tags(clip_tags, rho):
    """R² of log popularity regressed on the tags ≈ popularity_content (exactly 1 when it is 1)."""
    sim = listening.simulate(clip_tags, _params(num_users=10, popularity_content=rho), 3)
    y = np.log(sim["popularity"])
    x = np.c_[np.ones(400), clip_tags]
    resid = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    r2 = 1 - resid.var() / y.var()
    assert abs(r2 - rho) < (1e-9 if rho == 1.0 else 0.12)


# --- scorebank keys from the stored order ----------------------------------------------------

class FakeBank(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """Works with several clips each, keyed `work@clip` like scorebank, storing their true clip index."""
    name = "fake_bank"
    VERSION = tfds.core.Version("1.0.0")
    WORKS = [(f"corpus/w{i}.abc#{i}", "multi" if i % 3 else "single") for i in range(30)]

    def _info(self):
        return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
            {"work_id": tfds.features.Text(), "clip": np.int32}))

    def _split_generators(self, dl_manager):
        return {"test": self._generate_examples()}

    def _generate_examples(self):
        for w, s in self.WORKS:
            for c in range(3 if s == "multi" else 1):
                yield f"{w}@{c}", {"work_id": w, "clip": c}


def test_scorebank_clip_keys_follow_tfds_order(tmp_path):
    b = FakeBank(data_dir=str(tmp_path))
    b.download_and_prepare()
    ds = b.as_dataset(split="test", shuffle_files=False, read_config=tfds.ReadConfig(interleave_cycle_length=1))
    rows = [(ex["work_id"].decode(), int(ex["clip"])) for ex in tfds.as_numpy(ds)]
    style = dict(FakeBank.WORKS)
    holder = types.SimpleNamespace(builder_config=types.SimpleNamespace(
        name="fake", clips_per_work=(("multi", 3), ("single", 1))))
    keys = listening.scorebank_clip_keys(holder, "test", [w for w, _ in rows], [style[w] for w, _ in rows])
    assert keys == [f"{w}@{c}" for w, c in rows]
    assert [w for w, _ in rows] != sorted(w for w, _ in rows)  # the stored order is not the key order


# --- the builder on scorebank/tiny ----------------------------------------------------------

def _examples(builder):
    return list(tfds.as_numpy(builder.as_dataset(split=listening.SPLIT, shuffle_files=False)))


@pytest.fixture(scope="module")
def tiny_listening(tiny_data_dir):
    b = listening.ScorebankListening(config="tiny", data_dir=tiny_data_dir)
    b.download_and_prepare()
    return b, _examples(b)


@pytest.fixture(scope="module")
def tiny_scorebank(tiny_data_dir):
    """{key: split} of scorebank/tiny read from the build (tiny has one clip per work: key work_id@0)."""
    sb = scorebank.Scorebank(config="tiny", data_dir=tiny_data_dir)
    out = {}
    for s in ("train", "validation", "test"):
        for ex in tfds.as_numpy(sb.as_dataset(split=s, decoders={"audio": tfds.decode.SkipDecoding()})):
            out[f"{ex['work_id'].decode()}@0"] = s
    return out


def test_builder_examples_match_scorebank(tiny_listening, tiny_scorebank):
    b, exs = tiny_listening
    meta = b.info.metadata
    keys = sorted(tiny_scorebank)
    assert meta["item_keys"] == keys and meta["num_items"] == len(keys) == 45
    assert meta["num_users"] == listening.TINY.params.num_users
    split_names = b.info.features["split"].names
    seen = set()
    for ex in exs:
        key = ex["clip_key"].decode()
        assert key in tiny_scorebank
        assert keys[ex["item"]] == key
        assert split_names[ex["split"]] == tiny_scorebank[key]
        assert ex["plays"] > 0 and 0 <= ex["user"] < meta["num_users"]
        seen.add((int(ex["user"]), int(ex["item"])))
    assert len(seen) == len(exs) == meta["stats"]["num_pairs"]
    assert meta["stats"]["density"] == pytest.approx(len(exs) / (meta["num_users"] * 45))
    assert meta["stats"]["total_plays"] == sum(int(ex["plays"]) for ex in exs)
    assert meta["params"] == listening.TINY.params.as_dict() and meta["seed"] == 0
    # Stored by user, then item.
    order = [int(ex["user"]) * 45 + int(ex["item"]) for ex in exs]
    assert order == sorted(order)


def test_load_matrix_agrees_with_examples(tiny_listening, tiny_data_dir):
    b, exs = tiny_listening
    m, item_keys, item_splits = listening.load_matrix("scorebank_listening/tiny", data_dir=tiny_data_dir)
    assert m.shape == (b.info.metadata["num_users"], 45)
    assert item_keys == b.info.metadata["item_keys"]
    dense = m.toarray()
    ref = np.zeros_like(dense)
    names = b.info.features["split"].names
    for ex in exs:
        ref[ex["user"], ex["item"]] = ex["plays"]
        assert item_splits[ex["item"]] == names[ex["split"]]
    np.testing.assert_array_equal(dense, ref)
    assert set(item_splits) == {"train", "validation", "test"}


def test_builder_deterministic_and_seeded(tiny_listening, tiny_data_dir, tmp_path):
    """The same config in another data dir (sharing the scorebank build) gives the same examples; another
    seed gives others."""
    os.symlink(os.path.join(tiny_data_dir, "scorebank"), tmp_path / "scorebank")
    again = listening.ScorebankListening(config="tiny", data_dir=str(tmp_path))
    again.download_and_prepare()
    _, exs = tiny_listening
    as_tuples = (lambda xs: [(int(e["user"]), int(e["item"]), int(e["plays"])) for e in xs])
    assert as_tuples(_examples(again)) == as_tuples(exs)
    cfg = dataclasses.replace(listening.TINY, name="tiny_seed1", seed=1)
    other = listening.ScorebankListening(config=cfg, data_dir=str(tmp_path))
    other.download_and_prepare()
    assert as_tuples(_examples(other)) != as_tuples(exs)


# --- Taste Profile on a fake manual directory -------------------------------------------------

def _song(c):   # SO + 16 upper-case alphanumerics, like SOAKIMP12A8C130995
    return f"SO{c * 4}12A8C13{c * 5}"


def _track(c, n=0):   # TR + 16, like TRMMMYQ128F932D901
    return f"TR{c * 4}128F93{str(n) * 6}"


def _user(name):
    return hashlib.sha1(name.encode()).hexdigest()


U = {n: _user(n) for n in ("u1", "u2", "u3", "u4")}
# Songs: A one track; B two tracks, the first a known mismatch; C its only track mismatched (dropped);
# D listed without tracks (dropped); E not in the mapping (dropped); F one track; G a mismatch that was
# manually accepted (kept).
TRACKS = {"A": [_track("A")], "B": [_track("B", 1), _track("B", 2)], "C": [_track("C")], "D": [],
          "F": [_track("F")], "G": [_track("G")]}
MISMATCHED = [("B", _track("B", 1)), ("C", _track("C")), ("G", _track("G"))]
LINES = [("u1", "A", "3"), ("u1", "B", "1"), ("u1", "C", "5"), ("u2", "A", "2"), ("u2", "D", "4"),
         ("u2", "E", "1"), ("u2", "F", "7"), ("u3", "G", "2"), ("u3", "A", "1"), ("u1", "A", "2")]
# Hand-worked: (user, track) → plays; (u1, A) is listed twice (3 + 2).
EXPECTED = {("u1", _track("A")): 5, ("u1", _track("B", 2)): 1, ("u2", _track("A")): 2,
            ("u2", _track("F")): 7, ("u3", _track("G")): 2, ("u3", _track("A")): 1,
            ("u4", _track("B", 2)): 6}


def _write_manual(root, mapping: str):
    lines = [f"{U[u]}\t{_song(s)}\t{c}\n" for u, s, c in LINES]
    lines += [f"{U['u4']}\t{_song('A')}\n",                 # line 11: 2 fields
              f"{U['u4']}\t{_song('F')}\tmany\n",           # line 12: not an integer
              f"{U['u4']}\t{_song('F')}\t0\n",              # line 13: not positive
              "\n",                                         # line 14: blank, ignored
              f"{U['u4']}\t{_song('B')}\t6"]                # line 15: no final newline
    (root / tp.TRIPLETS).write_text("".join(lines))
    if mapping == "song_to_tracks":
        (root / tp.SONG_TO_TRACKS).write_text(
            "".join("\t".join([_song(s)] + t) + "\n" for s, t in TRACKS.items()))
    else:  # MSD unique_tracks.txt: track<SEP>song<SEP>artist<SEP>title; D has no track, so no line
        (root / tp.UNIQUE_TRACKS).write_text("".join(
            f"{t}<SEP>{_song(s)}<SEP>Artist {s}<SEP>Title {s} {j}\n"
            for s, ts in TRACKS.items() for j, t in enumerate(ts)))
    (root / tp.MISMATCHES).write_text("".join(
        f"ERROR: <{_song(s)} {t}> Artist {s}  -  Title {s}  !=  Other  -  Other title\n" for s, t in MISMATCHED))
    (root / tp.ACCEPTED).write_text(
        f"< ERROR: <{_song('G')} {_track('G')}> Artist G  -  Title G  !=  Artist G  -  Title G (live)\n")


@pytest.fixture(scope="module", params=["song_to_tracks", "unique_tracks"])
def fake_tp(request, tmp_path_factory):
    root = tmp_path_factory.mktemp(f"tp_{request.param}")
    _write_manual(root, request.param)
    return root


def _tp_build(config, manual_root, data_dir):
    b = tp.TasteProfile(config=config, data_dir=str(data_dir))
    b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(manual_root)))
    return b, _examples(b)


def _by_user_track(b, exs):
    users = open(os.path.join(b.data_dir, tp.USERS_FILE)).read().split()
    name = {v: k for k, v in U.items()}
    return {(name[users[e["user"]]], e["clip_key"].decode()): int(e["plays"]) for e in exs}


def test_taste_profile_full(fake_tp, tmp_path):
    cfg = dataclasses.replace(tp.CONFIGS[1], name="full_half_test", test_fraction=0.5)
    b, exs = _tp_build(cfg, fake_tp, tmp_path)
    assert _by_user_track(b, exs) == EXPECTED
    tracks = sorted({t for _, t in EXPECTED})
    users = sorted(U[u] for u in ("u1", "u2", "u3", "u4"))
    assert open(os.path.join(b.data_dir, tp.USERS_FILE)).read().split() == users
    for e in exs:
        assert tracks[e["item"]] == e["clip_key"].decode()
    meta = b.info.metadata
    assert meta["num_users"] == 4 and meta["num_items"] == 4
    assert meta["bad_lines"] == {"wrong field count": 1, "non-integer count": 1, "non-positive count": 1}
    assert [row[0] for row in meta["bad_lines_listed"]] == [11, 12, 13]
    c = meta["counts"]
    assert (c["lines"], c["bad_lines"], c["triplets_kept"]) == (15, 3, 7)
    assert (c["triplets_without_track"], c["triplets_mismatched"], c["duplicates_merged"]) == (2, 1, 1)
    assert "skipped 3 malformed" in meta["summary"]
    # Split: half of the 4 songs are test, one split per song, the same in items.tsv and the examples.
    items = listening.read_items(os.path.join(b.data_dir, listening.ITEMS_FILE))
    assert items["clip_key"] == tracks and sorted(items["split"]) == ["test", "test", "train", "train"]
    assert items["song_id"] == [_song(t[2]) for t in tracks]
    names = b.info.features["split"].names
    assert all(items["split"][e["item"]] == names[e["split"]] for e in exs)
    # load_matrix gives the same play counts.
    m, keys, splits = listening.load_matrix(b)
    assert keys == tracks and list(splits) == items["split"] and m.shape == (4, 4)
    ref = np.zeros((4, 4), np.int64)
    for (u, t), n in EXPECTED.items():
        ref[users.index(U[u]), tracks.index(t)] = n
    np.testing.assert_array_equal(m.toarray(), ref)


def test_taste_profile_subset_selection(fake_tp, tmp_path):
    """2 most popular songs (by listeners: A 3, B 2), then the 2 users with most of them: u1 (2 songs),
    then u4 (1 song, 6 plays, ahead of u2 and u3 with 1 song and fewer plays)."""
    cfg = dataclasses.replace(tp.CONFIGS[0], name="mini", num_songs=2, num_users=2)
    b, exs = _tp_build(cfg, fake_tp, tmp_path)
    assert _by_user_track(b, exs) == {("u1", _track("A")): 5, ("u1", _track("B", 2)): 1,
                                      ("u4", _track("B", 2)): 6}


def test_taste_profile_missing_triplets(tmp_path):
    root = tmp_path / "manual"
    root.mkdir()
    (root / tp.SONG_TO_TRACKS).write_text(f"{_song('A')}\t{_track('A')}\n")
    b = tp.TasteProfile(config="subset", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(manual.ManualDataError) as exc:
        b.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    msg = str(exc.value)
    assert "\n" not in msg and tp.TRIPLETS in msg and "not found" in msg


def test_taste_profile_configs():
    cfgs = {c.name: c for c in tp.CONFIGS}
    assert (cfgs["subset"].num_songs, cfgs["subset"].num_users) == (9330, 20000)
    assert round(9330 * cfgs["subset"].test_fraction) == 1881
    assert round(382_410 * cfgs["full"].test_fraction) == 46_728
    assert tp.split_items(9330, cfgs["subset"].test_fraction, 0.0, 0).count("test") == 1881
