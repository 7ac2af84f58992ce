"""The pages a person opens (the committee's map, the morning report, a ruleset) and what they load from us (our
assets, the npm packages served as /vendor), health and metrics."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    request,
    send_from_directory,
)
from flask.typing import ResponseReturnValue

from geo.base.params import choice as _choice
from geo.publish import maplevels
from geo.serve import (
    observe,
    report,
    rulesinfo,
    viewer,
)
from geo.web import common as web
from geo.web import errors, security, whichrun

bp = Blueprint("pages", __name__)


# npm packages whose files the pages may load (everything else under node_modules stays private).
VENDOR_PACKAGES = ("leaflet", "pbf", "@mapbox/vector-tile", "@mapbox/point-geometry")

# The committee page's own script and style (geo/serve/static).
ASSETS = ("committee.js", "committee.css", "console.js", "proposal.js")


@bp.get("/")
@errors.person_page()
def index() -> ResponseReturnValue:
    return redirect("/map")


@bp.get("/map")
@errors.person_page(links_back=True)
def map_page() -> ResponseReturnValue:
    run = whichrun.run_from_request()
    s, store = web.settings(), web.store()
    rulesets = current_app.config["RULESETS"]
    ruleset = rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"]
    sid = whichrun.shapes_id(run)
    index = whichrun.shapes_index(sid)
    table = json.loads(maplevels.path(store, s.data_dir, whichrun.run_dir(run), run).read_text(encoding="utf-8"))
    home = viewer.home_area(index, table, s.home, request.args.get("province"))
    text = viewer.page(
        run, ruleset, web.lang(), store.published_dates(), index, home, s.basemap_url, s.basemap_attribution
    )
    return web.cached(Response(web.nonced(text), mimetype="text/html"), web.SHORT)


@bp.get("/rulesets/<ruleset_id>")
@errors.person_page()
def ruleset_page(ruleset_id: str) -> ResponseReturnValue:
    return Response(web.nonced(rulesinfo.page(whichrun.ruleset(ruleset_id), web.lang())), mimetype="text/html")


@bp.get("/report")
@errors.person_page(links_back=True)
def report_page() -> ResponseReturnValue:
    fmt = _choice("format", request.args.get("format", "html"), tuple(report.FORMATS))
    run = whichrun.run_from_request()
    s = web.settings()
    path = report.render(
        web.store(),
        s.runs_dir,
        s.cache_dir,
        dt.date.fromisoformat(run["date"]),
        fmt,
        web.lang(),
        current_app.config["RULESETS"],
    )
    resp = web.send_file(
        path,
        mimetype=report.FORMATS[fmt],
        etag=True,
        as_attachment=fmt != "html",
        download_name=f"bao-cao-{run['date']}.{fmt}",
    )
    return web.cached(resp, web.SHORT).make_conditional(request)


@bp.get("/healthz")
@security.open_view
def healthz() -> ResponseReturnValue:
    body, status = observe.health(web.store(), web.settings().runs_dir)
    resp = jsonify(body)
    resp.status_code = status
    resp.headers["Cache-Control"] = "no-store"
    return resp


@bp.get("/metrics")
def metrics() -> ResponseReturnValue:
    return Response(
        observe.metrics_text(web.store()),
        mimetype=observe.CONTENT_TYPE.split(";")[0],
        headers={"Cache-Control": "no-store"},
    )


@bp.get("/favicon.ico")
@security.open_view
def favicon() -> ResponseReturnValue:
    return Response(status=204)


@bp.get("/assets/<name>")
@security.public_view
def assets(name: str) -> ResponseReturnValue:
    if name not in ASSETS:
        abort(404)
    return web.cached(send_from_directory(web.ROOT / "geo" / "serve" / "static", name), "public, max-age=3600")


@bp.get("/vendor/<path:filename>")
@security.public_view
def vendor(filename: str) -> ResponseReturnValue:
    package = next((p for p in VENDOR_PACKAGES if filename.startswith(p + "/")), None)
    if package is None:
        abort(404)
    return web.cached(
        send_from_directory(Path(current_app.config["VENDOR_DIR"]) / package, filename[len(package) + 1 :]),
        "public, max-age=86400",
    )
