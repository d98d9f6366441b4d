"""Per-tag / tag-category analysis (mirjax.analysis.tags), checked against scipy, numpy and hand counts."""

from __future__ import annotations

import json
import logging
import math
import os
import subprocess
import sys

import numpy as np
import pytest
from scipy import stats

from mirjax import cli
from mirjax.analysis import tags as ta

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _ranks(values):
    """Average ranks (1-based) written out by hand, independent of scipy.stats.rankdata."""
    out = []
    for v in values:
        below = sum(1 for w in values if w < v)
        equal = sum(1 for w in values if w == v)
        out.append(below + (equal + 1) / 2)
    return out


def _pearson(a, b):
    ma, mb = sum(a) / len(a), sum(b) / len(b)
    num = sum((x - ma) * (y - mb) for x, y in zip(a, b))
    return num / math.sqrt(sum((x - ma) ** 2 for x in a) * sum((y - mb) ** 2 for y in b))


def test_spearman_with_ties_matches_scipy_and_hand():
    pop = {"a": 10, "b": 20, "c": 20, "d": 40, "e": 50}
    auc = {"a": 0.6, "b": 0.7, "c": 0.65, "d": 0.65, "e": 0.9}
    res = ta.popularity_correlation(auc, pop)
    # By hand: ranks x = 1, 2.5, 2.5, 4, 5 and y = 1, 4, 2.5, 2.5, 5 → 7.25 / 9.5.
    assert res["rho"] == pytest.approx(29 / 38, abs=1e-12)
    x, y = list(pop.values()), list(auc.values())
    assert res["rho"] == pytest.approx(_pearson(_ranks(x), _ranks(y)), abs=1e-12)
    ref = stats.spearmanr(x, y)
    assert res["rho"] == pytest.approx(ref[0], abs=1e-12)
    assert res["p_value"] == pytest.approx(ref[1], abs=1e-12)
    assert res["n"] == 5 and res["n_dropped"] == 0


def test_spearman_monotone_is_one_and_antitone_minus_one():
    pop = {f"t{i}": c for i, c in enumerate([3, 9, 27, 81, 243, 1000])}
    up = {t: 0.5 + 0.01 * i for i, t in enumerate(pop)}
    assert ta.popularity_correlation(up, pop)["rho"] == pytest.approx(1.0)
    down = {t: 0.9 - 0.05 * i for i, t in enumerate(pop)}
    assert ta.popularity_correlation(down, pop)["rho"] == pytest.approx(-1.0)


def test_spearman_drops_and_counts_nan_tags():
    rng = np.random.default_rng(1)
    names = [f"t{i}" for i in range(12)]
    pop = {t: int(c) for t, c in zip(names, rng.integers(1, 500, 12))}
    auc = {t: float(a) for t, a in zip(names, rng.uniform(0.5, 1.0, 12))}
    auc["t3"], auc["t7"] = math.nan, None  # None: how report.json stores NaN
    res = ta.popularity_correlation(auc, pop)
    kept = [t for t in names if t not in ("t3", "t7")]
    assert res["n"] == 10 and res["n_dropped"] == 2 and res["dropped_tags"] == ["t3", "t7"]
    assert res["rho"] == pytest.approx(stats.spearmanr([pop[t] for t in kept], [auc[t] for t in kept])[0])


def test_spearman_degenerate_and_missing_popularity():
    res = ta.popularity_correlation({"a": 0.7, "b": math.nan}, {"a": 1, "b": 2})
    assert math.isnan(res["rho"]) and res["n"] == 1 and "note" in res
    res = ta.popularity_correlation({"a": 0.7, "b": 0.8, "c": 0.9}, {"a": 5, "b": 5, "c": 5})
    assert math.isnan(res["rho"]) and "note" in res
    with pytest.raises(ValueError, match="no popularity"):
        ta.popularity_correlation({"a": 0.7, "zz": 0.8}, {"a": 1})


def test_tag_popularity():
    labels = np.array([[1, 0, 1], [1, 0, 0], [0, 0, 1], [1, 0, 1]], np.uint8)
    np.testing.assert_array_equal(ta.tag_popularity(labels), [3, 0, 3])
    np.testing.assert_array_equal(ta.tag_popularity(labels.astype(bool)), [3, 0, 3])
    with pytest.raises(ValueError):
        ta.tag_popularity(labels * 2)
    with pytest.raises(ValueError):
        ta.tag_popularity(labels[0])


