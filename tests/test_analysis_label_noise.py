"""Choi Ch. 3's label-noise study: NCO (Eq. 3.1), the noise statistics and Eq. 3.2 against Table 3-A, bootstrap
coverage, the weak-labelling simulation's rates, ρ1/ρ2, and one end-to-end run of the task `weak_multilabel`."""

import argparse
import json
import math

import numpy as np
import pytest
from scipy import stats

from mirjax.analysis import cooccurrence, label_noise, reliability
from mirjax.data import weak_labels
from mirjax.errors import UserError

# Table 3-A (Choi thesis §3.2.2): tag, p+, p-, precision, recall (%), N+ in the GT, Eq. 3.2's estimate; T = 242,842.
TABLE_3A = [("instrumental", 6.0, 12.0, 94.0, 88.7, 8424, 36048),
            ("female vocalists", 4.0, 24.0, 96.0, 80.0, 17840, 71127),
            ("male vocalists", 2.0, 64.0, 98.0, 60.5, 3026, 156448),
            ("guitar", 2.0, 70.0, 98.0, 58.3, 3311, 170916)]
T_MSD = 242842


def test_nco_matches_hand_counts():
    # items × tags (rock, alt rock, pop): rock 4 items, alt rock 2 (both rock), pop 2 (one with rock)
    y = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 0, 0], [0, 0, 1], [0, 0, 0]])
    c = cooccurrence.nco_matrix(y)
    expected = np.array([[4 / 4, 2 / 4, 1 / 4],
                         [2 / 2, 2 / 2, 0 / 2],
                         [1 / 2, 0 / 2, 2 / 2]])
    np.testing.assert_allclose(c, expected)
    np.testing.assert_allclose(cooccurrence.symmetric_nco(c)[0, 1], 1.0)  # max(C(rock,alt), C(alt,rock))
    # a tag without positives: a NaN row, its column 0 elsewhere
    c = cooccurrence.nco_matrix(np.array([[1, 0], [1, 0]]))
    assert np.isnan(c[1]).all() and c[0, 1] == 0.0
    with pytest.raises(UserError, match="only 0/1"):
        cooccurrence.nco_matrix(np.array([[2, 0]]))


@pytest.mark.parametrize("tag,p_plus,p_minus,precision,recall,n_pos,estimate", TABLE_3A)
def test_table_3a_from_a_subset100(tag, p_plus, p_minus, precision, recall, n_pos, estimate):
    # Subset100: 50 GT-positive items of which p+·50 are truly negative, 50 GT-negative of which p-·50 are positive.
    fp, fn = round(p_plus / 2), round(p_minus / 2)
    gt = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    true = np.r_[np.arange(50) >= fp, np.arange(50) < fn]
    s = label_noise.noise_stats(gt, true, n_pos, T_MSD)
    assert (100 * s.p_plus, 100 * s.p_minus, 100 * s.precision) == pytest.approx((p_plus, p_minus, precision))
    assert 100 * s.recall == pytest.approx(recall, abs=0.05)  # the table's one decimal
    # The table prints Eq. 3.2's value to the unit below it: truncated in the instrumental row (36,048.72 →
    # 36,048), rounded in the others (71,126.88 → 71,127), so the check is "within one item, at or above".
    assert 0 <= s.estimated_count - estimate < 1 or abs(s.estimated_count - estimate) <= 0.5
    if tag == "instrumental":  # the thesis's worked example: 8,424·0.94 + 234,418·0.12 = 36,048(.72)
        assert int(label_noise.estimated_true_count(8424, T_MSD, 0.06, 0.12)) == 36048
        assert label_noise.estimated_true_count(8424, T_MSD, 0.06, 0.12) == pytest.approx(8424 * 0.94 + 234418 * 0.12)


