"""A short report for each run folder: what ran, how to reproduce it, the numbers."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from jaxgen.train.loop import RunResult


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return ""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def reproduce_command(workdir: Path) -> str:
    return (
        f"python -m jaxgen.main --config {workdir}/config.py --workdir {workdir}-rerun"
        if (workdir / "config.py").exists()
        else f"make reproduce RUN={workdir}"
    )


def write_report(result: RunResult, extra: str = "") -> Path:
    """Writes `report.md` in the run folder and returns its path."""
    wd = result.workdir
    s = result.summary
    rows = []
    for split in ("val", "test"):
        for k, v in (s.get(split) or {}).items():
            if not k.endswith("_seeds"):
                rows.append({"split": split, "metric": k, "value": v})
    text = [
        f"# Run `{wd}`\n",
        f"Family `{result.config.model.family}`, dataset `{result.config.dataset.name}`, "
        f"seed {result.config.seed} ({result.config.num_seeds} seed(s)), "
        f"{s['steps']} steps, {_fmt(s.get('steps_per_second') or 0)} steps/s.\n",
        "## Final metrics\n",
        markdown_table(rows),
        "## Reproduce\n",
        f"`{reproduce_command(wd)}` (config in `config.json`).\n",
    ]
    if s.get("report"):
        text += ["## Family results\n", "```\n" + json.dumps(s["report"], indent=2) + "\n```\n"]
    if extra:
        text.append(extra)
    path = wd / "report.md"
    path.write_text("\n".join(text))
    return path
