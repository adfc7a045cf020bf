"""Timing machinery shared by the benchmark sections: alternating repetitions, the matmul
peak, and the jaxgen side driven through the library's own compiled training chunk.

Every comparison runs its sides in ONE process, alternating: repetition r runs side
(r + i) mod n as its i-th, so no side always goes first (warm caches, turbo states, a
neighbour's load spike) and the machine's drift hits all sides alike. The reported number
is the median over repetitions.
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import jax
import numpy as np

from benchmarks import flops as flops_lib
from jaxgen import data as data_lib
from jaxgen.config import ConfigDict
from jaxgen.train.preflight import make_family
from jaxgen.train.trainer import Trainer


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


@dataclasses.dataclass
class Side:
    """One contestant: `run()` does one repetition's fixed work and returns when it is done."""

    name: str
    run: Callable[[], Any]


def alternate(sides: list[Side], reps: int, warmup: int = 1) -> dict[str, list[float]]:
    """Seconds per repetition of every side, run alternately; `warmup` rounds discarded."""
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    n = len(sides)
    for r in range(warmup + reps):
        for i in range(n):
            side = sides[(r + i) % n]
            t0 = time.perf_counter()
            side.run()
            dt = time.perf_counter() - t0
            if r >= warmup:
                times[side.name].append(dt)
    return times


def median(xs: list[float]) -> float:
    return float(statistics.median(xs))


def spread(xs: list[float]) -> float:
    """(max - min) / median: how noisy the repetitions were."""
    return float((max(xs) - min(xs)) / statistics.median(xs)) if xs else math.nan


# -- the hardware limit ---------------------------------------------------------------------
class MatmulPeak:
    """fp32 `a @ b` through `jax.jit` at n x n: one repetition is `calls` matmuls."""

    def __init__(self, n: int = 2048, seconds: float = 0.5, dtype: str = "float32"):
        self.n = n
        ka, kb = jax.random.split(jax.random.PRNGKey(0))
        self.a = jax.random.normal(ka, (n, n), dtype)
        self.b = jax.random.normal(kb, (n, n), dtype)
        self.fn = jax.jit(lambda a, b: a @ b)
        self.fn(self.a, self.b).block_until_ready()
        t0 = time.perf_counter()
        self.fn(self.a, self.b).block_until_ready()
        self.calls = max(1, round(seconds / max(time.perf_counter() - t0, 1e-4)))

    @property
    def flops(self) -> float:
        return 2.0 * self.n**3 * self.calls

    def run(self) -> None:
        out = None
        for _ in range(self.calls):
            out = self.fn(self.a, self.b)
        out.block_until_ready()


def matmul_sweep(
    sizes=(512, 1024, 2048, 3072), reps: int = 5, dtype: str = "float32"
) -> dict[int, float]:
    """Median GFLOP/s of the jitted matmul at each size (alternating the sizes)."""
    peaks = {n: MatmulPeak(n, seconds=0.3, dtype=dtype) for n in sizes}
    times = alternate([Side(str(n), p.run) for n, p in peaks.items()], reps)
    return {n: peaks[n].flops / median(times[str(n)]) / 1e9 for n in sizes}


