"""A thousand bad inputs: generated configs, overrides and corrupted files, through the CLI
and through `jaxgen.load_run`.

  .venv/bin/python scripts/fuzz.py [--cases 1000] [--files 120] [--seed 0] [--dir /tmp/fuzz]
  make fuzz

Three kinds of case, drawn from one seeded generator (so a failure can be replayed):
  override  `python -m jaxgen.main` in-process on a tiny autoencoder with one generated
            `--config.KEY=VALUE` (unknown keys, wrong types, zero, negative and absurd sizes,
            infinities, unknown choices, any number, malformed syntax, bad config files).
            Training is replaced by the loop's pre-flight (data, family, shapes, memory),
            which is everything that can refuse a config before the run folder exists.
  runfile   a copy of a finished tiny run with one file garbled, truncated, emptied, deleted
            or replaced by well-formed JSON of the wrong shape (config.json, env.json,
            summary.json, metrics.jsonl, any checkpoint file, a whole checkpoint), then
            `jaxgen.load_run` on it and the CLI resuming it.
  datafile  a copy of the prepared MNIST files with one file damaged, loaded through
            `data_dir`.
A case is clean when the CLI exits 0 or prints exactly one line with an exit status that the
README lists, never a traceback; the library returns or raises a `jaxgen.errors` exception; a
refused config leaves no run folder; and no checkpoint saved before the case is lost (a corrupt
one may move to `checkpoints.corrupt/`). Prints cases tried, clean, and each failure with the
input that caused it; exits 1 if any failed.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import random
import shutil
import string
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import jaxgen  # noqa: E402
from jaxgen import main as cli  # noqa: E402
from jaxgen.config import config_values  # noqa: E402
from jaxgen.errors import JaxgenError  # noqa: E402
from tests.conftest import tiny_ae_config  # noqa: E402

EXIT_CODES = {0, 1, 2, 3, 4, 5, 6, 7, 130}  # README: jaxgen.errors' exit statuses
CONFIG = """
from tests.conftest import tiny_ae_config
def get_config(arg=None):
    return tiny_ae_config(checkpoint_every_steps=20)
"""
BAD_CONFIG_FILES = {
    "syntax_error.py": "def get_config(arg=None:\n",
    "no_get_config.py": "X = 1\n",
    "raises.py": "def get_config(arg=None):\n    raise ValueError('no such arg')\n",
    "returns_dict.py": "def get_config(arg=None):\n    return {'a': 1}\n",
    "empty.py": "",
}
SIZES = [
    "train.batch_size",
    "train.num_epochs",
    "train.eval_batch_size",
    "num_seeds",
    "model.code_size",
    "model.hidden_size",
    "model.num_layers",
    "dataset.num_points",
]
ENUMS = [
    "optimizer.name",
    "optimizer.schedule",
    "model.activation",
    "model.loss",
    "model.kind",
    "dataset.binarize",
    "dataset.name",
    "model.family",
]


class Accepted(Exception):
    """The config passed every check: it would train."""


LEAVES = config_values(tiny_ae_config())
GROUPS = sorted({k.split(".")[0] for k in LEAVES if "." in k})
INTS = sorted(k for k, v in LEAVES.items() if type(v) is int)
FLOATS = sorted(k for k, v in LEAVES.items() if type(v) is float)
BOOLS = sorted(k for k, v in LEAVES.items() if type(v) is bool and k != "distributed")


def _ident(rng: random.Random) -> str:
    return "".join(rng.choice(string.ascii_lowercase + "_") for _ in range(rng.randint(1, 12)))


def _number(rng: random.Random) -> str:
    return rng.choice([repr(rng.randint(-(10**12), 10**12)), repr(rng.uniform(-1e6, 1e6)),
                       repr(rng.uniform(-1, 1)), "0", "-0.0", "1e-300", "nan"])  # fmt: skip


def override_case(rng: random.Random, folder: Path) -> tuple[str, list[str], bool]:
    """(kind, extra argv, whether acceptance is allowed) for one generated override."""
    kind = rng.choice(["unknown", "int_type", "float_type", "size_low", "size_high",
                       "infinite", "choice", "number", "syntax", "config_file"])  # fmt: skip
    if kind == "unknown":
        key = f"{rng.choice(['', *GROUPS])}.{_ident(rng)}".lstrip(".")
        if key in LEAVES or key in GROUPS:
            key += "_x"
        return kind, [f"--config.{key}=1"], False
    if kind == "int_type":
        text = rng.choice([repr(rng.uniform(-100, 100) + 0.5), _ident(rng) + "x", "[1, 2]", "{}"])
        return kind, [f"--config.{rng.choice(INTS)}={text}"], False
    if kind == "float_type":
        text = rng.choice([_ident(rng) + "x", "[1, 2]", "'x'", "None"])
        return kind, [f"--config.{rng.choice(FLOATS + BOOLS)}={text}"], False
    if kind == "size_low":
        return kind, [f"--config.{rng.choice(SIZES)}={rng.randint(-(10**6), 0)}"], False
    if kind == "size_high":
        return kind, [f"--config.{rng.choice(SIZES)}={rng.randint(10**8, 10**40)}"], False
    if kind == "infinite":
        text = rng.choice(["1e999", "-1e999", "1e400", "inf", "-inf"])
        return kind, [f"--config.{rng.choice(FLOATS)}={text}"], False
    if kind == "choice":
        key = rng.choice(ENUMS)
        return kind, [f"--config.{key}={_ident(rng)}x"], True  # a free-form name may exist
    if kind == "number":
        return kind, [f"--config.{rng.choice(INTS + FLOATS)}={_number(rng)}"], True
    if kind == "syntax":
        key = rng.choice(list(LEAVES))
        bad = rng.choice([f"--config.{key}", f"--config.{key}=", f"--config..{key}=1",
                          "--config.=1", f"--config.{key}=[1,", f"--config.{key}=(", "-x",
                          f"--confi.{key}=1", f"--config.{key}.sub=1", "--workdir=",
                          f"--{_ident(rng)}=1", "--config.train=1"])  # fmt: skip
        return kind, [bad], False
    name, text = rng.choice(sorted(BAD_CONFIG_FILES.items()))
    path = folder / name
    path.write_text(text)
    return kind, ["--config", str(path) + rng.choice(["", ":arg"])], False


def call_cli(argv: list[str]) -> tuple[int | None, list[str], str]:
    """(exit status or None if accepted, stderr lines, all output) of one in-process CLI call."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli.main(argv)
        except Accepted:
            code = None
        except Exception as e:  # a bug: it would have been a traceback
            import traceback

            traceback.print_exc(file=err)
            code = f"uncaught {type(e).__name__}"
    return code, err.getvalue().strip().splitlines(), out.getvalue() + err.getvalue()


