"""The benchmark's measurements, one function per section; each returns a JSON-able dict.

Each comparison section builds the jaxgen model from its family's config (the library's real
code path: `Trainer.chunk_fn`, see `harness.JaxgenRun`) and the PyTorch reference of the same
model (`torch_models`), then alternates repetitions of: the XLA matmul peak, jaxgen, PyTorch
eager and `torch.compile`. Measuring the peak inside the same alternation makes "fraction of
peak" a ratio taken in one time window, robust to the machine's load drifting.

`scale="tiny"` shrinks data, steps and repetitions so the JAX side runs in seconds (tests).
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.configs import (
    SCALES,
    Scale,
    adding_config,
    conv_config,
    gan2d_config,
    lstm_config,
    no_progress,
    vae_config,
)
from benchmarks.harness import (
    JaxgenRun,
    MatmulPeak,
    Side,
    alternate,
    batched_matmul_gflops,
    log,
    matmul_sweep,
    median,
    spread,
)
from jaxgen.config import ConfigDict

ROOT = Path(__file__).resolve().parent.parent


def _torch(torch_mode: str):
    """The torch modules, or None when the run skips PyTorch (`torch_mode == "off"`)."""
    if torch_mode == "off":
        return None, None
    import torch

    from benchmarks import torch_models

    torch.set_num_threads(os.cpu_count() or 1)
    return torch, torch_models


# -- sections ------------------------------------------------------------------------------
def peak(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    """The fp32 matmul peak through `jax.jit(a @ b)` at several sizes; PyTorch's alongside.

    On an accelerator the bf16 peak is measured too (what mixed precision could reach).
    """
    sizes = (512, 1024, 2048, 3072) if scale.peak_n >= 2048 else (scale.peak_n,)
    if jax_backend() != "cpu" and scale.peak_n >= 2048:
        sizes = (2048, 4096, 8192)
    gflops = matmul_sweep(sizes, reps=scale.reps)
    best = max(gflops, key=gflops.get)
    out: dict[str, Any] = {"jax_gflops_by_n": gflops, "best_n": best, "jax_gflops": gflops[best]}
    out["device"] = jax_backend()
    if jax_backend() != "cpu":
        bf16 = matmul_sweep(sizes, reps=scale.reps, dtype="bfloat16")
        out["jax_bf16_gflops"] = max(bf16.values())
    torch, tm = _torch(torch_mode)
    if torch is not None:
        dev = tm.device()
        a, b = torch.randn(best, best, device=dev), torch.randn(best, best, device=dev)
        calls = max(1, round(0.3 * gflops[best] * 1e9 / (2 * best**3)))

        def run():
            for _ in range(calls):
                a @ b
            tm.synchronize(dev)

        times = alternate([Side("t", run)], scale.reps)
        out["torch_gflops"] = 2 * best**3 * calls / median(times["t"]) / 1e9
        out["torch_device"] = dev
    return out


def jax_backend() -> str:
    import jax

    return jax.default_backend()


def _torch_sides(tm, make_model, data, cfg, steps, compile_mode: str) -> tuple[list, dict]:
    """Eager (and compiled) `TorchRun`s; a failing torch.compile is recorded, not fatal."""
    opt, runs, info = cfg.optimizer, [], {}
    kw = dict(
        batch_size=int(cfg.train.batch_size),
        steps=steps,
        lr=opt.lr,
        b1=opt.b1,
        b2=opt.b2,
        eps=opt.eps,
        clip=float(opt.grad_clip),
        device=tm.device(),
    )
    log("  torch eager: setup")
    runs.append(("torch_eager", tm.TorchRun(make_model(), data, **kw)))
    if compile_mode == "on":
        log("  torch.compile: compiling")
        try:
            runs.append(("torch_compile", tm.TorchRun(make_model(), data, compile=True, **kw)))
        except Exception as e:  # noqa: BLE001 - report why compile does not work here
            info["torch_compile_error"] = f"{type(e).__name__}: {str(e)[:300]}"
            log(f"  torch.compile failed: {info['torch_compile_error']}")
    return runs, info


def compare(
    name: str,
    cfg: ConfigDict,
    steps: int,
    scale: Scale,
    torch_mode: str,
    make_torch_model=None,
    torch_data=None,
    data_parallel: bool = False,
) -> dict[str, Any]:
    """jaxgen against PyTorch (eager, compiled) on one model, with the matmul peak alongside.

    With `data_parallel` and several local devices (the section's worker forces one host
    device per core), jaxgen also runs as `--config.data_parallel=true` would: each device
    takes its share of the batch, the gradients are summed by one all-reduce (`jaxgen_dp`).
    """
    import jax

    from jaxgen.config import variant

    cfg = no_progress(cfg)
    log(f"{name}: jaxgen setup (load data, init, compile the chunk)")
    jx = JaxgenRun(cfg, steps)
    bs = jx.batch_size
    out: dict[str, Any] = {
        "name": name,
        "batch_size": bs,
        "steps_per_rep": steps,
        "reps": scale.model_reps,
        "flops_per_step": jx.flops_per_step,
        "flops_per_example": jx.flops_per_step / bs,
        "xla_cost_analysis_flops_per_chunk": jx.xla_flops,
        "jaxgen_params": jx.params,
        "jaxgen_compile_s": jx.compile_seconds,
        "jaxgen_init_s": jx.init_seconds,
        "jaxgen_first_chunk_s": jx.first_chunk_seconds,
    }
    mm = MatmulPeak(scale.peak_n, seconds=0.4)
    sides = [Side("peak", mm.run), Side("jaxgen", jx.run)]
    dp = None
    if data_parallel and jax.local_device_count() > 1:
        log(f"{name}: jaxgen data-parallel over {jax.local_device_count()} devices: setup")
        dp = JaxgenRun(variant(cfg, data_parallel=True), steps, splits=jx.splits)
        out["jaxgen_dp_devices"] = jax.local_device_count()
        out["jaxgen_dp_compile_s"] = dp.compile_seconds
        sides.append(Side("jaxgen_dp", dp.run))
    torch, tm = _torch(torch_mode)
    runs = []
    if torch is not None and make_torch_model is not None:
        data = torch_data(jx.splits)
        runs, info = _torch_sides(tm, make_torch_model, data, cfg, steps, torch_mode)
        out.update(info)
        for key, run in runs:
            out[f"{key}_params"] = run.params
            out[f"{key}_first_step_s"] = run.first_step_seconds
            sides.append(Side(key, run.run))
    log(f"{name}: timing {', '.join(s.name for s in sides)} x {scale.model_reps} reps, alternating")
    t0 = time.perf_counter()
    times = alternate(sides, scale.model_reps, scale.warmup)
    out["timing_wall_s"] = time.perf_counter() - t0
    out["peak_gflops"] = mm.flops / median(times["peak"]) / 1e9
    out["peak_n"] = mm.n
    for key in times:
        if key == "peak":
            continue
        t = median(times[key])
        out[f"{key}_s_per_rep"] = t
        out[f"{key}_spread"] = spread(times[key])
        out[f"{key}_ms_per_step"] = 1e3 * t / steps
        out[f"{key}_examples_per_s"] = bs * steps / t
        gf = jx.flops_per_step * steps / t / 1e9
        out[f"{key}_gflops"] = gf
        out[f"{key}_frac_peak"] = gf / out["peak_gflops"]
    out["jaxgen_final_loss"] = jx.final_loss()
    if dp is not None:
        out["jaxgen_dp_final_loss"] = dp.final_loss()
    for key, run in runs:
        out[f"{key}_final_loss"] = run.loss
    return out


def vae_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    def data(splits):
        return [splits.train["x"].reshape(len(splits.train["x"]), -1)]

    def model():
        from benchmarks.torch_models import MLPVAE

        return MLPVAE(784, (512, 256), 20)

    return compare("mlp_vae", vae_config(scale), scale.steps["vae"], scale, torch_mode, model, data)


def conv_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    def data(splits):
        return [np.transpose(splits.train["x"], (0, 3, 1, 2))]  # NHWC -> NCHW

    def model():
        from benchmarks.torch_models import ConvAE

        return ConvAE((32, 64), 32)

    return compare(
        "conv_ae",
        conv_config(scale),
        scale.steps["conv"],
        scale,
        torch_mode,
        model,
        data,
        data_parallel=True,
    )


def lstm_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    def data(splits):
        return [splits.train["x"].astype(np.int64), splits.train["y"].astype(np.int64)]

    def model():
        from benchmarks.torch_models import CharLSTM

        return CharLSTM(96, 256)

    return compare(
        "char_lstm",
        lstm_config(scale),
        scale.steps["lstm"],
        scale,
        torch_mode,
        model,
        data,
        data_parallel=True,
    )


def _seeds(
    name: str, cfg: ConfigDict, steps: int, scale: Scale, matmul: tuple[int, int, int]
) -> dict[str, Any]:
    """8 seeds against 1, and XLA's rate on 8 seeds' batched matmuls of shape `matmul`
    (m, k, n): the model's main (batch x hidden)(hidden x out) product."""
    import jax

    from jaxgen import data as data_lib

    cfg = no_progress(cfg)
    splits = data_lib.load(cfg.dataset)
    runs = {}
    # The 8 seeds also split over the local devices (`seed_parallel`) where they divide 8:
    # on CPU the worker gets one host device per core (`run.SECTION_XLA_FLAGS`).
    devices = jax.local_device_count()
    spread_seeds = devices > 1 and 8 % devices == 0
    variants = {"1": (1, False), "8": (8, False)}  # label: (num_seeds, seed_parallel)
    if spread_seeds:
        variants["8 spread"] = (8, True)
    for label, (num_seeds, seed_parallel) in variants.items():
        c = ConfigDict(cfg.to_dict())
        c.num_seeds, c.seed_parallel = num_seeds, seed_parallel
        log(f"{name}: {label} seed(s): init and compile")
        runs[label] = JaxgenRun(c, steps, splits)
    times = alternate([Side(s, r.run) for s, r in runs.items()], scale.reps, scale.warmup)
    t1, t8 = median(times["1"]), median(times["8"])
    log(f"{name}: 8 seeds' batched {matmul} matmuls alone")
    out = {"batched_matmul_shape": list(matmul)}
    out["batched_matmul_gflops"] = batched_matmul_gflops(8, *matmul, reps=scale.reps)
    if spread_seeds:
        t8s = median(times["8 spread"])
        out |= {
            "devices": devices,
            "ms_per_step_8_seeds_spread": 1e3 * t8s / steps,
            "ratio_8_spread_to_1": t8s / t1,
            "spread_8_spread": spread(times["8 spread"]),
        }
    return out | {
        "name": name,
        "steps_per_rep": steps,
        "batch_size": int(cfg.train.batch_size),
        "ms_per_step_1_seed": 1e3 * t1 / steps,
        "ms_per_step_8_seeds": 1e3 * t8 / steps,
        "ratio_8_to_1": t8 / t1,
        "spread_1": spread(times["1"]),
        "spread_8": spread(times["8"]),
        "compile_s_1_seed": runs["1"].compile_seconds,
        "compile_s_8_seeds": runs["8"].compile_seconds,
        "flops_per_step_1_seed": runs["1"].flops_per_step,
    }


