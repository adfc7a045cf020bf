"""The one entry point: `python -m jaxgen.main --config experiments/X.py --workdir runs/X`.

Overrides: `--config.optimizer.lr=3e-4`. A config file may append an argument after a colon
(`--config experiments/vae_mnist.py:burda`), passed to its `get_config(arg)`. If the config's
module defines `run(config, workdir)`, that experiment runs; otherwise the config is trained by
the shared loop. Errors the user can fix print one line and exit non-zero.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jaxgen.errors import guard_signals, run_cli

if TYPE_CHECKING:
    from jaxgen.config import ConfigDict

if __name__ == "__main__":
    guard_signals()  # before any heavy import: a Ctrl-C from here on is one line

USAGE = "usage: python -m jaxgen.main --config PATH[:ARG] --workdir DIR [--config.KEY=VALUE ...]"


def _quiet() -> None:
    # Keep the terminal for the progress bar and our own one-line messages.
    import logging

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    logging.getLogger("absl").setLevel(logging.ERROR)
    import warnings

    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", category=UserWarning)


def run(argv: Sequence[str]) -> int:
    from jaxgen.config import build, parse_argv
    from jaxgen.errors import ConfigError

    flags, overrides = parse_argv(argv)
    unknown = set(flags) - {"config", "workdir", "help"}
    if "help" in flags:
        print(USAGE)
        return 0
    if unknown:
        raise ConfigError(f"unknown flag --{sorted(unknown)[0]}; {USAGE}")
    if "config" not in flags or "workdir" not in flags:
        raise ConfigError(f"--config and --workdir are required; {USAGE}")
    workdir = flags["workdir"]
    if not str(workdir).strip():
        raise ConfigError(f"--workdir is empty; {USAGE}")
    config, module = build(flags["config"], overrides)
    import jax

    # fp32 matmuls as fp32 on every backend: a GPU would otherwise run them as TF32, and a
    # run's numbers would depend on the card. The CPU's results are the same bit for bit.
    jax.config.update("jax_default_matmul_precision", "float32")
    if hasattr(module, "run") and config.get("distributed"):
        raise ConfigError(
            f"distributed=true runs the shared training loop; {flags['config']} is an "
            f"experiment with its own run() (train its sub-runs' configs instead)"
        )
    if hasattr(module, "run"):
        module.run(config, workdir)
        from jaxgen.report import write_html

        write_html(Path(workdir))
        _record_experiment(workdir, flags["config"], config)
    else:
        from jaxgen.train import train

        train(config, workdir)  # Writes the run's report too.
    return 0


def _record_experiment(workdir: str, spec: str, config: ConfigDict) -> None:
    """What `jaxgen.reproduce` needs to re-run a finished experiment: its module and config."""
    from pathlib import Path

    from jaxgen.config import to_json
    from jaxgen.train.rundir import write_json, write_text

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    path, _, arg = spec.partition(":")
    write_json(wd / "experiment.json", {"config": path, "arg": arg or None})
    write_text(wd / "config.json", to_json(config) + "\n")


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    # `_quiet() or` runs it first: mypy objects to using the value of a None-returning call.
    code = run_cli(lambda: _quiet() or run(argv))  # type: ignore[func-returns-value]
    if code and _in_multi_process_job():
        # JAX's exit handler waits at a shutdown barrier for every process; with a peer gone
        # (or about to go) it aborts with pages of logs after the one line already printed.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _in_multi_process_job() -> bool:
    jax = sys.modules.get("jax")
    return jax is not None and jax.distributed.is_initialized()


if __name__ == "__main__":
    sys.exit(main())
