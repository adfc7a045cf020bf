"""Process settings that make XLA:CPU programs faster without changing what they compute.

XLA:CPU allocates each call's temporaries as one block: 110 MB for the char-LSTM train step
(T=100, batch 64, H=256). glibc's malloc serves a block over 32 MB with a fresh `mmap` and
unmaps it on `free`, and a thread's own arena unmaps a heap once it empties, so every call
page-faults its whole working set in again: 28,000 minor faults per LSTM step, a quarter of
its time on one core. `configure_malloc` keeps freed memory in one heap for reuse instead
(`mallopt`: one arena, no `mmap`, no trimming), which removes the faults from most calls;
the numbers a program computes are the same bits (`tests/test_runtime.py`). Some calls still
fault: XLA frees a call's block from its own thread, at times after the next call has taken
a new one, and smaller allocations can then split the freed block, so the heap grows by one
block (in the test's probe, 30 of 144 calls after warm-up; the README's allocator notes).

`import jaxgen` calls it once. Set `JAXGEN_MALLOC=system` before starting Python to keep
glibc's defaults. It does nothing where the C library is not glibc (macOS, musl).
The cost: the process's resident memory stays at its high-water mark.

Example:
  >>> from jaxgen import runtime
  >>> runtime.malloc_settings() in ("glibc: 1 arena, no mmap, no trim", "system")
  True
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

# mallopt parameters, from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_M_ARENA_MAX = -8
_APPLIED = "glibc: 1 arena, no mmap, no trim"

_state: dict[str, str | None] = {"settings": None}


def _glibc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.gnu_get_libc_version  # noqa: B018  (absent from musl: the probe for glibc)
    except (OSError, AttributeError):
        return None
    return libc


def configure_malloc() -> str:
    """Applies the settings once per process; returns what is in effect (`malloc_settings`).

    Call it before the first JAX computation, so that XLA's threads share the one arena;
    `import jaxgen` does.
    """
    if _state["settings"] is not None:
        return _state["settings"]
    libc = None if os.environ.get("JAXGEN_MALLOC", "") == "system" else _glibc()
    settings = "system"
    if libc is not None:
        ok = libc.mallopt(_M_ARENA_MAX, 1) and libc.mallopt(_M_MMAP_MAX, 0)
        ok = ok and libc.mallopt(_M_TRIM_THRESHOLD, 2**31 - 1)
        settings = _APPLIED if ok else "system"
    _state["settings"] = settings
    return settings


def malloc_settings() -> str:
    """What `configure_malloc` set: "glibc: 1 arena, no mmap, no trim", or "system"."""
    return configure_malloc()


__all__ = ["configure_malloc", "malloc_settings"]
