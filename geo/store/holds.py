"""The `holds` table: runs the quality gate kept aside (geo/publish/quality.py decides, this stores)."""
from __future__ import annotations

import datetime as dt
import json

from geo.store.connection import Connection


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def add(con: Connection, run_id: str, day: str, reasons: list, ruleset: str) -> None:
    con.execute("INSERT INTO holds (run_id, date, held_at, reasons, ruleset) VALUES (?, ?, ?, ?, ?)",
                (run_id, day, _now(), json.dumps(reasons, ensure_ascii=False), ruleset))


def supersede(con: Connection, day: str) -> list[str]:
    """Holds of `day` still held become superseded -> their run ids."""
    old = [r[0] for r in con.execute("SELECT run_id FROM holds WHERE date = ? AND status = 'held'", (day,))]
    con.execute("UPDATE holds SET status = 'superseded' WHERE date = ? AND status = 'held'", (day,))
    return old


def listed(con: Connection) -> list[dict]:
    """Every hold, newest first, reasons still as stored (JSON text)."""
    return [dict(r) for r in con.execute("SELECT * FROM holds ORDER BY held_at DESC, run_id").fetchall()]


def get(con: Connection, run_id: str) -> dict | None:
    row = con.execute("SELECT * FROM holds WHERE run_id = ?", (run_id,)).fetchone()
    return dict(row) if row is not None else None


def released(con: Connection, run_id: str, by: str, reason: str) -> None:
    con.execute("UPDATE holds SET status = 'published', decided_by = ?, decided_at = ?, decision_reason = ? "
                "WHERE run_id = ?", (by, _now(), reason, run_id))


def held_count(con: Connection) -> int:
    return int(con.execute("SELECT COUNT(*) FROM holds WHERE status = 'held'").fetchone()[0])
