"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
# Tests train many tiny runs with identical programs: a compilation cache shared by the
# session (and its CLI subprocesses) compiles each program once. Set before jax is imported.
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    _CACHE = tempfile.mkdtemp(prefix="jaxgen-xla-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _CACHE
else:
    _CACHE = None
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
# The suite compiles hundreds of tiny programs and runs each for moments: LLVM's code
# optimizations cost more than they save there (they took half of a public-API test's CPU
# time). XLA's graph passes, its fusions included, still run; `test_numerics.py` runs the
# reference checks again at the default level, as users' runs compile.
_flags = os.environ.get("XLA_FLAGS", "")
if "JAXGEN_TESTS_DEFAULT_OPTIMIZATION" not in os.environ and "backend_optimization" not in _flags:
    os.environ["XLA_FLAGS"] = (_flags + " --xla_backend_optimization_level=0").strip()
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


# The longest tests (subprocesses that start jax many times) are handed out first: xdist
# gives the rest to whichever worker is free, so no long test ends the run alone.
FIRST = ("test_multiprocess.py", "test_numerics.py", "test_demo.py")


def pytest_collection_modifyitems(config, items):
    items.sort(key=lambda item: item.path.name not in FIRST)


def pytest_sessionfinish(session, exitstatus):
    if _CACHE is not None:
        import shutil

        shutil.rmtree(_CACHE, ignore_errors=True)


def assert_stdlib_split(files: dict[str, list[str]]) -> None:
    """Every stdlib corpus file sits in exactly one split, none empty.

    Which file lands where depends on the interpreter's standard library, so the tests check
    the partition, not particular names.
    """
    from jaxgen.data import text

    names = {f.name for f in text.stdlib_files()}
    splits = [set(files[s]) for s in ("train", "val", "test")]
    assert all(splits) and set.union(*splits) == names
    assert sum(map(len, splits)) == len(names)


def copy_prepared_mnist(data_dir: Path) -> Path:
    """A private copy of the default folder's prepared MNIST files (prepared first if need
    be) in `data_dir`, without their decoded splits; returns the copy's version folder."""
    import shutil

    from jaxgen.data import mnist

    mnist.load_split("test[:10]")
    src = mnist.builder().data_path
    folder = Path(data_dir) / src.parent.name / src.name
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns(mnist.DECODED))
    return folder


def tiny_ae_config(**train):
    """A 2-layer autoencoder on a small ferris wheel: ~1 s per run after compilation."""
    from jaxgen.families import autoencoder

    c = autoencoder.config(
        "ferris_wheel", code_size=2, hidden_size=32, num_layers=1, activation="tanh"
    )
    c.dataset.num_points = 1000
    c.train.batch_size = 50
    c.train.num_epochs = 4
    c.train.eval_batch_size = 64
    c.train.progress = False
    c.optimizer.lr = 3e-3
    c.train.update(train)
    return c


@pytest.fixture
def ae_config():
    return tiny_ae_config()


def run_cli(*args: str, env: dict | None = None, timeout: float = 300):
    """Runs `python -m jaxgen.main ARGS` in a subprocess; returns the CompletedProcess."""
    import subprocess

    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [PYTHON, "-m", "jaxgen.main", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
