"""Fault injection: kill, interrupt and corrupt a short training run, then check that the
resumed run ends exactly as an uninterrupted one (every parameter and every logged metric).

  .venv/bin/python scripts/faults.py --trials 6 [--seed 0] [--dir /tmp/faults]
  make faults TRIALS=20

Each trial runs `python -m jaxgen.main` on a tiny autoencoder (64 steps, a checkpoint every
5 steps) and injects one kind of fault, in turn:
  kill       SIGKILL 1-3 times, each aimed at a moment the run shows (1-3 new metrics lines,
             a save in progress, a new checkpoint), restart each time;
  interrupt  SIGINT or SIGTERM, aimed the same way: exit 128 + the signal, one line, a
             checkpoint of that very step;
  corrupt    SIGKILL, then truncate or garble a random file of the newest checkpoint's
             state/ or meta/: the restart says so in one line and resumes from an older one;
  startup    SIGINT or SIGTERM at a random moment of the first seconds (imports, data, the
             first compilation): exit 128 + the signal and one line, or a finished run.
The figures: trials, faults injected (landed before the run ended), faults survived (the run
finished with exactly the reference parameters and metrics), mismatches.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
KINDS = ("kill", "interrupt", "corrupt", "startup")
TMP_MARK = ".orbax-checkpoint-tmp"  # a save in progress (jaxgen.train.checkpoint)

CONFIG = '''"""Tiny run for fault injection (written by scripts/faults.py)."""
from tests.conftest import tiny_ae_config


def get_config(arg=None):
    return tiny_ae_config(num_epochs={epochs}, steps_per_scan=5, checkpoint_every_steps={every})
'''


def write_config(folder: Path, epochs: int = 4, every: int = 5) -> Path:
    path = Path(folder) / f"faults_config_e{epochs}_c{every}.py"
    path.write_text(CONFIG.format(epochs=epochs, every=every))
    return path


def env() -> dict[str, str]:
    """Subprocess environment: quiet, and sharing one compilation cache across runs."""
    e = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    if "JAX_COMPILATION_CACHE_DIR" not in e:
        e["JAX_COMPILATION_CACHE_DIR"] = str(Path(tempfile.gettempdir()) / "jaxgen-faults-xla")
    e.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    e.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    return e


def start(config: Path, workdir: Path, log: Path) -> subprocess.Popen:
    """`python -m jaxgen.main` in the background; stdout to `log`, stderr to `log`.err."""
    with open(log, "wb") as out, open(log.with_suffix(".err"), "wb") as err:
        return subprocess.Popen(
            [PYTHON, "-m", "jaxgen.main", "--config", str(config), "--workdir", str(workdir)],
            cwd=ROOT,
            env=env(),
            stdout=out,
            stderr=err,
        )


def run(config: Path, workdir: Path, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        [PYTHON, "-m", "jaxgen.main", "--config", str(config), "--workdir", str(workdir)],
        cwd=ROOT,
        env=env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def checkpoint_steps(workdir: Path) -> list[int]:
    folder = Path(workdir) / "checkpoints"
    if not folder.is_dir():
        return []
    return sorted(int(p.name) for p in folder.iterdir() if p.name.isdigit())


def _saved_since(workdir: Path, since: float) -> bool:
    for path in (Path(workdir) / "checkpoints").glob("*/sha256.json"):
        try:
            if path.stat().st_mtime >= since:
                return True
        except OSError:  # Deleted by the run's own rotation meanwhile.
            pass
    return False


def wait_for_checkpoint(proc: subprocess.Popen, workdir: Path, timeout: float = 300) -> float:
    """Blocks until this process saved a checkpoint (or ended); returns when that happened."""
    t0 = time.time() - 1  # mtimes may be coarse.
    while not _saved_since(workdir, t0) and proc.poll() is None:
        if time.time() - t0 > timeout:
            proc.kill()
            raise TimeoutError(f"no checkpoint in {workdir} after {timeout} s")
        time.sleep(0.01)
    return time.time()


def signal_after(proc: subprocess.Popen, sig: int, delay: float) -> bool:
    """Sends `sig` after `delay` seconds; True if the process was still running then."""
    deadline = time.time() + delay
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        time.sleep(0.005)
    if proc.poll() is not None:
        return False
    proc.send_signal(sig)
    return True


def _lines(path: Path) -> int:
    try:
        return path.read_bytes().count(b"\n")
    except OSError:
        return 0


def _saving(folder: Path) -> bool:
    try:
        return any(TMP_MARK in p.name for p in folder.iterdir())
    except OSError:
        return False


def signal_at_event(
    proc: subprocess.Popen, workdir: Path, sig: int, rng: random.Random, event: str = ""
) -> str:
    """Sends `sig` at a moment the run shows (`event`: "metrics", "saving" or "checkpoint";
    random if empty); says which, or "" if the run ended first."""
    metrics, folder = workdir / "metrics.jsonl", workdir / "checkpoints"
    event = event or rng.choice(["metrics", "saving", "checkpoint"])
    if event == "metrics":
        target = _lines(metrics) + rng.randint(1, 3)
        ready = lambda: _lines(metrics) >= target  # noqa: E731
    elif event == "saving":
        ready = lambda: _saving(folder)  # noqa: E731
    else:
        seen = set(checkpoint_steps(workdir))
        ready = lambda: bool(set(checkpoint_steps(workdir)) - seen)  # noqa: E731
    while proc.poll() is None:
        if ready():
            if proc.poll() is not None:
                break
            proc.send_signal(sig)
            return f"{event} (checkpoints {checkpoint_steps(workdir)[-2:]})"
        time.sleep(0.001)
    return ""


def corrupt(workdir: Path, rng: random.Random) -> str:
    """Truncates or garbles one random file of the newest checkpoint; says which."""
    step = checkpoint_steps(workdir)[-1]
    step_dir = Path(workdir) / "checkpoints" / str(step)
    files = sorted(
        p for sub in ("state", "meta") for p in (step_dir / sub).rglob("*") if p.is_file()
    )
    path = rng.choice(files)
    data = bytearray(path.read_bytes())
    if rng.random() < 0.5 or len(data) < 2:
        path.write_bytes(bytes(data[: len(data) // 2]))
        how = "truncated"
    else:
        i = rng.randrange(len(data))
        data[i] ^= 0xFF
        path.write_bytes(bytes(data))
        how = "garbled"
    return f"{how} {path.relative_to(workdir)}"


def fingerprint(workdir: Path) -> dict:
    """The final checkpoint's arrays, every metrics row and the summary's val/test numbers."""
    import jax
    import numpy as np

    from jaxgen.config import from_json
    from jaxgen.train.checkpoint import Checkpointer
    from jaxgen.train.preflight import prepare
    from jaxgen.train.rundir import MetricsLog

    workdir = Path(workdir)
    config = from_json((workdir / "config.json").read_text(), str(workdir / "config.json"))
    ckpt = Checkpointer(workdir / "checkpoints")
    try:
        state, meta = ckpt.restore(prepare(config).abstract_state())
    finally:
        ckpt.close()
    summary = json.loads((workdir / "summary.json").read_text())
    return {
        "step": int(meta["step"]),
        "arrays": [np.asarray(x) for x in jax.tree.leaves(state)],
        # Every logged number but the clock (training seconds differ from run to run).
        "metrics": [
            {k: v for k, v in r.items() if k not in ("train_seconds", "train_cpu_seconds")}
            for r in MetricsLog(workdir / "metrics.jsonl").read()
        ],
        "summary": {k: summary.get(k) for k in ("val", "test")},
    }


def same(a: dict, b: dict) -> bool:
    import numpy as np

    return (
        a["step"] == b["step"]
        and len(a["arrays"]) == len(b["arrays"])
        and all(np.array_equal(x, y) for x, y in zip(a["arrays"], b["arrays"], strict=True))
        and a["metrics"] == b["metrics"]
        and a["summary"] == b["summary"]
    )


def trial(kind: str, config: Path, workdir: Path, rng: random.Random, window: float) -> dict:
    """One trial of `kind`; returns what happened (injected faults, problems)."""
    log = workdir.with_suffix(".out")
    injected, problems, notes = 0, [], []
    if kind == "kill":
        for _ in range(rng.randint(1, 3)):
            if (workdir / "summary.json").exists():
                break  # It finished before a kill landed.
            proc = start(config, workdir, log)
            wait_for_checkpoint(proc, workdir)
            where = signal_at_event(proc, workdir, signal.SIGKILL, rng)
            if where:
                injected += 1
                notes.append(f"killed at {where}")
            proc.wait()
    elif kind == "startup":
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        proc = start(config, workdir, log)
        if signal_after(proc, sig, rng.uniform(0.1, 4.0)):
            injected += 1
        code = proc.wait()
        err = log.with_suffix(".err").read_text().strip().splitlines()
        err = [line for line in err if " received; saving" not in line]
        notes.append(f"{sig.name}: exit {code}")
        if injected and code not in (0, 128 + sig):
            problems.append(f"{sig.name} exit status {code}: {err[-3:]}")
        elif injected and code != 0 and len(err) != 1:
            problems.append(f"expected one stderr line, got {err}")
    elif kind == "interrupt":
        sig = rng.choice([signal.SIGINT, signal.SIGTERM])
        proc = start(config, workdir, log)
        wait_for_checkpoint(proc, workdir)
        where = signal_at_event(proc, workdir, sig, rng)
        injected += bool(where)
        code = proc.wait()
        err = log.with_suffix(".err").read_text().strip().splitlines()
        err = [line for line in err if " received; saving" not in line]
        if injected and code == 128 + sig:
            # The one stderr line names the step; that step must be checkpointed.
            words = err[-1].split() if len(err) == 1 else []
            if len(err) != 1:
                problems.append(f"expected one stderr line, got {err}")
            elif "step" in words:  # Else it came after training, in the final evaluation.
                at = int(words[words.index("step") + 1].rstrip(";"))
                notes.append(f"interrupted at step {at}")
                if at not in checkpoint_steps(workdir):
                    problems.append(f"no checkpoint at interrupted step {at}")
        elif injected and code != 0:
            problems.append(f"{sig.name} exit status {code}: {err[-1:]}")
    elif kind == "corrupt":
        proc = start(config, workdir, log)
        wait_for_checkpoint(proc, workdir)
        if signal_after(proc, signal.SIGKILL, rng.uniform(0, window)):
            notes.append("killed")
        proc.wait()
        notes.append(corrupt(workdir, rng))
        injected += 1
    else:
        raise ValueError(kind)
    final = run(config, workdir)
    if final.returncode != 0:
        problems.append(f"restart exit status {final.returncode}: {final.stderr[-300:]}")
    if kind == "corrupt" and "is unusable" not in final.stdout:
        problems.append("corruption was not reported")
    return {"injected": injected, "problems": problems, "notes": notes}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=6)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", default=None, help="work folder (default: a new tmp folder)")
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    folder = Path(args.dir or tempfile.mkdtemp(prefix="jaxgen-faults-"))
    folder.mkdir(parents=True, exist_ok=True)
    config = write_config(folder)

    t0 = time.time()
    ref_dir = folder / "reference"
    proc = start(config, ref_dir, folder / "reference.out")
    first = wait_for_checkpoint(proc, ref_dir)
    if proc.wait() != 0:
        print((folder / "reference.err").read_text()[-2000:])
        return 1
    window = max(time.time() - first, 0.5)  # How long the loop runs once saving began.
    reference = fingerprint(ref_dir)
    print(
        f"faults: reference run {ref_dir} ({reference['step']} steps, {time.time() - t0:.0f} s; "
        f"kill window {window:.1f} s)",
        flush=True,
    )

    injected = survived = mismatches = 0
    for i in range(args.trials):
        kind = KINDS[i % len(KINDS)]
        workdir = folder / f"trial{i:03d}-{kind}"
        t = time.time()
        out = trial(kind, config, workdir, rng, window)
        ok_run = not out["problems"]
        matches = ok_run and same(fingerprint(workdir), reference)
        injected += out["injected"]
        if out["injected"] and matches:
            survived += out["injected"]
        mismatches += ok_run and not matches
        status = "ok" if matches else "MISMATCH" if ok_run else "FAILED"
        print(
            f"trial {i + 1:3d} {kind:9s} faults {out['injected']} {status:8s} "
            f"{time.time() - t:5.1f} s  {'; '.join(out['notes'] + out['problems'])}",
            flush=True,
        )
    failed = injected - survived
    print(
        f"faults: trials {args.trials}, faults injected {injected}, survived {survived}, "
        f"failed {failed}, mismatches {mismatches} ({time.time() - t0:.0f} s, folder {folder})"
    )
    return 0 if failed == 0 and mismatches == 0 else 1


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    sys.exit(main())
