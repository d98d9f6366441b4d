"""`model_card.json`: what a trained model is, so that it can be used without its training data.

Training writes the card when it starts (outputs, task, input, front-end, model, dataset) and adds the last
validation figures when it ends; evaluation adds the test figures. Inference (`mirjax.inference`) reads only the card,
`config.json` and the checkpoints of a workdir.
"""

from __future__ import annotations

import datetime
import json
import os
from typing import Any

import jax

from mirjax.errors import UserError
from mirjax.evaluation.report import write_report

CARD = "model_card.json"


def card_from_experiment(exp) -> dict[str, Any]:
    """The card of an experiment (`mirjax.training.setup.Experiment`) before training."""
    c, info = exp.config, exp.info
    return {
        "format": 1,
        "created": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "task": exp.task.name,
        "activation": exp.task.activation,
        "outputs": list(info.label_names),
        "input": {"kind": info.input_kind, "key": c.dataset.input_key, "shape": list(info.input_shape),
                  "sample_rate": info.sample_rate,
                  "seconds": (info.input_shape[0] / info.sample_rate) if info.sample_rate else None},
        "frontend": c.frontend.to_dict(),
        "model": c.model.to_dict(),
        "dataset": {"name": c.dataset.name, "label_key": c.dataset.label_key, "splits": dict(info.split_sizes),
                    "tag_categories": dict(info.tag_categories)},
        "best_metric": exp.best_metric,
    }


def write_card(workdir: str, card: dict[str, Any]) -> str:
    if jax.process_index() != 0:
        return os.path.join(workdir, CARD)
    return write_report(workdir, card, filename=CARD)


def update_card(workdir: str, **fields: Any) -> None:
    """Merge `fields` into the workdir's card (nothing if there is none)."""
    path = os.path.join(workdir, CARD)
    if jax.process_index() != 0 or not os.path.exists(path):
        return
    card = read_card(workdir)
    card.update(fields)
    write_report(workdir, card, filename=CARD)


def read_card(workdir: str) -> dict[str, Any]:
    path = os.path.join(workdir, CARD)
    if not os.path.exists(path):
        raise UserError(f"no {CARD} in {workdir} (not a training workdir, or trained before model cards: train it "
                        "again, or resume it once with `mirjax train`)")
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError) as e:
        raise UserError(f"{path} is not a readable model card ({e})") from None
