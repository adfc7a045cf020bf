"""Nothing is unpickled but the hash-checked MNIST file; restoring a checkpoint runs no code."""

from __future__ import annotations

import ast
import json
import pickle
import re
import sys

import jax
import numpy as np
import pytest

from jaxgen.train import train
from jaxgen.train.checkpoint import DIGEST_FILE, Checkpointer, _digests
from jaxgen.train.preflight import prepare
from tests.conftest import ROOT, tiny_ae_config

# The one file allowed to unpickle: it checks the sha256 first (see tests/test_data.py).
ALLOWED = {"jaxgen/data/mnist.py"}
PICKLE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "joblib", "shelve"}
RISKY = re.compile(
    r"allow_pickle\s*=\s*True|read_pickle|torch\.load|marshal\.loads?|yaml\.load\(|\beval\("
)


def _sources():
    for folder in ("jaxgen", "scripts", "experiments"):
        yield from sorted((ROOT / folder).rglob("*.py"))


def test_no_source_file_unpickles_except_the_hash_checked_data_file():
    offenders = []
    for path in _sources():
        rel = str(path.relative_to(ROOT))
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name.split(".")[0] for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module.split(".")[0]]
            if set(names) & PICKLE_MODULES and rel not in ALLOWED:
                offenders.append(f"{rel}:{node.lineno} imports {names}")
        for i, line in enumerate(text.splitlines(), 1):
            if RISKY.search(line.split("#")[0]):
                offenders.append(f"{rel}:{i}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("pickle") / "run"
    cfg = tiny_ae_config(num_epochs=1)
    train(cfg, workdir)
    return cfg, workdir


def test_restoring_a_checkpoint_unpickles_nothing_and_executes_no_code(run, monkeypatch):
    cfg, workdir = run
    abstract = prepare(cfg).abstract_state()
    ckpt = Checkpointer(workdir / "checkpoints")
    ckpt.restore(abstract)  # Warm up: lazy imports run code once, legitimately.

    events = []
    watching = [True]

    def hook(event, args):
        if watching[0] and event in ("pickle.find_class", "marshal.loads", "exec"):
            events.append((event, str(args)[:100]))

    sys.addaudithook(hook)  # Audit hooks cannot be removed; `watching` switches it off.

    def refuse(*a, **k):
        raise AssertionError("a checkpoint restore called pickle")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, refuse)
    try:
        state, meta = ckpt.restore(abstract)
    finally:
        watching[0] = False
        ckpt.close()
    assert not events, events
    assert meta["step"] == 16
    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state))


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_without_running_it(tmp_path, run):
    """Even with matching digests, orbax reads JSON and arrays only: the payload never runs."""
    cfg, src = run
    workdir = tmp_path / "evil"
    (workdir / "checkpoints").mkdir(parents=True)
    step_dir = workdir / "checkpoints" / "16"
    import shutil

    shutil.copytree(src / "checkpoints" / "16", step_dir)
    marker = tmp_path / "payload-ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    for rel in ("meta/metadata", "state/_METADATA", "state/_sharding"):
        (step_dir / rel).write_bytes(pickle.dumps(Payload()))
    (step_dir / DIGEST_FILE).write_text(json.dumps(_digests(step_dir)))
    ckpt = Checkpointer(workdir / "checkpoints")
    from jaxgen.errors import CheckpointError

    with pytest.raises(CheckpointError, match="does not restore with this config"):
        ckpt.restore(prepare(cfg).abstract_state())
    ckpt.close()
    assert not marker.exists()
