"""Operator inputs in the store: the import log, lockdowns (and their history), committee flags,
indicators and declared levels. Each upsert changes a row only when its content (row_hash) changed,
so re-importing a file changes nothing; `con.total_changes` tells the caller what did."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from geo.store.connection import Connection


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# -- the import log ---------------------------------------------------------------------------
def log_import(con: Connection, kind: str, path: Path, sha256: str, stamp: str, result: dict) -> int:
    cur = con.execute("INSERT INTO imports (kind, path, sha256, imported_at, accepted, rejected, changed, rejects_path) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (kind, str(path), sha256, stamp, result["accepted"],
                                                         result["rejected"], result["changed"], result["rejects_path"]))
    return cur.lastrowid


def update_import(con: Connection, import_id: int, result: dict) -> None:
    con.execute("UPDATE imports SET accepted = ?, rejected = ?, changed = ?, rejects_path = ? WHERE id = ?",
                (result["accepted"], result["rejected"], result["changed"], result["rejects_path"], import_id))


def any_import(con: Connection, kind: str) -> bool:
    return con.execute("SELECT 1 FROM imports WHERE kind = ? LIMIT 1", (kind,)).fetchone() is not None


def imports_with_rejects(con: Connection, since: str) -> list[dict]:
    """Imports after `since` that rejected rows: kind, path, rejected."""
    return [dict(r) for r in con.execute("SELECT kind, path, rejected FROM imports WHERE imported_at > ? AND rejected > 0 "
                                         "ORDER BY imported_at", (since,)).fetchall()]


# -- lockdowns ---------------------------------------------------------------------------------
def upsert_lockdowns(con: Connection, rows: list[tuple]) -> None:
    """rows: (lockdown_key, decision_no, issuer, name, start_date, end_date, lifted_date, geom WKB, row_hash)."""
    con.executemany(
        "INSERT INTO lockdowns (lockdown_key, decision_no, issuer, name, start_date, end_date, lifted_date, geom, row_hash) "
        "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(lockdown_key) DO UPDATE SET decision_no = excluded.decision_no, "
        "issuer = excluded.issuer, name = excluded.name, start_date = excluded.start_date, end_date = excluded.end_date, "
        "lifted_date = excluded.lifted_date, geom = excluded.geom, row_hash = excluded.row_hash "
        "WHERE lockdowns.row_hash != excluded.row_hash",
        rows)


def keep_lockdown_history(con: Connection, rows: list[tuple], stamp: str) -> list[str]:
    """Before a decision's lockdown changes, its previous row goes to lockdown_history; rows stored
    under the older per-polygon keys for the same decision are moved there too. -> decisions replaced."""
    replaced = []
    now = _now()
    for key, decision, *_rest, row_hash in rows:
        old = con.execute("SELECT lockdown_key, row_hash FROM lockdowns WHERE lockdown_key = ? OR "
                          "(lockdown_key NOT LIKE 'decision:%' AND decision_no = ?)", (key, decision)).fetchall()
        stale = [r[0] for r in old if r[0] != key or r[1] != row_hash]
        if not stale:
            continue
        marks = ",".join("?" * len(stale))
        con.execute("INSERT INTO lockdown_history (decision_no, issuer, name, start_date, end_date, lifted_date, geom, "
                    f"row_hash, replaced_at, replaced_by) SELECT decision_no, issuer, name, start_date, end_date, lifted_date, "
                    f"geom, row_hash, ?, ? FROM lockdowns WHERE lockdown_key IN ({marks})", (now, stamp, *stale))
        old_keys = [k for k in stale if k != key]
        if old_keys:
            con.execute(f"DELETE FROM lockdowns WHERE lockdown_key IN ({','.join('?' * len(old_keys))})", tuple(old_keys))
        replaced.append(decision)
    return replaced


def lockdown_table(con: Connection) -> pd.DataFrame:
    """Every lockdown's decision, issuer, name and dates (no geometry), oldest first."""
    return pd.read_sql_query("SELECT decision_no, issuer, name, start_date, end_date, lifted_date FROM lockdowns "
                             "ORDER BY start_date, decision_no", con)


# -- flags, indicators, declarations --------------------------------------------------------------
def upsert_flags(con: Connection, rows: list[tuple]) -> None:
    """rows: (code, date, flag, value, author, end_date, row_hash); recorded now."""
    recorded = _now()
    con.executemany("INSERT INTO flags (code, date, flag, value, author, end_date, row_hash, recorded_at) "
                    "VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(code, date, flag) DO UPDATE SET value = excluded.value, "
                    "author = excluded.author, end_date = excluded.end_date, row_hash = excluded.row_hash, "
                    "recorded_at = excluded.recorded_at WHERE flags.row_hash != excluded.row_hash",
                    [(*r, recorded) for r in rows])


def upsert_indicators(con: Connection, rows: list[list[tuple]]) -> int:
    """rows: per row of the file, its values as (code, date, name, value, row_hash). -> how many rows of the file
    changed something (a row with several indicators counts once)."""
    changed = 0
    for values in rows:
        before = con.total_changes
        con.executemany("INSERT INTO indicators (code, date, name, value, row_hash) VALUES (?,?,?,?,?) "
                        "ON CONFLICT(code, date, name) DO UPDATE SET value = excluded.value, row_hash = excluded.row_hash "
                        "WHERE indicators.row_hash != excluded.row_hash", values)
        changed += con.total_changes > before
    return changed


def upsert_declarations(con: Connection, rows: list[tuple]) -> None:
    """rows: (unit, level, valid_from, valid_until, decision, by, reason, recorded_at, row_hash, boundary_version):
    a declaration belongs to the boundary version its unit code is of."""
    con.executemany("INSERT INTO declarations (unit, level, valid_from, valid_until, decision, by, reason, "
                    "recorded_at, row_hash, boundary_version) VALUES (?,?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT(unit, valid_from, decision) "
                    "DO UPDATE SET level = excluded.level, valid_until = excluded.valid_until, by = excluded.by, "
                    "reason = excluded.reason, recorded_at = excluded.recorded_at, row_hash = excluded.row_hash, "
                    "boundary_version = excluded.boundary_version "
                    "WHERE declarations.row_hash != excluded.row_hash", rows)


def column_map(con: Connection, layout: str) -> dict[str, str] | None:
    """The column mapping an operator saved for a file layout (geo/ingest/layout.py), if any."""
    row = con.execute("SELECT mapping FROM column_maps WHERE layout = ?", (layout,)).fetchone()
    return json.loads(row[0]) if row is not None else None


def save_column_map(con: Connection, layout: str, kind: str, mapping: dict[str, str], by: str) -> None:
    con.execute("INSERT INTO column_maps (layout, kind, mapping, saved_by, saved_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(layout) DO UPDATE SET mapping = excluded.mapping, saved_by = excluded.saved_by, "
                "saved_at = excluded.saved_at", (layout, kind, json.dumps(mapping, ensure_ascii=False), by, _now()))


def declarations_of(con: Connection, version: str, day: str) -> pd.DataFrame:
    """The declarations of a boundary version in force on `day` (the latest valid_from <= day per unit, not ended)."""
    df = pd.read_sql_query("SELECT unit, level, valid_from, valid_until, decision, by, reason FROM declarations "
                           "WHERE boundary_version = ? AND valid_from <= ? ORDER BY valid_from, recorded_at", con,
                           params=(version, day))
    last = df.groupby("unit").tail(1)
    return last[last["valid_until"].isna() | (last["valid_until"] >= day)].reset_index(drop=True)
