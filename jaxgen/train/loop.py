"""The one training loop every family shares.

Compilation: a chunk of `train.steps_per_scan` steps (by default a whole epoch) runs as one
`lax.scan` inside one `jit`, with the state donated; on CPU, a step with convolutions runs as
a Python loop over the jitted step instead (`train.loop`), since XLA:CPU runs convolutions
inside a loop body an order of magnitude slower (jax-ml/jax#12868). Seeds: the state always
carries a leading seed axis and the chunk is `vmap`ped over it, so `num_seeds=8` trains eight
seeds in one program. Randomness: seed s owns the root key `PRNGKey(s)`; step n uses
`fold_in(named_key(root, "train"), n)`, epoch e shuffles with `fold_in(named_key(root,
"shuffle"), e)`. A resumed run therefore replays exactly the same data order and noise.
"""

from __future__ import annotations

import contextlib
import dataclasses
import time
from pathlib import Path
from typing import Any

import jax
import numpy as np
from tqdm.auto import tqdm

from jaxgen import data as data_lib
from jaxgen.config import ConfigDict, to_json
from jaxgen.errors import ConfigError, Interrupted, NonFiniteError, RunDirError
from jaxgen.report import TensorBoardLog, write_report
from jaxgen.sampling import named_key
from jaxgen.train import parallel
from jaxgen.train.checkpoint import Checkpointer
from jaxgen.train.family import Family
from jaxgen.train.preflight import prepare
from jaxgen.train.rundir import (
    MetricsLog,
    RunLock,
    environment,
    read_json_object,
    write_json,
    write_text,
)
from jaxgen.train.seeds import seed_slice
from jaxgen.train.signals import StopRequests
from jaxgen.train.trainer import Trainer


@dataclasses.dataclass
class RunResult:
    """What `train` returns: the final state (leading seed axis) and the run's numbers."""

    config: ConfigDict
    family: Family
    state: Any
    splits: data_lib.Splits
    workdir: Path
    summary: dict[str, Any]

    def seed_state(self, i: int = 0) -> Any:
        return seed_slice(self.state, i)


def _summarize(values: dict[str, np.ndarray]) -> dict[str, Any]:
    """Per-metric mean over seeds, plus std and per-seed values when there are several."""
    out = {}
    for k, v in values.items():
        v = np.asarray(v, np.float64)
        out[k] = float(v.mean())
        if v.size > 1:
            out[k + "_std"] = float(v.std())
            out[k + "_seeds"] = v.tolist()
    return out


def _read_summary(workdir: Path) -> dict[str, Any]:
    """The run folder's summary.json, or {} if there is none or it is not a JSON object."""
    return read_json_object(workdir / "summary.json") or {}


class _NoSink:
    """The metrics sink of a process that does not write the run folder."""

    def write(self, row: dict[str, Any]) -> None:
        pass

    def close(self) -> None:
        pass


def _first_nonfinite(metrics: dict[str, np.ndarray]) -> tuple[str, int, int] | None:
    """(metric, seed, step-in-chunk) of the first NaN/Inf in (S, L) chunk metrics."""
    first = None
    for name, v in metrics.items():
        bad = ~np.isfinite(np.asarray(v))
        if bad.any():
            seed, pos = np.argwhere(bad)[0][:2] if bad.ndim > 1 else (0, np.argmax(bad))
            if first is None or pos < first[2]:
                first = (name, int(seed), int(pos))
    return first


def _nonfinite_leaf(state: Any) -> str | None:
    """The path of the first floating-point state entry holding a NaN or Inf, or None."""
    # On the host, as the checkpoint writer reads it anyway: no per-shape compilation.
    for path, x in jax.tree_util.tree_leaves_with_path(jax.device_get(state)):
        x = np.asarray(x)
        if np.issubdtype(x.dtype, np.inexact) and not np.isfinite(x).all():
            return jax.tree_util.keystr(path)
    return None


