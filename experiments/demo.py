"""The tour of jaxgen on the embedded offline data: one quick experiment per family.

Run:
  make demo   (= python -m jaxgen.main --config experiments/demo.py --workdir runs/demo)
  python -m jaxgen.main --config experiments/demo.py:tiny --workdir runs/demo_tiny  (smoke test)
  --config.only=pca_vs_ae,vae   runs a subset.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from jaxgen.config import ConfigDict, build
from jaxgen.errors import ConfigError
from jaxgen.report import markdown_table, write_html
from jaxgen.train.rundir import write_json


def _pct(x: float) -> str:
    return f"{100 * x:.0f}%"


def _denoising(s: dict) -> str:
    r = s["rows"][0]
    return (
        f"{r['corruption']} noise {r['level']:g}: denoising AE {r['dae_psnr']:.1f} dB, plain AE "
        f"{r['plain_ae_psnr']:.1f} dB, PCA {r['pca_psnr']:.1f} dB, noisy input "
        f"{r['noisy_psnr']:.1f} dB"
    )


def _vae(s: dict) -> str:
    return (
        f"test NLL (k={s['nll_k']}) {s['test_nll']:.1f} nats, -ELBO {s['test_neg_elbo']:.1f}, "
        f"{s['active_units']}/{s['latent_dim']} active latent units; samples and lerp/slerp strips"
    )


def _adding(s: dict) -> str:
    return "; ".join(
        f"{r['cell']} solves {_pct(r['solved_fraction'])} at T={r['T']}" for r in s["rows"]
    )


def _char_lm(s: dict) -> str:
    rep = s["report"]
    # The temperature whose samples read as Python most often (the quick config draws 0.8).
    quality = rep.get("sample_quality") or {"0.5": {}}
    temp = max(quality, key=lambda t: quality[t].get("reads_as_python", 0.0))
    q = quality[temp]
    return (
        f"{rep['heldout_bpc_stateful']:.2f} bits/char held out (lzma {rep['lzma_bpc']:.2f}, "
        f"primed with the training text {rep['lzma_primed_bpc']:.2f}); sample at temperature "
        f"{temp}: {rep['samples'][temp][:90]!r}"
        + (
            ""
            if "named" not in q
            else f" (of its samples, {_pct(q['named'])} have a keyword, an indented line and "
            f"matched brackets; {_pct(q['reads_as_python'])} also no run of 40 spaces)"
        )
    )


def _own(s: dict) -> str:
    return s.get("headline", "")


# (name, experiment module, one-line description, headline from the run's summary). Each
# module's get_config("quick") is the demo version (get_config("tiny") for the smoke test).
STEPS: tuple[tuple[str, str, str, Callable[[dict], str]], ...] = (
    ("pca_vs_ae", "experiments/pca_vs_ae.py", "PCA against the autoencoder", _own),
    ("ae_denoising", "experiments/ae_denoising.py", "denoising autoencoder on MNIST", _denoising),
    ("vae", "experiments/vae_mnist.py", "variational autoencoder on MNIST", _vae),
    ("gan_1d", "experiments/gan_1d.py", "1-D GAN, the lecture's picture", _own),
    ("gan_2d", "experiments/gan_2d.py", "2-D mixture GAN, mode coverage", _own),
    ("rnn_adding", "experiments/rnn_adding.py", "LSTM against RNN, adding problem", _adding),
    ("char_lm", "experiments/rnn_char_lm.py", "character LSTM, generated text", _char_lm),
)


# The figure each step shows in the index beside its result: the first match of these
# patterns under the step's folder, else its first figure of any name.
FIGURES: dict[str, tuple[str, ...]] = {
    "pca_vs_ae": ("figures/error_vs_code_size.png",),
    "ae_denoising": ("figures/grid_*.png",),
    "vae": ("**/samples.png",),
    "gan_1d": ("figures/lecture_picture.png",),
    "gan_2d": ("figures/*_training.png",),
    "rnn_adding": ("figures/success_vs_lag.png", "**/learning_curves.png"),
    "char_lm": ("**/learning_curves.png",),
}


def _figure(step_dir: Path, name: str) -> str:
    """A markdown image of the step's figure, its path relative to the demo folder."""
    for pattern in (*FIGURES.get(name, ()), "**/*.png"):
        found = sorted(step_dir.glob(pattern))
        if found:
            rel = found[0].relative_to(step_dir.parent)
            return f"![{name}]({rel.as_posix()})"
    return ""


def get_config(arg: str | None = None) -> ConfigDict:
    c = ConfigDict()
    c.size = "tiny" if arg == "tiny" else "quick"
    c.only = ""  # Comma-separated step names; "" = all.
    return c


def run(config: ConfigDict, workdir: str) -> dict:
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    names = [s[0] for s in STEPS]
    only = [n for n in config.only.split(",") if n]
    unknown = sorted(set(only) - set(names))
    if unknown:
        raise ConfigError(f"--config.only: unknown step {unknown[0]!r}; steps: {', '.join(names)}")
    rows = []
    for i, (name, path, description, headline) in enumerate(STEPS):
        if only and name not in only:
            continue
        print(f"\n== [{i + 1}/{len(STEPS)}] {description} ==", flush=True)
        exp_config, module = build(f"{path}:{config.size}")
        t = time.time()
        summary = module.run(exp_config, str(workdir / name)) or {}
        write_html(workdir / name)
        rows.append(
            {
                "step": f"[{name}]({name}/report.html)",
                "what": description,
                "seconds": round(time.time() - t, 1),
                "result": _headline(headline, summary),
                "figure": _figure(workdir / name, name),
            }
        )
    write_json(workdir / "summary.json", {"steps": rows})
    table = markdown_table(rows, ["step", "result", "figure", "seconds"])
    total = sum(r["seconds"] for r in rows)
    (workdir / "report.md").write_text(
        "# jaxgen demo\n\nOne quick experiment per family, on the embedded offline data "
        f"({total:.0f} s in all). Each link opens that experiment's report; each figure is "
        f"one of the step's own.\n\n{table}\n"
        "Reproduce: `make demo`\n"
    )
    index = write_html(workdir, title="jaxgen demo")
    index = index.replace(index.with_name("index.html"))
    print("\n" + markdown_table(rows, ["step", "result", "seconds"]))
    print(f"index: {index}")
    return {"steps": rows, "index": str(index)}


def _headline(headline: Callable[[dict], str], summary: dict) -> str:
    try:
        return headline(summary)
    except (KeyError, IndexError, TypeError, ValueError):
        return ""  # A summary without the usual fields still gets its row and its report.
