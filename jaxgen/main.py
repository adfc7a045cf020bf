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
from pathlib import Path

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
        from jaxgen.report import write_html

        write_html(Path(workdir))
        _record_experiment(workdir, flags["config"], config)
    else:
        from jaxgen.train import train

        train(config, workdir)  # Writes the run's report too.
    return 0


def _record_experiment(workdir: str, spec: str, config) -> None:
    """What `jaxgen.reproduce` needs to re-run a finished experiment: its module and config."""
    from pathlib import Path

    from jaxgen.config import to_json
    from jaxgen.train.rundir import write_json, write_text

    wd = Path(workdir)
    wd.mkdir(parents=True, exist_ok=True)
    path, _, arg = spec.partition(":")
    write_json(wd / "experiment.json", {"config": path, "arg": arg or None})
    write_text(wd / "config.json", to_json(config) + "\n")


def _one_line(e: BaseException) -> str:
    return " ".join(str(e).split()) or type(e).__name__


def main(argv: Sequence[str] | None = None) -> int:
    _quiet()
    from jaxgen.errors import Interrupted, JaxgenError, RunDirError

    argv = sys.argv[1:] if argv is None else argv
    try:
        return run(argv)
    except Interrupted as e:
        print(f"jaxgen: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except JaxgenError as e:
        print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
        return e.exit_code
    except OSError as e:
        # A full disk, a read-only or vanished folder: the user's environment, not a bug.
        print(f"jaxgen: error: {_one_line(e)}", file=sys.stderr)
        return RunDirError.exit_code
    except KeyboardInterrupt:
        print("jaxgen: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
