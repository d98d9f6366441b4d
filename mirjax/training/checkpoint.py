"""Orbax checkpointing: periodic saves keeping the newest N (for resuming) and, separately, the best
checkpoint by a validation metric (for evaluation). Two managers, so that keep-best never deletes the
checkpoint a resume needs."""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp

LATEST_DIR, BEST_DIR = "checkpoints", "best"


class Checkpoints:
    def __init__(self, workdir: str, keep: int = 3, best_metric: str = "roc_auc_macro", best_mode: str = "max"):
        workdir = os.path.abspath(workdir)
        self.latest = ocp.CheckpointManager(
            os.path.join(workdir, LATEST_DIR), options=ocp.CheckpointManagerOptions(max_to_keep=keep, create=True))
        self.best = ocp.CheckpointManager(
            os.path.join(workdir, BEST_DIR),
            options=ocp.CheckpointManagerOptions(max_to_keep=1, create=True, best_mode=best_mode,
                                                 best_fn=lambda m: float(m[best_metric])))

    def latest_step(self) -> int | None:
        return self.latest.latest_step()

    def save(self, step: int, state: Any) -> None:
        self.latest.save(step, args=ocp.args.StandardSave(_savable(state)))

    def save_best(self, step: int, state: Any, metrics: dict[str, float]) -> None:
        self.best.save(step, args=ocp.args.StandardSave(_savable(state)), metrics=metrics)

    def restore(self, state: Any, which: str = "latest", step: int | None = None) -> Any:
        """Restore into the structure (and shardings) of `state`; `which` ∈ {latest, best}."""
        mngr = self.best if which == "best" else self.latest
        step = step if step is not None else (mngr.best_step() if which == "best" else mngr.latest_step())
        if step is None:
            raise FileNotFoundError(f"no {which} checkpoint in {mngr.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _savable(state))
        restored = mngr.restore(step, args=ocp.args.StandardRestore(abstract))
        return state.replace(**restored)

    def wait(self) -> None:
        self.latest.wait_until_finished()
        self.best.wait_until_finished()

    def close(self) -> None:
        self.latest.close()
        self.best.close()


def _savable(state: Any) -> dict[str, Any]:
    return {"step": state.step, "params": state.params, "batch_stats": state.batch_stats,
            "opt_state": state.opt_state, "rng": state.rng}
