"""The demo's smoke run: every step's report and the index exist, links resolve."""

from __future__ import annotations

import re

from jaxgen.report import local_links
from tests.conftest import run_cli


def test_tiny_demo_writes_the_index_and_every_report(tmp_path):
    workdir = tmp_path / "demo"
    proc = run_cli("--config", "experiments/demo.py:tiny", "--workdir", str(workdir), timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    index = workdir / "index.html"
    assert index.is_file()
    page = index.read_text()
    links = local_links(page)
    assert links, "the index links no report"
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
