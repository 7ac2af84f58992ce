"""The audit log: every write, by HTTP or the command line, is one row: who, when, by which route, what, from
which file (its SHA-256), and the outcome. Written by the web layer, the command line and the jobs alike."""
from __future__ import annotations

import getpass
import hashlib
import json
from pathlib import Path

from geo.store import accounts
from geo.store.database import Store


def file_sha256(path: Path | None) -> str | None:
    if path is None or not Path(path).is_file():
        return None
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def record(store: Store, who: str, role: str | None, via: str, action: str, outcome: str, target: str = "",
           path: Path | None = None, file_name: str | None = None, remote: str | None = None, detail=None,
           sha256: str | None = None) -> None:
    """One audit row, in its own transaction (a failed write is audited too). What a client sent is cut to
    AUDIT_FIELD_MAX characters (a 20 KB file name or target fills no disk); the detail to AUDIT_DETAIL_MAX."""
    text = json.dumps(detail, ensure_ascii=False, default=str) if detail is not None else None
    with store.transaction() as con:
        accounts.add_audit(con, _cut(who) or "", role, via, _cut(action) or "", _cut(target) or "",
                           sha256 or file_sha256(path), _cut(file_name or (Path(path).name if path else None)),
                           _cut(remote), _cut(outcome) or "", _cut(text, AUDIT_DETAIL_MAX))


# An audit row keeps at most this much of each thing a client sent (names, targets), and of the detail.
AUDIT_FIELD_MAX = 200


AUDIT_DETAIL_MAX = 4000


def _cut(value: str | None, most: int = AUDIT_FIELD_MAX) -> str | None:
    if value is None:
        return None
    value = str(value)
    return value if len(value) <= most else value[:most] + "…"


def cli_user() -> str:
    """Who runs a command: the operating-system account (cron runs as the service user)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def audit_log(store: Store, limit: int = 100, **filters) -> list[dict]:
    """The audit log, newest first; filters: who, action, outcome, since (ISO time), text."""
    if not store.exists():
        return []
    with store.connect(readonly=True) as con:
        return accounts.audit_rows(con, limit, **filters)
