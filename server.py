"""Flask app factory, HTTP routes and CLI commands. Thin: the work is in geo/ and rules/.

Routes serve published runs only (files written by `reclassify`); nothing heavy runs in a request.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pandas as pd
from flask import Flask, Response, abort, current_app, g, jsonify, redirect, request, send_file, send_from_directory
from flask_compress import Compress
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from geo import cli
from geo.base import config, faults, i18n
from geo.base.errors import (
    AuthError,
    ForbiddenError,
    ImportFailedError,
    InputError,
    NotFoundError,
    RateLimitedError,
    ZonesError,
    http_status,
)
from geo.base.i18n import vn_date
from geo.base.params import choice as _choice
from geo.base.params import parse_as_of as _parse_as_of
from geo.base.params import parse_day as _parse_day
from geo.base.vocabulary import EXPORT_FORMATS, HTTP_EXPORT_FORMATS, LEVEL_IDS, UNITS
from geo.ingest import declared, imports, layout, reviews, uploads
from geo.publish import jobs, maplevels, pipeline, planahead, quality, shapes, tiles
from geo.publish.pipeline import load_rulesets
from geo.serve import (
    auth,
    blank,
    changes,
    compressed,
    console,
    export,
    hotspots,
    lookup,
    observe,
    ogc,
    openapi,
    outlook,
    pages,
    raster,
    ratelimit,
    report,
    rulesinfo,
    sessions,
    trend,
    viewer,
    whatif,
)
from geo.store import mbtiles, runfiles
from geo.store.database import Store
from geo.store.runfiles import geojson_path
from rules.expr import did_you_mean

ROOT = Path(__file__).resolve().parent
# Run-addressed URLs never change: cache for a year. "Latest"/dated URLs: a minute.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
R = TypeVar("R", bound=WerkzeugResponse)
RUN_ID_RE = re.compile(r"^[0-9A-Za-z_\-]{6,64}$")
# npm packages whose files the pages may load (everything else under node_modules stays private).
VENDOR_PACKAGES = ("leaflet", "pbf", "@mapbox/vector-tile", "@mapbox/point-geometry")
# The committee page's own script and style (geo/serve/static).
ASSETS = ("committee.js", "committee.css", "console.js")
# Reads that stay open even when reading needs a token: liveness for the supervisor, the icon, and the
# console's page (without a session it is the sign-in form and nothing else).
OPEN_ENDPOINTS = frozenset({"healthz", "favicon", "console_home"})     # the console: its sign-in form only
# The role each write needs (every non-GET route is listed; anything else is refused).
WRITE_ROLES = {"import_upload": "operator", "declare_api": "operator", "publish_held": "operator"}
# The console's form posts: a signed-in browser session and its CSRF token (geo/serve/sessions.py);
# signing in needs neither (it is how a session starts).
CONSOLE_WRITES = {"console_signout": "viewer", "console_publish_held": "operator", "console_upload": "operator",
                  "console_preview": "operator", "console_user_add": "admin", "console_user_revoke": "admin",
                  "console_whatif": "operator", "console_declare": "operator", "console_flag": "operator",
                  "console_reclassify": "operator", "console_review": "operator"}
CONSOLE_OPEN = frozenset({"console_signin"})
ADMIN_ONLY_IMPORTS = ("units",)          # a new boundary version changes every map: admins only
TOKEN_COOKIE = "zones_token"
# Pages: scripts only from us or carrying this response's nonce; Leaflet positions with inline styles.
CSP = ("default-src 'self'; script-src 'self' 'nonce-{nonce}'; style-src 'self' 'unsafe-inline'; "
       "img-src 'self' data: blob:{basemap}; connect-src 'self'; object-src 'none'; base-uri 'none'; "
       "frame-ancestors 'none'; form-action 'self'")
# Referrer: none to other sites; same-origin, so a form post of ours carries its Origin (console CSRF check).
SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "same-origin",
                    "X-Frame-Options": "DENY", "Cross-Origin-Opener-Policy": "same-origin"}


# Every route: (rule, view function, methods), filled by @route below and registered by create_app.
_ROUTES: list[tuple[str, Callable, tuple[str, ...]]] = []


def route(rule: str, methods: tuple[str, ...] = ("GET",)) -> Callable:
    """A module-level view function registered under `rule` (its name is the endpoint)."""
    def register(view: Callable) -> Callable:
        _ROUTES.append((rule, view, methods))
        return view
    return register


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(ZONES=config.from_env(test_config), VENDOR_DIR=str(ROOT / "node_modules"))
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["ZONES"].max_upload_mb * 1024 * 1024)
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if not k.startswith("ZONES_")})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider: Vietnamese as is
    # Rulesets are checked when the app starts: a broken file stops it with file, line and reason.
    try:
        app.config["RULESETS"] = load_rulesets(app.config["ZONES"].ruleset_dir)
    except ZonesError as exc:     # a broken ruleset file stops the app with file, line and reason
        raise SystemExit(exc.text(app.config["ZONES"].lang)) from None
    uploads.sweep()          # uploads a killed worker left behind (they may hold names and phones)
    _security(app)
    _compression(app)
    for rule, view, methods in _ROUTES:
        app.add_url_rule(rule, view_func=view, methods=methods)
    _errors(app)
    cli.register(app.cli, app.config)
    return app


# Compressed by the app (and by nginx in front of it): text, JSON, GeoJSON and vector tiles.
COMPRESSED_TYPES = ("text/html", "text/css", "text/plain", "text/csv", "text/javascript", "application/javascript",
                    "application/json", "application/geo+json", "application/schema+json", "application/problem+json",
                    "application/vnd.oai.openapi+json", "application/vnd.mapbox-vector-tile", "image/svg+xml")


def _compression(app: Flask) -> None:
    app.config.update(COMPRESS_MIMETYPES=list(COMPRESSED_TYPES), COMPRESS_ALGORITHM=["br", "gzip"],
                      COMPRESS_ALGORITHM_STREAMING=["br", "deflate"], COMPRESS_BR_LEVEL=5,
                      # files sent in chunks keep their ETag and 304 (Flask-Compress drops them otherwise)
                      COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=["vendor", "assets", "map_levels", "shapes_index"])
    Compress(app)

    @app.after_request          # registered after Compress, so it runs before it (Flask runs them in reverse)
    def close_sent_files(resp: Response) -> Response:
        """Flask-Compress streams a sent file through its compressor and never closes the file: it is
        closed with the response instead (else each compressed download leaves a file open until GC)."""
        body = resp.response
        if resp.direct_passthrough and hasattr(body, "close"):
            resp.call_on_close(body.close)
        return resp


def _settings(app=None) -> config.Settings:
    return (app or current_app).config["ZONES"]


def _store() -> Store:
    return Store(_settings().db_path)


# -- run lookup ------------------------------------------------------------------------------

def _run_from_request() -> dict:
    store = _store()
    if "run" in request.args:
        return _run_by_id(request.args["run"])
    if "date" in request.args:
        day = _parse_day(request.args["date"]).isoformat()
        as_of = _parse_as_of(request.args["as_of"]) if "as_of" in request.args else None
        run = store.run_for_date(day, as_of)
        if run is None:
            raise NotFoundError("no_run_for_date", date=vn_date(day) + (f" (as of {request.args['as_of']})" if as_of else ""),
                                  iso=day)
        return run
    run = store.latest_run()
    if run is None:
        raise NotFoundError("no_run")
    return run


def _run_by_id(run_id: str) -> dict:
    run = _store().published_run(run_id) if RUN_ID_RE.match(run_id or "") else None
    if run is None:
        raise NotFoundError("no_run_id", run_id=run_id)
    return run


def _ruleset(ruleset_id: str):

    found = current_app.config["RULESETS"].get(ruleset_id)
    if found is None:
        raise NotFoundError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, current_app.config["RULESETS"]))
    return found


def _run_dir(run: dict) -> Path:
    return _settings().runs_dir / run["run_id"]


def _full_run_file(run: dict, name: str) -> Path:
    """A file only full runs have (map, tiles): a backfilled day has its levels, not its pictures."""
    path = _run_dir(run) / name
    if not path.exists():
        raise NotFoundError("levels_run", run_id=run["run_id"], date=run["date"])
    return path


def _geojson(run: dict, unit: str) -> Path:
    return geojson_path(_store(), _run_dir(run), unit, _settings().cache_dir)


def _shapes_id(run: dict) -> str:
    return run["manifest"].get("shapes") or shapes.shapes_id(_store(), run["boundary_version"])


SHAPES_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def _shapes_folder(sid: str) -> Path:
    if not SHAPES_ID_RE.match(sid) or not shapes.ready(_settings().data_dir, sid):
        raise NotFoundError("not_found", what=f"shapes {sid}")
    return shapes.folder(_settings().data_dir, sid)


def _shapes_index(sid: str) -> dict:
    """A version's shapes index, remembered per process (shapes never change once built)."""
    key = (str(_settings().data_dir), sid)
    found = _SHAPES_INDEX.get(key)
    if found is None:
        _shapes_folder(sid)
        found = _SHAPES_INDEX[key] = shapes.index(_settings().data_dir, sid)
    return found


