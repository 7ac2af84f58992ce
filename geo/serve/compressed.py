"""Compressed copies of large published files (brotli and gzip), made once and kept in the cache (a run never
changes), so a national GeoJSON goes out as a tenth of its size without compressing it per request."""
from __future__ import annotations

import gzip
import hashlib
import shutil
from pathlib import Path

import brotli

from geo.base import faults
from geo.base.errors import StorageError

# Below this size compressing on the fly (Flask-Compress) is cheaper than a second file.
MIN_BYTES = 256 * 1024
# gzip level 6: within a few per cent of 9 on GeoJSON, at a third of the time.
LEVEL = 6
# brotli quality 6: a sixth smaller than gzip 6 on GeoJSON, made once per file.
BROTLI_QUALITY = 6
# What a client may accept, best first, and the suffix of its copy.
ENCODINGS = {"br": ".br", "gzip": ".gz"}


def _gzip(path: Path, tmp: Path) -> None:
    with open(path, "rb") as src, gzip.GzipFile(tmp, "wb", compresslevel=LEVEL, mtime=0) as dst:
        shutil.copyfileobj(src, dst, 1 << 20)


def _brotli(path: Path, tmp: Path) -> None:
    squeeze = brotli.Compressor(quality=BROTLI_QUALITY)
    with open(path, "rb") as src, open(tmp, "wb") as dst:
        while block := src.read(1 << 20):
            dst.write(squeeze.process(block))
        dst.write(squeeze.finish())


def copy(path: Path, cache_dir: Path, encoding: str) -> Path | None:
    """The `encoding` copy of `path` (made now if missing), or None for a small file or no room for it."""
    try:
        st = path.stat()
    except OSError:
        return None
    if st.st_size < MIN_BYTES:
        return None
    key = hashlib.sha1(f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}".encode()).hexdigest()
    target = Path(cache_dir) / encoding / key[:2] / f"{key}{ENCODINGS[encoding]}"
    if target.exists():
        return target
    try:
        return faults.keep(target, lambda tmp: (_brotli if encoding == "br" else _gzip)(path, tmp))
    except StorageError:
        return None          # no room for a copy: the file goes as it is

