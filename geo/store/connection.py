"""What the store's functions ask of a connection: the DB-API calls both back ends answer (sqlite3's own
connection, and geo/store/pg.py's over psycopg), so one function serves both."""
from __future__ import annotations

from typing import Any, Protocol


class Connection(Protocol):
    def execute(self, sql: str, params: Any = ..., /) -> Any: ...

    def executemany(self, sql: str, rows: Any, /) -> Any: ...

    def commit(self) -> None: ...

    def rollback(self) -> None: ...

    @property
    def total_changes(self) -> int: ...
