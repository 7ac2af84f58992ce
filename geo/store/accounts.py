"""The `users` and `audit` tables (geo/serve/auth.py decides who may do what; this stores it)."""
from __future__ import annotations

import datetime as dt


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def put_user(con, name: str, role: str, token_sha256: str) -> None:
    """Create a user, or re-issue one (new role and token, revocation lifted)."""
    con.execute("INSERT INTO users (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, token_sha256 = excluded.token_sha256, "
                "created_at = excluded.created_at, revoked_at = NULL", (name, role, token_sha256, _now()))


def revoke_user(con, name: str) -> bool:
    """-> whether an active user of that name was revoked."""
    return con.execute("UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                       (_now(), name)).rowcount > 0


def user_rows(con) -> list[dict]:
    return [dict(r) for r in con.execute("SELECT name, role, created_at, revoked_at FROM users ORDER BY name")]


def active_user(con, token_sha256: str) -> dict | None:
    row = con.execute("SELECT name, role, token_sha256 FROM users WHERE token_sha256 = ? AND revoked_at IS NULL",
                      (token_sha256,)).fetchone()
    return dict(row) if row is not None else None


def add_audit(con, who: str, role: str | None, via: str, action: str, target: str, file_sha256: str | None,
              file_name: str | None, remote: str | None, outcome: str, detail: str | None) -> None:
    con.execute("INSERT INTO audit (at, who, role, via, action, target, file_sha256, file_name, remote, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), who, role, via, action, target, file_sha256, file_name, remote, outcome, detail))


def audit_rows(con, limit: int) -> list[dict]:
    return [dict(r) for r in con.execute("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,)).fetchall()]
