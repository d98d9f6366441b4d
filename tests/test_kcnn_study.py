"""The KCNN study's bookkeeping: seeded whole-group subsets, group-aware folds, and the table's averaging (mean
over folds per seed, then mean ± sd over seeds)."""

from __future__ import annotations

import os

import numpy as np
import pytest

from mirjax.studies.kcnn import data, run


def test_subset_keeps_whole_groups_and_balances_classes():
    labels = np.repeat([0, 0, 1, 1, 2, 2] * 5, 2)  # 30 groups of 2 items, 3 classes
    groups = np.repeat(np.arange(30), 2)
    idx = data.subset(labels, groups, 12, seed=0)
    assert len(idx) == 12 and np.all(np.diff(idx) > 0)
    for g in np.unique(groups[idx]):  # whole groups only
        assert np.sum(groups[idx] == g) == 2
    np.testing.assert_array_equal(np.bincount(labels[idx]), [4, 4, 4])
    assert not np.array_equal(idx, data.subset(labels, groups, 12, seed=1))  # seeded
    np.testing.assert_array_equal(data.subset(labels, groups, 0, 0), np.arange(60))


def test_folds_never_split_a_group():
    c = run.study_config("tiny", "scorebank_tiny", {"dataset.use_folds": 0})
    items = data.Items(np.repeat(np.arange(3), 6), np.repeat(np.arange(9), 2), np.asarray(["train"] * 18),
                       ["a", "b", "c"], {})
    folds = data.folds(items, c)
    assert len(folds) == c.dataset.folds
    tested = np.concatenate([te for _, te in folds])
    np.testing.assert_array_equal(np.sort(tested), np.arange(18))
    for tr, te in folds:
        assert not set(items.groups[tr]) & set(items.groups[te])


def test_aggregate_means_folds_then_seeds():
    def cell(seed, acc):
        return {"seed": seed, "scores": {"KCNN (k = 5)": {"accuracy": acc}}}

    cells = {"mel": [cell(0, 0.2), cell(0, 0.4), cell(1, 0.5), cell(1, 0.7)]}
    table = run.aggregate(cells)
    mean, sd, n = table["KCNN (k = 5)"]["mel"]
    assert n == 2 and mean == pytest.approx(45.0) and sd == pytest.approx(np.std([30.0, 60.0], ddof=1))
    assert "mel" not in table["SC + SVM"]
    md = run.markdown(table, ["mel"], "t")
    assert "| KCNN (k = 5) | 45.0 ± 21.2 |" in md and "| Sparse coding + SVM | – |" in md


def test_claims_are_paired_differences_over_seeds():
    def cell(seed, full, ult):
        return {"seed": seed, "scores": {"KCNN (k = 5)": {"accuracy": full}, "KCNN (k = 5) ULT": {"accuracy": ult}}}

    # seed 0: mel +10, sfm +20 points → +15; seed 1: mel −10, sfm 0 → −5; seed 1 has two folds on mel (mean first)
    cells = {"mel": [cell(0, 0.5, 0.4), cell(1, 0.3, 0.5), cell(1, 0.5, 0.5)], "sfm": [cell(0, 0.6, 0.4),
                                                                                      cell(1, 0.2, 0.2)]}
    got = run.claims(run.per_seed(cells), ["mel", "sfm"])
    d = got["full_minus_ult"]
    assert d["seeds"] == 2 and d["seeds_favouring"] == 1 and d["ties"] == 0
    assert d["mean"] == pytest.approx(5.0) and d["sd"] == pytest.approx(np.std([15.0, -5.0], ddof=1))
    assert d["per_column"] == pytest.approx({"mel": 0.0, "sfm": 10.0})
    assert got["k5_minus_k1_svm"] is None and got["paper_gtzan"]["full_minus_ult"] == pytest.approx(7.675)
    assert "| KCNN (k = 5) − ULT | +5.0 ± 14.1 | 1 of 2 | +7.7 | +5.7 |" in run.claims_markdown(got)


def test_unknown_feature_column_is_one_line():
    from mirjax.errors import UserError

    with pytest.raises(UserError, match="unknown feature column"):
        run.parse_columns("mel,mfcc")


def test_an_out_takes_more_seeds_and_folds_but_refuses_another_config(tmp_path):
    from mirjax.errors import UserError

    c = run.study_config("tiny", "scorebank_tiny")
    run._check_out(str(tmp_path), c)
    more = run.study_config("tiny", "scorebank_tiny", {"dataset.seeds": 10, "dataset.use_folds": 0})
    run._check_out(str(tmp_path), more)  # the same cells, more of them
    other = run.study_config("tiny", "scorebank_tiny", {"train.epochs": 3})
    with pytest.raises(UserError, match="another config.*train.epochs"):
        run._check_out(str(tmp_path), other)


def test_a_cell_is_claimed_once_and_a_dead_process_lock_is_taken_over(tmp_path):
    import subprocess

    path = str(tmp_path / "cells" / "mel" / "fold0_seed0.json")
    assert run.claim(path) and open(path + ".lock").read() == str(os.getpid())
    assert not run.claim(path)  # held by a live process (this one)
    dead = subprocess.Popen(["true"])
    dead.wait()
    with open(path + ".lock", "w") as f:
        f.write(str(dead.pid))
    assert run.claim(path) and open(path + ".lock").read() == str(os.getpid())


def test_study_end_to_end_then_resumes_from_its_cells(tiny_data_dir, tmp_path, monkeypatch):
    from mirjax.cli import main

    out = str(tmp_path / "kcnn")
    assert main(["study", "kcnn", "--setting", "tiny", "--dataset", "scorebank_tiny", "--features", "mel,all",
                 "--data_dir", tiny_data_dir, "--out", out]) == 0
    md = open(os.path.join(out, "kcnn.md")).read()
    assert md.count("| Sparse coding + SVM |") == 4  # accuracy, per-class accuracy, the paper's Tables 2 and 3
    assert "| KCNN (k = 5) − ULT |" in md and "| Algorithms | MEL | ALL |" in md
    cells = sorted(os.listdir(os.path.join(out, "cells", "all")))
    assert cells == ["fold0_seed0.json"]  # finished, and its lock released
    assert os.path.getsize(os.path.join(out, "tsne_all.png")) > 0

    def must_not_run(*a, **k):
        raise AssertionError("finished cells must be reused")
    monkeypatch.setattr(run, "run_cell", must_not_run)
    c = run.study_config("tiny", "scorebank_tiny", {"dataset.data_dir": tiny_data_dir})
    again = run.run(c, ["mel", "all"], out)
    assert set(again["table"]["KCNN (k = 5)"]) == {"mel", "all"}
