"""A published run's levels as rows of PostgreSQL's `run_levels` (unit, code, level, properties JSON): sent by
COPY in the run's record, or sent ahead (StagedLevels) while the run's files are still being written."""
from __future__ import annotations

import psycopg

from geo.store.pg import Connection, connect


def _fast_compression(raw: psycopg.Connection) -> None:
    """This session's large values compressed with lz4 rather than PostgreSQL's default pglz: a national run's
    properties are stored in three quarters of the time, a tenth larger. The values keep their compression when
    moved into `run_levels`; a server built without lz4 keeps pglz."""
    try:
        raw.execute("SET default_toast_compression = 'lz4'")
    except psycopg.Error:
        raw.rollback()


class StagedLevels:
    """A run's level rows (unit, code, level, properties JSON text) sent ahead by COPY into a temporary table of one
    connection kept out of the pool: the server parses their JSON (~25 MB nationally) while the run's files are still
    being written; the run's record moves them into `run_levels` in its transaction on this very connection."""

    def __init__(self, url: str, schema: str, rows: list[tuple]) -> None:
        self.connection: Connection | None = connect(url, schema)
        try:
            raw = self.connection.raw
            _fast_compression(raw)
            raw.execute("DROP TABLE IF EXISTS pg_temp.levels_staged")
            raw.execute("CREATE TEMP TABLE levels_staged (unit TEXT, code TEXT, level TEXT, properties JSONB NOT NULL)")
            with raw.cursor() as cur, cur.copy("COPY levels_staged (unit, code, level, properties) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            raw.commit()
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Connection:        # the connection a run's record runs its transaction on
        assert self.connection is not None
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        """Back to the pool, once (what was not committed rolled back; a temporary table left is dropped by the next
        StagedLevels of the session)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


def record_levels(con: Connection, run_id: str, rows: list[tuple] | StagedLevels) -> None:
    """A published run's levels as rows (unit, code, level, properties JSON text), by COPY (a national run is ~12,000
    rows and 25 MB of JSON), or from a StagedLevels on `con` itself. A run is recorded once; were it recorded again,
    the rows already there stay."""
    if con.raw.execute("SELECT 1 FROM run_levels WHERE run_id = %s LIMIT 1", (run_id,)).fetchone():
        return
    if isinstance(rows, StagedLevels):
        con.raw.execute("INSERT INTO run_levels (run_id, unit, code, level, properties) "
                        "SELECT %s, unit, code, level, properties FROM pg_temp.levels_staged", (run_id,))
        con.raw.execute("DROP TABLE pg_temp.levels_staged")
        return
    with con.raw.cursor() as cur, cur.copy("COPY run_levels (run_id, unit, code, level, properties) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((run_id, *row))
