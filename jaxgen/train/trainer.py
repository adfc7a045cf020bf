"""The compiled side of the loop: a run's placed data, its chunk and evaluation functions.

The chunk strategy is chosen once per run (`Trainer.uses_python_loop`): a whole chunk as
one `lax.scan` under one `jit`, or, for convolutions on CPU, a Python loop over the jitted
step (XLA:CPU runs convolutions inside a loop body an order of magnitude slower,
jax-ml/jax#12868).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, cast

import jax
import jax.numpy as jnp
import numpy as np
from ml_collections import ConfigDict

from jaxgen import data as data_lib
from jaxgen.errors import ConfigError
from jaxgen.sampling import named_key
from jaxgen.train import parallel
from jaxgen.train.family import Array, Batch, Family, Metrics, State
from jaxgen.train.seeds import seed_keys, seed_map

if TYPE_CHECKING:
    from jax.extend.core import Jaxpr


def _device_split(batch: dict[str, np.ndarray]) -> dict[str, jax.Array]:
    return {k: jnp.asarray(v) for k, v in batch.items()}


class Trainer:
    """Holds the compiled functions for one (config, family, data) combination."""

    def __init__(self, config: ConfigDict, family: Family, splits: data_lib.Splits):
        self.config, self.family, self.splits = config, family, splits
        tc = config.train
        self.mesh = (
            parallel.make_mesh() if config.data_parallel or parallel.multi_process() else None
        )
        # Seeds spread over the local devices (`seed_parallel`): each device runs its share
        # of the seeds' vmap, and nothing passes between devices.
        self.seed_mesh = parallel.seed_mesh(config)
        # Placed once: without a mesh on the default device, with one on every device.
        self.train_data = self._replicate(_device_split(splits.train))
        self.num_train = len(splits.train["x"])
        self.batch_size = tc.batch_size
        self.steps_per_epoch = self.num_train // tc.batch_size
        if self.steps_per_epoch == 0:
            raise ConfigError(
                f"train.batch_size={tc.batch_size} is larger than the training set "
                f"({self.num_train} examples)"
            )
        self.chunk = min(tc.steps_per_scan or self.steps_per_epoch, self.steps_per_epoch)
        self.total_steps = self.steps_per_epoch * tc.num_epochs
        self.transform = data_lib.batch_transform(config.dataset)
        if self.mesh is not None and tc.batch_size % self.mesh.size:
            raise ConfigError(
                f"train.batch_size={tc.batch_size} is not divisible by the "
                f"{self.mesh.size} devices of data_parallel"
            )
        self.keys = self.place_state(seed_keys(config))
        self.num_seeds = int(config.num_seeds)
        if tc.loop not in ("auto", "scan", "python"):
            raise ConfigError(f"train.loop must be auto, scan or python, got {tc.loop!r}")
        self._loop = tc.loop
        self._chunk_fns: dict[int | str, Callable] = {}
        self._eval_fns: dict[str, Callable] = {}
        self._eval_data: dict[str, tuple[dict[str, jax.Array], jax.Array]] = {}

    # -- init ---------------------------------------------------------------------------
    def example_batch(self) -> dict[str, jax.Array]:
        return {k: v[: self.batch_size] for k, v in self.train_data.items()}

    def _init_fn(self) -> Callable:
        """Every seed's initial state from its key, knowing the run's length (schedules)."""
        batch, total = self.example_batch(), self.total_steps
        return jax.vmap(lambda k: self.family.init(named_key(k, "init"), batch, total))

    def init(self) -> Any:
        return self.place_state(jax.jit(self._init_fn())(self.keys))

    def _replicate(self, tree: Any) -> Any:
        """`tree` on every device of the run's mesh (data- or seed-parallel), else as it is."""
        return parallel.replicate(tree, self.mesh or self.seed_mesh)

    def place_state(self, tree: Any) -> Any:
        """A tree with a leading seed axis where the run keeps it: split over the devices
        when seed-parallel, else replicated over the data-parallel mesh (or left alone)."""
        if self.seed_mesh is not None:
            return jax.device_put(tree, parallel.seed_sharding(self.seed_mesh))
        return parallel.replicate(tree, self.mesh)

    def abstract_state(self) -> Any:
        """Shapes, dtypes and shardings of the state: split over the devices by seed,
        replicated over the data-parallel mesh, or else on the first local device (also when
        restoring a multi-process run's checkpoint on one process: orbax needs the target's
        sharding to change topology)."""
        shapes = jax.eval_shape(self._init_fn(), self.keys)
        if self.seed_mesh is not None:
            sharding: jax.sharding.Sharding = parallel.seed_sharding(self.seed_mesh)
        elif self.mesh is None:
            sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        else:
            sharding = parallel.replicated(self.mesh)
        return jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes
        )

    # -- training -----------------------------------------------------------------------
    def _perm(self, root: Array, epoch: Array) -> Array:
        if not self.config.train.shuffle:
            return jnp.arange(self.num_train)
        return jax.random.permutation(
            jax.random.fold_in(named_key(root, "shuffle"), epoch), self.num_train
        )

    def _one_seed_step(
        self, state: State, root: Array, data: Batch, perm: Array, epoch: Array, pos: Array
    ) -> tuple[State, Metrics]:
        """Step `pos` of `epoch` for one seed: its batch, its key, the family's update."""
        bs = self.batch_size
        step = epoch * self.steps_per_epoch + pos
        idx = jax.lax.dynamic_slice(perm, (pos * bs,), (bs,))
        batch = {k: v[idx] for k, v in data.items()}
        key = jax.random.fold_in(named_key(root, "train"), step)
        if self.transform is not None:
            batch = self.transform(batch, named_key(key, "data"))
        batch = parallel.shard_batch(batch, self.mesh)
        return self.family.train_step(state, batch, named_key(key, "step"))

    def _one_seed_chunk(
        self, state: State, root: Array, data: Batch, epoch: Array, start: Array, *, length: int
    ) -> tuple[State, Metrics]:
        """`length` steps of one seed, from step `start` of `epoch`, as one lax.scan."""
        perm = self._perm(root, epoch)

        def body(state: State, i: Array) -> tuple[State, Metrics]:
            return self._one_seed_step(state, root, data, perm, epoch, start + i)

        return jax.lax.scan(body, state, jnp.arange(length))

    def uses_python_loop(self) -> bool:
        """Whether chunks and evaluation run as Python loops over jitted steps (`train.loop`)."""
        if self._loop == "auto":
            self._loop = "scan"
            if jax.default_backend() == "cpu":
                state = self.abstract_state()
                batch = jax.eval_shape(self.example_batch)
                step = jax.make_jaxpr(self.family.train_step)
                leaf0 = jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape[1:], x.dtype), state)
                if _has_conv(step(leaf0, batch, jax.random.PRNGKey(0)).jaxpr):
                    self._loop = "python"
        return self._loop == "python"

    def _jit(self, fn: Callable) -> Callable:
        """`jax.jit(fn)` with the state donated, traced under the data mesh if there is one.

        Why the mesh: code that must contract over the split batch axis differently to avoid
        gathering it (`fused_lstm`'s weight gradient) asks `get_abstract_mesh()` at trace time.
        """
        jitted = jax.jit(fn, donate_argnums=0)
        if self.mesh is None:
            return jitted
        mesh = self.mesh.abstract_mesh  # for tracing only; it also works inside a trace

        def under_mesh(f: Callable) -> Callable:
            def call(*args: Any) -> Any:
                with jax.sharding.use_abstract_mesh(mesh):
                    return f(*args)

            return call

        wrapped = under_mesh(jitted)
        # The bench compiles ahead of time (a function attribute, which mypy cannot type).
        wrapped.lower = under_mesh(jitted.lower)  # type: ignore[attr-defined]
        return wrapped

    def chunk_fn(self, length: int) -> Callable:
        """(state, keys, data, epoch, start[, should_stop]) -> (state, metrics (S, n)).

        The state is donated. A scanned chunk always runs n = `length` steps; a Python-loop
        chunk stops early, after the step at which `should_stop()` turns true.
        """
        if length in self._chunk_fns:
            return self._chunk_fns[length]
        if not self.uses_python_loop():
            fn: Callable = partial(self._one_seed_chunk, length=length)
            fn = seed_map(fn, (0, 0, None, None, None), self.num_seeds)
            jitted = self._jit(fn)

            def scanned(
                *args: Any, should_stop: Callable[[], bool] | None = None
            ) -> tuple[State, Metrics]:
                return jitted(*args)

            # Ahead-of-time: the bench times compilation alone (a function attribute, which
            # mypy cannot type).
            scanned.lower = jitted.lower  # type: ignore[attr-defined]
            self._chunk_fns[length] = scanned
            return scanned
        if "step" not in self._chunk_fns:
            self._chunk_fns["perm"] = jax.jit(seed_map(self._perm, (0, None), self.num_seeds))
            step = seed_map(self._one_seed_step, (0, 0, None, 0, None, None), self.num_seeds)
            self._chunk_fns["step"] = self._jit(step)
        perm_fn, step_fn = self._chunk_fns["perm"], self._chunk_fns["step"]

        def python_chunk(
            state: State,
            keys: Array,
            data: Batch,
            epoch: int,
            start: int,
            should_stop: Callable[[], bool] | None = None,
        ) -> tuple[State, Metrics]:
            perms = perm_fn(keys, jnp.int32(epoch))
            metrics = []
            for i in range(length):
                state, m = step_fn(state, keys, data, perms, jnp.int32(epoch), jnp.int32(start + i))
                metrics.append(m)
                # Dispatch is asynchronous: without a bound the whole chunk is queued at once
                # and a stop request could not end it early. Waiting on the step before last
                # keeps the device busy and lets a stop end the chunk within two steps; the
                # loop reads how many steps ran from the metrics' length.
                if i >= 1:
                    jax.block_until_ready(metrics[i - 1])
                if should_stop is not None and should_stop():
                    break
            return state, jax.tree.map(lambda *ms: jnp.stack(ms, axis=1), *metrics)

        self._chunk_fns[length] = python_chunk
        return python_chunk

    # -- evaluation ---------------------------------------------------------------------
    def _masked_batch_sums(
        self, state: State, root: Array, batch: Batch, m: Array, i: Array | int, *, split: str
    ) -> Metrics:
        """One evaluation batch of one seed: the family's metrics summed over real examples."""
        key = jax.random.fold_in(named_key(root, f"eval/{split}"), i)
        out = self.family.eval_step(state, batch, key)
        return {k: jnp.sum(jnp.broadcast_to(v, m.shape) * m) for k, v in out.items()}

    def evaluate(self, state: Any, split: str) -> dict[str, np.ndarray]:
        """Mean of the family's per-example metrics over a split, per seed: {name: (S,)}."""
        data = self.splits.split(split)
        n = len(data["x"])
        bs = min(self.config.train.eval_batch_size, n)
        num_batches = math.ceil(n / bs)
        if split not in self._eval_data:
            padded: dict[str, Any] = {  # host arrays here, device arrays below
                k: np.concatenate([v, np.repeat(v[:1], num_batches * bs - n, 0)]).reshape(
                    num_batches, bs, *v.shape[1:]
                )
                for k, v in data.items()
            }
            mask: np.ndarray | jax.Array = (np.arange(num_batches * bs) < n).reshape(
                num_batches, bs
            )
            self._eval_data[split] = self._replicate(
                (_device_split(padded), jnp.asarray(mask, jnp.float32))
            )
        padded, mask = self._eval_data[split]
        sums = partial(self._masked_batch_sums, split=split)
        if self.uses_python_loop():
            if split not in self._eval_fns:
                self._eval_fns[split] = jax.jit(
                    seed_map(sums, (0, 0, None, None, None), self.num_seeds)
                )
            fn, totals = self._eval_fns[split], None
            for i in range(num_batches):
                batch = jax.tree.map(lambda a, i=i: a[i], padded)
                out = fn(state, self.keys, batch, mask[i], jnp.int32(i))
                totals = out if totals is None else jax.tree.map(jnp.add, totals, out)
            return jax.device_get(jax.tree.map(lambda t: t / n, totals))
        if split not in self._eval_fns:

            def one_seed(state: State, root: Array) -> Metrics:
                def body(totals: Metrics, xs: tuple[Batch, Array, Array]) -> tuple[Metrics, None]:
                    out = sums(state, root, *xs)
                    return jax.tree.map(jnp.add, totals, out), None

                first = sums(state, root, jax.tree.map(lambda a: a[0], padded), mask[0], 0)
                zeros = jax.tree.map(jnp.zeros_like, first)
                totals, _ = jax.lax.scan(body, zeros, (padded, mask, jnp.arange(num_batches)))
                return jax.tree.map(lambda t: t / n, totals)

            self._eval_fns[split] = jax.jit(seed_map(one_seed, (0, 0), self.num_seeds))
        return jax.device_get(self._eval_fns[split](state, self.keys))


def _has_conv(jaxpr: Jaxpr) -> bool:
    """Whether a jaxpr (or any jaxpr nested in it) contains a convolution."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            return True
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns") and _has_conv(cast("Jaxpr", inner)):
                    return True
    return False
