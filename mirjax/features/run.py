"""One feature-learning experiment end to end (Dieleman thesis Ch. 3): load whole clips, compute the multiscale
representation, fit PCA whitening + spherical K-means per level (and layer) on the training clips, encode and
pool every split, then train the supervised learner on the pooled features and score the test clips.

    mirjax features --config configs/dieleman_kmeans.py:laplacian,1,500 --workdir DIR

DIR receives `config.json`, `dictionaries.npz` (the learnt affine maps), `features.npz` (pooled features of
every split, reused when only `downstream.*` changes) and `report.json`.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable

import ml_collections
import numpy as np

from mirjax.config import validate
from mirjax.data import pipeline
from mirjax.errors import UserError
from mirjax.evaluation import metrics, report as report_lib
from mirjax.features import config as fconfig, downstream
from mirjax.features.data import Split, load_split
from mirjax.features.extraction import Block, Extractor, compute_levels, select_columns

log = logging.getLogger("mirjax")
SPLITS = ("train", "validation", "test")


def load_splits(config: ml_collections.ConfigDict) -> dict[str, Split]:
    d = config.dataset
    builder = pipeline.get_builder(d)
    names = dict(train=d.train_split, validation=d.eval_split, test=d.test_split)
    return {k: load_split(d, v, builder, d.max_clips) for k, v in names.items()}


def learn(config: ml_collections.ConfigDict, splits: dict[str, Split], levels: dict | None = None,
          progress: Callable[[str], None] = log.info) -> tuple[Extractor, dict[str, np.ndarray]]:
    """Fit the extractor on the training clips and transform every split. `levels` ({split: [level arrays]})
    can be passed in to share the representation between architectures that use the same one."""
    spec = fconfig.spec(config)
    if levels is None:
        levels = {k: compute_levels(s.audio, config.dataset.sample_rate, spec, config.batch_clips)
                  for k, s in splits.items()}
    extractor = Extractor.fit(levels["train"], spec, config.seed, config.batch_clips, progress)
    return extractor, {k: extractor.transform(levels[k], config.batch_clips) for k in SPLITS}


def fit_learner(config: ml_collections.ConfigDict, features: dict[str, np.ndarray], splits: dict[str, Split],
                columns: np.ndarray | None = None) -> dict:
    """Train `downstream.runs` learners on `features` (optionally only `columns`) and summarise them."""
    hp, task = fconfig.hparams(config), config.dataset.task
    if task not in fconfig.TASKS:
        raise UserError(f"unknown dataset.task '{task}'; valid: {', '.join(fconfig.TASKS)}")
    data = {k: (features[k] if columns is None else features[k][..., columns], splits[k].labels) for k in SPLITS}
    if task == "nca":
        for k in SPLITS:
            if np.unique(splits[k].labels, return_counts=True)[1].max() < 2:
                raise UserError(f"NCA needs classes with at least 2 clips in every split, but no "
                                 f"'{config.dataset.label_key}' class of {config.dataset.name} split '{k}' has two")
    results = []
    for r in range(config.downstream.runs):
        seed = config.seed + 1000 * r
        if task == "nca":
            results.append(downstream.train_nca(data["train"], data["validation"], data["test"], hp, seed))
        else:
            results.append(downstream.train_mlp(data["train"], data["validation"], data["test"], task, hp, seed))
    tests = np.array([res.test for res in results])
    out = {"metric": results[0].metric, "test": float(tests.mean()),
           "test_std": float(tests.std()) if len(tests) > 1 else 0.0,
           "validation": float(np.mean([res.validation for res in results])),
           "runs": [dict(test=res.test, validation=res.validation, epochs=res.epochs, best_epoch=res.best_epoch)
                    for res in results],
           "feature_dims": int(data["train"][0].shape[-1])}
    if task == "multilabel":
        per_tag = np.mean([metrics.roc_auc_per_tag(splits["test"].labels, res.test_scores) for res in results], 0)
        out["per_tag_auc"] = {n: float(v) for n, v in zip(splits["test"].names, per_tag)}
    return out


def _fingerprint(config: ml_collections.ConfigDict) -> str:
    keep = {"seed": config.seed, "dataset": config.dataset.to_dict(), "features": config.features.to_dict()}
    return json.dumps(keep, sort_keys=True)


def run(config: ml_collections.ConfigDict, workdir: str) -> dict:
    validate(config, fconfig.feature_config())
    fconfig.spec(config), fconfig.hparams(config)  # value checks before any work
    levels_used = fconfig.index_list(config.downstream.use_levels, "use_levels")
    layers_used = fconfig.index_list(config.downstream.use_layers, "use_layers", offset=1)
    os.makedirs(workdir, exist_ok=True)
    with open(os.path.join(workdir, "config.json"), "w") as f:
        f.write(config.to_json_best_effort(indent=2))
    t0 = time.perf_counter()
    splits = load_splits(config)
    cache = os.path.join(workdir, "features.npz")
    fp = _fingerprint(config)
    if os.path.exists(cache):
        with np.load(cache) as z:
            if str(z["fingerprint"]) != fp:
                raise UserError(f"{cache} holds features of another dataset/features config; use a new --workdir "
                                 f"(or delete that file)")
            features = {k: z[k] for k in SPLITS}
            blocks = z["blocks"]
        log.info("features reused from %s", cache)
    else:
        extractor, features = learn(config, splits)
        extractor.save(os.path.join(workdir, "dictionaries.npz"))
        blocks = np.array([[b.layer, b.level, b.start, b.stop] for b in extractor.blocks])
        np.savez(cache, fingerprint=fp, blocks=blocks, **features)
    t1 = time.perf_counter()
    columns = None
    if levels_used is not None or layers_used is not None:
        try:
            columns = select_columns([Block(*map(int, b)) for b in blocks], levels_used, layers_used)
        except ValueError:
            raise UserError(f"no features for downstream.use_levels='{config.downstream.use_levels}' / "
                             f"use_layers='{config.downstream.use_layers}'") from None
    result = fit_learner(config, features, splits, columns)
    result["seconds"] = dict(features=round(t1 - t0, 1), learner=round(time.perf_counter() - t1, 1))
    result["spec"] = dataclasses.asdict(fconfig.spec(config))
    result["dataset"] = config.dataset.name
    report_lib.write_report(workdir, result)
    return result


def summary_line(result: dict) -> str:
    std = f" ± {result['test_std']:.4f}" if len(result["runs"]) > 1 else ""
    return (f"{result['dataset']} test {result['metric']} {result['test']:.4f}{std} "
            f"(validation {result['validation']:.4f}; {result['feature_dims']} features; "
            f"{result['seconds']['features']:.0f} s features + {result['seconds']['learner']:.0f} s learner)")
