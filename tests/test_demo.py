"""The demo's smoke run: every step's report and the index exist, links resolve."""

from __future__ import annotations

import re

import pytest

from jaxgen.report import local_links
from tests.conftest import run_cli

# The steps in three groups, so that pytest-xdist's workers run them side by side; together
# they are every step of the demo (checked below).
GROUPS = ("pca_vs_ae,ae_denoising,vae", "gan_1d,gan_2d", "rnn_adding,char_lm")


def test_the_groups_cover_every_demo_step():
    from experiments.demo import STEPS

    assert sorted(",".join(GROUPS).split(",")) == sorted(s[0] for s in STEPS)


@pytest.mark.parametrize("only", GROUPS)
def test_tiny_demo_writes_the_index_and_every_report(tmp_path, only):
    workdir = tmp_path / "demo"
    proc = run_cli(
        "--config",
        "experiments/demo.py:tiny",
        "--workdir",
        str(workdir),
        f"--config.only={only}",
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = workdir / "index.html"
    assert index.is_file()
    page = index.read_text()
    links = local_links(page)
    assert links, "the index links no report"
    for name in only.split(","):
        assert f"{name}/report.html" in links, f"the index does not link step {name}"
    # One figure per step beside its result, embedded in the index itself.
    assert page.count('<img src="data:image/png;base64,') >= len(only.split(",")), page[:2000]
    pages = [index]
    for link in links:
        target = (index.parent / link).resolve()
        assert target.is_file(), f"index links a missing file: {link}"
        pages.append(target)
    for p in pages:
        html = p.read_text()
        for link in local_links(html):
            assert (p.parent / link).is_file(), f"{p} links a missing file: {link}"
        # Figures are embedded, so the page reads offline.
        assert not re.search(r'<img[^>]*src="(?!data:)', html), f"{p} has a non-embedded image"
    assert "Traceback" not in proc.stderr
