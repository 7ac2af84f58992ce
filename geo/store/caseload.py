"""Case rows into the store: the `cases` upsert of an import, a chunk at a time (geo/ingest/cases.py
parses; this writes), and the re-keying of identifiers stored before pseudonymisation."""
from __future__ import annotations

import io
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pcsv

from geo.store.connection import Connection
from geo.store.database import CASE_FIELDS

# From this many rows a load rebuilds the date index instead of updating it row by row (when the
# load is at least a quarter of what is stored): 1.5 s less for a million rows.
INDEX_REBUILD_MIN = 100_000
# Numbers of a case row: bound as floats, a missing one as NaN (which SQLite stores as NULL); every
# other field is text, a missing one bound as '' and made NULL again in SQL.
NUMERIC_FIELDS = frozenset({"count", "community", "source_known", "lon", "lat", "age"})


class Loader:
    """Rows into `cases`, a chunk at a time. In SQLite each chunk goes first into a temporary table:
    only the columns that vary in a chunk are bound (the others are constants in the statement), no
    missing value is bound (the sqlite3 module binds None slowly: empty text and NaN stand for it,
    NULL again in SQL). Its upsert into `cases` is one statement, run by a helper thread while the
    next chunk is parsed: SQLite works without the interpreter lock, binding does not, so binding
    stays here. PostgreSQL takes each chunk by COPY (CSV written by Arrow) into its temporary table, then
    the same one-statement upsert: no row goes through Python on its own.
    A context manager: leaving it waits for the helper, whatever happened."""

    def __init__(self, con: Connection, is_pg: bool, import_id: int, expected: int) -> None:
        self.con, self.is_pg, self.import_id = con, is_pg, int(import_id)
        cols = ", ".join(CASE_FIELDS)
        updates = ", ".join(f"{f} = excluded.{f}" for f in CASE_FIELDS if f != "case_key")
        self.upsert = f"ON CONFLICT(case_key) DO UPDATE SET {updates} WHERE cases.row_hash != excluded.row_hash"
        self.cols = cols
        self.changed = 0                 # rows of `cases` inserted or changed
        self.pending: Future | None = None
        self.helper: ThreadPoolExecutor | None = None
        if is_pg:       # pg_temp: never a table of the database that happens to share the name
            con.execute("DROP TABLE IF EXISTS pg_temp.incoming")
            con.execute(f"CREATE TEMP TABLE incoming AS SELECT {cols} FROM cases WHERE false")
            return
        self.helper = ThreadPoolExecutor(max_workers=1, thread_name_prefix="import-upsert")
        # a load as large as what is stored: the date index is dropped and made again once (in the same
        # transaction), rather than updated a row at a time
        stored = con.execute("SELECT MAX(rowid) FROM cases").fetchone()[0] or 0
        self.rebuild = expected >= INDEX_REBUILD_MIN and expected * 4 >= stored
        con.execute("PRAGMA cache_size = -131072")       # 128 MB of pages while an import runs
        con.execute("DROP TABLE IF EXISTS temp.incoming")
        con.execute(f"CREATE TEMP TABLE incoming AS SELECT {cols} FROM cases WHERE 0")
        if self.rebuild:
            con.execute("DROP INDEX IF EXISTS cases_report_date")

    def __enter__(self) -> Loader:
        return self

    def __exit__(self, kind: type[BaseException] | None, *_: object) -> None:
        try:
            if self.pending is not None:
                if kind is None:
                    self.pending.result()
                else:
                    wait([self.pending])            # the first error is the one to tell
        finally:
            if self.helper is not None:
                self.helper.shutdown(wait=True)

    def add(self, acc: pd.DataFrame) -> None:
        if acc.empty:
            return
        if self.is_pg:
            raw = self.con.raw     # type: ignore[attr-defined]  # geo/store/pg.py's connection: psycopg's own
            with raw.cursor() as cur, cur.copy(f"COPY incoming ({self.cols}) FROM STDIN (FORMAT csv)") as copy:
                copy.write(_csv(acc))
            self._upsert()
            return
        exprs, arrays = [], []
        for f in CASE_FIELDS:
            numeric = f in NUMERIC_FIELDS
            values = pd.to_numeric(acc[f]).to_numpy(dtype=float) if numeric else acc[f].to_numpy(dtype=object)
            present = ~pd.isna(values)
            if not present.any():
                exprs.append("NULL")
                continue
            first = values[present][0]
            if present.all() and (values == first).all():
                exprs.append(repr(float(first)) if numeric else "'" + str(first).replace("'", "''") + "'")
                continue
            arrays.append(values if numeric else np.where(present, values, ""))
            exprs.append("?")
        self._wait()                    # the previous chunk has left `incoming`
        self.con.executemany(f"INSERT INTO incoming ({self.cols}) VALUES ({', '.join(exprs)})",
                             zip(*(a.tolist() for a in arrays), strict=False) if arrays else [()] * len(acc))
        assert self.helper is not None
        self.pending = self.helper.submit(self._upsert)

    def _upsert(self) -> None:
        """`incoming` into `cases`, then emptied (SQLite: on the helper thread)."""
        select = ", ".join(f if f in NUMERIC_FIELDS else f"NULLIF({f}, '')" for f in CASE_FIELDS)
        before = self.con.total_changes
        # "WHERE true" lets SQLite parse the upsert after a SELECT (its documented ambiguity rule)
        self.con.execute(f"INSERT INTO cases ({self.cols}, import_id) SELECT {select}, {self.import_id} FROM incoming "
                         f"WHERE true {self.upsert}")
        self.changed += self.con.total_changes - before
        self.con.execute("DELETE FROM pg_temp.incoming" if self.is_pg else "DELETE FROM temp.incoming")

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def finish(self) -> None:
        if self.is_pg:
            self.con.execute("DROP TABLE pg_temp.incoming")
            return
        self._wait()
        if self.rebuild:
            self.con.execute("CREATE INDEX IF NOT EXISTS cases_report_date ON cases(report_date)")
        self.con.execute("DROP TABLE temp.incoming")


