"""`make results`: the README's results tables, collected from finished full runs.

An experiment's `run()` puts rows in its `summary.json` under "results", each
`{"experiment", "metric", "published", "ours", "command"}` ("published" may be "" where
there is no published anchor); the "measured with" column (jax and Python versions, and
the cores and XLA flags where a run was pinned or flagged) is filled from the run's
`env.json`. This module reads `runs/*/summary.json` (the Make targets' folders; the demo's
quick runs under `runs/demo/` are not results) and rewrites the block between the README's
`<!-- results:begin -->` and `<!-- results:end -->` markers. A command with a finished run
under `runs/` replaces all of that command's rows; the rows of commands with no run there
(measured earlier, perhaps on another checkout) are kept as they are, so a fresh clone that
reruns one experiment does not erase the others. The table of the last complete `make bench`
(`benchmarks/RESULTS.md`) goes between the `<!-- bench:begin -->` and `<!-- bench:end -->`
markers.

Run: python -m jaxgen.results [--runs runs] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

from jaxgen.report import markdown_table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
BENCH_BEGIN, BENCH_END = "<!-- bench:begin -->", "<!-- bench:end -->"
COLUMNS = ["experiment", "metric", "published", "ours", "command", "measured with"]


def row(
    experiment: str,
    metric: str,
    ours: str,
    command: str,
    published: str = "",
    measured_with: str = "",
) -> dict:
    """One row of the README's results table, as an experiment's summary carries it."""
    return {
        "experiment": experiment,
        "metric": metric,
        "published": published,
        "ours": ours,
        "command": command,
        "measured with": measured_with,
    }


def measured_with(run: Path) -> str:
    """ "jax X, Python Y" from the run folder's env.json (or its first sub-run's), else "".

    A run pinned to fewer cores than the machine has, or run with `XLA_FLAGS`, says so too
    ("jax X, Python Y; 1 of 2 cores, --xla_cpu_multi_thread_eigen=false"): float rounding
    follows the threads, and a result near a threshold can move with it.
    """
    for env in [run / "env.json", *sorted(run.glob("*/env.json"))]:
        try:
            e = json.loads(env.read_text())
            out = f"jax {e['packages']['jax']}, Python {e['python']}"
        except (OSError, ValueError, KeyError, TypeError):
            continue
        how = []
        cores, total = e.get("cpu_affinity"), e.get("cpu_count")
        if isinstance(cores, list) and isinstance(total, int) and 0 < len(cores) < total:
            how.append(f"{len(cores)} of {total} cores")
        if e.get("xla_flags"):
            how.append(str(e["xla_flags"]))
        return out + ("; " + ", ".join(how) if how else "")
    return ""


def collect(runs: Path) -> list[dict]:
    rows = []
    for summary in sorted(runs.glob("*/summary.json")):
        if summary.parent.name == "demo":
            continue
        try:
            data = json.loads(summary.read_text())
        except ValueError:
            continue
        measured = measured_with(summary.parent)
        for r in data.get("results", []) if isinstance(data, dict) else []:
            rows.append({c: r.get(c, "") for c in COLUMNS} | {"measured with": measured})
    return rows


def parse_block(text: str) -> list[dict]:
    """The rows of the README's current results table (empty if it has none)."""
    if BEGIN not in text or END not in text:
        return []
    block = text.split(BEGIN, 1)[1].split(END, 1)[0]
    rows = []
    ncols = 5  # tables written before the "measured with" column have five
    for line in block.splitlines():
        raw = re.split(r"(?<!\\)\|", line.strip()[1:-1]) if line.startswith("|") else []
        cells = [c.strip().replace("\\|", "|") for c in raw]
        if cells[:2] == COLUMNS[:2]:
            ncols = len(cells)
            continue
        if len(cells) < ncols or not cells[0].strip("-"):
            continue
        tail = len(COLUMNS) - 2 if ncols == len(COLUMNS) else 3
        # Older tables left "|" inside the metric unescaped: the other columns are certain.
        metric = "|".join(raw[1:-tail]).strip().replace("\\|", "|")
        values = [cells[0], metric, *cells[-tail:]]
        rows.append(dict(zip(COLUMNS, values + [""] * (len(COLUMNS) - len(values)), strict=True)))
    return rows


def merge(old: list[dict], new: list[dict]) -> list[dict]:
    """`new`'s rows replace every old row of the same command; sorted by command."""
    fresh = {r["command"] for r in new}
    kept = [r for r in old if r["command"] not in fresh]
    return sorted(kept + new, key=lambda r: r["command"])


def render(rows: list[dict]) -> str:
    if not rows:
        return "No full run has finished yet: run the Make targets below, then `make results`.\n"
    return markdown_table(rows, COLUMNS)


def _replace_block(text: str, begin: str, end: str, body: str) -> str:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{begin}\n{body}{end}{tail}"


def bench_table(bench: Path) -> str | None:
    """The table of the last complete `make bench` (its RESULTS.md, title dropped), if any."""
    if not bench.is_file():
        return None
    lines = bench.read_text().splitlines()
    start = next((i for i, line in enumerate(lines) if line.startswith("Command:")), 0)
    return "\n".join(lines[start:]).strip() + "\n"


def update_readme(readme: Path, rows: list[dict], bench: Path | None = None) -> bool:
    """Replaces the results block (and the bench block, given a bench table); returns whether
    the README changed."""
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        raise SystemExit(f"jaxgen: error: {readme} has no {BEGIN} ... {END} block")
    new = _replace_block(text, BEGIN, END, render(rows))
    table = bench_table(bench) if bench is not None else None
    if table is not None and BENCH_BEGIN in new and BENCH_END in new:
        new = _replace_block(new, BENCH_BEGIN, BENCH_END, table)
    readme.write_text(new)
    return new != text


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs", type=Path)
    parser.add_argument("--readme", default="README.md", type=Path)
    parser.add_argument("--bench", default="benchmarks/RESULTS.md", type=Path)
    args = parser.parse_args(argv)
    if not args.readme.is_file():
        raise SystemExit(f"jaxgen: error: no README at {args.readme}")
    rows = merge(parse_block(args.readme.read_text()), collect(args.runs))
    changed = update_readme(args.readme, rows, args.bench)
    print(render(rows))
    print(f"{args.readme}: {'updated' if changed else 'unchanged'} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
