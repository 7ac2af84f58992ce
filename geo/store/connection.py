"""What the store's functions ask of a connection: the DB-API calls both back ends answer (sqlite3's own
connection, and geo/store/pg.py's over psycopg), so one function serves both; and SQLite's reading connection."""
from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Protocol


class Connection(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Any, /) -> Any: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    @property
    def total_changes(self) -> int: ...


def read_only_sqlite(path: Path) -> sqlite3.Connection:
    """A reading connection. On a folder that cannot be written (a read-only disk; a full one where
    SQLite cannot make its shared-memory file) the file is opened as immutable: nobody can change it."""
    uri = f"file:{path}?mode=ro"
    if not os.access(path.parent, os.W_OK):
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30)
    con = sqlite3.connect(uri, uri=True, timeout=30)
    try:
        con.execute("PRAGMA schema_version").fetchone()
        return con
    except sqlite3.OperationalError:
        con.close()
        return sqlite3.connect(uri + "&immutable=1", uri=True, timeout=30)
