"""Shared fixtures: tiny configs that train in seconds on 2 CPU cores."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable


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
