"""The long-term dependency problem, measured on the adding problem (H&S 1997, Experiment 4).

Each cell (rnn, lstm, peephole, coupled, gru) is trained on sequences of minimal length T
(lengths in [T, T + T/10]); a test sequence is solved when |prediction - target| < 0.04, and
the table gives the number of wrong sequences out of 2,560, as in the paper. With several T
(`:sweep`) the figure shows the fraction solved against the time lag.

Run:
  python -m jaxgen.main --config experiments/rnn_adding.py --workdir runs/rnn_adding
  python -m jaxgen.main --config experiments/rnn_adding.py:sweep --workdir runs/rnn_adding
  python -m jaxgen.main --config experiments/rnn_adding.py:quick --workdir runs/rnn_adding_quick
  (make rnn-adding, make rnn-lag-sweep; `:quick` is LSTM against RNN in about a minute)
A sub-run folder with a summary.json is reused, not retrained: lags can run in parallel
processes into one workdir (`--config.lags="(100,)"`) and a last call draws the figure.
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np

from jaxgen import data as data_lib
from jaxgen import plotting
from jaxgen.config import ConfigDict, to_json
from jaxgen.families import rnn as rnn_family
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.rundir import experiment_dir, write_json


def get_config(arg: str | None = None) -> ConfigDict:
    c = ConfigDict()
    c.cells = ("rnn", "lstm", "peephole", "coupled", "gru")
    c.lags = (100,)
    c.base = rnn_family.config("adding", hidden_size=64)
    # 5,000 steps of 64. At T = 100 every cell, the LSTM included, was still at chance
    # after 10,000 steps (2,158 of 2,560 wrong), so the sweep shows where each cell fails.
    c.base.dataset.num_points = 64_000
    c.base.train.batch_size = 64
    c.base.train.num_epochs = 5
    c.base.train.steps_per_scan = 0  # one compiled chunk per epoch: compiles are costly here
    c.base.optimizer.lr = 3e-3
    if arg == "sweep":  # Same runs as the default at T = 100: make both share a folder.
        c.lags = (10, 25, 50, 100)
    elif arg == "quick":  # make demo: LSTM against the vanilla RNN, about a minute
        c.cells = ("rnn", "lstm")
        c.lags = (30,)
        c.base.dataset.num_points = 8_000
        c.base.train.num_epochs = 4
    elif arg == "tiny":
        c.cells = ("rnn", "lstm")
        c.lags = (6,)
        c.base.dataset.num_points = 512
        c.base.train.num_epochs = 1
    elif arg is not None:
        raise ValueError(f"unknown arg {arg!r} (sweep, quick, tiny)")
    c.base.train.progress = arg not in ("tiny",)
    return c


def _finished_with(sub: Path, cfg: ConfigDict) -> bool:
    """Whether `sub` holds a finished run of exactly `cfg` (otherwise `train` decides)."""
    done, stored = sub / "summary.json", sub / "config.json"
    return done.is_file() and stored.is_file() and stored.read_text().strip() == to_json(cfg)


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment_dir(workdir, config)
    rows = []
    for lag in config.lags:
        base = rnn_family.variant(config.base, **{"dataset.seq_len": int(lag)})
        # No validation split: synthetic data, and each evaluation is one more compile.
        splits = dataclasses.replace(data_lib.load(base.dataset), val=None)
        for cell in config.cells:
            cfg = rnn_family.variant(base, **{"model.cell": cell})
            t0 = time.time()
            sub = workdir / f"{cell}_T{lag}"
            if _finished_with(sub, cfg):  # e.g. by the other target, or a parallel process
                summary = json.loads((sub / "summary.json").read_text())
            else:
                summary = train(cfg, sub, splits=splits).summary
            test, n = summary["test"], len(splits.test["x"])
            wrong = round(test["wrong"] * n)
            rows.append(
                {
                    "cell": cell,
                    "T": int(lag),
                    "wrong": wrong,
                    "of": n,
                    "solved_fraction": 1.0 - wrong / n,
                    "mean_abs_error": test["abs_error"],
                    "steps": summary["steps"],
                    "seconds": time.time() - t0,
                }
            )
            print(markdown_table(rows[-1:]), flush=True)
    figs = workdir / "figures"
    if len(config.lags) > 1:
        series = {
            cell: (
                np.array([r["T"] for r in rows if r["cell"] == cell]),
                np.array([r["solved_fraction"] for r in rows if r["cell"] == cell]),
            )
            for cell in config.cells
        }
        plotting.curves(
            series,
            figs / "success_vs_lag.png",
            xlabel="time lag T (minimal sequence length)",
            ylabel="test sequences solved (|err| < 0.04)",
            title="Adding problem: success against the time lag",
        )
    summary = {"rows": rows}
    summary["results"] = [
        result_row(
            f"Adding problem, T={lag} (H&S 1997 Exp. 4)",
            "wrong of 2,560 (|err| >= 0.04): " + " / ".join(r["cell"] for r in at),
            " / ".join(str(r["wrong"]) for r in at) + f" ({at[0]['steps']} steps)",
            "make rnn-lag-sweep" if len(config.lags) > 1 else "make rnn-adding",
        )
        for lag in config.lags
        if lag >= 50 and (at := [r for r in rows if r["T"] == lag])
    ]
    write_json(workdir / "summary.json", summary)
    table = markdown_table(rows)
    (workdir / "results.md").write_text(table)
    text = [
        "# The adding problem (Hochreiter & Schmidhuber 1997, Experiment 4)\n",
        "Wrong = test sequences with |prediction - target| >= 0.04, out of 2,560.\n",
        table,
    ]
    if len(config.lags) > 1:
        text.append("![success vs lag](figures/success_vs_lag.png)\n")
    text.append(
        f"Reproduce: `python -m jaxgen.main --config experiments/rnn_adding.py[:arg] "
        f"--workdir {workdir}`\n"
    )
    (workdir / "report.md").write_text("\n".join(text))
    print(table)
    return summary
