"""The PostgreSQL/PostGIS store: the same tables and SQL as the embedded SQLite store, through a
connection that speaks SQLite's DB-API dialect to the rest of the code (qmark parameters, rows
readable by name and position, total_changes, lastrowid). Set ZONES_DATABASE_URL=postgresql://...

Units carry a PostGIS geometry (generated from their WKB), and every published run's levels are
rows of `run_levels`; the views `zones_commune`, `zones_district`, `zones_province` are the latest
run with geometry, for any PostGIS client (QGIS, tipg, ogr2ogr). Run files (GeoJSON, tiles, the
offline page) stay files that any web server or CDN can host.
"""
from __future__ import annotations

import atexit
import hashlib
import os
import re
import threading
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import psycopg
from psycopg.abc import Buffer
from psycopg.adapt import Loader
from psycopg_pool import ConnectionPool

from geo.base.vocabulary import UNITS
from geo.store.schema import added_columns_pg

# Types of the SQLite schema in PostgreSQL.
TYPES = ((r"INTEGER PRIMARY KEY AUTOINCREMENT", "BIGSERIAL PRIMARY KEY"), (r"\bBLOB\b", "BYTEA"),
         (r"\bREAL\b", "DOUBLE PRECISION"), (r"\bINTEGER\b", "BIGINT"))
EXTRA = """
CREATE EXTENSION IF NOT EXISTS postgis;
DO $$ BEGIN
  ALTER TABLE units ADD COLUMN geom_4326 geometry GENERATED ALWAYS AS (ST_SetSRID(ST_GeomFromWKB(geom), 4326)) STORED;
EXCEPTION WHEN duplicate_column THEN NULL; END $$;
CREATE INDEX IF NOT EXISTS units_geom_4326 ON units USING GIST (geom_4326);
CREATE TABLE IF NOT EXISTS run_levels (
  run_id TEXT NOT NULL REFERENCES runs(run_id), unit TEXT NOT NULL, code TEXT NOT NULL, level TEXT,
  properties JSONB NOT NULL, PRIMARY KEY (run_id, unit, code));
"""
# Typed for GIS clients: QGIS and ogr2ogr read a layer of multipolygons in EPSG:4326 with a date, not
# "Unknown (any)" geometry and text (a view's columns have the types of their expressions).
VIEW = """
DROP VIEW IF EXISTS zones_{unit};
CREATE VIEW zones_{unit} AS
SELECT l.code AS id, l.code, u.name, l.level, l.properties->>'level_vi' AS level_vi, l.run_id, r.date::date AS date,
       r.boundary_version, u.population, ST_Multi(u.geom_4326)::geometry(MultiPolygon, 4326) AS geom
FROM run_levels l
JOIN runs r ON r.run_id = l.run_id
JOIN units u ON u.boundary_version = r.boundary_version AND u.unit = l.unit AND u.code = l.code
WHERE l.unit = '{unit}' AND l.run_id = (SELECT p.run_id FROM published p ORDER BY p.date DESC LIMIT 1);
"""
# pandas reads through our DB-API connection (qmark SQL shared with SQLite); it works, and says so.
warnings.filterwarnings("ignore", message="pandas only supports SQLAlchemy connectable", category=UserWarning)
_READY: set[str] = set()
_READY_LOCK = threading.Lock()
# Connections one server process keeps to the database: its threads share them, a request waits
# when all are busy (gunicorn: 2 workers x 8 threads by default, so 8 each is one per thread).
POOL_MAX = 8
_POOLS: dict[tuple[str, int], ConnectionPool] = {}
_POOLS_LOCK = threading.Lock()


class _Numeric(Loader):
    """SUM() over integers is numeric in PostgreSQL: an int when whole (as SQLite gives), else a float."""

    def load(self, data: Buffer) -> int | float:
        d = Decimal(bytes(data).decode())
        return int(d) if d == d.to_integral_value() else float(d)


class Row(tuple):
    """A row readable as row[0] and row["name"], and dict(row), like sqlite3.Row. The names are those of a class
    made per result (_row_factory): a row is then a plain tuple made in C, nothing set on it one by one (a
    national layer's units and adjacency are tens of thousands of rows)."""

    _names: list[str] = []

    def __getitem__(self, key: Any) -> Any:  # a name too, as sqlite3.Row
        if isinstance(key, str):
            return tuple.__getitem__(self, self._names.index(key))
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


def _row_factory(cursor: psycopg.Cursor) -> Callable[[Sequence], Row]:
    names = [c.name for c in cursor.description] if cursor.description else []
    return type("Row", (Row,), {"_names": names})


