"""`galaxy_zoo`: the Kaggle "Galaxy Zoo – The Galaxy Challenge" training data, read from a manual directory.

The Dieleman thesis, App. A (§A.3, §A.6.1) uses the 61,578 labelled 424×424 JPEGs and their 37 cumulative answers,
and holds out the last 10 % of the rows of `training_solutions_rev1.csv` (in the file's order) as its validation
("real-time evaluation") set; this builder makes the same two splits (`train`, `validation`). Unreadable or
wrongly shaped JPEGs are reported (one warning each, counted in `info.metadata["skipped"]`) and skipped.
"""

from __future__ import annotations

import csv
import io
import os

import numpy as np
import tensorflow_datasets as tfds
from PIL import Image

from mirjax import galaxy_tree
from mirjax.data import manual

NAME = "galaxy_zoo"
IMAGES = "images_training_rev1"
SOLUTIONS = "training_solutions_rev1.csv"
VALIDATION_FRACTION = 0.1

MANUAL_DOWNLOAD_INSTRUCTIONS = f"""
Download the competition data from https://www.kaggle.com/c/galaxy-zoo-the-galaxy-challenge/data (a Kaggle
account and accepting the competition's rules are needed), unzip `images_training_rev1.zip` and
`training_solutions_rev1.zip` into one directory:

    MANUAL_DIR/{SOLUTIONS}      # GalaxyID,Class1.1,…,Class11.6 (61,578 rows)
    MANUAL_DIR/{IMAGES}/100008.jpg …

and pass it as `config.dataset.manual_dir` (or `mirjax data build galaxy_zoo --manual_dir MANUAL_DIR`).
"""


def read_solutions(path: str) -> tuple[list[str], np.ndarray]:
    """(GalaxyIDs in file order, (n, 37) answers); a header that is not the competition's is a one-line error."""
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:1] != ["GalaxyID"] or tuple(rows[0][1:]) != galaxy_tree.ANSWER_NAMES:
        raise manual.ManualDataError(f"{NAME}: {path} does not start with the header GalaxyID,Class1.1,…,Class11.6 "
                                     f"({manual.instructions_hint(NAME)})")
    body = [r for r in rows[1:] if r]
    try:
        answers = np.asarray([[float(x) for x in r[1:]] for r in body], np.float32)
    except ValueError as e:
        raise manual.ManualDataError(f"{NAME}: {path}: a non-numeric answer ({e})") from None
    return [r[0] for r in body], answers.reshape(len(body), galaxy_tree.NUM_ANSWERS)


def split_rows(n: int) -> dict[str, range]:
    """The thesis's split: the last 10 % of the CSV rows (n // 10 of them) are the validation set."""
    n_val = n // 10
    return {"train": range(0, n - n_val), "validation": range(n - n_val, n)}


def check_jpeg(data: bytes) -> str:
    """'' for a readable 424×424 RGB JPEG, else why not."""
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            if im.format != "JPEG":
                return f"not a JPEG ({im.format})"
            if im.size != (424, 424) or im.mode != "RGB":
                return f"{im.size[0]}×{im.size[1]} {im.mode}, expected 424×424 RGB"
    except Exception as e:  # noqa: BLE001 - any decoding failure is a skipped file
        return f"unreadable JPEG ({type(e).__name__}: {e})"
    return ""


class GalaxyZoo(manual.ManualBuilder, skip_registration=__name__ != "mirjax.data.galaxy_zoo"):
    """The Kaggle Galaxy Challenge training images and answers (see module docstring)."""

    MANUAL_DOWNLOAD_INSTRUCTIONS = MANUAL_DOWNLOAD_INSTRUCTIONS

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self, description=__doc__,
            features=tfds.features.FeaturesDict({
                "image": tfds.features.Image(shape=(424, 424, 3), encoding_format="jpeg"),
                "answers": tfds.features.Tensor(shape=(galaxy_tree.NUM_ANSWERS,), dtype=np.float32,
                                                doc="cumulative Galaxy Zoo 2 answers, metadata['tag_names']"),
                "id": tfds.features.Scalar(dtype=np.int64, doc="GalaxyID"),
            }),
            supervised_keys=("image", "answers"),
            homepage="https://www.kaggle.com/c/galaxy-zoo-the-galaxy-challenge",
            metadata=tfds.core.MetadataDict(tag_names=list(galaxy_tree.ANSWER_NAMES)),
        )

    def _split_generators(self, dl_manager):
        root = manual.manual_dir(dl_manager, NAME)
        ids, answers = read_solutions(manual.require_file(os.path.join(root, SOLUTIONS), NAME, SOLUTIONS))
        image_dir = os.path.join(root, IMAGES)
        if not os.path.isdir(image_dir):
            raise manual.ManualDataError(f"{NAME}: image folder not found: expected {image_dir} "
                                         f"({manual.instructions_hint(NAME)})")
        skips = manual.SkipLog(NAME, root)
        return {split: self._generate_examples(split, [(ids[i], answers[i]) for i in rows], image_dir, skips)
                for split, rows in split_rows(len(ids)).items()}

    def _generate_examples(self, split, entries, image_dir, skips):
        skips.start(split, len(entries))
        for galaxy_id, answers in entries:
            path = os.path.join(image_dir, f"{galaxy_id}.jpg")
            if not os.path.isfile(path):
                skips.skip(split, path, "file not found")
                continue
            with open(path, "rb") as f:
                data = f.read()
            reason = check_jpeg(data)
            if reason:
                skips.skip(split, path, reason)
                continue
            skips.keep(split)
            yield galaxy_id, {"image": data, "answers": answers, "id": int(galaxy_id)}
        if entries and not skips.kept[split]:
            raise manual.ManualDataError(f"{NAME}: none of the {len(entries):,} {split} images could be read "
                                         f"({manual.instructions_hint(NAME)})")
        skips.finish(split, self.info.metadata)