def train(
    config: ConfigDict,
    workdir: str | Path,
    *,
    family: Family | None = None,
    splits: data_lib.Splits | None = None,
    stop_at_step: int | None = None,
) -> RunResult:
    """Trains `config` in `workdir`, resuming from its newest checkpoint if there is one.

    Args:
      config: the run config (see `jaxgen.config.base_config`).
      workdir: the run folder; created if missing, resumed if it holds a checkpoint.
      family: an already built family (default: from `config.model.family`).
      splits: already loaded data (default: `jaxgen.data.load(config.dataset)`).
      stop_at_step: stop (with a checkpoint) once this step is reached, as if the run had
        been pre-empted there; calling `train` again resumes it.
    """
    workdir = Path(workdir)
    if config.distributed:
        try:
            parallel.initialize_distributed()
        except (ValueError, RuntimeError) as e:
            raise ConfigError(f"distributed=True but no multi-host job to join: {e}") from None
    t_start = time.time()
    # Everything that can reject the config or the data runs before the run folder exists.
    with parallel.peer_errors(workdir / "checkpoints"):
        trainer = prepare(config, family, splits)
    try:
        workdir.mkdir(parents=True, exist_ok=True)
        # Process 0 holds the lock for a multi-process job: the others write nothing here.
        lock = RunLock(workdir) if parallel.is_primary() else contextlib.nullcontext()
        lock.__enter__()
    except OSError as e:
        raise RunDirError(f"cannot create or lock the run folder {workdir}: {e}") from None
    try:
        checkpoints = workdir / "checkpoints"
        with parallel.peer_errors(checkpoints), parallel.PeerWatch(checkpoints):
            return _train_locked(config, workdir, trainer, stop_at_step, t_start)
    finally:
        lock.__exit__(None, None, None)


@dataclasses.dataclass
class _Run:
    """One session of a run, open: its sinks, its checkpoints and where training stands."""

    config: ConfigDict
    workdir: Path
    trainer: Trainer
    log: MetricsLog
    tensorboard: Any
    ckpt: Checkpointer
    state: Any
    step: int
    prior_seconds: float  # training seconds of the run's earlier sessions
    prior_cpu_seconds: float  # and this process's CPU seconds in them
    bar: Any = None
    last_saved: int = 0
    t_train: float = 0.0
    t_cpu: float = 0.0
    steps_done: int = 0  # steps of chunks that did not compile, and their seconds
    steady_seconds: float = 0.0
    first_chunk_seconds: float | None = None

    def save(self) -> None:
        """A checkpoint of the current step, refused if the state holds a NaN or Inf."""
        bad = _nonfinite_leaf(self.state)
        if bad is not None:
            raise NonFiniteError(
                f"state entry {bad} became non-finite by step {self.step}; run stopped, last "
                f"good checkpoint: step {self._last_good()}; try a lower optimizer.lr"
            )
        spe = self.trainer.steps_per_epoch
        self.ckpt.save(self.step, self.state, {"step": self.step, "epoch": self.step / spe})
        self.last_saved = self.step

    def _last_good(self) -> int | str:
        return self.last_saved if self.ckpt.steps() else "none"

    def close(self, *, quietly: bool) -> None:
        """The one way out: the bar, orbax's threads (here, not in the next run's saves) and
        the logs. `quietly` after an error, which a failing close must not replace."""
        if self.bar is not None:
            self.bar.close()
        with contextlib.suppress(Exception) if quietly else contextlib.nullcontext():
            self.ckpt.close()
        self.tensorboard.close()


def _train_locked(
    config: ConfigDict, workdir: Path, trainer: Trainer, stop_at_step: int | None, t_start: float
) -> RunResult:
    """Opens the session (restoring the newest checkpoint), runs its chunks, finishes it."""
    run = _open(config, workdir, trainer)
    closed_quietly = True
    try:
        _run_chunks(run, stop_at_step)
        result = _finish(run, t_start)
        closed_quietly = False
        return result
    finally:
        run.close(quietly=closed_quietly)