_SHAPES_INDEX: dict = {}


def _lang() -> str:
    return i18n.lang(request.args.get("lang") or _settings().lang)


# -- security: who is asking, what they may do, and the headers every answer carries ----------

def _token_from_request() -> tuple[str | None, str]:
    header = request.headers.get("Authorization", "")
    if header.lower().startswith("bearer "):
        return header[7:].strip(), "header"
    if request.args.get("access_token"):
        return request.args["access_token"], "query"
    return request.cookies.get(TOKEN_COOKIE), "cookie"


def _security(app: Flask) -> None:


    @app.before_request
    def authenticate():
        g.started = time.perf_counter()
        token, where = _token_from_request()
        g.user = auth.user_for_token(_store(), token) if token else None
        g.token_via = where if g.user else None
        g.session = sessions.user(_store(), request.cookies.get(sessions.COOKIE))
        # a console session wins over a reading link's cookie: both may be in one browser (the map opened with
        # ?access_token=, then the console signed in), and the console needs its session
        if g.session is not None and (g.user is None or g.token_via in ("cookie", "query")):
            g.user, g.token_via = {"name": g.session["name"], "role": g.session["role"]}, "session"
        g.nonce = secrets.token_urlsafe(16)
        if request.method in ("GET", "HEAD", "OPTIONS"):
            if _settings().read_access == "token" and request.endpoint not in OPEN_ENDPOINTS and not auth.allows(g.user, "viewer"):
                raise AuthError("auth_needed")
            return
        if request.endpoint in CONSOLE_OPEN:
            return
        if request.endpoint in CONSOLE_WRITES:
            if g.session is None:           # before the body is read: an anonymous post is refused unread
                _refuse_anonymous("auth_needed")
            _console_write_allowed(CONSOLE_WRITES[request.endpoint])
            return
        needed = WRITE_ROLES.get(request.endpoint)
        if needed is None:
            abort(405)
        # writes: the token must come in the Authorization header (a cookie would let other sites write: CSRF);
        # refused before the body is read (a 90 MB upload without a token is not parsed to say 401)
        if g.user is None or g.token_via != "header":
            _refuse_anonymous("auth_needed")
        if request.endpoint == "import_upload" and (request.view_args or {}).get("kind") in ADMIN_ONLY_IMPORTS:
            needed = "admin"
        if not auth.allows(g.user, needed):
            _audit_refusal("auth_role")
            raise ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action=request.endpoint, needed=needed)

    @app.after_request
    def headers(resp: Response) -> Response:
        if request.endpoint not in ("metrics",):
            observe.observe(request.url_rule.rule if request.url_rule else "other", request.method, resp.status_code,
                            time.perf_counter() - g.get("started", time.perf_counter()),
                            {"path": request.path, "user": (g.get("user") or {}).get("name"), "remote": request.remote_addr})
        for k, v in SECURITY_HEADERS.items():
            resp.headers.setdefault(k, v)
        if resp.mimetype == "text/html":
            basemap = _settings().basemap_url
            origin = " " + "/".join(basemap.split("/")[:3]) if basemap else ""
            resp.headers["Content-Security-Policy"] = CSP.format(nonce=getattr(g, "nonce", "none"), basemap=origin)
        if getattr(g, "token_via", None) == "query" and resp.mimetype == "text/html":
            # a link with ?access_token= logs the browser in: later tile and API requests carry the cookie
            resp.set_cookie(TOKEN_COOKIE, request.args["access_token"], httponly=True, samesite="Strict",
                            secure=request.is_secure, max_age=12 * 3600)
        return resp


def _console_write_allowed(needed: str) -> None:
    """A console form post: this browser's session, its CSRF token, from this site, and the role."""
    if not sessions.csrf_ok(g.session, request.form.get("csrf"), request.headers.get("Origin"), request.host_url):
        _audit_refusal("csrf")
        raise ForbiddenError("csrf_refused")
    if not auth.allows(g.user, needed):
        _audit_refusal("auth_role")
        raise ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action=request.endpoint, needed=needed)


# A what-if changes at most this many settings at once.
WHATIF_MAX_SETTINGS = 20
# Failed tries per client and minute, in each server process: sign-ins with a wrong token, writes refused
# as anonymous. Past them: 429, and one audit row for the flood.
FAILED_SIGNINS_PER_MINUTE = 10
ANONYMOUS_WRITES_PER_MINUTE = 30


def _limiter(name: str, per_minute: int) -> ratelimit.Limiter:
    return current_app.extensions.setdefault(f"zones-limit-{name}", ratelimit.Limiter(per_minute))


def _refuse_anonymous(why: str) -> None:
    """Refuse a write from someone not signed in: audited, until the client passes the limit; then 429
    and one audit row for the flood."""
    limit = _limiter("anonymous-writes", ANONYMOUS_WRITES_PER_MINUTE)
    allowed, first_over = limit.hit(request.remote_addr)
    if allowed:
        _audit_refusal(why)
        raise AuthError("auth_needed")
    if first_over:
        _audit_refusal("rate_limited")
    raise RateLimitedError("rate_limited", seconds=limit.retry_after())