def test_category_summary_matches_numpy():
    auc = {"rock": 0.8, "jazz": 0.9, "pop": 0.7, "60s": 0.85, "00s": 0.6, "90s": math.nan, "weird": 0.5}
    cats = {"rock": "genre", "jazz": "genre", "pop": "genre", "60s": "era", "00s": "era", "90s": "era",
            "unused": "mood"}
    s = ta.category_summary(auc, cats)
    assert list(s) == ["genre", "era", "other"]  # by mean AUC, "other" last
    assert s["genre"]["mean"] == pytest.approx(np.mean([0.8, 0.9, 0.7]))
    assert s["genre"]["std"] == pytest.approx(np.std([0.8, 0.9, 0.7]))
    assert s["era"]["mean"] == pytest.approx(np.mean([0.85, 0.6]))
    assert s["era"]["n_tags"] == 3 and s["era"]["n_nan"] == 1
    assert [t for t, _ in s["genre"]["tags"]] == ["jazz", "rock", "pop"]
    assert [t for t, _ in s["era"]["tags"]] == ["60s", "00s", "90s"]  # NaN last
    assert s["other"]["n_tags"] == 1 and s["other"]["mean"] == pytest.approx(0.5)
    assert "mood" not in s


def test_compare_models_counts_match_direct_count():
    rng = np.random.default_rng(0)
    names = [f"t{i}" for i in range(20)]
    models = {m: {t: float(v) for t, v in zip(names, rng.uniform(0.6, 0.95, 20))} for m in ("k2c1", "k1c2", "crnn")}
    models["crnn"]["t5"] = models["k2c1"]["t5"]  # a tie
    models["k1c2"]["t9"] = math.nan
    pop = {t: int(c) for t, c in zip(names, rng.permutation(20) * 10 + 1)}
    res = ta.compare_models(models, "k2c1", pop)
    assert res["tags"] == sorted(names, key=lambda t: -pop[t])
    for m in ("k1c2", "crnn"):
        pairs = [(models[m][t], models["k2c1"][t]) for t in names if not math.isnan(models[m][t])]
        v = res["vs_reference"][m]
        assert v["wins"] == sum(a > b for a, b in pairs)
        assert v["losses"] == sum(a < b for a, b in pairs)
        assert v["ties"] == sum(a == b for a, b in pairs)
        assert v["n_compared"] == len(pairs)
        assert v["mean_difference"] == pytest.approx(np.mean([a - b for a, b in pairs]))
    assert res["vs_reference"]["crnn"]["ties"] == 1
    assert "k2c1" not in res["vs_reference"]
    assert res["pairwise_wins"]["crnn"]["k1c2"] == sum(
        models["crnn"][t] > models["k1c2"][t] for t in names if t != "t9")
    assert res["macro"]["k1c2"] == pytest.approx(np.nanmean(list(models["k1c2"].values())))
    with pytest.raises(ValueError, match="reference"):
        ta.compare_models(models, "nope")
    with pytest.raises(ValueError, match="different tags"):
        ta.compare_models({"a": {"x": 0.5, "y": 0.6}, "b": {"x": 0.5}}, "a")


def _is_png(path) -> bool:
    with open(path, "rb") as f:
        return os.path.getsize(path) > 1000 and f.read(8) == PNG_MAGIC


def test_plots_write_png(tmp_path):
    names = [f"tag{i}" for i in range(8)]
    pop = {t: 5 * (i + 1) for i, t in enumerate(names)}
    a = {t: 0.6 + 0.04 * i for i, t in enumerate(names)}
    b = {t: 0.9 - 0.03 * i for i, t in enumerate(names)}
    a["tag2"] = math.nan
    cats = {"tag0": "genre", "tag1": "genre", "tag2": "mood", "tag3": "era"}
    paths = [
        ta.plot_category_auc(a, cats, tmp_path / "cat.png"),
        ta.plot_category_auc(a, {}, tmp_path / "cat_none.png"),
        ta.plot_tagwise_comparison({"a": a, "b": b}, pop, tmp_path / "cmp.png", diff=("b", "a")),
        ta.plot_tagwise_comparison({"a": a}, pop, tmp_path / "cmp1.png"),
        ta.plot_popularity_vs_auc(a, pop, tmp_path / "sub" / "scatter.png", categories=cats),
    ]
    for p in paths:
        assert _is_png(p), p


