"""The shared loop: compiled, reproducible, resumable, vmapped over seeds, data parallel."""

from __future__ import annotations

import json
import os
import textwrap
from unittest import mock

import chex
import jax
import numpy as np
import pytest

import jaxgen
from jaxgen.errors import ConfigError, NonFiniteError
from jaxgen.train import make_family, train
from jaxgen.train.checkpoint import Checkpointer
from tests.conftest import PYTHON, ROOT, tiny_ae_config


def _leaves(state):
    return [np.asarray(x) for x in jax.tree.leaves(state.params)]


def _rows(workdir, split):
    rows = [json.loads(line) for line in (workdir / "metrics.jsonl").read_text().splitlines()]
    return [r for r in rows if r["split"] == split]


def test_loss_falls_and_the_run_folder_is_complete(tmp_path):
    result = train(tiny_ae_config(num_epochs=6), tmp_path / "run")
    losses = [r["loss"] for r in _rows(tmp_path / "run", "train")]
    assert losses[-1] < 0.5 * losses[0]
    for name in ("config.json", "env.json", "metrics.jsonl", "summary.json"):
        assert (tmp_path / "run" / name).is_file()
    env = json.loads((tmp_path / "run" / "env.json").read_text())
    assert env["packages"]["jax"] == jax.__version__
    # The cores the run was allowed (taskset) are recorded beside the XLA flags.
    assert set(env["cpu_affinity"]) == os.sched_getaffinity(0) and env["cpu_count"] >= 1
    assert result.summary["test"]["loss"] < losses[0]
    assert json.loads((tmp_path / "run" / "config.json").read_text())["seed"] == 0
    # Running the finished run again trains nothing and keeps the measured throughput.
    first = result.summary["steps_per_second"]
    again = train(tiny_ae_config(num_epochs=6), tmp_path / "run")
    assert first and again.summary["steps_per_second"] == first


def test_same_config_twice_gives_identical_results(tmp_path):
    a = train(tiny_ae_config(), tmp_path / "a")
    b = train(tiny_ae_config(), tmp_path / "b")
    for x, y in zip(_leaves(a.state), _leaves(b.state), strict=True):
        np.testing.assert_array_equal(x, y)
    assert a.summary["test"] == b.summary["test"]


@pytest.mark.parametrize("stop", [7, 40])  # Mid-chunk; an epoch boundary.
def test_stopped_and_resumed_equals_uninterrupted(tmp_path, stop):
    cfg = tiny_ae_config(num_epochs=4, steps_per_scan=5)
    cfg.optimizer.schedule = "cosine"
    full = train(cfg, tmp_path / "full")
    part = train(cfg, tmp_path / "part", stop_at_step=stop)
    assert part.summary["stopped_at_step"] == stop
    resumed = train(cfg, tmp_path / "part")
    for x, y in zip(_leaves(full.state), _leaves(resumed.state), strict=True):
        np.testing.assert_array_equal(x, y)
    assert full.summary["test"] == resumed.summary["test"]
    full_rows = _rows(tmp_path / "full", "train")
    resumed_rows = _rows(tmp_path / "part", "train")
    # The pre-empted run also logged its partial chunk; every uninterrupted row is there.
    assert {r["step"] for r in full_rows} <= {r["step"] for r in resumed_rows}
    # Training time, wall and CPU, adds up over the two sessions instead of restarting.
    for key in ("train_seconds", "train_cpu_seconds"):
        times = [r[key] for r in resumed_rows]
        assert times[0] > 0 and times == sorted(times), (key, times)
        assert resumed.summary[key] >= times[-1]


def test_vmapped_seeds_match_single_seed_runs(tmp_path):
    cfg = tiny_ae_config()
    cfg.num_seeds = 3
    multi = train(cfg, tmp_path / "multi")
    for i in (0, 2):
        single_cfg = tiny_ae_config()
        single_cfg.seed = i
        single = train(single_cfg, tmp_path / f"seed{i}")
        for x, y in zip(_leaves(multi.seed_state(i)), _leaves(single.seed_state(0)), strict=True):
            np.testing.assert_allclose(x, y, rtol=2e-4, atol=2e-5)
    test = multi.summary["test"]
    assert len(test["loss_seeds"]) == 3 and test["loss_std"] > 0


