"""A published run's levels as rows of PostgreSQL's `run_levels` (unit, code, level, properties JSON): sent by
COPY in the run's record, or sent ahead (StagedLevels) while the run's files are still being written."""
from __future__ import annotations

import psycopg

from geo.store.pg import Connection, connect
from geo.store.schema import RUN_COLUMNS


def _fast_compression(raw: psycopg.Connection) -> None:
    """This session's large values compressed with lz4 rather than PostgreSQL's default pglz: a national run's
    properties are stored in three quarters of the time, a tenth larger. A server built without lz4 keeps pglz."""
    try:
        raw.execute("SET default_toast_compression = 'lz4'")
    except psycopg.Error:
        raw.rollback()


class StagedLevels:
    """A run's level rows (unit, code, level, properties JSON text) sent ahead by COPY straight into `run_levels`,
    in a transaction left open on one connection kept out of the pool: the server parses their JSON (~25 MB
    nationally) and writes its log while the run's files are still being written, and the run's record is then
    that transaction's few last statements (complete_run), one commit. The rows need their run's row first (the
    table's reference): a provisional one, `provisional` = the run's (date, ruleset, ruleset_sha256,
    boundary_version), which complete_run() fills in; no one sees either before the commit, and a run never
    recorded leaves nothing (close() rolls back)."""

    def __init__(self, url: str, schema: str, run_id: str, provisional: tuple, rows: list[tuple]) -> None:
        self.run_id = run_id
        self.connection: Connection | None = connect(url, schema)
        try:
            raw = self.connection.raw
            _fast_compression(raw)
            day, ruleset, sha256, boundary_version = provisional     # no creation time or manifest yet
            raw.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join(['%s'] * len(RUN_COLUMNS))})",
                        (day, "", ruleset, sha256, boundary_version, "{}", run_id))
            _copy_rows(raw, run_id, rows)
        except BaseException:
            self.close()
            raise

    def __enter__(self) -> Connection:        # the connection a run's record runs its transaction on
        assert self.connection is not None
        return self.connection

    def __exit__(self, *_: object) -> None:
        self.close()

    def complete_run(self, con: Connection, run: tuple) -> None:
        """The provisional run row made whole: `run` = the values of RUN_COLUMNS (the run's id last: this one's)."""
        if run[-1] != self.run_id:
            raise ValueError(f"levels staged for run {self.run_id}, recorded for {run[-1]}")
        cur = con.raw.execute(f"UPDATE runs SET {', '.join(f'{c} = %s' for c in RUN_COLUMNS[:-1])} WHERE run_id = %s", run)
        if cur.rowcount != 1:
            raise RuntimeError(f"run {self.run_id}: its provisional row is gone")

    def close(self) -> None:
        """Back to the pool, once (what was not committed rolled back: the provisional row and its levels)."""
        connection, self.connection = self.connection, None
        if connection is not None:
            connection.close()


def record_levels(con: Connection, run_id: str, rows: list[tuple]) -> None:
    """A published run's levels as rows (unit, code, level, properties JSON text), by COPY (a national run is ~12,000
    rows and 25 MB of JSON). A run is recorded once; were it recorded again, the rows already there stay."""
    if con.raw.execute("SELECT 1 FROM run_levels WHERE run_id = %s LIMIT 1", (run_id,)).fetchone():
        return
    _copy_rows(con.raw, run_id, rows)


def _copy_rows(raw: psycopg.Connection, run_id: str, rows: list[tuple]) -> None:
    with raw.cursor() as cur, cur.copy("COPY run_levels (run_id, unit, code, level, properties) FROM STDIN") as copy:
        for row in rows:
            copy.write_row((run_id, *row))
