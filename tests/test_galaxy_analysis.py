"""Galaxy analyses (Dieleman thesis, App. A, §A.7–A.8, Eqs. A.2–A.3, Table A.4, Fig. A.7–A.8): agreement against
its closed form, precision/recall against sklearn on the ≥ 50 % subsets, accuracy per agreement bin on a case
worked by hand, and the softmax blend weights against a brute-force search."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_score, recall_score

from mirjax import galaxy_tree
from mirjax.analysis import galaxy as analysis


def _answers(n, seed=0):
    rng = np.random.default_rng(seed)
    cond = np.concatenate([rng.dirichlet(np.full(len(q.answers), 0.5), n) for q in galaxy_tree.QUESTIONS], 1)
    return galaxy_tree.cumulative(cond)


def test_agreement_closed_form():
    np.testing.assert_allclose(analysis.agreement(np.array([1.0, 0.0, 0.0])), 1.0)
    np.testing.assert_allclose(analysis.agreement(np.full(4, 0.25)), 0.0, atol=1e-12)
    p = np.array([0.5, 0.25, 0.25])
    np.testing.assert_allclose(analysis.agreement(p), 1 + (0.5 * np.log(0.5) + 0.5 * np.log(0.25)) / np.log(3))
    np.testing.assert_allclose(analysis.agreement(2 * p), analysis.agreement(p))  # cumulative → normalised first


def test_precision_recall_matches_sklearn_on_the_answered_subset():
    labels, preds = _answers(400, 0), _answers(400, 1)
    preds = 0.5 * preds + 0.5 * labels  # somewhat right
    table = analysis.precision_recall(labels, preds)
    for q in galaxy_tree.QUESTIONS:
        s = galaxy_tree.SLICES[q.name]
        keep = labels[:, s].sum(1) >= 0.5 - 1e-6
        assert table[q.name]["n"] == int(keep.sum())
        truth, guess = labels[keep][:, s].argmax(1), preds[keep][:, s].argmax(1)
        for k in range(len(q.answers)):
            row = table[galaxy_tree.ANSWER_NAMES[s.start + k]]
            if (guess == k).any():
                np.testing.assert_allclose(row["precision"], precision_score(truth == k, guess == k))
            else:
                assert row["precision"] is None  # "?" in Table A.4
            if (truth == k).any():
                np.testing.assert_allclose(row["recall"], recall_score(truth == k, guess == k))


def test_accuracy_vs_agreement_bins():
    labels = np.zeros((20, 37))
    labels[:, 0:3] = [0.9, 0.1, 0.0]
    labels[10:, 0:3] = [0.4, 0.35, 0.25]  # the second half agrees less
    labels[:, 13:15] = [0.5, 0.5]
    preds = labels.copy()
    preds[10:, 0:3] = [0.1, 0.8, 0.1]  # … and the model gets exactly those wrong
    curves = analysis.accuracy_vs_agreement(labels, preds, bins=2)
    assert curves["Q1"]["accuracy"] == [1.0, 0.0] and curves["Q1"]["n"] == 20
    assert curves["Q1"]["agreement"][0] > curves["Q1"]["agreement"][1]
    assert "Q2" not in curves  # nobody answered it


def test_softmax_blend_weights_minimise_the_validation_mse():
    rng = np.random.default_rng(0)
    labels = rng.random((300, 37))
    preds = np.stack([labels + rng.normal(0, s, labels.shape) for s in (0.05, 0.1, 0.3)])
    w = analysis.fit_softmax_weights(preds, labels)
    grid = [np.array([a, b, 1 - a - b]) for a in np.linspace(0, 1, 41) for b in np.linspace(0, 1, 41) if a + b <= 1]
    best = min(grid, key=lambda g: np.mean((np.tensordot(g, preds, 1) - labels) ** 2))
    mse = lambda g: np.mean((np.tensordot(g, preds, 1) - labels) ** 2)
    assert mse(w) <= mse(best) + 1e-7 and w[0] > w[1] > w[2]


def test_filter_plot_writes_a_png(tmp_path):
    path = analysis.plot_first_layer_filters(np.random.default_rng(0).normal(size=(6, 6, 3, 32)),
                                             str(tmp_path / "filters.png"))
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
