"""Latent-factor analyses of Dieleman thesis §4.6 (mirjax.recommendation.analysis), checked against a
hand-written CV loop, brute-force loops and toy data whose answers are known."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mirjax.recommendation import analysis as ra

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(autouse=True)
def _single_thread():
    """One BLAS/OpenMP thread: on these tiny inputs threads only add spin-waiting, and on a busy 2-core
    machine sklearn's OpenMP t-SNE ran 5-20x slower with 2 threads than with 1."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1):
        yield


def _random_tags(rng, n, t, rate=0.3):
    tags = (rng.random((n, t)) < rate).astype(np.int64)
    tags[: 2 * t, :] = np.eye(t, dtype=np.int64).repeat(2, axis=0)  # every tag gets some positives
    return tags


# ---------------------------------------------------------------------------------------------- tag prediction


def test_tag_auc_informative_features():
    rng = np.random.default_rng(0)
    tags = _random_tags(rng, 300, 4)
    # 4 dims that encode the tags (plus noise) and 4 pure-noise dims.
    feats = np.concatenate([2.0 * tags + 0.5 * rng.normal(size=tags.shape), rng.normal(size=(300, 4))], axis=1)
    out = ra.tag_prediction_auc(feats, tags, folds=5, tag_names=["rock", "pop", "jazz", "dance"])
    assert out["auc_mean"] > 0.95
    assert set(out["auc_per_tag"]) == {"rock", "pop", "jazz", "dance"}
    assert out["skipped"] == [] and out["folds"] == 5
    assert out["auc_mean"] == pytest.approx(np.mean(list(out["auc_per_tag"].values())))


def test_tag_auc_noise_features_near_chance():
    rng = np.random.default_rng(1)
    tags = _random_tags(rng, 400, 5)
    out = ra.tag_prediction_auc(rng.normal(size=(400, 6)), tags, folds=10)
    assert abs(out["auc_mean"] - 0.5) < 0.08


