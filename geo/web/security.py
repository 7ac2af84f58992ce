"""Who is asking and what they may do, declared on each view, and the headers every answer carries.

A view says what it lets through (a decorator): `@writes(role)` an API write (a token in the Authorization
header: a cookie never authorises a write), `@console_form(role)` a console form post (this browser's session,
its CSRF token, from this site), `@console_open` the sign-in form, `@open_view` a page open even when reading
needs a token. A write whose view says nothing is refused (405): nothing writes by being forgotten here.
Anonymous tries are limited per client (geo/serve/ratelimit.py); a refusal is audited without reading the body.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable

from flask import Flask, Response, abort, current_app, g, request

from geo.base.errors import AuthError, ForbiddenError, RateLimitedError
from geo.domain import audit
from geo.serve import auth, observe, ratelimit, sessions
from geo.web import common as web

TOKEN_COOKIE = "zones_token"
# Pages: scripts only from us or carrying this response's nonce; Leaflet positions with inline styles.
CSP = (
    "default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:{basemap}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
# Referrer: none to other sites; same-origin, so a form post of ours carries its Origin (console CSRF check).
SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# A new boundary version changes every map: admins only.
ADMIN_ONLY_IMPORTS = ("units",)
# Failed tries per client and minute, in each server process: sign-ins with a wrong token, writes refused
# as anonymous. Past them: 429, and one audit row for the flood.
FAILED_SIGNINS_PER_MINUTE = 10
ANONYMOUS_WRITES_PER_MINUTE = 30
READS = ("GET", "HEAD", "OPTIONS")


# -- what each view declares -------------------------------------------------------------------


def writes(role: str, admin_kinds: tuple[str, ...] = ()) -> Callable:
    """An API write for `role` and above; a `kind` in `admin_kinds` (a path argument) needs an admin."""

    def mark(view: Callable) -> Callable:
        view.write_role, view.admin_kinds = role, admin_kinds  # type: ignore[attr-defined]
        return view

    return mark


def console_form(role: str) -> Callable:
    """A console form post for `role` and above (the session's CSRF token, from this site)."""

    def mark(view: Callable) -> Callable:
        view.console_role = role  # type: ignore[attr-defined]
        return view

    return mark


def console_open(view: Callable) -> Callable:
    """A form anyone may post (the sign-in: it checks the token itself)."""
    view.console_open = True  # type: ignore[attr-defined]
    return view


def open_view(view: Callable) -> Callable:
    """A page open even when reading needs a token (health, the console's sign-in form)."""
    view.open_view = True  # type: ignore[attr-defined]
    return view


def public_view(view: Callable) -> Callable:
    """A read the citizens' lookup needs (its page, the boundaries' shapes, the levels in force): open to anyone
    while ZONES_PUBLIC_LOOKUP is open, even when reading needs a token; else read as any other."""
    view.public_view = True  # type: ignore[attr-defined]
    return view


def _view() -> Callable | None:
    return current_app.view_functions.get(request.endpoint) if request.endpoint else None


def action() -> str:
    """The view's name: what an audit row and a refusal call the request."""
    return (request.endpoint or request.path).rsplit(".", 1)[-1]


# -- the checks -----------------------------------------------------------------------------


def token_from_request() -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "header"
    if request.args.get("access_token"):
        return request.args["access_token"], "query"
    return request.cookies.get(TOKEN_COOKIE), "cookie"


def install(app: Flask) -> None:
    app.before_request(authenticate)
    app.after_request(headers)


def authenticate() -> None:
    g.started = time.perf_counter()
    token, where = token_from_request()
    g.user = auth.user_for_token(web.store(), token) if token else None
    g.token_via = where if g.user else None
    g.session = sessions.user(web.store(), request.cookies.get(sessions.COOKIE))
    # a console session wins over a reading link's cookie: both may be in one browser (the map opened with
    # ?access_token=, then the console signed in), and the console needs its session
    if g.session is not None and (g.user is None or g.token_via in ("cookie", "query")):
        g.user, g.token_via = {"name": g.session["name"], "role": g.session["role"]}, "session"
    g.nonce = secrets.token_urlsafe(16)
    view = _view()
    if request.method in READS:
        if (
            web.settings().read_access == "token"
            and not getattr(view, "open_view", False)
            and not (getattr(view, "public_view", False) and web.settings().public_lookup)
            and not auth.allows(g.user, "viewer")
        ):
            raise AuthError("auth_needed")
        return
    if getattr(view, "console_open", False):
        return
    role = getattr(view, "console_role", None)
    if role is not None:
        if g.session is None:  # before the body is read: an anonymous post is refused unread
            refuse_anonymous("auth_needed")
        console_write_allowed(role)
        return
    needed = getattr(view, "write_role", None)
    if needed is None:
        abort(405)
    # writes: the token must come in the Authorization header (a cookie would let other sites write: CSRF);
    # refused before the body is read (a 90 MB upload without a token is not parsed to say 401)
    if g.user is None or g.token_via != "header":
        refuse_anonymous("auth_needed")
    if (request.view_args or {}).get("kind") in getattr(view, "admin_kinds", ()):
        needed = "admin"
    if not auth.allows(g.user, needed):
        audit_refusal("auth_role")
        raise ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action=action(), needed=needed)