def _open(config: ConfigDict, workdir: Path, trainer: Trainer) -> _Run:
    primary = parallel.is_primary()  # the one process that writes the run folder
    log = MetricsLog(workdir / "metrics.jsonl", writable=primary)
    tensorboard = TensorBoardLog(workdir / "tensorboard") if primary else _NoSink()
    log.sinks.append(tensorboard)
    ckpt = Checkpointer(workdir / "checkpoints", max_to_keep=config.train.max_checkpoints)
    try:
        restored = ckpt.restore(trainer.abstract_state())
    except BaseException:
        ckpt.close()
        tensorboard.close()
        raise
    # Only now: a checkpoint refused as another config's leaves the run's own config.json.
    if primary:
        write_text(workdir / "config.json", to_json(config) + "\n")
        write_json(workdir / "env.json", environment())
    if restored is None:
        state, step = trainer.init(), 0
        log.truncate_after(-1)
    else:
        state, meta = restored
        step = int(meta["step"])
        log.truncate_after(step)
        print(f"jaxgen: resuming {workdir} from step {step}", flush=True)
    # Training seconds summed over the sessions of a resumed run (for learning curves
    # against time): the earlier sessions' total is the last logged value.
    # CPU seconds too: wall time counts what else ran on a shared machine, CPU time does not.
    rows = log.read()
    prior_seconds = max((r.get("train_seconds", 0.0) for r in rows), default=0.0)
    prior_cpu_seconds = max((r.get("train_cpu_seconds", 0.0) for r in rows), default=0.0)
    return _Run(
        config,
        workdir,
        trainer,
        log,
        tensorboard,
        ckpt,
        state=trainer.place_state(state),
        step=step,
        prior_seconds=prior_seconds,
        prior_cpu_seconds=prior_cpu_seconds,
        last_saved=step,
    )


