"""Reliability: killed, interrupted, corrupted, full-disk and concurrent runs; bad data.

Subprocesses only where the process boundary is the point (SIGKILL, SIGINT, the lock, the
CLI's data path); everything else goes through `jaxgen.main.main` in-process, which is the
same code path without the ~5 s of imports.
"""

from __future__ import annotations

import errno
import importlib.util
import json
import random
import re
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest

from jaxgen import main as cli
from jaxgen.train import train
from jaxgen.train.checkpoint import Checkpointer
from jaxgen.train.preflight import prepare
from tests.conftest import ROOT, copy_prepared_mnist, run_cli, tiny_ae_config

_spec = importlib.util.spec_from_file_location("faults", ROOT / "scripts" / "faults.py")
faults = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(faults)

# The config of every run here: 64 steps, chunks of 5, a checkpoint every 5 steps.
TRAIN = {"num_epochs": 4, "steps_per_scan": 5, "checkpoint_every_steps": 5}


def _config():
    return tiny_ae_config(**TRAIN)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("reliability")


@pytest.fixture(scope="module")
def config_file(folder):
    return faults.write_config(folder, epochs=TRAIN["num_epochs"], every=5)


@pytest.fixture(scope="module")
def reference(folder):
    """The uninterrupted run every faulty run must reproduce exactly."""
    train(_config(), folder / "reference")
    return faults.fingerprint(folder / "reference")


def _main(capsys, config_file, workdir, *overrides):
    code = cli.main(["--config", str(config_file), "--workdir", str(workdir), *overrides])
    out, err = capsys.readouterr()
    return code, out, err.strip().splitlines()


def _state_file(workdir: Path, step: int, rng: random.Random) -> Path:
    files = sorted(p for p in (workdir / "checkpoints" / str(step) / "state").rglob("*"))
    return rng.choice([p for p in files if p.is_file() and p.stat().st_size > 1])


# -- killed and interrupted ---------------------------------------------------------------
def test_sigkill_at_random_points_then_resume_ends_exactly_as_uninterrupted(
    folder, config_file, reference
):
    rng = random.Random(8)
    for trial in range(2):
        workdir = folder / f"killed{trial}"
        for _ in range(1 + trial):  # Trial 1 is killed twice, the second time after resuming.
            proc = faults.start(config_file, workdir, folder / f"killed{trial}.out")
            target = rng.randrange(5, 55)  # Kill a random moment after step `target` saved...
            while proc.poll() is None and max(faults.checkpoint_steps(workdir), default=0) < target:
                time.sleep(0.005)
            # ...somewhere in the next save/chunk/log cycle.
            assert faults.signal_after(proc, signal.SIGKILL, rng.uniform(0, 0.3)), "ran out"
            assert proc.wait() == -signal.SIGKILL
        # The lock of the killed process died with it: the restart is not refused.
        train(_config(), workdir)
        assert faults.same(faults.fingerprint(workdir), reference)


def test_sigkill_in_the_middle_of_a_save_then_resume_ends_exactly_as_uninterrupted(
    folder, config_file, reference
):
    workdir = folder / "killed-saving"
    proc = faults.start(config_file, workdir, folder / "killed-saving.out")
    faults.wait_for_checkpoint(proc, workdir)
    where = faults.signal_at_event(proc, workdir, signal.SIGKILL, random.Random(0), "saving")
    assert where.startswith("saving"), "the run ended before a second save began"
    assert proc.wait() == -signal.SIGKILL
    train(_config(), workdir)
    assert faults.same(faults.fingerprint(workdir), reference)


def test_sigint_saves_its_step_and_a_second_run_in_the_folder_is_refused(folder):
    config = faults.write_config(folder, epochs=400, every=0)
    workdir = folder / "interrupted"
    proc = faults.start(config, workdir, folder / "interrupted.out")
    faults.wait_for_checkpoint(proc, workdir)

    second = run_cli("--config", str(config), "--workdir", str(workdir))
    assert second.returncode == 6, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another run is using" in lines[0], second.stderr
    assert proc.poll() is None, "the first run must still be training"

    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=120) == 130
    err = (folder / "interrupted.err").read_text().strip().splitlines()
    assert len(err) == 1 and "Traceback" not in err[0], err
    step = int(err[0].split("interrupted at step ")[1].split(";")[0])
    # The interrupt saves the step it stopped at, whether or not the schedule would have.
    assert "checkpoint saved" in err[0]
    cfg = tiny_ae_config(num_epochs=400, steps_per_scan=5)
    ckpt = Checkpointer(workdir / "checkpoints")
    state, meta = ckpt.restore(prepare(cfg).abstract_state())
    ckpt.close()
    assert meta["step"] == step
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["step"] == step


