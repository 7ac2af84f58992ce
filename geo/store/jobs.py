"""The `jobs` table: long work started from the console (a reclassification), its stage while it runs
and its outcome, so any server process can answer "how far is it" (geo/publish/jobs.py runs them)."""
from __future__ import annotations

import datetime as dt
import json

from geo.base.i18n import t
from geo.store.connection import Connection


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# A running job's thread touches its row this often; one untouched for STALE_S belongs to a process that
# died (a killed worker): it is failed, never "running" forever.
HEARTBEAT_S = 10
STALE_S = 90


def _stale_before() -> str:
    return (dt.datetime.now(dt.UTC) - dt.timedelta(seconds=STALE_S)).isoformat(timespec="seconds")


def _lost() -> str:
    return json.dumps({"error": "job_lost", "vi": t("job_lost", "vi"), "en": t("job_lost", "en")}, ensure_ascii=False)


def fail_stale(con: Connection) -> None:
    """Running jobs nothing has touched for STALE_S: failed (their process is gone)."""
    result = _lost()
    con.execute("UPDATE jobs SET status = 'failed', result = ?, finished_at = ? WHERE status = 'running' AND updated_at < ?",
                (result, _now(), _stale_before()))


def add(con: Connection, job_id: str, kind: str, target: str, who: str, total: int) -> str | None:
    """A new running job, unless one of the same kind and target runs already: -> that one's id (one at a time),
    else None (this one added)."""
    fail_stale(con)
    running = con.execute("SELECT id FROM jobs WHERE kind = ? AND target = ? AND status = 'running'",
                          (kind, target)).fetchone()
    if running:
        return str(running[0])
    now = _now()
    con.execute("INSERT INTO jobs (id, kind, target, who, status, stages_total, started_at, updated_at) "
                "VALUES (?, ?, ?, ?, 'running', ?, ?, ?)", (job_id, kind, target, who, total, now, now))
    return None


def touch(con: Connection, job_id: str) -> None:
    con.execute("UPDATE jobs SET updated_at = ? WHERE id = ? AND status = 'running'", (_now(), job_id))


def step(con: Connection, job_id: str, stage: str) -> None:
    con.execute("UPDATE jobs SET stage = ?, stages_done = stages_done + 1, updated_at = ? WHERE id = ?",
                (stage, _now(), job_id))


def finish(con: Connection, job_id: str, status: str, result: dict) -> None:
    now = _now()
    con.execute("UPDATE jobs SET status = ?, result = ?, updated_at = ?, finished_at = ? WHERE id = ?",
                (status, json.dumps(result, ensure_ascii=False, default=str), now, now, job_id))


def get(con: Connection, job_id: str) -> dict | None:
    row = con.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        return None
    out = dict(row)
    if out["status"] == "running" and out["updated_at"] < _stale_before():     # read as what it is: lost
        out["status"] = "failed"
        out["result"] = _lost()
    out["result"] = json.loads(out["result"]) if out["result"] else None
    return out
