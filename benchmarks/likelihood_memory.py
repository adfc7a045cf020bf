"""Peak memory of the importance-sampled test NLL (k = 5000) of the MNIST VAE.

Runs `jaxgen.evaluation.likelihood.test_nll` (the library's evaluator: examples in batches of
100, samples in chunks of 250 inside one `lax.scan`) on the MNIST test set held in memory,
for the VAE of `experiments/vae_mnist.py` (Burda et al.'s 784-200-200-50 tanh, Bernoulli
decoder). Peak memory is the process's peak resident set size (`ru_maxrss`), so it includes
the Python/JAX runtime and the data: everything a user's process would hold. Meant to run in
its own process (the benchmark starts it with `subprocess`), so nothing else inflates it.

Memory does not depend on the weights, so the parameters are the initial ones (the NLL value
printed is therefore not a result). It does not depend on how many test images are evaluated
either (each batch reuses the same buffers): the peak after every batch is recorded to show
it flat; `--batches 0` evaluates all 10,000 images.

Run:
  .venv/bin/python -m benchmarks.likelihood_memory                 # 10 batches (1,000 images)
  .venv/bin/python -m benchmarks.likelihood_memory --batches 0     # the whole test set
"""

from __future__ import annotations

import argparse
import json
import resource
import time

import jax
import numpy as np


def rss_gib() -> float:
    """Current resident set size (VmRSS) in GiB."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 2**20
    return float("nan")


def peak_rss_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def measure(
    k: int = 5000,
    batches: int = 10,
    num_test: int = 0,
    batch_size: int = 100,
    chunk: int = 250,
    dataset: str = "mnist",
) -> dict:
    """Runs the evaluation; returns peak RSS (GiB) before, during and after, and timings."""
    from jaxgen import data as data_lib
    from jaxgen.evaluation import likelihood
    from jaxgen.families import vae
    from jaxgen.sampling import named_key

    cfg = vae.config(
        dataset, latent_dim=50, hidden_sizes=(200, 200), activation="tanh", likelihood="bernoulli"
    )
    cfg.dataset.binarize = "dynamic"
    if num_test:
        cfg.dataset.num_test = num_test
        cfg.dataset.num_train = max(num_test, cfg.train.batch_size)
    splits = data_lib.load(cfg.dataset)
    family = vae.make_family(cfg)
    state = family.init(named_key(jax.random.PRNGKey(0), "init"), {"x": splits.test["x"][:1]})
    x = splits.test["x"]
    n_all = len(x)
    fn = likelihood._batch_fn(family.log_weights_fn(state), k, min(chunk, k))
    key = named_key(jax.random.PRNGKey(0), "nll")
    out = {
        "k": k,
        "batch_size": batch_size,
        "chunk": chunk,
        "test_images_in_memory": n_all,
        "rss_before_gib": rss_gib(),
        "peak_before_gib": peak_rss_gib(),
    }
    # The evaluator's own loop (likelihood.log_likelihood), batch by batch, so the peak can be
    # read after each one; the first batch also compiles.
    num_batches = -(-n_all // batch_size)
    todo = num_batches if batches <= 0 else min(batches, num_batches)
    peaks, lls, times = [], [], []
    for b in range(todo):
        t0 = time.perf_counter()
        xb = x[b * batch_size : (b + 1) * batch_size]
        pad = batch_size - len(xb)
        if pad:
            xb = np.concatenate([xb, np.repeat(xb[:1], pad, 0)])
        ll = np.asarray(fn(xb, jax.random.fold_in(key, b)))[: batch_size - pad]
        lls.append(ll)
        times.append(time.perf_counter() - t0)
        peaks.append(peak_rss_gib())
    evaluated = int(sum(len(v) for v in lls))
    steady = float(np.median(times[1:])) if len(times) > 1 else times[0]
    out.update(
        images_evaluated=evaluated,
        peak_rss_gib=peak_rss_gib(),
        peak_after_first_batch_gib=peaks[0],
        peak_after_each_batch_gib=[round(p, 4) for p in peaks],
        first_batch_seconds=times[0],
        seconds_per_batch=steady,
        est_seconds_full_test_set=times[0] + steady * (num_batches - 1),
        nll_untrained=float(-np.concatenate(lls).mean()),
    )
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=5000)
    ap.add_argument("--batches", type=int, default=10, help="0 = the whole test set")
    ap.add_argument("--num-test", type=int, default=0, help="cap on test images (0 = all)")
    ap.add_argument("--dataset", default="mnist")
    args = ap.parse_args()
    res = measure(args.k, args.batches, args.num_test, dataset=args.dataset)
    print(json.dumps(res))


if __name__ == "__main__":
    main()
