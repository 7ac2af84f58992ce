"""One writer of runs at a time, on one machine (a lock file) and across servers sharing a
PostgreSQL store (an advisory lock). Readers never take it: published runs are immutable."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import filelock

from geo.base.config import Settings
from geo.base.errors import BusyError


@contextmanager
def writer_lock(settings: Settings) -> Iterator[None]:
    """One writer of runs at a time (reclassify, backfill); others wait, then fail with BusyError."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(settings.lock_path), timeout=settings.lock_timeout_s)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BusyError("busy", lock=str(settings.lock_path)) from None
    try:
        if settings.database_url:      # several servers on one database: the lock is the database's
            from geo.store import pg  # deliberate: psycopg is loaded only when the store is PostgreSQL
            with pg.advisory_lock(settings.database_url, settings.lock_timeout_s) as held:
                if not held:
                    raise BusyError("busy", lock="pg_advisory_lock")
                yield
        else:
            yield
    finally:
        lock.release()


def check_free(settings: Settings) -> None:
    """Is the writers' lock free now? (said before a console job is made; the job takes the lock itself).
    The same lock the writer takes: the lock file, and on a PostgreSQL store the database's advisory lock
    (a command-line run on another server holds that one, not this server's lock file)."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(settings.lock_path), timeout=0)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BusyError("busy", lock=str(settings.lock_path)) from None
    try:
        if settings.database_url:
            from geo.store import pg  # deliberate: psycopg is loaded only when the store is PostgreSQL
            with pg.advisory_lock(settings.database_url, 0) as held:
                if not held:
                    raise BusyError("busy", lock="pg_advisory_lock")
    finally:
        lock.release()