def test_per_step_jit_equals_the_scanned_epoch(tmp_path):
    scanned = train(tiny_ae_config(), tmp_path / "scan")
    stepped = train(tiny_ae_config(steps_per_scan=1), tmp_path / "step")
    for x, y in zip(_leaves(scanned.state), _leaves(stepped.state), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)


def test_python_dispatched_loop_equals_the_scanned_epoch(tmp_path):
    """train.loop="python" (what CPU runs of conv models use) trains the same model."""
    scanned = train(tiny_ae_config(num_epochs=2, loop="scan"), tmp_path / "scan")
    python = train(tiny_ae_config(num_epochs=2, loop="python"), tmp_path / "python")
    for x, y in zip(_leaves(scanned.state), _leaves(python.state), strict=True):
        np.testing.assert_allclose(x, y, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(
        scanned.summary["test"]["loss"], python.summary["test"]["loss"], rtol=1e-4
    )


def test_auto_loop_dispatches_conv_steps_from_python_on_cpu():
    from jaxgen.families import autoencoder
    from jaxgen.train.trainer import Trainer

    images = {"x": np.zeros((16, 8, 8, 1), np.float32), "y": np.zeros(16, np.int32)}
    splits = jaxgen.data.Splits(train=images, test=images, info={"name": "zeros"})

    def trainer(arch):
        cfg = autoencoder.config("mnist", code_size=2, arch=arch)
        cfg.train.batch_size = 8
        return Trainer(cfg, make_family(cfg), splits)

    assert not trainer("mlp").uses_python_loop()
    if jax.default_backend() == "cpu":
        assert trainer("conv").uses_python_loop()
    # On an accelerator the same conv step runs as a scanned epoch (make gpu-check's part 3).
    with mock.patch.object(jax, "default_backend", return_value="gpu"):
        assert not trainer("conv").uses_python_loop()


def test_a_stop_request_ends_a_python_loop_chunk_after_the_current_step():
    """SIGINT on a conv run stops within a step, not at the end of the epoch's chunk."""
    from jaxgen.train.trainer import Trainer

    cfg = tiny_ae_config(num_epochs=1, loop="python")
    trainer = Trainer(cfg, make_family(cfg), jaxgen.data.load(cfg.dataset))
    length = trainer.steps_per_epoch
    assert length > 4
    fn = trainer.chunk_fn(length)
    calls = []

    def should_stop():
        calls.append(1)
        return len(calls) >= 3

    args = (trainer.keys, trainer.train_data, 0, 0)
    _, metrics = fn(trainer.init(), *args, should_stop=should_stop)
    assert metrics["loss"].shape == (cfg.num_seeds, 3)
    _, metrics = fn(trainer.init(), *args)
    assert metrics["loss"].shape == (cfg.num_seeds, length)


@pytest.mark.parametrize("loop", ["scan", "python"])
def test_the_epoch_compiles_once(tmp_path, loop):
    # "auto" would trace the step once more (make_jaxpr) to look for convolutions.
    chex.clear_trace_counter()  # The counter is per function: parametrized cases share it.
    cfg = tiny_ae_config(num_epochs=3, loop=loop)
    family = make_family(cfg)
    original = family.train_step

    @chex.assert_max_traces(n=1)
    def traced_step(state, batch, key):
        return original(state, batch, key)

    family.train_step = traced_step
    train(cfg, tmp_path / "run", family=family)


def test_nan_stops_the_run_and_keeps_the_last_checkpoint(tmp_path):
    # One good epoch (a checkpoint at its end), then a rate that blows up when resumed.
    cfg = tiny_ae_config(num_epochs=1)
    cfg.optimizer.name, cfg.optimizer.lr = "sgd", 0.01
    first = train(cfg, tmp_path / "run").summary["steps"]
    cfg = tiny_ae_config(num_epochs=30)
    cfg.optimizer.name, cfg.optimizer.lr = "sgd", 900.0
    with pytest.raises(NonFiniteError, match=r"became non-finite (at|by) step \d+") as err:
        train(cfg, tmp_path / "run")
    assert f"last good checkpoint: step {first}" in str(err.value)
    assert Checkpointer(tmp_path / "run" / "checkpoints").steps() == [first]


def test_batch_larger_than_data_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="batch_size"):
        train(tiny_ae_config(batch_size=100_000), tmp_path / "run")