def batched_matmul_gflops(
    seeds: int, m: int, k: int, n: int, reps: int = 5, links: int = 50
) -> float:
    """GFLOP/s XLA reaches on `seeds` independent (m x k)(k x n) matmuls, batched the way
    `vmap` batches a model's seeds, each followed by the (m x n)(n x k) product back.

    The links are chained inside one `fori_loop`, each waiting on the last as a recurrence's
    or a network's layers do, so the rate counts no dispatch. `w2 = w1^T` with orthonormal
    rows keeps the values' scale (k <= n), so no link runs on denormals or infinities.
    """
    import jax.numpy as jnp

    if k > n:
        raise ValueError(f"k={k} > n={n}: the chain keeps its scale only for k <= n")
    rng = np.random.default_rng(0)
    q = np.linalg.qr(rng.standard_normal((seeds, n, k)))[0]  # (seeds, n, k), orthonormal columns
    w1 = jnp.asarray(q.transpose(0, 2, 1), jnp.float32)  # (seeds, k, n)
    w2 = jnp.asarray(q, jnp.float32)
    x = jnp.asarray(rng.standard_normal((seeds, m, k)), jnp.float32)

    @jax.jit
    def chain(x):
        def link(_, x):
            return jnp.einsum("smn,snk->smk", jnp.einsum("smk,skn->smn", x, w1), w2)

        return jax.lax.fori_loop(0, links, link, x)

    run = Side("chain", lambda: chain(x).block_until_ready())
    seconds = median(alternate([run], reps, warmup=1)["chain"])
    return links * 2 * (2.0 * seeds * m * k * n) / seconds / 1e9


# -- the jaxgen side ------------------------------------------------------------------------
def param_count(tree: Any) -> int:
    return int(sum(np.prod(x.shape) for x in jax.tree.leaves(tree)))


class JaxgenRun:
    """A family trained through `Trainer.chunk_fn(steps)`: what `jaxgen.train` runs.

    One repetition is one chunk of `steps` train steps (one `lax.scan` under one `jit`, or on
    CPU for conv models a Python loop over the jitted step; donated state, every seed
    vmapped), followed by the loop's one host sync of the metrics. A scanned chunk is compiled
    ahead of time so compilation is timed on its own; a Python-loop chunk compiles its step
    in the first call, which is then timed as the compilation.
    """

    def __init__(self, config: ConfigDict, steps: int, splits: data_lib.Splits | None = None):
        self.config = config
        self.splits = splits if splits is not None else data_lib.load(config.dataset)
        self.family = make_family(config)
        self.trainer = Trainer(config, self.family, self.splits)
        if steps > self.trainer.steps_per_epoch:
            raise ValueError(f"{steps} steps > {self.trainer.steps_per_epoch} steps per epoch")
        self.steps = steps
        self.num_seeds = int(config.num_seeds)
        self.batch_size = int(config.train.batch_size)
        t0 = time.perf_counter()
        self.state = self.trainer.init()
        jax.block_until_ready(self.state)
        self.init_seconds = time.perf_counter() - t0
        fn = self.trainer.chunk_fn(steps)
        args = (self.state, self.trainer.keys, self.trainer.train_data, 0, 0)
        # Work per step of ONE seed: matmul/conv FLOPs of the chunk's jaxpr (traced, not run).
        self.flops_per_step = flops_lib.count(fn, *args) / steps / self.num_seeds
        t0 = time.perf_counter()
        if hasattr(fn, "lower"):
            self.compiled = fn.lower(*args).compile()
            self.xla_flops = flops_lib.xla_flops(self.compiled)
        else:
            self.compiled, self.xla_flops = fn, None
            self.state, _ = jax.block_until_ready(fn(*args))
        self.compile_seconds = time.perf_counter() - t0
        self.loop = "python" if self.trainer.uses_python_loop() else "scan"
        self.params = param_count(
            jax.tree.map(lambda x: x[0], self.family.params_for_eval(self.state))
        )
        self.epoch = 0
        self.last_metrics: dict[str, np.ndarray] = {}
        t0 = time.perf_counter()
        self.run()
        self.first_chunk_seconds = time.perf_counter() - t0

    def run(self) -> None:
        self.epoch += 1
        self.state, metrics = self.compiled(
            self.state, self.trainer.keys, self.trainer.train_data, self.epoch, 0
        )
        self.last_metrics = jax.device_get(metrics)  # the loop's one host sync per chunk

    def final_loss(self) -> float:
        return float(np.mean(self.last_metrics["loss"][..., -1]))


__all__ = [
    "JaxgenRun",
    "batched_matmul_gflops",
    "MatmulPeak",
    "Side",
    "alternate",
    "log",
    "matmul_sweep",
    "median",
    "param_count",
    "spread",
]
