"""Target tasks of the transfer study: which dataset, which label, which metric, which folds.

Choi thesis, Ch. 6, §6.3.2 (Table 6-A) has six; each reads a TFDS builder over the user's copy of the data:

  ballroom       extended_ballroom   13 dance styles                 accuracy    T1
  gtzan          gtzan_genres        10 genres                       accuracy    T2
  speech_music   gtzan_speech_music  speech / music                  accuracy    T3
  arousal        emomusic            static arousal                  r²          T4a
  valence        emomusic            static valence                  r²          T4v
  vocal          jamendo_vocal       vocal / non-vocal segments      accuracy    T5 (its test subset scores)
  urbansound8k   urbansound8k        10 urban sound classes          accuracy    T6 (its 10 official folds)

plus `game_soundtracks` (which game a soundtrack clip is from; real recordings, from Debian's packages) and five
offline tasks on the built-in scorebank corpus, which run anywhere:

  style (9 classes), key (24), meter (3), composer (4) → accuracy;  tempo (bpm, regression) → r²

Every dataset is used whole (all its splits together) and cross-validated. Items that share a `group` (a
recording cut into segments; on scorebank, the clips of one work: `work_id`) never fall on both sides of a
fold. Predefined folds win where a dataset has them: UrbanSound8K's `fold` (1–10), Jamendo's `subset`
(train + valid train, test scores, as the thesis did).
"""

from __future__ import annotations

import dataclasses
import logging
import os
from collections.abc import Iterator

import numpy as np
import tensorflow_datasets as tfds

from mirjax.data import default_data_dir
from mirjax.errors import UserError
from mirjax.features.data import to_float

log = logging.getLogger("mirjax")

CLASSIFICATION, REGRESSION = "classification", "regression"


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    dataset: str  # TFDS name[/config]; "scorebank" takes the study's scorebank config
    label: str  # feature holding the target
    kind: str  # classification | regression
    thesis: str = ""  # the thesis's task (T1 …), "" for the tasks added here
    group: str = "group"  # feature: items of one group stay in one fold (absent → items are independent)
    fold: str = ""  # feature with predefined folds (int folds, or a `subset` whose "test" items score)
    manual: bool = True  # built from a user's manual directory (if its builder has download instructions)

    @property
    def metric(self) -> str:
        return "accuracy" if self.kind == CLASSIFICATION else "r2"


TARGETS = {t.name: t for t in (
    Target("style", "scorebank", "style", CLASSIFICATION, group="work_id", manual=False),
    Target("key", "scorebank", "key", CLASSIFICATION, group="work_id", manual=False),
    Target("meter", "scorebank", "meter", CLASSIFICATION, group="work_id", manual=False),
    Target("composer", "scorebank", "composer", CLASSIFICATION, group="work_id", manual=False),
    Target("tempo", "scorebank", "bpm", REGRESSION, group="work_id", manual=False),
    Target("ballroom", "extended_ballroom", "label", CLASSIFICATION, "T1"),
    Target("gtzan", "gtzan_genres/10fold_0", "genre", CLASSIFICATION, "T2", group=""),
    Target("speech_music", "gtzan_speech_music", "label", CLASSIFICATION, "T3"),
    Target("arousal", "emomusic", "arousal", REGRESSION, "T4a"),
    Target("valence", "emomusic", "valence", REGRESSION, "T4v"),
    Target("vocal", "jamendo_vocal", "label", CLASSIFICATION, "T5", fold="subset"),
    Target("urbansound8k", "urbansound8k", "label", CLASSIFICATION, "T6", fold="fold"),
    Target("game_soundtracks", "game_soundtracks", "label", CLASSIFICATION, manual=False),  # its builder decides
)}
SCOREBANK_TASKS = tuple(n for n, t in TARGETS.items() if t.dataset == "scorebank")


def parse_tasks(text: str) -> list[Target]:
    """"style,key" → those Targets; an unknown name is a one-line UserError listing the valid ones."""
    names = [n.strip() for n in text.split(",") if n.strip()] if text else list(SCOREBANK_TASKS)
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        raise UserError(f"unknown task(s) {', '.join(unknown)}; valid: {', '.join(TARGETS)}")
    return [TARGETS[n] for n in dict.fromkeys(names)]


def dataset_name(target: Target, scorebank: str) -> str:
    return f"scorebank/{scorebank}" if target.dataset == "scorebank" else target.dataset


def manual_dir_for(name: str, manual_dir: str) -> str:
    """`DIR/<dataset>` if that folder exists, else `DIR` (one dataset's files given directly)."""
    if not manual_dir:
        return ""
    sub = os.path.join(os.path.expanduser(manual_dir), name.split("/")[0])
    return sub if os.path.isdir(sub) else os.path.expanduser(manual_dir)


