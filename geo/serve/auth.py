"""Users, roles, tokens and the audit log.

A token is 32 random bytes shown once when the user is created; the store keeps only its SHA-256
(a token is random, not a password: a fast hash cannot be brute-forced, and lookups stay O(1)).
Roles are ordered: viewer < operator < admin. Every write, by HTTP or the command line, is one row
of the audit log: who, when, by which route, what, from which file (its SHA-256), and the outcome.
"""
from __future__ import annotations

import getpass
import hashlib
import hmac
import json
import re
import secrets
from pathlib import Path

from geo.base.errors import InputError, NotFoundError
from geo.store import accounts
from geo.store.database import Store

ROLES = ("viewer", "operator", "admin")
RANK = {r: i for i, r in enumerate(ROLES)}
NAME_RE = re.compile(r"^[\w.@-]{2,64}$")
TOKEN_BYTES = 32


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def add_user(store: Store, name: str, role: str) -> str:
    """Create (or re-issue) a user's token; returns the token, which is never stored."""
    if not NAME_RE.match(name or ""):
        raise InputError("bad_param", name="name", value=name, allowed="2-64 letters, digits, . _ @ -")
    if role not in ROLES:
        raise InputError("bad_param", name="role", value=role, allowed=", ".join(ROLES))
    token = secrets.token_urlsafe(TOKEN_BYTES)
    with store.transaction() as con:
        accounts.put_user(con, name, role, token_hash(token))
    return token


def revoke(store: Store, name: str) -> None:
    with store.transaction() as con:
        if not accounts.revoke_user(con, name):
            raise NotFoundError("not_found", what=f"user {name}")


def users(store: Store) -> list[dict]:
    if not store.exists():
        return []
    with store.connect(readonly=True) as con:
        return accounts.user_rows(con)


def user_for_token(store: Store, token: str | None) -> dict | None:
    """The active user holding `token`, or None (compared in constant time)."""
    if not token or not store.exists():
        return None
    digest = token_hash(token)
    with store.connect(readonly=True) as con:
        row = accounts.active_user(con, digest)
    if row is None or not hmac.compare_digest(row["token_sha256"], digest):
        return None
    return {"name": row["name"], "role": row["role"]}


def allows(user: dict | None, role: str) -> bool:
    return user is not None and RANK[user["role"]] >= RANK[role]


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