def seeds_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    del torch_mode
    gan, lstm = gan2d_config(scale), adding_config(scale)
    d, h = gan.model.d_hidden[0], lstm.model.hidden_size
    return {
        "gan2d": _seeds("gan2d", gan, scale.steps["gan2d"], scale, (gan.train.batch_size, d, d)),
        "adding": _seeds(
            "adding_lstm", lstm, scale.steps["adding"], scale, (lstm.train.batch_size, h, 4 * h)
        ),
    }


def compile_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    """Seconds to compile each family's first training chunk (what a user waits for before
    the first step), one config per family and architecture; a scanned chunk is compiled ahead
    of time, a Python-loop chunk's (conv on CPU) is its first call less its second.

    Each is compiled `scale.compiles` times from empty caches and the median reported: on
    this machine one compile of the same program varies by more than a second (the DCGAN's:
    3.9 to 5.2 s in four runs), as much as its margin to the 5 s target.
    """
    del torch_mode
    import jax

    from benchmarks.configs import family_configs

    out = {}
    for name, cfg in family_configs(scale).items():
        log(f"compile: {name} x {scale.compiles}")
        each = []
        for _ in range(scale.compiles):
            jax.clear_caches()  # compile again, not reuse the last repetition's executable
            run = JaxgenRun(cfg, 2, None)
            # A Python-loop chunk's first call compiles and runs; its second call runs alone.
            ran = run.first_chunk_seconds if run.loop == "python" else 0.0
            each.append(run.compile_seconds - ran)
        out[name] = {"compile_s": median(each), "compile_s_each": each, "loop": run.loop}
    return out