def test_bootstrap_interval_covers_the_true_rates_at_about_the_nominal_rate():
    # Population: a tag whose GT positives are wrong 10 % of the time and negatives 30 %; many Subset100 draws.
    rng = np.random.default_rng(1)
    p_plus, p_minus, n_pos, total = 0.10, 0.30, 5000.0, 100000.0
    truth = {"p_plus": p_plus, "p_minus": p_minus,
             "estimated_count": label_noise.estimated_true_count(n_pos, total, p_plus, p_minus)}
    trials, hits = 300, {k: 0 for k in truth}
    gt = np.r_[np.ones(50, bool), np.zeros(50, bool)]
    for t in range(trials):
        true = np.r_[rng.random(50) >= p_plus, rng.random(50) < p_minus]
        ci = label_noise.bootstrap_stats(gt, true, n_pos, total, n_boot=400, seed=t)
        for k, v in truth.items():
            hits[k] += ci[k][0] <= v <= ci[k][1]
    for k, h in hits.items():
        assert 0.88 <= h / trials <= 0.99, (k, h / trials)


def test_bootstrap_interval_contains_the_point_estimate_and_shrinks_with_more_items():
    rng = np.random.default_rng(0)
    widths = []
    for n in (50, 800):
        gt = np.r_[np.ones(n, bool), np.zeros(n, bool)]
        true = np.r_[rng.random(n) >= 0.1, rng.random(n) < 0.3]
        point = label_noise.noise_stats(gt, true)
        ci = label_noise.bootstrap_stats(gt, true, n_boot=500)
        assert ci["recall"][0] <= point.recall <= ci["recall"][1]
        widths.append(ci["p_minus"][1] - ci["p_minus"][0])
    assert widths[1] < widths[0] / 2


def test_wilson_interval_matches_statsmodels_formula():
    lo, hi = label_noise.wilson_interval(85, 400)  # Subset400's instrumental count
    z = stats.norm.ppf(0.975)
    p, n = 85 / 400, 400
    centre, half = (p + z * z / (2 * n)) / (1 + z * z / n), z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n
                                                                                         + z * z / (4 * n * n))
    assert (lo, hi) == pytest.approx((centre - half, centre + half))
    assert lo < 0.2125 < hi


def test_noise_simulation_rates_on_a_large_label_matrix():
    rng = np.random.default_rng(0)
    n, tags = 200_000, ("a", "b", "c", "d")
    clean = (rng.random((n, 4)) < np.array([0.5, 0.2, 0.05, 0.3])).astype(np.uint8)
    settings = {"seed": 3, "recall": (0.2, 1.0), "false_positive": (0.0, 0.03),
                "tag_recall": {"a": 0.3, "b": 0.9}, "tag_false_positive": {"a": 0.02, "b": 0.0}}
    rates = weak_labels.draw_rates(tags, settings)
    assert rates.recall[:2].tolist() == [0.3, 0.9] and rates.false_positive[:2].tolist() == [0.02, 0.0]
    assert ((0.2 <= rates.recall[2:]) & (rates.recall[2:] <= 1.0)).all()
    assert ((0.0 <= rates.false_positive[2:]) & (rates.false_positive[2:] <= 0.03)).all()
    noisy = weak_labels.apply_noise(clean, rates, seed=3, split="train")
    pos = clean.astype(bool)
    for j in range(4):
        recall = noisy[pos[:, j], j].mean()
        fp = noisy[~pos[:, j], j].mean()
        se_r = math.sqrt(rates.recall[j] * (1 - rates.recall[j]) / pos[:, j].sum()) + 1e-9
        se_f = math.sqrt(max(rates.false_positive[j], 1e-6) * (1 - rates.false_positive[j]) / (~pos[:, j]).sum())
        assert abs(recall - rates.recall[j]) < 5 * se_r + 1e-9, (j, recall, rates.recall[j])
        assert abs(fp - rates.false_positive[j]) < 5 * se_f + 1e-9, (j, fp, rates.false_positive[j])
    # seeded: the same (seed, split) gives the same labels, another split or seed others
    np.testing.assert_array_equal(noisy, weak_labels.apply_noise(clean, rates, seed=3, split="train"))
    assert (noisy != weak_labels.apply_noise(clean, rates, seed=3, split="test")).any()
    assert (noisy != weak_labels.apply_noise(clean, rates, seed=4, split="train")).any()
    # no settings: the clean labels, exactly
    np.testing.assert_array_equal(weak_labels.apply_noise(clean, weak_labels.draw_rates(tags, {}), 0), clean)


