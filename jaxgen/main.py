"""The one entry point: `python -m jaxgen.main --config experiments/X.py --workdir runs/X`.

Overrides: `--config.optimizer.lr=3e-4`. A config file may append an argument after a colon
(`--config experiments/vae_mnist.py:burda`), passed to its `get_config(arg)`. If the config's
module defines `run(config, workdir)`, that experiment runs; otherwise the config is trained by
the shared loop. Errors the user can fix print one line and exit non-zero.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence

USAGE = "usage: python -m jaxgen.main --config PATH[:ARG] --workdir DIR [--config.KEY=VALUE ...]"


def _quiet() -> None:
    # Keep the terminal for the progress bar and our own one-line messages.
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
    config, module = build(flags["config"], overrides)
    workdir = flags["workdir"]
    if hasattr(module, "run"):
        module.run(config, workdir)
    else:
        from jaxgen.report import write_report
        from jaxgen.train import train

        result = train(config, workdir)
        write_report(result)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    _quiet()
    from jaxgen.errors import JaxgenError

    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except JaxgenError as e:
        print(f"jaxgen: error: {e}", file=sys.stderr)
        return e.exit_code
    except KeyboardInterrupt:
        print("jaxgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
