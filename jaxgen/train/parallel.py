"""Data parallelism with `jax.sharding`: each batch split over the local devices.

The same jitted program runs on one device or many: the state is replicated, each training
batch is constrained to be sharded along its batch axis, and XLA inserts the gradient
all-reduce. Numbers match a single device up to float summation order.

Multi-host: set `config.distributed=True` and start one process per host with the usual
`JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` and `JAX_PROCESS_ID` environment variables (or
on a cluster that `jax.distributed.initialize()` detects, such as SLURM or Cloud TPU); the
mesh then spans every process's devices.
"""

from __future__ import annotations

import os
from typing import Any

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

DATA_AXIS = "data"


def make_mesh() -> Mesh:
    return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def shard_batch(batch: dict[str, jax.Array], mesh: Mesh | None) -> dict[str, jax.Array]:
    """Inside jit: asks XLA to split the batch axis over the mesh (no-op without a mesh)."""
    if mesh is None:
        return batch
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return {k: jax.lax.with_sharding_constraint(v, sharding) for k, v in batch.items()}


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    if mesh is None:
        return tree
    return jax.device_put(tree, NamedSharding(mesh, PartitionSpec()))


def initialize_distributed() -> None:
    """Joins the multi-host job described by the environment (see module docstring)."""
    if jax.process_count() > 1:
        return
    kwargs = {}
    if "JAX_COORDINATOR_ADDRESS" in os.environ:
        kwargs = dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    jax.distributed.initialize(**kwargs)
