"""The operator's console (/console): the page, sign-in and sign-out, uploads with their preview and rejects, blank
templates, users (admins). Its actions on the data are in geo/web/console_work.py."""

from __future__ import annotations

from pathlib import Path

from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    redirect,
    request,
)
from flask.typing import ResponseReturnValue

from geo.base import i18n
from geo.base.errors import (
    AuthError,
    ForbiddenError,
    InputError,
    RateLimitedError,
    ZonesError,
    http_status,
)
from geo.base.params import choice as _choice
from geo.base.vocabulary import EXPORT_FORMATS
from geo.domain import audit
from geo.ingest import layout, uploads
from geo.serve import (
    auth,
    blank,
    console,
    sessions,
)
from geo.web import common as web
from geo.web import files, security

bp = Blueprint("console", __name__)


def console_page(
    status: int = 200, message: str | None = None, error: str | None = None, result: dict | None = None
) -> Response:
    user = g.session if g.get("token_via") == "session" else None
    text = console.page(web.store(), user, web.lang(), request.args, message, error, result, web.settings().cache_dir)
    return web.cached(Response(web.nonced(text), status=status, mimetype="text/html"), "no-store")


@bp.route("/console/upload", methods=["POST"])
@security.console_form("operator")
def console_upload() -> ResponseReturnValue:
    kind = request.form.get("kind", "")
    _choice("kind", kind, console.UPLOAD_KINDS)
    chosen = console.chosen_columns(request.form.items())
    used: dict = {}

    def prepare(path: Path, label: str) -> dict:
        if kind not in layout.FIELDS:  # polygons: no column mapping
            return {}
        rename, saved = layout.rename_for(
            web.store(), kind, path, label, chosen, g.user["name"], request.form.get("remember") == "1"
        )
        used.update(rename=rename, saved=saved)
        return {"rename": rename}

    try:
        summary, _, digest, label = files.receive_and_import(kind, prepare)
    except ZonesError as exc:
        return console_page(
            http_status(exc),
            error=f"{request.files.get('file') and request.files['file'].filename}: "
            f"{web.http_text(exc.text(web.lang()), web.lang())}",
        )
    result = console.import_result(kind, label, digest, summary, web.settings().rejects_dir, web.lang())
    return console_page(result={**result, "renamed": used.get("rename") or {}, "saved_mapping": used.get("saved")})


@bp.route("/console/preview", methods=["POST"])
@security.console_form("operator")
def console_preview() -> ResponseReturnValue:
    """The first rows of a table and what each column becomes, before importing (nothing stored, the
    file deleted at once); personal columns are named, their cells never shown."""
    kind = request.form.get("kind", "")
    _choice("kind", kind, tuple(layout.FIELDS))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InputError("upload_missing")
    path = None
    try:
        path, _, _ = uploads.receive(upload.stream, upload.filename, kind)
        body = layout.preview(web.store(), kind, path, upload.filename)
    finally:
        uploads.discard(path)
    # each column offered under its name in the operator's language (the form sends the id)
    body["fields"] = [{"id": f, "label": i18n.field_label(f, web.lang())} for f in body["fields"]]
    return web.cached(jsonify(body), "no-store")


@bp.get("/console/rejects/<name>")
def console_rejects(name: str) -> ResponseReturnValue:
    """A rejects file as XLSX, to correct and upload again (operators; the file holds no personal column)."""
    if not auth.allows(g.user, "operator"):
        raise (
            ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action="rejects", needed="operator")
            if g.user
            else AuthError("auth_needed")
        )
    path = console.rejects_xlsx(web.settings().rejects_dir, name, web.settings().cache_dir, web.lang())
    return web.cached(
        web.send_file(
            path, mimetype=EXPORT_FORMATS["xlsx"].mime, as_attachment=True, etag=False, download_name=path.name
        ),
        "no-store",
    )


@bp.get("/console/templates/<kind>.xlsx")
def console_template(kind: str) -> ResponseReturnValue:
    """A blank import template (Vietnamese headers, validation, an example row): no data in it."""
    path = blank.template(kind, web.settings().cache_dir, web.store())
    return web.cached(
        web.send_file(
            path, mimetype=EXPORT_FORMATS["xlsx"].mime, as_attachment=True, etag=True, download_name=path.name
        ),
        web.SHORT,
    )


@bp.get("/console")
@security.open_view
def console_home() -> ResponseReturnValue:
    return console_page()


@bp.route("/console/signin", methods=["POST"])
@security.console_open
def console_signin() -> ResponseReturnValue:
    if not sessions.same_site(request.headers.get("Origin"), request.host_url):
        raise ForbiddenError("csrf_refused")
    limit = security.limiter("signin", security.FAILED_SIGNINS_PER_MINUTE)
    if limit.blocked(request.remote_addr):  # guessing tokens: a few wrong ones a minute, then 429
        raise RateLimitedError("rate_limited", seconds=limit.retry_after())
    started = sessions.start(web.store(), request.form.get("token", ""), web.settings().session_hours)
    if started is None:
        g.session = None
        _, first_over = limit.hit(request.remote_addr)
        security.audit_refusal("rate_limited" if first_over else "auth_needed")
        return console_page(401, error=i18n.word("console", "bad_token", web.lang()))
    sid, user = started
    audit.record(web.store(), user["name"], user["role"], "http", "console-signin", "ok", remote=request.remote_addr)
    resp = redirect(f"/console?lang={web.lang()}", code=303)
    resp.set_cookie(
        sessions.COOKIE,
        sid,
        httponly=True,
        samesite="Strict",
        secure=request.is_secure,
        max_age=int(web.settings().session_hours * 3600),
        path="/",
    )
    return resp


@bp.route("/console/signout", methods=["POST"])
@security.console_form("viewer")
def console_signout() -> ResponseReturnValue:
    sessions.end(web.store(), request.cookies.get(sessions.COOKIE))
    web.audit("console-signout", "ok")
    resp = redirect(f"/console?lang={web.lang()}", code=303)
    resp.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return resp


@bp.route("/console/users", methods=["POST"])
@security.console_form("admin")
def console_user_add() -> ResponseReturnValue:
    """A new user (or a new token for one): the token is shown once, on this answer only."""
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    if name == g.user["name"]:  # an admin does not demote (or lock out) themselves by a form post
        web.audit("user-add", "refused: self", target=name)
        return console_page(403, error=i18n.word("console", "not_yourself", web.lang()))
    try:
        token = auth.add_user(web.store(), name, role)
    except ZonesError as exc:
        web.audit("user-add", f"refused: {exc.key}", target=name)
        return console_page(http_status(exc), error=web.http_text(exc.text(web.lang()), web.lang()))
    web.audit("user-add", "ok", target=name, detail={"role": role})
    return console_page(
        message=i18n.word("console", "user_added", web.lang()).format(name=name, role=role),
        result={"new_token": token, "new_user": name},
    )


@bp.route("/console/users/<name>/revoke", methods=["POST"])
@security.console_form("admin")
def console_user_revoke(name: str) -> ResponseReturnValue:
    if name == g.user["name"]:
        web.audit("user-revoke", "refused: self", target=name)
        return console_page(403, error=i18n.word("console", "not_yourself", web.lang()))
    auth.revoke(web.store(), name)
    web.audit("user-revoke", "ok", target=name)
    return console_page(message=i18n.word("console", "user_revoked", web.lang()).format(name=name))