def headers(resp: Response) -> Response:
    if action() != "metrics":
        observe.observe(
            request.url_rule.rule if request.url_rule else "other",
            request.method,
            resp.status_code,
            time.perf_counter() - g.get("started", time.perf_counter()),
            {"path": request.path, "user": (g.get("user") or {}).get("name"), "remote": request.remote_addr},
        )
    for k, v in SECURITY_HEADERS.items():
        resp.headers.setdefault(k, v)
    if resp.mimetype == "text/html":
        basemap = web.settings().basemap_url
        origin = " " + "/".join(basemap.split("/")[:3]) if basemap else ""
        resp.headers["Content-Security-Policy"] = CSP.format(nonce=getattr(g, "nonce", "none"), basemap=origin)
    if getattr(g, "token_via", None) == "query" and resp.mimetype == "text/html":
        # a link with ?access_token= logs the browser in: later tile and API requests carry the cookie
        resp.set_cookie(
            TOKEN_COOKIE,
            request.args["access_token"],
            httponly=True,
            samesite="Strict",
            secure=request.is_secure,
            max_age=12 * 3600,
        )
    return resp


def console_write_allowed(needed: str) -> None:
    """A console form post: this browser's session, its CSRF token, from this site, and the role."""
    if not sessions.csrf_ok(g.session, request.form.get("csrf"), request.headers.get("Origin"), request.host_url):
        audit_refusal("csrf")
        raise ForbiddenError("csrf_refused")
    if not auth.allows(g.user, needed):
        audit_refusal("auth_role")
        raise ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action=action(), needed=needed)


def limiter(name: str, per_minute: int) -> ratelimit.Limiter:
    return current_app.extensions.setdefault(f"zones-limit-{name}", ratelimit.Limiter(per_minute))


def refuse_anonymous(why: str) -> None:
    """Refuse a write from someone not signed in: audited, until the client passes the limit; then 429
    and one audit row for the flood."""
    limit = limiter("anonymous-writes", ANONYMOUS_WRITES_PER_MINUTE)
    allowed, first_over = limit.hit(request.remote_addr)
    if allowed:
        audit_refusal(why)
        raise AuthError("auth_needed")
    if first_over:
        audit_refusal("rate_limited")
    raise RateLimitedError("rate_limited", seconds=limit.retry_after())


def audit_refusal(why: str) -> None:
    """A refused write is audited like any other (who asked, from where, for what); the answer does
    not wait for it and does not fail with it (a store that cannot be written is another error).
    The body is never read for it (an upload's file name is not worth parsing a refused upload)."""
    user = g.get("user") or {}
    try:
        audit.record(
            web.store(),
            user.get("name") or "anonymous",
            user.get("role"),
            "http",
            action(),
            f"refused: {why}",
            target=request.path,
            remote=request.remote_addr,
        )
    except Exception:  # noqa: BLE001 - auditing must not turn a 401 into a 500
        observe.logger().warning("refused write not audited", extra={"fields": {"path": request.path}})
