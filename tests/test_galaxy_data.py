"""The galaxy corpora: the GalSim `galaxies` generator (deterministic per seed; answers consistent with the
Galaxy Zoo decision tree, as cumulative vote fractions of 40–50 volunteers) and the `galaxy_zoo` builder on a fake
directory with the Kaggle layout (the thesis's split: the last 10 % of the CSV rows; a corrupt JPEG reported and
skipped)."""

from __future__ import annotations

import io
import logging

import numpy as np
import pytest
import tensorflow_datasets as tfds
from PIL import Image

from mirjax import galaxy_tree
from mirjax.data import galaxies_render as render, galaxy_zoo


def _tree_consistent(answers: np.ndarray) -> None:
    s = galaxy_tree.SLICES
    np.testing.assert_allclose(answers[s["Q1"]].sum(), 1, atol=1e-5)
    np.testing.assert_allclose(answers[s["Q6"]].sum(), 1, atol=1e-5)
    for q in galaxy_tree.QUESTIONS:
        parent = galaxy_tree.parent_answer(q.name)
        if parent is not None:
            np.testing.assert_allclose(answers[s[q.name]].sum(), answers[parent], atol=1e-5)


def test_generator_is_deterministic_and_its_answers_follow_the_tree():
    a, b = render.make_example(3, 11, render_size=64), render.make_example(3, 11, render_size=64)
    assert a["jpeg"] == b["jpeg"] and np.array_equal(a["answers"], b["answers"])
    assert render.make_example(3, 12, render_size=64)["jpeg"] != a["jpeg"]
    image = np.asarray(Image.open(io.BytesIO(a["jpeg"])))
    assert image.shape == (424, 424, 3) and image.dtype == np.uint8
    for i in range(40):
        p = render.sample_params(0, i)
        dists = render.answer_distributions(p)
        for q in galaxy_tree.QUESTIONS:
            np.testing.assert_allclose(dists[q.name].sum(), 1, atol=1e-9)
        answers = render.volunteer_answers(dists, np.random.default_rng(i), 45)
        _tree_consistent(answers)
        # vote fractions: Q1 is a count over 45 volunteers
        np.testing.assert_allclose(answers[:3] * 45, np.round(answers[:3] * 45), atol=1e-4)


def test_generating_parameters_drive_the_answers():
    # edge-on disks are called edge-on, face-on ones are not; strong bars are called bars
    p = {**render.sample_params(0, 0), "class": "disk", "incl": 88.0, "bar": 0.0, "arms": 0, "arm_amp": 0.0}
    assert render.answer_distributions(p)["Q2"][0] > 0.9
    p = {**p, "incl": 20.0, "bar": 0.9, "size": 50.0, "noise": 0.005}
    d = render.answer_distributions(p)
    assert d["Q2"][0] < 0.05 and d["Q3"][0] > 0.9
    classes = {render.sample_params(0, i)["class"] for i in range(300)}
    assert classes == set(render.CLASSES)


def _fake_kaggle(root, n=20, corrupt=(7,)):
    (root / galaxy_zoo.IMAGES).mkdir(parents=True)
    rng = np.random.default_rng(0)
    ids = [100008 + 17 * i for i in range(n)]
    rows = ["GalaxyID," + ",".join(galaxy_tree.ANSWER_NAMES)]
    answers = []
    for i, gid in enumerate(ids):
        cond = np.concatenate([rng.dirichlet(np.ones(len(q.answers))) for q in galaxy_tree.QUESTIONS])
        a = galaxy_tree.cumulative(cond)
        answers.append(a)
        rows.append(f"{gid}," + ",".join(f"{x:.6f}" for x in a))
        path = root / galaxy_zoo.IMAGES / f"{gid}.jpg"
        if i in corrupt:
            path.write_bytes(b"\xff\xd8\xff\xe0 not really a jpeg")
        else:
            Image.fromarray(rng.integers(0, 255, (424, 424, 3), dtype=np.uint8)).save(path, quality=85)
    (root / galaxy_zoo.SOLUTIONS).write_text("\n".join(rows) + "\n")
    return ids, np.asarray(answers, np.float32)


def test_galaxy_zoo_builder_on_a_fake_kaggle_directory(tmp_path, caplog):
    ids, answers = _fake_kaggle(tmp_path / "manual")
    builder = tfds.builder("galaxy_zoo", data_dir=str(tmp_path / "tfds"))
    with caplog.at_level(logging.WARNING, logger="mirjax"):
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(
            manual_dir=str(tmp_path / "manual")))
    assert any("unreadable JPEG" in r.getMessage() and f"{ids[7]}.jpg" in r.getMessage() for r in caplog.records)
    # the thesis's split: the last 20 // 10 = 2 rows of the CSV are the validation set; the corrupt row is skipped
    assert builder.info.splits["train"].num_examples == 17 and builder.info.splits["validation"].num_examples == 2
    assert builder.info.metadata["skipped"]["train"]["unreadable"] == 1
    val = list(tfds.as_numpy(builder.as_dataset(split="validation")))
    assert sorted(int(ex["id"]) for ex in val) == ids[-2:]
    for ex in val:
        np.testing.assert_allclose(ex["answers"], answers[ids.index(int(ex["id"]))], atol=1e-6)
        assert ex["image"].shape == (424, 424, 3)


def test_galaxy_zoo_wrong_csv_is_one_line(tmp_path):
    root = tmp_path / "manual"
    (root / galaxy_zoo.IMAGES).mkdir(parents=True)
    (root / galaxy_zoo.SOLUTIONS).write_text("id,a,b\n1,0,1\n")
    builder = tfds.builder("galaxy_zoo", data_dir=str(tmp_path / "tfds"))
    with pytest.raises(galaxy_zoo.manual.ManualDataError, match="GalaxyID") as e:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=str(root)))
    assert "\n" not in str(e.value)
