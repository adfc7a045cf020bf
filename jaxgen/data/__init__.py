"""Datasets as in-memory arrays: MNIST offline through TFDS, any TFDS catalogue dataset by
name (`tfds:fashion_mnist`), and synthetic datasets generated from a seed.

Every loader returns `Splits`: dicts of NumPy arrays with an image/feature array `x` (float32)
and, where there are labels, `y` (int32). The loop puts them on the device once.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, cast

import numpy as np
from ml_collections import ConfigDict

from jaxgen.data.splits import Batch, Splits
from jaxgen.errors import ConfigError

if TYPE_CHECKING:
    import jax

# name -> "module:function"; the function takes the dataset ConfigDict and returns Splits.
# A family issue adds its datasets here (one line each).
REGISTRY: dict[str, str] = {
    "mnist": "jaxgen.data.loaders:mnist",
    "ferris_wheel": "jaxgen.data.synthetic:ferris_wheel",
    "blobs": "jaxgen.data.synthetic:blobs",
    "adding": "jaxgen.data.sequences:adding",
    "copy_memory": "jaxgen.data.sequences:copy_memory",
    "seq2seq_digits": "jaxgen.data.sequences:seq2seq",
    "stdlib_chars": "jaxgen.data.text:stdlib_chars",
    "stdlib_sequences": "jaxgen.data.stdlib_sequences:stdlib_sequences",
    "gmm1d": "jaxgen.data.mixtures:gmm1d",
    "ring8": "jaxgen.data.mixtures:ring8",
    "grid25": "jaxgen.data.mixtures:grid25",
}


def base_config(name: str = "mnist", **overrides: Any) -> ConfigDict:
    """The dataset group every config carries; loaders ignore keys they do not use."""
    cfg = ConfigDict(
        {
            "name": name,
            "binarize": "none",  # none | static | dynamic (fresh Bernoulli draw per use)
            "scale": "unit",  # unit: pixels in [0, 1] | symmetric: 2x - 1, in [-1, 1] (tanh G)
            "classes": (),  # keep only these labels in train/val (one-class protocols)
            "num_train": 0,  # 0 = all; a cap for quick runs and tests
            "num_test": 0,  # 0 = all
            "seed": 0,  # synthetic data and static binarization
            "num_points": 10_000,  # synthetic datasets
            "dim": 10,  # synthetic datasets: ambient dimension
            "noise": 0.01,  # synthetic datasets: observation noise std
            "data_dir": "",  # TFDS data dir; "" = TFDS_DATA_DIR or TFDS's default
        }
    )
    cfg.update(overrides)
    return cfg


def load(cfg: ConfigDict) -> Splits:
    """Loads the dataset named by `cfg.name` and applies the generic options."""
    name = cfg.name
    if name.startswith("tfds:"):
        from jaxgen.data import loaders

        splits = loaders.tfds_catalog(cfg)
    else:
        if name not in REGISTRY:
            import difflib

            close = difflib.get_close_matches(name, REGISTRY, n=3)
            hint = f" (did you mean {', '.join(close)}?)" if close else ""
            raise ConfigError(
                f"unknown dataset {name!r}{hint}; known: {', '.join(sorted(REGISTRY))}, "
                f"or tfds:NAME"
            )
        module, fn = REGISTRY[name].split(":")
        splits = getattr(importlib.import_module(module), fn)(cfg)
    splits.info.setdefault("name", name)
    return _postprocess(splits, cfg)


def _subset(batch: Batch | None, mask_or_n: np.ndarray | slice) -> Batch | None:
    if batch is None:
        return None
    return {k: v[mask_or_n] for k, v in batch.items()}


def filter_classes(splits: Splits, classes: Iterable[int]) -> Splits:
    """A copy of `splits` whose train and val keep only the labels in `classes`; the test
    split keeps every class (one-class protocols score the others as anomalies).

    What `dataset.classes` does in `load`, for a split already loaded with every class: one
    read serves a run per class.

    Raises:
      ConfigError: no training example has one of `classes`.
    """
    import dataclasses

    keep = tuple(int(c) for c in classes)
    out = dataclasses.replace(splits, info=dict(splits.info))
    for name in ("train", "val"):
        data = getattr(out, name)
        if data is not None and "y" in data:
            setattr(out, name, _subset(data, np.isin(data["y"], keep)))
    if len(out.train["x"]) == 0:
        raise ConfigError(f"dataset.classes={keep} leaves no training data")
    return out


def _postprocess(splits: Splits, cfg: ConfigDict) -> Splits:
    if cfg.get("classes"):
        splits = filter_classes(splits, cfg.classes)
    if cfg.get("num_train"):
        splits.train = cast(Batch, _subset(splits.train, slice(0, int(cfg.num_train))))
    if cfg.get("num_test"):
        for name in ("val", "test"):
            setattr(splits, name, _subset(getattr(splits, name), slice(0, int(cfg.num_test))))
    mode = cfg.get("binarize", "none")
    if mode not in ("none", "static", "dynamic"):
        raise ConfigError(f"dataset.binarize must be none, static or dynamic, got {mode!r}")
    if mode != "none":
        # Static: one fixed draw for every split. Dynamic: fresh draws for training happen in
        # the train step (see `batch_transform`); evaluation uses one fixed draw, as is usual.
        rng = np.random.default_rng(int(cfg.get("seed", 0)) + 7919)
        for name in ("train", "val", "test"):
            data = getattr(splits, name)
            if data is None or (mode == "dynamic" and name == "train"):
                continue
            x = data["x"]
            data = dict(data, x=(rng.random(x.shape, dtype=np.float32) < x).astype(np.float32))
            setattr(splits, name, data)
    scale = cfg.get("scale", "unit")
    if scale not in ("unit", "symmetric"):
        raise ConfigError(f"dataset.scale must be unit or symmetric, got {scale!r}")
    if scale == "symmetric":
        if mode == "dynamic":
            raise ConfigError("dataset.scale=symmetric does not combine with binarize=dynamic")
        for name in ("train", "val", "test"):
            data = getattr(splits, name)
            if data is not None:
                setattr(splits, name, dict(data, x=2.0 * data["x"] - 1.0))
    splits.info.update(
        scale=scale,
        binarize=mode,
        shape=tuple(splits.train["x"].shape[1:]),
        num_train=len(splits.train["x"]),
    )
    return splits


def to_unit(x: np.ndarray | jax.Array, cfg: ConfigDict) -> np.ndarray | jax.Array:
    """Undoes `dataset.scale`: data or samples back in [0, 1], for figures and metrics."""
    return (x + 1.0) / 2.0 if cfg.get("scale", "unit") == "symmetric" else x


def batch_transform(
    cfg: ConfigDict,
) -> Callable[[dict[str, jax.Array], jax.Array], dict[str, jax.Array]] | None:
    """The per-step transform of a training batch implied by the dataset config, or None."""
    if cfg.get("binarize", "none") != "dynamic":
        return None
    from jaxgen.sampling import bernoulli_binarize

    return lambda batch, key: dict(batch, x=bernoulli_binarize(key, batch["x"]))