def _sql(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")


class Cursor:
    def __init__(self, con: Connection) -> None:
        self._con, self._cur = con, con.raw.cursor(row_factory=_row_factory)

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        self._cur.execute(_sql(sql), tuple(params) if params is not None else None)
        self._con.count(self._cur)
        return self

    def executemany(self, sql: str, rows: Iterable) -> Cursor:
        rows = list(rows)
        if rows:
            self._cur.executemany(_sql(sql), rows)
            self._con.total_changes += max(self._cur.rowcount, 0)
        return self

    def fetchone(self) -> Row | None:
        return self._cur.fetchone()

    def fetchall(self) -> list[Row]:
        return self._cur.fetchall()

    def fetchmany(self, n: int = 1) -> list[Row]:
        return self._cur.fetchmany(n)

    def __iter__(self) -> Iterator[Row]:
        return iter(self._cur)

    @property
    def description(self) -> Any:
        return self._cur.description

    @property
    def rowcount(self) -> int:
        return self._cur.rowcount

    @property
    def lastrowid(self) -> int | None:
        row = self._con.raw.execute("SELECT lastval()").fetchone()
        return row[0] if row else None

    def close(self) -> None:
        self._cur.close()


class Connection:
    """What the code uses of sqlite3.Connection, over psycopg (pandas reads through cursor())."""

    def __init__(self, raw: psycopg.Connection, pool: ConnectionPool | None = None) -> None:
        self.raw, self.pool, self.total_changes = raw, pool, 0

    def count(self, cur: psycopg.Cursor) -> None:
        if cur.statusmessage and cur.statusmessage.split()[0] in ("INSERT", "UPDATE", "DELETE"):
            self.total_changes += max(cur.rowcount, 0)

    def cursor(self) -> Cursor:
        return Cursor(self)

    def execute(self, sql: str, params: Any = ()) -> Cursor:
        return Cursor(self).execute(sql, params)

    def executemany(self, sql: str, rows: Iterable) -> Cursor:
        return Cursor(self).executemany(sql, rows)

    def copy_csv(self, sql: str, params: Any = ()) -> bytes:
        """A query's rows as CSV with a header (COPY ... TO STDOUT: NULL unquoted empty, an empty text quoted), in
        bulk for Arrow's reader: no Python object per value."""
        with self.raw.cursor() as cur, cur.copy(f"COPY ({_sql(sql)}) TO STDOUT WITH (FORMAT csv, HEADER true)",
                                                tuple(params)) as copy:
            return b"".join(bytes(block) for block in copy)

    def commit(self) -> None:
        self.raw.commit()

    def rollback(self) -> None:
        self.raw.rollback()

    def close(self) -> None:
        """Back to the pool, with whatever was not committed rolled back."""
        if self.pool is None:
            self.raw.close()
            return
        if not self.raw.closed:
            self.raw.rollback()
        self.pool.putconn(self.raw)


def _configure(raw: psycopg.Connection) -> None:
    raw.adapters.register_loader("numeric", _Numeric)


def _pool(url: str) -> ConnectionPool:
    """This process's pool for `url` (one per process: a pool made before gunicorn forks is not shared)."""
    key = (url, os.getpid())
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = ConnectionPool(url, min_size=1, max_size=POOL_MAX, kwargs={"autocommit": False},
                                                configure=_configure, open=True, name="zones")
    return pool


def close_pools() -> None:
    """Close this process's pools (at exit; tests that made databases of their own)."""
    with _POOLS_LOCK:
        pools = [p for (_, pid), p in _POOLS.items() if pid == os.getpid()]
        _POOLS.clear()
    for pool in pools:
        pool.close()


atexit.register(close_pools)


def connect(url: str, schema: str) -> Connection:
    pool = _pool(url)
    raw = pool.getconn()
    try:
        with _READY_LOCK:
            if url not in _READY:
                _create(raw, schema)
                _READY.add(url)
    except BaseException:
        pool.putconn(raw)
        raise
    return Connection(raw, pool)


def _create(raw: psycopg.Connection, schema: str) -> None:
    """The schema once per process, under an advisory lock (several servers may start at once); nothing when the
    database already has this very schema (its digest is run_levels' comment): no statement, no lock on the views
    their readers would wait for, at every command's start."""
    ddl = schema
    for pattern, repl in TYPES:
        ddl = re.sub(pattern, repl, ddl)
    statements = [s for s in ddl.split(";") if s.strip()] + [EXTRA, added_columns_pg()] + \
        [VIEW.format(unit=unit) for unit in UNITS]
    digest = "zones schema " + hashlib.sha256("\n;".join(statements).encode()).hexdigest()[:16]
    current = raw.execute("SELECT obj_description(to_regclass('run_levels'), 'pg_class')").fetchone() == (digest,)
    raw.rollback()
    if current:
        return
    with raw.transaction():
        raw.execute("SELECT pg_advisory_xact_lock(20210531)")
        for statement in statements:
            raw.execute(statement)
        raw.execute(f"COMMENT ON TABLE run_levels IS '{digest}'")
    raw.commit()


# One writer of runs at a time across every server using the database.
WRITER_LOCK_KEY = 20210601


@contextmanager
def advisory_lock(url: str, timeout_s: float) -> Iterator[bool]:
    """Yields True once the writers' lock is held (False if `timeout_s` passed first)."""
    raw = psycopg.connect(url, autocommit=True)
    try:
        deadline = time.monotonic() + timeout_s
        while not (raw.execute("SELECT pg_try_advisory_lock(%s)", (WRITER_LOCK_KEY,)).fetchone() or (False,))[0]:
            if time.monotonic() > deadline:
                yield False
                return
            time.sleep(0.2)
        try:
            yield True
        finally:
            raw.execute("SELECT pg_advisory_unlock(%s)", (WRITER_LOCK_KEY,))
    finally:
        raw.close()
