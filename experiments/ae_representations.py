"""Representations: a linear probe on the codes of each autoencoder, PCA codes and raw pixels.

Every autoencoder kind of the lecture (undercomplete, sparse with KL and with L1,
contractive, denoising) is trained on MNIST with the same MLP and a code of the same size
(sigmoid code units, so their sparsity and Jacobian norms compare). A multinomial logistic
regression trained in JAX on the frozen training codes is evaluated on the test codes;
PCA codes of the same size and the raw pixels are the baselines. The table also reports what
each regularizer does to the code: the measured sparsity and the encoder's squared Jacobian
norm ||dz/dx||_F^2 (exact, per example, mean over test images).

Run:
  python -m jaxgen.main --config experiments/ae_representations.py --workdir runs/ae_repr
  python -m jaxgen.main --config experiments/ae_representations.py:quick --workdir runs/ae_repr_q
  (make ae-representations runs the first)
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import experiment, plotting
from jaxgen.config import ConfigDict, variant
from jaxgen.evaluation import linear_probe
from jaxgen.families import autoencoder
from jaxgen.models import pca as pca_lib
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.train import train


def get_config(arg: str | None = None) -> ConfigDict:
    quick, tiny = arg == "quick", arg == "tiny"
    c = ConfigDict()
    c.ae = autoencoder.config(
        "mnist", code_size=32, hidden_size=256, num_layers=2, loss="bce", code_activation="sigmoid"
    )
    c.ae.train.num_epochs = 10
    # name -> model overrides on top of c.ae.model.
    c.models = ConfigDict(
        {
            "undercomplete": {"kind": "undercomplete"},
            "sparse_kl": {"kind": "sparse", "sparsity_kl": 3.0, "sparsity_target": 0.05},
            "sparse_l1": {"kind": "sparse", "sparsity_kl": 0.0, "sparsity_l1": 1.0},
            "contractive": {"kind": "contractive", "contractive_weight": 20.0},
            "denoising": {"kind": "denoising", "corruption": "masking", "corruption_level": 0.3},
        }
    )
    c.probe_steps = 500
    c.probe_lr = 0.05
    c.probe_l2 = 1e-4
    c.include_pixels = True
    if quick:
        c.ae.train.num_epochs = 2
        c.ae.dataset.num_train = 10_000
        c.probe_steps = 200
    if tiny:
        c.ae.train.num_epochs = 12
        c.ae.train.batch_size = 50
        c.ae.optimizer.lr = 3e-3
        c.ae.train.eval_every_epochs = 12
        c.ae.train.checkpoint_every_steps = 10**9
        c.ae.model.hidden_size = 32
        c.ae.model.code_size = 8
        c.probe_steps = 100
        for name in ("sparse_l1", "denoising"):
            del c.models[name]
    c.ae.train.progress = not tiny
    return c


def run(config: ConfigDict, workdir: str, splits: data_lib.Splits | None = None) -> dict:
    """Trains each autoencoder, probes its codes, writes the table and the figure."""
    workdir = experiment.start(workdir, config)
    splits = splits if splits is not None else data_lib.load(config.ae.dataset)
    xtr, ytr = splits.train["x"], splits.train["y"]
    test = splits.split("test")
    xte, yte = test["x"], test["y"]
    num_classes = int(max(ytr.max(), yte.max())) + 1
    k = int(config.ae.model.code_size)
    key = jax.random.PRNGKey(0)

    def probe(ftr, fte):
        return linear_probe.fit(
            ftr,
            ytr,
            fte,
            yte,
            key,
            num_classes=num_classes,
            steps=int(config.probe_steps),
            lr=float(config.probe_lr),
            l2=float(config.probe_l2),
        )

    rows = []
    for name, overrides in config.models.items():
        cfg = variant(config.ae, **{f"model.{k}": v for k, v in overrides.items()})
        res = train(cfg, workdir / name, splits=splits)
        fam, state = res.family, res.seed_state(0)
        p = probe(autoencoder.codes(fam, state, xtr), autoencoder.codes(fam, state, xte))
        rep = res.summary["report"]
        rows.append(
            {
                "representation": f"AE {name}",
                "dim": k,
                "probe_test_acc": p.test_accuracy,
                "probe_train_acc": p.train_accuracy,
                "test_mse": res.summary["test"]["mse"],
                "jacobian_fro2": rep["jacobian_fro2"],
                "frac_near_zero": rep["code_frac_near_zero"],
                "mean_activation": rep["code_mean_abs"],
                "hoyer": rep["code_hoyer"],
            }
        )
        print(markdown_table([rows[-1]]), flush=True)

    pca = pca_lib.fit(jnp.asarray(xtr.reshape(len(xtr), -1)), k)
    enc = jax.jit(pca.encode)
    ftr, fte = (
        np.asarray(enc(xtr.reshape(len(xtr), -1))),
        np.asarray(enc(xte.reshape(len(xte), -1))),
    )
    p = probe(ftr, fte)
    flat = jnp.asarray(xte.reshape(len(xte), -1))
    rows.append(
        {
            "representation": "PCA",
            "dim": k,
            "probe_test_acc": p.test_accuracy,
            "probe_train_acc": p.train_accuracy,
            "test_mse": float(jnp.mean((pca.reconstruct(flat) - flat) ** 2)),
            # A linear map: the same Jacobian (the components) for every input.
            "jacobian_fro2": float(jnp.sum(pca.components**2)),
        }
    )
    if config.include_pixels:
        p = probe(xtr, xte)
        rows.append(
            {
                "representation": "raw pixels",
                "dim": int(np.prod(xtr.shape[1:])),
                "probe_test_acc": p.test_accuracy,
                "probe_train_acc": p.train_accuracy,
            }
        )

    figs = workdir / "figures"
    acc = [r["probe_test_acc"] for r in rows]
    plotting.bars(
        [r["representation"] for r in rows],
        {"linear probe": acc},
        figs / "probe_accuracy.png",
        ylabel="linear probe test accuracy",
        ylim=(min(acc) - 0.05, 1.0),
    )
    undercomplete = next((r for r in rows if r["representation"] == "AE undercomplete"), None)
    contractive = next((r for r in rows if r["representation"] == "AE contractive"), None)
    result = result_row(
        "Linear probe on codes, MNIST",
        "test accuracy: " + " / ".join(r["representation"] for r in rows),
        " / ".join(f"{r['probe_test_acc']:.3f}" for r in rows),
        "make ae-representations",
    )
    extra = {}
    if undercomplete and contractive:
        extra["jacobian_ratio_contractive_over_plain"] = (
            contractive["jacobian_fro2"] / undercomplete["jacobian_fro2"]
        )
    intro = [
        f"MNIST; logistic regression trained in JAX ({config.probe_steps} full-batch Adam "
        f"steps, L2 {config.probe_l2}) on standardized training features, accuracy on "
        f"the test set. All autoencoders: the same MLP, {k} sigmoid code units. "
        "`jacobian_fro2` = mean ||dz/dx||_F^2 over test images; `frac_near_zero` = "
        "fraction of code activations below 0.05; `hoyer` = Hoyer sparsity in [0, 1]."
    ]
    return experiment.finish(
        workdir,
        "Representations: linear probes on codes",
        rows,
        [result],
        intro=intro,
        figures=["figures/probe_accuracy.png"],
        extra=extra,
        columns=list(rows[0]),
    )
