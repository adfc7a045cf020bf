"""Compression: reconstruction error (MSE, PSNR) against code size, autoencoders against PCA.

At every code size k, PCA with k components and undercomplete autoencoders (MLP and
convolutional) with a k-dimensional code compress MNIST training images; the table reports
the test-set mean squared error per pixel and the mean per-image PSNR (dB, peak 1).

Run:
  python -m jaxgen.main --config experiments/ae_compression.py --workdir runs/ae_compression
  python -m jaxgen.main --config experiments/ae_compression.py:quick --workdir runs/ae_compression_q
  (make ae-compression runs the first)
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict, variant
from jaxgen.evaluation import metrics
from jaxgen.families import autoencoder
from jaxgen.models import pca as pca_lib
from jaxgen.results import row as result_row
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick, tiny = arg == "quick", arg == "tiny"
    c = ConfigDict()
    c.code_sizes = (2, 4, 8, 16, 32, 64)
    c.archs = ("mlp", "conv")
    # Code sizes the conv AE trains at (a subset of code_sizes; empty = all): a conv step
    # costs ~0.3 s on 2 cores against ~15 ms for the MLP, so the full run samples the curve.
    c.conv_code_sizes = (2, 4, 32)
    c.mlp = autoencoder.config("mnist", code_size=32, hidden_size=512, num_layers=2, loss="bce")
    c.mlp.train.num_epochs = 10
    c.conv = autoencoder.config("mnist", arch="conv", code_size=32, loss="bce")
    c.conv.model.conv_features = (32, 64)
    # 1,170 steps a size. On one core (taskset, single-threaded XLA; 2026-12-07) a conv step
    # took 1.15 s, 15-17 min a size, and the MLP 2 min a size: about 1 h in all.
    c.conv.train.num_epochs = 3
    if quick:  # ~1 minute: MLP only, fewer sizes, a fifth of the data.
        c.code_sizes = (4, 16, 64)
        c.archs = ("mlp",)
        c.mlp.train.num_epochs = 3
        c.mlp.model.hidden_size = 256
        c.mlp.dataset.num_train = 10_000
    if tiny:  # For tests, on whatever small image data the test passes.
        c.code_sizes = (2, 8)
        c.conv_code_sizes = ()
        for sub in (c.mlp, c.conv):
            sub.train.num_epochs = 4
            sub.train.batch_size = 50
            sub.optimizer.lr = 3e-3
            sub.train.eval_every_epochs = 4
            sub.train.checkpoint_every_steps = 10**9
        c.mlp.model.hidden_size = 64
        c.conv.model.conv_features = (8, 16)
    for sub in (c.mlp, c.conv):
        sub.train.progress = not tiny
        sub.dataset.num_train = sub.dataset.num_train or c.mlp.dataset.num_train
    return c


def _pca_row(x_train: np.ndarray, x_test: np.ndarray, k: int) -> dict:
    p = pca_lib.fit(jnp.asarray(x_train.reshape(len(x_train), -1)), k)
    flat = jnp.asarray(x_test.reshape(len(x_test), -1))
    rec = jnp.clip(p.reconstruct(flat), 0.0, 1.0)  # Pixel range is known: free improvement.
    return {
        "pca_mse": float(jnp.mean(metrics.mse_per_example(flat, rec))),
        "pca_psnr": float(jnp.mean(metrics.psnr(flat, rec))),
        "pca": p,
    }


def run(config: ConfigDict, workdir: str, splits: data_lib.Splits | None = None) -> dict:
    """Trains the sweep and writes the table, figures and report; returns the summary."""
    workdir = experiment.start(workdir, config)
    splits = splits if splits is not None else data_lib.load(config.mlp.dataset)
    x_train, x_test = splits.train["x"], splits.split("test")["x"]
    models = {}

    def measure(k: int) -> dict:
        pca_row = _pca_row(x_train, x_test, int(k))
        row = {"code_size": int(k), "pca_mse": pca_row["pca_mse"], "pca_psnr": pca_row["pca_psnr"]}
        models[(k, "pca")] = pca_row["pca"]
        for arch in config.archs:
            if arch == "conv" and config.conv_code_sizes and k not in config.conv_code_sizes:
                row[f"{arch}_ae_mse"] = row[f"{arch}_ae_psnr"] = float("nan")  # not trained
                continue
            res = train(
                variant(config[arch], **{"model.code_size": int(k)}),
                workdir / f"{arch}_code{k}",
                splits=splits,
            )
            row[f"{arch}_ae_mse"] = res.summary["test"]["mse"]
            row[f"{arch}_ae_psnr"] = res.summary["test"]["psnr"]
            models[(k, arch)] = res
        return row

    rows = experiment.each(config.code_sizes, measure)

    figs = workdir / "figures"
    names = [("pca", "PCA")] + [(f"{a}_ae", f"{a.upper()} AE") for a in config.archs]
    ks = np.array([r["code_size"] for r in rows])
    for metric, logy, label in (("mse", True, "test MSE per pixel"), ("psnr", False, "PSNR (dB)")):
        plotting.curves(
            {title: (ks, np.array([r[f"{n}_{metric}"] for r in rows])) for n, title in names},
            figs / f"{metric}_vs_code_size.png",
            xlabel="code size",
            ylabel=label,
            logy=logy,
            title=f"MNIST test: {metric.upper()} against code size",
        )
    every_arch = [k for k in config.code_sizes if all((k, a) in models for a in config.archs)]
    k = every_arch[len(every_arch) // 2]
    x = x_test[:10]
    recs = [
        x,
        np.asarray(
            np.clip(models[(k, "pca")].reconstruct(jnp.asarray(x.reshape(10, -1))), 0, 1)
        ).reshape(x.shape),
    ]
    for arch in config.archs:
        res = models[(k, arch)]
        recs.append(np.asarray(res.family.reconstruct(res.seed_state(0), jnp.asarray(x))))
    labels = ["test", f"PCA k={k}"] + [f"{a} AE k={k}" for a in config.archs]
    plotting.image_rows(recs, labels, figs / "reconstructions.png")

    names = ["PCA"] + [f"{a} AE" for a in config.archs]
    results = [
        result_row(
            "Compression, MNIST test",
            f"PSNR dB, code {r['code_size']}: " + " / ".join(names),
            " / ".join(
                f"{r[n + '_psnr']:.1f}" for n in ["pca"] + [f"{a}_ae" for a in config.archs]
            ),
            "make ae-compression",
        )
        for r in rows
        if r["code_size"] in (4, 32)
    ]
    intro = [
        "MNIST test set; MSE per pixel and mean per-image PSNR (dB, peak 1). PCA and the "
        "autoencoders get the same code size."
    ]
    figures = [
        f"figures/{f}.png" for f in ("mse_vs_code_size", "psnr_vs_code_size", "reconstructions")
    ]
    title = "Compression: reconstruction error against code size"
    return experiment.finish(workdir, title, rows, results, intro=intro, figures=figures)
