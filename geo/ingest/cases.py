"""import-cases: a line list (one row per case) or daily counts per commune, CSV or XLSX.

The file is read once (geo/ingest/officefile.py), then parsed and stored a chunk of rows at a time
(geo/ingest/caseparse.py) inside one transaction: a million-row line list takes a bounded amount of memory.
Rows that cannot be placed or parsed are kept in a rejects file with row, field and reason.
Idempotent: a case is keyed by (the pseudonym of) its case_id, a count by date + commune + its flags;
re-importing the same file changes nothing, a corrected file updates the rows it changes.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import CaseCol as C
from geo.base.errors import MissingInputError
from geo.ingest import personal
from geo.ingest.caseparse import Plan, _text, parse
from geo.ingest.tables import RowErrors, log_import, read_table, summary, write_rejects
from geo.ingest.units import sha256_file
from geo.store.database import CASE_FIELDS, Store

# Rows parsed and stored at a time: memory stays bounded whatever the file's length.
CHUNK_ROWS = 200_000
# From this many rows a load rebuilds the date index instead of updating it row by row (when the
# load is at least a quarter of what is stored): 1.5 s less for a million rows.
INDEX_REBUILD_MIN = 100_000
# Numbers of a case row: bound as floats, a missing one as NaN (which SQLite stores as NULL); every
# other field is text, a missing one bound as '' and made NULL again in SQL.
NUMERIC_FIELDS = frozenset({"count", "community", "source_known", "lon", "lat", "age"})


def import_cases(store: Store, path: Path, rejects_dir: Path, today: dt.date,
                 community: bool | None = None, source_known: bool | None = None, label: str | None = None) -> dict:
    """Import a case file. `label`: the file's name in messages and the import log (an upload's own
    name); the pseudonym key lives in the data folder (rejects_dir's parent)."""
    path = Path(path)
    label = label or path.name
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    raw = read_table(path, label)
    units = store.load_units(version)
    secret = personal.key(Path(rejects_dir).parent)
    plan = Plan.of(raw, path)
    df = plan.frame(raw)
    err = RowErrors.of(raw)
    err.masked = set(plan.personal)
    if not plan.is_counts:          # duplicates across the whole file, before the chunks
        ids = df[C.CASE_ID.value].astype(str)
        dup = (ids.duplicated() & (ids != "")).to_numpy(dtype=bool)
        err.add(dup, C.CASE_ID.value, lambda at: "duplicate case_id in this file, first at row " + err.first_rows(ids, at))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    with store.transaction() as con:
        migrate_identifiers(con, secret)
        import_id = log_import(con, "cases", Path(label), sha256_file(path), stamp,
                               {"accepted": 0, "rejected": 0, "changed": 0, "rejects_path": None})
        loader = Loader(con, store.is_pg, import_id)
        seen: dict = {}
        accepted = 0
        for start in range(0, len(df), CHUNK_ROWS):
            stop = min(start + CHUNK_ROWS, len(df))
            part = err.view(start, stop)
            acc = parse(df.iloc[start:stop], plan, units, today, community, source_known, secret, part)
            if plan.is_counts:
                acc = _first_of_each_count(acc, part, seen)
            loader.add(acc)
            accepted += len(acc)
        loader.finish()
        rejects = write_rejects(raw, err, rejects_dir, Path(label), stamp)
        result = summary(accepted, err, loader.changed, rejects, Path(label))
        result["personal_columns"] = sorted(plan.personal)
        result["notes"] = ([f"{label}: columns not used: {', '.join(plan.ignored)}"] if plan.ignored else []) + \
            ([f"{label}: personal columns dropped, never stored: " +
              ", ".join(f"{c} ({why})" if why != "header" else c for c, why in plan.personal.items())] if plan.personal else [])
        con.execute("UPDATE imports SET accepted = ?, rejected = ?, changed = ?, rejects_path = ? WHERE id = ?",
                    (result["accepted"], result["rejected"], result["changed"], result["rejects_path"], import_id))
    return result


def _first_of_each_count(acc: pd.DataFrame, err: RowErrors, seen: dict) -> pd.DataFrame:
    """Counts with the same date, commune and flags as an earlier row of the file are rejected, naming it."""
    keys = acc["case_key"].to_numpy(dtype=object)
    where = err.positions(acc.index)
    repeat = np.zeros(len(keys), dtype=bool)
    first = np.full(len(keys), "", dtype=object)
    for k, (key, at) in enumerate(zip(keys, where, strict=False)):
        if key in seen:
            repeat[k], first[k] = True, seen[key]
        else:
            seen[key] = err.where(at)
    if not repeat.any():
        return acc
    mask = np.zeros(len(err.field), dtype=bool)
    mask[where[repeat]] = True
    by_pos = dict(zip(where[repeat], first[repeat], strict=False))
    err.add(mask, C.COUNT.value, lambda at: np.array([f"same date, commune and flags as row {by_pos[a]} of this file"
                                                      for a in at], dtype=object))
    return acc[~repeat]


class Loader:
    """Rows into `cases`, a chunk at a time. In SQLite they go first into a temporary table: only the
    columns that vary in a chunk are bound (the others are constants in the statement), no missing
    value is bound (the sqlite3 module binds None slowly: empty text and NaN stand for it, NULL again
    in SQL); `finish()` upserts them all in one statement. PostgreSQL takes each chunk directly."""

    def __init__(self, con, is_pg: bool, import_id: int):
        self.con, self.is_pg, self.import_id = con, is_pg, int(import_id)
        cols = ", ".join(CASE_FIELDS)
        updates = ", ".join(f"{f} = excluded.{f}" for f in CASE_FIELDS if f != "case_key")
        self.upsert = f"ON CONFLICT(case_key) DO UPDATE SET {updates} WHERE cases.row_hash != excluded.row_hash"
        self.cols = cols
        self.changed = 0                 # rows of `cases` inserted or changed
        self.added = 0
        if not is_pg:
            con.execute("PRAGMA cache_size = -131072")       # 128 MB of pages while an import runs
            con.execute("DROP TABLE IF EXISTS temp.incoming")
            con.execute(f"CREATE TEMP TABLE incoming AS SELECT {cols} FROM cases WHERE 0")

    def add(self, acc: pd.DataFrame) -> None:
        if acc.empty:
            return
        if self.is_pg:
            marks = ", ".join("?" * len(CASE_FIELDS))
            before = self.con.total_changes
            self.con.executemany(f"INSERT INTO cases ({self.cols}, import_id) VALUES ({marks}, {self.import_id}) "
                                 f"{self.upsert}", _rows(acc))
            self.changed += self.con.total_changes - before
            return
        self.added += len(acc)
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
        self.con.executemany(f"INSERT INTO incoming ({self.cols}) VALUES ({', '.join(exprs)})",
                             zip(*(a.tolist() for a in arrays), strict=False) if arrays else [()] * len(acc))

    def finish(self) -> None:
        if self.is_pg:
            return
        select = ", ".join(f if f in NUMERIC_FIELDS else f"NULLIF({f}, '')" for f in CASE_FIELDS)
        # a load as large as what is stored: the date index is dropped and made again once (in the same
        # transaction), rather than updated a row at a time
        rebuild = self.added >= INDEX_REBUILD_MIN and \
            self.added * 4 >= (self.con.execute("SELECT MAX(rowid) FROM cases").fetchone()[0] or 0)
        try:
            before = self.con.total_changes
            if rebuild:
                self.con.execute("DROP INDEX IF EXISTS cases_report_date")
            # "WHERE true" lets SQLite parse the upsert after a SELECT (its documented ambiguity rule)
            self.con.execute(f"INSERT INTO cases ({self.cols}, import_id) SELECT {select}, {self.import_id} FROM incoming "
                             f"WHERE true {self.upsert}")
            self.changed += self.con.total_changes - before
            if rebuild:
                self.con.execute("CREATE INDEX IF NOT EXISTS cases_report_date ON cases(report_date)")
        finally:
            self.con.execute("DROP TABLE temp.incoming")


def _rows(acc: pd.DataFrame):
    """Rows as Python tuples, a slice at a time."""
    step = 50_000
    for start in range(0, len(acc), step):
        part = acc.iloc[start:start + step].astype(object)
        yield from part.where(part.notna(), None).itertuples(index=False, name=None)


def migrate_identifiers(con, secret: bytes) -> None:
    """Cases stored before identifiers were pseudonymised: their ids and clusters become pseudonyms,
    in the same transaction as the import that meets them (once)."""
    old = con.execute("SELECT case_key, kind, case_id, cluster_id, report_date, commune_code, community, source_known, "
                      "source_setting FROM cases WHERE (case_id IS NOT NULL AND case_id NOT LIKE 'p:%') OR "
                      "(cluster_id IS NOT NULL AND cluster_id NOT LIKE 'p:%')").fetchall()
    if not old:
        return
    df = pd.DataFrame([tuple(r) for r in old], columns=["case_key", "kind", "case_id", "cluster_id", "report_date",
                                                         "commune_code", "community", "source_known", "source_setting"])
    for col in ("case_id", "cluster_id"):
        fresh = personal.pseudonyms(df[col].where(~df[col].astype(str).str.startswith("p:"), None), secret)
        df[col] = fresh.where(fresh.notna(), df[col])
    key = "count:" + _text(df["report_date"])
    for col in ("commune_code", "community", "source_known", "source_setting", "cluster_id"):
        key = key + "|" + _text(df[col].astype(float) if col in ("community", "source_known") else df[col])
    df["new_key"] = np.where(df["kind"] == "case", "case:" + df["case_id"].fillna("").astype(str), key)
    con.executemany("UPDATE cases SET case_key = ?, case_id = ?, cluster_id = ? WHERE case_key = ?",
                    list(df[["new_key", "case_id", "cluster_id", "case_key"]].astype(object)
                         .where(df[["new_key", "case_id", "cluster_id", "case_key"]].notna(), None)
                         .itertuples(index=False, name=None)))
