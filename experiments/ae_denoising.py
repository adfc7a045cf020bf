"""Denoising: PSNR of the noisy input, its PCA projection, a plain AE and a denoising AE.

For each noise model (Gaussian, masking, salt-and-pepper) and level, a denoising autoencoder
is trained on MNIST to map corrupted images back to the clean ones. On the test set,
corrupted with a fixed key, the table compares the PSNR (dB, peak 1, mean over images) of
the noisy input itself, of its projection on the top-k PCA subspace (k = code size), of a
plain autoencoder trained on clean images, and of the denoising autoencoder.

Run:
  python -m jaxgen.main --config experiments/ae_denoising.py --workdir runs/ae_denoising
  python -m jaxgen.main --config experiments/ae_denoising.py:quick --workdir runs/ae_denoising_q
  (make ae-denoising runs the first)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import corruption, experiment, plotting
from jaxgen import data as data_lib
from jaxgen.config import ConfigDict, variant
from jaxgen.evaluation import metrics
from jaxgen.families import autoencoder
from jaxgen.models import pca as pca_lib
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.sampling import named_key
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick, tiny = arg == "quick", arg == "tiny"
    c = ConfigDict()
    # (noise model, level): a Gaussian std, or the masking / salt-and-pepper rate.
    c.noise = (
        ("gaussian", 0.2),
        ("gaussian", 0.4),
        ("gaussian", 0.6),
        ("masking", 0.25),
        ("masking", 0.5),
        ("salt_and_pepper", 0.1),
        ("salt_and_pepper", 0.25),
    )
    c.ae = autoencoder.config("mnist", code_size=32, hidden_size=512, num_layers=2, loss="bce")
    c.ae.train.num_epochs = 10
    c.seed = 0  # The test-set corruption key.
    c.num_grid = 8  # Test digits in the figure.
    if quick:  # ~2 minutes.
        c.noise = (("gaussian", 0.3), ("gaussian", 0.5), ("masking", 0.5))
        c.ae.train.num_epochs = 5
        c.ae.model.hidden_size = 256
        c.ae.dataset.num_train = 20_000
    if tiny:
        c.noise = (("gaussian", 0.4),)
        c.ae.train.num_epochs = 10
        c.ae.optimizer.lr = 3e-3
        c.ae.train.eval_every_epochs = 10
        c.ae.train.checkpoint_every_steps = 10**9
        c.ae.train.batch_size = 50
        c.ae.model.hidden_size = 64
        c.ae.model.code_size = 8
        c.ae.dataset.num_train = 2000  # The demo's smoke test on MNIST; tests pass toy data.
        c.ae.dataset.num_test = 500
        c.num_grid = 4
    c.ae.train.progress = not tiny
    return c


def run(config: ConfigDict, workdir: str, splits: data_lib.Splits | None = None) -> dict:
    """Trains the plain AE and one denoising AE per noise setting; writes tables and figures."""
    workdir = experiment.start(workdir, config)
    splits = splits if splits is not None else data_lib.load(config.ae.dataset)
    x_train, x_test = splits.train["x"], splits.split("test")["x"]
    shape = x_test.shape
    k = int(config.ae.model.code_size)
    pca = pca_lib.fit(jnp.asarray(x_train.reshape(len(x_train), -1)), k)

    def pca_denoise(x):
        rec = pca.reconstruct(jnp.asarray(x.reshape(len(x), -1)))
        return np.asarray(jnp.clip(rec, 0.0, 1.0)).reshape(x.shape)

    plain = train(variant(config.ae), workdir / "plain_ae", splits=splits)
    test_key = named_key(jax.random.PRNGKey(config.seed), "test_corruption")
    clean = jnp.asarray(x_test)
    rows, grids = [], {}
    for kind, level in config.noise:
        level = float(level)
        name = f"{kind}_{level:g}"
        dae = train(
            variant(
                config.ae,
                **{"model.kind": "denoising", "model.corruption": kind},
                **{"model.corruption_level": level},
            ),
            workdir / f"dae_{name}",
            splits=splits,
        )
        noisy = np.asarray(
            corruption.corrupt(jax.random.fold_in(test_key, len(rows)), clean, kind, level)
        )
        outs = {
            "noisy": noisy,
            "pca": pca_denoise(noisy),
            "plain_ae": autoencoder.reconstructions(plain.family, plain.seed_state(0), noisy),
            "dae": autoencoder.reconstructions(dae.family, dae.seed_state(0), noisy),
        }
        row = {"corruption": kind, "level": level}
        row.update({f"{n}_psnr": float(jnp.mean(metrics.psnr(clean, o))) for n, o in outs.items()})
        row["dae_gain_db"] = row["dae_psnr"] - row["noisy_psnr"]
        rows.append(row)
        grids[name] = outs
        print(markdown_table([row]), flush=True)

    figs = workdir / "figures"
    g = int(config.num_grid)
    for kind in dict.fromkeys(kind for kind, _ in config.noise):
        img_rows, labels = [], []
        for kk, level in config.noise:
            if kk != kind:
                continue
            outs = grids[f"{kind}_{float(level):g}"]
            img_rows += [outs["noisy"][:g], outs["pca"][:g], outs["plain_ae"][:g], outs["dae"][:g]]
            labels += [f"noisy {level:g}", "PCA", "plain AE", "denoising AE"]
        img_rows.append(x_test[:g])
        labels.append("clean")
        plotting.image_rows(img_rows, labels, figs / f"grid_{kind}.png")
    series = {}
    for kind in dict.fromkeys(kind for kind, _ in config.noise):
        rs = [r for r in rows if r["corruption"] == kind]
        lv = np.array([r["level"] for r in rs])
        for n, title in (("noisy", "noisy"), ("pca", "PCA"), ("plain_ae", "AE"), ("dae", "DAE")):
            series[f"{kind}: {title}"] = (lv, np.array([r[f"{n}_psnr"] for r in rs]))
    plotting.curves(series, figs / "psnr_vs_level.png", xlabel="noise level", ylabel="PSNR (dB)")

    extra = {
        "plain_ae_clean_psnr": plain.summary["test"]["psnr"],
        "dae_beats_noisy_everywhere": all(r["dae_psnr"] > r["noisy_psnr"] for r in rows),
        "dae_beats_plain_ae_everywhere": all(r["dae_psnr"] > r["plain_ae_psnr"] for r in rows),
        "image_shape": list(shape[1:]),
    }
    results = [
        result_row(
            "Denoising, MNIST test",
            f"PSNR dB, {r['corruption']} {r['level']:g}: noisy / PCA / AE / denoising AE",
            " / ".join(f"{r[n + '_psnr']:.1f}" for n in ("noisy", "pca", "plain_ae", "dae")),
            "make ae-denoising",
        )
        for r in rows
        if r["level"] == max(x["level"] for x in rows if x["corruption"] == r["corruption"])
    ]
    intro = [
        f"MNIST test set, PSNR in dB (peak 1, mean over images). PCA keeps {k} components; "
        f"both autoencoders have a code of size {k}. The plain AE was trained on clean images "
        f"(clean-input PSNR {extra['plain_ae_clean_psnr']:.2f} dB)."
    ]
    notes = [
        f"Denoising AE beats the noisy input everywhere: {extra['dae_beats_noisy_everywhere']}; "
        f"beats the plain AE everywhere: {extra['dae_beats_plain_ae_everywhere']}."
    ]
    kinds = dict.fromkeys(k for k, _ in config.noise)
    figures = ["figures/psnr_vs_level.png", *(f"figures/grid_{kind}.png" for kind in kinds)]
    return experiment.finish(
        workdir,
        "Denoising autoencoders",
        rows,
        results,
        intro=intro,
        notes=notes,
        figures=figures,
        extra=extra,
    )
