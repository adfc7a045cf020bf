"""Many-to-many and one-to-many: a character LSTM on the Python standard library's sources.

Trains on the stdlib's top-level `*.py` files (whole files held out for validation and test;
the file lists and a SHA-256 of the corpus go to `corpus.json`), reports bits per character
on the held-out files, read as a stream with the state carried along, against gzip, bz2 and
lzma on the same held-out text, and generates text at temperatures 0.5 and 1.0 from a key.

Run:
  python -m jaxgen.main --config experiments/rnn_char_lm.py --workdir runs/char_lm
  python -m jaxgen.main --config experiments/rnn_char_lm.py:quick --workdir runs/char_lm_quick
  (make char-lm; `:quick` trains briefly and prints a generated sample, about a minute)
"""

from __future__ import annotations

from pathlib import Path

from jaxgen.config import ConfigDict
from jaxgen.families import rnn as rnn_family
from jaxgen.report import markdown_table, write_report
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.rundir import write_json


def get_config(arg: str | None = None) -> ConfigDict:
    c = rnn_family.config("lm", cell="lstm", hidden_size=256)
    c.dataset.seq_len = 100
    c.train.batch_size = 64
    c.train.num_epochs = 8  # 4,912 steps, ~18 min under load: 2.06 bits/char (2 epochs: 2.67)
    c.train.steps_per_scan = 0  # a whole epoch per compiled chunk
    c.optimizer.lr = 2e-3
    c.optimizer.schedule = "cosine"
    c.model.sample_length = 600
    c.model.prime = "def "
    if arg == "quick":  # make demo: a short run, then a sample
        c.dataset.num_train = 64 * 500
        c.train.num_epochs = 1
        c.model.hidden_size = 128
        c.model.eval_chars = 20_000
        c.model.sample_length = 300
    elif arg == "tiny":
        c.dataset.max_chars = 5000
        c.dataset.seq_len = 20
        c.model.hidden_size = 16
        c.train.batch_size = 16
        c.train.num_epochs = 1
        c.model.sample_length = 20
    elif arg is not None:
        raise ValueError(f"unknown arg {arg!r} (quick, tiny)")
    c.train.progress = arg != "tiny"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    result = train(config, Path(workdir))
    rep = result.summary["report"]
    rows = [
        {
            "model": f"{config.model.cell} {config.model.hidden_size}",
            "bpc": rep["heldout_bpc_stateful"],
        }
    ] + [{"model": k, "bpc": rep[f"{k}_bpc"]} for k in ("gzip", "bz2", "lzma")]
    table = markdown_table(rows)
    extra = "\n".join(
        [
            "## Held-out bits per character\n",
            f"{rep['heldout_chars']} held-out characters (whole files never trained on); corpus "
            f"sha256 {rep['corpus_sha256']}, file lists in corpus.json.\n",
            table,
            "## Samples\n",
            *[f"temperature {t}:\n\n```\n{s}\n```\n" for t, s in rep["samples"].items()],
        ]
    )
    write_report(result, extra)
    (Path(workdir) / "results.md").write_text(table)
    summary = dict(result.summary)
    summary["results"] = [
        result_row(
            "Character LM, Python stdlib sources (held-out files)",
            "bits per character: " + " / ".join(r["model"] for r in rows),
            " / ".join(f"{r['bpc']:.3f}" for r in rows),
            "make char-lm",
        )
    ]
    write_json(Path(workdir) / "summary.json", summary)
    print(table)
    print(f"--- sample, temperature 0.5 ---\n{rep['samples']['0.5']}\n---")
    return summary