def _audit_refusal(why: str) -> None:
    """A refused write is audited like any other (who asked, from where, for what); the answer does
    not wait for it and does not fail with it (a store that cannot be written is another error).
    The body is never read for it (an upload's file name is not worth parsing a refused upload)."""
    user = g.get("user") or {}
    try:
        auth.record(_store(), user.get("name") or "anonymous", user.get("role"), "http", request.endpoint or request.path,
                    f"refused: {why}", target=request.path, remote=request.remote_addr)
    except Exception:     # noqa: BLE001 - auditing must not turn a 401 into a 500
        observe.logger().warning("refused write not audited", extra={"fields": {"path": request.path}})


def _cached(resp: R, cache: str) -> R:
    resp.headers["Cache-Control"] = cache
    return resp


def _run_cache() -> str:
    """A response addressed by run id never changes; the latest (or a day's) may, within a minute."""
    return IMMUTABLE if "run" in request.args else SHORT


def _nonced(html: str) -> str:
    """Give this response's nonce to the page's inline scripts and styles (CSP without 'unsafe-inline')."""
    return re.sub(r"<(script|style)(?=[\s>])", lambda m: f'<{m.group(1)} nonce="{g.nonce}"', html)


# -- writes: every one needs a user with a role (checked in _security) and is audited ---------

def _audit(action: str, outcome: str, target: str = "", path=None, file_name=None, detail=None, sha256=None) -> None:
    auth.record(_store(), g.user["name"], g.user["role"], "http", action, outcome, target, path, file_name,
                request.remote_addr, detail, sha256)


@route("/api/imports/<kind>", methods=("POST",))
def import_upload(kind):
    summary, ftype, digest, label = _receive_and_import(kind)
    # an import's row reasons and notes are English (a reason per row, made for a million rows)
    return jsonify({"kind": kind, "file": label, "type": ftype, "sha256": digest, **_http_value(summary, "en")})


