"""Pure train and eval steps. The front-end is the first layer of the step, so it runs on the accelerator
(Kapre-style); the trainer jits these over a device mesh."""

from __future__ import annotations

from typing import Any, Callable

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from mirjax.training.state import TrainState


def _bce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.sigmoid_binary_cross_entropy(logits, labels.astype(logits.dtype)).mean()


def _ce(logits: jax.Array, labels: jax.Array) -> jax.Array:
    return optax.softmax_cross_entropy_with_integer_labels(logits, labels.astype(jnp.int32)).mean()


LOSSES: dict[str, Callable[[jax.Array, jax.Array], jax.Array]] = {"multilabel": _bce, "multiclass": _ce}
ACTIVATIONS: dict[str, str] = {"multilabel": "sigmoid", "multiclass": "softmax"}


def make_train_step(model: nn.Module, frontend: Callable[[jax.Array], jax.Array], task: str,
                    schedule: optax.Schedule) -> Callable[[TrainState, dict[str, jax.Array]],
                                                           tuple[TrainState, dict[str, jax.Array]]]:
    loss_fn = LOSSES[task]

    def train_step(state: TrainState, batch: dict[str, jax.Array]):
        features = frontend(batch["audio"])
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


def make_predict_step(model: nn.Module, frontend: Callable[[jax.Array], jax.Array]
                      ) -> Callable[[dict[str, Any], jax.Array], jax.Array]:
    """(variables, audio (n, samples)) → logits (n, num_outputs), inference mode."""

    def predict_step(variables: dict[str, Any], audio: jax.Array) -> jax.Array:
        return model.apply(variables, frontend(audio), train=False)

    return predict_step
