"""The `users` and `audit` tables (geo/serve/auth.py decides who may do what, geo/domain/audit.py writes the log; this stores both)."""
from __future__ import annotations

import datetime as dt

from geo.store.connection import Connection


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def put_user(con: Connection, name: str, role: str, token_sha256: str) -> None:
    """Create a user, or re-issue one (new role and token, revocation lifted): the sessions signed in with
    the old token end with it."""
    con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
    con.execute("INSERT INTO users (name, role, token_sha256, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(name) DO UPDATE SET role = excluded.role, token_sha256 = excluded.token_sha256, "
                "created_at = excluded.created_at, revoked_at = NULL", (name, role, token_sha256, _now()))


def revoke_user(con: Connection, name: str) -> bool:
    """-> whether an active user of that name was revoked (their browser sessions end with it)."""
    con.execute("DELETE FROM sessions WHERE user_name = ?", (name,))
    return con.execute("UPDATE users SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                       (_now(), name)).rowcount > 0


def put_session(con: Connection, sid_sha256: str, user_name: str, csrf: str, expires_at: str) -> None:
    con.execute("DELETE FROM sessions WHERE expires_at < ?", (_now(),))
    con.execute("INSERT INTO sessions (sid_sha256, user_name, csrf, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
                (sid_sha256, user_name, csrf, _now(), expires_at))


def session_user(con: Connection, sid_sha256: str) -> dict | None:
    """The session's active user (name, role) and CSRF token, while it has not expired."""
    row = con.execute("SELECT u.name, u.role, s.csrf, s.sid_sha256 FROM sessions s JOIN users u ON u.name = s.user_name "
                      "WHERE s.sid_sha256 = ? AND s.expires_at > ? AND u.revoked_at IS NULL",
                      (sid_sha256, _now())).fetchone()
    return dict(row) if row is not None else None


def end_session(con: Connection, sid_sha256: str) -> None:
    con.execute("DELETE FROM sessions WHERE sid_sha256 = ?", (sid_sha256,))


def user_rows(con: Connection) -> list[dict]:
    return [dict(r) for r in con.execute("SELECT name, role, created_at, revoked_at FROM users ORDER BY name")]


def active_user(con: Connection, token_sha256: str) -> dict | None:
    row = con.execute("SELECT name, role, token_sha256 FROM users WHERE token_sha256 = ? AND revoked_at IS NULL",
                      (token_sha256,)).fetchone()
    return dict(row) if row is not None else None


def add_audit(con: Connection, who: str, role: str | None, via: str, action: str, target: str, file_sha256: str | None,
              file_name: str | None, remote: str | None, outcome: str, detail: str | None) -> None:
    con.execute("INSERT INTO audit (at, who, role, via, action, target, file_sha256, file_name, remote, outcome, detail) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), who, role, via, action, target, file_sha256, file_name, remote, outcome, detail))


def audit_rows(con: Connection, limit: int, who: str | None = None, action: str | None = None, outcome: str | None = None,
               since: str | None = None, text: str | None = None) -> list[dict]:
    """The newest audit rows first; each filter given narrows them (`outcome` and `text` by substring:
    "refused" finds every refusal, a file name or hash finds its imports)."""
    where, args = [], []
    for column, value in (("who", who), ("action", action)):
        if value:
            where.append(f"{column} = ?")
            args.append(value)
    if outcome:
        where.append("outcome LIKE ?")
        args.append(f"%{outcome}%")
    if since:
        where.append("at >= ?")
        args.append(since)
    if text:
        where.append("(target LIKE ? OR file_name LIKE ? OR file_sha256 LIKE ? OR detail LIKE ?)")
        args += [f"%{text}%"] * 4
    sql = "SELECT * FROM audit" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC LIMIT ?"
    return [dict(r) for r in con.execute(sql, (*args, limit)).fetchall()]