def _run_chunks(run: _Run, stop_at_step: int | None) -> None:
    """Chunks until `stop_at_step` or the end, logging, evaluating and saving as configured.

    A stop request (SIGINT/SIGTERM) ends the run after the chunk in flight with a checkpoint;
    a second one, or one outside a chunk, at once (the state in hand is saved if consistent).
    """
    config, trainer = run.config, run.trainer
    tc, splits = config.train, trainer.splits
    spe, total = trainer.steps_per_epoch, trainer.total_steps
    stop = min(total, stop_at_step) if stop_at_step is not None else total
    every = tc.checkpoint_every_steps or spe
    run.bar = tqdm(
        total=total,
        initial=run.step,
        unit="step",
        disable=not tc.progress,
        dynamic_ncols=True,
        desc=run.workdir.name,
    )
    run.t_train, run.t_cpu = time.time(), time.process_time()
    try:
        with StopRequests() as stop_requests:
            while run.step < stop:
                step = run.step
                epoch, pos = divmod(step, spe)
                length = min(trainer.chunk - pos % trainer.chunk, spe - pos, stop - step)
                compiles = length not in trainer._chunk_fns
                fn = trainer.chunk_fn(length)
                t_chunk = time.time()
                try:
                    new_state, metrics = fn(
                        run.state,
                        trainer.keys,
                        trainer.train_data,
                        epoch,
                        pos,
                        # Processes of one job must all run the same steps: none ends a
                        # chunk early on its own.
                        should_stop=None
                        if parallel.multi_process()
                        else lambda: stop_requests.signum is not None,
                    )
                    metrics = jax.device_get(metrics)  # The one host sync per chunk.
                    length = next(iter(jax.tree.leaves(metrics))).shape[1]
                except KeyboardInterrupt:
                    # The chunk's input was donated: the newest checkpoint is what is left.
                    raise Interrupted(
                        f"interrupted at step {step}; checkpoint at step "
                        f"{run.last_saved} kept; run the same command to resume"
                    ) from None
                bad = _first_nonfinite(metrics)
                if bad is not None:
                    name, seed, at = bad
                    raise NonFiniteError(
                        f"metric {name!r} became non-finite at step {step + at + 1} "
                        f"(seed {config.seed + seed}); run stopped, last good checkpoint: step "
                        f"{run._last_good()}; try a lower optimizer.lr"
                    )
                run.state, run.step = new_state, step + length
                step = run.step
                # Throughput is measured on chunks that did not compile.
                if compiles:
                    run.first_chunk_seconds = run.first_chunk_seconds or time.time() - t_chunk
                else:
                    run.steps_done += length
                    run.steady_seconds += time.time() - t_chunk
                run.bar.update(length)
                means = {k: float(np.mean(v)) for k, v in metrics.items()}
                run.bar.set_postfix({k: f"{v:.4g}" for k, v in means.items() if k == "loss"})
                epoch_end = step % spe == 0
                run.log.write(
                    {
                        "step": step,
                        "epoch": step / spe,
                        "split": "train",
                        "train_seconds": run.prior_seconds + time.time() - run.t_train,
                        "train_cpu_seconds": run.prior_cpu_seconds
                        + time.process_time()
                        - run.t_cpu,
                        **_summarize({k: np.mean(v, axis=-1) for k, v in metrics.items()}),
                    }
                )
                every_epochs = epoch_end and (step // spe) % tc.eval_every_epochs == 0
                every_steps = tc.eval_every_steps and step % tc.eval_every_steps == 0
                if (every_epochs or every_steps) and splits.val is not None:
                    run.log.write(
                        {
                            "step": step,
                            "epoch": step // spe,
                            "split": "val",
                            **_summarize(trainer.evaluate(run.state, "val")),
                        }
                    )
                if step - run.last_saved >= every or step == stop:
                    run.save()
                signum = parallel.agreed_signal(stop_requests.signum)
                if signum is not None and step < total:
                    if step > run.last_saved:
                        run.save()
                    err = Interrupted(
                        f"interrupted at step {step}; checkpoint saved; run the same command "
                        f"to resume"
                    )
                    err.exit_code = 128 + signum
                    raise err
    except KeyboardInterrupt:
        # A signal outside a chunk (e.g. during evaluation): the state is consistent, keep it.
        if run.step > run.last_saved:
            run.save()
        raise Interrupted(
            f"interrupted at step {run.step}; checkpoint saved; run the same command to resume"
        ) from None
    run.bar.close()


def _finish(run: _Run, t_start: float) -> RunResult:
    """The final evaluation, summary and report of a run that reached its last step; a run
    stopped earlier (`stop_at_step`) returns with a short summary."""
    config, trainer, workdir = run.config, run.trainer, run.workdir
    family, splits, state, step = trainer.family, trainer.splits, run.state, run.step
    total, tc = trainer.total_steps, config.train
    train_seconds = time.time() - run.t_train
    cpu_seconds = time.process_time() - run.t_cpu
    if step < total:
        summary: dict[str, Any] = {"stopped_at_step": step, "steps": total}
        return RunResult(config, family, state, splits, workdir, summary)

    summary = {
        "steps": total,
        "epochs": tc.num_epochs,
        "num_seeds": config.num_seeds,
        # Which chunk strategy ran: one lax.scan per chunk, or a Python loop over steps.
        "loop": "python" if trainer.uses_python_loop() else "scan",
        "train_seconds_this_session": train_seconds,
        "train_seconds": run.prior_seconds + train_seconds,  # over every session of the run
        "train_cpu_seconds": run.prior_cpu_seconds + cpu_seconds,  # all of its threads
        "steps_per_second": run.steps_done / run.steady_seconds if run.steps_done else None,
        "first_chunk_seconds": run.first_chunk_seconds,  # Includes compilation.
    }
    if not run.steps_done:
        # Nothing trained this session (a finished run run again): keep the throughput of
        # the session that trained it instead of overwriting it with null.
        earlier = _read_summary(workdir)
        for k in ("steps_per_second", "first_chunk_seconds"):
            summary[k] = summary[k] if summary[k] is not None else earlier.get(k)
    for split in ("val", "test"):
        if getattr(splits, split) is not None:
            values = _summarize(trainer.evaluate(state, split))
            run.log.write(
                {"step": step, "epoch": tc.num_epochs, "split": split, "final": True, **values}
            )
            summary[split] = values
    if parallel.is_primary():
        # On the host: process 0 computes the report alone, without the other processes.
        local = parallel.host_local(state) if parallel.multi_process() else state
        report_key = named_key(np.asarray(trainer.keys)[0], "report")
        summary["report"] = family.report(seed_slice(local, 0), splits, workdir, report_key)
        summary["wall_seconds_this_session"] = time.time() - t_start
        write_json(workdir / "summary.json", summary)
        # Every run folder, sub-runs of experiments included, gets its report.
        write_report(RunResult(config, family, local, splits, workdir, summary))
    parallel.barrier("report")  # the others wait: leaving would end the job under process 0
    return RunResult(config, family, state, splits, workdir, summary)
