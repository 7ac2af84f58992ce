"""Doubtful placements in the store: the announced triples the names rules could not place with certainty
(`placement_reviews`, one row per triple and boundary version, with its candidates and, once an operator
chose, the choice), and the case rows waiting for that choice (`pending_cases`, the same columns as
`cases`). geo/ingest/reviews.py decides; this reads and writes."""
from __future__ import annotations

import datetime as dt
import json

import pandas as pd

from geo.store.connection import Connection
from geo.store.database import CASE_FIELDS

PENDING_FIELDS = ("review_key", *CASE_FIELDS)


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def key(version: str, triple: str) -> str:
    return f"{version}|{triple}"


def decided(con: Connection, version: str) -> dict[str, str]:
    """{announced triple: code} of the choices made on `version` (a code of that version)."""
    rows = con.execute("SELECT review_key, code FROM placement_reviews WHERE boundary_version = ? AND status = 'decided'",
                       (version,)).fetchall()
    prefix = len(version) + 1
    return {r[0][prefix:]: r[1] for r in rows}


def record(con: Connection, version: str, triples: list[dict]) -> None:
    """Open (or seen again) doubtful triples: {triple, province_name, district_name, commune_name, reason,
    candidates}. A triple already decided or rejected keeps its decision."""
    now = _now()
    con.executemany(
        "INSERT INTO placement_reviews (review_key, boundary_version, province_name, district_name, commune_name, reason, "
        "candidates, first_seen, last_seen) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(review_key) DO UPDATE SET "
        "last_seen = excluded.last_seen, candidates = excluded.candidates, reason = excluded.reason",
        [(key(version, t["triple"]), version, t["province_name"], t["district_name"], t["commune_name"], t["reason"],
          json.dumps(t["candidates"], ensure_ascii=False), now, now) for t in triples])


def add_pending(con: Connection, rows: pd.DataFrame, import_id: int) -> int:
    """Rows waiting for a choice (PENDING_FIELDS); the same row imported again changes nothing. -> rows changed."""
    if rows.empty:
        return 0
    cols = ", ".join(PENDING_FIELDS)
    marks = ", ".join("?" * len(PENDING_FIELDS))
    updates = ", ".join(f"{f} = excluded.{f}" for f in PENDING_FIELDS if f != "case_key")
    before = con.total_changes
    values = rows[list(PENDING_FIELDS)].astype(object)
    con.executemany(f"INSERT INTO pending_cases ({cols}, import_id) VALUES ({marks}, {int(import_id)}) "
                    f"ON CONFLICT(case_key) DO UPDATE SET {updates} WHERE pending_cases.row_hash != excluded.row_hash",
                    list(values.where(values.notna(), None).itertuples(index=False, name=None)))
    return con.total_changes - before


def listed(con: Connection, version: str | None = None, status: str | None = "open") -> list[dict]:
    """Reviews with their waiting rows and cases, most cases first."""
    where, params = [], []
    if version is not None:
        where.append("r.boundary_version = ?")
        params.append(version)
    if status is not None:
        where.append("r.status = ?")
        params.append(status)
    sql = ("SELECT r.review_key, r.boundary_version, r.province_name, r.district_name, r.commune_name, r.reason, "
           "r.candidates, r.first_seen, r.last_seen, r.status, r.code, r.decided_by, r.decided_at, "
           "COUNT(p.case_key) AS n_rows, COALESCE(SUM(p.count), 0) AS n_cases FROM placement_reviews r "
           "LEFT JOIN pending_cases p ON p.review_key = r.review_key "
           + (f"WHERE {' AND '.join(where)} " if where else "")
           + "GROUP BY r.review_key, r.boundary_version, r.province_name, r.district_name, r.commune_name, r.reason, "
             "r.candidates, r.first_seen, r.last_seen, r.status, r.code, r.decided_by, r.decided_at "
             "ORDER BY COALESCE(SUM(p.count), 0) DESC, r.review_key")
    out = []
    for r in con.execute(sql, tuple(params)).fetchall():
        row = dict(zip(("review_key", "boundary_version", "province_name", "district_name", "commune_name", "reason",
                        "candidates", "first_seen", "last_seen", "status", "code", "decided_by", "decided_at",
                        "n_rows", "n_cases"), tuple(r), strict=True))
        row["candidates"] = json.loads(row["candidates"])
        out.append(row)
    return out


def get(con: Connection, review_key: str) -> dict | None:
    rows = [r for r in listed(con, status=None) if r["review_key"] == review_key]
    return rows[0] if rows else None


def pending_rows(con: Connection, review_key: str) -> pd.DataFrame:
    return pd.read_sql_query(f"SELECT {', '.join(PENDING_FIELDS)} FROM pending_cases WHERE review_key = ?", con,
                             params=(review_key,))


def close(con: Connection, review_key: str, code: str | None, by: str) -> None:
    """The choice made (a code), or none of the candidates (rejected): the waiting rows leave the list."""
    con.execute("UPDATE placement_reviews SET status = ?, code = ?, decided_by = ?, decided_at = ? WHERE review_key = ?",
                ("decided" if code else "rejected", code, by, _now(), review_key))
    con.execute("DELETE FROM pending_cases WHERE review_key = ?", (review_key,))


def pending_cases_count(con: Connection) -> tuple[int, int]:
    """(rows, cases) waiting for a choice."""
    row = con.execute("SELECT COUNT(*), COALESCE(SUM(count), 0) FROM pending_cases").fetchone()
    return int(row[0]), int(row[1])
