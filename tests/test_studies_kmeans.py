"""`mirjax study kmeans` on scorebank/tiny with shrunken architectures: rows per subset, resuming,
refusing another config, a failing architecture recorded without stopping the study, tables and plots."""

from __future__ import annotations

import os

import pytest

from mirjax.features import run as frun
from mirjax.studies import kmeans


@pytest.fixture()
def small_study(tiny_data_dir, tmp_path, monkeypatch):
    original = kmeans.Study.config

    def small(self, *args, **features):
        c = original(self, *args, **features)
        c.features.update(dict(levels=2, num_samples=1500, kmeans_iters=3))
        c.downstream.update(dict(min_epochs=1, max_epochs=2, hidden=8))
        return c

    monkeypatch.setattr(kmeans.Study, "config", small)
    return kmeans.Study(str(tmp_path / "study"), "tiny", quick=True, data_dir=tiny_data_dir)


def test_per_level_rows_resume_and_plot(small_study, monkeypatch, tmp_path):
    rows = small_study.per_level()
    assert [r["subset"] for r in rows] == ["level 0", "level 1", "all"]
    assert [r["features"] for r in rows] == [500, 500, 1000]
    assert all(0.0 <= r["test"] <= 1.0 and r["per_tag_auc"] for r in rows)
    table = kmeans.subset_table(rows, "levels")
    assert table.count("\n| level") == 2 and "| all | 1000 |" in table
    assert kmeans._plot_levels(rows, str(tmp_path / "levels.png")) and os.path.getsize(tmp_path / "levels.png") > 1000

    monkeypatch.setattr(frun, "learn", lambda *a, **k: (_ for _ in ()).throw(AssertionError("recomputed")))
    assert small_study.per_level() == rows  # finished rows are reused, not recomputed
    small_study.quick = False  # the learner settings change → the saved rows no longer match
    with pytest.raises(ValueError, match="another config"):
        small_study.per_level()


def test_grid_rows_table_and_a_failing_architecture(small_study, tmp_path):
    rows = small_study.grid("tags", (("gaussian", 1),), ("pca", "20"))
    assert [(r["representation"], r["learner"]) for r in rows] == [("gaussian", "pca"), ("gaussian", "20")]
    assert rows[1]["features"] == 40
    bad = small_study.arch("broken", small_study.config("laplacian", 999, "20"),  # windows longer than a clip
                           {"representation": "laplacian", "window": 1, "learner": "20"})
    assert "error" in bad[0] and "too few" in bad[0]["error"]
    table = kmeans.grid_table(rows + bad, "ROC-AUC", "")
    assert "| gaussian | 1 |" in table and "| laplacian | 1 | – | failed |" in table
    assert kmeans._plot_grid(rows, str(tmp_path / "grid.png"), "ROC-AUC")


def test_cli_rejects_unknown_parts_and_variants(tmp_path, capsys):
    from mirjax.cli import main
    assert main(["study", "kmeans", "--out", str(tmp_path), "--parts", "grid,nope"]) == 2
    assert "unknown part(s) nope" in capsys.readouterr().err
    assert main(["study", "kmeans", "--out", str(tmp_path), "--variants", "laplacian:3"]) == 2
    assert "unknown variant 'laplacian:3'" in capsys.readouterr().err
    assert kmeans.parse_variants("laplacian:1,multires") == (("laplacian", 1), ("multires", 1))
    assert kmeans.parse_variants("") == kmeans.VARIANTS