def _receive_and_import(kind: str, prepare=None) -> tuple[dict, str, str, str]:
    """An uploaded file (form field `file`) imported as `kind`, audited whatever happens, deleted after:
    -> (summary, type, SHA-256, the sender's file name). The API and the console share it; `prepare(path,
    label)` may add import options once the file is received (the console's column mapping)."""
    _choice("kind", kind, tuple(k for k in uploads.KINDS if k != "crosswalk"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InputError("upload_missing")
    label = upload.filename or "upload"
    options: dict = {k: request.form.get(k) or None for k in ("community", "source_known", "crs", "boundary_version")}
    path = crosswalk = digest = None
    try:
        try:
            path, ftype, digest = uploads.receive(upload.stream, label, kind)
            if kind == "units" and request.files.get("crosswalk") is not None:
                cw = request.files["crosswalk"]
                crosswalk = uploads.receive(cw.stream, cw.filename or "crosswalk", "crosswalk")[0]
                options["crosswalk_path"] = crosswalk
            if kind == "units" and not options["boundary_version"]:
                options["boundary_version"] = path.stem
            if prepare is not None:
                options.update(prepare(path, label))
            summary = imports.run(kind, _settings(), path, options)
        except ZonesError as exc:
            _audit(f"import-{kind}", f"refused: {exc.key}" if path is None else f"failed: {exc.key}", file_name=label,
                   detail=_http_text(exc.text("en"), "en"), sha256=digest)
            raise
        except Exception as exc:       # whatever went wrong: audited, a clear answer, nothing half-stored
            fault = faults.classify(exc, where=str(_settings().data_dir))
            try:
                _audit(f"import-{kind}", f"failed: {fault.key if fault else 'internal'}", file_name=label,
                       detail=type(exc).__name__, sha256=digest)
            except Exception:       # noqa: BLE001 - a store that cannot be written cannot audit either
                pass
            if fault is not None:
                raise fault from exc
            raise ImportFailedError("import_failed", name=label) from exc
    finally:
        uploads.discard(path)
        uploads.discard(crosswalk)
    _audit(f"import-{kind}", "ok", file_name=label, detail=summary, sha256=digest)
    return summary, ftype, digest, label


@route("/api/declarations", methods=("POST",))
def declare_api():

    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError("bad_param", name="body", value=request.get_data(as_text=True)[:100],
                         allowed='JSON {"unit", "level", "from", "until", "decision", "reason"}')
    row = {k: str(body.get(k) or "") for k in ("unit", "level", "from", "until", "decision", "reason")}
    row["by"] = g.user["name"]          # who declares is who is logged in, not what the body says
    try:
        r = declared.declare_table(_store(), pd.DataFrame([row]), None, _settings().rejects_dir, config.today())
    except ZonesError as exc:
        _audit("declare", f"failed: {exc.key}", target=row["unit"], detail=exc.text("en"))
        raise
    _audit("declare", "ok", target=row["unit"], detail=row)
    return jsonify({"recorded": row, "changed": r.get("changed", 0)})


@route("/api/holds/<run_id>/publish", methods=("POST",))
def publish_held(run_id):
    body = request.get_json(silent=True) or {}
    reason = str(body.get("reason") or "").strip()
    if not reason:
        raise InputError("bad_param", name="reason", value="", allowed="why the held run is published anyway")
    run = quality.publish_anyway(_settings(), run_id, g.user["name"], reason)
    _audit("publish-anyway", "ok", target=run_id, detail={"reason": reason, "date": run["date"]})
    return jsonify({"published": run_id, "date": run["date"]})


@route("/api/holds")
def holds():
    return jsonify({"holds": quality.holds(_store(), _lang())})


@route("/api/audit")
def audit_api():
    if not auth.allows(g.user, "admin"):
        raise (ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action="audit", needed="admin")
               if g.user else AuthError("auth_needed"))
    return jsonify({"audit": auth.audit_log(_store(), int(_float_arg("limit", 1, 10000)) if "limit" in request.args else 100)})


# -- the operator's console (geo/serve/console.py): browser sessions, forms with CSRF tokens ---

def _console_page(status: int = 200, message: str | None = None, error: str | None = None,
                  result: dict | None = None) -> Response:
    user = g.session if g.get("token_via") == "session" else None
    text = console.page(_store(), user, _lang(), request.args, message, error, result, _settings().cache_dir)
    return _cached(Response(_nonced(text), status=status, mimetype="text/html"), "no-store")


@route("/console/upload", methods=("POST",))
def console_upload():
    kind = request.form.get("kind", "")
    _choice("kind", kind, console.UPLOAD_KINDS)
    chosen = console.chosen_columns(request.form.items())
    used: dict = {}

    def prepare(path, label):
        if kind not in layout.FIELDS:          # polygons: no column mapping
            return {}
        rename, saved = layout.rename_for(_store(), kind, path, label, chosen, g.user["name"],
                                          request.form.get("remember") == "1")
        used.update(rename=rename, saved=saved)
        return {"rename": rename}
    try:
        summary, _, digest, label = _receive_and_import(kind, prepare)
    except ZonesError as exc:
        return _console_page(http_status(exc), error=f"{request.files.get('file') and request.files['file'].filename}: "
                                                      f"{_http_text(exc.text(_lang()), _lang())}")
    result = console.import_result(kind, label, digest, summary, _settings().rejects_dir, _lang())
    return _console_page(result={**result, "renamed": used.get("rename") or {}, "saved_mapping": used.get("saved")})


@route("/console/whatif", methods=("POST",))
def console_whatif():
    """Evaluate a day (another ruleset or changed settings) without publishing: the units whose level would
    change against what is published for that day, with the reasons, and the month ahead and behind. Nothing is
    written but the job's result; it runs as a job (a national what-if takes seconds): the page follows it and
    shows the result when it ends. The changed settings are checked first, as the ruleset file's own are."""
    latest = _store().latest_run()
    day = _parse_day(request.form.get("date") or (latest["date"] if latest else config.today().isoformat()))
    lines = [x.strip() for x in request.form.get("settings", "").splitlines() if x.strip()][:WHATIF_MAX_SETTINGS]
    ruleset_id = request.form.get("ruleset") or None
    settings, store = _settings(), _store()
    try:
        overrides = pipeline.parse_overrides(lines)
        chosen = pipeline.choose_ruleset(current_app.config["RULESETS"], day, ruleset_id, settings)
        pipeline.with_settings(chosen, overrides)                 # refused here, before any job, when out of bounds
        key = hashlib.sha1(repr((ruleset_id, lines)).encode()).hexdigest()[:10]
        job_id = jobs.start(settings, "whatif", f"{day.isoformat()}|{key}", g.user["name"], WHATIF_STAGES,
                            lambda progress: _whatif_work(settings, store, day, ruleset_id, overrides, lines, progress))
    except ZonesError as exc:
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    return redirect(f"/console?job={job_id}&lang={_lang()}#job", code=303)


# The stages of a what-if job (the evaluation's, then the comparisons): the page's progress bar.
WHATIF_STAGES = ("load", "metrics", "classify", "hysteresis", "rollup", "tables", "compare", "plan_ahead")


def _whatif_work(settings, store, day: dt.date, ruleset_id, overrides: dict, lines: list[str], progress) -> tuple[str, dict]:
    """A what-if, in a job's thread: evaluated, compared with what is published, the month re-evaluated; the page's
    data in both languages kept as a file of the cache (the job's result names it)."""
    ev = pipeline.evaluate(settings, day, ruleset_id, overrides, progress=progress)
    rows = whatif.diff(store, settings.runs_dir, ev)
    moved = whatif.outlook_diff(store, settings.runs_dir, ev)
    progress("compare")
    published = trend.trend(store, settings.runs_dir, settings.cache_dir, day - dt.timedelta(days=trend.DEFAULT_DAYS - 1), day)
    first = dt.date.fromisoformat(published["days"][0]["date"]) if published["days"] else day
    under = planahead.trend_under(settings, ev.ruleset, day, (day - first).days + 1)
    progress("plan_ahead")
    pages_data = {lang: {**console.whatif_result(rows, ev, lang, lines), **console.plan_ahead(moved, published, under,
                                                                                                ev.ruleset, lang)}
                  for lang in ("vi", "en")}
    name = console.keep_whatif(settings.cache_dir, pages_data)
    return "done", {"whatif": name, "date": day.isoformat(), "changes": len(rows)}


@route("/console/reclassify", methods=("POST",))
def console_reclassify():
    """Reclassify and publish a day: the work runs beside the request (geo/publish/jobs.py) and the page
    shows its stages as they pass; one at a time (the writer lock's message when busy). A run the
    data-quality gate holds is listed with its reasons, to release or correct."""
    day = _parse_day(request.form.get("date") or config.today().isoformat())
    user, remote, store = dict(g.user), request.remote_addr, _store()

    def done(status: str, result: dict) -> None:        # in the job's thread: no request context
        auth.record(store, user["name"], user["role"], "http", "reclassify", status if status != "failed" else
                    f"failed: {result['error']}", result.get("run_id") or day.isoformat(), remote=remote,
                    detail={"date": day.isoformat(), "via": "console", **({"error": result["en"]} if status == "failed" else {})})
    try:
        job_id = jobs.start_reclassify(_settings(), day, user["name"], done)
    except ZonesError as exc:
        _audit("reclassify", f"failed: {exc.key}", target=day.isoformat(), detail=exc.text("en"))
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    return redirect(f"/console?job={job_id}&lang={_lang()}#job", code=303)


@route("/console/jobs/<job_id>")
def console_job(job_id):
    """A console job's progress (JSON, polled by the page): stage, share done, and the outcome at the end."""
    if g.get("token_via") != "session" or not auth.allows(g.user, "operator"):
        raise AuthError("auth_needed") if g.user is None else ForbiddenError(
            "auth_role", name=g.user["name"], role=g.user["role"], action="console_job", needed="operator")
    view = console.job_view(jobs.get(_store(), job_id), _lang())
    if view is None:
        raise NotFoundError("not_found", what=f"job {job_id}")
    return _cached(jsonify(view), "no-store")


@route("/console/declare", methods=("POST",))
def console_declare():
    """A declared level for one unit (the declarations importer, one row): who declares is who is signed in."""
    row = {k: request.form.get(k, "").strip() for k in ("unit", "level", "from", "until", "decision", "reason")}
    row["by"] = g.user["name"]
    try:
        r = declared.declare_table(_store(), pd.DataFrame([row]), None, _settings().rejects_dir, config.today(),
                                   raise_bad=False)
    except ZonesError as exc:
        _audit("declare", f"failed: {exc.key}", target=row["unit"], detail=exc.text("en"))
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    if r.get("rejected"):
        _audit("declare", "refused: row", target=row["unit"], detail=r.get("reasons"))
        return _console_page(400, error="; ".join(i18n.row_reason(x.split(": ", 1)[-1], _lang()) for x in r["reasons"]))
    _audit("declare", "ok", target=row["unit"], detail={**row, "via": "console"})
    return _console_page(message=i18n.word("console", "declared", _lang()).format(unit=row["unit"], level=row["level"]))


@route("/console/review", methods=("POST",))
def console_review():
    """An operator's choice for a doubtful announced place (geo/ingest/reviews.py): a commune, or none; the
    waiting rows are counted at once and the choice is remembered for later imports (audited)."""
    key = request.form.get("review_key", "").strip()[:300]
    code = request.form.get("code", "").strip()[:20]
    try:
        r = reviews.decide(_store(), key, None if code in ("", "none") else code, g.user["name"])
    except ZonesError as exc:
        _audit("review-decide", f"failed: {exc.key}", target=key, detail=exc.text("en"))
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    _audit("review-decide", "ok", target=key, detail={**r, "via": "console"})
    return _console_page(message=i18n.t("review_decided" if r["code"] else "review_dropped", _lang(), place=key,
                                        code=r["code"] or "", rows=r["rows"], cases=r["cases"]))


@route("/console/flag", methods=("POST",))
def console_flag():
    """Set or clear a committee flag for a commune (the flags importer, one row; audited)."""
    row = {"code": request.form.get("code", "").strip(), "date": request.form.get("date", "").strip(),
           "flag": request.form.get("flag", ""), "value": request.form.get("value", "true"),
           "author": g.user["name"], "end_date": request.form.get("end_date", "").strip()}
    folder = Path(tempfile.mkdtemp(prefix=uploads.TEMP_PREFIX))
    try:
        path = folder / "co-ban-chi-dao.csv"
        pd.DataFrame([row]).to_csv(path, index=False)
        r = imports.run("flags", _settings(), path, {})
    except ZonesError as exc:
        _audit("import-flags", f"failed: {exc.key}", target=row["code"], detail=exc.text("en"))
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if r.get("rejected"):
        _audit("import-flags", "refused: row", target=row["code"], detail=r.get("reasons"))
        return _console_page(400, error="; ".join(i18n.row_reason(x.split(": ", 2)[-1], _lang()) for x in r["reasons"]))
    _audit("import-flags", "ok", target=row["code"], detail={**row, "via": "console"})
    return _console_page(message=i18n.word("console", "flag_set", _lang()).format(code=row["code"], flag=row["flag"]))


@route("/console/users", methods=("POST",))
def console_user_add():
    """A new user (or a new token for one): the token is shown once, on this answer only."""
    name, role = request.form.get("name", "").strip(), request.form.get("role", "")
    if name == g.user["name"]:              # an admin does not demote (or lock out) themselves by a form post
        _audit("user-add", "refused: self", target=name)
        return _console_page(403, error=i18n.word("console", "not_yourself", _lang()))
    try:
        token = auth.add_user(_store(), name, role)
    except ZonesError as exc:
        _audit("user-add", f"refused: {exc.key}", target=name)
        return _console_page(http_status(exc), error=_http_text(exc.text(_lang()), _lang()))
    _audit("user-add", "ok", target=name, detail={"role": role})
    return _console_page(message=i18n.word("console", "user_added", _lang()).format(name=name, role=role),
                         result={"new_token": token, "new_user": name})


@route("/console/users/<name>/revoke", methods=("POST",))
def console_user_revoke(name):
    if name == g.user["name"]:
        _audit("user-revoke", "refused: self", target=name)
        return _console_page(403, error=i18n.word("console", "not_yourself", _lang()))
    auth.revoke(_store(), name)
    _audit("user-revoke", "ok", target=name)
    return _console_page(message=i18n.word("console", "user_revoked", _lang()).format(name=name))


@route("/console/preview", methods=("POST",))
def console_preview():
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
        body = layout.preview(_store(), kind, path, upload.filename)
    finally:
        uploads.discard(path)
    return _cached(jsonify(body), "no-store")


@route("/console/rejects/<name>")
def console_rejects(name):
    """A rejects file as XLSX, to correct and upload again (operators; the file holds no personal column)."""
    if not auth.allows(g.user, "operator"):
        raise (ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action="rejects", needed="operator")
               if g.user else AuthError("auth_needed"))
    path = console.rejects_xlsx(_settings().rejects_dir, name, _settings().cache_dir)
    return _cached(_send_file(path, mimetype=EXPORT_FORMATS["xlsx"].mime, as_attachment=True, etag=False,
                              download_name=path.name), "no-store")


