"""Orbax checkpoints of the whole train state plus the loop's position, with fallbacks.

Layout: `checkpoints/<step>/{state,meta}` as orbax writes them (arrays through tensorstore,
metadata as JSON: restoring executes no code and unpickles nothing), plus our own
`checkpoints/<step>/sha256.json`, the digest of every file, written once orbax has committed
the step. Orbax cannot tell a garbled array chunk from a good one; the digests can, so a
truncated or garbled checkpoint is found before it is restored, reported in one line, moved
to `checkpoints.corrupt/`, and the next older one is used.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from jaxgen.errors import CheckpointError
from jaxgen.train import parallel

DIGEST_FILE = "sha256.json"
TMP_MARK = ".orbax-checkpoint-tmp"  # Orbax's suffix for a save that has not committed.


def _say(msg: str) -> None:
    print(f"jaxgen: {msg}", flush=True)


def _digests(step_dir: Path) -> dict[str, str]:
    out = {}
    for path in sorted(step_dir.rglob("*")):
        if path.is_file() and path.name != DIGEST_FILE:
            out[str(path.relative_to(step_dir))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out


def _short(e: BaseException) -> str:
    return f"{type(e).__name__}: {e}".splitlines()[0][:200]


class Checkpointer:
    """Saves `state` with a small JSON of loop metadata; restores the newest good one."""

    def __init__(self, directory: Path, max_to_keep: int = 2):
        self.directory = Path(directory).absolute()
        self.max_to_keep = max_to_keep
        # One process tidies the folder (all of a multi-process run share it), then all go on.
        self.primary = parallel.is_primary()
        if self.primary:
            self._remove_uncommitted()
            self._set_aside_unreadable_metadata()
        parallel.barrier("checkpoints-tidied")
        try:
            self.manager = ocp.CheckpointManager(
                self.directory,
                options=ocp.CheckpointManagerOptions(
                    max_to_keep=max_to_keep, create=True, cleanup_tmp_directories=True
                ),
            )
        except (OSError, ValueError) as e:
            raise CheckpointError(
                f"cannot use checkpoint folder {self.directory}: {_short(e)}"
            ) from None

    def _remove_uncommitted(self) -> None:
        """Deletes what a killed save left behind: orbax's tmp folders of uncommitted steps."""
        if not self.directory.is_dir():
            return
        for path in self.directory.iterdir():
            if TMP_MARK in path.name:
                shutil.rmtree(path, ignore_errors=True)

    def _set_aside_unreadable_metadata(self) -> None:
        """Quarantines steps whose orbax metadata is not a JSON object: orbax reads it while
        listing steps and would fail for the whole folder, older good steps included."""
        if not self.directory.is_dir():
            return
        for step_dir in sorted(self.directory.iterdir()):
            meta = step_dir / "_CHECKPOINT_METADATA"
            if not (step_dir.name.isdigit() and meta.is_file()):
                continue
            try:
                ok = isinstance(json.loads(meta.read_text()), dict)
            except (ValueError, UnicodeDecodeError):
                ok = False
            if not ok:
                moved = self._move_to_corrupt(int(step_dir.name))
                _say(f"checkpoint {step_dir.name} has unreadable metadata; moved to {moved}")

    def steps(self) -> list[int]:
        self.manager.reload()
        return sorted(self.manager.all_steps())

    def save(self, step: int, state: Any, meta: dict[str, Any]) -> None:
        """Writes checkpoint `step` (replacing one of that step) or raises CheckpointError.

        A failed save (full disk, unwritable folder) leaves the older checkpoints as they were:
        orbax writes into a tmp folder and renames it only once complete.
        """
        try:
            if step in self.manager.all_steps():
                # A checkpoint of this step exists only if we resumed before it: same content.
                self.manager.delete(step)
            self.manager.save(
                step,
                args=ocp.args.Composite(
                    state=ocp.args.StandardSave(state), meta=ocp.args.JsonSave(meta)
                ),
                force=True,
            )
            self.manager.wait_until_finished()
            if self.primary:  # orbax committed the step on process 0's side of the barrier
                step_dir = self.directory / str(step)
                tmp = step_dir / (DIGEST_FILE + ".tmp")
                tmp.write_text(json.dumps(_digests(step_dir), indent=0, sort_keys=True))
                os.replace(tmp, step_dir / DIGEST_FILE)
        except Exception as e:
            self._settle()
            if parallel.multi_process() and parallel.lost_peer(e):
                raise parallel.peer_lost(e, self.directory) from None
            older = [s for s in self._steps_quietly() if s < step]
            kept = f"checkpoint {older[-1]} is intact" if older else "no older checkpoint"
            hint = "; free some disk space" if _is_enospc(e) else ""
            raise CheckpointError(
                f"could not write checkpoint {step} in {self.directory}: {_short(e)}; "
                f"{kept}{hint}; run the same command again to resume"
            ) from None

    def _steps_quietly(self) -> list[int]:
        try:
            return sorted(
                int(p.name)
                for p in self.directory.iterdir()
                if p.name.isdigit() and (p / DIGEST_FILE).is_file()
            )
        except OSError:
            return []

    def has_digests(self, step: int) -> bool:
        return (self.directory / str(step) / DIGEST_FILE).is_file()

    def verify(self, step: int) -> str | None:
        """None if checkpoint `step` matches its digests, else what is wrong (one phrase).

        A checkpoint without digests (killed between orbax's commit and our digest write)
        passes: orbax committed it, so it is complete.
        """
        step_dir = self.directory / str(step)
        digest_path = step_dir / DIGEST_FILE
        if not digest_path.is_file():
            return None
        try:
            expected = json.loads(digest_path.read_text())
            if not isinstance(expected, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as e:
            return f"its digest file is unreadable ({_short(e)})"
        actual = _digests(step_dir)
        for name, digest in expected.items():
            if name not in actual:
                return f"file {name} is missing"
            if actual[name] != digest:
                return f"file {name} is truncated or garbled (sha256 mismatch)"
        return None

    def restore(self, abstract_state: Any) -> tuple[Any, dict[str, Any]] | None:
        """The newest checkpoint that verifies and restores, or None when there is none.

        A checkpoint that fails (truncated, garbled) is reported in one line, moved to
        `checkpoints.corrupt/` (so a resumed run can save that step again) and the next older
        one is tried; if none restores, CheckpointError. A checkpoint that verifies but does
        not fit `abstract_state` was written by another config: CheckpointError, nothing moved.
        """
        steps = self.steps()
        if not steps:
            return None
        failures = []
        for step in reversed(steps):
            problem = self.verify(step)
            if problem is None:
                try:
                    mismatch = self._stored_mismatch(step, abstract_state)
                    if mismatch:  # before orbax reads (a failed read leaves its tasks behind)
                        raise ValueError(f"array shapes differ from this config's: {mismatch}")
                    state, meta = self._restore(step, abstract_state)
                    int(meta["step"])
                    if not _same_shapes(abstract_state, state):
                        raise ValueError("array shapes differ from this config's")
                    return state, meta
                except Exception as e:
                    if self.has_digests(step):
                        # Every byte is as written: the config, not the file, is wrong.
                        raise CheckpointError(
                            f"checkpoint {step} in {self.directory} matches its digests but "
                            f"does not restore with this config ({_short(e)}); resume with the "
                            f"run's own config.json or use a new --workdir"
                        ) from None
                    problem = f"it does not restore ({_short(e)})"
            failures.append(step)
            moved = self._quarantine(step)
            _say(f"checkpoint {step} is unusable: {problem}; moved to {moved}; trying an older one")
        raise CheckpointError(
            f"no usable checkpoint in {self.directory} (steps {failures} are corrupt and were "
            f"moved to {self.directory.parent / 'checkpoints.corrupt'}); "
            f"use a new --workdir, or delete the checkpoints folder to start over"
        )

    def restore_step(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any]]:
        """Checkpoint `step` read back (nothing moved), after it matches its digests.

        Raises:
          CheckpointError: the checkpoint fails its digests or does not restore.
        """
        problem = self.verify(step)
        if problem is None:
            try:
                return self._restore(step, abstract_state)
            except Exception as e:
                problem = f"it does not restore ({_short(e)})"
        raise CheckpointError(f"checkpoint {step} in {self.directory} is unusable: {problem}")

    def _stored_mismatch(self, step: int, abstract_state: Any) -> str | None:
        """The first array whose stored shape or dtype differs from `abstract_state`'s.

        Read from orbax's metadata, no array data: a restore that fails mid-read leaves
        orbax's reading tasks to be collected later, which print tracebacks at exit.
        """
        try:
            stored = ocp.StandardCheckpointHandler().metadata(self.directory / str(step) / "state")
        except Exception:  # unreadable metadata: the restore itself reports it
            return None
        have = {_key(p): (tuple(x.shape), str(x.dtype)) for p, x in _leaves(stored)}
        for path, x in _leaves(abstract_state):
            want = (tuple(x.shape), str(x.dtype))
            got = have.get(_key(path))
            if got is not None and got != want:
                return f"{_key(path)} is {got[0]} {got[1]} there, {want[0]} {want[1]} here"
        return None

    def _restore(self, step: int, abstract_state: Any) -> tuple[Any, dict[str, Any]]:
        out = self.manager.restore(
            step,
            args=ocp.args.Composite(
                state=ocp.args.StandardRestore(abstract_state), meta=ocp.args.JsonRestore()
            ),
        )
        return out["state"], dict(out["meta"])

    def _quarantine(self, step: int) -> Path:
        # Every process has read the step and found the same fault before process 0 moves it.
        parallel.barrier(f"quarantine-{step}")
        dest = self._move_to_corrupt(step) if self.primary else self._corrupt_dir() / str(step)
        parallel.barrier(f"quarantined-{step}")
        self.manager.reload()
        return dest

    def _move_to_corrupt(self, step: int) -> Path:
        dest_dir = self._corrupt_dir()
        dest_dir.mkdir(exist_ok=True)
        dest = dest_dir / f"{step}-{time.strftime('%Y%m%d-%H%M%S')}"
        shutil.move(str(self.directory / str(step)), dest)
        return dest

    def _corrupt_dir(self) -> Path:
        return self.directory.parent / (self.directory.name + ".corrupt")

    def _settle(self) -> None:
        """After a failed save: stop orbax's background threads of it and drop its tmp folder.

        A failed save's finalize thread can outlive the exception; left running, it deletes
        the tmp folder of the next save in this directory (seen under load when a run resumes
        in the same process). The run is ending anyway, so the manager is closed.
        """
        for fn in (self.manager.wait_until_finished, self.manager.close):
            with contextlib.suppress(Exception):  # The save already failed: report that one.
                fn()
        if self.primary:
            self._remove_uncommitted()

    def close(self) -> None:
        self.manager.close()


def _is_enospc(e: BaseException | None) -> bool:
    while e is not None:
        if isinstance(e, OSError) and e.errno == errno.ENOSPC:
            return True
        if "No space left" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _leaves(tree: Any) -> list[tuple[Any, Any]]:
    return jax.tree_util.tree_flatten_with_path(tree)[0]


def _key(path: Any) -> str:
    """A leaf's path as "opt_state/0/mu/dense_0/kernel", whether it was reached through
    attributes (a TrainState), dict keys (orbax's metadata) or sequence indices."""
    return "/".join(str(getattr(k, "key", getattr(k, "name", getattr(k, "idx", k)))) for k in path)


def _same_shapes(abstract: Any, state: Any) -> bool:
    a = jax.tree.map(lambda x: (x.shape, x.dtype), abstract)
    b = jax.tree.map(lambda x: (x.shape, x.dtype), state)
    return a == b