def _csv(acc: pd.DataFrame) -> bytes:
    """A chunk as CSV for PostgreSQL's COPY, written by Arrow: numbers as floats (a missing one empty, which COPY
    reads as NULL), text always quoted (an empty text stored as NULL, as SQLite's path does)."""
    columns = {}
    for f in CASE_FIELDS:
        if f in NUMERIC_FIELDS:
            columns[f] = pa.array(pd.to_numeric(acc[f]).to_numpy(dtype=float), from_pandas=True)
        else:
            text = acc[f].astype(str)          # pandas' str: a missing value stays missing
            columns[f] = pa.array(text.where(text != ""), type=pa.string(), from_pandas=True)
    out = io.BytesIO()
    pcsv.write_csv(pa.table(columns), out, pcsv.WriteOptions(include_header=False))
    return out.getvalue()


def plain_identifiers(con: Connection) -> pd.DataFrame:
    """Case rows whose case_id or cluster_id is not yet a pseudonym (stored by an older version)."""
    old = con.execute("SELECT case_key, kind, case_id, cluster_id, report_date, commune_code, community, source_known, "
                      "source_setting FROM cases WHERE (case_id IS NOT NULL AND case_id NOT LIKE 'p:%') OR "
                      "(cluster_id IS NOT NULL AND cluster_id NOT LIKE 'p:%')").fetchall()
    return pd.DataFrame([tuple(r) for r in old], columns=["case_key", "kind", "case_id", "cluster_id", "report_date",
                                                          "commune_code", "community", "source_known", "source_setting"])


def rekey(con: Connection, df: pd.DataFrame) -> None:
    """df: new_key, case_id, cluster_id, case_key (the old key): each row's key and identifiers replaced."""
    con.executemany("UPDATE cases SET case_key = ?, case_id = ?, cluster_id = ? WHERE case_key = ?",
                    list(df.astype(object).where(df.notna(), None).itertuples(index=False, name=None)))
