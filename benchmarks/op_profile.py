"""Where a benchmark model's step spends its time, per XLA operation, from XLA's own trace.

Traces one training chunk of a `make bench` model (the library's compiled chunk, as
`harness.JaxgenRun` runs it) with `jax.profiler`, and sums the time of every operation XLA:CPU
ran on its worker threads. It shows what the FLOP count cannot: how much of the step is
matmuls (`dot`, and the `ynn_fusion`s that fuse a dot with its neighbours), how much is
elementwise work, and how busy the threads were against the step's wall-clock time (busy
time over twice the wall time is how well the step used the two cores). Tracing costs time
per operation: a step of many small operations (a scanned recurrence) runs slower traced,
so read its shares, not its absolute times; the untraced step time is printed beside it.

Run:
  python -m benchmarks.op_profile --model gan2d --seeds 8
  python -m benchmarks.op_profile --model lstm --top 20
  XLA_FLAGS=--xla_force_host_platform_device_count=2 \
    python -m benchmarks.op_profile --model lstm --data-parallel
"""

from __future__ import annotations

import os

# The per-operation trace events exist only with this flag, read when the backend starts.
os.environ["XLA_FLAGS"] = (
    os.environ.get("XLA_FLAGS", "") + " --xla_cpu_enable_xprof_traceme=true"
).strip()

import argparse  # noqa: E402
import collections  # noqa: E402
import re  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402

from benchmarks import configs  # noqa: E402
from benchmarks.harness import JaxgenRun  # noqa: E402

MODELS = {
    "vae": configs.vae_config,
    "conv": configs.conv_config,
    "lstm": configs.lstm_config,
    "gan2d": configs.gan2d_config,
    "adding": configs.adding_config,
}
WORKER = "tf_XLAEigen"  # XLA:CPU's intra-op worker threads, where its operations run
WRAPPER = "ThunkExecutor::Execute"  # a thread's whole turn, not one operation


def op_times(trace_dir: str | Path) -> tuple[dict[str, float], dict[str, int], float, int]:
    """(ns per operation name, its count, ns the workers were busy in all, how many worker
    threads ran anything) from a trace folder."""
    path = sorted(Path(trace_dir).glob("**/*.xplane.pb"))[-1]
    data = jax.profiler.ProfileData.from_file(str(path))
    ns: dict[str, float] = collections.Counter()
    count: dict[str, int] = collections.Counter()
    busy, threads = 0.0, 0
    for plane in data.planes:
        for line in plane.lines:
            if not line.name.startswith(WORKER):
                continue
            threads += 1
            for ev in line.events:
                if ev.name == WRAPPER:
                    busy += ev.duration_ns
                else:
                    ns[ev.name] += ev.duration_ns
                    count[ev.name] += 1
    return dict(ns), dict(count), busy, threads


def by_kind(ns: dict[str, float]) -> dict[str, float]:
    """Operation times summed by kind: `dot.91` and `dot.92` are both `dot`."""
    kinds: dict[str, float] = collections.Counter()
    for name, t in ns.items():
        kinds[re.sub(r"[.\d]+$", "", name)] += t
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="gan2d")
    ap.add_argument("--seeds", type=int, default=1)
    ap.add_argument("--scale", choices=sorted(configs.SCALES), default="full")
    ap.add_argument(
        "--data-parallel",
        action="store_true",
        help="the batch split over the host devices (XLA_FLAGS=--xla_force_host_platform_"
        "device_count=N gives N)",
    )
    ap.add_argument("--top", type=int, default=12, help="the slowest single operations shown")
    args = ap.parse_args(argv)
    scale = configs.SCALES[args.scale]
    cfg = configs.no_progress(MODELS[args.model](scale))
    cfg.num_seeds = args.seeds
    cfg.data_parallel = args.data_parallel
    run = JaxgenRun(cfg, scale.steps[args.model])
    run.run()  # warm: the timed and traced chunks below are steady-state ones
    t0 = time.perf_counter()
    run.run()
    wall = (time.perf_counter() - t0) / run.steps * 1e3
    with tempfile.TemporaryDirectory() as tmp:
        jax.profiler.start_trace(tmp)
        t0 = time.perf_counter()
        run.run()
        traced = (time.perf_counter() - t0) / run.steps * 1e3
        jax.profiler.stop_trace()
        ns, count, busy, threads = op_times(tmp)
    per_step = 1e6 * run.steps  # ns of the chunk -> ms per step
    busy /= per_step
    print(
        f"{args.model}, {args.seeds} seed(s), "
        + (f"data-parallel over {jax.local_device_count()} devices, " if cfg.data_parallel else "")
        + f"{run.steps} steps a chunk ({run.loop} loop), "
        f"{os.cpu_count()} cores: {wall:.2f} ms a step ({traced:.2f} traced). XLA's {threads} "
        f"worker threads were busy {busy:.2f} ms a step in all: "
        f"{100 * busy / (threads * traced):.0f}% of {threads} x the traced step."
    )
    print("\n| kind | ms per step | share of operations |\n|---|---|---|")
    for kind, t in by_kind(ns).items():
        if t / per_step >= 0.01:
            print(f"| {kind} | {t / per_step:.3f} | {100 * t / sum(ns.values()):.0f}% |")
    print(f"\n| the {args.top} slowest operations | ms per step | runs per step |\n|---|---|---|")
    for name, t in sorted(ns.items(), key=lambda kv: -kv[1])[: args.top]:
        print(f"| {name} | {t / per_step:.3f} | {count[name] / run.steps:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
