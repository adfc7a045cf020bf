"""Mode coverage on the 2-D mixtures of the mode-collapse literature.

8 Gaussians on a ring (radius 1, std 0.01) and 25 on a grid ({-4,-2,0,2,4}^2, std 0.05).
Protocol (Srivastava et al. 2017; Lin et al. 2018): on 2,500 samples, the number of modes
captured (>= 1 sample within 3 std of the mode) and the percentage of high-quality samples
(within 3 std of some mode; a perfect generator scores 1 - exp(-9/2) = 98.9%). Every
variant is one GAN config with a few model keys changed (`variant`); `num_seeds` seeds train
side by side (one vmapped program) and the table gives mean +- std over them. Figures:
scatter plots over training (seed 0), the final samples of every seed, modes and HQ against
training steps.

What mattered (5 seeds, G and D MLPs 3x128, batch 256, Adam 1e-3 b1 0.5, `/tmp` sweeps
with this file's settings, ring unless said):
- A zero-centred gradient penalty on real data (R1, Mescheder et al. 2018). Without it the
  plain GAN at a constant rate covered 0.6/8 modes after 2.5k steps (1.2/8 at lr 1e-4);
  with R1 every seed covered 8/8 within 2.5k steps (gamma 0.1 or 1). gamma 0.01 let 2 of 5
  seeds diverge. On the grid gamma 1 covered 25/25 on every seed where 0.1 left 24.6/25.
- A cosine decay of both rates to zero, and steps: with R1 the samples' HQ is set by how
  sharp the modes are and by the few samples G leaves on the bridges between modes. Ring,
  R1 0.1: 21% HQ after 2.5k steps at a constant rate, 26% with the cosine decay, 88% after
  10k steps, 95.0% after 20k (the mode's shape is then right: median distance 1.2 std, as
  for the true Gaussian; what is left is the bridges).
- The full run (`make gan-2d`, 40k steps, 5 seeds, about 1 h on one core): R1 (gamma 1)
  8/8 ring modes at 97.6% HQ and 25/25 grid modes at 95.0%; PacGAN4 (64 packs of 4 from
  the same batch of 256) 8/8 at 97.1% on the ring but 24.4/25 at 28.9% on the grid, where
  its modes stay blurred; the plain GAN 5.0/8 at 98.2% and 16.4/25 at 93.7%, as PacGAN's
  Table 1 reports it (6.3/8 at 98.2%, 17.3/25 at 94.8%): sharp modes, missing ones.
- PacGAN4's blur on the grid is its discriminator's plateau. Packed D sits at chance (its
  loss at 2 ln 2 = 1.386, D = 0.50 on real and fake packs) from about step 1k to 19k of
  40k, while G's samples lie a median 0.82 (16 std) from the nearest mode (1.6% HQ at 10k);
  HQ rises only once D leaves it: 23/25 modes, 21.5% HQ at 40k (2 seeds; the `quick` config
  with `--config.datasets="('grid25',)" --config.models.pacgan4.train.num_epochs=128`, one
  core). At 10k steps D stayed at chance with a wider or deeper D (3x512, 4x256) and with
  both rates at 1e-4 or 3e-4. 2 or 4 D steps per G step: D left the plateau by about 11k /
  6k, 70.5% / 73.7% HQ but 21.5 / 19.5 of 25 modes. D's rate at 3x G's (3e-3,
  `--config.models.pacgan4.d_optimizer.lr=3e-3`): left it by about 10k, 24/25 modes at 80.1%
  HQ. That is the `pacgan_ttur` entry (`make gan-2d-pacgan-ttur`, about 9 min a mixture on
  one core): over 5 seeds 8/8 ring modes at 97.0% HQ and 23.6/25 grid modes at 80.1%,
  against the PacGAN4 entry's 24.4/25 at 28.9% and PacGAN's Table 1's 24.8/25 at 93.6%.
- What PacGAN4 lacked on the grid was steps: PacGAN trained 400 epochs of 100k points
  at batch 100 (400k steps; their code, `fjxmlzn/PacGAN`), the table trains 40k. With
  twice the steps and the cosine decay stretched to them (the `quick` config as above with
  `num_epochs=256`, 2 seeds), packed D still sits at chance until about 25-35k, then G's
  modes sharpen: 55.1% / 87.1% / 93.8% HQ at 40k / 50k / 80k, 25/25 modes on both seeds.
  D's rate at 3x G's over the same 80k: 24.5/25 at 91.7%, so the faster D only made up
  for the short schedule. That is the `pacgan_long` entry (`make gan-2d-pacgan-long`,
  about 17 min a mixture on one core): over 5 seeds 8/8 ring modes at 98.4% HQ and 24.4/25
  grid modes at 90.5% (seeds 87.1-94.0%; the two lowest miss 1-2 modes), against PacGAN's
  Table 1's 7.8/8 at 95.9% and 24.8/25 at 93.6%. HQ still rose by 0.2-1.0 points
  over the last 10k steps. At 160k steps, grid only (`:pacgan_long` with
  `--config.datasets="('grid25',)" --config.models.pacgan4_long.train.num_epochs=512`,
  35 min on one core; the README row gives the command): 24.8/25 modes at 95.5% HQ over
  5 seeds (93.8-97.0%; one seed 24/25), PacGAN's modes and above its HQ. PacGAN's 400k
  steps were not tried.
- Not what mattered: PacGAN's own D (3x200 maxout units of 5 pieces, `model.d_activation=
  maxout`) with D's rate 3x G's: 20.5/25 modes at 48.7% HQ at 40k (2 seeds, HQ 18% and
  79%; 5x the step time), against 24/25 at 80.1% with the table's D; a moving average of
  G (88.2% against 88.3% at 10k), putting the data's scale outside the networks
  (`x_scale`, grid 18.9% against 27.5%). PacGAN4 with R1 at 4x the batch reached 91.3% at
  10k steps, in the time R1 alone took for 20k steps (95.0%).
- WGAN-GP (Gulrajani et al. 2017, their toy settings: lambda 0.1, 5 critic updates of 128
  examples per G update, Adam 1e-4 b1 0.5 b2 0.9, here with the same cosine decay; 40k G
  steps, about 25-30 min per mixture on a shared core): 8/8 ring modes at 82.7% HQ, 21.6/25
  grid modes at 6.2% HQ. It covers modes, but its samples stay spread between them (the
  grid's HQ is what Gulrajani et al.'s own toy figures show); at 2.5k steps the ring had
  5/8 modes at 0.3% HQ (2 seeds). lambda 1 on the grid: 23.5/25 modes at 5.8% HQ (2
  seeds, `--config.models.wgan_gp.model.penalty_weight=1.0`). Twice the steps (80k G steps,
  `--config.models.wgan_gp.train.num_epochs=640`, 2 seeds, 33 min): 25/25 grid modes at
  21.3% HQ (7.8% at 40k of the same schedule); its HQ climbs, slowly.

Run:
  python -m jaxgen.main --config experiments/gan_2d.py --workdir runs/gan_2d   (make gan-2d)
  python -m jaxgen.main --config experiments/gan_2d.py:wgan_gp --workdir runs/gan_2d_wgan_gp
      (make gan-2d-wgan-gp: the WGAN-GP entry alone, its rows beside the others in the README)
  python -m jaxgen.main --config experiments/gan_2d.py:pacgan_ttur --workdir runs/gan_2d_pacgan_ttur
      (make gan-2d-pacgan-ttur: PacGAN4 with D's rate 3x G's alone, rows beside the others)
  python -m jaxgen.main --config experiments/gan_2d.py:pacgan_long --workdir runs/gan_2d_pacgan_long
      (make gan-2d-pacgan-long: PacGAN4 for 80k steps alone, rows beside the others)
  python -m jaxgen.main --config experiments/gan_2d.py:quick --workdir runs/gan_2d_quick
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from jaxgen import config as config_lib
from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation.modes import coverage_per_seed, coverage_summary, mode_coverage
from jaxgen.families import gan
from jaxgen.results import row as result_row
from jaxgen.sampling import named_key, sample_per_seed
from jaxgen.train import train

NUM_EVAL = 2500  # the protocol's sample count
R1_GAMMA = 1.0  # the zero-centred penalty's weight (see the docstring)
WGAN_GP_LAMBDA = 0.1  # Gulrajani et al.'s toy-data lambda (their MNIST/CIFAR runs use 10)
PACGAN_D_LR_FACTOR = 3.0  # D's rate over G's in the pacgan_ttur entry (see `pacgan_ttur`)
PACGAN_LONG_FACTOR = 2  # the pacgan_long entry's steps over the table's (see `pacgan_long`)


def wgan_gp(base: ConfigDict) -> ConfigDict:
    """WGAN-GP (Gulrajani et al. 2017) with their toy settings: a Wasserstein critic with
    a gradient penalty, 5 critic updates per generator update, Adam(1e-4, 0.5, 0.9).

    Each critic update gets its own slice of the batch, so the batch holds 5 of them: the
    same number of generator steps as the other configs sees 2.5 times as much data.
    """
    cfg = variant(base, loss="wasserstein", penalty="gp", penalty_weight=WGAN_GP_LAMBDA, d_steps=5)
    cfg.train.batch_size = 640  # 5 critic slices of 128: 125 steps an epoch of 80k points
    cfg.train.num_epochs = 320  # 40k generator steps, as the others
    cfg.train.steps_per_scan = 0  # a whole epoch
    cfg.train.checkpoint_every_steps = 2500
    for opt in (cfg.optimizer, cfg.d_optimizer):
        opt.lr, opt.b1, opt.b2 = 1e-4, 0.5, 0.9
    return cfg


def pacgan_ttur(base: ConfigDict) -> ConfigDict:
    """PacGAN4 with D's learning rate PACGAN_D_LR_FACTOR times G's (two time scales): a
    faster D leaves the plateau at chance where packed D sits on the grid (module docstring).
    """
    cfg = variant(base, pack=4)
    cfg.d_optimizer.lr = PACGAN_D_LR_FACTOR * base.optimizer.lr
    return cfg


def pacgan_long(base: ConfigDict) -> ConfigDict:
    """PacGAN4 trained PACGAN_LONG_FACTOR times as long, its cosine decay stretched to match:
    packed D's plateau at chance on the grid ends after the table's 40k steps would have
    decayed the rates (module docstring).
    """
    cfg = variant(base, pack=4)
    cfg.train.num_epochs = PACGAN_LONG_FACTOR * base.train.num_epochs
    return cfg


def variant(base: ConfigDict, **model) -> ConfigDict:
    """A copy of the base GAN config with model overrides (one option of the family)."""
    cfg = ConfigDict(base.to_dict())
    cfg.model.update(model)
    return cfg


# The entries that also run alone (`gan_2d.py:<arg>`): model name, config, and the make
# target their README rows name, beside the table's rows.
ENTRIES = {
    "wgan_gp": ("wgan_gp", wgan_gp, "make gan-2d-wgan-gp"),
    "pacgan_ttur": ("pacgan4_ttur", pacgan_ttur, "make gan-2d-pacgan-ttur"),
    "pacgan_long": ("pacgan4_long", pacgan_long, "make gan-2d-pacgan-long"),
}


def get_config(arg: str | None = None) -> ConfigDict:
    if arg not in (None, "quick", "tiny", *ENTRIES):
        raise ValueError(f"unknown arg {arg!r} (quick, tiny, {', '.join(ENTRIES)})")
    quick = arg in ("quick", "tiny")
    c = ConfigDict()
    c.datasets = ("ring8",) if quick else ("ring8", "grid25")
    g = gan.config(
        "ring8",
        latent_dim=16,
        noise="gaussian",
        g_hidden=(128, 128, 128),
        d_hidden=(128, 128, 128),
    )
    g.dataset.num_points = 100_000  # 80k train
    g.num_seeds = 2 if quick else 5
    g.train.batch_size = 256  # 312 steps per epoch
    # 10k steps for the demo's ring (PacGAN4: 8/8 at 84% HQ, 2 seeds); 40k for the table.
    g.train.num_epochs = 32 if quick else 128
    every = 1248 if quick else 2496  # snapshot interval (a multiple of the epoch's 312 steps)
    g.train.steps_per_scan = 312
    g.train.checkpoint_every_steps = every
    g.train.max_checkpoints = 1000
    g.train.eval_every_epochs = 1000  # the table's numbers are mode coverage, not D's loss
    g.optimizer.lr = g.d_optimizer.lr = 1e-3
    # The cosine decay to zero sharpens the modes at the end (HQ), see the docstring.
    g.optimizer.schedule = g.d_optimizer.schedule = "cosine"
    g.train.progress = arg != "tiny"
    if arg == "tiny":
        g.dataset.num_points = 5000
        g.train.num_epochs = 2
        g.train.batch_size = 128
        g.train.steps_per_scan = g.train.checkpoint_every_steps = 31
        g.model.g_hidden = g.model.d_hidden = (32, 32)
    models = {"pacgan4": variant(g, pack=4)}
    if arg in ENTRIES:
        name, make, _ = ENTRIES[arg]
        models = {name: make(g)}
    elif not quick:
        models = {
            "gan": variant(g),
            **models,
            "r1": variant(g, penalty="r1", penalty_weight=R1_GAMMA),
            "wgan_gp": wgan_gp(g),
        }
    c.models = ConfigDict(models)
    c.num_panels = 6
    # The command the README's rows name: a run of some entries adds rows, keeping the others.
    c.command = ENTRIES[arg][2] if arg in ENTRIES else "make gan-2d"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    figs = workdir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    rows, curves = [], {}
    first = next(iter(config.models.values()))
    key = named_key(jax.random.PRNGKey(first.seed), "eval")
    for ds in config.datasets:
        splits = None
        for name, model_cfg in config.models.items():
            cfg = config_lib.variant(model_cfg, **{"dataset.name": ds})
            if splits is None:
                splits = data_lib.load(cfg.dataset)
                real = splits.split("test")["x"][:NUM_EVAL]
                pair = coverage_per_seed(real[None], splits.info["means"], splits.info["stds"])
                rows.append(_row(ds, "real test data", pair))
            res = train(cfg, workdir / f"{ds}_{name}", splits=splits)
            states = gan.snapshot_states(res)
            jit_cov = jax.jit(
                lambda st, k, fam=res.family: sample_per_seed(fam.sample, st, k, NUM_EVAL)
            )
            per_step, samples_at = {}, {}
            for step, st in sorted(states.items()):
                samples = np.asarray(jit_cov(st, key))
                per_step[step] = coverage_per_seed(
                    samples, splits.info["means"], splits.info["stds"]
                )
                samples_at[step] = samples
            last = max(per_step)
            row = _row(ds, f"{name}: {describe(cfg)}", per_step[last])
            row["steps"] = last
            row["train_seconds"] = round(res.summary.get("train_seconds", 0.0))
            rows.append(row)
            curves[(ds, name)] = per_step
            steps = sorted(samples_at)
            at = np.linspace(0, len(steps) - 1, config.num_panels).round().astype(int)
            over = {f"step {steps[i]}\n": samples_at[steps[i]][0] for i in np.unique(at)}
            _scatter(over, splits, figs / f"{ds}_{name}_training.png")
            seeds = {f"seed {i}: ": pts for i, pts in enumerate(samples_at[last])}
            _scatter(seeds, splits, figs / f"{ds}_{name}_seeds.png")
    for j, (what, scale, label) in enumerate(_CURVES):
        series = {}
        for (ds, name), c in curves.items():
            steps = sorted(c)
            series[f"{ds}, {name}"] = (steps, scale * np.stack([c[s][:, j] for s in steps]))
        plotting.curves(series, figs / f"{what}_over_training.png", "generator step", label)
    extra = {
        "curves": {
            f"{d}/{name}": {int(s): v.tolist() for s, v in c.items()}
            for (d, name), c in curves.items()
        },
        "headline": "; ".join(
            f"{r['dataset']} {r['model'].split(':')[0]}: {r['modes_mean']:.1f}/{r['modes_of']} "
            f"modes, {r['hq_pct_mean']:.0f}% HQ"
            for r in rows
            if r["model"] != "real test data"
        ),
    }
    intro = [
        f"On {NUM_EVAL} samples per seed; mean +- std over the seeds "
        "trained side by side (vmap). A mode is captured by >= 1 sample within 3 std; a sample "
        "is high quality (HQ) within 3 std of some mode."
    ]
    figures = [f"figures/{what}_over_training.png" for what, _, _ in _CURVES] + [
        f"figures/{ds}_{name}_{kind}.png"
        for ds in config.datasets
        for name in config.models
        for kind in ("training", "seeds")
    ]
    cols = ["dataset", "model", "modes_mean", "modes_std", "modes_of", "hq_pct_mean", "hq_pct_std"]
    return experiment.finish(
        workdir,
        "2-D mixtures: mode coverage",
        rows,
        _results(rows, config.command),
        intro=intro,
        figures=figures,
        extra=extra,
        columns=cols + ["num_seeds", "steps", "train_seconds"],
    )


def describe(cfg: ConfigDict) -> str:
    """The settings that tell the variants apart, in words."""
    model = cfg.model
    parts = [model.loss.replace("_", "-")]
    if model.pack > 1:
        parts.append(f"PacGAN{model.pack}")
    if model.penalty != "none":
        parts.append(f"{model.penalty.upper()} {model.penalty_weight:g}")
    if model.d_steps > 1:
        parts.append(f"{model.d_steps} D steps")
    if cfg.d_optimizer.lr != cfg.optimizer.lr:
        parts.append(f"D lr {cfg.d_optimizer.lr / cfg.optimizer.lr:g}x G's")
    return ", ".join(parts)


# The curves' figures: per-seed coverage column, its scale, the axis label.
_CURVES = (("modes", 1.0, "modes captured (of 8 / 25)"), ("hq", 100.0, "% high-quality samples"))

# PacGAN Table 1 (Lin et al. 2018): modes captured and % high-quality samples, 2,500 samples.
PUBLISHED = {
    "ring8": "GAN 6.3/8, 98.2% HQ; PacGAN4 7.8/8, 95.9% HQ (PacGAN Table 1)",
    "grid25": "GAN 17.3/25, 94.8% HQ; PacGAN4 24.8/25, 93.6% HQ (PacGAN Table 1)",
}


def _results(rows: list[dict], command: str) -> list[dict]:
    out = []
    for ds, published in PUBLISHED.items():
        mine = [r for r in rows if r["dataset"] == ds and r["model"] != "real test data"]
        if not mine:
            continue
        out.append(
            result_row(
                f"2-D GAN, {ds}: modes captured, % high-quality samples (mean of "
                f"{mine[0]['num_seeds']} seeds, {mine[0]['steps']} steps)",
                " / ".join(r["model"] for r in mine),
                " / ".join(
                    f"{r['modes_mean']:.1f}/{r['modes_of']}, {r['hq_pct_mean']:.1f}%" for r in mine
                ),
                command,
                published,
            )
        )
    return out


def _row(ds: str, model: str, cov: np.ndarray) -> dict:
    summary = coverage_summary(cov)
    return {
        "dataset": ds,
        "model": model,
        **summary,
        "modes_of": 8 if ds == "ring8" else 25,
        "steps": "",
    }


def _scatter(panels: dict[str, np.ndarray], splits, path: Path) -> None:
    """One scatter per panel against the modes, its title followed by its coverage."""
    m = np.abs(splits.info["means"]).max()
    titled = {}
    for title, pts in panels.items():
        cov = mode_coverage(pts, splits.info["means"], splits.info["stds"])
        hq = 100 * cov["high_quality"]
        titled[f"{title}{cov['modes_captured']} modes, {hq:.0f}% HQ"] = pts
    lims = (-1.35 * m - 0.3, 1.35 * m + 0.3)
    plotting.scatter_panels(titled, path, modes=splits.info["means"], lims=lims)
