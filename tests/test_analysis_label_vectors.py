"""Label-vector similarity (Choi Ch. 7, Eq. 7.1) on hand-made output layers, and its comparison with the NCO."""

import numpy as np
import pytest
from scipy import stats

from mirjax.analysis import label_vectors as lv
from mirjax.errors import UserError


def test_lvs_of_a_hand_made_kernel():
    # features × tags: tag a = e1, tag b = e2, tag c = e1 + e2
    w = np.array([[1.0, 0.0, 1.0],
                  [0.0, 1.0, 1.0]])
    np.testing.assert_allclose(lv.label_vector_similarity(w, cosine=False),
                               [[1, 0, 1], [0, 1, 1], [1, 1, 2]])
    r = 1 / np.sqrt(2)
    np.testing.assert_allclose(lv.label_vector_similarity(w, cosine=True),
                               [[1, 0, r], [0, 1, r], [r, r, 1]])
    # opposite label vectors: cosine -1 (the thesis's few negative pairs)
    assert lv.label_vector_similarity(np.array([[1.0, -2.0]]))[0, 1] == pytest.approx(-1.0)
    with pytest.raises(UserError, match="features, tags"):
        lv.label_vector_similarity(np.ones(3))


def _random_symmetric(rng, n):
    a = rng.normal(size=(n, n))
    return a + a.T


def test_rank_comparison_against_scipy_and_brute_force():
    rng = np.random.default_rng(0)
    tags = [f"t{i}" for i in range(9)]
    lvs = lv.label_vector_similarity(rng.normal(size=(5, 9)))
    nco = _random_symmetric(rng, 9)
    comp = lv.compare_rankings(lvs, nco, tags, top=6)
    assert comp["high_lvs_low_nco"], "the random draw should leave some top LVS pairs low in NCO"
    iu, ju = np.triu_indices(9, 1)
    # Pearson of the rankings = Spearman of the pair values (no ties)
    assert comp["rank_pearson"] == pytest.approx(stats.spearmanr(lvs[iu, ju], nco[iu, ju])[0])
    assert comp["n_pairs"] == 36
    # brute force: sort all pairs by value
    pairs = sorted(((lvs[i, j], (tags[i], tags[j])) for i, j in zip(iu, ju)), reverse=True)
    assert [tuple(r["pair"]) for r in comp["top_lvs"]] == [p for _, p in pairs[:6]]
    top_nco = {p for _, p in sorted(((nco[i, j], (tags[i], tags[j])) for i, j in zip(iu, ju)), reverse=True)[:6]}
    assert comp["top_overlap"] == len(top_nco & {p for _, p in pairs[:6]})
    for r in comp["high_lvs_low_nco"]:
        assert r["lvs_rank"] <= 6 and r["nco_rank"] > 6
    assert sorted(map(tuple, [p[:2] for p in comp["negative_lvs_pairs"]])) == sorted(
        (tags[i], tags[j]) for i, j in zip(iu, ju) if lvs[i, j] < 0)


def test_identical_similarities_agree_perfectly():
    rng = np.random.default_rng(1)
    s = _random_symmetric(rng, 6)
    comp = lv.compare_rankings(s, s, list("abcdef"), top=5)
    assert comp["rank_pearson"] == pytest.approx(1.0) and comp["top_overlap"] == 5
    assert comp["high_lvs_low_nco"] == []


def test_output_layer_is_the_last_dense_with_one_column_per_tag():
    params = {"ConvBlock_0": {"Conv_0": {"kernel": np.zeros((3, 3, 1, 4))}},
              "Dense_0": {"kernel": np.ones((8, 16)), "bias": np.zeros(16)},
              "Dense_1": {"kernel": np.full((16, 5), 2.0), "bias": np.zeros(5)}}
    name, kernel = lv.output_layer(params, 5)
    assert name == "Dense_1" and kernel.shape == (16, 5)
    with pytest.raises(UserError, match="no dense output layer with 7"):
        lv.output_layer(params, 7)


def test_markdown_table_marks_common_pairs():
    s = np.array([[1, .9, .1], [.9, 1, .5], [.1, .5, 1]])
    n = np.array([[1, .8, .7], [.8, 1, .1], [.7, .1, 1]])
    table = lv.markdown_table(lv.compare_rankings(s, n, ["a", "b", "c"], top=2))
    assert "| 1 | (a, b) * | 0.80 | (a, b) * | 0.90 |" in table
    assert "| 2 | (a, c) | 0.70 | (b, c) | 0.50 |" in table