@route("/console/templates/<kind>.xlsx")
def console_template(kind):
    """A blank import template (Vietnamese headers, validation, an example row): no data in it."""
    path = blank.template(kind, _settings().cache_dir)
    return _cached(_send_file(path, mimetype=EXPORT_FORMATS["xlsx"].mime, as_attachment=True, etag=True,
                              download_name=path.name), SHORT)


@route("/console")
def console_home():
    return _console_page()


@route("/console/signin", methods=("POST",))
def console_signin():
    if not sessions.same_site(request.headers.get("Origin"), request.host_url):
        raise ForbiddenError("csrf_refused")
    limit = _limiter("signin", FAILED_SIGNINS_PER_MINUTE)
    if limit.blocked(request.remote_addr):   # guessing tokens: a few wrong ones a minute, then 429
        raise RateLimitedError("rate_limited", seconds=limit.retry_after())
    started = sessions.start(_store(), request.form.get("token", ""), _settings().session_hours)
    if started is None:
        g.session = None
        _, first_over = limit.hit(request.remote_addr)
        _audit_refusal("rate_limited" if first_over else "auth_needed")
        return _console_page(401, error=i18n.word("console", "bad_token", _lang()))
    sid, user = started
    auth.record(_store(), user["name"], user["role"], "http", "console-signin", "ok", remote=request.remote_addr)
    resp = redirect(f"/console?lang={_lang()}", code=303)
    resp.set_cookie(sessions.COOKIE, sid, httponly=True, samesite="Strict", secure=request.is_secure,
                    max_age=int(_settings().session_hours * 3600), path="/")
    return resp


@route("/console/signout", methods=("POST",))
def console_signout():
    sessions.end(_store(), request.cookies.get(sessions.COOKIE))
    _audit("console-signout", "ok")
    resp = redirect(f"/console?lang={_lang()}", code=303)
    resp.delete_cookie(sessions.COOKIE, path="/", httponly=True, samesite="Strict", secure=request.is_secure)
    return resp


@route("/console/holds/<run_id>/publish", methods=("POST",))
def console_publish_held(run_id):
    reason = request.form.get("reason", "").strip()
    if not reason:
        return _console_page(400, error=i18n.word("console", "need_reason", _lang()))
    run = quality.publish_anyway(_settings(), run_id, g.user["name"], reason)
    _audit("publish-anyway", "ok", target=run_id, detail={"reason": reason, "date": run["date"], "via": "console"})
    return _console_page(message=i18n.word("console", "released", _lang()).format(run_id=run_id, date=vn_date(run["date"])))


# -- routes ----------------------------------------------------------------------------------


@route("/")
def index():
    return redirect("/map")


@route("/map")
def map_page():
    run = _run_from_request()
    s, store = _settings(), _store()
    rulesets = current_app.config["RULESETS"]
    ruleset = rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"]
    sid = _shapes_id(run)
    index = _shapes_index(sid)
    table = json.loads(maplevels.path(store, s.data_dir, _run_dir(run), run).read_text(encoding="utf-8"))
    home = viewer.home_area(index, table, s.home, request.args.get("province"))
    text = viewer.page(run, ruleset, _lang(), store.published_dates(), index, home, s.basemap_url,
                       s.basemap_attribution)
    return _cached(Response(_nonced(text), mimetype="text/html"), SHORT)


@route("/healthz")
def healthz():
    body, status = observe.health(_store(), _settings().runs_dir)
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@route("/metrics")
def metrics():
    return Response(observe.metrics_text(_store()), mimetype=observe.CONTENT_TYPE.split(";")[0],
                    headers={"Cache-Control": "no-store"})


@route("/favicon.ico")
def favicon():
    return Response(status=204)


@route("/assets/<name>")
def assets(name):
    if name not in ASSETS:
        abort(404)
    return _cached(send_from_directory(ROOT / "geo" / "serve" / "static", name), "public, max-age=3600")


@route("/api/zones.geojson")
def zones_geojson():
    run = _run_from_request()
    unit = _run_unit(run, request.args.get("unit", "commune"))
    resp = _send_file(_geojson(run, unit), mimetype="application/geo+json", etag=True)
    return _cached(resp, _run_cache()).make_conditional(request)


