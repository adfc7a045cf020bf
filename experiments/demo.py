"""The tour of jaxgen on the embedded offline data: one quick experiment per family.

Run:
  make demo   (= python -m jaxgen.main --config experiments/demo.py --workdir runs/demo)
  python -m jaxgen.main --config experiments/demo.py:tiny --workdir runs/demo_tiny  (smoke test)
  --config.only=pca_vs_ae,vae   runs a subset.
"""

from __future__ import annotations

import time
from pathlib import Path

from jaxgen.config import ConfigDict, build
from jaxgen.errors import ConfigError
from jaxgen.report import markdown_table, write_html
from jaxgen.train.rundir import write_json

# (name, experiment module, one-line description). Each module's get_config("quick") is the
# demo version (get_config("tiny") for the smoke test); its run() returns a summary dict
# whose "headline" is the one line of result shown in the index.
STEPS: tuple[tuple[str, str, str], ...] = (
    ("pca_vs_ae", "experiments/pca_vs_ae.py", "PCA against the autoencoder (ferris wheel, MNIST)"),
)


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
    for i, (name, path, description) in enumerate(STEPS):
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
                "result": summary.get("headline", ""),
            }
        )
    write_json(workdir / "summary.json", {"steps": rows})
    table = markdown_table(rows, ["step", "result", "seconds"])
    total = sum(r["seconds"] for r in rows)
    (workdir / "report.md").write_text(
        "# jaxgen demo\n\nOne quick experiment per family, on the embedded offline data "
        f"({total:.0f} s in all). Each link opens that experiment's report.\n\n{table}\n"
        "Reproduce: `make demo`\n"
    )
    index = write_html(workdir, title="jaxgen demo")
    index = index.replace(index.with_name("index.html"))
    print("\n" + table)
    print(f"index: {index}")
    return {"steps": rows, "index": str(index)}
