"""What every experiment module repeats, written once: its folder, its rows, its report.

An experiment's `run(config, workdir)` trains its sub-runs with `jaxgen.train.train` and
evaluates them with `jaxgen.evaluation`; this module owns the rest: the run folder with the
experiment's config and environment (`start`), a row per variant printed as it is measured
(`each`), and the ending every experiment shares (`finish`): `summary.json` with the rows and
the README's results rows, `results.md`, `report.md` with the table, the figures and the
reproduce line, and the table printed.

An experiment that varies keys of one run config needs no code at all: its config names
the runs (`base`, `sweep`, `grid`), the table's columns (paths into each run's
summary) and the README rows, and its module says `run = experiment.sweep` (see `sweep`).

Example:
    >>> from jaxgen import experiment
    >>> from jaxgen.config import ConfigDict
    >>> import tempfile
    >>> wd = experiment.start(tempfile.mkdtemp(), ConfigDict({"sizes": (1, 2)}))
    >>> rows = experiment.each((1, 2), lambda n: {"n": n, "square": n * n}, echo=False)
    >>> s = experiment.finish(wd, "Squares", rows, echo=False)
    >>> s["rows"][1]["square"], (wd / "report.md").is_file()
    (4, True)
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any

from jaxgen.errors import ConfigError
from jaxgen.report import markdown_table, reproduce_command
from jaxgen.train.rundir import experiment_dir, read_json_object, write_json


def start(workdir: str | Path, config: Any) -> Path:
    """The experiment's folder, created, with its `config.json` and this session's `env.json`."""
    return experiment_dir(workdir, config)


def train_or_reuse(cfg: Any, sub: Path, splits: Any) -> dict:
    """The summary of `sub`'s finished run of exactly `cfg`, else of training it now.

    Why: an experiment's sub-runs can be trained by another target sharing the folder or by
    a parallel process (`--config.<list>=(one,)`); a finished one is read, not reopened.
    """

    from jaxgen.config import to_json
    from jaxgen.train import train

    done, stored = sub / "summary.json", sub / "config.json"
    if done.is_file() and stored.is_file() and stored.read_text().strip() == to_json(cfg):
        summary = read_json_object(done)
        if summary is not None:
            return summary
        # A damaged summary: the run (its checkpoints) is restored and finished again.
    return train(cfg, sub, splits=splits).summary


def each(items: Iterable[Any], measure: Callable[[Any], dict], echo: bool = True) -> list[dict]:
    """`[measure(item) for item in items]`, each row printed as soon as it is measured.

    Why print as we go: an experiment's variants train one after another for minutes to
    hours, and its first rows are worth reading before the last one finishes.
    """
    rows = []
    for item in items:
        rows.append(measure(item))
        if echo:
            print(markdown_table(rows[-1:]), flush=True)
    return rows


def finish(
    workdir: Path,
    title: str,
    rows: list[dict],
    results: Sequence[dict] = (),
    *,
    intro: Sequence[str] = (),
    notes: Sequence[str] = (),
    figures: Sequence[str] = (),
    extra: dict[str, Any] | None = None,
    columns: list[str] | None = None,
    echo: bool = True,
) -> dict[str, Any]:
    """Writes the summary, the table and the report; returns the summary.

    Args:
      workdir: the experiment's folder (from `start`).
      title: the report's heading.
      rows: the experiment's table, one dict per variant.
      results: the README's rows (`jaxgen.results.row`), collected by `make results`.
      intro: paragraphs before the table (what is measured, against what).
      notes: paragraphs after the table (what it shows).
      figures: paths relative to `workdir`, shown after the table.
      extra: more entries for `summary.json` (whatever a test or a later step reads).
      columns: the table's columns (default: every key of the rows).
      echo: print the table.
    """
    summary = {"rows": rows, **(extra or {}), "results": list(results)}
    write_json(workdir / "summary.json", summary)
    table = markdown_table(rows, columns)
    (workdir / "results.md").write_text(table)
    body = [f"# {title}\n", *(f"{p}\n" for p in intro), table, *(f"{p}\n" for p in notes)]
    body += [f"![{Path(f).stem}]({f})\n" for f in figures]
    body.append(f"Reproduce: `{reproduce_command(workdir)}`\n")
    (workdir / "report.md").write_text("\n".join(body))
    if echo:
        print(table)
    return summary


def _at(summary: dict, path: str) -> Any:
    """`summary["test"]["accuracy"]` for the path "test.accuracy"."""
    node: Any = summary
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            raise ConfigError(f"columns: the run's summary has no {path!r} (missing {part!r})")
        node = node[part]
    return node


def _column(summary: dict, info: dict, spec: str) -> Any:
    """A column's value: a summary path, `info.<key>` from the data, or `a / b` of two such."""
    if " / " in spec:
        num, den = spec.split(" / ")
        return _column(summary, info, num) / _column(summary, info, den)
    return _at({"info": info, **summary}, spec)