def memory_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    """The k=5000 NLL evaluation in a fresh process (its peak RSS is the number)."""
    del torch_mode
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.likelihood_memory",
        "--k",
        str(scale.nll_k),
        "--batches",
        str(scale.nll_batches),
    ]
    if scale.num_train:
        cmd += ["--num-test", str(scale.num_train)]
    log(f"memory: {' '.join(cmd[1:])}")
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RuntimeError(f"likelihood_memory failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def malloc_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    """The conv AE step under glibc's malloc defaults and under jaxgen's (`jaxgen.runtime`),
    one fresh process per run (the settings are per process), the two alternating twice."""
    del torch_mode
    tiny = bool(scale.num_train)
    runs: dict[str, list[dict[str, Any]]] = {"system": [], "jaxgen": []}
    for _ in range(2):
        for side in runs:
            cmd = [sys.executable, "-m", "benchmarks.malloc_ab"]
            cmd += ["--scale", "tiny", "--reps", "1"] if tiny else []
            log(f"malloc: JAXGEN_MALLOC={side} {' '.join(cmd[1:])}")
            env = dict(os.environ, JAXGEN_MALLOC=side)
            res = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
            if res.returncode != 0:
                raise RuntimeError(f"malloc_ab failed:\n{res.stderr[-2000:]}")
            runs[side].append(json.loads(res.stdout.strip().splitlines()[-1]))
    out: dict[str, Any] = {"settings": runs["jaxgen"][0]["malloc"]}
    for side, rs in runs.items():
        out[f"{side}_ms_per_step"] = statistics.median(r["ms_per_step"] for r in rs)
        out[f"{side}_faults_per_step"] = statistics.median(r["faults_per_step"] for r in rs)
        out[f"{side}_final_loss"] = rs[0]["final_loss"]
    return out


def why_section(scale: Scale, torch_mode: str = "on") -> dict[str, Any]:
    from benchmarks.profile import why_section as why

    return why(scale, torch_mode)


SECTIONS = {
    "peak": peak,
    "vae": vae_section,
    "conv": conv_section,
    "lstm": lstm_section,
    "seeds": seeds_section,
    "compile": compile_section,
    "memory": memory_section,
    "malloc": malloc_section,
    "why": why_section,
}

__all__ = ["SCALES", "SECTIONS", "Scale"]
