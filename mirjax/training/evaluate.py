"""`evaluate(config, workdirs)`: restore one model or several (an ensemble), predict the evaluation split with K
views per example, save each model's view outputs, average them, score with the task, write report.json and the
task's plots."""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from typing import Any

import jax
import ml_collections
import numpy as np

from mirjax.errors import UserError
from mirjax.evaluation import report
from mirjax.models import MODELS
from mirjax.training import model_card, setup

log = logging.getLogger("mirjax")


def evaluate(config: ml_collections.ConfigDict, workdirs: Sequence[str]) -> dict[str, Any]:
    """Evaluate the checkpoint `config.eval.checkpoint` of each workdir on `config.eval.split`; several
    workdirs form an ensemble whose views (models × crops) are averaged with `config.eval.averaging`."""
    if isinstance(workdirs, str):
        workdirs = [workdirs]
    exp = setup.build_experiment(config)
    split, all_views, labels, used = config.eval.split, [], None, []
    members: dict[str, setup.Experiment] = {}
    for workdir in workdirs:
        member = _member_experiment(exp, config, workdir, members)
        state, which, step = setup.restore_for_eval(member, workdir, config.eval.checkpoint)
        views, labels_i = member.predict(state.variables(), split, config.eval.num_crops, config.train.progress)
        if labels is not None and not _same(labels, labels_i):
            raise UserError(f"{workdir}: labels differ from the first model's; ensemble members must be "
                            "evaluated on the same dataset")
        labels = labels_i
        if jax.process_index() == 0:  # per-model predictions, so ensembles can be re-blended later
            np.savez_compressed(os.path.join(workdir, f"predictions_{split}.npz"), logits=views,
                                **_label_arrays(labels))
        all_views.append(views)
        used.append({"workdir": os.path.abspath(workdir), "checkpoint": which, "step": int(step)})

    scores, result = exp.score(np.concatenate(all_views, axis=1), labels, split)  # (clips, models × views, …)
    out = {"dataset": config.dataset.name, "task": exp.task.name, "split": split, "num_clips": int(len(scores)),
           "num_crops": config.eval.num_crops, "averaging": config.eval.averaging, "models": used,
           "summary_keys": [k for k in exp.task.summary_keys if k in result], **result}
    if len(all_views) > 1:
        out["per_model"] = [{k: v for k, v in exp.score(v, labels, split)[1].items()
                             if not isinstance(v, (dict, list, np.ndarray))} for v in all_views]
    if jax.process_index() == 0:
        out["report_path"] = report.write_report(workdirs[0], out)
        if len(workdirs) == 1:
            model_card.update_card(workdirs[0], test={"split": split, "checkpoint": used[0]["checkpoint"],
                                                      **{k: result[k] for k in out["summary_keys"]}})
        if config.eval.plots:
            out["plots"] = _plots(exp, labels, scores, result, workdirs[0])
            report.write_report(workdirs[0], out)
    return out


def _member_experiment(exp: setup.Experiment, config: ml_collections.ConfigDict, workdir: str,
                       cache: dict[str, setup.Experiment]) -> setup.Experiment:
    """The experiment that restores `workdir`: `exp`, unless the workdir's saved config.json trained another model
    (an ensemble across architectures); then its own `model` section, with the eval config's values of the keys
    the model class lists in `INFERENCE_KEYS` (settings that change inference only, e.g. test-time views)."""
    path = os.path.join(workdir, "config.json")
    if not os.path.exists(path):
        return exp
    with open(path) as f:
        saved = json.load(f).get("model")
    current = json.loads(config.model.to_json_best_effort())
    if not isinstance(saved, dict) or saved == current:
        return exp
    keep = getattr(MODELS.get(saved.get("name")), "INFERENCE_KEYS", ())
    model = {**saved, **{k: v for k, v in current.items() if k in keep}}
    if model == current:
        return exp
    model = {k: tuple(v) if isinstance(v, list) else v for k, v in model.items()}
    key = json.dumps(model, sort_keys=True, default=str)
    if key not in cache:
        member = ml_collections.ConfigDict(config.to_dict())
        member.model = ml_collections.ConfigDict(model)
        log.info("%s: its own model (%s) from %s", workdir, model.get("name"), path)
        cache[key] = setup.build_experiment(member)
    return cache[key]


def _same(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)
    return np.array_equal(a, b)


def _label_arrays(labels) -> dict[str, np.ndarray]:
    return {f"labels_{k}": v for k, v in labels.items()} if isinstance(labels, dict) else {"labels": labels}


def _plots(exp: setup.Experiment, labels, scores, result, workdir) -> list[str]:
    try:
        return exp.task.plots(labels, scores, result, exp.info.label_names, workdir)
    except Exception as e:  # noqa: BLE001 - a plot must never cost the user the report
        log.warning("plotting failed: %s", e)
        return []


def summary_line(out: dict[str, Any]) -> str:
    figs = ", ".join(f"{k} {out[k]:.4f}" for k in out.get("summary_keys", []) if out.get(k) is not None)
    return f"{out['dataset']} {out['split']} ({out['num_clips']} clips, {len(out['models'])} model(s)): {figs}"
