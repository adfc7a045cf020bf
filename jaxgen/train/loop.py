"""The one training loop every family shares.

Compilation: a chunk of `train.steps_per_scan` steps (by default a whole epoch) runs as one
`lax.scan` inside one `jit`, with the state donated; on CPU, a step with convolutions runs as
a Python loop over the jitted step instead (`train.loop`), since XLA:CPU runs convolutions
inside a loop body an order of magnitude slower (jax-ml/jax#12868). Seeds: the state always
carries a leading seed axis and the chunk is `vmap`ped over it, so `num_seeds=8` trains eight
seeds in one program. Randomness: seed s owns the root key `PRNGKey(s)`; step n uses
`fold_in(named_key(root, "train"), n)`, epoch e shuffles with `fold_in(named_key(root,
"shuffle"), e)`. A resumed run therefore replays exactly the same data order and noise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import importlib
import json
import math
import os
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from jaxgen import data as data_lib
from jaxgen.config import ConfigDict, to_json
from jaxgen.errors import ConfigError, Interrupted, JaxgenError, NonFiniteError, RunDirError
from jaxgen.report import TensorBoardLog, write_report
from jaxgen.sampling import named_key
from jaxgen.train import parallel
from jaxgen.train.checkpoint import Checkpointer
from jaxgen.train.family import Family
from jaxgen.train.rundir import MetricsLog, RunLock, environment, write_json, write_text


class _StopRequests:
    """SIGINT/SIGTERM during training: note it, finish the chunk in flight, save, stop.

    The chunk donates the pre-chunk state, so an exception raised inside it would leave
    nothing to save; a flag checked between chunks always has a consistent state. A second
    signal raises KeyboardInterrupt at once (the older checkpoint is kept).
    """

    def __init__(self):
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def _handle(self, signum, frame):
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        print(
            f"jaxgen: {signal.Signals(signum).name} received; saving a checkpoint after the "
            f"current chunk (send it again to stop at once)",
            flush=True,
        )

    def __enter__(self):
        from jaxgen.errors import PENDING_SIGNALS

        if PENDING_SIGNALS:  # arrived before training, where it could not stop the command
            raise KeyboardInterrupt
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc):
        for sig, old in self._old.items():
            signal.signal(sig, old)


def make_family(config: ConfigDict) -> Family:
    """The family named by `config.model.family` (module `jaxgen.families.<name>`)."""
    name = config.model.family
    try:
        module = importlib.import_module(f"jaxgen.families.{name}")
    except ModuleNotFoundError as e:
        if e.name != f"jaxgen.families.{name}":
            raise
        raise ConfigError(f"unknown model.family {name!r}") from None
    return module.make_family(config)


def seed_keys(config: ConfigDict) -> jax.Array:
    """Root keys of the run's seeds: (num_seeds, 2), seed `config.seed + i` for row i."""
    seeds = config.seed + np.arange(config.num_seeds)
    return jax.vmap(jax.random.PRNGKey)(jnp.asarray(seeds, jnp.uint32))


def seed_map(fn: Callable, in_axes: tuple[int | None, ...], num_seeds: int) -> Callable:
    """`jax.vmap(fn, in_axes)` over the seed axis.

    With one seed the axis is indexed away and re-added instead: XLA on CPU runs a dot with a
    batch dimension of 1 markedly slower than the plain dot (`make vae`, batch 20: 656 steps/s
    with the vmap, 806 without, on 2 cores), and most runs have one seed.
    """
    if num_seeds != 1:
        return jax.vmap(fn, in_axes=in_axes)

    def one_seed(*args):
        args = [
            jax.tree.map(lambda a: a[0], x) if ax == 0 else x
            for x, ax in zip(args, in_axes, strict=True)
        ]
        return jax.tree.map(lambda y: y[None], fn(*args))

    return one_seed


