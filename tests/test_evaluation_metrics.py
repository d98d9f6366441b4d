"""Evaluation metrics and averaging, checked against sklearn and closed forms."""

import json
import os
import zlib

import numpy as np
import pytest
from sklearn import metrics as skm

from mirjax.evaluation import (
    accuracy,
    average_predictions,
    classification_metrics,
    evenly_spaced_offsets,
    macro,
    plot_confusion,
    plot_per_tag_auc,
    plot_roc_curves,
    pr_auc_per_tag,
    roc_auc_per_tag,
    roc_curve,
    tagging_metrics,
    write_report,
)


def _labels(rng, n, t):
    prevalence = rng.uniform(0.02, 0.5, size=t)
    y = (rng.random((n, t)) < prevalence).astype(np.int64)
    y[:2] = [[0] * t, [1] * t]  # guarantee both classes in every column
    return y


def _scores(kind, rng, y):
    shape = y.shape
    if kind == "continuous":
        return rng.normal(size=shape) + 0.8 * y
    if kind == "many_ties":  # ~11 distinct values per column: large tie groups mixing classes
        return np.round(rng.random(shape) + 0.3 * y, 1)
    if kind == "integers":
        return rng.integers(0, 4, size=shape) + y * rng.integers(0, 2, size=shape)
    if kind == "float32":
        return (rng.normal(size=shape) + y).astype(np.float32)
    if kind == "binary_scores":  # only two distinct values
        return (rng.random(shape) < 0.3 + 0.4 * y).astype(np.float64)
    raise ValueError(kind)


def _sk_per_tag(fn, y, s):
    return np.array([fn(y[:, t], s[:, t]) for t in range(y.shape[1])])


@pytest.mark.parametrize("kind", ["continuous", "many_ties", "integers", "float32", "binary_scores"])
def test_auc_matches_sklearn(kind):
    rng = np.random.default_rng(zlib.crc32(kind.encode()))  # stable across runs
    y = _labels(rng, 700, 9)
    s = _scores(kind, rng, y)
    np.testing.assert_allclose(roc_auc_per_tag(y, s), _sk_per_tag(skm.roc_auc_score, y, s), rtol=0, atol=1e-10)
    np.testing.assert_allclose(
        pr_auc_per_tag(y, s), _sk_per_tag(skm.average_precision_score, y, s), rtol=0, atol=1e-10
    )


def test_auc_bool_labels_and_1d_input():
    rng = np.random.default_rng(1)
    y = rng.random(300) < 0.3
    s = rng.random(300)
    assert roc_auc_per_tag(y, s)[0] == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert pr_auc_per_tag(y, s)[0] == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)


def test_auc_hand_computed():
    y = np.array([0, 0, 1, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8])
    # Pairs (pos, neg): (0.35 > 0.1), (0.35 < 0.4), (0.8 > both) -> 3 of 4.
    assert roc_auc_per_tag(y, s)[0] == pytest.approx(0.75)
    # Ranked: 0.8(+) P=1, 0.4(-), 0.35(+) P=2/3 -> AP = (1 + 2/3) / 2.
    assert pr_auc_per_tag(y, s)[0] == pytest.approx(5 / 6)
    # Perfect, inverted and constant scorers.
    y = np.array([0, 1, 0, 1, 1, 0, 0])
    assert roc_auc_per_tag(y, y * 2.0)[0] == 1.0
    assert roc_auc_per_tag(y, -y)[0] == 0.0
    assert roc_auc_per_tag(y, np.zeros(7))[0] == 0.5
    assert pr_auc_per_tag(y, np.zeros(7))[0] == pytest.approx(3 / 7)  # one threshold: prevalence


def test_large_matches_sklearn():
    # Speed against sklearn on this size: bench/bench_metrics.py.
    rng = np.random.default_rng(2)
    y = _labels(rng, 30_000, 50)
    s = rng.random((30_000, 50)).astype(np.float32) + 0.1 * y
    roc = roc_auc_per_tag(y, s)
    pr = pr_auc_per_tag(y, s)
    cols = [0, 17, 49]
    np.testing.assert_allclose(roc[cols], _sk_per_tag(skm.roc_auc_score, y[:, cols], s[:, cols]), atol=1e-10)
    np.testing.assert_allclose(
        pr[cols], _sk_per_tag(skm.average_precision_score, y[:, cols], s[:, cols]), atol=1e-10
    )


