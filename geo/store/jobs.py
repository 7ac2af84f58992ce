"""The `jobs` table: long work started from the console (a reclassification), its stage while it runs
and its outcome, so any server process can answer "how far is it" (geo/publish/jobs.py runs them)."""
from __future__ import annotations

import datetime as dt
import json


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def add(con, job_id: str, kind: str, target: str, who: str, total: int) -> None:
    now = _now()
    con.execute("INSERT INTO jobs (id, kind, target, who, status, stages_total, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)", (job_id, kind, target, who, total, now, now))


def step(con, job_id: str, stage: str) -> None:
    con.execute("UPDATE jobs SET stage = ?, stages_done = stages_done + 1, updated_at = ? WHERE id = ?",
                (stage, _now(), job_id))


def finish(con, job_id: str, status: str, result: dict) -> None:
    now = _now()
    con.execute("UPDATE jobs SET status = ?, result = ?, updated_at = ?, finished_at = ? WHERE id = ?",
                (status, json.dumps(result, ensure_ascii=False, default=str), now, now, job_id))


def get(con, job_id: str) -> dict | None:
    row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return out
