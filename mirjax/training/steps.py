"""Pure train and predict steps. The front-end is the first layer of the step, so it runs on the accelerator
(Kapre-style); the trainer jits these over a device mesh. The loss is the task's (`mirjax.tasks`).

Mixed precision (`train.compute_dtype`): with "bfloat16" the model's training forward and backward pass run in
bfloat16 — parameters and features are cast on the way in, the outputs back to float32 — while the parameters, the
optimizer state, batch-norm statistics (flax computes them in at least float32), the front-end and the loss stay
float32, and so do the gradients that reach the optimizer. Evaluation and prediction run in float32.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp
import optax

from mirjax.errors import UserError
from mirjax.tasks import Loss
from mirjax.training.state import TrainState

Frontend = Callable[[jax.Array], jax.Array]

COMPUTE_DTYPES = {"float32": jnp.float32, "bfloat16": jnp.bfloat16}


def compute_dtype(name: str) -> Any:
    """The jnp dtype of `train.compute_dtype`; an unknown name is a one-line UserError."""
    if name not in COMPUTE_DTYPES:
        raise UserError(f"unknown train.compute_dtype '{name}'; valid: {', '.join(COMPUTE_DTYPES)}")
    return COMPUTE_DTYPES[name]


class MixedPrecision:
    """`model` computing in `dtype` for `apply`: floating parameters and the input are cast to `dtype`, floating
    outputs back to float32 (mutable collections such as batch statistics come back as flax computes them, float32).
    `init` and every other attribute are the wrapped model's, so the parameters are created in float32."""

    def __init__(self, model: nn.Module, dtype: Any):
        self.model, self.dtype = model, dtype

    def __getattr__(self, name: str) -> Any:
        return getattr(self.model, name)

    def _cast(self, tree: Any, dtype: Any) -> Any:
        return jax.tree.map(lambda a: a.astype(dtype) if jnp.issubdtype(a.dtype, jnp.floating) else a, tree)

    def apply(self, variables: dict[str, Any], x: jax.Array, *args: Any, **kwargs: Any) -> Any:
        variables = {**variables, "params": self._cast(variables["params"], self.dtype)}
        out = self.model.apply(variables, self._cast(x, self.dtype), *args, **kwargs)
        if kwargs.get("mutable"):
            outputs, mutated = out
            return self._cast(outputs, jnp.float32), mutated
        return self._cast(out, jnp.float32)


def with_compute_dtype(model: nn.Module, name: str = "float32") -> Any:
    """`model` itself for "float32", else the model computing in that dtype (MixedPrecision)."""
    dtype = compute_dtype(name)
    if dtype == jnp.float32 or isinstance(model, MixedPrecision):
        return model
    return MixedPrecision(model, dtype)


def make_train_step(model: nn.Module, frontend: Frontend, loss_fn: Loss, schedule: optax.Schedule,
                    compute_dtype: str = "float32"
                    ) -> Callable[[TrainState, dict[str, Any]], tuple[TrainState, dict[str, jax.Array]]]:
    """(state, {'input', 'label'}) → (new state, {'loss', 'grad_norm', 'lr'}). `compute_dtype`: see the module
    docstring (a model already wrapped by `with_compute_dtype` keeps its dtype)."""
    model = with_compute_dtype(model, compute_dtype)

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
