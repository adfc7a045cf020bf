"""Tune the continuous cache of a trained character model on its validation text.

    python scripts/char_lm_cache.py --workdir runs/char_lm --sizes 2000,8000 --streams 64
    python scripts/char_lm_cache.py --workdir runs/char_lm --sizes 16000 --streams 32 --test

Loads the run (`jaxgen.load_run`) and its corpus, reads the validation files (as long as the
held-out test files) as `--streams` contiguous streams with the state carried, and prints one
JSON line per cache size: the bits per character of every (theta, lambda) of the grid
(`RNNFamily.stream_bpc_cache`, Grave et al. 2017's cache; by default the run's own
`model.cache_thetas` x `model.cache_lambdas`), the best point, and with `--test`
the test files' bits per character at that point. `--adapt-lr` adds dynamic evaluation.
A cache holds at most a stream's length: fewer streams let it reach further back.
"""

from __future__ import annotations

import argparse
import json
import sys
import time

import numpy as np

import jaxgen
from jaxgen import data as data_lib
from jaxgen.errors import ConfigError, run_cli


def _floats(text: str) -> tuple[float, ...]:
    return tuple(float(v) for v in text.split(","))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a trained character-model run")
    p.add_argument("--sizes", default="2000", help="cache sizes, comma-separated")
    p.add_argument("--streams", type=int, default=64, help="contiguous streams per text")
    # Each theta costs a whole pass over the text; the default is the run's own grid.
    p.add_argument("--thetas", default=None, help="theta values (default: model.cache_thetas)")
    p.add_argument("--lambdas", default=None, help="lambda values (default: model.cache_lambdas)")
    p.add_argument("--adapt-lr", type=float, default=0.0, help="dynamic evaluation's rate")
    p.add_argument("--test", action="store_true", help="also read the test files at the best")
    args = p.parse_args()

    run = jaxgen.load_run(args.workdir)
    if not hasattr(run.family, "stream_bpc_cache") or run.config.model.task != "lm":
        raise ConfigError(f"{args.workdir} is not a character-model run (model.task='lm')")
    info = data_lib.load(run.config.dataset).info
    test = info["test_ids"]
    val = info["val_ids"][: len(test)]
    m = run.config.model
    thetas = _floats(args.thetas) if args.thetas else tuple(m.cache_thetas)
    lambdas = _floats(args.lambdas) if args.lambdas else tuple(m.cache_lambdas)
    for size in (int(s) for s in args.sizes.split(",")):
        t0 = time.perf_counter()
        kw = {"streams": args.streams, "adapt_lr": args.adapt_lr}
        grid = run.family.stream_bpc_cache(run.state, val, size, thetas, lambdas, **kw)
        a, b = np.unravel_index(np.argmin(grid), grid.shape)
        row = {
            "size": size,
            "streams": args.streams,
            "adapt_lr": args.adapt_lr,
            "val_bpc": np.round(grid, 4).tolist(),
            "theta": thetas[a],
            "lambda": lambdas[b],
            "best_val_bpc": round(float(grid[a, b]), 4),
        }
        if args.test:
            best = run.family.stream_bpc_cache(
                run.state, test, size, (thetas[a],), (lambdas[b],), **kw
            )
            row["test_bpc"] = round(float(best[0, 0]), 4)
        row["seconds"] = round(time.perf_counter() - t0)
        print(json.dumps(row), flush=True)


if __name__ == "__main__":
    sys.exit(run_cli(main))
