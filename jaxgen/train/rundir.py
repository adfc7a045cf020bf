"""The run folder: config.json, env.json, metrics.jsonl, a lock against concurrent runs."""

from __future__ import annotations

import fcntl
import json
import os
import platform
import sys
from pathlib import Path
from typing import Any, cast

import jax
import numpy as np

from jaxgen import runtime
from jaxgen.errors import RunLockedError


def environment() -> dict[str, Any]:
    """Versions, backend and devices: what reproducing a run bit for bit depends on."""
    import importlib.metadata as md

    pkgs: dict[str, str | None] = {}
    for name in (
        "jax",
        "jaxlib",
        "flax",
        "optax",
        "orbax-checkpoint",
        "chex",
        "tensorflow-datasets",
        "ml_collections",
        "numpy",
    ):
        try:
            pkgs[name] = md.version(name)
        except md.PackageNotFoundError:
            pkgs[name] = None
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": pkgs,
        "backend": jax.default_backend(),
        "devices": [str(d) for d in jax.devices()],
        "process_count": jax.process_count(),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        # A run pinned with `taskset` (one core beside other work) is timed on those cores.
        "cpu_affinity": sorted(os.sched_getaffinity(0))
        if hasattr(os, "sched_getaffinity")
        else None,
        "cpu_count": os.cpu_count(),
        "malloc": runtime.malloc_settings(),
    }


class RunLock:
    """An exclusive lock on a run folder; a second run in the same folder refuses."""

    def __init__(self, workdir: Path):
        self.path = Path(workdir) / ".lock"
        self.fd: int | None = None

    def __enter__(self) -> RunLock:
        self.fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(self.fd)
            raise RunLockedError(
                f"another run is using {self.path.parent}; wait for it or pick another --workdir"
            ) from None
        os.ftruncate(self.fd, 0)
        os.write(self.fd, str(os.getpid()).encode())
        return self

    def __exit__(self, *exc: object) -> None:
        fcntl.flock(cast(int, self.fd), fcntl.LOCK_UN)
        os.close(cast(int, self.fd))


def _jsonable(v: Any) -> Any:
    if isinstance(v, np.ndarray | jax.Array):
        v = np.asarray(v)
        return v.item() if v.ndim == 0 else v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_jsonable(x) for x in v]
    return v


class MetricsLog:
    """Append-only `metrics.jsonl`; on resume, rows past the restored step are dropped."""

    def __init__(self, path: Path, writable: bool = True):
        self.path = Path(path)
        self.writable = writable  # False: a process of a multi-process run other than 0
        self.sinks: list[Any] = []  # Also receive every row, e.g. a TensorBoard writer.

    def truncate_after(self, step: int) -> None:
        """Keeps the rows a run restored at `step` had written before that checkpoint.

        Drops later rows, the final evaluation rows (rewritten when the run finishes again)
        and a line torn by a kill mid-write. The rewrite is atomic: a kill keeps the old log.
        """
        if not self.writable or not self.path.exists():
            return
        rows = [r for r in self.read() if r.get("step", 0) <= step and not r.get("final")]
        write_text(self.path, "".join(json.dumps(r) + "\n" for r in rows))

    def write(self, row: dict[str, Any]) -> None:
        if not self.writable:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(_jsonable(row)) + "\n")
        for sink in self.sinks:
            sink.write(_jsonable(row))

    def read(self) -> list[dict[str, Any]]:
        """The rows; a line torn by a kill or a full disk is skipped."""
        if not self.path.exists():
            return []
        rows = []
        # As bytes: a line garbled into invalid UTF-8 is one more torn line to skip.
        for line in self.path.read_bytes().splitlines():
            try:
                row = json.loads(line)
            except ValueError:  # UnicodeDecodeError included
                continue
            if isinstance(row, dict):
                rows.append(row)
        return rows


def write_text(path: Path, text: str) -> None:
    """Writes `text` to `path` atomically: readers and a killed writer see old or new."""
    tmp = Path(str(path) + ".tmp")
    with tmp.open("w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    tmp.replace(path)


def write_json(path: Path, obj: Any) -> None:
    write_text(path, json.dumps(_jsonable(obj), indent=2, sort_keys=True, default=str) + "\n")


def read_json_object(path: Path) -> dict | None:
    """The JSON object in `path`, or None if it is missing, unreadable or not an object."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def experiment_dir(workdir: str | Path, config: Any) -> Path:
    """An experiment module's run folder: created, with the experiment's config.json and the
    env.json of this session in it (the versions its results were measured with, also when
    every sub-run is reused rather than trained)."""
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    write_json(workdir / "config.json", config.to_dict())
    write_json(workdir / "env.json", environment())
    return workdir
