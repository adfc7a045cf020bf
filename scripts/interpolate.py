"""Latent interpolation between two test images of a trained run, through the public API only.

    python scripts/interpolate.py --workdir runs/vae_interpolation/vae --out strip.png
    python scripts/interpolate.py --workdir runs/vae_budget/vae --pair 3 7 --steps 12

Works for any run whose family exposes `encode` and `decode` (vae, autoencoder): it is the
template for writing your own: load the run, encode, interpolate, decode, save a figure.
"""

from __future__ import annotations

import argparse
import sys

import jax.numpy as jnp
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import jaxgen  # noqa: E402
from jaxgen.errors import run_cli  # noqa: E402
from jaxgen.sampling import lerp, slerp  # noqa: E402


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--workdir", required=True, help="a trained run folder")
    p.add_argument("--pair", type=int, nargs=2, default=(0, 1), help="two test-set indices")
    p.add_argument("--steps", type=int, default=10, help="images per strip, endpoints included")
    p.add_argument("--out", default=None, help="figure path (default WORKDIR/interpolation.png)")
    args = p.parse_args()

    run = jaxgen.load_run(args.workdir)
    test = run.load_data().test
    x = jnp.asarray(test["x"][list(args.pair)])
    z = run.encode(x)  # (2, latent): the codes (posterior means for a VAE)
    t = jnp.linspace(0.0, 1.0, args.steps)
    strips = {"lerp": run.decode(lerp(z[0], z[1], t)), "slerp": run.decode(slerp(z[0], z[1], t))}

    fig, axes = plt.subplots(2, args.steps, figsize=(args.steps * 0.9, 2.1), squeeze=False)
    for r, (name, imgs) in enumerate(strips.items()):
        for c in range(args.steps):
            axes[r, c].imshow(jnp.clip(imgs[c].squeeze(), 0, 1), cmap="gray", vmin=0, vmax=1)
            axes[r, c].set_xticks([])
            axes[r, c].set_yticks([])
        axes[r, 0].set_ylabel(name, rotation=0, ha="right", va="center")
    labels = test.get("y")
    title = f"{run.config.model.family}: test images {args.pair[0]} -> {args.pair[1]}"
    if labels is not None:
        title += f" (digits {labels[args.pair[0]]} -> {labels[args.pair[1]]})"
    fig.suptitle(title, fontsize=9)
    out = args.out or f"{args.workdir}/interpolation.png"
    fig.savefig(out, dpi=110, bbox_inches="tight")
    print(f"wrote {out}")


if __name__ == "__main__":
    sys.exit(run_cli(main))
