"""`make results`: the README's results tables, collected from finished full runs.

An experiment's `run()` puts rows in its `summary.json` under "results", each
`{"experiment", "metric", "published", "ours", "command"}` ("published" may be "" where
there is no published anchor). This module reads `runs/*/summary.json` (the Make targets'
folders; the demo's quick runs under `runs/demo/` are not results) and rewrites the block
between the README's `<!-- results:begin -->` and `<!-- results:end -->` markers; the table
of the last complete `make bench` (`benchmarks/RESULTS.md`) goes between the
`<!-- bench:begin -->` and `<!-- bench:end -->` markers.

Run: python -m jaxgen.results [--runs runs] [--readme README.md]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from jaxgen.report import markdown_table

BEGIN, END = "<!-- results:begin -->", "<!-- results:end -->"
BENCH_BEGIN, BENCH_END = "<!-- bench:begin -->", "<!-- bench:end -->"
COLUMNS = ["experiment", "metric", "published", "ours", "command"]


def row(experiment: str, metric: str, ours: str, command: str, published: str = "") -> dict:
    """One row of the README's results table, as an experiment's summary carries it."""
    return {
        "experiment": experiment,
        "metric": metric,
        "published": published,
        "ours": ours,
        "command": command,
    }


def collect(runs: Path) -> list[dict]:
    rows = []
    for summary in sorted(runs.glob("*/summary.json")):
        if summary.parent.name == "demo":
            continue
        try:
            data = json.loads(summary.read_text())
        except ValueError:
            continue
        for row in data.get("results", []) if isinstance(data, dict) else []:
            rows.append({c: row.get(c, "") for c in COLUMNS})
    return rows


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
    rows = collect(args.runs)
    changed = update_readme(args.readme, rows, args.bench)
    print(render(rows))
    print(f"{args.readme}: {'updated' if changed else 'unchanged'} ({len(rows)} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
