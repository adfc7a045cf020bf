"""Two processes through `jax.distributed` (localhost coordinator, Gloo CPU collectives):
the same numbers as one process, one writer, and a lost peer that ends the job cleanly."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = '''"""Tiny run for tests/test_multiprocess.py."""
from tests.conftest import tiny_ae_config


def get_config(arg=None):
    return tiny_ae_config(num_epochs=40, checkpoint_every_steps=160)
'''


def test_two_processes_match_one_and_survive_a_killed_peer(tmp_path):
    config = tmp_path / "tiny.py"
    config.write_text(CONFIG)
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "multiprocess.py"), "--config", str(config)]
        + ["--workdir", str(tmp_path / "mp"), "--interrupt", "--kill", "1", "0"]
        + ["--tolerance", "1e-5"],
        capture_output=True,
        text=True,
        timeout=400,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    out = json.loads((tmp_path / "mp" / "multiprocess.json").read_text())
    assert out["process_count"] == [1, 2]
    # SIGINT to process 1 alone: both stop after the same step, saved once, exit 130.
    assert out["interrupt"]["exits"] == [130, 130] and out["interrupt"]["handled"]
    # Killing process 1, then process 0 (which started the job's coordination service),
    # each after a new checkpoint: the other ends in one line, exit 8, with no other output.
    assert [k["killed_process"] for k in out["kill"]] == [1, 0]
    for kill in out["kill"]:
        assert kill["survivor_exit"] == [8] and kill["survivor_seconds"] < 60, kill
        assert "another process stopped" in kill["survivor_line"]
        assert kill["survivor_other_lines"] == []
    for i in (0, 1):
        assert "Traceback" not in (tmp_path / "mp" / f"multi.p{i}.log").read_text()
    # Started again, the job resumed from that checkpoint and ended as one process would.
    assert out["resumed"] and out["equal_within_tolerance"]
    one, two = out["test"]
    assert abs(one["loss"] - two["loss"]) <= 1e-5 * abs(one["loss"])
    # Process 0 alone wrote the run folder: every metrics row once, every checkpoint digested.
    multi = tmp_path / "mp" / "multi"
    rows = [json.loads(line) for line in (multi / "metrics.jsonl").read_text().splitlines()]
    counts = Counter((r["step"], r["split"], bool(r.get("final"))) for r in rows)
    assert max(counts.values()) == 1
    assert (
        counts.keys()
        == Counter(
            (r["step"], r["split"], bool(r.get("final")))
            for r in map(
                json.loads, (tmp_path / "mp" / "one" / "metrics.jsonl").read_text().splitlines()
            )
        ).keys()
    )
    steps = [p for p in (multi / "checkpoints").iterdir() if p.name.isdigit()]
    # ... except where process 0 was killed between orbax's commit and its digests.
    undigested = {int(p.name) for p in steps if not (p / "sha256.json").is_file()}
    assert steps and undigested <= {k["killed_after_checkpoint"] for k in out["kill"]}


def test_an_experiment_with_its_own_run_refuses_distributed(capsys):
    from jaxgen.main import main

    code = main(
        ["--config", str(ROOT / "experiments" / "vae_mnist.py:tiny"), "--workdir", "/nonexistent"]
        + ["--config.distributed=true"]
    )
    assert code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shared training loop" in err[0]
