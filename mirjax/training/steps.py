"""Pure train and eval steps. The front-end is the first layer of the step, so it runs on the accelerator
(Kapre-style); the trainer jits these over a device mesh."""

from __future__ import annotations

from mirjax.errors import UserError
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


def _mse(pred: jax.Array, labels: dict[str, jax.Array]) -> jax.Array:
    """Dieleman Eq. 4.4: Σ_i ‖y_i − y'_i‖², here the mean over clips of the squared error summed over factors."""
    return jnp.sum((pred - labels["factors"].astype(pred.dtype)) ** 2, axis=-1).mean()


def _wpe(pred: jax.Array, labels: dict[str, jax.Array]) -> jax.Array:
    """Dieleman Eq. 4.5 with the user factors fixed: Σ_u c_ui (p_ui − x_uᵀy'_i)² per clip, from the clip's
    quadratic ŷᵀAŷ − 2bᵀŷ + k (`mirjax.recommendation.targets`), a mean over users and clips."""
    if "wpe_gram" not in labels:
        raise UserError("train.loss=wpe needs targets built with the WPE quadratics (targets --wpe)")
    quad = jnp.einsum("bi,bij,bj->b", pred, labels["wpe_gram"], pred)
    return (quad - 2.0 * jnp.sum(labels["wpe_b"] * pred, axis=-1) + labels["wpe_const"]).mean()


# Loss name → fn(outputs, labels); a task's default loss, and the activation that turns outputs into scores.
LOSSES: dict[str, Callable[[jax.Array, Any], jax.Array]] = {"bce": _bce, "ce": _ce, "mse": _mse, "wpe": _wpe}
TASK_LOSSES: dict[str, tuple[str, ...]] = {"multilabel": ("bce",), "multiclass": ("ce",), "regression": ("mse", "wpe")}
ACTIVATIONS: dict[str, str] = {"multilabel": "sigmoid", "multiclass": "softmax", "regression": "identity"}


def loss_name(task: str, loss: str = "") -> str:
    """The loss a task trains with: `loss` if given and valid for the task, else the task's default."""
    if task not in TASK_LOSSES:
        raise UserError(f"unknown dataset.task '{task}'; valid: {', '.join(TASK_LOSSES)}")
    if loss and loss not in TASK_LOSSES[task]:
        raise UserError(f"config key 'train.loss'={loss!r} does not fit dataset.task={task}; valid: "
                         f"{', '.join(TASK_LOSSES[task])}")
    return loss or TASK_LOSSES[task][0]


def make_train_step(model: nn.Module, frontend: Callable[[jax.Array], jax.Array], task: str,
                    schedule: optax.Schedule, loss: str = "") -> Callable[[TrainState, dict[str, jax.Array]],
                                                                       tuple[TrainState, dict[str, jax.Array]]]:
    loss_fn = LOSSES[loss_name(task, loss)]

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
