"""Figures for run folders (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def _save(fig, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def _as_image(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim == 1:
        side = int(round(np.sqrt(x.size)))
        x = x.reshape(side, side)
    if x.ndim == 3 and x.shape[-1] == 1:
        x = x[..., 0]
    return np.clip(x, 0.0, 1.0)


def image_grid(images: np.ndarray, path: Path, ncols: int = 10, title: str = "") -> Path:
    """A grid of images (N, H, W[, 1]) or flat square images (N, H*W)."""
    images = np.asarray(images)
    n = len(images)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(ncols * 0.9, nrows * 0.9), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(_as_image(images[i]), cmap="gray", vmin=0, vmax=1)
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def image_rows(rows: Sequence[np.ndarray], labels: Sequence[str], path: Path) -> Path:
    """Rows of images with a label each, e.g. input / reconstruction / target."""
    ncols = len(rows[0])
    fig, axes = plt.subplots(
        len(rows), ncols, figsize=(ncols * 0.9, len(rows) * 1.0), squeeze=False
    )
    for r, (imgs, label) in enumerate(zip(rows, labels, strict=True)):
        for c in range(ncols):
            ax = axes[r, c]
            ax.set_xticks([])
            ax.set_yticks([])
            ax.imshow(_as_image(imgs[c]), cmap="gray", vmin=0, vmax=1)
        axes[r, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=8)
    return _save(fig, path)


def error_vs_code_size(rows: list[dict], path: Path) -> Path:
    """One panel per dataset: PCA and AE reconstruction error against code size."""
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    fig, axes = plt.subplots(1, len(datasets), figsize=(4.5 * len(datasets), 3.5), squeeze=False)
    for ax, name in zip(axes[0], datasets, strict=True):
        rs = [r for r in rows if r["dataset"] == name]
        ks = [r["code_size"] for r in rs]
        ax.plot(ks, [r["pca_mse"] for r in rs], "o-", label="PCA")
        ax.plot(ks, [r["ae_mse"] for r in rs], "s-", label="autoencoder")
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("code size")
        ax.set_ylabel("test MSE per feature")
        ax.set_title(name)
        ax.legend()
    return _save(fig, path)


def scatter_panels(points: dict[str, np.ndarray], path: Path, title: str = "") -> Path:
    """Side-by-side 2-D scatter plots sharing axes."""
    fig, axes = plt.subplots(
        1, len(points), figsize=(3.5 * len(points), 3.5), squeeze=False, sharex=True, sharey=True
    )
    for ax, (name, p) in zip(axes[0], points.items(), strict=True):
        ax.scatter(p[:, 0], p[:, 1], s=2, alpha=0.5)
        ax.set_title(name)
        ax.set_aspect("equal")
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def curves(
    series: dict[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    xlabel: str = "step",
    ylabel: str = "",
    logy: bool = False,
    title: str = "",
) -> Path:
    """Line plot of named (x, y) series, e.g. learning curves."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for name, (x, y) in series.items():
        ax.plot(x, y, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if title:
        ax.set_title(title)
    ax.legend()
    return _save(fig, path)
