"""Data parallelism over every device of every process, with jit over a 1-D mesh (no pmap, no home-made
collectives): the batch is sharded along 'data', the state is replicated, XLA inserts the reductions
(batch-norm statistics are computed over the global batch, so N devices give the 1-device result). Several
processes (hosts) join through `jax.distributed` (`maybe_initialize_distributed`); each loads only its rows of a
global batch, and `to_global` assembles them."""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from mirjax.errors import UserError

# An explicit multi-process launch, as environment variables (the flags of `mirjax train|eval` take precedence).
ENV_COORDINATOR, ENV_NUM_PROCESSES, ENV_PROCESS_ID = "MIRJAX_COORDINATOR", "MIRJAX_NUM_PROCESSES", "MIRJAX_PROCESS_ID"
LAUNCH_HINT = (f"give --coordinator HOST:PORT --num_processes N --process_id I (or {ENV_COORDINATOR}, "
               f"{ENV_NUM_PROCESSES}, {ENV_PROCESS_ID}), or start under a launcher JAX detects (SLURM, Open MPI, "
               "Cloud TPU)")


def maybe_initialize_distributed(coordinator: str | None = None, num_processes: int | None = None,
                                 process_id: int | None = None) -> bool:
    """Join a multi-process run (`jax.distributed.initialize`) when this process is one of several; returns
    whether it did. Call before anything touches a JAX device.

    An explicit launch names process 0's coordinator HOST:PORT, the number of processes and this process's index,
    as arguments or as MIRJAX_COORDINATOR, MIRJAX_NUM_PROCESSES and MIRJAX_PROCESS_ID. `JAX_COORDINATOR_ADDRESS`,
    or MIRJAX_DISTRIBUTED=1 where a launcher provides everything (SLURM, Open MPI, Cloud TPU pods), leaves what is
    not given to JAX's cluster detection. None of these: a single process, nothing to do. What is still missing
    after detection is a one-line UserError."""
    coordinator = coordinator or os.environ.get(ENV_COORDINATOR) or None
    num_processes = num_processes if num_processes is not None else _env_int(ENV_NUM_PROCESSES)
    process_id = process_id if process_id is not None else _env_int(ENV_PROCESS_ID)
    explicit = coordinator is not None or num_processes is not None or process_id is not None
    if not (explicit or os.environ.get("JAX_COORDINATOR_ADDRESS") or os.environ.get("MIRJAX_DISTRIBUTED") == "1"):
        return False
    if jax.config.jax_cpu_collectives_implementation is None:  # CPU processes need collectives (gloo: jax ≥ 0.5)
        jax.config.update("jax_cpu_collectives_implementation", "gloo")
    try:
        jax.distributed.initialize(coordinator_address=coordinator, num_processes=num_processes,
                                   process_id=process_id)
    except ValueError as e:  # a parameter neither given nor detected, or out of range
        raise UserError(f"multi-process launch: {str(e).rstrip('.')}; {LAUNCH_HINT}") from None
    return True


def _env_int(name: str) -> int | None:
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name}={value!r} is not an integer") from None


def make_mesh() -> Mesh:
    """A 1-D 'data' mesh over every device of every process. Each process's devices form one contiguous block, in
    process order (a stable sort of `jax.make_mesh`'s order), so that process p holds rows [p·B/P, (p+1)·B/P) of a
    global batch of B — the rows its input pipeline loads (`mirjax.data.pipeline.process_rows`)."""
    # Auto axis: XLA's sharding propagation places everything but the batch (jax ≥ 0.7 defaults to Explicit).
    auto = (jax.sharding.AxisType.Auto,)
    devices = jax.make_mesh((jax.device_count(),), ("data",), axis_types=auto).devices.flat
    return Mesh(np.array(sorted(devices, key=lambda d: d.process_index)), ("data",), axis_types=auto)


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