def test_load_run_gives_a_script_the_trained_model(tmp_path):
    result = train(tiny_ae_config(), tmp_path / "run")
    run = jaxgen.load_run(tmp_path / "run")
    x = result.splits.test["x"][:16]
    z = run.encode(x)
    chex.assert_shape(z, (16, 2))
    chex.assert_shape(run.decode(z), x.shape)
    family = make_family(result.config)
    np.testing.assert_allclose(
        run.reconstruct(x), family.reconstruct(result.seed_state(0), x), rtol=1e-5, atol=1e-6
    )


def _on_two_host_devices(script: str) -> str:
    """Runs `script` with two forced host devices, in a subprocess (XLA_FLAGS must precede
    the jax import); returns its stdout."""
    import os
    import subprocess

    head = f"import sys, numpy as np, jax\nsys.path.insert(0, {str(ROOT)!r})\n"
    flags = f"{os.environ.get('XLA_FLAGS', '')} --xla_force_host_platform_device_count=2"
    env = dict(os.environ, XLA_FLAGS=flags.strip())
    proc = subprocess.run(
        [PYTHON, "-c", head + textwrap.dedent(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout


def test_data_parallel_matches_one_device(tmp_path):
    out = _on_two_host_devices(f"""
        assert jax.device_count() == 2
        from tests.conftest import tiny_ae_config
        from jaxgen.train import train
        one = train(tiny_ae_config(), {str(tmp_path / "one")!r})
        cfg = tiny_ae_config(); cfg.data_parallel = True
        two = train(cfg, {str(tmp_path / "two")!r})
        for a, b in zip(jax.tree.leaves(one.state.params), jax.tree.leaves(two.state.params)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-4, atol=1e-5)
        print("OK", one.summary["test"]["loss"], two.summary["test"]["loss"])
    """)
    assert "OK" in out


def test_seed_parallel_splits_the_seeds_over_devices_with_one_device_numbers(tmp_path):
    """Four seeds, two per host device: the same states as the four vmapped on one device,
    also across a stop and resume, and a seed count the devices do not divide is refused."""
    out = _on_two_host_devices(f"""
        from tests.conftest import tiny_ae_config
        from jaxgen.errors import ConfigError
        from jaxgen.train import train
        def cfg(parallel, seeds=4):
            c = tiny_ae_config(num_epochs=2); c.num_seeds = seeds; c.seed_parallel = parallel
            return c
        one = train(cfg(False), {str(tmp_path / "one")!r})
        train(cfg(True), {str(tmp_path / "two")!r}, stop_at_step=15)
        two = train(cfg(True), {str(tmp_path / "two")!r})
        leaves = jax.tree.leaves(two.state.params)
        assert all(len(x.sharding.device_set) == 2 for x in leaves)
        for a, b in zip(jax.tree.leaves(one.state.params), leaves):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        assert one.summary["steps"] == two.summary["steps"] > 15
        try:
            train(cfg(True, seeds=3), {str(tmp_path / "three")!r})
        except ConfigError as e:
            print("REFUSED", e)
        print("OK", max(float(np.abs(np.asarray(a) - np.asarray(b)).max())
                        for a, b in zip(jax.tree.leaves(one.state.params), leaves)))
    """)
    assert "REFUSED seed_parallel splits num_seeds=3 over 2 devices" in out, out
    assert "OK" in out, out


def test_validation_every_n_steps_and_cumulative_training_seconds(tmp_path):
    # Validation at the end of every 4-step chunk, not only at the epoch's end.
    cfg = tiny_ae_config(num_epochs=1, steps_per_scan=4, eval_every_steps=4)
    result = train(cfg, tmp_path / "run")
    steps = result.summary["steps"]
    val = [r["step"] for r in _rows(tmp_path / "run", "val") if not r.get("final")]
    assert len(val) > 2 and val == sorted(set(range(4, steps + 1, 4)) | {steps})
    assert result.summary["loop"] == "scan"  # no convolution: the whole chunk is one scan
    seconds = [r["train_seconds"] for r in _rows(tmp_path / "run", "train")]
    assert seconds == sorted(seconds) and seconds[0] > 0


def test_data_parallel_lstm_gradient_is_partial_sums_and_one_all_reduce():
    """With the batch split over two devices (traced under the mesh, as `data_parallel`
    steps are), each device computes its own share of the recurrent weight's gradient and
    one all-reduce sums them: no device gathers the other's sequence activations (a
    (T*B, H) reshape of the split ones made XLA gather them, and the data-parallel LSTM step
    slower than one device's). The gradient is one device's up to rounding."""
    out = _on_two_host_devices("""
        import flax.linen as nn, jax.numpy as jnp
        from jax.sharding import Mesh, NamedSharding, PartitionSpec as P
        from jaxgen.models import rnn

        class LM(nn.Module):
            @nn.compact
            def __call__(self, tokens):
                _, hs = rnn.scan(rnn.make_cell("lstm", 16, num_embeddings=11), tokens)
                return nn.Dense(11)(hs).sum()

        tokens = jnp.asarray(np.random.default_rng(0).integers(0, 11, (8, 12)), jnp.int32)
        params = LM().init(jax.random.PRNGKey(0), tokens)
        grad = jax.jit(jax.grad(lambda p, x: LM().apply(p, x)))
        mesh = Mesh(np.asarray(jax.devices()), ("data",))
        split = jax.device_put(tokens, NamedSharding(mesh, P("data")))
        replicated = jax.device_put(params, NamedSharding(mesh, P()))
        with jax.set_mesh(mesh):  # as the Trainer traces a data_parallel step
            hlo = grad.lower(replicated, split).compile().as_text()
            two = grad(replicated, split)
        print("GATHERS", hlo.count(" all-gather("), "REDUCES", hlo.count(" all-reduce("))
        one = grad(params, tokens)
        for a, b in zip(jax.tree.leaves(one), jax.tree.leaves(two)):
            np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-6)
        print("OK")
    """)
    assert "GATHERS 0 REDUCES 1" in out and "OK" in out, out


def test_data_parallel_trainer_traces_its_step_under_the_mesh():
    """The Trainer's data-parallel chunk is traced under its mesh, so the char LM's LSTM step
    compiles to partial sums and one all-reduce, with no gather of activations."""
    out = _on_two_host_devices("""
        from jaxgen import data as data_lib
        from jaxgen.families import rnn
        from jaxgen.train.preflight import make_family
        from jaxgen.train.trainer import Trainer
        cfg = rnn.config("lm", cell="lstm", hidden_size=16)
        cfg.dataset.seq_len, cfg.dataset.max_chars, cfg.train.batch_size = 12, 4000, 8
        cfg.data_parallel = True
        trainer = Trainer(cfg, make_family(cfg), data_lib.load(cfg.dataset))
        args = (trainer.init(), trainer.keys, trainer.train_data, 0, 0)
        hlo = trainer.chunk_fn(2).lower(*args).compile().as_text()
        print("GATHERS", hlo.count(" all-gather("), "REDUCES", hlo.count(" all-reduce("))
    """)
    assert "GATHERS 0 REDUCES 1" in out, out
