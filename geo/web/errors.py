"""Errors as answers: one table from error to status (geo/base/errors.py), JSON for clients, a page for a person
opening a page, a machine fault said once and logged."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    request,
)
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from geo.base import faults
from geo.base.errors import (
    ZonesError,
    http_status,
)
from geo.serve import (
    observe,
    pages,
)
from geo.web import common as web

V = TypeVar("V", bound=Callable)

# Seconds a client is told to wait when the service is busy (a render limit, the writer's lock).
RETRY_AFTER_S = 2

def person_page(links_back: bool = False) -> Callable[[V], V]:
    """A page a person opens in a browser: its errors come as an HTML page (API clients keep JSON). With
    `links_back`, the error page's links to the nearest published days lead back to this page (else to the map)."""
    def mark(view: V) -> V:
        view.person_page = "here" if links_back else "map"  # type: ignore[attr-defined]
        return view
    return mark


def _person_page() -> str | None:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    return getattr(view, "person_page", None)


def wants_html() -> bool:
    if _person_page() is None or request.args.get("format", "html") != "html":
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


def error_page(exc: ZonesError | None, message: str, status: int) -> Response:
    lang = web.lang()
    path = request.path if _person_page() == "here" else "/map"
    wanted = exc.params.get("iso") if exc is not None and exc.key == "no_run_for_date" else None
    try:
        dates = [d for d, _ in web.store().published_dates()] if status == 404 else []
    except Exception:  # the notice itself must not fail: no links then
        dates = []
    links = pages.nearest_links(dates, str(wanted)[:10] if wanted else None, path, lang)
    return web.cached(
        Response(
            web.nonced(pages.error_page(lang, message, links, status == 404)), status=status, mimetype="text/html"
        ),
        "no-store",
    )


def install(app: Flask) -> None:
    @app.errorhandler(ZonesError)
    def zones_error(exc: ZonesError) -> ResponseReturnValue:
        status = http_status(exc)
        if wants_html():
            return error_page(exc, web.http_text(exc.text(web.lang())), status)
        resp = jsonify({"error": exc.key, "message": web.http_text(exc.text(web.lang()))})
        resp.status_code = status
        if status in (429, 503):
            resp.headers["Retry-After"] = str(exc.params.get("seconds", RETRY_AFTER_S))
        return resp

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> ResponseReturnValue:
        return jsonify({"error": exc.name, "message": exc.description}), exc.code or 500

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> ResponseReturnValue:
        fault = faults.classify(exc, where=str(web.settings().data_dir))
        if fault is not None:  # the machine, not the request: one clear answer (503), logged
            observe.logger().error("storage fault", extra={"fields": {"path": request.path, "fault": fault.key}})
            return zones_error(fault)
        observe.logger().exception("unexpected error", extra={"fields": {"path": request.path}})
        return jsonify({"error": "internal", "message": "internal error; see the server log"}), 500
