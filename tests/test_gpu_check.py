"""`make gpu-check` on a machine without an accelerator: one line, the core tests, a table."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

SCRIPT = ROOT / "scripts" / "gpu_check.py"
FAST = "tests/test_rnn.py::test_scan_equals_stepwise_application"


def _check(tmp_path, *tests):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(tmp_path), "--core", *tests],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_without_an_accelerator_it_says_so_runs_the_core_tests_and_writes_the_table(tmp_path):
    proc = _check(tmp_path, FAST)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    first = proc.stdout.splitlines()[0]
    assert first.startswith("gpu-check: no accelerator"), first
    table = (tmp_path / "table.md").read_text()
    assert "| 1 | core tests on cpu" in table and "passed: 5 passed" in table
    assert first in (tmp_path / "gpu_check.log").read_text()
    assert "Traceback" not in proc.stderr


def test_a_failing_core_test_fails_the_check(tmp_path):
    proc = _check(tmp_path, "tests/test_rnn.py::no_such_test")
    assert proc.returncode == 1
    assert "FAILED" in (tmp_path / "table.md").read_text()


def test_the_core_tests_exist():
    sys.path.insert(0, str(SCRIPT.parent))
    import gpu_check

    for node in gpu_check.CORE:
        path, _, name = node.partition("::")
        assert f"def {name}(" in (ROOT / path).read_text(), node


def test_table_renders_every_part():
    sys.path.insert(0, str(SCRIPT.parent))
    import gpu_check

    parts = {
        "core": {"status": 0, "seconds": 60.0, "summary": "13 passed in 60s"},
        "bench": {
            "status": 0,
            "seconds": 100.0,
            "sections": {
                "peak": {
                    "jax_gflops": 50_000.0,
                    "jax_bf16_gflops": 700_000.0,
                    "torch_gflops": 48_000.0,
                },
                "vae": {
                    "name": "mlp_vae",
                    "jaxgen_examples_per_s": 2e6,
                    "torch_eager_examples_per_s": 1e6,
                    "jaxgen_frac_peak": 0.1,
                },
                "conv": {"error": "RuntimeError: boom"},
            },
        },
        "epochs": {
            "status": 0,
            "seconds": 50.0,
            "runs": {
                "Burda VAE, batch 20": {
                    "steps_per_epoch": 2500,
                    "seconds_per_epoch": 1.5,
                    "loop": "scan",
                }
            },
        },
    }
    text = gpu_check.table("gpu: H200 x 1", parts)
    assert "passed: 13 passed" in text
    assert "50,000 / 700,000 / 48,000" in text
    assert "2,000,000 / 1,000,000; 10%" in text
    assert "conv | error: RuntimeError: boom" in text
    assert "Burda VAE, batch 20: s/epoch (2500 steps), loop | 1.50, scan" in text
