"""The lecture's 1-D GAN picture, and the learned generator against the inverse transform.

A 1-D Gaussian mixture (dataset `gmm1d`), uniform noise z ~ U(-1, 1) of dimension 1, MLP
players. Figures: the true density (blue), the generated histogram (orange) and the
discriminator's D(x) (gray, right axis) at several points of training; the learned map
z -> G(z) against the exact inverse-transform map F^{-1}((z + 1) / 2); W1 over training.
Table: Wasserstein-1 distance to held-out data of the GAN (per loss, mean +- std over seeds),
of exact inverse-transform sampling (`jaxgen.sampling.inverse_transform` with
`inverse_cdf_from_density`), and of training data itself (the two-sample floor).

Snapshots: one run of the shared loop per loss, checkpointing every `snapshot_every` steps
(kept), read back with `jaxgen.families.gan.snapshot_states`.

Run:
  python -m jaxgen.main --config experiments/gan_1d.py --workdir runs/gan_1d   (make gan-1d)
  python -m jaxgen.main --config experiments/gan_1d.py:quick --workdir runs/gan_1d_quick
"""

from __future__ import annotations

from pathlib import Path

import jax
import jax.numpy as jnp
import matplotlib
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict, variant
from jaxgen.data import mixtures
from jaxgen.evaluation.fid import wasserstein_1d
from jaxgen.families import gan
from jaxgen.sampling import inverse_cdf_from_density, inverse_transform, named_key, sample_per_seed
from jaxgen.train import train

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def get_config(arg: str | None = None) -> ConfigDict:
    quick = arg in ("quick", "tiny")
    c = ConfigDict()
    g = gan.config("gmm1d", latent_dim=1, noise="uniform", g_hidden=(64, 64), d_hidden=(64, 64))
    # 160k train, 20k held-out test: W1 between two 20k samples of this mixture is ~0.01
    # (at 6k it fluctuates 0.02-0.07, mostly from the binomial share of each mode).
    g.dataset.num_points = 200_000
    g.num_seeds = 2 if quick else 4
    g.train.batch_size = 128  # 1250 steps per epoch
    g.train.num_epochs = 1 if quick else 3
    every = 125 if quick else 250  # the snapshot interval == one compiled chunk
    g.train.steps_per_scan = g.train.checkpoint_every_steps = every
    g.optimizer.lr = 1e-3
    g.d_optimizer.lr = 1e-3
    g.train.progress = arg != "tiny"
    c.gan = g
    c.losses = ("non_saturating",) if quick else ("non_saturating", "minimax", "linear")
    c.panel_steps = (0, 125, 250, 500, 1000, -1) if quick else (0, 250, 500, 1000, 2500, -1)
    if arg == "tiny":
        g.dataset.num_points = 10_000
        g.train.num_epochs = 2
        g.train.steps_per_scan = g.train.checkpoint_every_steps = 31
        c.panel_steps = (0, 31, -1)
    g.train.max_checkpoints = 1000  # keep every snapshot
    return c


def _target(info: dict):
    """The mixture's density on a grid and the exact inverse CDF (numerical)."""
    means, stds, weights = info["means"].ravel(), info["stds"], info["weights"]
    lo, hi = (means - 6 * stds).min(), (means + 6 * stds).max()
    grid = np.linspace(lo, hi, 8001)
    dens = mixtures.mixture_density_1d(grid, means, stds, weights)
    inv = inverse_cdf_from_density(jnp.asarray(grid), jnp.asarray(dens))
    return grid, dens, inv