@pytest.mark.parametrize("settings,message", [
    ({"recal": (0.1, 1.0)}, "unknown config key 'dataset.label_noise.recal'"),
    ({"recall": (0.9, 0.1)}, r"recall'=\(0.9, 0.1\) must satisfy"),
    ({"false_positive": 0.1}, "must be a pair"),
    ({"tag_recall": {"zz": 0.5}}, "unknown tag"),
])
def test_bad_noise_settings_fail_with_one_line(settings, message):
    with pytest.raises(UserError, match=message):
        weak_labels.draw_rates(("a", "b"), settings)


def test_reannotation_csv_round_trip_and_errors(tmp_path):
    gt = np.array([[1, 0], [1, 1], [0, 1], [0, 0], [1, 0], [0, 0]], bool)
    clean = np.array([[1, 1], [0, 1], [1, 1], [0, 0], [1, 0], [1, 0]], bool)
    rows = label_noise.balanced_subset(gt, clean, ["x", "y"], ["x"], per_class=2, seed=0)
    assert sorted(int(gt[r["item_id"], 0]) for r in rows) == [0, 0, 1, 1]
    assert all(r["true_label"] == int(clean[r["item_id"], 0]) for r in rows)
    path = label_noise.write_reannotation(str(tmp_path / "s.csv"), rows)
    back = label_noise.read_reannotation(path)
    assert [(r["item_id"], r["tag"], r["true_label"]) for r in back] == [
        (r["item_id"], r["tag"], r["true_label"]) for r in rows]
    bad = tmp_path / "bad.csv"
    bad.write_text("item,tag,true_label\n1,x,1\n")
    with pytest.raises(UserError, match="missing column"):
        label_noise.read_reannotation(str(bad))
    bad.write_text("item_id,tag,true_label\n1,x,2\n")
    with pytest.raises(UserError, match=r"bad.csv:2: labels must be 0 or 1"):
        label_noise.read_reannotation(str(bad))


def test_rho1_rho2_are_pearson_correlations():
    i, ii, iii = [0.60, 0.62, 0.70, 0.71, 0.75], [0.70, 0.69, 0.78, 0.80, 0.83], [0.72, 0.73, 0.77, 0.81, 0.82]
    rel = reliability.reliability(i, ii, iii)
    assert rel["rho1"] == pytest.approx(stats.pearsonr(i, ii)[0])
    assert rel["rho2"] == pytest.approx(stats.pearsonr(ii, iii)[0])
    assert rel["spread"]["i"] == pytest.approx(0.15)
    assert math.isnan(reliability.pearson([1, 2], [3, 4]))  # under 3 systems


def test_reannotation_auc_from_saved_predictions(tmp_path):
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(30, 2, 2))
    np.savez(tmp_path / "predictions_test.npz", logits=logits, labels=np.zeros((30, 2)))
    (tmp_path / "report.json").write_text(json.dumps({"split": "test", "roc_auc_per_tag": {"a": 0.5, "b": 0.5}}))
    rows = [{"item_id": k, "tag": "b", "true_label": int(rng.random() < 0.5)} for k in range(0, 30, 2)]
    auc = reliability.reannotation_auc(str(tmp_path), "test", rows, ["b"])
    from sklearn.metrics import roc_auc_score
    probs = (1 / (1 + np.exp(-logits))).mean(1)
    assert auc["b"] == pytest.approx(roc_auc_score([r["true_label"] for r in rows],
                                                   probs[[r["item_id"] for r in rows], 1]))


def _ns(**kw):
    return argparse.Namespace(**kw)


