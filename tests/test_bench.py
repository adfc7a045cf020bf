"""The benchmark's own arithmetic: FLOP counts against hand counts, the tiny profile runs."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax import lax

from benchmarks import flops
from benchmarks.run import why_notes
from benchmarks.sections import SCALES


def test_matmul_and_scan_flops_match_hand_counts():
    a, b = jnp.zeros((8, 5)), jnp.zeros((5, 3))
    assert flops.count(lambda a, b: a @ b, a, b) == 2 * 8 * 5 * 3

    def scanned(a, b):
        return lax.scan(lambda c, _: (c @ b @ b.T, None), a, None, length=7)[0]

    assert flops.count(scanned, a, b) == 7 * (2 * 8 * 5 * 3 + 2 * 8 * 3 * 5)


@pytest.mark.parametrize("stride", [1, 2])
def test_conv_flops_match_hand_count(stride):
    x, w = jnp.zeros((2, 8, 8, 3)), jnp.zeros((3, 3, 3, 4))

    def conv(x, w):
        return lax.conv_general_dilated(
            x, w, (stride, stride), "SAME", dimension_numbers=("NHWC", "HWIO", "NHWC")
        )

    out = 8 // stride
    assert flops.count(conv, x, w) == 2 * 2 * out * out * 4 * (3 * 3 * 3)
    # The backward pass: input and kernel gradients, each as many FLOPs as the forward.
    grad = jax.grad(lambda x, w: jnp.sum(conv(x, w)), argnums=(0, 1))
    assert flops.count(grad, x, w) == 3 * flops.count(conv, x, w)


def test_tiny_why_section_measures_every_part_and_renders():
    from benchmarks.profile import CONV_LAYERS, why_section

    res = why_section(SCALES["tiny"], torch_mode="off")
    assert res["vae"]["ms_train_step"] > 0 and res["vae"]["ms_fwd_bwd"] > 0
    assert res["lstm"]["ms_recurrence_fwd_bwd"] > 0 and res["lstm"]["ms_matmuls_only"] > 0
    assert [r["layer"] for r in res["conv"]] == [c[0] for c in CONV_LAYERS]
    assert all(np.isfinite(r["xla_gflops"]) and r["xla_gflops"] > 0 for r in res["conv"])
    seeds = {"gan2d": {"flops_per_step_1_seed": 1e6, "ms_per_step_1_seed": 1.0}}
    notes = why_notes({"why": res, "seeds": seeds, "peak": {"jax_gflops": 100.0}})
    assert len(notes) == 4 and "at least 0.08 ms" in notes[-1]


def test_conv_formulations_compute_the_same_convolution():
    """The bench's im2col, NCHW and Winograd forms are the NHWC conv (values and both
    gradients), on every layer each applies to."""
    from benchmarks.profile import CONV_FORMS, CONV_LAYERS, conv_form_applies

    rng = np.random.default_rng(0)
    for _, (hh, ww, cin), k, cout, s in CONV_LAYERS:
        x = jnp.asarray(rng.standard_normal((2, hh, ww, cin)), jnp.float32)
        w = jnp.asarray(rng.standard_normal((k, k, cin, cout)) * 0.1, jnp.float32)

        def outputs(conv, x=x, w=w, s=s):
            # One compiled program per form (op by op, every reshape compiled alone).
            def both(a, b):
                return conv(a, b, s), jax.grad(
                    lambda a, b: jnp.sum(conv(a, b, s) ** 2), argnums=(0, 1)
                )(a, b)

            return jax.jit(both)(x, w)

        ref, ref_g = outputs(CONV_FORMS["xla"])
        forms = [c for f, c in CONV_FORMS.items() if conv_form_applies(f, k, s)]
        assert len(forms) == len(CONV_FORMS) - (k != 3 or s != 1)
        for conv in forms:
            y, gs = outputs(conv)
            np.testing.assert_allclose(y, ref, rtol=1e-4, atol=1e-4)
            for g, r in zip(gs, ref_g, strict=True):
                np.testing.assert_allclose(g, r, rtol=1e-3, atol=1e-3)


def test_compile_row_names_the_slowest_family_and_judges_it_against_5_s():
    from benchmarks import run

    fast = {"a": {"compile_s": 1.0, "loop": "scan"}, "b": {"compile_s": 4.5, "loop": "python"}}
    (row,) = run._compile_rows(fast)
    assert "slowest: b, 4.5 s" in row and row[-1] == "yes"
    (row,) = run._compile_rows({**fast, "c": {"compile_s": 5.5, "loop": "scan"}})
    assert "slowest: c, 5.5 s" in row and row[-1] == "**no**"
    assert run._compile_rows(None) == []
    assert row[0].endswith("(one config per family)")
    # Repeated compiles: the row says how many its medians are of.
    each = {k: {**v, "compile_s_each": [v["compile_s"]] * 3} for k, v in fast.items()}
    assert run._compile_rows(each)[0][0].endswith("(one config per family; median of 3 compiles)")


def test_seed_rows_judge_the_ratio_against_its_physical_floor():
    from benchmarks import run

    peak = {"jax_gflops": 100.0}
    # 8 seeds of 1 GFLOP at 100 GFLOP/s take at least 80 ms: 4x the 20 ms one-seed step.
    r = {"flops_per_step_1_seed": 1e9, "ms_per_step_1_seed": 20.0, "ms_per_step_8_seeds": 100.0}
    assert run.seed_floor(r, peak) == pytest.approx(4.0)
    # A step with no FLOPs to speak of cannot beat one seed's own latency: the floor is 1x.
    assert run.seed_floor({**r, "flops_per_step_1_seed": 1.0}, peak) == 1.0
    met = run._seed_rows({"gan2d": {**r, "ratio_8_to_1": 5.0}}, peak)[0]
    assert "floor 4.00x, 1.25x of it" in met[4] and met[-1] == "yes"
    missed = run._seed_rows({"gan2d": {**r, "ratio_8_to_1": 6.0}}, peak)[0]
    assert "1.50x of it" in missed[4] and missed[-1] == "**no**"
    # Without the peak section there is no floor to judge by: not met, and said so.
    assert run._seed_rows({"gan2d": {**r, "ratio_8_to_1": 5.0}}, None)[0][-1] == "**no**"
    # Seeds split over the devices are judged by whichever of the two ways is faster.
    spread = {"devices": 2, "ms_per_step_8_seeds_spread": 90.0, "ratio_8_spread_to_1": 4.5}
    row = run._seed_rows({"gan2d": {**r, "ratio_8_to_1": 6.0, **spread}}, peak)[0]
    assert "over 2 devices: 90.00" in row[1] and "4.50x (8 seeds over 2 devices" in row[4]
    assert "1.12x of it" in row[4] and row[-1] == "yes"
    row = run._seed_rows(
        {"gan2d": {**r, "ratio_8_to_1": 5.0, **spread, "ratio_8_spread_to_1": 7}}, peak
    )[0]
    assert "5.00x (8 seeds ÷ 1;" in row[4]


def test_malloc_row_gives_both_sides_and_the_note_checks_the_bits():
    from benchmarks import run

    m = {"settings": "glibc: 1 arena, no mmap, no trim", "system_ms_per_step": 300.0}
    m.update(system_faults_per_step=20000.0, system_final_loss=1.5)
    m.update(jaxgen_ms_per_step=250.0, jaxgen_faults_per_step=0.0, jaxgen_final_loss=1.5)
    (row,) = run._malloc_rows(m)
    assert row[1] == "300.0 (20,000) -> 250.0 (0)" and row[4] == "1.20x faster"
    assert run.notes({"malloc": m})[-1].endswith("(the same bits).")
    assert run.notes({"malloc": {**m, "jaxgen_final_loss": 1.25}})[-1].endswith("(DIFFERENT).")
    assert run._malloc_rows(None) == []


@pytest.mark.parametrize(
    "peaks, says",
    [
        ([0.9, 0.9, 0.9], "flat: memory does not grow"),
        ([0.83, 0.92, 1.09, 1.09, 1.09], "level from batch 3 of 5 on"),
        ([0.83, 0.92, 1.09], "still rising at the last batch"),
    ],
)
def test_the_memory_note_reads_the_trend_from_the_peaks(peaks, says):
    from benchmarks import run

    assert run.rss_trend(peaks).startswith(says)


def test_reach_notes_bound_each_missed_target_by_the_runs_own_measurements():
    from benchmarks import run

    why = {
        "vae": {"batch_size": 128, "ms_fwd_bwd": 6.0, "ms_one_pass_adam": 1.0},
        "conv": [
            {"batch": 128, "xla_ms": 50.0, "gflop_fwd_bwd": 5.0},
            {"batch": 128, "xla_ms": 30.0, "gflop_fwd_bwd": 3.0},
        ],
        "peak_gflops": 200.0,
        "lstm": {"ms_recurrence_fwd_bwd": 100.0, "ms_matmuls_only": 70.0},
    }
    seed = {"flops_per_step_1_seed": 1e9, "ms_per_step_1_seed": 20.0}
    results = {
        "why": why,
        "vae": {"batch_size": 128, "flops_per_step": 1e9, "peak_gflops": 200.0},
        "conv": {"batch_size": 128, "jaxgen_ms_per_step": 100.0, "torch_eager_ms_per_step": 90.0},
        "lstm": {"jaxgen_ms_per_step": 110.0, "torch_eager_ms_per_step": 100.0},
        "peak": {"jax_gflops": 100.0},
        "seeds": {
            "gan2d": {**seed, "batched_matmul_gflops": 50.0, "batched_matmul_shape": [256, 8, 8]}
        },
    }
    vae, conv, lstm, seeds = run.reach_notes(results)
    # 1 GFLOP in 6 + 1 ms at a 200 GFLOP/s peak: 71%, and 70% needs <= 7.14 ms.
    assert "<= 7.14 ms" in vae and "7.00 ms, 71% of the peak at best" in vae
    # The convolutions' 80 ms become 8 GFLOP at the peak, 40 ms: a 60 ms step, 90 / 60.
    assert "take 80.0 of the 100.0 ms step" in conv and "60.0 ms, 1.50x eager" in conv
    assert "direct-convolution FLOPs at the matmul peak (40.0 ms)" in conv
    # Free gates save 30 ms: 80 ms, 1.25x; 1.2x needs 83.3 ms, leaving the gates 3.3 ms.
    assert "80.0 ms, 1.25x eager" in lstm and "have to take 3.3 ms" in lstm
    slower = {**results, "lstm": {**results["lstm"], "torch_eager_ms_per_step": 90.0}}
    assert "out of reach" in run.reach_notes(slower)[2]
    # 8 GFLOP at the batched rate of 50 take 160 ms; the floor is 8 GFLOP at 100: 80 ms.
    assert "(256x8)(8x8) matmuls at 50 GFLOP/s" in seeds and "160.00 ms, 2.00x the floor" in seeds
    # Parts a run did not measure (an error, or another batch) give no bound, not a wrong one.
    assert run.reach_notes({**results, "why": {"error": "x"}}) == [seeds]
    other = {**results, "conv": {**results["conv"], "batch_size": 16}}
    assert len(run.reach_notes(other)) == 3


def test_op_profile_sums_xla_operations_by_kind_from_a_real_trace():
    import subprocess
    import sys

    from benchmarks.op_profile import by_kind

    assert by_kind({"dot.91": 2.0, "dot.9": 1.0, "ynn_fusion.3": 4.0, "copy": 0.5}) == {
        "ynn_fusion": 4.0,
        "dot": 3.0,
        "copy": 0.5,
    }
    cmd = [sys.executable, "-m", "benchmarks.op_profile", "--model", "gan2d", "--seeds", "2"]
    res = subprocess.run(
        [*cmd, "--scale", "tiny", "--top", "3"], capture_output=True, text=True, timeout=300
    )
    assert res.returncode == 0, res.stderr[-2000:]
    head, kinds, slowest = res.stdout.split("\n\n")[:3]
    assert "2 seed(s)" in head and "worker threads were busy" in head
    rows = [r.split(" | ") for r in kinds.splitlines()[2:]]
    # Every kind's share is a share of the whole, and a GAN's step has matmuls in it.
    assert rows and any("dot" in r[0] or "ynn" in r[0] for r in rows)
    assert sum(float(r[2].rstrip("% |")) for r in rows) <= 100 + len(rows)
    assert len(slowest.splitlines()) == 2 + 3


def test_model_rows_judge_the_faster_of_one_device_and_the_batch_split():
    from benchmarks import run

    r = {"jaxgen_examples_per_s": 600.0, "torch_eager_examples_per_s": 650.0}
    r.update(jaxgen_gflops=100.0, jaxgen_frac_peak=0.5, peak_gflops=200.0, jaxgen_compile_s=2.0)
    r.update(torch_eager_first_step_s=0.2, torch_eager_gflops=110.0, torch_eager_frac_peak=0.55)
    speed, gflops, compile_row = run._model_rows("lstm", "LSTM", 1.2, None, r)
    assert speed[1] == "600" and speed[4] == "0.92x" and speed[-1] == "**no**"
    dp = {"jaxgen_dp_examples_per_s": 800.0, "jaxgen_dp_devices": 2, "jaxgen_dp_compile_s": 2.5}
    dp.update(jaxgen_dp_gflops=133.0, jaxgen_dp_frac_peak=0.665)
    speed, gflops, compile_row = run._model_rows("lstm", "LSTM", 1.2, None, {**r, **dp})
    assert speed[1] == "600 (data-parallel over 2 devices: 800)"
    assert speed[4] == "1.23x, data-parallel over 2 devices" and speed[-1] == "yes"
    assert gflops[1] == "100 (50%) (data-parallel over 2 devices: 133 (66%))"
    assert compile_row[1] == "2.0 (data-parallel over 2 devices: 2.5)"
    # A slower split changes nothing in the verdict: one device is judged.
    slow = {**r, **dp, "jaxgen_dp_examples_per_s": 500.0}
    assert run._model_rows("lstm", "LSTM", 1.2, None, slow)[0][4] == "0.92x"
    # The reach bound says it is one device's, and gives the split step beside it.
    said = run._dp_said(
        {"jaxgen_dp_ms_per_step": 80.0, "jaxgen_dp_devices": 2, "torch_eager_ms_per_step": 100.0}
    )
    assert "one device's step" in said and "took 80.0 ms, 1.25x eager" in said