def test_tag_auc_matches_hand_written_cv_loop():
    """Same folds (StratifiedKFold, shuffled with the seed), fit per fold, AUC of the pooled scores."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold

    rng = np.random.default_rng(2)
    tags = _random_tags(rng, 120, 2)
    feats = tags @ rng.normal(size=(2, 3)) + rng.normal(size=(120, 3))
    out = ra.tag_prediction_auc(feats, tags, folds=4, seed=7)
    for j in range(2):
        y = tags[:, j]
        scores = np.empty(len(y))
        for train, test in StratifiedKFold(4, shuffle=True, random_state=7).split(feats, y):
            mu, sd = feats[train].mean(0), feats[train].std(0)
            clf = LogisticRegression(C=1.0, max_iter=1000).fit((feats[train] - mu) / sd, y[train])
            scores[test] = clf.decision_function((feats[test] - mu) / sd)
        assert out["auc_per_tag"][f"tag{j}"] == pytest.approx(roc_auc_score(y, scores), abs=1e-9)


def test_tag_auc_skips_rare_and_near_universal_tags():
    rng = np.random.default_rng(3)
    n = 100
    common = (rng.random(n) < 0.4).astype(int)
    rare = np.zeros(n, int)
    rare[:3] = 1  # 3 positives < 10 folds
    universal = np.ones(n, int)
    universal[:5] = 0  # 5 negatives < 10 folds
    tags = np.stack([common, rare, universal], axis=1)
    out = ra.tag_prediction_auc(rng.normal(size=(n, 3)), tags, folds=10, tag_names=["common", "rare", "all"])
    assert out["skipped"] == ["rare", "all"]
    assert list(out["auc_per_tag"]) == ["common"]


def test_tag_auc_errors():
    rng = np.random.default_rng(4)
    with pytest.raises(ValueError, match="same number of rows"):
        ra.tag_prediction_auc(rng.normal(size=(50, 3)), np.ones((49, 2)))
    with pytest.raises(ValueError, match="0/1"):
        ra.tag_prediction_auc(rng.normal(size=(50, 3)), np.full((50, 2), 2))
    with pytest.raises(ValueError, match="tag_names"):
        ra.tag_prediction_auc(rng.normal(size=(50, 3)), np.ones((50, 2)), tag_names=["a"])
    with pytest.raises(ValueError, match="fewer folds"):
        ra.tag_prediction_auc(rng.normal(size=(50, 3)), np.eye(50, 2))


# ---------------------------------------------------------------------------------------------- neighbours


def _brute_cosine(a, b):
    out = np.zeros((len(a), len(b)))
    for i in range(len(a)):
        for j in range(len(b)):
            na = math.sqrt(sum(v * v for v in a[i]))
            nb = math.sqrt(sum(v * v for v in b[j]))
            out[i, j] = 0.0 if na == 0 or nb == 0 else sum(x * y for x, y in zip(a[i], b[j])) / (na * nb)
    return out


def test_cosine_neighbours_match_brute_force():
    rng = np.random.default_rng(5)
    q, db = rng.normal(size=(7, 5)), rng.normal(size=(30, 5))
    q[3] = 0.0
    db[11] = 0.0
    idx, sims = ra.cosine_neighbours(q, db, k=6, chunk=3)  # chunk < q exercises the chunking
    ref = _brute_cosine(q, db)
    assert idx.shape == sims.shape == (7, 6)
    assert np.all(np.isfinite(sims))
    np.testing.assert_allclose(sims[3], 0.0)  # zero query: similarity 0 to everything
    for i in range(7):
        if i != 3:
            np.testing.assert_array_equal(idx[i], np.argsort(-ref[i])[:6])
        np.testing.assert_allclose(sims[i], ref[i, idx[i]], atol=1e-12)
        assert np.all(np.diff(sims[i]) <= 0)
    # Ties (all zero for the zero query) go to the lowest indices.
    np.testing.assert_array_equal(idx[3], np.arange(6))


def test_cosine_neighbours_exclude_self():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(20, 4))
    idx, sims = ra.cosine_neighbours(x, x, k=19, exclude_self=True)
    ref = _brute_cosine(x, x)
    for i in range(20):
        assert i not in idx[i]
        others = [j for j in np.argsort(-ref[i]) if j != i]
        np.testing.assert_array_equal(idx[i], others)
        assert np.all(np.diff(sims[i]) <= 0)


def test_cosine_neighbours_errors():
    x = np.ones((5, 3))
    with pytest.raises(ValueError, match="k must be between 1 and 5"):
        ra.cosine_neighbours(x, x, k=6)
    with pytest.raises(ValueError, match="k must be between 1 and 4"):
        ra.cosine_neighbours(x, x, k=5, exclude_self=True)
    with pytest.raises(ValueError, match="dims"):
        ra.cosine_neighbours(np.ones((2, 4)), x)
    with pytest.raises(ValueError, match="exclude_self"):
        ra.cosine_neighbours(np.ones((2, 3)), x, exclude_self=True)


def test_neighbour_table_toy():
    # Six songs on a quarter circle: by WMF angle order, by "CNN" the reverse angle order.
    names = ["A", "B", "C", "D", "E", "F"]
    angles = np.deg2rad([0, 10, 25, 45, 70, 90])
    wmf = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    cnn = wmf[:, ::-1] * 3.0  # mirrored and rescaled: cosine ignores the scale
    table = ra.neighbour_table([0, "D"], names, {"WMF": wmf, "CNN (predicted)": cnn}, k=3)
    lines = table.strip().split("\n")
    assert len(lines) == 2 + 2 * 2
    assert lines[0] == "| query | source | 1 | 2 | 3 |"
    assert lines[1] == "|---|---|---|---|---|"
    cells = [[c.strip() for c in line.strip("|").split("|")] for line in lines[2:]]
    assert all(len(c) == 5 for c in cells)
    assert cells[0] == ["A", "WMF", "B", "C", "D"]
    # Mirroring maps angle θ to 90° − θ; cosine only depends on angle differences, so same neighbours.
    assert cells[1] == ["A", "CNN (predicted)", "B", "C", "D"]
    assert cells[2] == ["D", "WMF", "C", "E", "B"]  # |45-25|=20 < |45-70|=25 < |45-10|=35
    for c in cells:
        assert c[0] not in c[2:]


def test_neighbour_table_sources_can_disagree_and_errors():
    names = ["q", "x", "y"]
    a = np.array([[1.0, 0.0], [0.9, 0.1], [0.0, 1.0]])
    b = np.array([[1.0, 0.0], [0.0, 1.0], [0.9, 0.1]])
    table = ra.neighbour_table([0], names, {"WMF": a, "CNN": b}, k=1)
    assert "| q | WMF | x |" in table and "| q | CNN | y |" in table
    with pytest.raises(ValueError, match="k must be between 1 and 2"):
        ra.neighbour_table([0], names, {"WMF": a}, k=3)
    with pytest.raises(ValueError, match="rows"):
        ra.neighbour_table([0], names, {"WMF": a[:2]})
    with pytest.raises(ValueError, match="row index"):
        ra.neighbour_table([3], names, {"WMF": a}, k=1)
    with pytest.raises(ValueError, match="matches 0 names"):
        ra.neighbour_table(["nope"], names, {"WMF": a}, k=1)


# ---------------------------------------------------------------------------------------------- t-SNE


def _blobs(seed=0, per=20, dims=10):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(3, dims)) * 10.0
    labels = np.repeat(np.arange(3), per)
    return centres[labels] + rng.normal(size=(3 * per, dims)), labels


def test_tsne_embed_keeps_blobs_apart():
    x, labels = _blobs()
    emb = ra.tsne_embed(x, seed=0)
    assert emb.shape == (60, 2) and np.all(np.isfinite(emb))
    centroids = np.stack([emb[labels == c].mean(0) for c in range(3)])
    pred = np.argmin(((emb[:, None, :] - centroids[None]) ** 2).sum(-1), axis=1)
    assert (pred == labels).mean() >= 0.95
    np.testing.assert_array_equal(ra.tsne_embed(x, seed=0), emb)  # seeded: reproducible


def test_tsne_plot_writes_png(tmp_path):
    x, labels = _blobs(seed=1)
    path = ra.tsne_plot(x, labels, ["hip-hop", "rock", "pop"], tmp_path / "maps" / "tsne.png",
                        title="predicted factors")
    with open(path, "rb") as f:
        data = f.read()
    assert data.startswith(PNG_MAGIC) and len(data) > 1000


def test_tsne_small_n_and_errors(tmp_path):
    x, labels = _blobs(per=3)  # n = 9: perplexity 30 is clipped
    assert ra.tsne_embed(x).shape == (9, 2)
    with pytest.raises(ValueError, match="labels"):
        ra.tsne_plot(x, labels[:-1], ["a", "b", "c"], tmp_path / "t.png", embedding=np.zeros((9, 2)))
    with pytest.raises(ValueError, match="labels must be integers"):
        ra.tsne_plot(x, labels, ["a", "b"], tmp_path / "t.png", embedding=np.zeros((9, 2)))
    with pytest.raises(ValueError, match="at least 4"):
        ra.tsne_embed(x[:3])