@route("/api/zones/<code>")
def zone(code):
    run = _run_from_request()
    unit = _run_unit(run, request.args.get("unit", "commune"))
    body = lookup.panel(_store(), _run_dir(run), run["boundary_version"], unit, code, _settings().cache_dir)
    return _cached(jsonify(body), SHORT)


@route("/api/level")
def level_at():
    lon, lat = _float_arg("lon", -180, 180), _float_arg("lat", -90, 90)
    run = _run_from_request()
    body = lookup.at_point(_store(), _run_dir(run), run["boundary_version"], lon, lat, _settings().cache_dir)
    return _cached(jsonify(body), SHORT)


@route("/api/search")
def search():
    levels = None
    if "run" in request.args or "date" in request.args:
        run = _run_from_request()
        version, levels = run["boundary_version"], lookup.run_levels(_settings().runs_dir, run["run_id"])
    else:
        version = _store().current_boundary_version()
    if version is None:
        raise NotFoundError("no_run")
    return jsonify({"results": lookup.search(_store(), version, request.args.get("q", "")[:100], levels)})


@route("/api/outlook")
def outlook_api():
    """When each unit above safe would come down if no new case came (computed when the day was
    reclassified); `within=N`: only those safe within N days; `unit`: one kind."""
    run = _run_from_request()
    kinds = [_run_unit(run, request.args["unit"])] if "unit" in request.args else None
    rows = outlook.units(_settings().runs_dir, run, kinds)
    if "within" in request.args:
        rows = outlook.back_to_safe(rows, run["date"], int(_float_arg("within", 0, 366)))
    return _cached(jsonify({"date": run["date"], "run_id": run["run_id"], "until": run["manifest"]["outlook_until"],
                            "units": rows}), _run_cache())


@route("/api/trend")
def trend_api():
    """Units and population per level per published day (the whole area, or `unit`: a province or district),
    each district's last red day, the units red or orange the longest; format=csv or svg (the chart)."""
    fmt = request.args.get("format", "json")
    _choice("format", fmt, ("json", "csv", "svg"))
    latest = _store().latest_run()
    first, last = trend.span(request.args, latest["date"] if latest else None)
    body = trend.trend(_store(), _settings().runs_dir, _settings().cache_dir, first, last, request.args.get("unit") or None)
    if fmt == "csv":
        return _cached(Response(trend.csv_text(body), mimetype="text/csv"), _run_cache())
    if fmt == "svg":
        labels = trend.labels(current_app.config["RULESETS"].get(body["ruleset"]), _lang())
        width = int(_float_arg("width", 200, 1200)) if "width" in request.args else 640
        text = trend.svg(body, labels, i18n.word("report", "trend_title", _lang()).format(n=len(body["days"])), width,
                         round(width * 0.3))
        return _cached(Response(text, mimetype="image/svg+xml"), _run_cache())
    return _cached(jsonify(body), _run_cache())


@route("/api/hotspots")
def hotspots_api():
    run = _run_from_request()
    body = hotspots.hotspots(_store(), _settings().runs_dir, _settings().cache_dir, run)
    return _cached(jsonify(body), _run_cache())


@route("/api/zones/<code>/history")
def zone_history(code):
    unit = _choice("unit", request.args.get("unit", "commune"), UNITS)
    end = _parse_day(request.args["date"]) if "date" in request.args else dt.date.fromisoformat(_run_from_request()["date"])
    days = int(_float_arg("days", 1, lookup.MAX_DAYS)) if "days" in request.args else lookup.HISTORY_DAYS
    body = lookup.unit_history(_store(), _settings().runs_dir, unit, code, end, days)
    return _cached(jsonify(body), SHORT)


@route("/api/lockdowns.geojson")
def lockdowns_geojson():
    run = _run_from_request()
    return _cached(_send_file(_geojson(run, "lockdown"), mimetype="application/geo+json", etag=True), SHORT)


@route("/api/rulesets")
def rulesets():
    return jsonify({"rulesets": [rulesinfo.summary(rs) for rs in current_app.config["RULESETS"].values()]})


@route("/api/rulesets/<ruleset_id>")
def ruleset_detail(ruleset_id):
    return jsonify(rulesinfo.describe(_ruleset(ruleset_id)))


@route("/rulesets/<ruleset_id>")
def ruleset_page(ruleset_id):
    return Response(_nonced(rulesinfo.page(_ruleset(ruleset_id), _lang())), mimetype="text/html")


@route("/report")
def report_page():
    fmt = _choice("format", request.args.get("format", "html"), tuple(report.FORMATS))
    run = _run_from_request()
    s = _settings()
    path = report.render(_store(), s.runs_dir, s.cache_dir, dt.date.fromisoformat(run["date"]), fmt, _lang(),
                         current_app.config["RULESETS"])
    resp = _send_file(path, mimetype=report.FORMATS[fmt], etag=True, as_attachment=fmt != "html",
                      download_name=f"bao-cao-{run['date']}.{fmt}")
    return _cached(resp, SHORT).make_conditional(request)


@route("/api/changes")
def changes_api():
    if "to" not in request.args:
        raise InputError("bad_param", name="to", value="", allowed="a date YYYY-MM-DD")
    to_day = _parse_day(request.args["to"])
    from_day = _parse_day(request.args["from"]) if "from" in request.args else None
    unit = request.args.get("unit")
    units = (_choice("unit", unit, UNITS),) if unit else None
    rows, after, before = changes.changes(_store(), _settings().runs_dir, to_day, from_day, units)
    if request.args.get("all", "false").lower() not in ("1", "true", "yes"):
        rows = rows[rows["change"] != "same"]
    body = {"from": before["date"] if before else None, "to": after["date"],
            "run_from": before["run_id"] if before else None, "run_to": after["run_id"],
            "changes": json.loads(rows.to_json(orient="records", force_ascii=False))}
    return _cached(jsonify(body), SHORT)


@route("/api/runs")
def runs():
    out = []
    for r in _store().published_runs():
        m = r["manifest"]
        row = {k: m.get(k) for k in ("run_id", "date", "created_at", "ruleset", "ruleset_sha256",
                                     "boundary_version", "input_hashes", "code_version", "counts",
                                     "community_cases_in_window", "n_active_lockdowns")}
        out.append({**row, "kind": m.get("kind", "full")})
    return jsonify({"runs": out})


@route("/tiles/<unit>/tilejson.json")
def tilejson_latest(unit):
    return _linked(_cached(jsonify(_tilejson(_run_from_request(), unit)), SHORT))


@route("/tiles/runs/<run_id>/<unit>/tilejson.json")
def tilejson_run(run_id, unit):
    return _linked(_cached(jsonify(_tilejson(_run_by_id(run_id), unit)), IMMUTABLE))


@route("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.mvt")
def tile(run_id, unit, z, x, y):
    run = _run_by_id(run_id)
    _run_unit(run, unit, tiles.LAYERS)
    _check_tile(z, x, y, 24)
    lo, hi = tiles.ZOOMS[unit]
    if not lo <= z <= hi:      # as the TileJSON says: outside the zooms there are no tiles (overzoom z={hi})
        raise NotFoundError("tile_zoom", unit=unit, z=z, lo=lo, hi=hi)
    if unit == "lockdown" and run["manifest"].get("n_active_lockdowns") == 0:
        data = None       # a day without lockdowns has no lockdown tiles: every tile is empty
    else:
        data = mbtiles.read_tile(_full_run_file(run, f"tiles/{unit}.mbtiles"), z, x, y)
    return _tile_response(data, "application/vnd.mapbox-vector-tile", f"{run_id}/{unit}/{z}/{x}/{y}")


