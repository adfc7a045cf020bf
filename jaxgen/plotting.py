"""Figures for run folders (matplotlib, Agg backend: no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import FuncFormatter  # noqa: E402

if TYPE_CHECKING:
    from collections.abc import Mapping

    import numpy.typing as npt
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure


def _save(fig: Figure, path: Path) -> Path:
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


def scatter_panels(
    points: dict[str, np.ndarray],
    path: Path,
    title: str = "",
    modes: np.ndarray | None = None,
    lims: tuple[float, float] | None = None,
) -> Path:
    """Side-by-side 2-D scatter plots sharing axes, titled by their keys.

    Args:
      points: panel title -> (N, 2) points.
      path: the PNG to write.
      title: the figure's title.
      modes: (M, 2) mode centres drawn as crosses on every panel (a mixture's means).
      lims: both axes' limits; default: matplotlib's.
    """
    n = len(points)
    size = 2.6 if modes is not None else 3.5
    fig, axes = plt.subplots(
        1, n, figsize=(size * n, size), squeeze=False, sharex=True, sharey=True
    )
    for ax, (name, p) in zip(axes[0], points.items(), strict=True):
        if modes is not None:
            ax.scatter(*np.asarray(modes).T, s=30, c="tab:blue", marker="x")
        ax.scatter(p[:, 0], p[:, 1], s=1 if modes is not None else 2, c="tab:orange", alpha=0.5)
        ax.set_title(name, fontsize=8 if modes is not None else None)
        ax.set_aspect("equal")
        if lims is not None:
            ax.set_xlim(*lims)
            ax.set_ylim(*lims)
            ax.set_xticks([])
            ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return _save(fig, path)


def _plain_log_ticks(axis: Axis) -> None:
    """Label a log axis 1, 2, 5, 10, 20, ... in plain numbers (matplotlib's default writes
    every minor tick as 2x10^0, 3x10^0, ..., which overlap on a short axis)."""
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))

    def minor(v: float, _: int | None) -> str:
        lead = round(v / 10 ** np.floor(np.log10(v))) if v > 0 else 0
        return f"{v:g}" if lead in (2, 5) else ""

    axis.set_minor_formatter(FuncFormatter(minor))


def curves(
    series: Mapping[str, tuple[npt.ArrayLike, npt.ArrayLike]],
    path: Path,
    xlabel: str = "step",
    ylabel: str = "",
    logy: bool = False,
    title: str = "",
    *,
    logx: bool = False,
    hlines: dict[str, float] | None = None,
    ylim: tuple[float | None, float | None] | None = None,
    points: dict[str, tuple[float, float]] | None = None,
) -> Path:
    """Line plot of named (x, y) series, e.g. learning curves.

    Args:
      series: name -> (x of shape (T,), y of shape (T,) or (T, S)); a 2-D y is S seeds,
        drawn as their mean with a band from their minimum to their maximum.
      path: the PNG to write.
      xlabel, ylabel, title: the axes' labels and the title.
      logy, logx: logarithmic axes.
      hlines: label -> a level drawn as a dashed horizontal line (a baseline, a bound).
      ylim: (bottom, top) of the y axis, either None for matplotlib's.
      points: label -> (x, y), each drawn as one marker (a final evaluation, say); a label
        "<series name>: ..." takes that series' colour.

    Example:
        >>> import tempfile, numpy as np
        >>> x = np.arange(5)
        >>> p = curves({"seeds": (x, np.stack([x, x + 1], 1))}, tempfile.mkdtemp() + "/c.png",
        ...            hlines={"floor": 0.5}, points={"final": (4, 4.5)})
        >>> p.is_file()
        True
    """
    fig, ax = plt.subplots(figsize=(5, 3.5))
    colors = {}
    for name, (x, y) in series.items():
        y = np.asarray(y)
        if y.ndim == 2:
            line = ax.plot(x, y.mean(1), label=f"{name} (mean of {y.shape[1]})")[0]
            ax.fill_between(x, y.min(1), y.max(1), alpha=0.2, color=line.get_color())
        else:
            line = ax.plot(x, y, label=name)[0]
        colors[name] = line.get_color()
    for name, (x, y) in (points or {}).items():
        color = colors.get(name.split(":")[0])
        ax.plot([x], [y], marker="o", ls="none", label=name, color=color)
    for i, (name, level) in enumerate((hlines or {}).items()):
        ax.axhline(level, color="k" if i == 0 else "gray", ls="--" if i == 0 else ":", label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if logy:
        ax.set_yscale("log")
    if logx:
        ax.set_xscale("log")
        _plain_log_ticks(ax.xaxis)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if title:
        ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def bars(
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    path: Path,
    *,
    errors: dict[str, Sequence[float]] | None = None,
    xlabel: str = "",
    ylabel: str = "",
    ylim: tuple[float, float] | None = None,
) -> Path:
    """Grouped bars: one group per label in `groups`, one bar per series in each.

    Args:
      groups: the groups' tick labels (a digit, a representation).
      series: name -> one value per group.
      path: the PNG to write.
      errors: name -> one error-bar half-height per group, for the series that have them.
      xlabel, ylabel: the axes' labels.
      ylim: the value axis's range.

    Example:
        >>> import tempfile
        >>> p = bars(["0", "1"], {"a": [0.9, 0.8], "b": [0.7, 0.95]},
        ...          tempfile.mkdtemp() + "/b.png", errors={"a": [0.01, 0.02]})
        >>> p.is_file()
        True
    """
    x: np.ndarray = np.arange(len(groups))
    n = len(series)
    w = 0.8 / n
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(groups) * max(1, n / 2)), 3.5))
    for i, (name, values) in enumerate(series.items()):
        err = (errors or {}).get(name)
        ax.bar(x + (i - (n - 1) / 2) * w, values, w, yerr=err, label=name)
        if n == 1:
            for xi, v in zip(x, values, strict=True):
                ax.text(xi, v, f"{v:.3f}", ha="center", va="bottom", fontsize=7)
    slanted = max(map(len, groups)) > 4  # long names would overlap
    ax.set_xticks(
        x, list(groups), rotation=30 if slanted else 0, ha="right" if slanted else "center"
    )
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if ylim is not None:
        ax.set_ylim(*ylim)
    if n > 1:
        ax.legend(loc="lower right", fontsize=8)
    return _save(fig, path)
