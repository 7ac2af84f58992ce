"""Browser sessions of the operator's console: a user signs in once with their token and gets a
session cookie (HttpOnly, SameSite=Strict, Secure over HTTPS) naming a random session id; the store
keeps only its SHA-256, the user, an expiry and the session's CSRF token. Signing in always makes a
new id (no fixation); signing out or revoking the user ends it on the server, so a copied cookie is
worth nothing afterwards. Form posts must carry the session's CSRF token and, when the browser says
where it comes from (Origin), come from this site.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from urllib.parse import urlsplit

from geo.serve import auth
from geo.store import accounts
from geo.store.database import Store

COOKIE = "zones_session"
SID_BYTES = 32


def _digest(sid: str) -> str:
    return hashlib.sha256(sid.encode("utf-8")).hexdigest()


def start(store: Store, token: str, hours: float) -> tuple[str, dict] | None:
    """A new session for the user holding `token`: (session id for the cookie, user), or None."""
    user = auth.user_for_token(store, token)
    if user is None:
        return None
    sid, csrf = secrets.token_urlsafe(SID_BYTES), secrets.token_urlsafe(SID_BYTES)
    expires = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).isoformat(timespec="seconds")
    with store.transaction() as con:
        accounts.put_session(con, _digest(sid), user["name"], csrf, expires)
    return sid, {**user, "csrf": csrf}


def user(store: Store, sid: str | None) -> dict | None:
    """The signed-in user of a session cookie (name, role, csrf), or None."""
    if not sid or not store.exists():
        return None
    with store.connect(readonly=True) as con:
        row = accounts.session_user(con, _digest(sid))
    if row is None or not hmac.compare_digest(row["sid_sha256"], _digest(sid)):
        return None
    return {"name": row["name"], "role": row["role"], "csrf": row["csrf"]}


def end(store: Store, sid: str | None) -> None:
    if sid and store.exists():
        with store.transaction() as con:
            accounts.end_session(con, _digest(sid))


def same_site(origin: str | None, host_url: str) -> bool:
    """The form's page is of this site: its Origin names our host. The scheme is not compared: behind a TLS
    proxy that does not say so (no X-Forwarded-Proto) the browser's https is our http, and the session's
    SameSite=Strict cookie and CSRF token already tie the post to our own pages."""
    if origin is None:
        return True
    return urlsplit(origin).netloc.lower() == urlsplit(host_url).netloc.lower()


def csrf_ok(session_user: dict | None, sent: str | None, origin: str | None, host_url: str) -> bool:
    """A form post of this session, from this site."""
    if session_user is None or not sent or not hmac.compare_digest(session_user["csrf"], sent):
        return False
    return same_site(origin, host_url)