@route("/tiles/runs/<run_id>/map-levels.json")
def map_levels(run_id):
    run = _run_by_id(run_id)
    path = maplevels.path(_store(), _settings().data_dir, _run_dir(run), run)
    return _cached(_send_file(path, mimetype="application/json", etag=True, max_age=None), IMMUTABLE).make_conditional(request)


@route("/tiles/shapes/<sid>/index.json")
def shapes_index(sid):
    folder = _shapes_folder(sid)
    return _cached(_send_file(folder / shapes.INDEX, mimetype="application/json", etag=True, max_age=None), IMMUTABLE).make_conditional(request)


@route("/tiles/shapes/<sid>/<int:z>/<int:x>/<int:y>.mvt")
def shapes_tile(sid, z, x, y):
    folder = _shapes_folder(sid)
    _check_tile(z, x, y, 24)
    if z > shapes.MAX_ZOOM:
        raise NotFoundError("tile_zoom", unit="shapes", z=z, lo=0, hi=shapes.MAX_ZOOM)
    data = mbtiles.read_tile(folder / shapes.MAP, z, x, y)
    return _tile_response(data, "application/vnd.mapbox-vector-tile", f"shapes/{sid}/{z}/{x}/{y}")


@route("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.png")
def raster_tile(run_id, unit, z, x, y):
    run = _run_by_id(run_id)
    _run_unit(run, unit, raster.LAYERS)
    _check_tile(z, x, y, raster.MAX_ZOOM)
    palette = _choice("palette", request.args.get("palette", "official"), tuple(raster.PALETTES))
    levels = None
    if request.args.get("levels"):
        levels = frozenset(_choice("levels", v, LEVEL_IDS) for v in request.args["levels"].split(","))
    s = _settings()
    data = raster.tile(_store(), _run_dir(run), run["boundary_version"], unit, z, x, y, s.cache_dir,
                       palette, levels, run["manifest"].get("bounds", {}).get("province"),
                       int(s.tile_cache_mb * (1 << 20)), s.tile_render_rate)
    return _tile_response(data, "image/png", f"{run_id}/{unit}/{z}/{x}/{y}.png?{request.query_string.decode()}")


@route("/api/exports/<fmt>")
def export_api(fmt):
    _choice("format", fmt, HTTP_EXPORT_FORMATS)
    run = _run_from_request()
    unit = _run_unit(run, request.args.get("unit", "commune"), UNITS + (("lockdown",) if fmt != "xlsx" else ()))
    since = _run_by_id(request.args["since"]) if "since" in request.args else None
    if since and unit == "lockdown":
        raise InputError("bad_param", name="since", value=since["run_id"], allowed="commune, district, province")
    etag = hashlib.sha1(f"{run['run_id']}|{unit}|{fmt}|{since and since['run_id']}".encode()).hexdigest()[:24]
    if etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": SHORT})
    s = _settings()
    path = export.export_file(_store(), s.runs_dir, run, unit, fmt, s.cache_dir, since,
                              export.feature_lines(_store(), s.runs_dir, s.cache_dir, unit))
    suffix = f"-since-{since['date']}" if since else ""
    resp = _send_file(path, mimetype=EXPORT_FORMATS[fmt].mime, as_attachment=True, etag=False,
                     download_name=f"{unit}-{run['date']}{suffix}.{EXPORT_FORMATS[fmt].extension}")
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = _run_cache()
    resp.headers["X-Boundary-Version"] = run["boundary_version"]
    return resp


@route("/ogc")
@route("/ogc/")
def ogc_landing():
    return _json_doc(ogc.landing(_base(), i18n.t("ogc_title", _lang())))


@route("/ogc/conformance")
def ogc_conformance():
    return _json_doc({"conformsTo": ogc.CONFORMANCE})


@route("/ogc/api")
def ogc_openapi():
    resp = _json_doc(openapi.document(_base()))
    resp.mimetype = ogc.OPENAPI
    return resp


@route("/ogc/collections")
def ogc_collections():
    run, first = _ogc_run(), _first_date()
    return _json_doc({"links": [{"href": f"{_base()}/ogc/collections", "rel": "self", "type": ogc.JSON}],
                      "collections": [ogc.describe(_base(), u, run, first) for u in ogc.collections_of(run)]})


@route("/ogc/collections/<unit>")
def ogc_collection(unit):
    _choice("collection", unit, ogc.COLLECTIONS)
    run = _ogc_run()
    runfiles.require_in(run["manifest"], unit)
    return _json_doc(ogc.describe(_base(), unit, run, _first_date()))


@route("/ogc/collections/<unit>/queryables")
def ogc_queryables(unit):
    _choice("collection", unit, ogc.COLLECTIONS)
    resp = _json_doc(ogc.queryables(_base(), unit))
    resp.mimetype = "application/schema+json"
    return resp


@route("/ogc/collections/<unit>/items")
def ogc_items(unit):
    _choice("collection", unit, ogc.COLLECTIONS)
    ogc.check_params(unit, request.args)
    run = _ogc_run()
    runfiles.require_in(run["manifest"], unit)
    col = ogc.collection(_store(), run, unit, _settings().runs_dir, _settings().cache_dir)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = ogc.items_body(col, unit, request.args, f"{_base()}/ogc/collections/{unit}/items", now)
    return _geojson_response(body, run)


@route("/ogc/collections/<unit>/items/<fid>")
def ogc_item(unit, fid):
    _choice("collection", unit, ogc.COLLECTIONS)
    for name in request.args:
        if name not in ("datetime", "run") + ogc.COMMON_PARAMS:
            raise InputError("bad_param", name=name, value=request.args[name], allowed="datetime, run, f")
    run = _ogc_run()
    runfiles.require_in(run["manifest"], unit)
    col = ogc.collection(_store(), run, unit, _settings().runs_dir, _settings().cache_dir)
    return _geojson_response(ogc.item_body(col, fid, f"{_base()}/ogc/collections/{unit}/items/{fid}"), run)


@route("/vendor/<path:filename>")
def vendor(filename):
    package = next((p for p in VENDOR_PACKAGES if filename.startswith(p + "/")), None)
    if package is None:
        abort(404)
    return _cached(send_from_directory(Path(current_app.config["VENDOR_DIR"]) / package, filename[len(package) + 1:]), "public, max-age=86400")


def _send_file(path: Path, **kw) -> Response:
    """send_file; a file a client accepting gzip would wait for (GeoJSON of a national day: 24 MB) goes
    compressed, from a copy made once beside the cache (run files never change)."""
    accepts = "gzip" in request.accept_encodings
    gz = compressed.gzip_copy(Path(path), _settings().cache_dir) if accepts else None
    if gz is None:
        return send_file(path, **kw)
    resp = send_file(gz, **kw)
    resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    return resp


