"""Interpolation between two sequences in a trained sequence VAE, through the public API only.

    python scripts/seq_interpolate.py --workdir runs/seq_vae/lines_hierarchical_free_bits
    python scripts/seq_interpolate.py --workdir runs/seq_vae/identifiers_flat_none \\
        --a get_config --b __init__ --steps 9

Encodes the two strings to their posterior means, walks lerp and slerp paths between them,
decodes every point greedily and prints the decoded sequences as a Markdown table.
"""

from __future__ import annotations

import argparse
import sys

import jax.numpy as jnp

import jaxgen
from jaxgen.data import stdlib_sequences as seqs
from jaxgen.errors import run_cli
from jaxgen.families.seqvae import interpolation_table
from jaxgen.report import markdown_table


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a trained seqvae run folder")
    p.add_argument("--a", default=None, help="first sequence (default: the run's pair)")
    p.add_argument("--b", default=None, help="second sequence")
    p.add_argument("--steps", type=int, default=7, help="points per path, endpoints included")
    args = p.parse_args()

    run = jaxgen.load_run(args.workdir)
    pair = run.config.model.interpolation_pair  # what the run's own report interpolated
    a, b = args.a or pair[0], args.b or pair[1]
    if not (a and b):
        p.error("this run names no interpolation pair: give --a and --b")
    x = jnp.asarray(seqs.encode_strings([a, b], run.config.dataset.seq_len))
    rows = interpolation_table(run.encode, run.decode, x[0], x[1], args.steps)
    print(f"{run!r}: {a!r} -> {b!r}\n")
    print(markdown_table(seqs.table_rows(rows)))


if __name__ == "__main__":
    sys.exit(run_cli(main))
