"""The KCNN study's items: labels, groups and folds of a dataset, and each clip's frame features (cached).

Items come from every split of the TFDS builder (scorebank, GTZAN: cross-validated) or, with
`dataset.predefined = "split"`, the `train` split trains and the `test` split scores (ISMIR 2004: training /
development). `max_items` keeps a seeded, class-balanced subset of whole groups. Frame features
(`mirjax.features.audio_words`) are computed once per clip at the config's rate (resampled with soxr when the
dataset's rate differs) and cached in OUT/frames.npz; a clip that cannot be featurised is reported and skipped.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os

import ml_collections
import numpy as np
import tensorflow_datasets as tfds
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold

from mirjax.errors import UserError
from mirjax.features import audio_words as aw
from mirjax.features.data import to_float
from mirjax.studies.transfer.targets import prepared_builder

log = logging.getLogger("mirjax")


@dataclasses.dataclass
class Items:
    """Per item (n,): label index, group, split name; frames[type] = list of (frames, dims) arrays."""
    labels: np.ndarray
    groups: np.ndarray
    splits: np.ndarray
    class_names: list[str]
    frames: dict[str, list[np.ndarray]]

    def __len__(self) -> int:
        return len(self.labels)


def frame_config(c: ml_collections.ConfigDict) -> aw.FrameConfig:
    w = c.words
    return aw.FrameConfig(w.sample_rate, w.n_fft, w.hop_length, w.n_mels, w.n_bands, w.band_fmin, w.min_bins)


def _read(c: ml_collections.ConfigDict):
    """(labels, groups, splits, class names, sample rate, audio iterator) over every split, in a fixed order."""
    builder = prepared_builder(c.dataset.name, c.dataset.data_dir, c.dataset.manual_dir)
    feats = builder.info.features
    if c.dataset.label not in feats:
        raise UserError(f"dataset '{c.dataset.name}' has no feature '{c.dataset.label}'; features: "
                        f"{', '.join(feats)}")
    names = list(feats[c.dataset.label].names)
    rate = int(feats["audio"].sample_rate)
    labels, groups, splits, audio = [], [], [], []
    for split in sorted(builder.info.splits):
        for i, ex in enumerate(tfds.as_numpy(builder.as_dataset(split=split, shuffle_files=False))):
            labels.append(int(ex[c.dataset.label]))
            g = ex.get(c.dataset.group) if c.dataset.group else None
            groups.append(g.decode() if isinstance(g, bytes) else f"{split}/{i}" if g is None else str(g))
            splits.append(split)
            audio.append(ex["audio"])
    return np.asarray(labels), np.asarray(groups), np.asarray(splits), names, rate, audio


def subset(labels: np.ndarray, groups: np.ndarray, max_items: int, seed: int) -> np.ndarray:
    """Sorted indices of ≤ max_items items: whole groups, drawn in a seeded order round-robin over classes (each
    group counted under its first item's class), so the classes stay as balanced as the data allow."""
    if not max_items or max_items >= len(labels):
        return np.arange(len(labels))
    rng = np.random.default_rng(seed)
    by_class: dict[int, list] = {}
    for g in rng.permutation(np.unique(groups)):
        by_class.setdefault(int(labels[np.argmax(groups == g)]), []).append(g)
    chosen, count = [], 0
    while count < max_items and any(by_class.values()):
        for cls in sorted(by_class):
            if by_class[cls] and count < max_items:
                g = by_class[cls].pop()
                chosen.append(g)
                count += int(np.sum(groups == g))
    return np.flatnonzero(np.isin(groups, chosen))


def load_items(c: ml_collections.ConfigDict, out: str) -> Items:
    """The study's items with their frame features (all FEATURE_TYPES), cached in OUT/frames.npz."""
    path = os.path.join(out, "frames.npz")
    cfg = frame_config(c)
    which = {k: c.dataset[k] for k in ("name", "label", "group", "predefined", "max_items", "seed")}
    key = json.dumps({"dataset": which, "frames": dataclasses.asdict(cfg)}, sort_keys=True)
    if os.path.isfile(path):
        z = np.load(path, allow_pickle=False)
        if str(z["key"]) == key:
            offsets = z["offsets"]
            frames = {t: np.split(z[t], offsets[1:-1]) for t in aw.FEATURE_TYPES}
            return Items(z["labels"], z["groups"], z["splits"], list(z["class_names"]), frames)
        log.warning("%s was made with other data settings; recomputing", path)
    import soxr

    labels, groups, splits, names, rate, audio = _read(c)
    keep = subset(labels, groups, c.dataset.max_items, c.dataset.seed)
    frames: dict[str, list] = {t: [] for t in aw.FEATURE_TYPES}
    ok = []
    for i in keep:
        try:
            x = to_float(audio[i])
            if rate != cfg.sample_rate:
                x = soxr.resample(x, rate, cfg.sample_rate).astype(np.float32)
            f = aw.frame_features(x, cfg)
        except UserError as e:
            log.warning("kcnn: skipped item %d (%s): %s", i, groups[i], e)
            continue
        for t in aw.FEATURE_TYPES:
            frames[t].append(f[t])
        ok.append(i)
    ok = np.asarray(ok, int)
    if not len(ok):
        raise UserError(f"kcnn: no item of '{c.dataset.name}' could be featurised")
    offsets = np.cumsum([0] + [len(f) for f in frames["mel"]])
    os.makedirs(out, exist_ok=True)
    np.savez(path + ".tmp.npz", key=key, labels=labels[ok], groups=groups[ok], splits=splits[ok],
             class_names=np.asarray(names), offsets=offsets,
             **{t: np.concatenate(frames[t]) for t in aw.FEATURE_TYPES})
    os.replace(path + ".tmp.npz", path)
    return Items(labels[ok], groups[ok], splits[ok], names, frames)


def folds(items: Items, c: ml_collections.ConfigDict) -> list[tuple[np.ndarray, np.ndarray]]:
    """(train indices, test indices) per outer fold: the predefined split, or stratified (group-aware) K-fold;
    only the first `use_folds` when set."""
    if c.dataset.predefined == "split":
        train, test = np.flatnonzero(items.splits == "train"), np.flatnonzero(items.splits == "test")
        if not len(train) or not len(test):
            raise UserError(f"kcnn: '{c.dataset.name}' needs non-empty train and test splits for the predefined "
                            f"protocol")
        return [(train, test)]
    if c.dataset.group:
        cv = StratifiedGroupKFold(c.dataset.folds, shuffle=True, random_state=c.dataset.seed)
    else:
        cv = StratifiedKFold(c.dataset.folds, shuffle=True, random_state=c.dataset.seed)
    out = list(cv.split(np.zeros(len(items)), items.labels, items.groups))
    return out[:c.dataset.use_folds] if c.dataset.use_folds else out
