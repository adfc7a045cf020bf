"""jaxgen's malloc settings (`jaxgen.runtime`) against glibc's defaults, on a conv model's step.

On CPU the conv AE trains through a Python loop over its jitted step (`train.loop=auto`), so
every step is one XLA call that allocates its temporaries (about 80 MB at batch 128) anew. With
glibc's defaults those come from a fresh `mmap` each call and page-fault in; with jaxgen's
settings they are reused from the heap. This script times one side per process (the settings
are per process, fixed before JAX starts); `make bench`'s `malloc` section runs it alternately
under both and reports ms and minor page faults per step.

Run:
  .venv/bin/python -m benchmarks.malloc_ab                      # jaxgen's settings
  JAXGEN_MALLOC=system .venv/bin/python -m benchmarks.malloc_ab # glibc's defaults
  .venv/bin/python -m benchmarks.malloc_ab --model dcgan --steps 16   # make gan-mnist's DCGAN
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=8, help="steps per chunk")
    ap.add_argument("--reps", type=int, default=5, help="timed chunks")
    ap.add_argument("--scale", choices=("full", "tiny"), default="full")
    ap.add_argument(
        "--model", choices=("conv", "dcgan"), default="conv", help="dcgan: make gan-mnist's"
    )
    args = ap.parse_args()

    from benchmarks import configs, harness
    from benchmarks.sections import SCALES
    from jaxgen import runtime

    scale = SCALES[args.scale]
    if args.model == "conv":
        cfg = configs.conv_config(scale)
    else:
        cfg = configs.family_configs(scale)["gan conv (DCGAN, R1)"]
    cfg.train.progress = False
    run = harness.JaxgenRun(cfg, args.steps if args.scale == "full" else 1)
    times, chunk_faults = [], []
    for _ in range(args.reps):
        faults0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        t0 = time.perf_counter()
        run.run()
        times.append(time.perf_counter() - t0)
        chunk_faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults0)
    steps = run.steps * args.reps
    result = {
        "malloc": runtime.malloc_settings(),
        "loop": run.loop,
        "ms_per_step": 1e3 * statistics.median(times) / run.steps,
        "faults_per_step": sum(chunk_faults) / steps,
        # Each timed chunk's own: under jaxgen's settings most are 0, a few are not (see
        # `jaxgen.runtime`: a freed block split before it is reused grows the heap).
        "faults_per_chunk": chunk_faults,
        "final_loss": run.final_loss(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
