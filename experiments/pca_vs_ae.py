"""PCA against the undercomplete autoencoder: reconstruction error against code size.

The lecture: PCA is linear and fails on the ferris wheel, a one-parameter nonlinear manifold
(the wheel's phase); an autoencoder's nonlinear code of size 1 captures it. On MNIST test,
the same comparison across code sizes.

Run:
  python -m jaxgen.main --config experiments/pca_vs_ae.py --workdir runs/pca_vs_ae
  python -m jaxgen.main --config experiments/pca_vs_ae.py:quick --workdir runs/pca_quick
  (make pca-vs-ae runs the first)
"""

from __future__ import annotations

from pathlib import Path

import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict, variant
from jaxgen.families import autoencoder
from jaxgen.models import pca as pca_lib
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick = arg in ("quick", "tiny")
    c = ConfigDict()
    c.code_sizes_ferris = (1, 2, 4, 6)
    c.code_sizes_mnist = (2, 8, 32) if quick else (2, 4, 8, 16, 32, 64)
    c.ferris = autoencoder.config(
        "ferris_wheel", code_size=1, hidden_size=128, num_layers=2, activation="tanh", loss="mse"
    )
    c.ferris.dataset.num_points = 10_000
    c.ferris.train.num_epochs = 60 if quick else 150
    c.ferris.train.batch_size = 100
    c.ferris.optimizer.lr = 3e-3
    c.ferris.optimizer.schedule = "cosine"
    c.mnist = autoencoder.config("mnist", code_size=32, hidden_size=512, num_layers=2, loss="bce")
    c.mnist.train.num_epochs = 3 if quick else 20
    c.mnist.optimizer.lr = 1e-3
    c.skip_mnist = False
    if arg == "tiny":  # For tests: seconds, not minutes.
        c.code_sizes_ferris = (1, 6)
        c.ferris.train.num_epochs = 30
        c.ferris.dataset.num_points = 4000
        c.ferris.train.checkpoint_every_steps = 10**9  # at the end only: saves cost seconds
        c.skip_mnist = True
    for sub in (c.ferris, c.mnist):
        sub.train.progress = arg not in ("tiny",)
    return c


def _pca_error(x_train: np.ndarray, x_test: np.ndarray, k: int) -> tuple[float, object]:
    p = pca_lib.fit(x_train.reshape(len(x_train), -1), k)
    flat = jnp.asarray(x_test.reshape(len(x_test), -1))
    return float(jnp.mean((p.reconstruct(flat) - flat) ** 2)), p


