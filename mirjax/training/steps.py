"""Pure train and predict steps. The front-end is the first layer of the step, so it runs on the accelerator
(Kapre-style); the trainer jits these over a device mesh. The loss is the task's (`mirjax.tasks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import optax

from mirjax.tasks import Loss
from mirjax.training.state import TrainState

Frontend = Callable[[jax.Array], jax.Array]


def make_train_step(model: nn.Module, frontend: Frontend, loss_fn: Loss, schedule: optax.Schedule
                    ) -> Callable[[TrainState, dict[str, Any]], tuple[TrainState, dict[str, jax.Array]]]:
    """(state, {'input', 'label'}) → (new state, {'loss', 'grad_norm', 'lr'})."""

    def train_step(state: TrainState, batch: dict[str, Any]):
        features = frontend(batch["input"])
        dropout_key = jax.random.fold_in(state.rng, state.step)

        def objective(params):
            logits, updates = model.apply({"params": params, "batch_stats": state.batch_stats}, features,
                                          train=True, rngs={"dropout": dropout_key}, mutable=["batch_stats"])
            return loss_fn(logits, batch["label"]), updates

        (loss, updates), grads = jax.value_and_grad(objective, has_aux=True)(state.params)
        param_updates, opt_state = state.tx.update(grads, state.opt_state, state.params)
        new_state = state.replace(step=state.step + 1, params=optax.apply_updates(state.params, param_updates),
                                  batch_stats=updates.get("batch_stats", state.batch_stats), opt_state=opt_state)
        metrics = {"loss": loss, "grad_norm": optax.tree.norm(grads), "lr": schedule(state.step)}
        return new_state, metrics

    return train_step


def make_predict_step(model: nn.Module, frontend: Frontend) -> Callable[[dict[str, Any], jax.Array], jax.Array]:
    """(variables, inputs (n, *view shape)) → outputs (n, num_outputs), inference mode."""

    def predict_step(variables: dict[str, Any], inputs: jax.Array) -> jax.Array:
        return model.apply(variables, frontend(inputs), train=False)

    return predict_step
