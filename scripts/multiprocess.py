"""One training run on one process and on several, compared: parameters, metrics, time.

  .venv/bin/python scripts/multiprocess.py --config experiments/autoencoder_mnist.py \\
      --workdir runs/multiprocess [--processes 2] [--interrupt] [--kill] [--config.K=V ...]
  make multiprocess

Runs `python -m jaxgen.main` on the config as one process (`<workdir>/one`), then as
`--processes` processes on this machine (`<workdir>/multi`), joined the way a cluster job
is: a coordinator address plus each process's number, in JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES and JAX_PROCESS_ID, with `--config.distributed=true`. Each process has its
own CPU device; gradients are all-reduced through JAX's Gloo collectives.

With --interrupt, the last process alone gets a SIGINT after the first checkpoint: every
process must stop after the same step, with exit 130 and one checkpoint of that step.
With --kill [I ...], process I (default: the last) is SIGKILLed as soon as a new checkpoint
exists, for each I in turn; `--kill 1 0` also kills process 0, which starts the job's
coordination service. Every other process must then end within a minute with one line,
exit status 8 and no other output (no hang, no abort). Each time, the job started again
must resume from the newest checkpoint and finish.

Prints the largest parameter difference between the two runs, their test metrics and the
time of each; exits 1 if the runs differ beyond float tolerance or a fault was mishandled.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
PEER_LOST_EXIT = 8  # jaxgen.errors.PeerLostError.exit_code


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1", **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    return env


def _command(spec: str, workdir: Path, overrides: list[str]) -> list[str]:
    return [PYTHON, "-m", "jaxgen.main", "--config", spec, "--workdir", str(workdir), *overrides]


def run_one(spec: str, workdir: Path, overrides: list[str], devices: int) -> float:
    """Trains on one process with as many (host) devices as the job has; returns the wall
    time. The same mesh size gives the same split of each batch, hence the same sums: a
    one-device run differs by float rounding, which training then amplifies."""
    t = time.time()
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count={devices}"
    env = _env(XLA_FLAGS=flags.strip())  # the user's flags too, as the other runs get them
    cmd = _command(spec, workdir, [*overrides, "--config.data_parallel=true"])
    with open(workdir.with_suffix(".log"), "w") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=log, env=env)
    if rc:
        raise SystemExit(f"multiprocess: the one-process run failed ({rc}); see {log.name}")
    return time.time() - t


def start_job(spec: str, workdir: Path, overrides: list[str], n: int) -> list[subprocess.Popen]:
    """The n processes of one job, started as a cluster would, logs in <workdir>.p<i>.log."""
    port = free_port()
    procs = []
    for i in range(n):
        env = _env(
            JAX_COORDINATOR_ADDRESS=f"localhost:{port}",
            JAX_NUM_PROCESSES=str(n),
            JAX_PROCESS_ID=str(i),
        )
        log = open(f"{workdir}.p{i}.log", "a")  # noqa: SIM115 (closed with the process)
        cmd = _command(spec, workdir, [*overrides, "--config.distributed=true"])
        procs.append(subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env))
        log.close()
    return procs


def _wait(procs: list[subprocess.Popen], timeout: float) -> list[int | None]:
    deadline = time.time() + timeout
    for p in procs:
        with contextlib.suppress(subprocess.TimeoutExpired):
            p.wait(max(deadline - time.time(), 0.1))
    return [p.poll() for p in procs]


def _last_line(workdir: Path, i: int) -> str:
    """Process i's last line, after any progress bar drawn on it with carriage returns."""
    lines = Path(f"{workdir}.p{i}.log").read_text().strip().splitlines()
    return lines[-1].split("\r")[-1] if lines else ""


def _checkpoints(workdir: Path) -> list[int]:
    folder = workdir / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _noise(text: str) -> list[str]:
    """Lines of a log that are not jaxgen's: tracebacks and JAX's own error or fatal logs."""
    lines = (part for line in text.splitlines() for part in line.split("\r"))
    return [x for x in lines if re.match(r"[EF]\d{4} |Traceback|\*\*\* ", x.strip())]


def kill_and_resume(
    spec: str, workdir: Path, overrides: list[str], n: int, victim: int | None = None
) -> dict:
    """Kills one process (the last by default; process 0 hosts the job's coordination
    client and starts its service) after a new checkpoint; checks every other process ends
    with one line and nothing else; the job started again must resume."""
    victim = n - 1 if victim is None else victim
    earlier = _checkpoints(workdir)
    procs = start_job(spec, workdir, overrides, n)
    while _checkpoints(workdir) == earlier and all(p.poll() is None for p in procs):
        time.sleep(0.05)
    if _checkpoints(workdir) == earlier:
        raise SystemExit(
            "multiprocess: the job ended before its first checkpoint; use a longer run"
        )
    others = [i for i in range(n) if i != victim]
    logs = {i: Path(f"{workdir}.p{i}.log") for i in others}
    sizes = {i: logs[i].stat().st_size for i in others}
    procs[victim].send_signal(signal.SIGKILL)
    t_kill = time.time()
    codes = _wait([procs[i] for i in others], 60)
    survivors_s = time.time() - t_kill
    for p in procs:
        if p.poll() is None:
            p.kill()
    lines = [_last_line(workdir, i) for i in others]
    noise = [x for i in others for x in _noise(logs[i].read_bytes()[sizes[i] :].decode())]
    kept = _checkpoints(workdir)[-1]
    ok = (
        all(c == PEER_LOST_EXIT for c in codes)
        and all(line.startswith("jaxgen: error:") for line in lines)
        and not noise
    )
    return {
        "killed_process": victim,
        "killed_after_checkpoint": kept,
        "survivor_exit": codes,
        "survivor_seconds": survivors_s,
        "survivor_line": lines[0],
        "survivor_other_lines": noise[:5],
        "handled": ok,
    }