# An absolute path in a message (not "dd/mm/yyyy"): only its last part is shown.
_ABSOLUTE_PATH = re.compile(r"(?<![\w/.])/(?:[^\s'\"/,;:()]+/)+([^\s'\"/,;:()]+)")


def _http_text(text: str, language: str | None = None) -> str:
    """A message for an HTTP client: no server path, no command-line option."""
    # messages made for the command line name its options; over HTTP the same things are form
    # fields (the catalogue's http_option section, phrases before bare options)
    for option, http in i18n.words("http_option", language or _lang()).items():
        text = text.replace(option, http)
    return _ABSOLUTE_PATH.sub(r"\1", text)


def _http_value(value, language: str | None = None):
    if isinstance(value, str):
        return _http_text(value, language)
    if isinstance(value, dict):
        return {k: _http_value(v, language) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_http_value(v, language) for v in value]
    return value


def _base() -> str:
    """The address links are made of: ZONES_PUBLIC_URL when set; else the request's own host, and the
    answer is then kept out of shared caches (a forged Host header must not reach other clients)."""
    public = _settings().public_url
    if public:
        return public
    g.host_links = True
    return request.host_url.rstrip("/")


def _linked(resp: Response) -> Response:
    if g.get("host_links"):
        resp.headers["Cache-Control"] = "private, max-age=60"
        resp.vary.add("Host")
    return resp


def _json_doc(doc: dict) -> Response:
    return _linked(_cached(jsonify(doc), SHORT))


def _ogc_run() -> dict:
    """The run an OGC request reads: ?run=, ?datetime= (instant or interval), else the latest."""
    if "run" in request.args:
        return _run_by_id(request.args["run"])
    if "datetime" in request.args:
        first, last = ogc.parse_datetime(request.args["datetime"])
        run = _store().latest_run_between(first, last)
        if run is None:
            raise NotFoundError("no_run_for_date", date=f"{first or '..'}/{last or '..'}")
        return run
    run = _store().latest_run()
    if run is None:
        raise NotFoundError("no_run")
    return run


def _first_date() -> str | None:
    return _store().first_date()


def _geojson_response(body: str, run: dict) -> WerkzeugResponse:
    resp = _cached(Response(body, mimetype=ogc.GEOJSON), _run_cache())
    resp.headers["Content-Crs"] = f"<{ogc.CRS84}>"
    resp.set_etag(hashlib.sha1(f"{run['run_id']}?{request.query_string.decode()}".encode()).hexdigest()[:20])
    return _linked(resp).make_conditional(request)


def _float_arg(name: str, lo: float, hi: float) -> float:
    try:
        v = float(request.args[name])
    except (KeyError, ValueError):
        raise InputError("bad_param", name=name, value=request.args.get(name, ""), allowed=f"a number in [{lo}, {hi}]") from None
    if not lo <= v <= hi:
        raise InputError("bad_param", name=name, value=v, allowed=f"a number in [{lo}, {hi}]")
    return v


def _check_tile(z: int, x: int, y: int, max_zoom: int) -> None:
    if not (0 <= z <= max_zoom and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise InputError("bad_param", name="z/x/y", value=f"{z}/{x}/{y}", allowed=f"0 <= x, y < 2^z, z <= {max_zoom}")


def _tile_response(data: bytes | None, mimetype: str, key: str) -> WerkzeugResponse:
    """Run-addressed tiles never change: immutable, with an ETag; an empty tile is 204."""
    resp = Response(data or b"", status=200 if data else 204, mimetype=mimetype)
    resp.headers["Cache-Control"] = IMMUTABLE
    resp.set_etag(hashlib.sha1(key.encode()).hexdigest()[:20])
    return resp.make_conditional(request)


def _run_unit(run: dict, value: str, allowed: tuple[str, ...] = UNITS) -> str:
    """A kind of unit asked for, checked against the run's boundary version (404 naming it when absent)."""
    unit = _choice("unit", value, allowed)
    runfiles.require_in(run["manifest"], unit)
    return unit


def _tilejson(run: dict, unit: str) -> dict:
    """TileJSON 3.0.0 of a run's vector tiles, or with ?format=png of its raster tiles."""
    m = run["manifest"]
    base = _base()
    if _choice("format", request.args.get("format", "mvt"), ("mvt", "png")) == "png":
        _run_unit(run, unit, raster.LAYERS)
        url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.png"
        return tiles.raster_tilejson(url, raster.bounds(_store(), m["boundary_version"]), raster.MAX_ZOOM,
                                     f"{unit} {m['date']} ({m['ruleset']})",
                                     f"run {run['run_id']}, boundaries {m['boundary_version']}")
    _run_unit(run, unit, tiles.LAYERS)
    if not (unit == "lockdown" and m.get("n_active_lockdowns") == 0):
        _full_run_file(run, f"tiles/{unit}.mbtiles")
    url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.mvt"
    return tiles.tilejson(unit, url, m["bounds"][unit], f"{unit} {m['date']} ({m['ruleset']})",
                          f"run {run['run_id']}, boundaries {m['boundary_version']}")


# Seconds a client is told to wait when the service is busy (a render limit, the writer's lock).
RETRY_AFTER_S = 2
# Pages a person opens in a browser: their errors come as an HTML page (API clients keep JSON).
PAGE_ENDPOINTS = frozenset({"index", "map_page", "report_page", "ruleset_page"})


def _wants_html() -> bool:
    if request.endpoint not in PAGE_ENDPOINTS or request.args.get("format", "html") != "html":
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def _error_page(exc: ZonesError | None, message: str, status: int) -> Response:
    lang = _lang()
    path = request.path if request.endpoint in ("map_page", "report_page") else "/map"
    wanted = exc.params.get("iso") if exc is not None and exc.key == "no_run_for_date" else None
    try:
        dates = [d for d, _ in _store().published_dates()] if status == 404 else []
    except Exception:     # the notice itself must not fail: no links then
        dates = []
    links = pages.nearest_links(dates, str(wanted)[:10] if wanted else None, path, lang)
    return _cached(Response(_nonced(pages.error_page(lang, message, links, status == 404)), status=status, mimetype="text/html"), "no-store")


def _errors(app: Flask) -> None:
    @app.errorhandler(ZonesError)
    def zones_error(exc: ZonesError):
        status = http_status(exc)
        if _wants_html():
            return _error_page(exc, _http_text(exc.text(_lang())), status)
        resp = jsonify({"error": exc.key, "message": _http_text(exc.text(_lang()))})
        resp.status_code = status
        if status in (429, 503):
            resp.headers["Retry-After"] = str(exc.params.get("seconds", RETRY_AFTER_S))
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"error": exc.name, "message": exc.description}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        fault = faults.classify(exc, where=str(_settings().data_dir))
        if fault is not None:           # the machine, not the request: one clear answer (503), logged
            observe.logger().error("storage fault", extra={"fields": {"path": request.path, "fault": fault.key}})
            return zones_error(fault)
        observe.logger().exception("unexpected error", extra={"fields": {"path": request.path}})
        return jsonify({"error": "internal", "message": "internal error; see the server log"}), 500
