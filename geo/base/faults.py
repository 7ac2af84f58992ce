"""Faults of the machine, not of the input: a full or read-only data disk, a damaged or unreachable
store. Each becomes one clear StorageError (503 over HTTP, exit code 2 on the command line) naming
the cause and what to do, instead of a traceback; whatever was stored before is untouched (every
write is one transaction, every run is staged and renamed).

Files derived from published runs (GeoJSON of a backfilled day, reports, export files) are kept in
the data folder's cache; when that cannot be written they are made in a scratch folder of the
system's temporary space instead (`keep`), so reading published runs goes on while the data disk is
full or read-only.
"""
from __future__ import annotations

import errno
import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

from geo.base.errors import StorageError

FULL = frozenset({errno.ENOSPC, errno.EDQUOT})
READ_ONLY = frozenset({errno.EROFS, errno.EACCES, errno.EPERM})
# What SQLite says, by cause.
_SQLITE = (("disk is full", "disk_full"), ("readonly database", "read_only"), ("read-only", "read_only"),
           ("file is not a database", "store_damaged"), ("malformed", "store_damaged"),
           ("unable to open database file", "store_unreadable"), ("disk i/o error", "store_damaged"))


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def classify(exc: BaseException, where: str = "") -> StorageError | None:
    """The StorageError an exception means, or None when it is not the machine's fault."""
    for e in _chain(exc):
        if isinstance(e, StorageError):
            return e
        if isinstance(e, OSError) and e.errno in FULL:
            return StorageError("disk_full", where=where or e.filename or "", detail=e.strerror or "")
        if isinstance(e, OSError) and e.errno in READ_ONLY:
            return StorageError("read_only", where=where or e.filename or "", detail=e.strerror or "")
        if isinstance(e, sqlite3.DatabaseError):
            text = str(e).lower()
            for words, key in _SQLITE:
                if words in text:
                    if key == "store_damaged" and "i/o" in text and _nearly_full(where):
                        key = "disk_full"        # SQLite says "disk I/O error" when a write meets a full disk
                    if key == "store_unreadable" and where and not os.access(where, os.W_OK):
                        key = "read_only"        # ... and "unable to open" when it cannot make its journal
                    return StorageError(key, where=where, detail=str(e))
        name = type(e).__name__
        if name in ("DiskFull", "InsufficientResources"):
            return StorageError("disk_full", where=where or "PostgreSQL", detail=str(e)[:200])
        if name == "ReadOnlySqlTransaction":
            return StorageError("read_only", where=where or "PostgreSQL", detail=str(e)[:200])
        if name in ("OperationalError", "ConnectionTimeout") and type(e).__module__.startswith("psycopg"):
            return StorageError("store_unreadable", where=where or "PostgreSQL", detail=str(e)[:200])
    return None


# Less free space than this on the data folder's disk: a failed write there is the disk being full.
NEARLY_FULL_BYTES = 1 << 20


def _nearly_full(where: str) -> bool:
    try:
        st = os.statvfs(where or ".")
    except OSError:
        return False
    return st.f_bavail * st.f_frsize < NEARLY_FULL_BYTES


def scratch() -> Path:
    """A folder of the system's temporary space for this user's derived files."""
    folder = Path(tempfile.gettempdir()) / f"zones-scratch-{os.getuid()}"
    folder.mkdir(mode=0o700, exist_ok=True)
    return folder


def keep(target: Path, write) -> Path:
    """Make `target` by `write(tmp_path)` and an atomic rename; when the cache cannot be written, make it
    in the scratch folder instead and return that path. Raises StorageError when neither can."""
    for place in (Path(target), None):
        if place is None:
            try:
                place = scratch() / hashlib.sha1(str(target).encode()).hexdigest()[:20] / Path(target).name
            except OSError as exc:
                raise classify(exc) or StorageError("disk_full", where=str(target), detail=str(exc)) from exc
            if place.exists():
                return place
        # hidden, unique per process and thread, and ending like the file (writers choose formats by extension)
        tmp = place.with_name(f".{os.getpid()}-{os.urandom(4).hex()}.{place.name}")
        try:
            place.parent.mkdir(parents=True, exist_ok=True)
            write(tmp)
            os.replace(tmp, place)
            return place
        except OSError as exc:
            try:
                tmp.unlink(missing_ok=True)
            except OSError:
                pass
            fault = classify(exc)
            if fault is None:
                raise
            last = (fault, exc)
    raise last[0] from last[1]