def seed_slice(tree: Any, i: int) -> Any:
    """Seed `i`'s part of a state or metrics tree with a leading seed axis."""
    return jax.tree.map(lambda x: x[i], tree)


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the final state (leading seed axis) and the run's numbers."""

    config: ConfigDict
    family: Family
    state: Any
    splits: data_lib.Splits
    workdir: Path
    summary: dict[str, Any]

    def seed_state(self, i: int = 0) -> Any:
        return seed_slice(self.state, i)


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
        # Placed once: without a mesh on the default device, with one on every device.
        self.train_data = parallel.replicate(_device_split(splits.train), self.mesh)
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
        family.total_steps = self.total_steps
        self.transform = data_lib.batch_transform(config.dataset)
        if self.mesh is not None and tc.batch_size % self.mesh.size:
            raise ConfigError(
                f"train.batch_size={tc.batch_size} is not divisible by the "
                f"{self.mesh.size} devices of data_parallel"
            )
        self.keys = parallel.replicate(seed_keys(config), self.mesh)
        self.num_seeds = int(config.num_seeds)
        if tc.loop not in ("auto", "scan", "python"):
            raise ConfigError(f"train.loop must be auto, scan or python, got {tc.loop!r}")
        self._loop = tc.loop
        self._chunk_fns: dict[int, Callable] = {}
        self._eval_fns: dict[str, Callable] = {}
        self._eval_data: dict[str, tuple[dict[str, jax.Array], jax.Array]] = {}

    # -- init ---------------------------------------------------------------------------
    def example_batch(self) -> dict[str, jax.Array]:
        return {k: v[: self.batch_size] for k, v in self.train_data.items()}

    def init(self) -> Any:
        batch = self.example_batch()
        init = jax.vmap(lambda k: self.family.init(named_key(k, "init"), batch))
        return jax.jit(init)(self.keys)

    def abstract_state(self) -> Any:
        """Shapes, dtypes and shardings of the state: replicated over the mesh if there is
        one, else on the first local device (also when restoring a multi-process run's
        checkpoint on one process: orbax needs the target's sharding to change topology)."""
        batch = self.example_batch()
        shapes = jax.eval_shape(
            jax.vmap(lambda k: self.family.init(named_key(k, "init"), batch)), self.keys
        )
        if self.mesh is None:
            sharding = jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
        else:
            sharding = parallel.replicated(self.mesh)
        return jax.tree.map(
            lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes
        )

    # -- training -----------------------------------------------------------------------
    def _perm(self, root, epoch):
        if not self.config.train.shuffle:
            return jnp.arange(self.num_train)
        return jax.random.permutation(
            jax.random.fold_in(named_key(root, "shuffle"), epoch), self.num_train
        )

    def _one_seed_step(self, state, root, data, perm, epoch, pos):
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

    def _one_seed_chunk(self, state, root, data, epoch, start, *, length: int):
        """`length` steps of one seed, from step `start` of `epoch`, as one lax.scan."""
        perm = self._perm(root, epoch)

        def body(state, i):
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

    def chunk_fn(self, length: int) -> Callable:
        """(state, keys, data, epoch, start[, should_stop]) -> (state, metrics (S, n)).

        The state is donated. A scanned chunk always runs n = `length` steps; a Python-loop
        chunk stops early, after the step at which `should_stop()` turns true.
        """
        if length in self._chunk_fns:
            return self._chunk_fns[length]
        if not self.uses_python_loop():
            fn = partial(self._one_seed_chunk, length=length)
            fn = seed_map(fn, (0, 0, None, None, None), self.num_seeds)
            jitted = jax.jit(fn, donate_argnums=0)
            self._chunk_fns[length] = lambda *args, should_stop=None: jitted(*args)
            return self._chunk_fns[length]
        if "step" not in self._chunk_fns:
            self._chunk_fns["perm"] = jax.jit(seed_map(self._perm, (0, None), self.num_seeds))
            step = seed_map(self._one_seed_step, (0, 0, None, 0, None, None), self.num_seeds)
            self._chunk_fns["step"] = jax.jit(step, donate_argnums=0)
        perm_fn, step_fn = self._chunk_fns["perm"], self._chunk_fns["step"]

        def python_chunk(state, keys, data, epoch, start, should_stop=None):
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
    def _masked_batch_sums(self, state, root, batch, m, i, *, split: str):
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
            padded = {
                k: np.concatenate([v, np.repeat(v[:1], num_batches * bs - n, 0)]).reshape(
                    num_batches, bs, *v.shape[1:]
                )
                for k, v in data.items()
            }
            mask = (np.arange(num_batches * bs) < n).reshape(num_batches, bs)
            self._eval_data[split] = parallel.replicate(
                (_device_split(padded), jnp.asarray(mask, jnp.float32)), self.mesh
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

            def one_seed(state, root):
                def body(totals, xs):
                    out = sums(state, root, *xs)
                    return jax.tree.map(jnp.add, totals, out), None

                first = sums(state, root, jax.tree.map(lambda a: a[0], padded), mask[0], 0)
                zeros = jax.tree.map(jnp.zeros_like, first)
                totals, _ = jax.lax.scan(body, zeros, (padded, mask, jnp.arange(num_batches)))
                return jax.tree.map(lambda t: t / n, totals)

            self._eval_fns[split] = jax.jit(seed_map(one_seed, (0, 0), self.num_seeds))
        return jax.device_get(self._eval_fns[split](state, self.keys))


def _has_conv(jaxpr) -> bool:
    """Whether a jaxpr (or any jaxpr nested in it) contains a convolution."""
    for eqn in jaxpr.eqns:
        if eqn.primitive.name == "conv_general_dilated":
            return True
        for param in eqn.params.values():
            for sub in param if isinstance(param, (list, tuple)) else (param,):
                inner = getattr(sub, "jaxpr", sub)
                if hasattr(inner, "eqns") and _has_conv(inner):
                    return True
    return False


def _summarize(values: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-metric mean over seeds, plus std and per-seed values when there are several."""
    out = {}
    for k, v in values.items():
        v = np.asarray(v, np.float64)
        out[k] = float(v.mean())
        if v.size > 1:
            out[k + "_std"] = float(v.std())
            out[k + "_seeds"] = v.tolist()
    return out


def _read_summary(workdir: Path) -> dict[str, Any]:
    """The run folder's summary.json, or {} if there is none or it does not parse."""
    try:
        return json.loads((workdir / "summary.json").read_text())
    except (OSError, ValueError):
        return {}


class _NoSink:
    """The metrics sink of a process that does not write the run folder."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def _first_nonfinite(metrics: dict[str, np.ndarray]) -> tuple[str, int, int] | None:
    """(metric, seed, step-in-chunk) of the first NaN/Inf in (S, L) chunk metrics."""
    first = None
    for name, v in metrics.items():
        bad = ~np.isfinite(np.asarray(v))
        if bad.any():
            seed, pos = np.argwhere(bad)[0][:2] if bad.ndim > 1 else (0, np.argmax(bad))
            if first is None or pos < first[2]:
                first = (name, int(seed), int(pos))
    return first


def _nonfinite_leaf(state: Any) -> str | None:
    """The path of the first floating-point state entry holding a NaN or Inf, or None."""
    # On the host, as the checkpoint writer reads it anyway: no per-shape compilation.
    for path, x in jax.tree_util.tree_leaves_with_path(jax.device_get(state)):
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.inexact) and not np.isfinite(x).all():
            return jax.tree_util.keystr(path)
    return None


def train(
    config: ConfigDict,
    workdir: str | Path,
    *,
    family: Family | None = None,
    splits: data_lib.Splits | None = None,
    stop_at_step: int | None = None,
) -> RunResult:
    """Trains `config` in `workdir`, resuming from its newest checkpoint if there is one.

    Args:
      config: the run config (see `jaxgen.config.base_config`).
      workdir: the run folder; created if missing, resumed if it holds a checkpoint.
      family: an already built family (default: from `config.model.family`).
      splits: already loaded data (default: `jaxgen.data.load(config.dataset)`).
      stop_at_step: stop (with a checkpoint) once this step is reached, as if the run had
        been pre-empted there; calling `train` again resumes it.
    """
    workdir = Path(workdir)
    if config.distributed:
        try:
            parallel.initialize_distributed()
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"distributed=True but no multi-host job to join: {e}") from None
    t_start = time.time()
    # Everything that can reject the config or the data runs before the run folder exists.
    with parallel.peer_errors(workdir / "checkpoints"):
        trainer = prepare(config, family, splits)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        # Process 0 holds the lock for a multi-process job: the others write nothing here.
        lock = RunLock(workdir) if parallel.is_primary() else contextlib.nullcontext()
        lock.__enter__()
    except OSError as e:
        raise RunDirError(f"cannot create or lock the run folder {workdir}: {e}") from None
    try:
        checkpoints = workdir / "checkpoints"
        with parallel.peer_errors(checkpoints), parallel.PeerWatch(checkpoints):
            return _train_locked(config, workdir, trainer, stop_at_step, t_start)
    finally:
        lock.__exit__(None, None, None)


def prepare(
    config: ConfigDict, family: Family | None = None, splits: data_lib.Splits | None = None
) -> Trainer:
    """Loads the data, builds the family and checks the run fits, without writing anything.

    What the config's values break here (an unknown activation, a dataset too large for
    memory) is a ConfigError naming the key whose value the error mentions.
    """
    try:
        splits = splits if splits is not None else _load_in_turn(config.dataset)
        family = family if family is not None else make_family(config)
        trainer = Trainer(config, family, splits)
        abstract = trainer.abstract_state()
    except JaxgenError as e:
        if not isinstance(e, ConfigError):
            raise
        raise ConfigError(_blame(config, e)) from None
    except MemoryError:
        raise ConfigError(
            f"not enough memory for the data or model of {_sizes(config.dataset, 'dataset')}, "
            f"{_sizes(config.model)}; reduce them"
        ) from None
    except (ValueError, KeyError, TypeError, NotImplementedError) as e:
        raise ConfigError(_blame(config, e, f"{type(e).__name__}: ")) from None
    if trainer.total_steps >= 2**31:
        raise ConfigError(
            f"train.num_epochs={config.train.num_epochs} makes {trainer.total_steps} steps, "
            f"more than the 2**31 a step counter holds"
        )
    state_bytes = sum(x.size * x.dtype.itemsize for x in jax.tree.leaves(abstract))
    budget = _memory_bytes() // 2
    if budget and state_bytes > budget:
        raise ConfigError(
            f"the train state of model {_sizes(config.model)} and num_seeds={config.num_seeds} "
            f"needs {state_bytes / 2**30:.1f} GiB, more than half of this machine's "
            f"{2 * budget / 2**30:.1f} GiB; reduce model sizes or num_seeds"
        )
    return trainer


def _load_in_turn(dataset: ConfigDict) -> data_lib.Splits:
    """The dataset; on several processes, process 0 loads it first while the others wait,
    so that a dataset missing from the shared cache is prepared once, not by all at once."""
    if not parallel.is_primary():
        parallel.barrier("data")
    try:
        return data_lib.load(dataset)
    finally:
        if parallel.is_primary():
            parallel.barrier("data")


def _memory_bytes() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return 0


def _sizes(group: ConfigDict, name: str = "model") -> str:
    """A group's integer settings, largest first: the likely culprits of a huge state."""
    items = [(k, v) for k, v in group.items() if isinstance(v, int) and not isinstance(v, bool)]
    items.sort(key=lambda kv: -kv[1])
    return ", ".join(f"{name}.{k}={v}" for k, v in items[:3]) or name


def _blame(config: ConfigDict, e: BaseException, prefix: str = "") -> str:
    """`e`'s message, plus the config key whose (string) value it mentions if it names none."""
    from jaxgen.config import all_keys

    msg = " ".join(str(e).split()) or type(e).__name__
    values = {}
    for key in all_keys(config):
        node = config
        for part in key.split("."):
            node = node[part]
        values[key] = node
    if any(key in msg for key in values):
        return prefix + msg
    for key, v in values.items():
        if isinstance(v, str) and v and repr(v) in msg:
            return f"config key {key!r}: {prefix}{msg}"
    return f"config rejected: {prefix}{msg}"


def _train_locked(config, workdir, trainer, stop_at_step, t_start) -> RunResult:
    tc = config.train
    family, splits = trainer.family, trainer.splits
    primary = parallel.is_primary()  # the one process that writes the run folder
    if primary:
        write_text(workdir / "config.json", to_json(config) + "\n")
        write_json(workdir / "env.json", environment())
    log = MetricsLog(workdir / "metrics.jsonl", writable=primary)
    tensorboard = TensorBoardLog(workdir / "tensorboard") if primary else _NoSink()
    log.sinks.append(tensorboard)
    ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=tc.max_checkpoints)

    restored = ckpt.restore(trainer.abstract_state())
    if restored is None:
        state, step = trainer.init(), 0
        log.truncate_after(-1)
    else:
        state, meta = restored
        step = int(meta["step"])
        log.truncate_after(step)
        print(f"jaxgen: resuming {workdir} from step {step}", flush=True)
    state = parallel.replicate(state, trainer.mesh)
    # Training seconds summed over the sessions of a resumed run (for learning curves
    # against time): the earlier sessions' total is the last logged value.
    prior_seconds = max((r.get("train_seconds", 0.0) for r in log.read()), default=0.0)

    spe, total = trainer.steps_per_epoch, trainer.total_steps
    stop = min(total, stop_at_step) if stop_at_step is not None else total
    every = tc.checkpoint_every_steps or spe
    last_saved = step
    bar = tqdm(
        total=total,
        initial=step,
        unit="step",
        disable=not tc.progress,
        dynamic_ncols=True,
        desc=workdir.name,
    )
    t_train = time.time()
    steps_done, steady_seconds, first_chunk_seconds = 0, 0.0, None

    def save(step):
        bad = _nonfinite_leaf(state)
        if bad is not None:
            raise NonFiniteError(
                f"state entry {bad} became non-finite by step {step}; run stopped, last good "
                f"checkpoint: step {last_saved if ckpt.steps() else 'none'}; "
                f"try a lower optimizer.lr"
            )
        ckpt.save(step, state, {"step": step, "epoch": step / spe})

    ran_through = False
    try:
        with _StopRequests() as stop_requests:
            while step < stop:
                epoch, pos = divmod(step, spe)
                length = min(trainer.chunk - pos % trainer.chunk, spe - pos, stop - step)
                compiles = length not in trainer._chunk_fns
                fn = trainer.chunk_fn(length)
                t_chunk = time.time()
                try:
                    new_state, metrics = fn(
                        state,
                        trainer.keys,
                        trainer.train_data,
                        epoch,
                        pos,
                        # Processes of one job must all run the same steps: none ends a
                        # chunk early on its own.
                        should_stop=None
                        if parallel.multi_process()
                        else lambda: stop_requests.signum is not None,
                    )
                    metrics = jax.device_get(metrics)  # The one host sync per chunk.
                    length = next(iter(jax.tree.leaves(metrics))).shape[1]
                except KeyboardInterrupt:
                    # The chunk's input was donated: the newest checkpoint is what is left.
                    raise Interrupted(
                        f"interrupted at step {step}; checkpoint at step "
                        f"{last_saved} kept; run the same command to resume"
                    ) from None
                bad = _first_nonfinite(metrics)
                if bad is not None:
                    name, seed, at = bad
                    raise NonFiniteError(
                        f"metric {name!r} became non-finite at step {step + at + 1} "
                        f"(seed {config.seed + seed}); run stopped, last good checkpoint: step "
                        f"{last_saved if ckpt.steps() else 'none'}; try a lower optimizer.lr"
                    )
                state, step = new_state, step + length
                # Throughput is measured on chunks that did not compile.
                if compiles:
                    first_chunk_seconds = first_chunk_seconds or time.time() - t_chunk
                else:
                    steps_done += length
                    steady_seconds += time.time() - t_chunk
                bar.update(length)
                means = {k: float(np.mean(v)) for k, v in metrics.items()}
                bar.set_postfix({k: f"{v:.4g}" for k, v in means.items() if k == "loss"})
                epoch_end = step % spe == 0
                row = {
                    "step": step,
                    "epoch": step / spe,
                    "split": "train",
                    "train_seconds": prior_seconds + time.time() - t_train,
                    **_summarize({k: np.mean(v, axis=-1) for k, v in metrics.items()}),
                }
                log.write(row)
                every_epochs = epoch_end and (step // spe) % tc.eval_every_epochs == 0
                every_steps = tc.eval_every_steps and step % tc.eval_every_steps == 0
                if (every_epochs or every_steps) and splits.val is not None:
                    log.write(
                        {
                            "step": step,
                            "epoch": step // spe,
                            "split": "val",
                            **_summarize(trainer.evaluate(state, "val")),
                        }
                    )
                if step - last_saved >= every or step == stop:
                    save(step)
                    last_saved = step
                signum = parallel.agreed_signal(stop_requests.signum)
                if signum is not None and step < total:
                    if step > last_saved:
                        save(step)
                        last_saved = step
                    err = Interrupted(
                        f"interrupted at step {step}; checkpoint saved; run the same command "
                        f"to resume"
                    )
                    err.exit_code = 128 + signum
                    raise err
        ran_through = True
    except KeyboardInterrupt:
        # A signal outside a chunk (e.g. during evaluation): the state is consistent, keep it.
        if step > last_saved:
            save(step)
        raise Interrupted(
            f"interrupted at step {step}; checkpoint saved; run the same command to resume"
        ) from None
    finally:
        bar.close()
        if not ran_through:
            # Whatever stops the run: orbax's threads end here, not in the next run's saves.
            with contextlib.suppress(Exception):
                ckpt.close()
            tensorboard.close()
    train_seconds = time.time() - t_train
    if step < total:
        ckpt.close()
        tensorboard.close()
        summary = {"stopped_at_step": step, "steps": total}
        return RunResult(config, family, state, splits, workdir, summary)

    summary: dict[str, Any] = {
        "steps": total,
        "epochs": tc.num_epochs,
        "num_seeds": config.num_seeds,
        # Which chunk strategy ran: one lax.scan per chunk, or a Python loop over steps.
        "loop": "python" if trainer.uses_python_loop() else "scan",
        "train_seconds_this_session": train_seconds,
        "train_seconds": prior_seconds + train_seconds,  # over every session of the run
        "steps_per_second": steps_done / steady_seconds if steps_done else None,
        "first_chunk_seconds": first_chunk_seconds,  # Includes compilation.
    }
    if not steps_done:
        # Nothing trained this session (a finished run run again): keep the throughput of
        # the session that trained it instead of overwriting it with null.
        earlier = _read_summary(workdir)
        for k in ("steps_per_second", "first_chunk_seconds"):
            summary[k] = summary[k] if summary[k] is not None else earlier.get(k)
    for split in ("val", "test"):
        if getattr(splits, split) is not None:
            values = _summarize(trainer.evaluate(state, split))
            log.write(
                {"step": step, "epoch": tc.num_epochs, "split": split, "final": True, **values}
            )
            summary[split] = values
    if primary:
        # On the host: process 0 computes the report alone, without the other processes.
        local = parallel.host_local(state) if parallel.multi_process() else state
        report_key = named_key(np.asarray(trainer.keys)[0], "report")
        summary["report"] = family.report(seed_slice(local, 0), splits, workdir, report_key)
        summary["wall_seconds_this_session"] = time.time() - t_start
        write_json(workdir / "summary.json", summary)
        # Every run folder, sub-runs of experiments included, gets its report.
        write_report(RunResult(config, family, local, splits, workdir, summary))
    parallel.barrier("report")  # the others wait: leaving would end the job under process 0
    ckpt.close()
    tensorboard.close()
    return RunResult(config, family, state, splits, workdir, summary)
