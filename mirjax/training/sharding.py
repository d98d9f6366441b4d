"""Data parallelism over every device of every process, with jit over a 1-D mesh (no pmap, no home-made
collectives): the batch is sharded along 'data', the state is replicated, XLA inserts the reductions
(batch-norm statistics are computed over the global batch, so N devices give the 1-device result)."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from mirjax.errors import UserError


def maybe_initialize_distributed() -> None:
    """Multi-host launch: `jax.distributed.initialize()` when the launcher set a coordinator (or on TPU pods,
    where it auto-detects). A single process needs nothing."""
    if os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("MIRJAX_DISTRIBUTED") == "1":
        jax.distributed.initialize()


def make_mesh() -> Mesh:
    # Auto axis: XLA's sharding propagation places everything but the batch (jax ≥ 0.7 defaults to Explicit).
    return jax.make_mesh((jax.device_count(),), ("data",), axis_types=(jax.sharding.AxisType.Auto,))


def batch_sharding(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P("data"))


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())


def per_process_batch(global_batch: int) -> int:
    n = jax.device_count()
    if global_batch % n:
        raise UserError(f"train.batch_size={global_batch} must be divisible by the {n} devices")
    return global_batch // jax.process_count()


def to_global(batch: Any, sharding: NamedSharding) -> Any:
    """This process's slice of the global batch (a tree of arrays, e.g. a label dict) → global jax.Arrays."""
    return jax.tree.map(lambda v: jax.make_array_from_process_local_data(sharding, np.asarray(v)), batch)


def replicate(tree: Any, mesh: Mesh) -> Any:
    return jax.device_put(tree, replicated(mesh))
