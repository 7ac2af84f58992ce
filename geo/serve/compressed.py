"""Gzip copies of large published files, made once and kept in the cache (a run never changes), so
a national GeoJSON goes out as about an eighth of its size without compressing it per request."""
from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

from geo.base import faults
from geo.base.errors import StorageError

# Below this size compressing on the fly (Flask-Compress) is cheaper than a second file.
MIN_BYTES = 256 * 1024
# gzip level 6: within a few per cent of 9 on GeoJSON, at a third of the time.
LEVEL = 6


def gzip_copy(path: Path, cache_dir: Path) -> Path | None:
    """The gzip copy of `path` (made now if missing), or None for a small file."""
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size < MIN_BYTES:
        return None
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    target = Path(cache_dir) / "gzip" / key[:2] / f"{key}.gz"
    if target.exists():
        return target
    def write(tmp: Path) -> None:
        with open(path, "rb") as src, gzip.GzipFile(tmp, "wb", compresslevel=LEVEL, mtime=0) as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    try:
        return faults.keep(target, write)
    except StorageError:
        return None          # no room for a copy: the file goes as it is
