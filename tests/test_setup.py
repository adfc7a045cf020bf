"""`make setup` never rebuilds the virtual environment from under a process that uses it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

HOLD = """import mmap, sys, time
f = open(sys.argv[1], "rb")
m = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)  # as an imported extension module is
print("holding", flush=True)
time.sleep(120)
"""


@pytest.mark.skipif(not os.path.isdir("/proc/self"), reason="finds users through /proc")
def test_setup_refuses_to_rebuild_a_venv_a_running_process_uses(tmp_path):
    for name in ("Makefile", "experiments.mk", "scripts/venv_busy.sh", "scripts/find_python.sh"):
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    lib = tmp_path / ".venv" / "lib" / "_ext.so"
    lib.parent.mkdir(parents=True)
    lib.write_bytes(b"\0" * 4096)
    (tmp_path / ".venv" / ".installed").touch()
    os.utime(tmp_path / ".venv" / ".installed", (0, 0))  # older than pyproject.toml: rebuild
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    busy = [str(tmp_path / "scripts" / "venv_busy.sh"), str(tmp_path / ".venv")]
    assert subprocess.run(busy, capture_output=True).returncode == 1

    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(lib)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout.readline().strip() == b"holding"
        make = subprocess.run(
            ["make", "setup"], cwd=tmp_path, capture_output=True, text=True, timeout=60
        )
        assert make.returncode != 0
        err = make.stderr.strip().splitlines()
        assert "running processes use it" in err[0] and str(holder.pid) in err[0], err
        assert lib.is_file() and "venv" not in make.stdout  # nothing was cleared or built
    finally:
        holder.kill()
        holder.wait()
    assert subprocess.run(busy, capture_output=True).returncode == 1