def _per_seed_samples(family, states, key, n: int) -> np.ndarray:
    """(S, n) samples, seed s drawing with fold_in(key, s)."""
    sample = jax.jit(lambda st, k: sample_per_seed(family.sample, st, k, n))
    return np.asarray(sample(states, key))[..., 0]


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    figs = workdir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    splits = data_lib.load(config.gan.dataset)
    x_test = splits.split("test")["x"][:, 0]
    n = len(x_test)
    grid, dens, inv = _target(splits.info)
    key = jax.random.PRNGKey(config.gan.seed)

    # The exact map: inverse-transform sampling, one draw per seed for a spread.
    num_seeds = config.gan.num_seeds
    it_w1 = [
        wasserstein_1d(
            np.asarray(inverse_transform(jax.random.fold_in(named_key(key, "it"), s), inv, (n,))),
            x_test,
        )
        for s in range(num_seeds)
    ]
    floor = wasserstein_1d(splits.train["x"][:n, 0], x_test)
    rows = [_row("inverse transform (exact F^-1)", it_w1)]

    curves, results = {}, {}
    for loss in config.losses:
        res = train(
            variant(config.gan, **{"model.loss": loss}), workdir / f"gan_{loss}", splits=splits
        )
        states = gan.snapshot_states(res)
        fam = res.family
        eval_key = named_key(key, "eval")
        w1 = {
            step: [wasserstein_1d(s, x_test) for s in _per_seed_samples(fam, st, eval_key, n)]
            for step, st in sorted(states.items())
        }
        last = max(w1)
        rows.append(_row(f"GAN, {loss} loss", w1[last], res.summary["test"]))
        curves[loss] = w1
        results[loss] = (res, states)

    rows.append(_row("training data (two-sample floor)", [floor]))
    main_loss = config.losses[0]
    res, states = results[main_loss]
    steps = sorted(states)
    panel = [steps[-1] if s < 0 else s for s in config.panel_steps if s < 0 or s in states]
    _lecture_picture(res.family, states, panel, grid, dens, figs / "lecture_picture.png", key)
    _map_figure(res.family, states[steps[-1]], inv, figs / "generator_map.png")
    plotting.curves(
        {
            f"GAN {loss}": (sorted(c), np.array([c[t] for t in sorted(c)]))
            for loss, c in curves.items()
        },
        figs / "w1_over_training.png",
        "generator step",
        "W1 to held-out data",
        logy=True,
        hlines={"inverse transform": np.mean(it_w1), "training data (floor)": floor},
    )

    gan_row, it_row = rows[1], rows[0]
    extra = {
        "w1_curves": {k: {int(s): v for s, v in c.items()} for k, c in curves.items()},
        "headline": (
            f"W1 to held-out data: GAN ({main_loss}) {gan_row['w1_mean']:.3f} +- "
            f"{gan_row['w1_std']:.3f}, exact inverse transform {it_row['w1_mean']:.3f}, "
            f"data floor {floor:.3f}"
        ),
    }
    intro = [
        "Wasserstein-1 distance to the held-out test split (equal sample sizes); GAN rows are "
        "mean +- std over the vmapped seeds; `lecture_E` is the lecture's E(G, D) and `neg_V` "
        "is -V(D, G) on the test split (1/2 and log 4 = 1.386 at the equilibrium).",
        f"The lecture's picture below is seed 0's, {main_loss} loss.",
    ]
    figures = [f"figures/{f}.png" for f in ("lecture_picture", "generator_map", "w1_over_training")]
    columns = ["method", "w1_mean", "w1_std", "num_seeds", "lecture_E", "neg_V"]
    return experiment.finish(
        workdir,
        "1-D GAN: the lecture's picture and the inverse transform",
        rows,
        intro=intro,
        figures=figures,
        extra=extra,
        columns=columns,
    )


def _row(name: str, w1: list[float], test: dict | None = None) -> dict:
    row = {
        "method": name,
        "w1_mean": float(np.mean(w1)),
        "w1_std": float(np.std(w1)),
        "num_seeds": len(w1),
        "w1_seeds": [float(v) for v in w1],
        "lecture_E": "",
        "neg_V": "",
    }
    if test:
        row["lecture_E"], row["neg_V"] = test["error"], test["loss"]
    return row


def _lecture_picture(family, states, panel_steps, grid, dens, path: Path, key) -> None:
    """Blue: true density; orange: generated histogram; gray: D(x) on the right axis."""
    seed0 = {s: jax.tree.map(lambda a: a[0], states[s]) for s in panel_steps}
    sample = jax.jit(family.sample, static_argnums=2)
    disc = jax.jit(family.discriminate)
    xs = np.linspace(grid[0], grid[-1], 400, dtype=np.float32)
    ncols = min(3, len(panel_steps))
    nrows = int(np.ceil(len(panel_steps) / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 3.0 * nrows), squeeze=False)
    for ax, step in zip(axes.flat, panel_steps, strict=False):
        st = seed0[step]
        g = np.asarray(sample(st, named_key(key, "picture"), 20_000))[:, 0]
        ax.plot(grid, dens, color="tab:blue", lw=2, label="true $p_t$")
        ax.hist(
            g,
            bins=np.linspace(grid[0], grid[-1], 120),
            density=True,
            color="tab:orange",
            alpha=0.6,
            label="generated $p_g$",
        )
        ax.set_ylim(0, 1.3 * dens.max())
        ax.set_xlim(grid[0], grid[-1])
        ax2 = ax.twinx()
        ax2.plot(xs, np.asarray(disc(st, xs[:, None])), color="gray", lw=2, label="D(x)")
        ax2.set_ylim(0, 1)
        ax2.axhline(0.5, color="gray", ls=":", lw=1)
        ax.set_title(f"step {step}")
    for ax in list(axes.flat)[len(panel_steps) :]:
        ax.axis("off")
    axes[0, 0].legend(loc="upper left", fontsize=7)
    fig.suptitle("1-D GAN: true (blue), generated (orange), discriminator D(x) (gray, right axis)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _map_figure(family, states, inv, path: Path) -> None:
    """z -> G(z) for every seed against the exact maps F^{-1}((1 +- z) / 2)."""
    z = np.linspace(-1, 1, 401, dtype=np.float32)[:, None]
    gen = jax.jit(jax.vmap(family.generate, in_axes=(0, None)))
    g = np.asarray(gen(states, z))[..., 0]
    fig, ax = plt.subplots(figsize=(5, 3.8))
    for s, gs in enumerate(g):
        ax.plot(z[:, 0], gs, lw=1.5, alpha=0.8, label=f"G(z), seed {s}")
    u = (z[:, 0] + 1) / 2
    ax.plot(z[:, 0], np.asarray(inv(jnp.asarray(u))), "k--", lw=1.5, label="$F^{-1}((1+z)/2)$")
    ax.plot(z[:, 0], np.asarray(inv(jnp.asarray(1 - u))), "k:", lw=1.5, label="$F^{-1}((1-z)/2)$")
    ax.set_xlabel("z ~ U(-1, 1)")
    ax.set_ylabel("x")
    ax.legend(fontsize=7)
    ax.set_title("Learned generator vs the inverse-transform map")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
