"""`make results` fills the README block from run summaries, never by hand."""

from __future__ import annotations

import json

import pytest

from jaxgen import results


def test_results_block_is_rebuilt_from_run_summaries(tmp_path):
    runs = tmp_path / "runs"
    for name, value in (("vae_mnist", 90.5), ("demo", 1.0)):
        (runs / name).mkdir(parents=True)
        row = {
            "experiment": name,
            "metric": "NLL",
            "published": 86.76,
            "ours": value,
            "command": f"make {name}",
        }
        (runs / name / "summary.json").write_text(json.dumps({"results": [row]}))
    # The versions a result was measured with come from the run's (or a sub-run's) env.json.
    (runs / "vae_mnist" / "sub").mkdir()
    env = {"python": "3.12.1", "packages": {"jax": "0.12.0.1"}}
    (runs / "vae_mnist" / "sub" / "env.json").write_text(json.dumps(env))
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\nafter\n")
    assert results.main(["--runs", str(runs), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert (
        "| vae_mnist | NLL | 86.76 | 90.5 | make vae_mnist | jax 0.12.0.1, Python 3.12.1 |" in text
    )
    assert "old" not in text and "demo" not in text  # Quick demo runs are not results.
    assert text.startswith("intro\n") and text.endswith("after\n")


@pytest.mark.parametrize(
    "extra, wanted",
    [
        ({}, "jax 0.12.0.1, Python 3.12.1"),
        ({"cpu_affinity": [0, 1], "cpu_count": 2, "xla_flags": ""}, "jax 0.12.0.1, Python 3.12.1"),
        (
            {
                "cpu_affinity": [1],
                "cpu_count": 2,
                "xla_flags": "--xla_cpu_multi_thread_eigen=false",
            },
            "jax 0.12.0.1, Python 3.12.1; 1 of 2 cores, --xla_cpu_multi_thread_eigen=false",
        ),
    ],
)
def test_measured_with_names_a_pinned_or_flagged_run(tmp_path, extra, wanted):
    env = {"python": "3.12.1", "packages": {"jax": "0.12.0.1"}, **extra}
    (tmp_path / "env.json").write_text(json.dumps(env))
    assert results.measured_with(tmp_path) == wanted


def test_bench_block_is_copied_from_the_last_complete_bench(tmp_path):
    bench = tmp_path / "RESULTS.md"
    bench.write_text("# Benchmark results\n\nintro\n\nCommand: `make bench`\n\n| a | b |\n")
    readme = tmp_path / "README.md"
    readme.write_text(
        f"{results.BEGIN}\n{results.END}\n{results.BENCH_BEGIN}\nold\n{results.BENCH_END}\nend\n"
    )
    runs = tmp_path / "runs"
    runs.mkdir()
    args = ["--runs", str(runs), "--readme", str(readme), "--bench", str(bench)]
    assert results.main(args) == 0
    text = readme.read_text()
    assert "Command: `make bench`\n\n| a | b |\n" in text
    assert "old" not in text and "# Benchmark results" not in text and text.endswith("end\n")


def test_rows_of_commands_without_a_run_are_kept_and_a_rerun_replaces_its_own(tmp_path):
    """A fresh clone that reruns one experiment keeps the README's other measured rows."""
    old = [
        results.row("RNN adding", "wrong (|err| >= 0.04): rnn / lstm", "9 / 1", "make rnn-add"),
        results.row("VAE budget", "NLL", "98.3", "make vae-budget", published="86.76"),
        results.row("VAE full", "NLL", "99.9", "make vae", published="86.76"),
    ]
    readme = tmp_path / "README.md"
    block = results.render(old)
    assert "(\\|err\\| >= 0.04)" in block  # Escaped: the cell stays one column.
    readme.write_text(f"intro\n{results.BEGIN}\n{block}{results.END}\n")
    assert results.parse_block(readme.read_text()) == old
    runs = tmp_path / "runs"
    (runs / "vae_mnist").mkdir(parents=True)
    fresh = results.row("VAE full", "NLL", "87.1", "make vae", published="86.76")
    (runs / "vae_mnist" / "summary.json").write_text(json.dumps({"results": [fresh]}))
    assert results.main(["--runs", str(runs), "--readme", str(readme)]) == 0
    rows = results.parse_block(readme.read_text())
    assert rows == sorted([old[0], old[1], fresh], key=lambda r: r["command"])


def test_a_table_with_an_unescaped_pipe_in_the_metric_still_parses(tmp_path):
    line = "| Adding | wrong (|err| >= 0.04): rnn |  | 9 | make rnn |"
    text = f"{results.BEGIN}\n| experiment | metric | published | ours | command |\n"
    text += f"|---|---|---|---|---|\n{line}\n{results.END}\n"
    (row,) = results.parse_block(text)
    assert row == results.row("Adding", "wrong (|err| >= 0.04): rnn", "9", "make rnn")
