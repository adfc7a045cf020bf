"""`make gpu-check OUT=folder`: jaxgen on whatever accelerator `jax.devices()` shows, one table.

Three parts, each in its own process with its own time limit, sized together to fit a
15-minute lease of one GPU with its start-up and a rerun (about 6 minutes in all):

1. the core of the suite (`CORE`): every family's train step under `jit`, exact resume,
   seeds side by side, one compile per epoch, and the numerics tests against NumPy
   references, with float32 matmul precision (a GPU would otherwise run fp32 matmuls as TF32);
2. `make bench`'s comparison sections on that device against PyTorch eager on the same device
   (`benchmarks.run --scale gpu`): examples/s, and the model FLOP rate as a share of the
   device's measured fp32 matmul peak, with the bf16 peak beside it;
3. timed epochs of Burda's VAE (2,500 steps of batch 20) and of `make gan-mnist`'s DCGAN
   (781 steps of 64): steps/s and seconds per epoch, compile excluded.

With no accelerator it says so in one line, runs part 1 on the CPU and exits with the tests'
status, so the check itself is tested on any machine. Everything it prints goes to
`OUT/gpu_check.log`; the table to `OUT/table.md` and, with every number, `OUT/gpu_check.json`.

Run:
  make gpu-check OUT=runs/gpu_check
  python scripts/gpu_check.py --out runs/gpu_check [--core TEST ...] [--skip bench,epochs]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# The core of the suite: what must hold on any device.
CORE = (
    "tests/test_autoencoders.py::test_every_kind_steps_under_jit",
    "tests/test_autoencoders.py::test_contractive_matches_sigmoid_closed_form",
    "tests/test_autoencoders.py::test_kl_sparsity_matches_numpy",
    "tests/test_vae.py::test_kl_mvn_matches_numpy_reference_and_monte_carlo",
    "tests/test_vae.py::test_iwae_bound_is_exact_with_the_true_posterior_for_any_chunking",
    "tests/test_vae.py::test_shapes_under_jit",
    "tests/test_gan.py::test_gradient_penalties_by_hand",
    "tests/test_gan.py::test_train_step_shapes_under_jit_and_k_discriminator_updates",
    "tests/test_rnn.py::test_cell_step_matches_numpy_equations",
    "tests/test_rnn.py::test_fused_lstm_gradients_equal_autodiff_of_the_plain_equations",
    "tests/test_loop.py::test_stopped_and_resumed_equals_uninterrupted",
    "tests/test_loop.py::test_vmapped_seeds_match_single_seed_runs",
    "tests/test_loop.py::test_the_epoch_compiles_once",
)
LIMITS_S = {"core": 150, "bench": 200, "epochs": 120}
BENCH_SECTIONS = "peak,vae,conv,lstm"
EPOCHS = {  # name: (config spec, sub-config path or "", steps per epoch)
    "Burda VAE, batch 20": ("experiments/vae_mnist.py:burda", "", 2500),
    "DCGAN (PacGAN2), batch 64": ("experiments/gan_mnist.py", "models.gan_conv", 781),
}
FP32 = {"JAX_DEFAULT_MATMUL_PRECISION": "float32", "PYTHONUNBUFFERED": "1"}


class Log:
    """Prints and keeps every line, for `OUT/gpu_check.log`."""

    def __init__(self, path: Path):
        self.file = path.open("w")

    def __call__(self, text: str) -> None:
        print(text, flush=True)
        self.file.write(text + "\n")
        self.file.flush()


def _run(cmd: list[str], limit: int, log: Log) -> tuple[int, str, float]:
    """Runs `cmd` from the repo root under a time limit; its output goes to the log."""
    t0 = time.time()
    try:
        proc = subprocess.run(
            cmd,
            cwd=ROOT,
            env={**os.environ, **FP32},
            capture_output=True,
            text=True,
            timeout=limit,
        )
        code, out = proc.returncode, proc.stdout + proc.stderr
    except subprocess.TimeoutExpired as e:
        code = 124
        out = (e.stdout or b"").decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
        out += f"\n[gpu-check] stopped at its {limit} s limit\n"
    log(out.rstrip())
    return code, out, time.time() - t0


def core_tests(tests: list[str], log: Log) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-o", "addopts=", "-q", "-p", "no:cacheprovider", *tests]
    code, out, secs = _run(cmd, LIMITS_S["core"], log)
    tail = [ln for ln in out.splitlines() if " passed" in ln or " failed" in ln or "error" in ln]
    return {"status": code, "seconds": secs, "summary": tail[-1] if tail else ""}


def bench(out: Path, log: Log, scale: str) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.run", "--sections", BENCH_SECTIONS]
    cmd += ["--scale", scale, "--torch", "eager", "--out", str(out / "bench")]
    code, _, secs = _run(cmd, LIMITS_S["bench"], log)
    path = out / "bench" / "latest.json"
    res = json.loads(path.read_text()) if path.is_file() else {}
    return {"status": code, "seconds": secs, "sections": res}


def epochs(out: Path, log: Log, tiny: bool) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--epochs-worker", str(out)]
    cmd += ["--tiny"] if tiny else []
    code, _, secs = _run(cmd, LIMITS_S["epochs"], log)
    path = out / "epochs.json"
    return {
        "status": code,
        "seconds": secs,
        "runs": json.loads(path.read_text()) if path.is_file() else {},
    }


def epochs_worker(out: Path, tiny: bool) -> None:
    """Two epochs of each model; the rate is the loop's own, over chunks that did not compile."""
    from jaxgen.config import ConfigDict, build
    from jaxgen.train import train

    found = {}
    for name, (spec, sub, steps) in EPOCHS.items():
        config, _ = build(spec)
        cfg = ConfigDict((config[sub] if sub else config).to_dict())
        cfg.train.num_epochs = 2
        if tiny:  # the check's own test: a few steps of each
            cfg.dataset.num_train, steps = 8 * cfg.train.batch_size, 8
        cfg.train.progress = False
        cfg.train.eval_every_epochs = 1000
        cfg.train.checkpoint_every_steps = 10**9
        res = train(cfg, out / "epochs" / name.split(",")[0].replace(" ", "_"))
        s = res.summary
        rate = s["steps_per_second"]  # over the chunks that did not compile
        found[name] = {
            "steps_per_epoch": steps,
            "seconds_per_epoch": steps / rate if rate else float("nan"),
            "steps_per_second": rate,
            "compile_and_first_chunk_seconds": s["first_chunk_seconds"],
            "loop": s["loop"],
        }
        print(f"[gpu-check] {name}: {found[name]}", flush=True)
    (out / "epochs.json").write_text(json.dumps(found, indent=1))


