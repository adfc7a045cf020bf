"""Data parallelism with `jax.sharding`, on one process or several.

The same jitted program runs on one device or many: the state is replicated, each training
batch is constrained to be sharded along its batch axis, and XLA inserts the gradient
all-reduce. Numbers match a single device up to float summation order. The Trainer traces
the step under the mesh (`jax.sharding.use_abstract_mesh`), so code that must arrange a
contraction over the split axis differently can tell (`fused_lstm._weight_grad`).

Several processes (`config.distributed=True`): start one process per host, each with the
same command, and either the `JAX_COORDINATOR_ADDRESS`, `JAX_NUM_PROCESSES` and
`JAX_PROCESS_ID` environment variables or a cluster that `jax.distributed.initialize()`
detects itself (SLURM, Cloud TPU). The mesh then spans every process's devices, and on CPU
the all-reduce goes through JAX's Gloo collectives. Every process holds the (small) dataset
and the replicated state; each computes only its devices' rows of every batch. Process 0
alone writes the run folder (config, metrics, report); checkpoints are written once, by
orbax on behalf of all processes, and restored by each.

Example, two processes on one machine::

  JAX_COORDINATOR_ADDRESS=localhost:8476 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=0 \\
    python -m jaxgen.main --config experiments/autoencoder_mnist.py --workdir runs/ae2 \\
    --config.distributed=true &
  JAX_COORDINATOR_ADDRESS=localhost:8476 JAX_NUM_PROCESSES=2 JAX_PROCESS_ID=1 \\
    python -m jaxgen.main --config experiments/autoencoder_mnist.py --workdir runs/ae2 \\
    --config.distributed=true
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import jax
import numpy as np
from jax.experimental import multihost_utils
from jax.sharding import Mesh, NamedSharding, PartitionSpec
from ml_collections import ConfigDict

from jaxgen.errors import ConfigError, PeerLostError
from jaxgen.train.coordinator import service_in_child

DATA_AXIS = "data"
SEED_AXIS = "seeds"
HEARTBEAT_SECONDS = 20  # the coordination service's limit for a silent process
WATCH_SECONDS = 8  # PeerWatch's, shorter, so that its one line comes first


def make_mesh() -> Mesh:
    """A one-axis mesh over every device of every process."""
    return Mesh(np.asarray(jax.devices()), (DATA_AXIS,))


def seed_mesh(config: ConfigDict) -> Mesh | None:
    """The mesh of a seed-parallel run (`seed_parallel`): one axis over the local devices,
    along which the seeds' leading axis is split. None when the run is not seed-parallel.

    Each device runs the same vmapped program on its share of the seeds; no value crosses
    devices, so every seed's numbers are a single-device run's up to float rounding.

    Raises:
      ConfigError: combined with data_parallel or several processes, or when the devices
        do not divide num_seeds.
    """
    if not config.get("seed_parallel", False):
        return None
    if config.data_parallel or multi_process():
        raise ConfigError("seed_parallel runs on one process and without data_parallel")
    devices = jax.local_devices()
    if config.num_seeds % len(devices):
        raise ConfigError(
            f"seed_parallel splits num_seeds={config.num_seeds} over {len(devices)} devices: "
            "make it a multiple (on CPU, XLA_FLAGS=--xla_force_host_platform_device_count=N "
            "gives N host devices)"
        )
    return Mesh(np.asarray(devices), (SEED_AXIS,))


def seed_sharding(mesh: Mesh) -> NamedSharding:
    """Leading (seed) axis split over the mesh, the rest whole."""
    return NamedSharding(mesh, PartitionSpec(SEED_AXIS))


def shard_batch(batch: dict[str, jax.Array], mesh: Mesh | None) -> dict[str, jax.Array]:
    """Inside jit: asks XLA to split the batch axis over the mesh (no-op without a mesh)."""
    if mesh is None:
        return batch
    sharding = NamedSharding(mesh, PartitionSpec(DATA_AXIS))
    return {k: jax.lax.with_sharding_constraint(v, sharding) for k, v in batch.items()}


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, PartitionSpec())


def replicate(tree: Any, mesh: Mesh | None) -> Any:
    """`tree` as arrays holding the same value on every device of the mesh.

    Across processes each one passes the same value; an array that lives on one local
    device is fetched to the host first, since it cannot be copied to another process.
    """
    if mesh is None:
        return tree
    sharding = replicated(mesh)
    if jax.process_count() > 1:
        tree = jax.tree.map(
            lambda x: x if getattr(x, "sharding", None) == sharding else np.asarray(x), tree
        )
    return jax.device_put(tree, sharding)


def host_local(tree: Any) -> Any:
    """A replicated tree as host arrays: what one process may compute on alone."""
    return jax.tree.map(np.asarray, jax.device_get(tree))


def is_primary() -> bool:
    """Whether this process writes the run folder (process 0; always true on one process)."""
    return jax.process_index() == 0


def multi_process() -> bool:
    return jax.process_count() > 1


def barrier(name: str) -> None:
    """Waits until every process reaches `name` (no-op on one process)."""
    if multi_process():
        multihost_utils.sync_global_devices(f"jaxgen:{name}")


def agreed_signal(signum: int | None) -> int | None:
    """The stop signal (SIGINT, SIGTERM) that any process of the job has received, or None.

    Called by every process after each chunk, so a signal sent to one process (or to all,
    at slightly different moments) stops all of them after the same step, where they save
    one checkpoint together.
    """
    if not multi_process():
        return signum
    got = int(np.max(multihost_utils.process_allgather(np.int32(signum or 0))))
    return got or None


def initialize_distributed() -> None:
    """Joins the multi-process job described by the environment (see module docstring)."""
    if jax.distributed.is_initialized():
        return
    # CPU processes exchange gradients through Gloo over TCP; set before the backend starts.
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    # A dead peer is reported in one line by the failed collective (at once) or PeerWatch
    # (after WATCH_SECONDS), before the coordination service's own verdict, which aborts
    # the others with pages of logs after HEARTBEAT_SECONDS. (JAX's recoverable mode would
    # spare that, but its shutdown lets process 0 leave before the others, which then abort.)
    kwargs: dict[str, Any] = {"heartbeat_timeout_seconds": HEARTBEAT_SECONDS}
    if "JAX_COORDINATOR_ADDRESS" in os.environ:
        kwargs |= dict(
            coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"],
            num_processes=int(os.environ["JAX_NUM_PROCESSES"]),
            process_id=int(os.environ["JAX_PROCESS_ID"]),
        )
    # Process 0 starts the coordination service in a child that outlives it, so that its
    # death is one line in the others, like any peer's (see jaxgen.train.coordinator).
    with service_in_child():
        jax.distributed.initialize(**kwargs)


@contextlib.contextmanager
def peer_errors(checkpoints: Path) -> Iterator[None]:
    """On several processes, a failed collective becomes a PeerLostError (one line).

    With Gloo, a process that dies closes its connections, and the next all-reduce or
    barrier of every other process fails at once instead of hanging.
    """
    try:
        yield
    except PeerLostError:
        raise
    except Exception as e:
        if not (multi_process() and lost_peer(e)):
            raise
        raise peer_lost(e, checkpoints) from None


def lost_peer(e: BaseException | None) -> bool:
    """Whether `e` is a collective or coordination failure (on several processes, the sign
    of a peer that stopped), possibly wrapped by a library such as orbax."""
    while e is not None:
        if isinstance(e, jax.errors.JaxRuntimeError) or any(
            mark in str(e) for mark in ("Gloo", "heartbeat", "CoordinationService")
        ):
            return True
        e = e.__cause__ or e.__context__
    return False


class PeerWatch:
    """Ends this process with one line when another process of the job stops beating.

    A failed collective reports a dead peer at once (`peer_errors`), but a process can also
    wait on the coordination service (orbax's barriers around a save), where a dead peer
    shows only as silence. Each process writes a counter into the job's key-value store
    every second from a thread; a peer whose counter has not moved for `stale` seconds, or
    a store that no longer answers, is a lost peer: the thread prints
    the one-line error and exits the process with PeerLostError's status. Saved checkpoints
    are complete (orbax commits by renaming), so nothing saved is lost.
    """

    def __init__(self, checkpoints: Path, every: float = 1.0, stale: float = WATCH_SECONDS):
        self.checkpoints, self.every, self.stale = checkpoints, every, stale
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def __enter__(self) -> PeerWatch:
        if multi_process():
            self._thread = threading.Thread(target=self._run, name="jaxgen-peer-watch", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()

    def _run(self) -> None:
        from jax._src import distributed  # the job's client; multihost_utils uses it too

        client, me, n = (
            cast(Any, distributed.global_state.client),  # set: the job is multi-process
            jax.process_index(),
            jax.process_count(),
        )
        last: dict[int, tuple[str, float]] = {}
        beat = 0
        while not self._stop.wait(self.every):
            beat += 1
            try:
                client.key_value_set(f"jaxgen/beat/{me}", str(beat), allow_overwrite=True)
                for peer in (p for p in range(n) if p != me):
                    try:
                        value = client.key_value_try_get(f"jaxgen/beat/{peer}")
                    except Exception:  # not written yet: the peer is still starting
                        value = ""
                    if last.get(peer, (None,))[0] != value:
                        last[peer] = (value, time.monotonic())
                    elif time.monotonic() - last[peer][1] > self.stale and not self._stop.is_set():
                        self._lost(f"process {peer} sent no heartbeat for {self.stale:.0f} s")
            except Exception as e:
                if not self._stop.is_set():
                    self._lost(f"the job's coordinator does not answer: {type(e).__name__}")

    def _lost(self, why: str) -> None:
        print(f"jaxgen: error: {peer_lost(why, self.checkpoints)}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(PeerLostError.exit_code)


def peer_lost(e: BaseException | str, checkpoints: Path) -> PeerLostError:
    """The one-line error of a process whose collective failed because a peer stopped."""
    detail = " ".join(str(e).split())[:160]
    kept = sorted(int(p.name) for p in checkpoints.glob("[0-9]*") if p.name.isdigit())
    where = f"checkpoint {kept[-1]} is kept" if kept else "no checkpoint was written yet"
    return PeerLostError(
        f"process {jax.process_index()} of {jax.process_count()}: another process stopped "
        f"({detail}); {where}; start every process again with the same command to resume"
    )