# -- corrupt checkpoints --------------------------------------------------------------------
@pytest.mark.parametrize("how", ["truncate", "garble"])
def test_corrupt_newest_checkpoint_is_reported_and_an_older_one_resumes(
    folder, config_file, reference, capsys, how
):
    workdir = folder / f"corrupt-{how}"
    train(_config(), workdir, stop_at_step=26)  # Stops at chunk ends only: rows stay equal.
    assert faults.checkpoint_steps(workdir) == [21, 26]
    path = _state_file(workdir, 26, random.Random(how))
    data = bytearray(path.read_bytes())
    if how == "truncate":
        data = data[: len(data) // 2]
    else:
        data[len(data) // 2] ^= 0x55
    path.write_bytes(bytes(data))

    code, out, err = _main(capsys, config_file, workdir)
    assert code == 0, err
    notes = [line for line in out.splitlines() if "unusable" in line]
    assert len(notes) == 1 and "checkpoint 26" in notes[0] and path.name in notes[0], out
    assert "from step 21" in out
    assert (workdir / "checkpoints.corrupt").is_dir()
    assert faults.same(faults.fingerprint(workdir), reference)


def test_no_good_checkpoint_is_refused_in_one_line(folder, config_file, capsys):
    workdir = folder / "all-corrupt"
    train(_config(), workdir, stop_at_step=10)
    for step in faults.checkpoint_steps(workdir):
        _state_file(workdir, step, random.Random(step)).write_bytes(b"")
    code, _, err = _main(capsys, config_file, workdir)
    assert code == 4 and len(err) == 1 and "no usable checkpoint" in err[0], err


def test_a_killed_save_leaves_a_tmp_folder_that_is_ignored(folder, reference):
    workdir = folder / "tmpdir"
    train(_config(), workdir, stop_at_step=21)
    tmp = workdir / "checkpoints" / "26.orbax-checkpoint-tmp-1234"
    (tmp / "state").mkdir(parents=True)
    (tmp / "state" / "junk").write_bytes(b"half a checkpoint")
    train(_config(), workdir)
    assert not tmp.exists()
    assert faults.same(faults.fingerprint(workdir), reference)


# Orbax's reading tasks of a failed restore printed tracebacks when collected: now an error.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_an_intact_checkpoint_of_another_config_is_refused_not_moved(folder, config_file, capsys):
    workdir = folder / "other-config"
    train(_config(), workdir, stop_at_step=5)
    own = (workdir / "config.json").read_text()
    code, _, err = _main(capsys, config_file, workdir, "--config.model.hidden_size=16")
    assert code == 4 and len(err) == 1 and "does not restore with this config" in err[0], err
    assert "params/" in err[0] and "(1, 16)" in err[0], err  # names the array that differs
    assert faults.checkpoint_steps(workdir) == [5]
    # The message says to resume with the run's own config.json: it is still there.
    assert (workdir / "config.json").read_text() == own
    import gc

    gc.collect()  # any coroutine orbax left behind would be reported now


@pytest.mark.parametrize("tear", [b'{"step": 26, "split": "tr', b'{"step": 26, "\xd5\xff'])
def test_a_torn_metrics_line_is_dropped_on_resume(folder, reference, tear):
    # A kill in the middle of a write; or bytes garbled into invalid UTF-8 (make fuzz).
    workdir = folder / f"torn{len(tear)}"
    train(_config(), workdir, stop_at_step=21)
    with (workdir / "metrics.jsonl").open("ab") as f:
        f.write(tear)
    train(_config(), workdir)
    assert faults.same(faults.fingerprint(workdir), reference)


# -- NaN, full disk, unwritable folder -----------------------------------------------------
def test_nan_loss_names_step_and_metric_and_keeps_the_last_good_checkpoint(
    folder, config_file, capsys
):
    workdir = folder / "nan"
    sgd = "--config.optimizer.name=sgd"
    # One good epoch (checkpoints), then a rate that blows up when the run is resumed.
    good = ("--config.optimizer.lr=0.01", "--config.train.num_epochs=1")
    assert _main(capsys, config_file, workdir, sgd, *good)[0] == 0
    steps = faults.checkpoint_steps(workdir)
    bad = ("--config.optimizer.lr=900.0", "--config.train.num_epochs=30")
    code, _, err = _main(capsys, config_file, workdir, sgd, *bad)
    assert code == 5 and len(err) == 1, err
    assert re.search(
        r"(metric '\w+' became non-finite at|state entry \S+ became non-finite by)"
        r" step \d+",
        err[0],
    ), err
    # The last good checkpoint is named, restores, and holds finite numbers only.
    kept = faults.checkpoint_steps(workdir)
    assert steps and kept[-1] >= steps[-1]
    assert f"last good checkpoint: step {kept[-1]}" in err[0]
    cfg = tiny_ae_config(**dict(TRAIN, num_epochs=30))
    cfg.optimizer.name = "sgd"  # The run's own optimizer: its state has another structure.
    ckpt = Checkpointer(workdir / "checkpoints")
    state, _ = ckpt.restore(prepare(cfg).abstract_state())
    ckpt.close()
    import jax

    assert all(np.isfinite(np.asarray(x)).all() for x in jax.tree.leaves(state))


def test_full_disk_while_saving_is_one_line_and_keeps_the_previous_checkpoint(
    folder, config_file, reference, capsys, monkeypatch
):
    from etils import epath

    workdir = folder / "full-disk"
    train(_config(), workdir, stop_at_step=10)
    original = epath.Path.write_text

    def no_space(self, *args, **kwargs):  # Orbax writes its metadata files through this.
        raise OSError(errno.ENOSPC, "No space left on device", str(self))

    monkeypatch.setattr(epath.Path, "write_text", no_space)
    code, _, err = _main(capsys, config_file, workdir)
    monkeypatch.setattr(epath.Path, "write_text", original)
    assert code == 4 and len(err) == 1, err
    assert "could not write checkpoint 15" in err[0] and "No space left" in err[0]
    assert "checkpoint 10 is intact" in err[0]
    assert faults.checkpoint_steps(workdir) == [5, 10]
    # Space freed: the run resumes from 10 and ends as if nothing happened.
    train(_config(), workdir)
    assert faults.same(faults.fingerprint(workdir), reference)


def test_unwritable_run_folder_is_one_line(folder, config_file, capsys):
    blocker = folder / "a-file"
    blocker.write_text("not a folder")
    code, _, err = _main(capsys, config_file, blocker / "run")
    assert code == 7 and len(err) == 1 and str(blocker) in err[0], err


# -- data -----------------------------------------------------------------------------------
MNIST_CONFIG = """
from tests.conftest import tiny_ae_config
def get_config(arg=None):
    c = tiny_ae_config()
    c.dataset.name = "mnist"
    c.dataset.data_dir = {data_dir!r}  # Fresh: the file must be read, not a prepared copy.
    return c
"""


def test_tampered_mnist_file_is_refused_by_the_cli_before_unpickling(tmp_path):
    from jaxgen.data import mnist

    tampered = tmp_path / "mnist.pkl.gz"
    raw = bytearray(mnist.source_file().read_bytes())
    raw[1000] ^= 0xFF
    tampered.write_bytes(bytes(raw))
    config = tmp_path / "mnist_cfg.py"
    config.write_text(MNIST_CONFIG.format(data_dir=str(tmp_path / "tfds")))
    proc = run_cli(
        "--config", str(config), "--workdir", str(tmp_path / "run"),
        env={"JAXGEN_MNIST_FILE": str(tampered)},
    )  # fmt: skip
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 3 and len(lines) == 1, proc.stderr
    assert "sha256" in lines[0] and "not unpickled" in lines[0] and "pip install" in lines[0]
    assert not (tmp_path / "run").exists()


def test_missing_mnist_file_says_how_to_fix(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("JAXGEN_MNIST_FILE", str(tmp_path / "absent.pkl.gz"))
    config = tmp_path / "mnist_cfg.py"
    config.write_text(MNIST_CONFIG.format(data_dir=str(tmp_path / "tfds")))
    code, _, err = _main(capsys, config, tmp_path / "run")
    assert code == 3 and len(err) == 1 and "missing" in err[0] and "pip install" in err[0]
    assert not (tmp_path / "run").exists()


# -- reproducibility ------------------------------------------------------------------------
def test_reproduce_reruns_a_finished_run_and_reports_a_match(folder, reference, capsys):
    from jaxgen import reproduce

    run = folder / "reference"
    assert reproduce.main([str(run), "--workdir", str(folder / "repro")]) == 0
    out = capsys.readouterr().out
    assert "MATCH (bit for bit)" in out and "different: 0" in out, out
    # A run whose stored metrics differ from what its config gives is reported, exit 1.
    summary = json.loads((run / "summary.json").read_text())
    summary["test"]["loss"] *= 1.01
    (folder / "doctored").mkdir()
    for name in ("config.json", "metrics.jsonl", "env.json"):
        (folder / "doctored" / name).write_bytes((run / name).read_bytes())
    (folder / "doctored" / "summary.json").write_text(json.dumps(summary))
    subprocess.run(["cp", "-r", str(run / "checkpoints"), str(folder / "doctored")], check=True)
    assert reproduce.main([str(folder / "doctored"), "--workdir", str(folder / "repro2")]) == 1
    out = capsys.readouterr().out
    assert "MISMATCH" in out and "test.loss" in out, out


def test_reproduce_names_what_differs_in_the_environment(tmp_path):
    from jaxgen import reproduce

    env = {"packages": {"jax": "0.12.0.1"}, "devices": ["cpu:0", "cpu:1"], "xla_flags": "-a"}
    for name, changes in (("then", {}), ("now", {"devices": ["cpu:0"], "xla_flags": ""})):
        (tmp_path / name).mkdir()
        (tmp_path / name / "env.json").write_text(json.dumps(env | changes))
    lines = []
    reproduce._env_notes(tmp_path / "then", tmp_path / "now", lines)
    assert lines == ["  note: 2 devices then, 1 now", "  note: XLA_FLAGS '-a' then, '' now"]


def test_reproduce_refuses_an_unfinished_run(folder, capsys):
    from jaxgen import reproduce

    train(_config(), folder / "unfinished", stop_at_step=5)
    assert reproduce.main([str(folder / "unfinished")]) == 2
    assert "has not finished" in capsys.readouterr().err


@pytest.mark.parametrize(
    "garbled", [b'{"seed": 0, "model": {', b"[1, 2]", b'{"model": 3}', b'{"seed": \x89\xff}']
)
def test_a_garbled_config_json_is_one_jaxgen_error(folder, capsys, garbled):
    import jaxgen
    from jaxgen import reproduce
    from jaxgen.errors import ConfigError

    run = folder / f"garbled-{garbled.hex()}"
    run.mkdir()
    (run / "config.json").write_bytes(garbled)  # the last one is not UTF-8 (make fuzz)
    (run / "summary.json").write_text("{}")  # finished, as far as reproduce can tell
    with pytest.raises(ConfigError, match="config.json .*damaged"):
        jaxgen.load_run(run)
    assert reproduce.main([str(run)]) != 0
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "damaged" in err[0] and "Traceback" not in err[0], err


def test_reading_back_one_checkpoint_checks_its_digests(folder, reference):
    from jaxgen.errors import CheckpointError

    run = folder / "snapshot"
    subprocess.run(["cp", "-r", str(folder / "reference"), str(run)], check=True)
    config = _config()
    abstract = prepare(config).abstract_state()
    ckpt = Checkpointer(run / "checkpoints")
    step = ckpt.steps()[-1]
    state, meta = ckpt.restore_step(step, abstract)
    assert int(meta["step"]) == step
    _state_file(run, step, random.Random(0)).write_bytes(b"garbled")
    with pytest.raises(CheckpointError, match=f"checkpoint {step} .* unusable"):
        ckpt.restore_step(step, abstract)
    ckpt.close()
    assert step in Checkpointer(run / "checkpoints").steps()  # reported, not moved


# -- found by `make fuzz` (scripts/fuzz.py) --------------------------------------------------
@pytest.mark.parametrize("how", ["not_a_dict", "garbled"])
def test_unreadable_orbax_metadata_sets_that_checkpoint_aside_not_the_folder(
    folder, config_file, reference, capsys, how
):
    workdir = folder / f"metadata-{how}"
    train(_config(), workdir, stop_at_step=26)
    meta = workdir / "checkpoints" / "26" / "_CHECKPOINT_METADATA"
    meta.write_text('"x"' if how == "not_a_dict" else "{\x00garbled")
    code, out, err = _main(capsys, config_file, workdir)
    assert code == 0, err
    assert "checkpoint 26 has unreadable metadata" in out and "from step 21" in out
    assert faults.same(faults.fingerprint(workdir), reference)


@pytest.mark.parametrize("summary", ["null", '"x"', "[1]", "{garbled"])
def test_a_damaged_summary_of_a_finished_run(folder, config_file, reference, capsys, summary):
    """Running a finished run again rewrites a summary.json that is valid JSON but not an
    object (`make fuzz` found `null` and a string raising AttributeError); reproduce refuses
    it in one line before training anything."""
    from jaxgen import reproduce

    workdir = folder / f"summary-{summary.encode().hex()}"
    subprocess.run(["cp", "-r", str(folder / "reference"), str(workdir)], check=True)
    (workdir / "summary.json").write_text(summary)
    assert reproduce.main([str(workdir), "--workdir", str(workdir) + "-repro"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "summary.json is damaged" in err[0], err
    assert not Path(str(workdir) + "-repro").exists()
    code, _, err = _main(capsys, config_file, workdir)
    assert code == 0, err
    assert (
        json.loads((workdir / "summary.json").read_text())["test"]
        == json.loads((folder / "reference" / "summary.json").read_text())["test"]
    )


def test_a_config_file_whose_get_config_returns_a_dict_is_one_line(tmp_path, capsys):
    path = tmp_path / "returns_dict.py"
    path.write_text("def get_config(arg=None):\n    return {'lr': 1}\n")
    code, _, err = _main(capsys, path, tmp_path / "run")
    assert code == 2 and len(err) == 1 and "returned a dict" in err[0], err
    assert not (tmp_path / "run").exists()


def test_an_empty_workdir_is_one_line(config_file, capsys):
    code = cli.main(["--config", str(config_file), "--workdir", ""])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and "--workdir is empty" in err[0], err


def test_damaged_prepared_mnist_files_are_a_data_error(tmp_path):
    from jaxgen import data as data_lib
    from jaxgen.errors import DataError

    for target in ("dataset_info.json", "train.array_record"):
        data_dir = tmp_path / target
        copy_prepared_mnist(data_dir)  # without the decoded splits: the damaged files are read
        cfg = data_lib.base_config("mnist", num_train=1000)
        cfg.data_dir = str(data_dir)
        path = next(p for p in data_dir.rglob("*") if p.name.endswith(target) or target in p.name)
        raw = bytearray(path.read_bytes())
        if target.endswith(".json"):
            raw = bytearray(b'{"name": 3, "model": []}')
        else:
            for i in range(100, len(raw), 997):  # garble every chunk the reader checks
                raw[i] ^= 0xFF
        path.write_bytes(bytes(raw))
        with pytest.raises(DataError, match="damaged"):
            data_lib.load(cfg)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_a_library_wraps_in_its_own_error_still_ends_in_one_line(capsys, sig):
    import os

    from jaxgen.errors import run_cli

    def importing():
        try:
            os.kill(os.getpid(), sig)
            time.sleep(1)  # the handler raises here
        except KeyboardInterrupt as e:  # as a C extension's import does
            raise ImportError("Encountered an error while initializing the extension") from e

    assert run_cli(importing) == 128 + sig
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"jaxgen: interrupted ({sig.name}); nothing was lost"]


def test_a_signal_while_a_thread_starts_waits_until_its_owner_can_stop_it(monkeypatch, capsys):
    import os
    import threading

    from jaxgen.errors import run_cli

    real_start, sent = threading._start_new_thread, []

    def start_then_signal(*args):  # the signal lands while `Thread.start` waits for the thread
        ident = real_start(*args)
        if not sent:  # marked first: the handler's own re-delivery timer starts a thread too
            sent.append(True)
            os.kill(os.getpid(), signal.SIGINT)
        return ident

    monkeypatch.setattr(threading, "_start_new_thread", start_then_signal)
    timers = []

    def backend_init():  # as jax does while it probes for a TPU: a 60 s warning timer
        timers.append(threading.Timer(60, lambda: None))
        timers[0].start()
        try:
            time.sleep(5)
        finally:
            timers[0].cancel()

    assert run_cli(backend_init) == 130
    timers[0].join(timeout=5)  # raised inside `start`, it ran on and held the exit for 60 s
    assert not timers[0].is_alive()
    assert capsys.readouterr().err.strip().splitlines() == [
        "jaxgen: interrupted (SIGINT); nothing was lost"
    ]


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_while_the_cli_starts_is_one_line_and_128_plus_its_number(folder, sig):
    config = faults.write_config(folder)
    proc = subprocess.Popen(
        [faults.PYTHON, "-m", "jaxgen.main", "--config", str(config),
         "--workdir", str(folder / f"startup-{sig.name}")],
        cwd=ROOT, env=faults.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    time.sleep(0.5)  # importing jax and the config: before any training
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + sig, err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