def table(device: str, parts: dict) -> str:
    rows = ["| part | what | result |", "|---|---|---|"]
    core = parts.get("core")
    if core:
        ok = "passed" if core["status"] == 0 else f"FAILED (exit {core['status']})"
        rows.append(
            f"| 1 | core tests on {device} | {ok}: {core['summary']} ({core['seconds']:.0f} s) |"
        )
    b = parts.get("bench")
    if b:
        peak = b["sections"].get("peak", {})
        if peak:
            nums = [peak.get(k) or 0 for k in ("jax_gflops", "jax_bf16_gflops", "torch_gflops")]
            rows.append(
                "| 2 | matmul peak, GFLOP/s: jax fp32 / bf16 / torch fp32 | "
                + " / ".join(f"{v:,.0f}" for v in nums)
                + " |"
            )
        for name in ("vae", "conv", "lstm"):
            r = b["sections"].get(name)
            if r and "error" not in r:
                rows.append(
                    f"| 2 | {r.get('name', name)}: examples/s jaxgen / torch eager; "
                    f"% of fp32 peak | {_rate(r, 'jaxgen')} / {_rate(r, 'torch_eager')}; "
                    f"{100 * r.get('jaxgen_frac_peak', float('nan')):.0f}% |"
                )
            elif r:
                rows.append(f"| 2 | {name} | error: {str(r['error'])[:80]} |")
        if b["status"]:
            rows.append(f"| 2 | bench | exit {b['status']} after {b['seconds']:.0f} s |")
    e = parts.get("epochs")
    if e:
        for name, r in e["runs"].items():
            rows.append(
                f"| 3 | {name}: s/epoch ({r['steps_per_epoch']} steps), loop | "
                f"{r['seconds_per_epoch']:.2f}, {r['loop']} |"
            )
        if e["status"]:
            rows.append(f"| 3 | timed epochs | exit {e['status']} after {e['seconds']:.0f} s |")
    return "\n".join(rows) + "\n"


def _rate(r: dict, side: str) -> str:
    v = r.get(f"{side}_examples_per_s")
    return f"{v:,.0f}" if isinstance(v, (int, float)) else "n/a"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=False, help="folder for the log, table and JSON")
    ap.add_argument("--core", nargs="*", default=None, help="tests to run instead of CORE")
    ap.add_argument("--skip", default="", help="comma-separated parts to skip: bench,epochs")
    ap.add_argument(
        "--tiny", action="store_true", help="tiny benchmarks and epochs (the check's own test)"
    )
    ap.add_argument(
        "--all-parts", action="store_true", help="run parts 2 and 3 on the CPU too (tests)"
    )
    ap.add_argument("--epochs-worker", default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.epochs_worker:
        epochs_worker(Path(args.epochs_worker), args.tiny)
        return 0
    if not args.out:
        print(
            "gpu-check: --out FOLDER is required (make gpu-check OUT=runs/gpu_check)",
            file=sys.stderr,
        )
        return 2
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    log = Log(out / "gpu_check.log")

    import jax

    devices = jax.devices()
    backend = jax.default_backend()
    device = f"{backend}: {devices[0].device_kind} x {len(devices)}"
    parts: dict = {}
    if backend == "cpu":
        log(
            "gpu-check: no accelerator (jax.devices() shows only the CPU); running the core "
            "tests on the CPU, without the benchmarks and timed epochs"
        )
    else:
        log(f"gpu-check: {device}")
    parts["core"] = core_tests(list(args.core) if args.core is not None else list(CORE), log)
    skip = set(filter(None, args.skip.split(",")))
    if backend != "cpu" or args.all_parts:
        if "bench" not in skip:
            parts["bench"] = bench(out, log, "tiny" if args.tiny else "gpu")
        if "epochs" not in skip:
            parts["epochs"] = epochs(out, log, args.tiny)
    text = table(device, parts)
    (out / "table.md").write_text(f"gpu-check on {device}, {time.strftime('%Y-%m-%d')}\n\n{text}")
    (out / "gpu_check.json").write_text(
        json.dumps({"device": device, **parts}, indent=1, default=str)
    )
    log(text)
    return 0 if parts["core"]["status"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
