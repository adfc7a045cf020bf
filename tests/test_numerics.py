"""The reference checks again, compiled as users' runs compile.

The suite runs with LLVM's optimizations off (`conftest.py`: they cost more than they save on
tiny programs). Code generation is where a backend miscompile would show, so the tests that
compare a compiled result with a NumPy or hand computation run once more here, in a
subprocess at XLA's default optimization level.
"""

from __future__ import annotations

import os
import subprocess
import sys

from tests.conftest import ROOT

REFERENCE_TESTS = [
    "tests/test_rnn.py::test_cell_step_matches_numpy_equations",
    "tests/test_rnn.py::test_fused_lstm_gradients_equal_autodiff_of_the_plain_equations",
    "tests/test_autoencoders.py::test_contractive_matches_sigmoid_closed_form",
    "tests/test_autoencoders.py::test_kl_sparsity_matches_numpy",
    "tests/test_autoencoders.py::test_contractive_penalty_equals_jacobian_norm_of_the_encoder",
    "tests/test_pca.py::test_pca_matches_numpy_svd",
    "tests/test_vae.py::test_kl_mvn_matches_numpy_reference_and_monte_carlo",
    "tests/test_vae.py::test_reparameterized_gradient_matches_the_analytic_one",
    "tests/test_gan.py::test_gradient_penalties_by_hand",
    "tests/test_bench.py::test_conv_formulations_compute_the_same_convolution",
]


def test_reference_checks_hold_at_the_default_optimization_level():
    flags = " ".join(
        f for f in os.environ.get("XLA_FLAGS", "").split() if "backend_optimization" not in f
    )
    env = dict(os.environ, XLA_FLAGS=flags, JAXGEN_TESTS_DEFAULT_OPTIMIZATION="1")
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider"]
        + REFERENCE_TESTS,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert " passed" in proc.stdout and "skipped" not in proc.stdout, proc.stdout[-500:]