def _fake_workdir(path, tags, auc, labels, dataset="no_such_dataset_xyz/v1", split="test"):
    os.makedirs(path, exist_ok=True)
    report = {"dataset": dataset, "split": split, "roc_auc_macro": float(np.nanmean(list(auc.values()))),
              "pr_auc_macro": 0.5, "roc_auc_per_tag": {t: (None if math.isnan(auc[t]) else auc[t]) for t in tags},
              "pr_auc_per_tag": {t: 0.5 for t in tags}}
    with open(os.path.join(path, "report.json"), "w") as f:
        json.dump(report, f)
    logits = np.zeros(labels.shape[:1] + (2,) + labels.shape[1:], np.float32)
    np.savez_compressed(os.path.join(path, f"predictions_{split}.npz"), logits=logits, labels=labels)
    return str(path)


def test_cli_end_to_end_and_errors(tmp_path, capsys, caplog, monkeypatch):
    monkeypatch.setenv("MIRJAX_DATA_DIR", str(tmp_path / "tfds"))  # never the user's cache
    rng = np.random.default_rng(3)
    tags = [f"t{i}" for i in range(10)]
    labels = (rng.random((40, 10)) < np.linspace(0.05, 0.6, 10)).astype(np.uint8)
    labels[:, 4] = 0  # absent from the split → NaN AUC
    auc1 = {t: float(v) for t, v in zip(tags, rng.uniform(0.6, 0.9, 10))}
    auc2 = {t: float(v) for t, v in zip(tags, rng.uniform(0.6, 0.9, 10))}
    auc1["t4"] = auc2["t4"] = math.nan
    w1 = _fake_workdir(tmp_path / "k2c1", tags, auc1, labels)
    w2 = _fake_workdir(tmp_path / "crnn", tags, auc2, labels)
    out = tmp_path / "out"
    with caplog.at_level(logging.WARNING, logger="mirjax"):
        rc = cli.main(["analyze", "tags", "--workdir", w1, "--workdir", w2, "--names", "k2c1,crnn", "--out", str(out),
                      "--data_dir", str(tmp_path / "tfds")])
    printed = capsys.readouterr().out
    assert rc == 0
    assert any("no tag categories" in r.getMessage() and "\n" not in r.getMessage() for r in caplog.records)
    assert "crnn beats k2c1 on" in printed and "1 NaN dropped" in printed

    result = json.loads((out / "tag_analysis.json").read_text())
    pop = labels.sum(axis=0)
    assert result["popularity"] == {t: int(c) for t, c in zip(tags, pop)}
    assert result["categories_available"] is False
    assert list(result["models"][0]["categories"]) == ["other"]
    wins = sum(auc2[t] > auc1[t] for t in tags if t != "t4")
    assert result["comparison"]["vs_reference"]["crnn"]["wins"] == wins
    assert f"on {wins}/9 tags" in printed
    kept = [i for i, t in enumerate(tags) if t != "t4"]
    sp = result["models"][0]["spearman"]
    assert sp["n_dropped"] == 1 and sp["dropped_tags"] == ["t4"]
    assert sp["rho"] == pytest.approx(stats.spearmanr(pop[kept], [auc1[tags[i]] for i in kept])[0])
    assert len(result["plots"]) == 5 and all(_is_png(p) for p in result["plots"])

    # Mismatched tag sets and labels of the wrong width: exit 2, one line.
    w3 = _fake_workdir(tmp_path / "other", tags[:-1] + ["zz"], {**auc1, "zz": 0.7}, labels)
    assert cli.main(["analyze", "tags", "--workdir", w1, "--workdir", w3, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error:") and "tags differ" in err and "\n" not in err
    w4 = _fake_workdir(tmp_path / "narrow", tags, auc1, labels[:, :5])
    assert cli.main(["analyze", "tags", "--workdir", w4]) == 2
    assert "expected (clips, 10)" in capsys.readouterr().err

    # Missing report.json, through the real entry point: exit code 2, one line, no traceback.
    proc = subprocess.run([sys.executable, "-m", "mirjax", "analyze", "tags", "--workdir", str(tmp_path / "nothing")],
                          capture_output=True, text=True, timeout=60,
                          env={**os.environ, "MIRJAX_DATA_DIR": str(tmp_path / "tfds")})
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("error: no report.json in")
