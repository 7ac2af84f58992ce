"""Users, roles and tokens.

A token is 32 random bytes shown once when the user is created; the store keeps only its SHA-256
(a token is random, not a password: a fast hash cannot be brute-forced, and lookups stay O(1)).
Roles are ordered: viewer < operator < approver < admin. Every write, by HTTP or the command line, is one row
of the audit log (geo/domain/audit.py).
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets

from geo.base.errors import InputError, NotFoundError
from geo.store import accounts
from geo.store.database import Store

# approver: approves a run's proposal as the committee's decision (geo/ingest/decisions.py); an admin may too.
ROLES = ("viewer", "operator", "approver", "admin")
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


