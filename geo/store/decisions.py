"""The committee's decisions (`decisions`, `decision_units`): what an approver approved of a run's proposal, each
unit's approved level beside the computed one and the level it replaced. The levels themselves are recorded as
declarations (geo/store/inputs.py) in the same transaction (geo/ingest/decisions.py)."""
from __future__ import annotations

import json

import pandas as pd

from geo.store.connection import Connection

DECISION_FIELDS = ("id", "number", "signed_at", "effective_at", "signer", "signer_title", "recipients", "province_code",
                   "province_name", "run_id", "run_date", "boundary_version", "ruleset", "approved_by", "approved_at",
                   "n_units")
UNIT_FIELDS = ("decision_id", "code", "kind", "name", "district_name", "computed_level", "level", "previous_level",
               "reason")


def add(con: Connection, decision: dict, units: list[dict]) -> None:
    """One decision and its units (in the caller's transaction, with the declarations)."""
    con.execute(f"INSERT INTO decisions ({', '.join(DECISION_FIELDS)}) VALUES ({', '.join('?' * len(DECISION_FIELDS))})",
                tuple(json.dumps(decision[f], ensure_ascii=False) if f == "recipients" else decision[f]
                      for f in DECISION_FIELDS))
    con.executemany(f"INSERT INTO decision_units ({', '.join(UNIT_FIELDS)}) VALUES ({', '.join('?' * len(UNIT_FIELDS))})",
                    [tuple(u.get(f) for f in UNIT_FIELDS) for u in units])


def exists_number(con: Connection, number: str, province_code: str | None) -> bool:
    return con.execute("SELECT 1 FROM decisions WHERE number = ? AND COALESCE(province_code, '') = ?",
                       (number, province_code or "")).fetchone() is not None


def _decision(row: tuple) -> dict:
    out = dict(zip(DECISION_FIELDS, row, strict=True))
    out["recipients"] = json.loads(out["recipients"]) if out["recipients"] else []
    return out


def get(con: Connection, decision_id: str) -> dict | None:
    row = con.execute(f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions WHERE id = ?", (decision_id,)).fetchone()
    return _decision(row) if row else None


def listed(con: Connection, limit: int = 50) -> list[dict]:
    """The latest decisions, newest first."""
    rows = con.execute(f"SELECT {', '.join(DECISION_FIELDS)} FROM decisions ORDER BY approved_at DESC LIMIT ?",
                       (limit,)).fetchall()
    return [_decision(r) for r in rows]


def units(con: Connection, decision_id: str) -> pd.DataFrame:
    return pd.read_sql_query(f"SELECT {', '.join(UNIT_FIELDS)} FROM decision_units WHERE decision_id = ? "
                             "ORDER BY kind DESC, district_name, name", con, params=(decision_id,))


def of_unit(con: Connection, code: str, version: str) -> list[dict]:
    """Every decision that set `code`'s level in a boundary version, oldest first: number, effective, level."""
    rows = con.execute(
        "SELECT d.number, d.effective_at, d.signed_at, u.level, u.computed_level, u.reason FROM decision_units u "
        "JOIN decisions d ON d.id = u.decision_id WHERE u.code = ? AND d.boundary_version = ? ORDER BY d.effective_at",
        (code, version)).fetchall()
    return [dict(zip(("number", "effective_at", "signed_at", "level", "computed_level", "reason"), r, strict=True))
            for r in rows]
