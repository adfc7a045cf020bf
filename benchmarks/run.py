"""`make bench`: jaxgen against PyTorch and against the hardware limit, in one table.

Each section runs in its own fresh process (`--worker`), so one section's threads, caches and
memory cannot touch the next; inside a section the contestants alternate repetitions and the
median is kept (see `harness.alternate`). The table is printed and written to
`benchmarks/results/` (gitignored: a timestamped .md and .json, and `latest.md`); a full run
also rewrites the committed `benchmarks/RESULTS.md`, which the README quotes.

Run:
  .venv/bin/python -m benchmarks.run                          # everything (make bench)
  .venv/bin/python -m benchmarks.run --sections vae,lstm      # some sections
  .venv/bin/python -m benchmarks.run --torch off --scale tiny # JAX side only, seconds
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.profile import CONV_FORMS
from benchmarks.sections import ROOT, SCALES, SECTIONS

RESULTS = ROOT / "benchmarks" / "results"
ORDER = ("peak", "vae", "conv", "lstm", "seeds", "compile", "memory", "malloc", "why")
TIMEOUT_S = {
    "peak": 120,
    "vae": 420,
    "conv": 480,
    "lstm": 480,
    "seeds": 480,
    "compile": 600,  # each family compiled 3 times
    "memory": 300,
    "malloc": 420,
    "why": 900,  # the conv formulations include slow ones (im2col by patches)
}
COMMAND = "make bench"
# Extra XLA flags of a section's worker: one host device per core, so that the 8 seeds can
# also be split over the cores (`seed_parallel`) and the conv and LSTM batches too
# (`data_parallel`); a one-device run uses only the first.
_HOST_DEVICES = f"--xla_force_host_platform_device_count={os.cpu_count() or 1}"
SECTION_XLA_FLAGS = {"seeds": _HOST_DEVICES, "conv": _HOST_DEVICES, "lstm": _HOST_DEVICES}


def run_worker(section: str, scale: str, torch_mode: str, out: Path) -> None:
    """The body of a worker process: one section, its result as JSON in `out`."""
    faulthandler.enable()
    import jax

    # fp32 arithmetic on every device: a GPU would otherwise run fp32 matmuls as TF32, and the
    # PyTorch side (TF32 off, `torch_models.device`) would not be the same computation.
    jax.config.update("jax_default_matmul_precision", "float32")
    res = SECTIONS[section](SCALES[scale], torch_mode)
    out.write_text(json.dumps(res, default=float))


def run_section(section: str, scale: str, torch_mode: str) -> dict[str, Any]:
    """One section in a fresh Python process; a failure is recorded, not raised."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        cmd = [sys.executable, "-m", "benchmarks.run", "--worker", section]
        cmd += ["--scale", scale, "--torch", torch_mode, "--json", str(out)]
        t0 = time.perf_counter()
        flags = f"{os.environ.get('XLA_FLAGS', '')} {SECTION_XLA_FLAGS.get(section, '')}"
        env = dict(os.environ, XLA_FLAGS=flags.strip())
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env)
        try:
            code = proc.wait(timeout=TIMEOUT_S[section])
        except subprocess.TimeoutExpired:
            # SIGABRT makes the worker's faulthandler print where every thread is stuck.
            proc.send_signal(signal.SIGABRT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            code = "timeout"
        wall = time.perf_counter() - t0
        if code == 0 and out.exists():
            res = json.loads(out.read_text())
            res["section_wall_s"] = wall
            return res
        return {"error": f"section {section} failed (exit {code}) after {wall:.0f} s"}


# -- the table ---------------------------------------------------------------------------
def _x(a: float, b: float) -> str:
    return f"{a / b:.2f}x"


def _met(ok: bool) -> str:
    return "yes" if ok else "**no**"


MODELS = (
    ("vae", "MLP VAE 784-512-256-20, batch 128, Adam", 1.5, 0.70),
    ("conv", "Conv AE (conv 32, 64; sub-pixel up), code 32, batch 128, Adam", 1.2, None),
    ("lstm", "Char LSTM LM, T=100, batch 64, H=256, vocab 96, Adam", 1.2, None),
)
SEED_MODELS = (
    ("gan2d", "2-D GAN (ring8; G, D MLP 3x128; batch 256)"),
    ("adding", "Adding-problem LSTM (H=64, T=100; batch 64)"),
)
HEADER = (
    "measurement",
    "jaxgen",
    "PyTorch eager",
    "torch.compile",
    "jaxgen ÷ eager (÷ compile)",
    "target",
    "met",
)


def _model_rows(key: str, label: str, target_x: float, target_peak, r: dict) -> list[list[str]]:
    if "error" in r:
        return [[label, r["error"], "", "", "", f">= {target_x}x eager", "**no**"]]
    has_e, has_c = "torch_eager_examples_per_s" in r, "torch_compile_examples_per_s" in r
    j = r["jaxgen_examples_per_s"]
    e = r.get("torch_eager_examples_per_s")
    c = r.get("torch_compile_examples_per_s")
    comp_na = r.get("torch_compile_error", "not run")
    # The better of one device and, where measured, the batch split over the devices: both
    # are what a user runs (`--config.data_parallel=true` on host devices for the latter).
    has_dp = "jaxgen_dp_examples_per_s" in r
    dp = f"data-parallel over {r.get('jaxgen_dp_devices')} devices"
    best, how = (j, "")
    if has_dp and r["jaxgen_dp_examples_per_s"] > j:
        best, how = r["jaxgen_dp_examples_per_s"], f", {dp}"
    ratio = _x(best, e) if has_e else ""
    if has_c:
        ratio += f" ({_x(best, c)})"
    ratio += how if ratio else ""  # without PyTorch there is no ratio to qualify
    jaxgen = f"{j:,.0f}" + (f" ({dp}: {r['jaxgen_dp_examples_per_s']:,.0f})" if has_dp else "")
    rows = [
        [
            f"{label}: train examples/s",
            jaxgen,
            f"{e:,.0f}" if has_e else "not run",
            f"{c:,.0f}" if has_c else f"n/a: {comp_na[:60]}",
            ratio,
            f">= {target_x}x eager",
            _met(has_e and best / e >= target_x) if has_e else "",
        ]
    ]

    def gf(side):
        if f"{side}_gflops" not in r:
            return ""
        return f"{r[f'{side}_gflops']:.0f} ({100 * r[f'{side}_frac_peak']:.0f}%)"

    frac = max(r["jaxgen_frac_peak"], r.get("jaxgen_dp_frac_peak", 0.0))
    rows.append(
        [
            f"{key}: model GFLOP/s (% of the matmul peak, {r['peak_gflops']:.0f} in this run)",
            gf("jaxgen") + (f" ({dp}: {gf('jaxgen_dp')})" if has_dp else ""),
            gf("torch_eager"),
            gf("torch_compile"),
            "",
            f">= {100 * target_peak:.0f}% of peak" if target_peak else "",
            _met(frac >= target_peak) if target_peak else "",
        ]
    )
    compile_s = f"{r['jaxgen_compile_s']:.1f}"
    if has_dp:
        compile_s += f" ({dp}: {r['jaxgen_dp_compile_s']:.1f})"
    rows.append(
        [
            f"{key}: compile (jaxgen chunk) / first step (torch), s",
            compile_s,
            f"{r['torch_eager_first_step_s']:.2f}" if has_e else "",
            f"{r['torch_compile_first_step_s']:.1f}" if has_c else "",
            "",
            "",
            "",
        ]
    )
    return rows


def table_rows(results: dict[str, Any]) -> list[list[str]]:
    rows: list[list[str]] = []
    p = results.get("peak")
    if p and "error" not in p:
        tg = p.get("torch_gflops")
        rows.append(
            [
                "fp32 matmul peak, GFLOP/s (best n of "
                f"{', '.join(map(str, p['jax_gflops_by_n']))})",
                f"{p['jax_gflops']:.0f} (XLA, n={p['best_n']})",
                f"{tg:.0f}" if tg else "",
                "",
                _x(p["jax_gflops"], tg) if tg else "",
                "",
                "",
            ]
        )
    for key, label, tx, tp in MODELS:
        if key in results:
            rows += _model_rows(key, label, tx, tp, results[key])
    rows += _seed_rows(results.get("seeds"), results.get("peak"))
    rows += _compile_rows(results.get("compile"))
    m = results.get("memory")
    if m:
        if "error" in m:
            rows.append(["k=5000 NLL, peak RSS", m["error"], "", "", "", "< 4 GiB", "**no**"])
        else:
            rows.append(
                [
                    f"Test NLL k={m['k']} (VAE 784-200-200-50, MNIST test "
                    f"{m['test_images_in_memory']:,} in memory): peak RSS, GiB",
                    f"{m['peak_rss_gib']:.2f}",
                    "",
                    "",
                    "",
                    "< 4 GiB",
                    _met(m["peak_rss_gib"] < 4.0),
                ]
            )
    rows += _malloc_rows(results.get("malloc"))
    return rows


def _malloc_rows(m: dict[str, Any] | None) -> list[list[str]]:
    """jaxgen's malloc settings against glibc's defaults: the conv AE step, both in jaxgen."""
    if not m:
        return []
    label = "Conv AE step (Python loop), glibc malloc defaults -> jaxgen's (`jaxgen.runtime`)"
    if "error" in m:
        return [[label, m["error"], "", "", "", "", ""]]
    sys_ms, ours_ms = m["system_ms_per_step"], m["jaxgen_ms_per_step"]
    return [
        [
            f"{label}: ms/step (minor page faults/step)",
            f"{sys_ms:.1f} ({m['system_faults_per_step']:,.0f}) -> "
            f"{ours_ms:.1f} ({m['jaxgen_faults_per_step']:,.0f})",
            "",
            "",
            f"{sys_ms / ours_ms:.2f}x faster",
            "",
            "",
        ]
    ]


COMPILE_TARGET_S = 5.0
SEEDS_TARGET = 1.3  # the 8-seed step within 1.3x of its physical floor


def _floor_ms(r: dict, peak: dict) -> float:
    """Milliseconds 8 seeds' FLOPs take at the measured matmul peak."""
    return 8 * r["flops_per_step_1_seed"] / (peak["jax_gflops"] * 1e9) * 1e3


def seed_floor(r: dict, peak: dict | None) -> float | None:
    """The least 8 seeds ÷ 1 seed can be on this machine: 8 seeds' FLOPs at the matmul peak,
    and never under one seed's own step (its latency). None without a peak measurement."""
    if not peak or "error" in peak:
        return None
    return max(1.0, _floor_ms(r, peak) / r["ms_per_step_1_seed"])


def _seed_rows(s: dict | None, peak: dict | None) -> list[list[str]]:
    """One row per seeds model: the ratio of 8 vmapped seeds to 1, judged against its floor."""
    rows, target = [], f"<= {SEEDS_TARGET}x the floor"
    for key, label in SEED_MODELS if s else ():
        r = s.get(key) if "error" not in s else s
        if not r or "error" in r:
            rows.append([label, (r or {}).get("error", "missing"), "", "", "", target, "**no**"])
            continue
        # The better of one vmapped program and the seeds split over the devices, if measured.
        ratio, floor = r["ratio_8_to_1"], seed_floor(r, peak)
        how, ms = "8 seeds ÷ 1", f"{r['ms_per_step_8_seeds']:.2f}"
        if "ratio_8_spread_to_1" in r:
            ms += f" (over {r['devices']} devices: {r['ms_per_step_8_seeds_spread']:.2f})"
            if r["ratio_8_spread_to_1"] < ratio:
                ratio, how = r["ratio_8_spread_to_1"], f"8 seeds over {r['devices']} devices ÷ 1"
        judged = f"; floor {floor:.2f}x, {ratio / floor:.2f}x of it" if floor else "; no floor"
        rows.append(
            [
                f"{label}: ms/step, 8 vmapped seeds vs 1 seed",
                f"{ms} vs {r['ms_per_step_1_seed']:.2f}",
                "",
                "",
                f"{ratio:.2f}x ({how}{judged})",
                target,
                _met(floor is not None and ratio <= SEEDS_TARGET * floor),
            ]
        )
    return rows


def _compile_rows(c: dict[str, Any] | None) -> list[list[str]]:
    """One row: every family's first-chunk compile time, and the slowest against 5 s."""
    if not c:
        return []
    runs = {len(v.get("compile_s_each", [0])) for v in c.values() if isinstance(v, dict)}
    label = "Compile of each family's first training chunk, s (one config per family" + (
        f"; median of {max(runs)} compiles)" if runs and max(runs) > 1 else ")"
    )
    if "error" in c:
        return [[label, c["error"], "", "", "", f"<= {COMPILE_TARGET_S:.0f} s", "**no**"]]
    times = {k: v["compile_s"] for k, v in c.items() if isinstance(v, dict)}
    worst = max(times, key=times.get)
    cells = ", ".join(f"{k} {t:.1f}" for k, t in times.items())
    return [
        [
            label,
            cells,
            "",
            "",
            f"slowest: {worst}, {times[worst]:.1f} s",
            f"<= {COMPILE_TARGET_S:.0f} s",
            _met(times[worst] <= COMPILE_TARGET_S),
        ]
    ]


def markdown(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "|".join("---" for _ in HEADER) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def notes(results: dict[str, Any]) -> list[str]:
    """The details behind the table: noise, FLOP counts, parameter counts, timings."""
    out = []
    for key, *_ in MODELS:
        r = results.get(key)
        if not r or "error" in r:
            continue
        sides = ("jaxgen", "jaxgen_dp", "torch_eager", "torch_compile")
        sp = ", ".join(f"{s} {100 * r[f'{s}_spread']:.0f}%" for s in sides if f"{s}_spread" in r)
        par = ", ".join(
            f"{s} {r[f'{s}_params']:,}" for s in ("jaxgen", "torch_eager") if f"{s}_params" in r
        )
        ms = ", ".join(f"{s} {r[f'{s}_ms_per_step']:.1f}" for s in sides if f"{s}_ms_per_step" in r)
        if "jaxgen_dp_final_loss" in r:
            ms += (
                f" (jaxgen_dp: the batch split over {r['jaxgen_dp_devices']} host devices, final "
                f"loss {r['jaxgen_dp_final_loss']:.6f} against one device's "
                f"{r['jaxgen_final_loss']:.6f})"
            )
        out.append(
            f"- {key}: ms/step {ms}; {r['flops_per_example'] / 1e6:.2f} MFLOP (matmul+conv) per "
            f"example per train step; {r['reps']} alternating reps of {r['steps_per_rep']} steps, "
            f"spread (max-min)/median: {sp}; parameters: {par}."
        )
    m = results.get("memory")
    if m and "error" not in m:
        out.append(
            f"- NLL k={m['k']}: {m['images_evaluated']:,} of {m['test_images_in_memory']:,} test "
            f"images evaluated (batches of {m['batch_size']}, sample chunks of {m['chunk']}); "
            f"peak RSS after each batch {m['peak_after_each_batch_gib']} GiB "
            f"({rss_trend(m['peak_after_each_batch_gib'])}); {m['seconds_per_batch']:.1f} s per "
            f"batch, about {m['est_seconds_full_test_set'] / 60:.0f} min for all 10,000."
        )
    m = results.get("malloc")
    if m and "error" not in m:
        same = m["system_final_loss"] == m["jaxgen_final_loss"]
        out.append(
            f"- malloc: each side ran twice, alternating, in a fresh process "
            f"(`benchmarks/malloc_ab.py`, `JAXGEN_MALLOC=system` for glibc's defaults); jaxgen's "
            f"settings: {m['settings']}. The loss after the timed steps: "
            f"{m['system_final_loss']:.6f} and {m['jaxgen_final_loss']:.6f}"
            + (" (the same bits)." if same else " (DIFFERENT).")
        )
    return out + why_notes(results) + reach_notes(results)


def rss_trend(peaks: list[float], tol: float = 0.01) -> str:
    """Whether the peak resident memory levelled off over the batches, read from the data."""
    last = peaks[-1]
    first_level = len(peaks)
    while first_level > 0 and abs(peaks[first_level - 1] - last) <= tol * last:
        first_level -= 1
    if first_level == 0:
        return "flat: memory does not grow with the number of images"
    if first_level >= len(peaks) - 1:
        return "still rising at the last batch"
    return f"level from batch {first_level + 1} of {len(peaks)} on"


def why_notes(results: dict[str, Any]) -> list[str]:
    """Where the time goes in the missed targets (the `why` section, and the seed floor)."""
    out = []
    w = results.get("why")
    if w and "error" not in w:
        v, lstm = w["vae"], w["lstm"]
        out.append(
            f"- why, vae: forward + backward alone {v['ms_fwd_bwd']:.2f} ms, the whole train "
            f"step {v['ms_train_step']:.2f} ms at batch {v['batch_size']}: the Adam update and "
            f"the rest of the step take {100 * v['update_share']:.0f}% of it, work the "
            f"matmul-FLOP count does not see. Adam over {v['params']:,} parameters: optax "
            f"{v['ms_optax_adam']:.2f} ms, one hand-fused pass {v['ms_one_pass_adam']:.2f} ms "
            f"({v['one_pass_adam_gb_per_s']:.0f} GB/s moved, 7 float32 arrays)."
        )
        out.append(
            f"- why, lstm: the recurrence forward + backward (T={lstm['shape']['T']}, batch "
            f"{lstm['shape']['batch']}, H={lstm['shape']['H']}) {lstm['ms_recurrence_fwd_bwd']:.1f}"
            f" ms; its matmuls alone (h W and dz W^T in the scans, the weight gradient as one "
            f"matmul after them) {lstm['ms_matmuls_only']:.1f} ms "
            f"({lstm['matmul_gflops_in_scan']:.0f} GFLOP/s): the gates' elementwise work is "
            f"{100 * lstm['elementwise_share']:.0f}% of the recurrence."
        )
        cells = []
        for r in w["conv"]:
            t = f", torch {r['torch_gflops']:.0f}" if "torch_gflops" in r else ""
            forms = ", ".join(
                f"{f} {r[f + '_gflops']:.0f}"
                for f in CONV_FORMS
                if f != "xla" and f + "_gflops" in r
            )
            cells.append(f"{r['layer']}: XLA {r['xla_gflops']:.0f}{t} ({forms})")
        out.append(
            f"- why, conv: GFLOP/s of each convolution, forward + both backward passes, batch "
            f"{w['conv'][0]['batch']} (matmul peak {w['peak_gflops']:.0f}), XLA NHWC against "
            "torch and, in brackets, the other XLA formulations (NCHW layout; im2col + one "
            "matmul, its columns from XLA's patches or from shifted slices; Winograd F(2x2, "
            "3x3) for the 3x3 ones): " + "; ".join(cells) + "."
        )
    s, p = results.get("seeds"), results.get("peak")
    if s and p and "error" not in s and "error" not in p:
        for key, label in SEED_MODELS:
            r = s.get(key)
            if not r or "error" in r:
                continue
            floor = _floor_ms(r, p)
            out.append(
                f"- why, seeds, {label.split(' (')[0]}: 8 seeds are "
                f"{8 * r['flops_per_step_1_seed'] / 1e6:.0f} MFLOP per step; at the matmul peak "
                f"that is at least {floor:.2f} ms, {floor / r['ms_per_step_1_seed']:.2f}x the "
                f"one-seed step ({r['ms_per_step_1_seed']:.2f} ms); the floor of the ratio is "
                f"{seed_floor(r, p):.2f}x (one seed's step is its least)."
            )
    return out


def _ok(*rs: Any) -> bool:
    return all(r and "error" not in r for r in rs)


def _dp_said(r: dict) -> str:
    """The data-parallel step beside a one-device bound, where the run measured it."""
    if "jaxgen_dp_ms_per_step" not in r:
        return ""
    ms = r["jaxgen_dp_ms_per_step"]
    return (
        f" The bound is for one device's step; with the batch split over "
        f"{r['jaxgen_dp_devices']} devices the step took {ms:.1f} ms, "
        f"{r['torch_eager_ms_per_step'] / ms:.2f}x eager."
    )


def reach_notes(results: dict[str, Any]) -> list[str]:
    """For each missed speed target, the best this run's own measurements allow: the step
    with the named part at its ideal (the matmul peak, a free elementwise pass, Adam at its
    memory floor). A bound under the target says no reformulation of that part reaches it."""
    out, w, peak = [], results.get("why"), results.get("peak")
    v, c, lstm = (results.get(k) for k in ("vae", "conv", "lstm"))
    if _ok(w, v) and w["vae"]["batch_size"] == v["batch_size"]:
        u, need = w["vae"], v["flops_per_step"] / (0.70 * v["peak_gflops"] * 1e9) * 1e3
        best = u["ms_fwd_bwd"] + u["ms_one_pass_adam"]
        frac = v["flops_per_step"] / (best / 1e3) / (v["peak_gflops"] * 1e9)
        out.append(
            f"- reach, vae: 70% of the peak needs a step of <= {need:.2f} ms; forward + "
            f"backward alone take {u['ms_fwd_bwd']:.2f} ms and Adam at its memory floor "
            f"{u['ms_one_pass_adam']:.2f} ms, so one after the other they are {best:.2f} ms, "
            f"{100 * frac:.0f}% of the peak at best."
        )
    if _ok(w, c) and "torch_eager_ms_per_step" in c and w["conv"][0]["batch"] == c["batch_size"]:
        conv_ms = sum(r["xla_ms"] for r in w["conv"])
        ideal = sum(r["gflop_fwd_bwd"] for r in w["conv"]) / w["peak_gflops"] * 1e3
        step, eager = c["jaxgen_ms_per_step"], c["torch_eager_ms_per_step"]
        best = step - conv_ms + ideal
        out.append(
            f"- reach, conv: 1.2x eager needs a step of <= {eager / 1.2:.1f} ms; the "
            f"convolutions take {conv_ms:.1f} of the {step:.1f} ms step at the `why, conv` "
            f"rates; with every one's direct-convolution FLOPs at the matmul peak ({ideal:.1f} "
            f"ms) the step would be "
            f"{best:.1f} ms, {eager / best:.2f}x eager." + _dp_said(c)
        )
    if _ok(w, lstm) and "torch_eager_ms_per_step" in lstm:
        r, step = w["lstm"], lstm["jaxgen_ms_per_step"]
        eager = lstm["torch_eager_ms_per_step"]
        gates = r["ms_recurrence_fwd_bwd"] - r["ms_matmuls_only"]
        best, budget = step - gates, eager / 1.2 - (step - gates)
        out.append(
            f"- reach, lstm: 1.2x eager needs a step of <= {eager / 1.2:.1f} ms; with the gates' "
            f"elementwise work free ({gates:.1f} ms of the recurrence) it would be {best:.1f} "
            f"ms, {eager / best:.2f}x eager: the gates would have to take "
            + (f"{budget:.1f} ms." if budget > 0 else "less than no time: out of reach.")
            + _dp_said(lstm)
        )
    s = results.get("seeds")
    for key, label in SEED_MODELS if _ok(s, peak) else ():
        r = s.get(key)
        if not _ok(r) or "batched_matmul_gflops" not in r:
            continue
        rate, (m, k, n) = r["batched_matmul_gflops"], r["batched_matmul_shape"]
        at_rate = 8 * r["flops_per_step_1_seed"] / (rate * 1e9) * 1e3
        floor_ms = seed_floor(r, peak) * r["ms_per_step_1_seed"]
        out.append(
            f"- reach, seeds, {label.split(' (')[0]}: XLA runs 8 seeds' batched ({m}x{k})({k}x"
            f"{n}) matmuls at {rate:.0f} GFLOP/s (the floor assumes {peak['jax_gflops']:.0f}); "
            f"8 seeds' FLOPs at that rate take {at_rate:.2f} ms, {at_rate / floor_ms:.2f}x the "
            f"floor with nothing else in the step (target {SEEDS_TARGET}x)."
        )
    return out


def environment() -> str:
    import jax

    parts = [f"jax {jax.__version__}", f"Python {platform.python_version()}"]
    try:
        import torch

        parts.append(f"torch {torch.__version__}")
    except ImportError:
        pass
    from jaxgen import runtime

    # Set by `import jaxgen` in each section's one process, so PyTorch runs under it too.
    parts.append(f"malloc for both sides: {runtime.malloc_settings()}")
    return f"{os.cpu_count()} CPU cores, " + ", ".join(parts)


def render(results: dict[str, Any], started: str, wall: float) -> str:
    body = [
        f"Command: `{COMMAND}` (`.venv/bin/python -m benchmarks.run`), {started} UTC, "
        f"{wall / 60:.1f} min; {environment()}.",
        "",
        markdown(table_rows(results)),
        "",
        *notes(results),
    ]
    return "\n".join(body) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="jaxgen vs PyTorch vs the hardware limit")
    ap.add_argument("--sections", default=",".join(ORDER), help="comma-separated subset")
    ap.add_argument("--scale", default="full", choices=sorted(SCALES))
    ap.add_argument("--torch", default="on", choices=("on", "eager", "off"))
    ap.add_argument("--out", default=None, help="write the table and JSON here instead")
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--json", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        run_worker(args.worker, args.scale, args.torch, Path(args.json))
        return 0
    sections = [s for s in args.sections.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        ap.error(f"unknown sections {sorted(unknown)}; known: {', '.join(ORDER)}")
    started = time.strftime("%Y-%m-%d %H:%M", time.gmtime())
    t0 = time.perf_counter()
    results: dict[str, Any] = {}
    for s in sections:
        print(f"[bench] === {s} ===", file=sys.stderr, flush=True)
        results[s] = run_section(s, args.scale, args.torch)
    wall = time.perf_counter() - t0
    text = render(results, started, wall)
    print(text)
    out = Path(args.out) if args.out else RESULTS
    out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    (out / f"bench-{stamp}.md").write_text(text)
    (out / f"bench-{stamp}.json").write_text(json.dumps(results, indent=1, default=float))
    (out / "latest.md").write_text(text)
    (out / "latest.json").write_text(json.dumps(results, indent=1, default=float))
    whole = args.scale == "full" and args.torch == "on" and set(sections) == set(ORDER)
    if whole and not args.out:
        (ROOT / "benchmarks" / "RESULTS.md").write_text(
            "# Benchmark results\n\nWritten by `make bench`; see `benchmarks/README.md` for what "
            "each row measures.\n\n" + text
        )
    failed = [s for s, r in results.items() if "error" in r]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
