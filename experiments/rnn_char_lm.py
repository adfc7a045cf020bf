"""Many-to-many and one-to-many: a character LSTM on the Python standard library's sources.

Trains on the stdlib's top-level `*.py` files (whole files held out for validation and test;
the file lists and a SHA-256 of the corpus go to `corpus.json`), reports bits per character
on the held-out test files, read as a stream with the state carried along, against gzip, bz2
and lzma on the same text, cold and primed with the training text (the fair baseline: the
model has read the training text too), and generates text at temperatures 0.5 and 1.0.

What the default run does (and why):
- Truncated BPTT that carries the state: the training text is cut into 64 contiguous
  streams, read 100 characters at a time in order, the state passed from batch to batch
  (`dataset.streams`, `train.shuffle=False`). Shuffled 100-character windows from a zero
  state (the earlier setting) never learn to use more than 100 characters of context, and
  reached 2.06 bits/char after 8 epochs.
- Dropout between layers and before the readout (Zaremba et al. 2014): 3.6M training
  characters are few for the model's size; cosine-decayed Adam with gradient clipping.
- Learning curve against training characters and CPU seconds in `figures/`.
A long run checkpoints every `train.checkpoint_every_steps`; running the same command again
continues where it stopped.

Run:
  python -m jaxgen.main --config experiments/rnn_char_lm.py --workdir runs/char_lm
  python -m jaxgen.main --config experiments/rnn_char_lm.py:quick --workdir runs/char_lm_quick
  (make char-lm; `:quick` trains about a minute and prints a generated sample)
"""

from __future__ import annotations

from pathlib import Path

from jaxgen import plotting
from jaxgen.config import ConfigDict
from jaxgen.families import rnn as rnn_family
from jaxgen.report import markdown_table, write_report
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.rundir import MetricsLog, write_json

COMPRESSORS = ("gzip", "bz2", "lzma")


def get_config(arg: str | None = None) -> ConfigDict:
    c = rnn_family.config("lm", cell="lstm", hidden_size=512)
    # One layer of 512 runs 10k characters/s on one core (2 x 256: 11k, 2 x 384: 6k), so
    # an epoch of 3.55M characters takes 6 minutes.
    c.model.num_layers = 1
    c.model.dropout = 0.2
    c.dataset.seq_len = 100  # the truncation length of BPTT
    c.dataset.streams = 64
    c.dataset.eval_seq_len = 1000
    c.train.batch_size = 64
    c.train.shuffle = False
    c.train.num_epochs = 14  # about 90 minutes on one core
    c.train.steps_per_scan = 111  # 5 chunks per epoch: a stop loses at most a fifth of one
    c.optimizer.lr = 2e-3
    c.optimizer.schedule = "cosine"
    c.model.sample_length = 600
    c.model.prime = "def "
    if arg == "quick":  # make demo: 35 s of training (1,500 steps, 2.4M characters)
        # Short windows and a high rate make many small updates: 2.8 bits/char, and
        # samples with `self.`, `return`, indented blocks (64 streams of 100 with 300
        # steps gave 3.3 and runs of spaces).
        c.model.hidden_size = 128
        c.model.dropout = 0.0
        c.dataset.seq_len = 50
        c.dataset.streams = 32
        c.train.batch_size = 32
        c.dataset.num_train = 32 * 1500
        c.train.num_epochs = 1
        c.train.steps_per_scan = 0
        c.optimizer.lr = 1e-2
        c.model.eval_chars = 20_000
        c.model.sample_length = 300
    elif arg == "tiny":
        c.dataset.max_chars = 5000
        c.dataset.seq_len = 20
        c.dataset.streams = 16
        c.dataset.eval_seq_len = 0
        c.model.hidden_size = 16
        c.model.dropout = 0.0
        c.train.batch_size = 16
        c.train.num_epochs = 1
        c.train.steps_per_scan = 0
        c.model.sample_length = 20
    elif arg is not None:
        raise ValueError(f"unknown arg {arg!r} (quick, tiny)")
    c.train.progress = arg != "tiny"
    return c


def curve_figures(workdir: Path, config: ConfigDict) -> list[Path]:
    """Validation bits/char (windows of `eval_seq_len` from a zero state) against training
    characters and against training seconds."""
    rows = [r for r in MetricsLog(workdir / "metrics.jsonl").read() if not r.get("final")]
    seconds = {r["step"]: r["train_seconds"] for r in rows if "train_seconds" in r}
    val = [r for r in rows if r.get("split") == "val" and r["step"] in seconds]
    if not val:
        return []
    chars_per_step = config.train.batch_size * config.dataset.seq_len
    bpc = [r["bpc"] for r in val]
    out = []
    for name, x, xlabel in (
        ("learning_curve_chars", [r["step"] * chars_per_step for r in val], "training characters"),
        ("learning_curve_seconds", [seconds[r["step"]] for r in val], "training seconds (CPU)"),
    ):
        out.append(
            plotting.curves(
                {"validation bits/char": (x, bpc)},
                workdir / "figures" / f"{name}.png",
                xlabel=xlabel,
                ylabel="bits per character",
                title="character LM, held-out validation files",
            )
        )
    return out


def run(config: ConfigDict, workdir: str) -> dict:
    result = train(config, Path(workdir))
    if "report" not in result.summary:  # stopped early (train.stop_at_step): resume later
        return result.summary
    rep = result.summary["report"]
    m = config.model
    size = f"{m.num_layers}x{m.hidden_size}" if m.num_layers > 1 else m.hidden_size
    rows = [{"model": f"{m.cell} {size}", "bpc": rep["heldout_bpc_stateful"]}]
    rows += [{"model": f"{k} (cold)", "bpc": rep[f"{k}_bpc"]} for k in COMPRESSORS]
    rows += [{"model": f"{k} (primed)", "bpc": rep[f"{k}_primed_bpc"]} for k in COMPRESSORS]
    table = markdown_table(rows)
    figures = curve_figures(Path(workdir), config)
    logged = MetricsLog(Path(workdir) / "metrics.jsonl").read()
    seconds = max((r.get("train_seconds", 0.0) for r in logged), default=0.0)
    extra = "\n".join(
        [
            "## Held-out bits per character\n",
            f"{rep['heldout_chars']} held-out characters (whole files never trained on); corpus "
            f"sha256 {rep['corpus_sha256']}, file lists in corpus.json. Primed: the "
            "compressor reads the training text first and is charged only for the held-out "
            "bytes.\n",
            table,
            f"Training took {seconds:.0f} s over all sessions of the run.\n",
            *[f"![{f.stem}](figures/{f.name})\n" for f in figures],
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
            published="small LSTMs 1.2-1.5 on code/text (Karpathy 2015, Graves 2013)",
        )
    ]
    write_json(Path(workdir) / "summary.json", summary)
    print(table)
    print(f"training seconds: {seconds:.0f}")
    print(f"--- sample, temperature 0.5 ---\n{rep['samples']['0.5']}\n---")
    return summary
