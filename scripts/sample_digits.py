"""Ask a trained class-conditional run for digits, through the public API only.

    python scripts/sample_digits.py --workdir runs/cond_mnist/cgan --digit 7 --num 10
    python scripts/sample_digits.py --workdir runs/cond_mnist/cvae --digit 3 --out threes.png

Works for any run trained with `model.num_classes` (the conditional VAE and GAN): load the
run, call `sample(key, num, labels)`, save a strip of the images.
"""

from __future__ import annotations

import argparse
import sys

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import jaxgen  # noqa: E402
from jaxgen.data import to_unit  # noqa: E402
from jaxgen.errors import ConfigError, run_cli  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a trained conditional run folder")
    p.add_argument("--digit", type=int, default=7, help="the class to ask for")
    p.add_argument("--num", type=int, default=10, help="how many samples")
    p.add_argument("--seed", type=int, default=0, help="the sampling key's seed")
    p.add_argument("--out", default=None, help="figure path (default WORKDIR/digit_D.png)")
    args = p.parse_args()

    run = jaxgen.load_run(args.workdir)
    k = run.config.model.get("num_classes", 0)
    if not 0 <= args.digit < k:
        raise ConfigError(
            f"--digit {args.digit}: {args.workdir} has classes 0..{k - 1}"
            if k
            else f"{args.workdir} is not a conditional run (model.num_classes=0)"
        )
    labels = jnp.full((args.num,), args.digit, jnp.int32)
    imgs = to_unit(
        np.asarray(run.sample(jax.random.PRNGKey(args.seed), args.num, labels)), run.config.dataset
    )

    fig, axes = plt.subplots(1, args.num, figsize=(args.num * 0.9, 1.2), squeeze=False)
    for i, ax in enumerate(axes[0]):
        ax.imshow(np.clip(imgs[i].squeeze(), 0, 1), cmap="gray", vmin=0, vmax=1)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(
        f"{run.config.model.family}: {args.num} samples asked for {args.digit}", fontsize=9
    )
    out = args.out or f"{args.workdir}/digit_{args.digit}.png"
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