def judge_cli(code, err: list[str], text: str, accept_ok: bool) -> str | None:
    if "Traceback" in text:
        return f"traceback: {err[-1] if err else ''}"
    if code is None or code == 0:
        return None if accept_ok or code == 0 else "accepted a bad input"
    if code not in EXIT_CODES:
        return f"exit status {code}"
    if len(err) != 1:
        return f"{len(err)} lines on stderr: {err[:3]}"
    return None


def preflight_only():
    """Replaces training by the loop's pre-flight for the override cases."""
    import jaxgen.train
    from jaxgen.train import loop, preflight

    def fake_train(config, workdir, **kw):
        preflight.prepare(config)
        raise Accepted

    saved = (loop.train, jaxgen.train.train)
    loop.train = jaxgen.train.train = fake_train
    return lambda: (setattr(loop, "train", saved[0]), setattr(jaxgen.train, "train", saved[1]))


def damage(rng: random.Random, path: Path) -> str:
    """Damages one file in place; returns what was done."""
    mode = rng.choice(["truncate", "garble", "empty", "delete", "json"])
    data = path.read_bytes()
    if mode == "truncate" and data:
        path.write_bytes(data[: rng.randrange(len(data))])
    elif mode == "garble" and data:
        b = bytearray(data)
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        path.write_bytes(bytes(b))
    elif mode == "empty":
        path.write_bytes(b"")
    elif mode == "delete":
        path.unlink()
    else:
        mode = "json"
        path.write_text(json.dumps(rng.choice([[], {"model": 3}, "x", None, {"train": []}])))
    return mode


def checkpoint_steps(run: Path) -> set[str]:
    """Steps present, kept or quarantined (`checkpoints.corrupt/STEP-TIME`)."""
    return {p.name.split("-")[0] for d in ("checkpoints", "checkpoints.corrupt")
            if (run / d).is_dir() for p in (run / d).iterdir()
            if p.name.split("-")[0].isdigit()}  # fmt: skip