def test_weak_labels_reach_the_pipeline_and_the_task_scores_both_label_sets(tiny_data_dir, tmp_path):
    """The task `weak_multilabel` on scorebank/tiny: the pipeline hook attaches the simulated labels by example
    index, the task scores against them and against the clean tags, and the analyses read the same labels."""
    from conftest import tiny_config
    from mirjax import tasks
    from mirjax.data import pipeline

    config = tiny_config(tiny_data_dir, **{"dataset.task": "weak_multilabel"})
    config.dataset.label_noise = {"seed": 0, "recall": (0.3, 0.6), "false_positive": (0.05, 0.1)}
    task = tasks.get("weak_multilabel")
    builder = pipeline.get_builder(config.dataset)
    batches = list(pipeline.eval_batches(config.dataset, builder, "test", 1, 4, task.attach_labels))
    attached = np.concatenate([b["label"][b["mask"]] for b in batches])
    clean = weak_labels.clean_split_labels(config.dataset, "test")
    noisy = weak_labels.split_labels(config.dataset, "test")
    np.testing.assert_array_equal(attached, noisy)
    assert (noisy != clean).any() and noisy[clean == 1].mean() < 0.7
    config.dataset.label_noise.splits = ("train",)  # a split left out keeps its clean labels
    np.testing.assert_array_equal(weak_labels.split_labels(config.dataset, "test"), clean)
    config.dataset.label_noise.splits = ()

    names = weak_labels.label_names(config.dataset)
    scores = np.random.default_rng(0).random(noisy.shape)
    result = task.metrics(noisy, scores, names, tasks.Context(config.dataset, "test"))
    from mirjax.evaluation.metrics import tagging_metrics
    for key, labels in (("roc_auc_per_tag", noisy), ("clean_roc_auc_per_tag", clean)):
        np.testing.assert_array_equal(list(result[key].values()),
                                      list(tagging_metrics(labels, scores, names)["roc_auc_per_tag"].values()))
    assert result["label_noise"]["positives_clean"] == dict(zip(names, clean.sum(0).tolist()))

    nco = cooccurrence.run(_ns(labels="", tags="", split="train", out=str(tmp_path / "nco")), config)
    np.testing.assert_allclose(np.nan_to_num(np.array(nco["nco"], float)),
                               np.nan_to_num(cooccurrence.nco_matrix(weak_labels.split_labels(config.dataset,
                                                                                              "train"))))


def test_reliability_run_over_reports(tmp_path):
    workdirs = []
    for k, (auc_clean, auc_gt, macro) in enumerate([(0.6, 0.7, 0.72), (0.65, 0.74, 0.75), (0.7, 0.8, 0.79)]):
        d = tmp_path / f"s{k}"
        d.mkdir()
        rep = {"split": "test", "roc_auc_macro": macro,
               "roc_auc_per_tag": {"a": auc_gt, "b": auc_gt + 0.1, "c": auc_gt + 0.15},
               "clean_roc_auc_per_tag": {"a": auc_clean, "b": auc_clean, "c": auc_clean + 0.1},
               "label_noise": {"recall": {"a": 0.2, "b": 0.5, "c": 0.9},
                               "positives_noisy": {"a": 10, "b": 30, "c": 5}}}
        (d / "report.json").write_text(json.dumps(rep))
        workdirs.append(str(d))
    res = reliability.run(_ns(workdir=workdirs, names="", tags="a", reannotation="", out=str(tmp_path / "rel")))
    assert res["series"]["(i) tags vs re-annotation"] == [0.6, 0.65, 0.7]
    assert res["rho1"] == pytest.approx(stats.pearsonr([0.6, 0.65, 0.7], [0.7, 0.74, 0.8])[0])
    assert res["rho2"] == pytest.approx(stats.pearsonr([0.7, 0.74, 0.8], [0.72, 0.75, 0.79])[0])
    gt = res["systems"][0]["vs_gt"]
    assert gt["tagability"] == pytest.approx(1.0)
    assert gt["popularity"] == pytest.approx(stats.spearmanr([10, 30, 5], [0.7, 0.8, 0.85])[0])
