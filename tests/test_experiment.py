"""The experiment runner (`jaxgen.experiment`) and the experiments ported onto it."""

from __future__ import annotations

import json

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
    cells = list(config.cells)
    assert [r["cell"] for r in s["rows"]] == cells * len(config.get("lags", [None]))
    assert json.loads((tmp_path / "summary.json").read_text()) == json.loads(json.dumps(s))
    for res in s["results"]:
        assert res["command"].startswith("make rnn-")
        assert len(res["ours"].split(" / ")) == len(cells)
    if "lags" in config:  # copy: the ratio is the test loss over the memoryless baseline
        for r in s["rows"]:
            ratio = r["test_nats_per_step"] / r["baseline_nats_per_step"]
            assert r["loss_over_baseline"] == pytest.approx(ratio)
    else:  # row by row: each cell's accuracy is its own sub-run's test accuracy
        for r in s["rows"]:
            sub = json.loads((tmp_path / r["cell"] / "summary.json").read_text())
            assert r["test_accuracy"] == sub["test"]["accuracy"]
