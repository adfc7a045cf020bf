"""The four autoencoder applications on a toy ten-class image dataset (seconds, no MNIST).

Each experiment's `tiny` config runs end to end on the toy data; the assertions are the
claims each application makes (a denoising AE beats its noisy input, errors fall with code
size, one-class scores separate the classes, codes carry the labels).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from jaxgen.data import Splits
from jaxgen.evaluation import metrics

ROOT = Path(__file__).resolve().parents[1]


def _experiment(name: str):
    spec = importlib.util.spec_from_file_location(
        f"exp_{name}", ROOT / "experiments" / f"{name}.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def toy_digits(n_train: int = 1000, n_test: int = 500, side: int = 16, seed: int = 0) -> Splits:
    """Ten classes of 16x16 images in [0, 1]: a fixed random stroke pattern per class, with
    random contrast, a one-pixel jitter and a little pixel noise."""
    rng = np.random.default_rng(seed)
    protos = np.zeros((10, side, side), np.float32)
    for c in range(10):
        for _ in range(3):  # Three random bars per class.
            r, q = rng.integers(2, side - 2, 2)
            if rng.random() < 0.5:
                protos[c, r - 1 : r + 1, 2 : side - 2] = 1.0
            else:
                protos[c, 2 : side - 2, q - 1 : q + 1] = 1.0

    def make(n):
        y = rng.integers(0, 10, n).astype(np.int32)
        x = protos[y] * rng.uniform(0.6, 1.0, (n, 1, 1))
        shift = rng.integers(-1, 2, (n, 2))
        x = np.stack([np.roll(img, tuple(s), (0, 1)) for img, s in zip(x, shift, strict=True)])
        x = np.clip(x + 0.05 * rng.normal(size=x.shape), 0, 1).astype(np.float32)
        return {"x": x[..., None], "y": y}

    return Splits(
        train=make(n_train), val=make(200), test=make(n_test), info={"name": "toy_digits"}
    )


@pytest.fixture(scope="module")
def toy():
    return toy_digits()


def test_denoising_ae_beats_noisy_input(toy, tmp_path):
    exp = _experiment("ae_denoising")
    s = exp.run(exp.get_config("tiny"), tmp_path, splits=toy)
    for row in s["rows"]:
        assert row["dae_psnr"] > row["noisy_psnr"] + 1.0, row
    assert s["dae_beats_noisy_everywhere"]
    assert (tmp_path / "figures" / "grid_gaussian.png").is_file()
    assert (tmp_path / "report.md").is_file()


def test_compression_error_falls_with_code_size(toy, tmp_path):
    exp = _experiment("ae_compression")
    s = exp.run(exp.get_config("tiny"), tmp_path, splits=toy)
    rows = s["rows"]
    assert [r["code_size"] for r in rows] == [2, 8]
    for name in ("pca", "mlp_ae", "conv_ae"):  # the autoencoders' errors fall too
        assert rows[1][f"{name}_mse"] < rows[0][f"{name}_mse"], (name, rows)
        assert rows[1][f"{name}_psnr"] > rows[0][f"{name}_psnr"], (name, rows)
    for r in rows:
        for name in ("pca", "mlp_ae", "conv_ae"):
            # Mean per-image PSNR >= PSNR of the mean MSE (Jensen: -log is convex).
            assert r[f"{name}_psnr"] >= float(metrics.psnr_from_mse(r[f"{name}_mse"])) - 1e-3
    assert (tmp_path / "figures" / "psnr_vs_code_size.png").is_file()


def test_anomaly_one_class_auroc(toy, tmp_path):
    exp = _experiment("ae_anomaly")
    cfg = exp.get_config("tiny")
    s = exp.run(cfg, tmp_path, splits=toy)
    rows = s["rows"]
    assert [r["digit"] for r in rows] == [0, 1, "mean"]
    for name, m in cfg.models.items():
        assert np.asarray(s["auroc_per_seed"][name]).shape == (2, m.num_seeds)
    for r in rows[:2]:
        # Trained on the images of one class only (dataset.classes=(d,)).
        assert r["num_train"] < 0.2 * len(toy.train["x"])
        assert r["knn"] > 0.9 and r["pca_error"] > 0.7
        for name in cfg.models:
            assert r[f"{name}_relative"] > 0.6 and r[f"{name}_ensemble"] > 0.6
    # The table's mean row is the mean of the digits' rows.
    h = s["chosen"]
    assert rows[2][f"{h}_relative"] == pytest.approx(
        (rows[0][f"{h}_relative"] + rows[1][f"{h}_relative"]) / 2
    )
    # The headline is chosen on the normal digits' own validation images and their flips.
    val = s["validation_auroc"]
    assert set(val) == set(cfg.models) and s["chosen"] == max(val, key=val.get)
    assert all(0.0 <= v <= 1.0 for v in val.values())
    assert (tmp_path / "figures" / "auroc_per_digit.png").is_file()
    assert (tmp_path / "figures" / f"roc_digit{s['hardest_digit']}.png").is_file()


def test_representations_probe_and_regularizers(toy, tmp_path):
    exp = _experiment("ae_representations")
    cfg = exp.get_config("tiny")
    s = exp.run(cfg, tmp_path, splits=toy)
    by = {r["representation"]: r for r in s["rows"]}
    assert set(by) >= {"AE undercomplete", "AE contractive", "AE sparse_kl", "PCA", "raw pixels"}
    for r in by.values():
        assert r["probe_test_acc"] > 0.5  # Ten classes: chance is 0.1.
    # Each regularizer does what it says, measured on the trained encoders.
    assert by["AE contractive"]["jacobian_fro2"] < by["AE undercomplete"]["jacobian_fro2"]
    assert by["AE sparse_kl"]["mean_activation"] < by["AE undercomplete"]["mean_activation"]


@pytest.mark.parametrize("name", ["ae_compression", "ae_denoising", "ae_representations"])
def test_data_without_a_test_split_is_one_data_error_before_training(toy, tmp_path, name):
    import dataclasses

    from jaxgen.errors import DataError

    exp = _experiment(name)
    with pytest.raises(DataError, match="has no test split"):
        exp.run(exp.get_config("tiny"), tmp_path, splits=dataclasses.replace(toy, test=None))
    assert not any(tmp_path.rglob("checkpoints"))  # it stopped before any training
