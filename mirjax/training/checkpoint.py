"""Orbax checkpointing: one CheckpointManager in `workdir/checkpoints` whose preservation policy keeps the newest
N checkpoints (for resuming) and the best one by a validation metric (for evaluation), saving asynchronously.
A checkpoint saved after a validation carries its metrics; the others carry none."""

from __future__ import annotations

import os
from typing import Any

import jax
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as pp

CHECKPOINT_DIR = "checkpoints"


class Checkpoints:
    def __init__(self, workdir: str, keep: int = 3, best_metric: str = "roc_auc_macro"):
        metric = lambda m: float(m[best_metric])  # noqa: E731  (higher is better)
        policy = pp.AnyPreservationPolicy([
            pp.LatestN(n=max(keep, 1)),
            pp.BestN(get_metric_fn=metric, n=1, keep_checkpoints_without_metrics=False),
        ])
        self.manager = ocp.CheckpointManager(
            os.path.join(os.path.abspath(workdir), CHECKPOINT_DIR),
            options=ocp.CheckpointManagerOptions(preservation_policy=policy, best_fn=metric, best_mode="max",
                                                 enable_async_checkpointing=True, create=True))

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def best_step(self) -> int | None:
        """The step of the best checkpoint saved with metrics; None if none was."""
        return self.manager.best_step()

    def save(self, step: int, state: Any, metrics: dict[str, float] | None = None) -> None:
        self.manager.save(step, args=ocp.args.StandardSave(_savable(state)), metrics=metrics, force=True)

    def restore(self, state: Any, which: str = "latest", step: int | None = None) -> Any:
        """Restore into the structure (and shardings) of `state`; `which` ∈ {latest, best}."""
        if step is None:
            step = self.best_step() if which == "best" else self.latest_step()
        if step is None:
            raise FileNotFoundError(f"no {which} checkpoint in {self.manager.directory}")
        abstract = jax.tree.map(ocp.utils.to_shape_dtype_struct, _savable(state))
        restored = self.manager.restore(step, args=ocp.args.StandardRestore(abstract))
        return state.replace(**restored)

    def wait(self) -> None:
        self.manager.wait_until_finished()

    def close(self) -> None:
        self.manager.close()


def _savable(state: Any) -> dict[str, Any]:
    return {"step": state.step, "params": state.params, "batch_stats": state.batch_stats,
            "opt_state": state.opt_state, "rng": state.rng}
