"""Copy memory: remember k symbols over a lag, against the memoryless baseline.

Input: 10 symbols from 8, `lag - 1` blanks, a delimiter, 10 blanks; the target repeats the
symbols in the last 10 steps. A model that remembers nothing predicts blanks and then guesses
uniformly: 10 log 8 / (lag + 20) nats per step (Arjovsky et al. 2016). The table gives each
cell's test cross-entropy over that baseline (below 1 = it remembers) and its per-symbol
recall accuracy (chance 1/8).

Run:
  python -m jaxgen.main --config experiments/rnn_copy.py --workdir runs/rnn_copy
  (make rnn-copy)
"""

from __future__ import annotations

import dataclasses

from jaxgen import data as data_lib
from jaxgen.config import ConfigDict
from jaxgen.families import rnn as rnn_family
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.rundir import experiment_dir, write_json


def get_config(arg: str | None = None) -> ConfigDict:
    c = ConfigDict()
    c.cells = ("rnn", "lstm", "peephole", "coupled", "gru")
    c.base = rnn_family.config("copy", hidden_size=64)
    c.base.dataset.seq_len = 30
    # 5,000 steps of 64: at 1,000 steps no cell had recalled a whole sequence.
    c.base.dataset.num_points = 64_000
    c.base.train.batch_size = 64
    c.base.train.num_epochs = 5
    c.base.train.steps_per_scan = 0
    c.base.optimizer.lr = 3e-3
    if arg == "tiny":
        c.cells = ("rnn", "lstm")
        c.base.dataset.seq_len = 5
        c.base.dataset.num_points = 512
        c.base.train.num_epochs = 1
    c.base.train.progress = arg != "tiny"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment_dir(workdir, config)
    # No validation split: synthetic data, and each evaluation is one more compile.
    splits = dataclasses.replace(data_lib.load(config.base.dataset), val=None)
    baseline = splits.info["baseline_nats"]
    rows = []
    for cell in config.cells:
        cfg = rnn_family.variant(config.base, **{"model.cell": cell})
        result = train(cfg, workdir / cell, splits=splits)
        test = result.summary["test"]
        rows.append(
            {
                "cell": cell,
                "lag": int(config.base.dataset.seq_len),
                "test_nats_per_step": test["loss"],
                "baseline_nats_per_step": baseline,
                "loss_over_baseline": test["loss"] / baseline,
                "recall_accuracy": test["recall_accuracy"],
                "all_10_recalled": test["all_recalled"],
                "steps": result.summary["steps"],
            }
        )
        print(markdown_table(rows[-1:]), flush=True)
    summary = {
        "rows": rows,
        "baseline_nats": baseline,
        "results": [
            result_row(
                f"Copy memory, lag {config.base.dataset.seq_len}",
                "loss / memoryless baseline: " + " / ".join(r["cell"] for r in rows),
                " / ".join(f"{r['loss_over_baseline']:.3f}" for r in rows),
                "make rnn-copy",
            )
        ],
    }
    write_json(workdir / "summary.json", summary)
    table = markdown_table(rows)
    (workdir / "results.md").write_text(table)
    (workdir / "report.md").write_text(
        "\n".join(
            [
                "# Copy memory against the memoryless baseline\n",
                f"Baseline: {baseline:.4g} nats per step; recall chance 1/8.\n",
                table,
                "Reproduce: `python -m jaxgen.main --config experiments/rnn_copy.py "
                f"--workdir {workdir}`\n",
            ]
        )
    )
    print(table)
    return summary
