"""A worker gives back what a request freed.

- Arrow's own allocator (mimalloc) keeps the pages of every table a request read (pandas' text columns are Arrow
  arrays), so a worker that served the national map, its list and an export grew by a hundred megabytes it never
  returned: the system allocator is used instead.
- The C library's allocator keeps freed memory in its heaps too (an export's table of every commune, a GeoPackage
  read whole): after a request that left the worker GROWTH_MB larger than when it last gave memory back, the free
  pages are returned to the system (glibc's malloc_trim). A tile or a page costs a read of /proc/self/statm.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import threading
from collections.abc import Callable

import pyarrow as pa
from flask import Flask

# Growth of a worker's resident memory since it last gave memory back that makes it give back again.
GROWTH_MB = 32
_PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20 if hasattr(os, "sysconf") else 4 / 1024


def _trimmer() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None (another C library, or no /proc: nothing to give back this way)."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name) if name else None
    except OSError:
        return None
    trim = getattr(libc, "malloc_trim", None)
    return trim if trim is not None and os.path.exists("/proc/self/statm") else None


_TRIM = _trimmer()
_STATE = {"after_trim_mb": 0.0}
_LOCK = threading.Lock()


def resident_mb() -> float:
    with open("/proc/self/statm", "rb") as f:
        return int(f.read().split()[1]) * _PAGE_MB


def give_back(_exc: BaseException | None = None) -> None:
    """After a request: return freed memory to the system when the worker grew by GROWTH_MB since the last time."""
    if _TRIM is None:
        return
    now = resident_mb()
    if now - _STATE["after_trim_mb"] < GROWTH_MB:
        return
    with _LOCK:
        _TRIM(0)
        _STATE["after_trim_mb"] = resident_mb()


def install(app: Flask) -> None:
    pa.set_memory_pool(pa.system_memory_pool())
    app.teardown_request(give_back)