def sweep(config: Any, workdir: str | Path) -> dict[str, Any]:
    """Trains `config.base` once per point of a grid of its keys; one row each.

    The config, all data (big_vision style):
      - `title`; `base`: a run config; `sweep`: ordered `(label, dotted key)` pairs;
        `grid`: label -> the values that key takes. The grid is their product, the first
        pair outermost.
      - `columns`: table column -> a dotted path into each run's `summary.json`, `info.<key>`
        for the dataset's info, or `"<path> / <path>"` for a ratio.
      - `results`: README rows by name, each with `experiment`, `metric`, `column` (whose
        values, joined by " / " over the innermost label, are the row's numbers), `digits`,
        `command` and `published`; with `per` (a label), one row per value of it, and
        `experiment` formatted with it (`"Copy memory, lag {lag}"`).
      - `intro` (optional): paragraphs before the report's table.
    Data is loaded once per distinct dataset config. Sub-runs are named by their point
    (`workdir/lag30/lstm`, or `workdir/lstm` for one label), so a stopped sweep resumes.

    Example (a module): `get_config` returning such a config, and `run = experiment.sweep`.
    """
    import itertools
    import json

    from jaxgen import data as data_lib
    from jaxgen.config import variant
    from jaxgen.results import row as result_row

    workdir = start(workdir, config)
    labels = [label for label, _ in config.sweep]
    keys = dict(config.sweep)
    if set(labels) != set(config.grid):
        raise ConfigError(f"grid: give the values of exactly {labels}")
    data: dict[str, Any] = {}

    def measure(point: tuple) -> dict:
        named = dict(zip(labels, point, strict=True))
        cfg = variant(config.base, **{keys[label]: v for label, v in named.items()})
        data_key = json.dumps(cfg.dataset.to_dict(), sort_keys=True)
        if data_key not in data:
            data[data_key] = data_lib.load(cfg.dataset)
        splits = data[data_key]
        sub = Path(workdir, *(f"{label}{named[label]}" for label in labels[:-1]), str(point[-1]))
        s = train_or_reuse(cfg, sub, splits)
        cols = {col: _column(s, splits.info, spec) for col, spec in config.columns.items()}
        return {**named, **cols}

    rows = each(itertools.product(*(config.grid[label] for label in labels)), measure)
    inner = labels[-1]
    results = []
    for r in config.results.values():
        per = r.get("per")
        groups = list(dict.fromkeys(row[per] for row in rows)) if per else [None]
        for g in groups:
            group = [row for row in rows if per is None or row[per] == g]
            results.append(
                result_row(
                    r.experiment.format(**({per: g} if per else {})),
                    f"{r.metric}: " + " / ".join(str(row[inner]) for row in group),
                    " / ".join(f"{row[r.column]:.{r.digits}f}" for row in group),
                    r.command,
                    published=r.published,
                )
            )
    return finish(workdir, config.title, rows, results, intro=config.get("intro", ()))


__all__ = ["each", "finish", "start", "sweep", "train_or_reuse"]