def test_degenerate_columns_are_nan_and_excluded():
    rng = np.random.default_rng(3)
    y = _labels(rng, 400, 6)
    y[:, 1] = 0  # no positives
    y[:, 4] = 1  # no negatives
    s = rng.normal(size=y.shape) + y
    roc = roc_auc_per_tag(y, s)
    pr = pr_auc_per_tag(y, s)
    assert np.isnan(roc[[1, 4]]).all() and np.isnan(pr[[1, 4]]).all()
    valid = [0, 2, 3, 5]
    names = [f"t{i}" for i in range(6)]
    m = tagging_metrics(y, s, names)
    assert m["n_tags_excluded"] == 2
    assert m["roc_auc_macro"] == pytest.approx(
        np.mean(_sk_per_tag(skm.roc_auc_score, y[:, valid], s[:, valid])), abs=1e-10
    )
    assert m["pr_auc_macro"] == pytest.approx(
        np.mean(_sk_per_tag(skm.average_precision_score, y[:, valid], s[:, valid])), abs=1e-10
    )
    assert set(m["roc_auc_per_tag"]) == set(names) and np.isnan(m["roc_auc_per_tag"]["t1"])
    assert m["pr_auc_per_tag"]["t3"] == pytest.approx(skm.average_precision_score(y[:, 3], s[:, 3]))


def test_macro_and_input_checks():
    assert macro([0.5, np.nan, 1.0]) == pytest.approx(0.75)
    assert np.isnan(macro([np.nan, np.nan]))
    with pytest.raises(ValueError):
        roc_auc_per_tag(np.ones((3, 2)), np.ones((3, 3)))
    with pytest.raises(ValueError):
        roc_auc_per_tag(np.array([[0], [2]]), np.ones((2, 1)))
    with pytest.raises(ValueError):
        tagging_metrics(np.eye(3), np.eye(3), ["a", "b"])


def test_roc_curve_matches_sklearn():
    rng = np.random.default_rng(4)
    y = rng.random(500) < 0.3
    s = np.round(rng.random(500) + 0.2 * y, 2)
    fpr, tpr, thr = roc_curve(y, s)
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-12)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-12)
    np.testing.assert_allclose(thr[1:], sk_thr[1:])


def test_accuracy_and_classification_metrics_match_sklearn():
    rng = np.random.default_rng(5)
    labels = rng.integers(0, 5, size=300)
    scores = rng.normal(size=(300, 5))
    scores[np.arange(300), labels] += 1.0
    pred = scores.argmax(-1)
    assert accuracy(labels, scores) == pytest.approx(skm.accuracy_score(labels, pred))
    names = list("abcde")
    m = classification_metrics(labels, scores, names)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(labels, pred))
    np.testing.assert_array_equal(m["confusion_matrix"], skm.confusion_matrix(labels, pred, labels=range(5)))
    recall = skm.recall_score(labels, pred, average=None, labels=range(5))
    np.testing.assert_allclose([m["per_class_recall"][n] for n in names], recall)


# ----------------------------------------------------------------------------- averaging


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


A = np.array([[0.5, -1.0, 2.0], [3.0, 0.0, -2.0]])
B = np.array([[-1.5, 1.0, 0.0], [1.0, 0.5, -4.0]])


def test_averaging_sigmoid_closed_forms():
    logits = np.stack([A, B])  # (views=2, examples=2, tags=3)
    pa, pb = _sigmoid(A), _sigmoid(B)
    np.testing.assert_allclose(average_predictions(logits, 0, "avg-probs", "sigmoid"), (pa + pb) / 2, rtol=1e-12)
    np.testing.assert_allclose(
        average_predictions(logits, 0, "avg-logits", "sigmoid"), _sigmoid((A + B) / 2), rtol=1e-12
    )
    np.testing.assert_allclose(average_predictions(logits, 0, "geometric", "sigmoid"), np.sqrt(pa * pb), rtol=1e-12)


