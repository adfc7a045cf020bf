"""Learning curves of any run, read from its `metrics.jsonl`: a metric against training time.

Every run of the loop logs, at each logged training step, the seconds it has trained
(`train_seconds`, over every session of a resumed run) and the CPU seconds of its process
(`train_cpu_seconds`); validation rows carry only their step. `metric_curve` pairs each row
of a split with the training clock at its step, so curves of runs that shared a core with
other work compare fairly (CPU time), and `learning_curves` draws several runs on one axis.

Example:
    >>> import json, tempfile
    >>> from pathlib import Path
    >>> run = Path(tempfile.mkdtemp())
    >>> rows = [{"step": 10, "split": "train", "train_seconds": 2.0, "train_cpu_seconds": 1.5,
    ...          "loss": 3.0}, {"step": 10, "split": "val", "loss": 3.5}]
    >>> _ = (run / "metrics.jsonl").write_text("\\n".join(json.dumps(r) for r in rows))
    >>> c = metric_curve(run, "loss", split="val")
    >>> c.seconds.tolist(), c.values.tolist(), c.steps.tolist(), c.clock
    ([1.5], [3.5], [10], 'train_cpu_seconds')
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import NamedTuple, cast

import numpy as np

from jaxgen.train.rundir import MetricsLog

CLOCKS = ("train_cpu_seconds", "train_seconds")  # preferred first


class Curve(NamedTuple):
    """A metric's values at logged steps, with the training clock at each of those steps."""

    steps: np.ndarray
    seconds: np.ndarray
    values: np.ndarray
    clock: str  # train_cpu_seconds, or train_seconds for runs logged before CPU time was


def metric_curve(run: str | Path, metric: str, split: str = "train") -> Curve | None:
    """`metric` of the rows of `split` in the run folder `run`, against training time.

    Returns None when the run logged no such metric (or has no metrics file yet). Rows of
    a final evaluation (`final: true`) are left out: they are not points of training.
    """
    path = Path(run) / "metrics.jsonl"
    if not path.is_file():
        return None
    rows = [r for r in MetricsLog(path, writable=False).read() if not r.get("final")]
    train = [r for r in rows if r.get("split") == "train"]
    clock = next((c for c in CLOCKS if train and c in train[0]), None)
    if clock is None:
        return None
    at_step = {r["step"]: r[clock] for r in train if clock in r}
    points = [
        (r["step"], at_step[r["step"]], r[metric])
        for r in rows
        if r.get("split") == split and metric in r and r["step"] in at_step
    ]
    if not points:
        return None
    steps, seconds, values = (np.asarray(v) for v in zip(*sorted(points), strict=True))
    return Curve(steps.astype(int), seconds.astype(float), values.astype(float), clock)


def learning_curves(
    runs: Mapping[str, str | Path],
    metric: str,
    path: Path,
    split: str = "train",
    ylabel: str = "",
    title: str = "",
) -> Path | None:
    """One figure of `metric` against training minutes for each named run folder.

    The x axis is CPU minutes when every drawn run logged CPU time, else wall-clock minutes.
    Returns the figure's path, or None when no run logged the metric.
    """
    from jaxgen import plotting

    curves: Mapping[str, Curve | None] = {
        name: metric_curve(run, metric, split) for name, run in runs.items()
    }
    curves = cast(dict[str, Curve], {name: c for name, c in curves.items() if c is not None})
    if not curves:
        return None
    cpu = all(c.clock == "train_cpu_seconds" for c in curves.values())
    return plotting.curves(
        {name: (c.seconds / 60, c.values) for name, c in curves.items()},
        path,
        xlabel="training CPU minutes" if cpu else "training minutes (wall clock)",
        ylabel=ylabel or f"{metric} ({split})",
        title=title,
    )


def first_step_at_most(
    run: str | Path, metric: str, bound: float, split: str = "val"
) -> list[int | None]:
    """Per seed, the first logged step at which `metric` was <= `bound` (None if never).

    Reads each seed's value from `<metric>_seeds` where a run of several seeds logged it,
    else the metric itself (one seed); final evaluations are not steps of the run.
    """
    rows = [
        r
        for r in MetricsLog(Path(run) / "metrics.jsonl").read()
        if r.get("split") == split and not r.get("final") and metric in r
    ]
    out: list[int | None] = []
    for r in sorted(rows, key=lambda r: r["step"]):
        values = r.get(f"{metric}_seeds", [r[metric]])
        out += [None] * (len(values) - len(out))
        for i, v in enumerate(values):
            if out[i] is None and v <= bound:
                out[i] = int(r["step"])
    return out


__all__ = ["CLOCKS", "Curve", "first_step_at_most", "learning_curves", "metric_curve"]