def runfile_case(rng: random.Random, base: Path, config: Path, work: Path) -> tuple[str, str]:
    """(input, failure or '') for one damaged copy of the finished run `base`."""
    run = work / "run"
    shutil.rmtree(run, ignore_errors=True)
    shutil.copytree(base, run)
    files = [p for p in sorted(run.rglob("*")) if p.is_file() and "tensorboard" not in p.parts]
    ckpt_dirs = sorted((run / "checkpoints").glob("[0-9]*"))
    if rng.random() < 0.1 and ckpt_dirs:
        target = rng.choice(ckpt_dirs)
        shutil.rmtree(target)
        what = f"deleted {target.relative_to(run)}"
    else:
        target = rng.choice(files)
        what = f"{damage(rng, target)} {target.relative_to(run)}"
    before = checkpoint_steps(run)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            jaxgen.load_run(run)
    except JaxgenError:
        pass
    except Exception as e:
        return what, f"load_run raised {type(e).__name__}: {' '.join(str(e).split())[:160]}"
    code, err, text = call_cli(["--config", str(config), "--workdir", str(run)])
    failure = judge_cli(code, err, text, accept_ok=True)
    if failure is None and not before <= checkpoint_steps(run):
        failure = f"checkpoints lost: {sorted(before - checkpoint_steps(run))}"
    return what, failure or ""


def datafile_case(rng: random.Random, source: Path, work: Path) -> tuple[str, str]:
    from jaxgen import data as data_lib

    data_dir = work / "tfds"
    shutil.rmtree(data_dir, ignore_errors=True)
    shutil.copytree(source, data_dir / source.name)
    target = rng.choice(sorted(p for p in (data_dir / source.name).rglob("*") if p.is_file()))
    what = f"{damage(rng, target)} {target.relative_to(data_dir)}"
    cfg = data_lib.base_config("mnist", num_train=1000)
    cfg.data_dir = str(data_dir)
    try:
        data_lib.load(cfg)
    except JaxgenError:
        return what, ""
    except Exception as e:
        return what, f"load raised {type(e).__name__}: {' '.join(str(e).split())[:160]}"
    return what, ""  # damage the reader never touches (e.g. a spare byte) may load fine


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=1000, help="override cases")
    parser.add_argument("--files", type=int, default=120, help="run-file and data-file cases")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--dir", type=Path, default=None)
    args = parser.parse_args()
    cli._quiet()
    rng = random.Random(args.seed)
    work = args.dir or Path(tempfile.mkdtemp(prefix="jaxgen-fuzz-"))
    work.mkdir(parents=True, exist_ok=True)
    config = work / "fuzz_config.py"
    config.write_text(CONFIG)
    tried, kinds, failures = 0, Counter(), []

    restore = preflight_only()
    for i in range(args.cases):
        kind, extra, accept_ok = override_case(rng, work)
        argv = ["--config", str(config), "--workdir", str(work / "refused"), *extra]
        if "--config" in extra:
            argv = [*extra, "--workdir", str(work / "refused")]
        code, err, text = call_cli(argv)
        failure = judge_cli(code, err, text, accept_ok)
        if failure is None and code not in (None, 0) and (work / "refused").exists():
            failure = "a refused config created its run folder"
        shutil.rmtree(work / "refused", ignore_errors=True)
        tried, kinds[kind] = tried + 1, kinds[kind] + 1
        if failure:
            failures.append((f"override #{i} ({kind})", " ".join(extra), failure))
    restore()

    base = work / "base"
    shutil.rmtree(base, ignore_errors=True)
    code, err, _ = call_cli(["--config", str(config), "--workdir", str(base)])
    if code != 0:
        print(f"fuzz: the base run failed: {err}", file=sys.stderr)
        return 1
    tfds_dir = os.environ.get("TFDS_DATA_DIR") or Path.home() / "tensorflow_datasets"
    mnist = Path(tfds_dir) / "mnist_offline"  # prepared by `make test`; skipped if absent
    for i in range(args.files):
        kind = "datafile" if mnist.is_dir() and i % 6 == 5 else "runfile"
        if kind == "datafile":
            what, failure = datafile_case(rng, mnist, work)
        else:
            what, failure = runfile_case(rng, base, config, work)
        tried, kinds[kind] = tried + 1, kinds[kind] + 1
        if failure:
            failures.append((f"{kind} #{i}", what, failure))

    print(f"cases tried: {tried} ({', '.join(f'{k} {n}' for k, n in sorted(kinds.items()))})")
    print(f"clean: {tried - len(failures)}")
    print(f"failures: {len(failures)}")
    for name, what, why in failures:
        print(f"  {name}: {what!r}: {why}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
