"""The train state: one pytree holding everything a resumed run needs (step, weights, BN statistics,
optimizer state, base RNG key)."""

from __future__ import annotations

from typing import Any

import flax.linen as nn
import flax.struct
import jax
import jax.numpy as jnp
import optax


@flax.struct.dataclass
class TrainState:
    step: jax.Array
    params: Any
    batch_stats: Any
    opt_state: Any
    rng: jax.Array  # raw uint32 key; the key of step s is fold_in(rng, s), so resuming needs no RNG replay
    tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)

    def variables(self) -> dict[str, Any]:
        return {"params": self.params, "batch_stats": self.batch_stats}


def create_train_state(model: nn.Module, tx: optax.GradientTransformation, sample_input: jax.Array,
                       seed: int) -> TrainState:
    init_key, rng = jax.random.split(jax.random.PRNGKey(seed))
    variables = model.init({"params": init_key, "dropout": init_key}, sample_input, train=False)
    params = variables["params"]
    return TrainState(step=jnp.zeros((), jnp.int32), params=params,
                      batch_stats=variables.get("batch_stats", {}), opt_state=tx.init(params), rng=rng, tx=tx)


def count_params(params: Any) -> int:
    return int(sum(x.size for x in jax.tree.leaves(params)))