def test_averaging_softmax_closed_forms():
    logits = np.stack([A, B], axis=1)  # views on axis 1: (examples=2, views=2, classes=3)
    pa, pb = _softmax(A), _softmax(B)
    np.testing.assert_allclose(average_predictions(logits, 1, "avg-probs", "softmax"), (pa + pb) / 2, rtol=1e-12)
    np.testing.assert_allclose(
        average_predictions(logits, 1, "avg-logits", "softmax"), _softmax((A + B) / 2), rtol=1e-12
    )
    g = np.sqrt(pa * pb)
    geo = average_predictions(logits, 1, "geometric", "softmax")
    np.testing.assert_allclose(geo, g / g.sum(-1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(geo.sum(-1), 1.0, rtol=1e-12)


def test_averaging_extreme_logits_stay_finite():
    logits = np.array([[-700.0, 50.0], [-760.0, 40.0]])[:, None, :]  # (views, 1, tags)
    geo = average_predictions(logits, 0, "geometric", "sigmoid")
    assert np.isfinite(geo).all()
    # sigmoid(-760) underflows to 0 in float64, but the geometric mean exp(-730) does not: log space.
    assert geo[0, 0] > 0 and np.log(geo[0, 0]) == pytest.approx(-730.0, rel=1e-6)
    assert geo[0, 1] == pytest.approx(1.0)


def test_averaging_accepts_jax_arrays():
    jnp = pytest.importorskip("jax.numpy")
    logits = np.stack([A, B]).astype(np.float32)
    for mode in ("avg-probs", "avg-logits", "geometric"):
        out = average_predictions(jnp.asarray(logits), 0, mode, "softmax")
        assert not isinstance(out, np.ndarray)
        ref = {"avg-probs": (_softmax(A) + _softmax(B)) / 2, "avg-logits": _softmax((A + B) / 2)}
        ref["geometric"] = ref["avg-logits"]  # renormalised geometric mean == softmax of mean logits
        np.testing.assert_allclose(np.asarray(out), ref[mode], rtol=1e-5)


def test_averaging_rejects_bad_arguments():
    with pytest.raises(ValueError) as err:
        average_predictions(np.zeros((2, 3)), 0, "median", "sigmoid")
    msg = str(err.value)
    assert "\n" not in msg and all(m in msg for m in ("avg-probs", "avg-logits", "geometric"))
    with pytest.raises(ValueError):
        average_predictions(np.zeros((2, 3)), 0, "avg-probs", "relu")
    with pytest.raises(ValueError):
        average_predictions(np.zeros((2, 3)), -1, "avg-probs", "softmax")


@pytest.mark.parametrize(
    "num_samples, crop, k, expected",
    [
        (100, 10, 4, [0, 30, 60, 90]),
        (100, 10, 1, [0]),
        (100, 100, 3, [0, 0, 0]),
        (50, 80, 3, [0, 0, 0]),  # shorter than one crop
        (11, 1, 11, list(range(11))),
        (1000, 200, 2, [0, 800]),
    ],
)
def test_evenly_spaced_offsets(num_samples, crop, k, expected):
    offsets = evenly_spaced_offsets(num_samples, crop, k)
    np.testing.assert_array_equal(offsets, expected)
    assert np.issubdtype(offsets.dtype, np.integer)


@pytest.mark.parametrize("num_samples, crop, k", [(12, 2, 4), (12, 2, 7), (12345, 1000, 7), (1000, 3, 6),
                                                  (101, 1, 8), (50, 20, 9)])
def test_evenly_spaced_offsets_are_rounded_not_truncated(num_samples, crop, k):
    # Spacings that are not whole samples: the closed form rounds to the nearest sample (max offset 10, 4 crops:
    # 0, 3.33, 6.67, 10 → 0, 3, 7, 10; 7 crops: 0, 1.67, 3.33, 5, 6.67, 8.33, 10 → 0, 2, 3, 5, 7, 8, 10).
    expected = np.round(np.linspace(0.0, num_samples - crop, k)).astype(np.int64)
    np.testing.assert_array_equal(evenly_spaced_offsets(num_samples, crop, k), expected)
    if (num_samples, crop) == (12, 2):
        assert list(expected) == ([0, 3, 7, 10] if k == 4 else [0, 2, 3, 5, 7, 8, 10])


def test_evenly_spaced_offsets_cover_clip():
    offsets = evenly_spaced_offsets(12345, 1000, 7)
    assert offsets[0] == 0 and offsets[-1] + 1000 == 12345
    assert np.all(np.diff(offsets) > 0) and np.ptp(np.diff(offsets)) <= 1


# ----------------------------------------------------------------------------- reports, plots


def test_write_report_strict_json(tmp_path):
    report = {
        "auc": np.float32(0.75),
        "nan": np.float64("nan"),
        "inf": float("inf"),
        "n": np.int64(3),
        "arr": np.array([1.0, np.nan]),
        "nested": {1: (np.bool_(True), None)},
    }
    path = write_report(tmp_path / "wd", report)
    assert path == os.path.join(tmp_path, "wd", "report.json")
    with open(path) as f:
        loaded = json.loads(f.read(), parse_constant=lambda c: pytest.fail(f"non-strict JSON {c}"))
    assert loaded == {"auc": 0.75, "nan": None, "inf": None, "n": 3, "arr": [1.0, None], "nested": {"1": [True, None]}}
    assert os.listdir(tmp_path / "wd") == ["report.json"]  # no temporary file left behind


def test_plots_write_png(tmp_path):
    rng = np.random.default_rng(6)
    y = _labels(rng, 200, 5)
    y[:, 2] = 0
    s = rng.normal(size=y.shape) + y
    names = [f"tag{i}" for i in range(5)]
    m = tagging_metrics(y, s, names)
    paths = [
        plot_per_tag_auc(m["roc_auc_per_tag"], tmp_path / "auc.png", "AUC"),
        plot_roc_curves(y, s, names, tmp_path / "roc.png", max_tags=3),
        plot_confusion(np.array([[5, 1], [2, 7]]), ["a", "b"], tmp_path / "cm.png"),
    ]
    for p in paths:
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n"