def _sweep(name: str, cfg: ConfigDict, sizes, workdir: Path) -> tuple[list[dict], dict]:
    splits = data_lib.load(cfg.dataset)
    x_train, x_test = splits.train["x"], splits.split("test")["x"]
    rows, models = [], {}
    for k in sizes:
        pca_err, p = _pca_error(x_train, x_test, k)
        result = train(
            variant(cfg, **{"model.code_size": int(k)}),
            workdir / f"{name}_ae_code{k}",
            splits=splits,
        )
        ae_err = result.summary["test"]["mse"]
        rows.append(
            {
                "dataset": name,
                "code_size": int(k),
                "pca_mse": pca_err,
                "ae_mse": ae_err,
                "pca_explained_var": float(p.explained_variance_ratio.sum()),
            }
        )
        models[k] = (p, result)
    return rows, {"splits": splits, "models": models}


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = experiment.start(workdir, config)
    rows, ferris = _sweep("ferris_wheel", config.ferris, config.code_sizes_ferris, workdir)
    mnist = None
    if not config.skip_mnist:
        mnist_rows, mnist = _sweep("mnist", config.mnist, config.code_sizes_mnist, workdir)
        rows += mnist_rows

    by = {(r["dataset"], r["code_size"]): r for r in rows}
    ae1, pca1 = by[("ferris_wheel", 1)]["ae_mse"], by[("ferris_wheel", 1)]["pca_mse"]
    noise_var = config.ferris.dataset.noise**2
    claim = {
        "ferris_ae_code1_mse": ae1,
        "ferris_pca_code1_mse": pca1,
        "ferris_pca_code6_mse": by.get(("ferris_wheel", 6), {}).get("pca_mse"),
        "noise_floor_mse": noise_var,
        "pca_over_ae_at_code1": pca1 / ae1,
        # The lecture's claim: one nonlinear coordinate suffices, one linear one does not.
        "claim_holds": bool(ae1 < 0.1 * pca1),
    }
    figs = workdir / "figures"
    figs.mkdir(exist_ok=True)
    plotting.error_vs_code_size(rows, figs / "error_vs_code_size.png")
    _ferris_figure(ferris, figs / "ferris_wheel_code1.png")
    if mnist is not None:
        k = sorted(mnist["models"])[len(mnist["models"]) // 2]
        p, res = mnist["models"][k]
        x = mnist["splits"].test["x"][:10]
        ae_rec = autoencoder.make_family(res.config).reconstruct(res.seed_state(0), x)
        pca_rec = p.reconstruct(jnp.asarray(x.reshape(10, -1))).reshape(x.shape)
        plotting.image_rows(
            [x, np.asarray(pca_rec), np.asarray(ae_rec)],
            ["test", f"PCA k={k}", f"AE k={k}"],
            figs / "reconstructions.png",
        )
    headline = (
        f"ferris wheel, code 1: AE MSE {ae1:.2g} vs PCA {pca1:.2g} "
        f"({pca1 / ae1:.0f}x better); lecture's claim holds: {claim['claim_holds']}"
    )
    cmd = "make pca-vs-ae"
    results = [
        {
            "experiment": "PCA vs AE, ferris wheel",
            "metric": f"test MSE, code {r['code_size']}: AE / PCA",
            "published": "",
            "ours": f"{r['ae_mse']:.3g} / {r['pca_mse']:.3g}",
            "command": cmd,
        }
        for r in rows
        if r["dataset"] == "ferris_wheel" and r["code_size"] == 1
    ] + [
        {
            "experiment": "PCA vs AE, MNIST",
            "metric": f"test MSE, code {r['code_size']}: AE / PCA",
            "published": "",
            "ours": f"{r['ae_mse']:.3g} / {r['pca_mse']:.3g}",
            "command": cmd,
        }
        for r in rows
        if r["dataset"] == "mnist" and r["code_size"] in (8, 32)
    ]
    notes = [
        "## The lecture's claim\n",
        f"On the ferris wheel a code of size 1 gives the AE an error of "
        f"{claim['ferris_ae_code1_mse']:.4g} against PCA's {claim['ferris_pca_code1_mse']:.4g} "
        f"({claim['pca_over_ae_at_code1']:.1f}x; noise floor {claim['noise_floor_mse']:.1g}). "
        f"Claim holds: **{claim['claim_holds']}**.",
    ]
    figures = ["figures/error_vs_code_size.png", "figures/ferris_wheel_code1.png"]
    if (workdir / "figures" / "reconstructions.png").exists():
        figures.append("figures/reconstructions.png")
    summary = experiment.finish(
        workdir,
        "PCA against the autoencoder",
        rows,
        results,
        intro=["Reconstruction mean squared error per feature on the test split."],
        notes=notes,
        figures=figures,
        extra={"claim": claim, "headline": headline},
    )
    print(
        f"ferris wheel, code 1: AE mse {ae1:.4g} vs PCA mse {pca1:.4g} "
        f"({pca1 / ae1:.1f}x); claim holds: {claim['claim_holds']}"
    )
    return summary


def _ferris_figure(sweep: dict, path: Path) -> None:
    """Test points and their code-1 reconstructions, seen in the top-2 PCA plane."""
    p1, res = sweep["models"][1]
    x = sweep["splits"].test["x"]
    fam = autoencoder.make_family(res.config)
    ae_rec = np.asarray(fam.reconstruct(res.seed_state(0), x))
    view = pca_lib.fit(jnp.asarray(x), 2)
    pts = {
        name: np.asarray(view.encode(jnp.asarray(v)))
        for name, v in (
            ("data", x),
            ("PCA, code 1", np.asarray(p1.reconstruct(jnp.asarray(x)))),
            ("AE, code 1", ae_rec),
        )
    }
    plotting.scatter_panels(pts, path, title="Ferris wheel in its top-2 PCA plane")
