"""Process-wide memory-allocator tuning for the indicator computations (glibc only).

The NTK of a small supernet is a long series of backward passes whose temporaries are a few MB each.
With glibc's defaults, buffers above the (dynamic, at most 32 MiB) mmap threshold are mapped for every
allocation and unmapped when freed, and the top of the heap is trimmed back to the OS whenever more than
128 KiB is free; every re-use of that memory then costs one page fault per 4 KiB page. On this project's
CPU benchmark the original per-sample loop spent about 30 % of its time in such page faults.

:func:`tune_allocator` raises glibc's mmap and trim thresholds (``mallopt``) so that freed memory stays in
the heap and is re-used without faults. The cost: the process keeps its peak heap instead of returning it
to the OS. Results are unaffected (only where memory comes from changes). It is called once, on first use,
by :func:`tenas.indicators.ntk.ntk_condition_number` and :func:`~tenas.indicators.regions.count_linear_regions`,
and by the search's worker processes; set ``TENAS_TUNE_ALLOCATOR=0`` in the environment to leave the
allocator alone. On non-glibc systems it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

__all__ = ["tune_allocator", "allocator_tuned"]

# mallopt parameter numbers from glibc's <malloc.h>
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3

#: Allocations at or above this size are still mmap'ed (and given back when freed).
MMAP_THRESHOLD = 1 << 30  # 1 GiB
#: Free memory at the top of the heap beyond this is given back to the OS.
TRIM_THRESHOLD = 4 << 30  # 4 GiB (stored by glibc as a size_t; mallopt takes an int, hence the clamp below)

_state: dict[str, bool | None] = {"done": False, "tuned": None}


def _libc():
    if not sys.platform.startswith("linux"):
        return None
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    # mallopt exists in glibc; gnu_get_libc_version tells glibc from musl (whose mallopt is a no-op stub)
    if not hasattr(libc, "mallopt") or not hasattr(libc, "gnu_get_libc_version"):
        return None
    return libc


def tune_allocator(force: bool = False) -> bool:
    """Raise glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` once per process; True if applied.

    Idempotent and cheap after the first call. Does nothing (returns False) off glibc or when the
    environment variable ``TENAS_TUNE_ALLOCATOR`` is ``0``/``false``/``no``, unless ``force``.
    """
    if _state["done"] and not force:
        return bool(_state["tuned"])
    _state["done"] = True
    if not force and os.environ.get("TENAS_TUNE_ALLOCATOR", "1").strip().lower() in ("0", "false", "no", "off"):
        _state["tuned"] = False
        return False
    libc = _libc()
    if libc is None:
        _state["tuned"] = False
        return False
    libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    libc.mallopt.restype = ctypes.c_int
    int_max = 2**31 - 1
    ok = bool(libc.mallopt(_M_MMAP_THRESHOLD, min(MMAP_THRESHOLD, int_max)))
    ok = bool(libc.mallopt(_M_TRIM_THRESHOLD, min(TRIM_THRESHOLD, int_max))) and ok
    _state["tuned"] = ok
    return ok


def allocator_tuned() -> bool:
    """Whether :func:`tune_allocator` has changed the allocator in this process."""
    return bool(_state["tuned"])