def prepared_builder(name: str, data_dir: str = "", manual_dir: str = "", manual: bool = True):
    """The prepared TFDS builder of `name`, built first if needed; one-line UserErrors for an unknown dataset and
    for a manual dataset that is neither built nor given a manual directory with files in it."""
    import mirjax.data  # noqa: F401  (registers the builders)

    data_dir = data_dir or default_data_dir()
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except tfds.core.registered.DatasetNotFoundError as e:
        raise UserError(f"unknown dataset '{name}': {str(e).splitlines()[0]}") from None
    except ValueError as e:  # e.g. an unknown builder config
        raise UserError(f"dataset '{name}': {str(e).splitlines()[0]}") from None
    if builder.is_prepared():
        return builder
    path = manual_dir_for(name, manual_dir) if manual_dir else os.path.join(data_dir, "downloads", "manual")
    manual = manual and bool(getattr(builder, "MANUAL_DOWNLOAD_INSTRUCTIONS", None))
    if manual and (not os.path.isdir(path) or not os.listdir(path)):
        raise UserError(f"dataset '{name}' is not built in {data_dir} and its manual directory {path} is missing or "
                        f"empty: put the files there (docs/datasets.md) or pass --manual_dir DIR")
    log.warning("preparing %s into %s (first use; cached afterwards)", name, data_dir)
    try:
        builder.download_and_prepare(download_config=tfds.download.DownloadConfig(manual_dir=path if manual else None))
    except AssertionError as e:  # TFDS's own manual-dir check: a multi-line message with the instructions
        raise UserError(f"dataset '{name}': {str(e).splitlines()[0]}") from None
    return builder


@dataclasses.dataclass
class Dataset:
    """A whole dataset's labels (every scalar feature) in file order; audio is streamed by `clips`."""
    name: str
    version: str
    sample_rate: int
    size: int
    columns: dict[str, np.ndarray]  # feature → (items,) ints / floats / str
    class_names: dict[str, list[str]]  # ClassLabel features → names


def _scalar_features(builder) -> dict[str, object]:
    out = {}
    for key, f in builder.info.features.items():
        if key == "audio":
            continue
        if isinstance(f, (tfds.features.ClassLabel, tfds.features.Text)) or tuple(getattr(f, "shape", (1,))) == ():
            out[key] = f
    return out


def _examples(builder) -> Iterator[dict]:
    for split in sorted(builder.info.splits):
        yield from tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))


def load(builder, max_items: int = 0) -> tuple[Dataset, Iterator[np.ndarray]]:
    """(the dataset's labels, an iterator over its clips as float32) — both in the same order, every split.
    The iterator must be consumed once; labels are complete only after it is exhausted."""
    scalars = _scalar_features(builder)
    rate = int(getattr(builder.info.features["audio"], "sample_rate", 0) or 0)
    if not rate:
        raise UserError(f"dataset '{builder.info.full_name}': its audio feature states no sample rate")
    total = sum(s.num_examples for s in builder.info.splits.values())
    size = min(total, max_items) if max_items else total
    columns: dict[str, list] = {k: [] for k in scalars}
    ds = Dataset(builder.info.full_name, str(builder.version), rate, size, {},
                 {k: list(f.names) for k, f in scalars.items() if isinstance(f, tfds.features.ClassLabel)})

    def clips() -> Iterator[np.ndarray]:
        for i, ex in enumerate(_examples(builder)):
            if i >= size:
                break
            for k in scalars:
                v = ex[k]
                columns[k].append(v.decode() if isinstance(v, bytes) else v)
            yield to_float(ex["audio"])
        ds.columns.update({k: np.asarray(v) for k, v in columns.items()})

    return ds, clips()


@dataclasses.dataclass
class Problem:
    """One task's labels and fold structure over the dataset's items."""
    target: Target
    y: np.ndarray
    groups: np.ndarray | None  # items of one group never split
    folds: np.ndarray | None  # predefined outer folds (PredefinedSplit's test_fold: -1 = always training)
    class_names: list[str]


def problem(target: Target, ds: Dataset) -> Problem:
    cols = ds.columns
    if target.label not in cols:
        raise UserError(f"task {target.name}: dataset '{ds.name}' has no feature '{target.label}'; "
                        f"features: {', '.join(cols)}")
    y = cols[target.label]
    y = y.astype(np.int64) if target.kind == CLASSIFICATION else y.astype(np.float64)
    groups = cols[target.group] if target.group and target.group in cols else None
    folds = None
    if target.fold and target.fold in cols:
        f = cols[target.fold]
        if f.dtype.kind in "iu":
            folds = f.astype(np.int64)
        else:  # a subset name: its test items form the one scored fold, the rest always train
            folds = np.where(np.char.lower(f.astype(str)) == "test", 0, -1)
            if not np.any(folds == 0):
                raise UserError(f"task {target.name}: no item of '{ds.name}' has {target.fold} 'test'")
    names = ds.class_names.get(target.label, [])
    return Problem(target, y, groups, folds, names)
