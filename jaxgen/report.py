"""Reports for run folders: Markdown, self-contained HTML, learning curves, TensorBoard.

Every run folder gets `report.md` and `report.html`. The HTML embeds its figures as data URIs,
so it reads offline and survives being mailed around; it links only to other reports.
"""

from __future__ import annotations

import base64
import html
import json
import re
import time
from pathlib import Path
from typing import Any

CSS = """
body{font-family:system-ui,sans-serif;max-width:1000px;margin:2em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px}
th{background:#f3f3f3}code,pre{background:#f6f6f6;padding:2px 4px}pre{padding:8px;overflow:auto}
img{max-width:100%}td img{max-width:320px}h1{font-size:1.6em}details{margin:1em 0}
"""


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    # A bare "|" inside a cell (e.g. "|err|") would split it into two columns.
    return re.sub(r"(?<!\\)\|", r"\\|", str(v))


def markdown_table(rows: list[dict[str, Any]], columns: list[str] | None = None) -> str:
    if not rows:
        return ""
    columns = columns or list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_fmt(r.get(c, "")) for c in columns) + " |" for r in rows]
    return "\n".join(lines) + "\n"


def reproduce_command(workdir: Path) -> str:
    return f"make reproduce RUN={workdir}"


# -- TensorBoard ------------------------------------------------------------------------------
class TensorBoardLog:
    """Scalar metrics as TensorBoard event files (the `tensorboard` package, no TensorFlow)."""

    def __init__(self, logdir: Path):
        from tensorboard.summary.writer.event_file_writer import EventFileWriter

        self._writer = EventFileWriter(str(logdir))

    def write(self, row: dict[str, Any]) -> None:
        from tensorboard.compat.proto import event_pb2, summary_pb2

        split, step = row.get("split", "train"), int(row.get("step", 0))
        values = [
            summary_pb2.Summary.Value(tag=f"{split}/{k}", simple_value=float(v))
            for k, v in row.items()
            if k not in ("step", "epoch", "split", "final")
            and isinstance(v, int | float)
            and not isinstance(v, bool)
        ]
        if values:
            self._writer.add_event(
                event_pb2.Event(
                    wall_time=time.time(), step=step, summary=summary_pb2.Summary(value=values)
                )
            )
            self._writer.flush()

    def close(self) -> None:
        self._writer.close()


# -- Markdown ---------------------------------------------------------------------------------
def _metrics(workdir: Path) -> list[dict[str, Any]]:
    path = workdir / "metrics.jsonl"
    rows = []
    if path.exists():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except ValueError:
                continue
    return rows


def learning_curves(workdir: Path) -> Path | None:
    """`figures/learning_curves.png`: the loss (and other metrics) of each split against step."""
    from jaxgen import plotting

    rows = [r for r in _metrics(workdir) if not r.get("final")]
    if not rows:
        return None
    series = {}
    for split in ("train", "val"):
        rs = [r for r in rows if r.get("split") == split and "loss" in r]
        if rs:
            series[f"{split} loss"] = ([r["step"] for r in rs], [r["loss"] for r in rs])
    if not series:
        return None
    logy = all(min(y) > 0 for _, y in series.values())
    return plotting.curves(
        series,
        workdir / "figures" / "learning_curves.png",
        xlabel="step",
        ylabel="loss",
        logy=logy,
        title="learning curves",
    )


def write_report(result: Any, extra: str = "") -> Path:
    """Writes `report.md` and `report.html` for a finished `train` result; returns the HTML."""
    wd, s, cfg = result.workdir, result.summary, result.config
    rows = []
    for split in ("val", "test"):
        for k, v in (s.get(split) or {}).items():
            if not k.endswith("_seeds"):
                rows.append({"split": split, "metric": k, "value": v})
    curves = learning_curves(wd)
    text = [
        f"# Run `{wd.name}`\n",
        f"Family `{cfg.model.family}`, dataset `{cfg.dataset.name}`, seed {cfg.seed}"
        f" ({cfg.num_seeds} seed(s), vmapped), {s['steps']} steps,"
        f" {_fmt(s.get('steps_per_second') or 0)} steps/s.\n",
        "## Final metrics\n",
        markdown_table(rows),
    ]
    if curves is not None:
        text.append("![learning curves](figures/learning_curves.png)\n")
    family_results = {
        k: v for k, v in (s.get("report") or {}).items() if isinstance(v, int | float | str | bool)
    }
    if family_results:
        text += [
            "## Family results\n",
            markdown_table([{"quantity": k, "value": v} for k, v in family_results.items()]),
        ]
    figures = (
        sorted(p.name for p in (wd / "figures").glob("*.png") if p.name != "learning_curves.png")
        if (wd / "figures").exists()
        else []
    )
    text += [f"![{name}](figures/{name})\n" for name in figures]
    if extra:
        text.append(extra)
    text += ["## Reproduce\n", f"`{reproduce_command(wd)}` (the config is in `config.json`).\n"]
    (wd / "report.md").write_text("\n".join(text))
    return write_html(wd)


# -- HTML -------------------------------------------------------------------------------------
def _embed_images(body: str, workdir: Path) -> str:
    def repl(m: re.Match) -> str:
        src = m.group(2)
        path = workdir / src
        if src.startswith(("data:", "http")) or not path.is_file():
            return m.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'{m.group(1)}"data:image/png;base64,{data}"'

    return re.sub(r'(<img[^>]*\bsrc=)"([^"]+)"', repl, body)


def markdown_to_html(text: str) -> str:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": False}).enable("table").render(text)


def write_html(workdir: Path, title: str | None = None) -> Path:
    """Renders `report.md` of a run folder to a self-contained `report.html`.

    Adds the config, the environment and links to the reports of sub-runs in subfolders.
    """
    workdir = Path(workdir)
    md = (workdir / "report.md").read_text() if (workdir / "report.md").exists() else ""
    if not md:
        md = f"# {workdir.name}\n"
    has_curves = (workdir / "figures" / "learning_curves.png").exists()
    if not has_curves and "learning_curves" not in md and learning_curves(workdir) is not None:
        md += "\n![learning curves](figures/learning_curves.png)\n"
    subruns = sorted(p.parent for p in workdir.glob("*/report.html"))
    if subruns:
        md += (
            "\n## Runs\n\n"
            + "\n".join(f"- [{p.name}]({p.name}/report.html)" for p in subruns)
            + "\n"
        )
    body = _embed_images(markdown_to_html(md), workdir)
    for name in ("config.json", "env.json"):
        if (workdir / name).exists():
            body += (
                f"<details><summary>{name}</summary><pre>"
                f"{html.escape((workdir / name).read_text())}</pre></details>\n"
            )
    page = (
        f"<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title or workdir.name)}</title><style>{CSS}</style></head>"
        f"<body>\n{body}</body></html>\n"
    )
    out = workdir / "report.html"
    out.write_text(page)
    return out


def local_links(page: str) -> list[str]:
    """Relative href/src targets in an HTML page (for checking that they all exist)."""
    targets = re.findall(r'(?:href|src)="([^"]+)"', page)
    return [t for t in targets if not t.startswith(("data:", "http:", "https:", "#", "mailto:"))]
