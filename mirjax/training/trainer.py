"""`train_and_evaluate(config, workdir)`: the one generic training loop.

Resumes automatically from the newest checkpoint in `workdir`; because the data stream and the dropout keys
are pure functions of (seed, step), a resumed run reproduces an uninterrupted one exactly.
"""

from __future__ import annotations

import json
import logging
import math
import os
import time
from typing import Any

import jax
import ml_collections
import numpy as np
from tqdm.auto import tqdm

from mirjax.errors import UserError
from mirjax.training import model_card, setup, sharding
from mirjax.training.checkpoint import Checkpoints
from mirjax.training.optim import make_optimizer
from mirjax.training.state import count_params
from mirjax.training.steps import make_train_step
from mirjax.training.writer import MetricWriter

log = logging.getLogger("mirjax")


class TrainingDiverged(RuntimeError):
    """The loss became NaN or inf; the message names the step and the last good checkpoint."""


def train_and_evaluate(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
    """Train `config` in `workdir` (resuming if it holds checkpoints); returns the last validation metrics."""
    exp = setup.build_experiment(config)
    tc = config.train
    os.makedirs(workdir, exist_ok=True)
    if jax.process_index() == 0:
        with open(os.path.join(workdir, "config.json"), "w") as f:
            f.write(config.to_json_best_effort(indent=2))
    model_card.write_card(workdir, model_card.card_from_experiment(exp))

    best_metric = exp.best_metric
    tx, schedule = make_optimizer(config.optim, tc.num_steps)
    state = exp.init_state(tx)
    ckpts = Checkpoints(workdir, keep=tc.keep_checkpoints, best_metric=best_metric)
    if ckpts.latest_step() is not None:
        state = ckpts.restore(state, "latest")
        log.info("resumed from %s at step %d", workdir, int(state.step))
    start = int(state.step)
    log.info("%s: %s with %d parameters on %d device(s); %d train clips",
                 config.dataset.name, config.model.name, count_params(state.params), jax.device_count(),
                 exp.info.split_sizes[config.dataset.train_split])

    data_sharding, repl = sharding.batch_sharding(exp.mesh), sharding.replicated(exp.mesh)
    train_step = jax.jit(make_train_step(exp.model, exp.frontend, exp.task.loss(tc.loss), schedule),
                         in_shardings=(repl, data_sharding), out_shardings=(repl, repl), donate_argnums=(0,))
    sharding.per_process_batch(tc.batch_size)  # fails early on a batch that does not split over devices
    batches = exp.train_batches(start)

    writer = MetricWriter(workdir)
    # Early-stopping state of the evaluations before `start`, so a resumed run stops where an uninterrupted one would.
    best, evals_since_best, last_eval = _early_stopping_state(workdir, best_metric, start)
    pending: list[tuple[int, dict[str, jax.Array]]] = []  # device metrics not yet fetched (keeps dispatch async)
    good_step = ckpts.latest_step()
    bar = tqdm(total=tc.num_steps, initial=start, desc="train", unit="step", dynamic_ncols=True,
               disable=not tc.progress or jax.process_index() != 0)
    # Rate of the steps since the last log line; `paused` is checkpoint/validation time, which is not step time.
    t_last, step, paused, last_logged = time.perf_counter(), start, 0.0, start

    def flush() -> dict[str, float]:
        """Fetch pending step metrics; stop on the first non-finite loss without saving anything."""
        nonlocal pending
        fetched = jax.device_get(pending)
        pending = []
        for s, m in fetched:
            if not np.isfinite(m["loss"]):
                ckpts.wait()
                where = f"step {good_step} in {os.path.join(workdir, 'checkpoints')}" if good_step is not None \
                    else "none (no checkpoint had been saved)"
                raise TrainingDiverged(f"loss became {float(m['loss'])} at step {s}; last good checkpoint: {where}")
        return {k: float(np.mean([m[k] for _, m in fetched])) for k in fetched[0][1]} if fetched else {}

    stopped = tc.early_stopping_patience and evals_since_best >= tc.early_stopping_patience
    if stopped:
        bar.write(f"early-stopped before (no improvement in {evals_since_best} evaluations up to step {start}); "
                  "nothing to train")
    try:
        for step in range(start + 1, tc.num_steps + 1 if not stopped else start + 1):
            state, m = train_step(state, sharding.to_global(next(batches), data_sharding))
            pending.append((step, m))
            if len(pending) > 2:  # bound the async queue: the bar shows real progress, memory stays flat
                jax.block_until_ready(pending[-3][1])
            bar.update(1)
            boundary = step == tc.num_steps
            if step % tc.log_every == 0 or boundary:
                means = flush()  # waits for the step's result, so the time below covers finished steps
                now = time.perf_counter()
                means["steps_per_sec"] = (step - last_logged) / max(now - t_last - paused, 1e-9)
                t_last, paused, last_logged = now, 0.0, step
                writer.write(step, {f"train/{k}": v for k, v in means.items()})
                bar.set_postfix(loss=f"{means['loss']:.4f}", lr=f"{means['lr']:.2g}")
            t_pause = time.perf_counter()
            evaluate_now = step % tc.eval_every == 0 or boundary
            stop = False
            if evaluate_now:
                flush()
                last_eval = validate(exp, state, progress=tc.progress and jax.process_index() == 0)
                writer.write(step, {f"val/{k}": v for k, v in last_eval.items()})
                value = last_eval[best_metric]
                if value > best:
                    best, evals_since_best = value, 0
                else:
                    evals_since_best += 1
                bar.write(f"step {step}: val {best_metric} {value:.4f} (best {best:.4f})")
                stop = bool(tc.early_stopping_patience and evals_since_best >= tc.early_stopping_patience)
            if evaluate_now or step % tc.checkpoint_every == 0:
                flush()
                # One manager: the newest `keep_checkpoints` and the best by the validation metric are kept.
                ckpts.save(step, state, {best_metric: last_eval[best_metric]} if evaluate_now else None)
                good_step = step
            if stop:
                bar.write(f"early stopping at step {step}: no improvement in {evals_since_best} evaluations")
                break
            paused += time.perf_counter() - t_pause
    except KeyboardInterrupt:
        # Ctrl-C: keep what was trained so far (if it is sound), then stop; rerunning resumes from here.
        try:
            flush()
            if step > (good_step or 0):
                ckpts.save(step, state)
                bar.write(f"interrupted: saved step {step} in {workdir}; run the same command to resume")
        except TrainingDiverged:
            pass
        raise
    finally:
        bar.close()
        ckpts.wait()
        ckpts.close()
        writer.close()
    result = {**last_eval, "step": int(jax.device_get(state.step)), "num_params": count_params(state.params)}
    model_card.update_card(workdir, num_params=result["num_params"], trained_steps=result["step"],
                           validation={k: v for k, v in last_eval.items() if k in exp.task.summary_keys})
    return result


def _early_stopping_state(workdir: str, metric: str, upto_step: int) -> tuple[float, int, dict[str, float]]:
    """(best value, evaluations since the best, last evaluation) from the validation rows of metrics.jsonl at
    steps ≤ `upto_step` (rows a crashed run logged after its last checkpoint are ignored)."""
    best, since, last = -math.inf, 0, {}
    path = os.path.join(workdir, "metrics.jsonl")
    if upto_step and os.path.exists(path):
        with open(path) as f:
            rows = [json.loads(line) for line in f if line.strip()]
        for row in rows:
            value = row.get(f"val/{metric}")
            if value is None or row["step"] > upto_step:
                continue
            last = {k[4:]: v for k, v in row.items() if k.startswith("val/")}
            best, since = (value, 0) if value > best else (best, since + 1)
    return best, since, last


def validate(exp: setup.Experiment, state, progress: bool = True) -> dict[str, float]:
    """The task's scalar metrics on the validation split, with `train.eval_crops` crops per clip."""
    split = exp.config.dataset.eval_split
    views, labels = exp.predict(state.variables(), split, exp.config.train.eval_crops, progress)
    _, result = exp.score(views, labels, split)
    if exp.best_metric not in result:
        raise UserError(f"config key 'train.best_metric'={exp.best_metric!r} is not a metric of task "
                        f"'{exp.task.name}'; its scalar metrics: "
                        f"{', '.join(k for k, v in result.items() if isinstance(v, (int, float)))}")
    return {k: float(v) for k, v in result.items() if isinstance(v, (int, float, np.floating))}

