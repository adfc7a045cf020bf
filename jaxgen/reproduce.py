"""Re-runs a finished run from its stored config and seed and checks the numbers match.

  python -m jaxgen.reproduce runs/X [--workdir runs/X-repro] [--rtol 1e-6]
  make reproduce RUN=runs/X

The run's `config.json` (which holds the seed and every override) is trained again in a fresh
folder; an experiment (`experiment.json` names its module) is run again through its `run`.
Then every number of `metrics.jsonl` and `summary.json` (timings excepted) and, for a trained
run, every array of the final checkpoint are compared. Exit status 0 when all match within
`rtol` (bit-for-bit is reported separately), 1 when something differs, 2 on bad input.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxgen.errors import CheckpointError, ConfigError, JaxgenError

if TYPE_CHECKING:
    from jaxgen.config import ConfigDict
    from jaxgen.train.family import State

# Numbers that measure the machine, not the model.
_TIMING = re.compile(r"seconds|per_second|_time|time_|wall|duration", re.IGNORECASE)


def _numbers(obj: Any, prefix: str = "") -> dict[str, float]:
    """Flattens the numeric leaves of a JSON tree: {"test.loss": 0.12, ...}."""
    out: dict[str, float] = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            if not _TIMING.search(str(k)):
                out.update(_numbers(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out.update(_numbers(v, f"{prefix}{i}."))
    elif isinstance(obj, bool):
        pass
    elif isinstance(obj, int | float):
        out[prefix.rstrip(".")] = float(obj)
    return out


def _metrics_numbers(workdir: Path) -> dict[str, float]:
    from jaxgen.train.rundir import MetricsLog

    rows = MetricsLog(workdir / "metrics.jsonl").read()
    out = {}
    for row in rows:
        tag = f"{row.get('split')}@{row.get('step')}{'/final' if row.get('final') else ''}"
        out.update(_numbers({k: v for k, v in row.items() if k not in ("split",)}, tag + "."))
    return out


def _read_object(path: Path) -> dict:
    """A JSON object file of a run folder, or a ConfigError saying that it is damaged."""
    from jaxgen.train.rundir import read_json_object

    data = read_json_object(path)
    if data is None:
        raise ConfigError(
            f"{path} is damaged (not a JSON object); run the run's own command again to "
            "rewrite it from its checkpoint"
        )
    return data


def run_files(workdir: Path) -> dict[str, float]:
    """Every comparable number of a finished run folder (its top level and sub-runs)."""
    out: dict[str, float] = {}
    for path in sorted(workdir.rglob("summary.json")):
        rel = path.parent.relative_to(workdir)
        out.update(_numbers(_read_object(path), f"{rel}/summary.json:"))
    for path in sorted(workdir.rglob("metrics.jsonl")):
        rel = path.parent.relative_to(workdir)
        out.update(
            {f"{rel}/metrics.jsonl:{k}": v for k, v in _metrics_numbers(path.parent).items()}
        )
    return out


def _final_state(config: ConfigDict, workdir: Path) -> State:
    from jaxgen.train.checkpoint import Checkpointer
    from jaxgen.train.preflight import prepare

    ckpt = Checkpointer(workdir / "checkpoints")
    try:
        restored = ckpt.restore(prepare(config).abstract_state())
    finally:
        ckpt.close()
    if restored is None:
        raise CheckpointError(f"{workdir} has no checkpoint")
    return restored[0]


def compare(a: dict[str, float], b: dict[str, float], rtol: float) -> dict[str, Any]:
    """Counts of identical / close / different numbers and the worst differences."""
    missing = sorted(set(a) ^ set(b))
    identical = close = 0
    worst: list[tuple[float, str, float, float]] = []
    for k in sorted(set(a) & set(b)):
        x, y = a[k], b[k]
        if x == y or (math.isnan(x) and math.isnan(y)):
            identical += 1
            continue
        rel = abs(x - y) / max(abs(x), abs(y), 1e-30)
        if rel <= rtol:
            close += 1
        worst.append((rel, k, x, y))
    worst.sort(reverse=True)
    return {
        "compared": len(set(a) & set(b)),
        "identical": identical,
        "close": close,
        "different": [w for w in worst if w[0] > rtol],
        "max_rel": worst[0][0] if worst else 0.0,
        "missing": missing,
    }


def reproduce(
    run_dir: str | Path, out_dir: str | Path | None = None, rtol: float = 1e-6
) -> tuple[bool, list[str]]:
    """Re-runs `run_dir` in `out_dir` (default: a fresh sibling folder); returns the verdict.

    Returns:
      (matched, lines): whether every number matched within `rtol`, and a printable report.
    """
    from jaxgen.config import from_json, load_module

    run_dir = Path(run_dir)
    if not (run_dir / "config.json").is_file():
        raise ConfigError(f"{run_dir} is not a run folder (no config.json)")
    if not (run_dir / "summary.json").is_file():
        raise ConfigError(
            f"{run_dir} has not finished (no summary.json); resume it with its own command first"
        )
    config = from_json((run_dir / "config.json").read_bytes(), str(run_dir / "config.json"))
    for summary in sorted(run_dir.rglob("summary.json")):  # before hours of training again
        _read_object(summary)
    out = (
        Path(out_dir)
        if out_dir
        else run_dir.with_name(f"{run_dir.name}-repro-{time.strftime('%Y%m%d-%H%M%S')}")
    )
    if out.exists() and any(out.iterdir()):
        raise ConfigError(f"--workdir {out} is not empty; reproduce needs a fresh folder")
    experiment = run_dir / "experiment.json"
    t = time.time()
    if experiment.is_file():
        spec = json.loads(experiment.read_text())
        module = load_module(spec["config"])
        module.run(config, str(out))
        state_pair = None
    else:
        from jaxgen.train import train

        result = train(config, out)
        state_pair = (_final_state(config, run_dir), result.state)
    seconds = time.time() - t

    verdict = compare(run_files(run_dir), run_files(out), rtol)
    lines = [
        f"reproduce: {run_dir} (seed {config.get('seed')}) re-run in {out} ({seconds:.0f} s)",
        f"numbers compared: {verdict['compared']}, identical: {verdict['identical']}, "
        f"within rtol={rtol:g}: {verdict['close']}, different: {len(verdict['different'])}, "
        f"max relative difference: {verdict['max_rel']:.3g}",
    ]
    matched = not verdict["different"] and not verdict["missing"]
    bitwise = matched and verdict["close"] == 0
    if state_pair is not None:
        import jax

        old, new = (jax.tree.leaves(s) for s in state_pair)
        pairs = list(zip(old, new, strict=False)) if len(old) == len(new) else []
        same = sum(np.array_equal(np.asarray(x), np.asarray(y)) for x, y in pairs)
        near = bool(pairs) and all(
            np.allclose(np.asarray(x), np.asarray(y), rtol=rtol, atol=0) for x, y in pairs
        )
        lines.append(f"final checkpoint arrays identical: {same}/{len(old)}")
        matched = matched and near
        bitwise = bitwise and same == len(old)
    for rel, k, x, y in verdict["different"][:5]:
        lines.append(f"  differs: {k}: {x!r} vs {y!r} (relative {rel:.3g})")
    for k in verdict["missing"][:5]:
        lines.append(f"  only in one run: {k}")
    _env_notes(run_dir, out, lines)
    lines.append(
        "result: " + ("MATCH (bit for bit)" if bitwise else "MATCH" if matched else "MISMATCH")
    )
    return matched, lines


def _env_notes(a: Path, b: Path, lines: list[str]) -> None:
    """Names the library versions, devices and XLA flags that differ: the usual reasons a
    re-run is not bit-exact (a seed-parallel run on another device count, for one)."""
    envs = []
    for wd in (a, b):
        found = sorted(wd.rglob("env.json"))
        envs.append(json.loads(found[0].read_text()) if found else {})
    pa, pb = (e.get("packages", {}) for e in envs)
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            lines.append(f"  note: {name} {pa.get(name)} then, {pb.get(name)} now")
    ea, eb = envs
    if ea and eb and len(ea.get("devices", ())) != len(eb.get("devices", ())):
        lines.append(f"  note: {len(ea['devices'])} devices then, {len(eb['devices'])} now")
    if ea and eb and ea.get("xla_flags") != eb.get("xla_flags"):
        lines.append(f"  note: XLA_FLAGS {ea.get('xla_flags')!r} then, {eb.get('xla_flags')!r} now")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jaxgen.reproduce", description=__doc__)
    parser.add_argument("run", help="a finished run folder, e.g. runs/X")
    parser.add_argument("--workdir", default=None, help="fresh folder for the re-run")
    parser.add_argument("--rtol", type=float, default=1e-6, help="relative tolerance")
    args = parser.parse_args(argv)
    from jaxgen.main import _quiet

    _quiet()
    try:
        matched, lines = reproduce(args.run, args.workdir, args.rtol)
    except JaxgenError as e:
        print(f"jaxgen: error: {' '.join(str(e).split())}", file=sys.stderr)
        return e.exit_code
    print("\n".join(lines), flush=True)
    return 0 if matched else 1


if __name__ == "__main__":
    sys.exit(main())
