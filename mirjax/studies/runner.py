"""Run a list of experiments (a study) one after another, resumably, and collect one row per run.

Each run trains with `train_and_evaluate` in `OUT/runs/<name>` and is then evaluated on the test split; its
row (the run's study columns, parameters, best validation AUC, test ROC/PR-AUC, per-tag test AUC, train-step
throughput) is saved as `OUT/runs/<name>/study_row.json`. Rerunning the same command skips finished runs and
resumes an interrupted one from its last checkpoint, so a sweep can be stopped and continued. A run that fails
is reported on one line and recorded with its error; the others go on.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

import ml_collections

from mirjax import tasks
from mirjax.errors import UserError
from mirjax.evaluation import report as report_lib
from mirjax.training.evaluate import evaluate
from mirjax.training.trainer import train_and_evaluate

log = logging.getLogger("mirjax")


@dataclasses.dataclass
class Run:
    name: str  # directory name under OUT/runs; unique within a study
    config: ml_collections.ConfigDict
    columns: dict[str, Any]  # what this run varies, e.g. {"structure": "crnn", "size": "1M"}


def train_throughput(workdir: str, batch_size: int) -> float:
    """Median training examples/s over the logged intervals. Left out when others remain: the first interval
    (compilation) and any interval that follows a validation (logs written before the trainer excluded
    checkpoint and validation time from the interval). NaN if nothing was logged."""
    rates, clean, after_eval = [], [], False
    path = os.path.join(workdir, "metrics.jsonl")
    if os.path.exists(path):
        with open(path) as f:
            for line in f:
                row = json.loads(line)
                if any(k.startswith("val/") for k in row):
                    after_eval = True
                elif row.get("train/steps_per_sec"):
                    rates.append(row["train/steps_per_sec"])
                    if len(rates) > 1 and not after_eval:
                        clean.append(row["train/steps_per_sec"])
                    after_eval = False
    rates = clean or (rates[1:] if len(rates) > 1 else rates)
    return statistics.median(rates) * batch_size if rates else math.nan


def best_validation(workdir: str, metric: str) -> float:
    path, best = os.path.join(workdir, "metrics.jsonl"), math.nan
    if os.path.exists(path):
        with open(path) as f:
            values = [json.loads(line).get(f"val/{metric}") for line in f]
        values = [v for v in values if v is not None]
        best = max(values) if values else math.nan
    return best


def fingerprint(config: ml_collections.ConfigDict) -> dict[str, Any]:
    """The config as plain data, without keys that do not change results (progress bars)."""
    data = json.loads(config.to_json_best_effort(sort_keys=True))
    data.get("train", {}).pop("progress", None)
    return data


def _first_difference(a: Any, b: Any, path: str = "") -> str | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            d = _first_difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
            if d:
                return d
        return None
    return None if a == b else f"{path}: {a!r} then, {b!r} now"


def execute(runs: Sequence[Run], out: str, train_fn: Callable | None = None,
            eval_fn: Callable | None = None) -> list[dict[str, Any]]:
    """Train and test every run not already finished in `out`; returns all rows (finished, new and failed)."""
    train_fn, eval_fn = train_fn or train_and_evaluate, eval_fn or evaluate
    names = [r.name for r in runs]
    if len(set(names)) != len(names):
        raise UserError(f"study has duplicate run names: {sorted(n for n in set(names) if names.count(n) > 1)}")
    rows = []
    for i, run in enumerate(runs, 1):
        workdir = os.path.join(out, "runs", run.name)
        row_path = os.path.join(workdir, "study_row.json")
        if os.path.exists(row_path):
            with open(row_path) as f:
                row = json.load(f)
            diff = _first_difference(row.get("config"), fingerprint(run.config)) if "config" in row else None
            if diff:
                raise UserError(f"{workdir} was trained with another config ({diff}); use another --out")
            eps = train_throughput(workdir, run.config.train.batch_size)  # derived: recomputed from the run's log
            row.update(train_examples_per_sec=eps, seconds_per_2500_examples=2500 / eps if eps else math.nan)
            rows.append(row)
            log.info("[%d/%d] %s: done before, reusing %s", i, len(runs), run.name, row_path)
            continue
        os.makedirs(workdir, exist_ok=True)
        config_path = os.path.join(workdir, "config.json")
        if os.path.exists(config_path):  # an interrupted run: resume only with the same settings
            with open(config_path) as f:
                diff = _first_difference(fingerprint(ml_collections.ConfigDict(json.load(f))), fingerprint(run.config))
            if diff:
                raise UserError(f"{workdir} holds an unfinished run with another config ({diff}); use another --out")
        log.warning("[%d/%d] %s", i, len(runs), run.name)
        if not sys.stderr.isatty():  # a sweep in the background logs lines, not progress bars
            run.config.train.progress = False
        t0 = time.perf_counter()
        try:
            trained = train_fn(run.config, workdir)
            tested = eval_fn(run.config, [workdir])
        except KeyboardInterrupt:
            raise
        except Exception as e:  # one bad run must not cost the rest of the sweep
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            log.error("run %s failed: %s", run.name, msg)
            rows.append({"run": run.name, **run.columns, "error": msg})
            continue
        tc = run.config.train
        best_metric = tasks.get(run.config.dataset.task).best_metric(tc.best_metric)
        eps = train_throughput(workdir, tc.batch_size)
        row = {"run": run.name, **run.columns,
               "params": trained.get("num_params"), "steps": trained.get("step"),
               "val_" + best_metric: best_validation(workdir, best_metric),
               "test_roc_auc": tested.get("roc_auc_macro"), "test_pr_auc": tested.get("pr_auc_macro"),
               "test_accuracy": tested.get("accuracy"),
               **{f"test_{k}": tested[k] for k in ("r2", "mse", "map@500", "rec_auc") if k in tested},
               "train_examples_per_sec": eps, "seconds_per_2500_examples": 2500 / eps if eps else math.nan,
               "wall_seconds": time.perf_counter() - t0,
               "roc_auc_per_tag": tested.get("roc_auc_per_tag"), "config": fingerprint(run.config)}
        report_lib.write_report(workdir, row, "study_row.json")
        rows.append(json.loads(json.dumps(report_lib.to_jsonable(row))))
    return rows


def markdown_table(rows: Sequence[dict[str, Any]], columns: Sequence[tuple[str, str, str]]) -> str:
    """`columns`: (key, header, format) e.g. ("test_roc_auc", "test ROC-AUC", ".4f"); missing values → '–'."""
    lines = ["| " + " | ".join(h for _, h, _ in columns) + " |", "|" + "---|" * len(columns)]
    for row in rows:
        cells = []
        for key, _, fmt in columns:
            v = row.get(key)
            if v is None or (isinstance(v, float) and math.isnan(v)):
                cells.append("–" if "error" not in row or key != "test_roc_auc" else "failed")
            else:
                cells.append(format(v, fmt) if fmt else str(v))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def write_outputs(out: str, name: str, rows: Sequence[dict[str, Any]], table: str, extra: dict | None = None) -> None:
    """`OUT/<name>.json` (rows + extra) and `OUT/<name>.md` (the table)."""
    os.makedirs(out, exist_ok=True)
    report_lib.write_report(out, {"rows": list(rows), **(extra or {})}, f"{name}.json")
    with open(os.path.join(out, f"{name}.md"), "w") as f:
        f.write(table)


def ok(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows that have a test score."""
    return [r for r in rows if r.get("test_roc_auc") is not None and "error" not in r]
