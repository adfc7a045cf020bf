"""Draw a trained character model's samples and score how many read as Python.

    python scripts/char_lm_samples.py --workdir runs/char_lm --temperatures 0.5,0.8,1.0
    python scripts/char_lm_samples.py --workdir runs/demo/char_lm --num 64 --seed 1

Loads the run (`jaxgen.load_run`), continues its prime (`model.prime`) `--num` times at each
temperature, `model.sample_length` characters each, all from PRNGKey(`--seed`), and prints
one JSON line per temperature: the shares of `jaxgen.evaluation.sequence.python_likeness`
(keyword, indented line, matched brackets, no loop of whitespace; all of them:
`reads_as_python`) and the first sample. A run's report scores its own samples the same way.
"""

from __future__ import annotations

import argparse
import json
import sys

import jax

import jaxgen
from jaxgen.errors import ConfigError, run_cli
from jaxgen.evaluation.sequence import python_likeness


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a trained character-model run")
    p.add_argument("--temperatures", default="0.5,0.8,1.0", help="comma-separated")
    p.add_argument("--num", type=int, default=64, help="samples per temperature")
    p.add_argument("--seed", type=int, default=0, help="the sampling key's seed")
    args = p.parse_args()
    if args.num < 1:
        raise ConfigError(f"--num must be at least 1, not {args.num}")
    try:
        temps = [float(t) for t in args.temperatures.split(",")]
    except ValueError:
        raise ConfigError(f"--temperatures {args.temperatures!r} is not numbers") from None
    run = jaxgen.load_run(args.workdir)
    if not hasattr(run.family, "sample_texts") or run.config.model.task != "lm":
        raise ConfigError(f"{args.workdir} is not a character-model run (model.task='lm')")
    key = jax.random.PRNGKey(args.seed)
    for temp, texts in run.family.sample_texts(run.state, key, temps, args.num).items():
        row = {"temperature": float(temp), "num": args.num, **python_likeness(texts)}
        row["first_sample"] = run.config.model.prime + texts[0]
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