def interrupt_one(spec: str, workdir: Path, overrides: list[str], n: int) -> dict:
    """SIGINT to the last process only, after the first checkpoint: every process must stop
    after the same step, with exit 130 and one checkpoint of that step between them."""
    procs = start_job(spec, workdir, overrides, n)
    while not _checkpoints(workdir) and all(p.poll() is None for p in procs):
        time.sleep(0.05)
    before = _checkpoints(workdir)
    procs[-1].send_signal(signal.SIGINT)
    codes = _wait(procs, 120)
    for p in procs:
        if p.poll() is None:
            p.kill()
    lines = [_last_line(workdir, i) for i in range(n)]
    stopped = {line.split(" at step ")[-1].split(";")[0] for line in lines}
    after = _checkpoints(workdir)
    return {
        "exits": codes,
        "stopped_at_steps": sorted(stopped),
        "checkpoints_before_after": [before, after],
        "handled": all(c == 130 for c in codes)
        and len(stopped) == 1
        and after[-1] == int(next(iter(stopped))),
    }


def run_multi(spec: str, workdir: Path, overrides: list[str], n: int) -> float:
    t = time.time()
    codes = _wait(start_job(spec, workdir, overrides, n), 24 * 3600)
    if any(codes):
        raise SystemExit(f"multiprocess: the {n}-process job failed {codes}; see {workdir}.p*.log")
    return time.time() - t


def compare(one: Path, multi: Path) -> dict:
    """Largest parameter difference and the test metrics of two finished runs."""
    import jax
    import numpy as np

    import jaxgen

    a, b = jaxgen.load_run(one), jaxgen.load_run(multi)
    pairs = zip(jax.tree.leaves(a.state), jax.tree.leaves(b.state), strict=True)
    diffs = [  # floating-point leaves: parameters and optimizer moments
        (float(np.max(np.abs(x - y))), float(np.max(np.abs(x))))
        for x, y in ((np.asarray(x), np.asarray(y)) for x, y in pairs)
        if np.issubdtype(x.dtype, np.floating)
    ]
    summary = [json.loads((w / "summary.json").read_text()) for w in (one, multi)]
    return {
        "max_abs_param_diff": max(d for d, _ in diffs),
        "max_abs_param": max(m for _, m in diffs),
        "test": [s["test"] for s in summary],
        "process_count": [
            json.loads((w / "env.json").read_text())["process_count"] for w in (one, multi)
        ],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", required=True)
    p.add_argument("--workdir", required=True, type=Path)
    p.add_argument("--processes", type=int, default=2)
    p.add_argument(
        "--kill",
        nargs="*",
        type=int,
        metavar="I",
        help="SIGKILL process I (default: the last) after a checkpoint, then resume; in turn",
    )
    p.add_argument("--interrupt", action="store_true", help="SIGINT one process first")
    p.add_argument(
        "--tolerance", type=float, default=1e-4, help="on |param diff| / (1 + max|param|)"
    )
    args, overrides = p.parse_known_args(argv)
    root = args.workdir
    root.mkdir(parents=True, exist_ok=True)
    one, multi = root / "one", root / "multi"
    out: dict = {"config": args.config, "overrides": overrides, "processes": args.processes}
    if not (one / "summary.json").exists():
        out["one_process_seconds"] = run_one(args.config, one, overrides, args.processes)
    if args.interrupt and not (multi / "summary.json").exists():
        out["interrupt"] = interrupt_one(args.config, multi, overrides, args.processes)
    for victim in [args.processes - 1] if args.kill == [] else args.kill or []:
        if not (multi / "summary.json").exists():
            out.setdefault("kill", []).append(
                kill_and_resume(args.config, multi, overrides, args.processes, victim)
            )
    resumed = bool(_checkpoints(multi))
    out[f"{args.processes}_process_seconds"] = run_multi(
        args.config, multi, overrides, args.processes
    )
    out["resumed"] = resumed and "resuming" in Path(f"{multi}.p0.log").read_text()
    out.update(compare(one, multi))
    rel = out["max_abs_param_diff"] / (1 + out["max_abs_param"])
    out["equal_within_tolerance"] = rel <= args.tolerance
    (root / "multiprocess.json").write_text(json.dumps(out, indent=2) + "\n")
    print(json.dumps(out, indent=2))
    faults = [f["handled"] for f in [out.get("interrupt", {"handled": True}), *out.get("kill", [])]]
    ok = out["equal_within_tolerance"] and all(faults)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
