"""Picture tiles rendered on request: a bounded cache and a limit on rendering.

Anyone on the network may ask for any z/x/y of any run in any style; without bounds that fills the
disk and the processor (a crawler over zoom 18). So:
- the cache holds at most `max_bytes` (ZONES_TILE_CACHE_MB); past it the least recently used tiles
  go (a tile read is "used": its time is touched now and then);
- each process renders a few tiles at a time and at most `rate` a second; a client past that gets
  503 with Retry-After instead of the processor;
- a cache that cannot be written (full or read-only disk) is skipped: the tile is still answered.
"""
from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from geo.base.errors import BusyError

# Trim the cache every this many tiles written by a process (walking it costs; tiles are small).
TRIM_EVERY = 200
# After trimming, the cache is this share of its limit (room for the next tiles without trimming again).
TRIM_TO = 0.8
# A read tile's time is refreshed at most this often (seconds): LRU without a write per request.
TOUCH_AFTER_S = 3600
# Tiles rendered at once per process.
MAX_CONCURRENT = 2


class Limiter:
    """A token bucket (rate per second, burst of one second's worth) and a bound on concurrency."""

    def __init__(self, rate: float, concurrent: int = MAX_CONCURRENT):
        self.rate, self.tokens, self.last = float(rate), float(rate), time.monotonic()
        self.lock = threading.Lock()
        self.slots = threading.BoundedSemaphore(concurrent)

    def take(self) -> bool:
        with self.lock:
            now = time.monotonic()
            self.tokens = min(self.rate, self.tokens + (now - self.last) * self.rate)
            self.last = now
            if self.tokens < 1:
                return False
            self.tokens -= 1
            return True


_LIMITERS: dict[float, Limiter] = {}
_WRITES = {"n": 0}


def limiter(rate: float) -> Limiter:
    if rate not in _LIMITERS:
        _LIMITERS[rate] = Limiter(rate)
    return _LIMITERS[rate]


def read(path: Path) -> bytes | None:
    """The cached tile (b"" = remembered as empty), or None when not cached."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        if time.time() - path.stat().st_mtime > TOUCH_AFTER_S:
            os.utime(path)
    except OSError:
        pass
    return data


def render(make, rate: float):
    """Run `make()` under the process's rendering limits; BusyError (503) past them."""
    lim = limiter(rate)
    if not lim.take() or not lim.slots.acquire(timeout=2.0):
        raise BusyError("tile_busy")
    try:
        return make()
    finally:
        lim.slots.release()


def write(path: Path, data: bytes | None, root: Path, max_bytes: int) -> None:
    """Keep a rendered tile (atomically; b"" remembers an empty tile); trim the cache now and then."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")   # unique per thread too
        tmp.write_bytes(data or b"")
        os.replace(tmp, path)
    except OSError:
        return          # a full or read-only disk: answered, not kept
    _WRITES["n"] += 1
    if _WRITES["n"] % TRIM_EVERY == 0:
        trim(root, max_bytes)


# What a cached file costs on disk whatever its size (a block and an inode): an empty tile remembered as a
# 0-byte file is not free, and 2,000 of them count as 8 MB against the cache's size.
FILE_COST = 4096


def trim(root: Path, max_bytes: int) -> int:
    """Delete the least recently used tiles until the cache is under TRIM_TO of `max_bytes`, each file
    counted at least FILE_COST. -> bytes freed."""
    files = []
    total = 0
    for dirpath, _, names in os.walk(root):
        for name in names:
            p = os.path.join(dirpath, name)
            try:
                st = os.stat(p)
            except OSError:
                continue
            size = max(st.st_size, FILE_COST)
            files.append((st.st_mtime, size, p))
            total += size
    if total <= max_bytes:
        return 0
    freed = 0
    for _, size, p in sorted(files):
        if total - freed <= max_bytes * TRIM_TO:
            break
        try:
            os.unlink(p)
            freed += size
        except OSError:
            pass
    return freed
