"""GANs on MNIST: an MLP GAN, a DCGAN-style conv GAN and WGAN-GP, evaluated against a VAE.

- Sample grids and latent interpolations (a straight line between two noise vectors) of both
  GANs. The conv generator upsamples with the shared sub-pixel `ConvDecoder`; the conv
  discriminator is the shared strided-conv `ConvEncoder`.
- Frechet distance on the 128-d features of the repo's digit classifier
  (`jaxgen.evaluation.classifier`, its test accuracy in the table), against the test split:
  GAN samples, VAE samples (`jaxgen.families.vae`, mean images decoded from z ~ N(0, I)) and
  real held-out digits (validation split) as the floor.
- The lecture's claim "VAE samples are blurry, GAN samples sharp", measured: mean gradient
  magnitude, Laplacian variance and the fraction of mid-gray pixels of each model's samples
  against real digits (`jaxgen.evaluation.sharpness`).
- Class balance: the share of each digit among the samples, by the same classifier.

The conv GAN after 30 epochs without a penalty: FID 7.6 (the VAE's 59.3), sharpness equal to
real digits', but digit 9 at 0.157 of its samples against the 0.15 target; truncating z made
it worse (`--z-scale 0.8`: 0.175), so the 9s were the centre of the latent space, and a third
of the samples were ones the classifier is unsure of (top probability < 0.9). With R1
(`model.penalty="r1"`, gamma 1, lazily on every 16th D update), the same 30 epochs
(2 h 9 min on one pinned core, 3.04 steps/s, 2026-12-06): FID 5.4, Laplacian variance 0.189
(real 0.186, VAE 0.057), digit 9 the most frequent at 0.142 (0.136 among the samples the
classifier is sure of, still 32% of them unsure). R1 is the setting that mattered.

What mattered for the conv GAN (classifier FID of 5,000 samples, by epoch): samples from a
moving average of G's weights (`model.g_ema` 0.999; the raw G's FID after one epoch was
100.1 and swings between epochs) and training long enough: 183 / 57 / 27 / 20 / 17 after
epochs 1 / 2 / 4 / 6 / 7 (the average still holds the first epoch's weights at epoch 1).
Unrolling the k discriminator updates instead of scanning them took a step from 3.5 s to
0.44 s on one core.

WGAN-GP with the MLP players (lambda 10, 5 critic updates per G update, Adam(1e-4, 0.5,
0.9), 30 epochs = 4,680 G steps, 4 min on a shared core): FID 40.7 against the plain MLP
GAN's 11.3 (16.5 without PacGAN2) over the same 30 passes, its most frequent digit 0.193.
Gulrajani et al. train 200k G steps on MNIST; at this budget the critic's 5 steps leave G
with a fifth of the plain GAN's updates.

Run:
  python -m jaxgen.main --config experiments/gan_mnist.py --workdir runs/gan_mnist  (make gan-mnist)
  python -m jaxgen.main --config experiments/gan_mnist.py:wgan_gp --workdir runs/gan_mnist_wgan_gp
      (make gan-mnist-wgan-gp: WGAN-GP beside the plain MLP GAN alone, no conv GAN or VAE)
  python -m jaxgen.main --config experiments/gan_mnist.py:conv --workdir runs/gan_mnist
      (the conv GAN and the VAE alone, into the same folder)
  python -m jaxgen.main --config experiments/gan_mnist.py:quick --workdir runs/gan_mnist_quick
"""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation import classifier as classifier_lib
from jaxgen.evaluation.samples import ImageJudge
from jaxgen.families import gan, vae
from jaxgen.results import row as result_row
from jaxgen.sampling import lerp, named_key, sample_in_batches
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick = arg in ("quick", "tiny")
    c = ConfigDict()
    mlp = gan.config(
        "mnist",
        arch="mlp",
        latent_dim=64,
        noise="gaussian",
        g_hidden=(256, 512),
        d_hidden=(512, 256),
        g_out="tanh",
    )
    conv = gan.config(
        "mnist",
        arch="conv",
        latent_dim=64,
        noise="gaussian",
        g_out="tanh",
        conv_g_features=(64, 32),
        conv_g_start=128,
        conv_d_features=(64, 128),
    )
    for g in (mlp, conv):
        # Pixels in [-1, 1] for a tanh generator, as DCGAN does: with a sigmoid output on
        # [0, 1] data the MLP GAN collapsed to one saturated image within 200 steps.
        g.dataset.scale = "symmetric"
        g.train.batch_size = 64
        g.train.eval_every_epochs = 1000  # D's val loss says little; the FID table does
        # Samples from a moving average of G's weights (ProGAN, StyleGAN, BigGAN): the raw
        # conv G's FID after one epoch was 100.1, and swings from epoch to epoch.
        g.model.g_ema = 0.999
        # PacGAN2 (Lin et al. 2018: D judges pairs; on stacked MNIST it took DCGAN from 99 to
        # all 1,000 modes). The MLP GAN's most frequent digit went from 0.161 of its samples
        # to 0.149 with it (FID 16.5 -> 11.4, 30 epochs); the conv GAN's from 0.167 to 0.173
        # (FID 12.8 -> 15.1, 10 epochs): digit 9 in both, where ambiguous strokes land.
        g.model.pack = 2
    mlp.train.num_epochs = 2 if quick else 30
    # 781 steps an epoch at ~0.39 s a step on one core: ~5 minutes an epoch, 2.5-3 hours in
    # all. Resumable: the run checkpoints every epoch, and `make gan-mnist` picks up where it
    # stopped (the rates are constant, so a longer run continues a shorter one exactly).
    # FID and digit 9's share of the samples (0.10 in real digits) by epoch, PacGAN2
    # (scripts/sample_quality.py mid-way): 10: 15.1, 0.173 (without packing 12.8, 0.167);
    # 20: 9.6, 0.157; 23: 9.13, 0.156; 30: 7.6, 0.157. FID still falls; the 9s' share stopped
    # falling at epoch 20.
    conv.train.num_epochs = 1 if quick else 30
    # R1 (Mescheder et al. 2018), lazily on every 16th D update (StyleGAN2): the zero-centred
    # penalty keeps D smooth on real digits, aimed at the ambiguous strokes counted as 9s.
    conv.model.update(penalty="r1", penalty_weight=1.0, penalty_every=16)
    v = vae.config("mnist", arch="mlp", latent_dim=20, likelihood="bernoulli")
    v.model.report_nll_k = 0  # likelihoods are the VAE issue's business
    v.train.num_epochs = 2 if quick else 5
    c.models = ConfigDict({"gan_mlp": mlp, "gan_conv": conv})
    c.vae = v
    c.use_vae = True
    c.classifier_epochs = 1 if quick else 2
    c.classifier_num_train = 0  # 0 = all 50k
    c.num_samples = 2000 if quick else 5000  # per model, for the Frechet distance
    c.num_real = 2000 if quick else 5000  # held-out real digits (validation split) = floor
    if arg == "tiny":
        for sub in (mlp, conv, v):
            sub.dataset.num_train = 512
            sub.dataset.num_test = 256
            sub.train.num_epochs = 1
        mlp.model.g_hidden, mlp.model.d_hidden = (32,), (32,)
        conv.model.conv_g_features, conv.model.conv_d_features = (8, 4), (4, 8)
        conv.model.conv_g_start = 8
        v.model.hidden_sizes = (32,)
        c.classifier_epochs = 1
        c.classifier_num_train = 2000
        c.num_samples = c.num_real = 256
    for sub in (mlp, conv, v):
        sub.train.progress = arg != "tiny"
    # WGAN-GP (Gulrajani et al. 2017) with the MLP players: the Wasserstein critic, gradient
    # penalty lambda 10, 5 critic updates per G update (each on its own 64 examples),
    # Adam(1e-4, 0.5, 0.9), their MNIST settings; the same 30 passes over the data.
    wgan = ConfigDict(mlp.to_dict())
    wgan.model.pack = 1  # WGAN-GP as published, one sample per critic input
    wgan.model.update(loss="wasserstein", penalty="gp", penalty_weight=10.0, d_steps=5)
    wgan.train.batch_size = 5 * 64
    for opt in (wgan.optimizer, wgan.d_optimizer):
        opt.lr, opt.b1, opt.b2 = 1e-4, 0.5, 0.9
    c.models.wgan_gp_mlp = wgan
    # The command the README's rows name: a run of some entries adds rows, keeping the others.
    c.command = "make gan-mnist"
    c.targets = (
        "the conv GAN below half the VAE's FID",
        "GAN sharper than the VAE, no digit above 0.15",
    )
    if arg == "conv":  # the conv GAN and the VAE alone: the longest entry, rerun on its own
        c.models = ConfigDict({"gan_conv": conv})
    if arg == "wgan_gp":
        c.targets = ("beside the conv GAN of make gan-mnist", "no digit above 0.15")
        c.models = ConfigDict({"gan_mlp": mlp, "wgan_gp_mlp": wgan})
        c.use_vae = False
        c.command = "make gan-mnist-wgan-gp"
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    figs = workdir / "figures"
    figs.mkdir(parents=True, exist_ok=True)
    first = next(iter(config.models.values()))
    key = named_key(jax.random.PRNGKey(first.seed), "gan_mnist")

    # The feature extractor: the repo's digit classifier, trained once and cached here.
    full = data_lib.load(  # every split, with labels
        data_lib.base_config("mnist", num_train=config.classifier_num_train)
    )
    clf = classifier_lib.load_or_train(
        workdir, full, named_key(key, "classifier"), num_epochs=config.classifier_epochs
    )
    judge = ImageJudge(clf, full.test["x"])

    def evaluate(name: str, images: np.ndarray) -> dict:
        return {"model": name, **judge(images)}

    rows = [evaluate("real held-out digits (val)", full.val["x"][: config.num_real])]
    samples = {}
    for name, cfg in config.models.items():
        res = train(cfg, workdir / name, splits=data_lib.load(cfg.dataset))
        state, fam = res.seed_state(0), res.family
        imgs = sample_in_batches(fam.sample, state, named_key(key, name), config.num_samples)
        imgs = data_lib.to_unit(imgs, cfg.dataset)
        samples[name] = imgs
        label = ("WGAN-GP" if cfg.model.loss == "wasserstein" else "GAN") + f" {cfg.model.arch}"
        rows.append(evaluate(label, imgs))
        plotting.image_grid(imgs[:100], figs / f"{name}_samples.png", title=label)
        _interpolation(
            fam, state, named_key(key, name + "/interp"), figs / f"{name}_interp.png", cfg.dataset
        )
    if config.use_vae:
        res = train(config.vae, workdir / "vae", splits=data_lib.load(config.vae.dataset))
        vae_state, vae_key = res.seed_state(0), named_key(key, "vae")
        imgs = sample_in_batches(res.family.sample, vae_state, vae_key, config.num_samples)
        samples["vae"] = imgs
        rows.append(evaluate("VAE (decoder mean)", imgs))
        plotting.image_grid(imgs[:100], figs / "vae_samples.png", title="VAE samples")
    plotting.image_grid(full.val["x"][:100], figs / "real_samples.png", title="real (val)")

    results = [
        result_row(
            "MNIST samples: Frechet distance on the repo classifier's features",
            f"FID vs test (classifier acc {clf.test_accuracy:.3f}): "
            + " / ".join(r["model"] for r in rows),
            " / ".join(f"{r['fid_vs_test']:.1f}" for r in rows),
            config.command,
            f"target: {config.targets[0]}",
        ),
        result_row(
            "MNIST samples: sharpness and class balance",
            "Laplacian variance (higher = sharper) / most frequent predicted digit's share "
            "(0.10 = balanced): " + " / ".join(r["model"] for r in rows),
            " / ".join(f"{r['lap_var']:.3f}, {r['max_class_share']:.3f}" for r in rows),
            config.command,
            f"target: {config.targets[1]}",
        ),
    ]
    extra = {
        "classifier_test_accuracy": clf.test_accuracy,
        "classifier_info": clf.info,
        "headline": f"FID (classifier acc {clf.test_accuracy:.3f}): "
        + ", ".join(f"{r['model']} {r['fid_vs_test']:.1f}" for r in rows),
    }
    intro = [
        "Frechet distance on the 128-d features of the repo's digit classifier (test accuracy "
        f"{clf.test_accuracy:.4f}) against the 10,000 test digits; real held-out validation "
        "digits give the floor. Sharpness: mean gradient magnitude and Laplacian variance "
        "(higher = sharper), fraction of mid-gray pixels in [0.25, 0.75] (higher = blurrier); "
        "`max_class_share` is the most frequent predicted digit's share (0.1 = balanced; high = "
        "mode collapse); `unsure_share` the share of images whose top class probability is "
        "below 0.9 (malformed digits); `max_confident_class_share` the most frequent digit's "
        "share among the others (a surplus that stays here is a favoured mode)."
    ]
    figures = ["figures/real_samples.png"]
    for name in samples:
        figures.append(f"figures/{name}_samples.png")
        if name.startswith("gan"):
            figures.append(f"figures/{name}_interp.png")
    cols = ["model", "fid_vs_test", "grad_mag", "lap_var", "mid_gray"]
    cols += ["max_class_share", "unsure_share", "max_confident_class_share"]
    print(f"classifier test accuracy {clf.test_accuracy:.4f}")
    return experiment.finish(
        workdir,
        "GANs on MNIST, against a VAE",
        rows,
        results,
        intro=intro,
        figures=figures,
        extra=extra,
        columns=cols + ["num_images"],
    )


def _interpolation(
    family, state, key, path: Path, data_cfg, rows: int = 6, steps: int = 10
) -> None:
    """Each row: G along the straight line from z0 to z1 (two noise draws)."""
    k0, k1 = jax.random.split(key)
    z0, z1 = family.noise(k0, rows), family.noise(k1, rows)
    t = np.linspace(0.0, 1.0, steps)
    zs = jax.vmap(lambda a, b: lerp(a, b, t))(z0, z1)  # (rows, steps, latent)
    imgs = np.asarray(jax.jit(family.generate)(state, zs.reshape(rows * steps, -1)))
    imgs = data_lib.to_unit(imgs, data_cfg)
    imgs = imgs.reshape(rows, steps, *imgs.shape[1:])
    plotting.image_rows(list(imgs), [f"z{i}" for i in range(rows)], path)
