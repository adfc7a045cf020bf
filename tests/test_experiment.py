"""The experiment runner (`jaxgen.experiment`) and the experiments ported onto it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jaxgen import experiment
from jaxgen.config import ConfigDict, build
from jaxgen.results import row as result_row


def test_each_prints_every_row_as_it_is_measured(capsys):
    seen = []

    def measure(n):
        seen.append(capsys.readouterr().out)  # what was printed before this row's work
        return {"n": n}

    rows = experiment.each([1, 2, 3], measure)
    assert rows == [{"n": 1}, {"n": 2}, {"n": 3}]
    assert "| 1 |" in seen[1] and "| 2 |" in seen[2]


def test_finish_writes_summary_table_and_report(tmp_path):
    wd = experiment.start(tmp_path / "exp", ConfigDict({"a": 1}))
    assert json.loads((wd / "config.json").read_text()) == {"a": 1}
    rows = [{"cell": "lstm", "acc": 0.5}, {"cell": "gru", "acc": 0.75}]
    res = [result_row("toy", "acc", "0.5 / 0.75", "make toy")]
    s = experiment.finish(
        wd, "Toy", rows, res, intro=["Why."], figures=["figures/f.png"], extra={"k": 3}
    )
    on_disk = json.loads((wd / "summary.json").read_text())
    assert on_disk == s == {"rows": rows, "k": 3, "results": res}
    report = (wd / "report.md").read_text()
    table = (wd / "results.md").read_text()
    assert report.startswith("# Toy\n") and "Why." in report and table in report
    assert "| gru | 0.75 |" in table
    assert "![f](figures/f.png)" in report and f"make reproduce RUN={wd}" in report


@pytest.mark.parametrize("spec", ["experiments/rnn_copy.py:tiny", "experiments/rnn_mnist.py:tiny"])
def test_ported_experiments_write_their_rows(spec, tmp_path):
    config, module = build(spec)
    s = module.run(config, str(tmp_path))
    cells = list(config.grid.cell)  # both are declared sweeps: only data
    assert [r["cell"] for r in s["rows"]] == cells * len(config.grid.get("lag", [None]))
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(s))
    for res in s["results"]:
        assert res["command"].startswith("make rnn-")
        assert len(res["ours"].split(" / ")) == len(cells)
    if "lag" in config.grid:  # copy: the ratio is the test loss over the memoryless baseline
        for r in s["rows"]:
            ratio = r["test_nats_per_step"] / r["baseline_nats_per_step"]
            assert r["loss_over_baseline"] == pytest.approx(ratio)
    else:  # row by row: each cell's accuracy is its own sub-run's test accuracy
        for r in s["rows"]:
            sub = json.loads((tmp_path / r["cell"] / "summary.json").read_text())
            assert r["test_accuracy"] == sub["test"]["accuracy"]


def test_sweep_runs_the_grid_outer_label_first_with_one_readme_row_per_group(tmp_path):
    config, module = build("experiments/rnn_copy.py:tiny")
    with config.unlocked():
        config.grid.lag = (4, 5)
        config.base.model.hidden_size = 8
    s = module.run(config, str(tmp_path))
    assert [(r["lag"], r["cell"]) for r in s["rows"]] == [(4, "gru"), (5, "gru")]
    for r in s["rows"]:  # each point is its own sub-run, named by it, on its own data
        sub = json.loads((tmp_path / f"lag{r['lag']}" / "gru" / "summary.json").read_text())
        assert r["test_nats_per_step"] == sub["test"]["loss"]
    assert s["rows"][0]["baseline_nats_per_step"] > s["rows"][1]["baseline_nats_per_step"]
    assert [r["experiment"] for r in s["results"]] == [
        "Copy memory, lag 4",
        "Copy memory, lag 5",
    ] * 2


def test_learning_curves_pair_each_split_with_the_training_clock(tmp_path):
    """Validation rows take the CPU seconds of the training row at their step; final
    evaluations and steps without a training row are not points of the curve."""
    from jaxgen.evaluation import curves

    rows = [
        {"step": 1, "split": "train", "train_seconds": 5.0, "train_cpu_seconds": 4.0, "loss": 9.0},
        {"step": 2, "split": "train", "train_seconds": 9.0, "train_cpu_seconds": 7.0, "loss": 8.0},
        {"step": 2, "split": "val", "loss": 8.5},
        {"step": 3, "split": "val", "loss": 8.4},  # no training row at step 3
        {"step": 2, "split": "val", "final": True, "loss": 1.0},
    ]
    run = tmp_path / "run"
    run.mkdir()
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    val = curves.metric_curve(run, "loss", split="val")
    assert val.steps.tolist() == [2] and val.seconds.tolist() == [7.0]
    assert val.values.tolist() == [8.5] and val.clock == "train_cpu_seconds"
    assert curves.metric_curve(run, "loss").values.tolist() == [9.0, 8.0]
    assert curves.metric_curve(run, "bpc") is None
    assert curves.metric_curve(tmp_path / "nothing", "loss") is None
    fig = curves.learning_curves({"a": run, "b": tmp_path / "nothing"}, "loss", tmp_path / "c.png")
    assert fig is not None and fig.is_file()
    assert curves.learning_curves({"a": run}, "bpc", tmp_path / "d.png") is None


def test_sweep_columns_are_paths_into_the_summary():
    from jaxgen.errors import ConfigError

    summary = {"test": {"accuracy": 0.5}, "epochs": 2}
    assert experiment._at(summary, "test.accuracy") == 0.5  # noqa: SLF001
    assert experiment._at(summary, "epochs") == 2  # noqa: SLF001
    with pytest.raises(ConfigError, match="no 'test.acc'"):
        experiment._at(summary, "test.acc")  # noqa: SLF001


def test_first_step_at_most_reads_each_seed_and_skips_final_rows(tmp_path):
    from jaxgen.evaluation import curves

    rows = [
        {"step": 2, "split": "val", "wrong": 0.5, "wrong_seeds": [0.0, 1.0]},
        {"step": 1, "split": "val", "wrong": 0.5, "wrong_seeds": [0.5, 0.5]},
        {"step": 3, "split": "val", "final": True, "wrong": 0.0, "wrong_seeds": [0.0, 0.0]},
        {"step": 3, "split": "train", "wrong": 0.0},
    ]
    (tmp_path / "metrics.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    assert curves.first_step_at_most(tmp_path, "wrong", 0.1) == [2, None]
    assert curves.first_step_at_most(tmp_path, "wrong", 0.5) == [1, 1]


def test_train_or_reuse_reads_a_finished_run_of_the_same_config_only(tmp_path, monkeypatch):
    from jaxgen import train as train_pkg
    from jaxgen.config import to_json

    cfg = ConfigDict({"a": 1})
    (tmp_path / "summary.json").write_text(json.dumps({"steps": 7}))
    (tmp_path / "config.json").write_text(to_json(cfg))
    assert experiment.train_or_reuse(cfg, tmp_path, None) == {"steps": 7}

    class Trained:
        summary = {"steps": 9}

    monkeypatch.setattr(train_pkg, "train", lambda cfg, sub, splits: Trained())
    assert experiment.train_or_reuse(ConfigDict({"a": 2}), tmp_path, None) == {"steps": 9}
    # The same config with a damaged summary: finished again, not read (nor a traceback).
    for damaged in ("null", "{garbled"):
        (tmp_path / "summary.json").write_text(damaged)
        assert experiment.train_or_reuse(cfg, tmp_path, None) == {"steps": 9}


def _modules_with_examples() -> list[str]:
    """Every library module whose docstrings hold a `>>>` example, found rather than listed,
    so an example added anywhere is run."""
    from pathlib import Path

    root = Path(experiment.__file__).resolve().parent
    return sorted(
        ".".join(("jaxgen", *p.relative_to(root).with_suffix("").parts))
        for p in root.rglob("*.py")
        if ">>>" in p.read_text()
    )


def test_examples_are_found_in_every_layer():
    found = _modules_with_examples()
    for layer in ("data", "evaluation", "families", "models"):
        assert any(m.startswith(f"jaxgen.{layer}.") for m in found), layer


@pytest.mark.parametrize("module", _modules_with_examples())
def test_the_library_examples_run(module):
    """Each module's runnable examples give what their docstrings show (examples that need a
    trained run are marked `+SKIP` and only parsed)."""
    import doctest
    import importlib

    assert doctest.testmod(importlib.import_module(module)).failed == 0


@pytest.mark.parametrize("batch_size", [1, 3, 7, 100])
def test_in_batches_equals_one_call_and_passes_none_on(batch_size):
    from jaxgen.evaluation.metrics import in_batches

    x = np.random.default_rng(0).normal(size=(7, 3)).astype(np.float32)
    np.testing.assert_allclose(
        in_batches(lambda a, y: a * 2, x, None, batch_size=batch_size), 2 * x
    )
    # axis=1: per-seed outputs (S, B) joined along the examples.
    out = in_batches(lambda a: np.stack([a.sum(1), -a.sum(1)]), x, batch_size=batch_size, axis=1)
    np.testing.assert_allclose(out, np.stack([x.sum(1), -x.sum(1)]), rtol=1e-6)


def test_accuracy_by_segment_offset_weights_by_sequences_scored():
    from jaxgen.evaluation.sequence import accuracy_by_segment_offset

    # Two segments of 2; the second segment was scored on 3 sequences, the first on 1.
    acc = {"forced": [0.0, 1.0, 1.0, 0.5], "greedy": [1, 1, 0, 0], "scored": [1, 1, 3, 3]}
    out = accuracy_by_segment_offset(acc, 2)
    np.testing.assert_allclose(out["forced"], [(0 + 3) / 4, (1 + 1.5) / 4])
    np.testing.assert_allclose(out["greedy"], [1 / 4, 1 / 4])
    assert out["forced_rest"] == pytest.approx((1 + 1.5) / 4)
    assert np.isnan(accuracy_by_segment_offset(None, 2)["forced_rest"])
