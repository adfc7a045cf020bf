"""Encoder-decoder many-to-many: LSTM encoder and decoder on digit strings.

`add` maps 'a+b' (numbers up to `max_digits` digits) to the digits of a + b; `reverse` maps a
digit string to its reverse. Exact match: every output token up to EOS right, greedy decoding.

Run:
  python -m jaxgen.main --config experiments/rnn_seq2seq.py --workdir runs/seq2seq
  python -m jaxgen.main --config experiments/rnn_seq2seq.py:reverse --workdir runs/seq2seq_rev
  (make seq2seq)
"""

from __future__ import annotations

import json
from pathlib import Path

from jaxgen.config import ConfigDict
from jaxgen.families import seq2seq
from jaxgen.report import markdown_table, write_report
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    c = seq2seq.config("reverse" if arg == "reverse" else "add", hidden_size=128)
    c.dataset.max_digits = 3 if arg != "reverse" else 6
    c.dataset.num_points = 50_000
    c.train.batch_size = 128
    c.train.num_epochs = 10
    c.optimizer.lr = 3e-3
    c.optimizer.schedule = "cosine"
    if arg == "tiny":
        c.dataset.num_points = 1024
        c.model.hidden_size = 16
        c.train.num_epochs = 1
    c.train.progress = arg != "tiny"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    result = train(config, Path(workdir))
    test = result.summary["test"]
    rows = [
        {
            "task": config.dataset.task,
            "max_digits": config.dataset.max_digits,
            "exact_match": test["exact_match"],
            "token_accuracy_forced": test["token_accuracy_forced"],
            "steps": result.summary["steps"],
        }
    ]
    table = markdown_table(rows)
    examples = markdown_table(result.summary["report"]["examples"])
    write_report(result, "## Exact match\n\n" + table + "\n## Test examples\n\n" + examples)
    (Path(workdir) / "results.md").write_text(table)
    print(table)
    print(examples)
    print(json.dumps(rows[0]))
    return result.summary
