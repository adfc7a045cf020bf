"""Anomaly detection, one-class protocol: train on one digit, flag the others.

For each digit d, autoencoders are trained on the training images of d only
(`dataset.classes=(d,)`), `num_seeds` seeds side by side with vmap. Every test image (all ten
digits) is scored by its reconstruction error; the anomalies are the images of the other
nine digits, and the AUROC of the score says how well it ranks them above the normal ones.
Two non-neural baselines get the same protocol: the PCA reconstruction error (k = code
size) and the mean distance to the k nearest training images of d.

Run:
  python -m jaxgen.main --config experiments/ae_anomaly.py --workdir runs/ae_anomaly
  python -m jaxgen.main --config experiments/ae_anomaly.py:quick --workdir runs/ae_anomaly_q
  (make ae-anomaly runs the first)
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np

from jaxgen import data as data_lib
from jaxgen import plotting
from jaxgen.config import ConfigDict
from jaxgen.evaluation import metrics
from jaxgen.families import autoencoder
from jaxgen.models import pca as pca_lib
from jaxgen.report import markdown_table
from jaxgen.results import row as result_row
from jaxgen.train import train
from jaxgen.train.rundir import experiment_dir, write_json


def get_config(arg: str | None = None) -> ConfigDict:
    quick, tiny = arg == "quick", arg == "tiny"
    c = ConfigDict()
    c.digits = tuple(range(10))
    c.ae = autoencoder.config("mnist", code_size=16, hidden_size=256, num_layers=2, loss="bce")
    c.ae.num_seeds = 3  # Trained side by side with vmap.
    c.ae.train.num_epochs = 15
    c.ae.optimizer.lr = 1e-3
    c.knn_k = 5
    c.score_batch = 2000
    if quick:  # ~1 minute: all ten digits, two seeds, short training.
        c.ae.num_seeds = 2
        c.ae.train.num_epochs = 4
        c.ae.model.hidden_size = 128
    if tiny:
        c.digits = (0, 1)
        c.ae.num_seeds = 2
        c.ae.train.num_epochs = 10
        c.ae.train.batch_size = 25
        c.ae.optimizer.lr = 3e-3
        c.ae.train.eval_every_epochs = 10
        c.ae.train.checkpoint_every_steps = 10**9
        c.ae.model.hidden_size = 32
        c.ae.model.code_size = 4
        c.score_batch = 100
    c.ae.train.progress = not tiny
    return c


def _one_class(full: data_lib.Splits, cfg: ConfigDict) -> data_lib.Splits:
    """`full` filtered by `cfg.dataset` (classes) exactly as `data.load` would filter it."""
    copy = dataclasses.replace(full, info=dict(full.info))
    return data_lib._postprocess(copy, cfg.dataset)  # noqa: SLF001 (same semantics, no reload)


def _knn_scores(train_x: jax.Array, test_x: jax.Array, k: int, batch: int) -> np.ndarray:
    """Mean Euclidean distance of each test point to its k nearest training points."""
    sq = jnp.sum(train_x**2, axis=1)

    @jax.jit
    def one(t):
        d2 = jnp.sum(t**2, axis=1)[:, None] + sq[None, :] - 2.0 * t @ train_x.T
        neg, _ = jax.lax.top_k(-d2, k)
        return jnp.mean(jnp.sqrt(jnp.maximum(-neg, 0.0)), axis=1)

    return np.concatenate(
        [np.asarray(one(test_x[i : i + batch])) for i in range(0, len(test_x), batch)]
    )


def _ae_scores(result, x: np.ndarray, batch: int) -> np.ndarray:
    """Reconstruction MSE of every example under every seed: (num_seeds, N), seeds vmapped."""
    fam = result.family

    def err(state, xb):
        return metrics.mse_per_example(xb, fam.reconstruct(state, xb))

    fn = jax.jit(jax.vmap(err, in_axes=(0, None)))
    return np.concatenate(
        [
            np.asarray(fn(result.state, jnp.asarray(x[i : i + batch])))
            for i in range(0, len(x), batch)
        ],
        axis=1,
    )


def run(config: ConfigDict, workdir: str, splits: data_lib.Splits | None = None) -> dict:
    """One-class runs for every digit; AUROC tables, a bar chart and score examples."""
    workdir = experiment_dir(workdir, config)
    full = splits if splits is not None else data_lib.load(config.ae.dataset)
    x_test, y_test = full.test["x"], full.test["y"]
    flat_test = jnp.asarray(x_test.reshape(len(x_test), -1))
    auroc_seeds = jax.jit(jax.vmap(metrics.auroc, in_axes=(0, None)))
    rows, per_seed, examples = [], [], {}
    for d in config.digits:
        cfg = ConfigDict(config.ae.to_dict())
        cfg.dataset.classes = (int(d),)
        cfg.lock()
        one = _one_class(full, cfg)
        res = train(cfg, workdir / f"digit{d}", splits=one)
        labels = jnp.asarray(y_test != d)  # 1 = anomaly (another digit).
        scores = _ae_scores(res, x_test, config.score_batch)
        ae = np.asarray(auroc_seeds(jnp.asarray(scores), labels))
        train_flat = jnp.asarray(one.train["x"].reshape(len(one.train["x"]), -1))
        pca = pca_lib.fit(train_flat, int(cfg.model.code_size))
        pca_scores = metrics.mse_per_example(flat_test, pca.reconstruct(flat_test))
        knn = _knn_scores(train_flat, flat_test, int(config.knn_k), config.score_batch)
        row = {
            "digit": int(d),
            "num_train": len(one.train["x"]),
            "ae_auroc_mean": float(ae.mean()),
            "ae_auroc_std": float(ae.std()),
            "pca_auroc": float(metrics.auroc(pca_scores, labels)),
            "knn_auroc": float(metrics.auroc(jnp.asarray(knn), labels)),
        }
        rows.append(row)
        per_seed.append(ae.tolist())
        examples[int(d)] = scores.mean(0)
        print(markdown_table([row]), flush=True)

    seeds = np.asarray(per_seed)  # (digits, seeds)
    mean_row = {
        "digit": "mean",
        "num_train": int(np.mean([r["num_train"] for r in rows])),
        "ae_auroc_mean": float(seeds.mean()),
        # Spread over seeds of the ten-digit mean: what a rerun with new seeds would move.
        "ae_auroc_std": float(seeds.mean(0).std()),
        "pca_auroc": float(np.mean([r["pca_auroc"] for r in rows])),
        "knn_auroc": float(np.mean([r["knn_auroc"] for r in rows])),
    }
    table_rows = rows + [mean_row]

    figs = workdir / "figures"
    _bar_figure(rows, figs / "auroc_per_digit.png", num_seeds=int(config.ae.num_seeds))
    d0 = int(config.digits[0])
    order = np.argsort(examples[d0])
    n = min(10, len(order) // 2)
    plotting.image_rows(
        [x_test[order[:n]], x_test[order[-n:]]],
        [f"most normal (d={d0})", "most anomalous"],
        figs / f"scores_digit{d0}.png",
    )

    summary = {
        "rows": table_rows,
        "ae_auroc_per_seed": per_seed,
        "num_seeds": int(config.ae.num_seeds),
        "mean_auroc": mean_row,
        "results": [
            result_row(
                f"One-class anomaly detection, MNIST ({len(rows)} digits)",
                f"mean AUROC: AE ({config.ae.num_seeds} seeds) / PCA error / kNN distance",
                f"{mean_row['ae_auroc_mean']:.3f} ± {mean_row['ae_auroc_std']:.3f} / "
                f"{mean_row['pca_auroc']:.3f} / {mean_row['knn_auroc']:.3f}",
                "make ae-anomaly",
            )
        ],
    }
    write_json(workdir / "summary.json", summary)
    table = markdown_table(table_rows)
    (workdir / "results.md").write_text(table)
    (workdir / "report.md").write_text(
        "\n".join(
            [
                "# One-class anomaly detection on MNIST\n",
                f"Train on one digit, score all {len(x_test)} test images by reconstruction "
                f"error, AUROC against 'another digit'. Autoencoder: mean and std over "
                f"{config.ae.num_seeds} seeds trained side by side (vmap). Baselines: PCA "
                f"reconstruction error (k={config.ae.model.code_size}) and mean distance to the "
                f"{config.knn_k} nearest training images.\n",
                table,
                "![auroc](figures/auroc_per_digit.png)\n",
                f"![scores](figures/scores_digit{d0}.png)\n",
                "Reproduce: `python -m jaxgen.main --config experiments/ae_anomaly.py "
                f"--workdir {workdir}`\n",
            ]
        )
    )
    print(table)
    return summary


def _bar_figure(rows: list[dict], path: Path, num_seeds: int) -> None:
    import matplotlib.pyplot as plt

    digits = np.arange(len(rows))
    fig, ax = plt.subplots(figsize=(7, 3.5))
    w = 0.27
    ax.bar(
        digits - w,
        [r["ae_auroc_mean"] for r in rows],
        w,
        yerr=[r["ae_auroc_std"] for r in rows],
        label=f"AE ({num_seeds} seeds)",
    )
    ax.bar(digits, [r["pca_auroc"] for r in rows], w, label="PCA error")
    ax.bar(digits + w, [r["knn_auroc"] for r in rows], w, label="kNN distance")
    ax.set_xticks(digits, [str(r["digit"]) for r in rows])
    ax.set_xlabel("normal digit")
    ax.set_ylabel("AUROC")
    ax.set_ylim(0.5, 1.0)
    ax.legend(loc="lower right", fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
