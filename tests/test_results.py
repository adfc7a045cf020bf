"""`make results` fills the README block from run summaries, never by hand."""

from __future__ import annotations

import json

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
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{results.BEGIN}\nold\n{results.END}\nafter\n")
    assert results.main(["--runs", str(runs), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "| vae_mnist | NLL | 86.76 | 90.5 | make vae_mnist |" in text
    assert "old" not in text and "demo" not in text  # Quick demo runs are not results.
    assert text.startswith("intro\n") and text.endswith("after\n")
