"""The read API: a day's units as GeoJSON, one unit and its history, the unit at a point, search, the outlook,
trend, hotspots and changes, lockdowns, rulesets, runs, held runs and the audit log."""

from __future__ import annotations

import datetime as dt
import json

from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    jsonify,
    request,
)
from flask.typing import ResponseReturnValue

from geo.base import i18n
from geo.base.errors import (
    AuthError,
    ForbiddenError,
    InputError,
    NotFoundError,
)
from geo.base.params import choice as _choice
from geo.base.params import parse_day as _parse_day
from geo.base.vocabulary import UNITS
from geo.domain import audit
from geo.publish import quality
from geo.serve import (
    auth,
    changes,
    declared,
    export,
    hotspots,
    lookup,
    outlook,
    rulesinfo,
    trend,
)
from geo.web import common as web
from geo.web import whichrun

bp = Blueprint("api", __name__)


@bp.get("/api/holds")
def holds() -> ResponseReturnValue:
    return jsonify({"holds": quality.holds(web.store(), web.lang())})


@bp.get("/api/audit")
def audit_api() -> ResponseReturnValue:
    if not auth.allows(g.user, "admin"):
        raise (
            ForbiddenError("auth_role", name=g.user["name"], role=g.user["role"], action="audit", needed="admin")
            if g.user
            else AuthError("auth_needed")
        )
    return jsonify(
        {
            "audit": audit.audit_log(
                web.store(), int(web.float_arg("limit", 1, 10000)) if "limit" in request.args else 100
            )
        }
    )


@bp.get("/api/zones.geojson")
def zones_geojson() -> ResponseReturnValue:
    """A day's units as GeoJSON; once the committee has decided, each with its level in force beside the computed
    one (a file made once per state of the decisions: it is not the run's alone, so it is not cached forever)."""
    run = whichrun.run_from_request()
    unit = whichrun.run_unit(run, request.args.get("unit", "commune"))
    s = web.settings()
    if len(declared.in_force(web.store(), run["boundary_version"], run["date"])):
        path = export.export_file(web.store(), s.runs_dir, run, unit, "geojson", s.cache_dir, None,
                                  export.feature_lines(web.store(), s.runs_dir, s.cache_dir, unit))
        resp = web.send_file(path, mimetype="application/geo+json", etag=True)
        return web.cached(resp, web.SHORT).make_conditional(request)
    resp = web.send_file(whichrun.geojson(run, unit), mimetype="application/geo+json", etag=True)
    return web.cached(resp, web.run_cache()).make_conditional(request)


@bp.get("/api/zones/<code>")
def zone(code: str) -> ResponseReturnValue:
    run = whichrun.run_from_request()
    unit = whichrun.run_unit(run, request.args.get("unit", "commune"))
    body = lookup.panel(
        web.store(), whichrun.run_dir(run), run["boundary_version"], unit, code, web.settings().cache_dir
    )
    # the declaration in force now: a level declared after the run shows at once
    now = declared.in_force(web.store(), run["boundary_version"], run["date"])
    body = declared.overlay_unit(body, now, current_app.config["RULESETS"].get(run["manifest"]["ruleset"]))
    return web.cached(jsonify(body), "no-cache")


@bp.get("/api/declarations")
def declarations_api() -> ResponseReturnValue:
    """The levels declared by the committee in force on a run's day (data beside the runs: a declaration made
    after the run is here at once); the map draws where they differ from the run's levels."""
    run = whichrun.run_from_request()
    now = declared.in_force(web.store(), run["boundary_version"], run["date"])
    return web.cached(jsonify({"date": run["date"], "boundary_version": run["boundary_version"],
                               "units": declared.listing(now)}), "no-cache")


@bp.get("/api/level")
def level_at() -> ResponseReturnValue:
    lon, lat = web.float_arg("lon", -180, 180), web.float_arg("lat", -90, 90)
    run = whichrun.run_from_request()
    body = lookup.at_point(
        web.store(), whichrun.run_dir(run), run["boundary_version"], lon, lat, web.settings().cache_dir
    )
    return web.cached(jsonify(body), web.SHORT)


@bp.get("/api/search")
def search() -> ResponseReturnValue:
    levels = None
    if "run" in request.args or "date" in request.args:
        run = whichrun.run_from_request()
        version, levels = run["boundary_version"], lookup.run_levels(web.settings().runs_dir, run["run_id"])
    else:
        version = web.store().current_boundary_version()
    if version is None:
        raise NotFoundError("no_run")
    return jsonify({"results": lookup.search(web.store(), version, request.args.get("q", "")[:100], levels)})


@bp.get("/api/outlook")
def outlook_api() -> ResponseReturnValue:
    """When each unit above safe would come down if no new case came (computed when the day was
    reclassified); `within=N`: only those safe within N days; `unit`: one kind."""
    run = whichrun.run_from_request()
    kinds = [whichrun.run_unit(run, request.args["unit"])] if "unit" in request.args else None
    rows = outlook.units(web.settings().runs_dir, run, kinds)
    if "within" in request.args:
        rows = outlook.back_to_safe(rows, run["date"], int(web.float_arg("within", 0, 366)))
    return web.cached(
        jsonify(
            {"date": run["date"], "run_id": run["run_id"], "until": run["manifest"]["outlook_until"], "units": rows}
        ),
        web.run_cache(),
    )


@bp.get("/api/trend")
def trend_api() -> ResponseReturnValue:
    """Units and population per level per published day (the whole area, or `code`: a province or district),
    each district's last red day, the units red or orange the longest, the change in words; format=csv, or svg:
    the red and orange communes per day on their own scale, with values and the change in words."""
    fmt = request.args.get("format", "json")
    _choice("format", fmt, ("json", "csv", "svg"))
    latest = web.store().latest_run()
    first, last = trend.span(request.args, latest["date"] if latest else None)
    # `code`: a province or district; `unit` is its old name, still read (everywhere else `unit` is a kind of unit)
    code = request.args.get("code") or request.args.get("unit") or None
    body = trend.trend(web.store(), web.settings().runs_dir, web.settings().cache_dir, first, last, code)
    body["words"] = trend.words(body, trend.labels(current_app.config["RULESETS"].get(body["ruleset"]), web.lang()), web.lang())
    if fmt == "csv":
        return web.cached(Response(trend.csv_text(body), mimetype="text/csv"), web.run_cache())
    if fmt == "svg":
        labels = trend.labels(current_app.config["RULESETS"].get(body["ruleset"]), web.lang())
        width = int(web.float_arg("width", 200, 1200)) if "width" in request.args else 640
        text = trend.hot_svg(body, labels, i18n.word("trend", "hot_title", web.lang()), web.lang(), width)
        return web.cached(Response(text, mimetype="image/svg+xml"), web.run_cache())
    return web.cached(jsonify(body), web.run_cache())


@bp.get("/api/hotspots")
def hotspots_api() -> ResponseReturnValue:
    """The day's red and orange communes, a page at a time (`offset`, `limit`: the worst first, `total` says how
    many); `view=in_force`: by the levels in force (the committee's decisions, read now) where there are some, each
    with its computed level and decision."""
    run = whichrun.run_from_request()
    view = _choice("view", request.args.get("view", "proposal"), ("proposal", "in_force"))
    offset = int(web.float_arg("offset", 0, 10**7)) if "offset" in request.args else 0
    limit = int(web.float_arg("limit", 1, hotspots.PAGE_MAX)) if "limit" in request.args else hotspots.PAGE
    s = web.settings()
    if view == "proposal":
        text = hotspots.page_text(web.store(), s.runs_dir, s.cache_dir, run, offset, limit)
        return web.cached(Response(text, mimetype="application/json"), web.run_cache())
    now = declared.in_force(web.store(), run["boundary_version"], run["date"])
    body = hotspots.in_force(web.store(), s.runs_dir, s.cache_dir, run, now)
    return web.cached(jsonify(hotspots.page(body, offset, limit)), "no-cache")


@bp.get("/api/zones/<code>/history")
def zone_history(code: str) -> ResponseReturnValue:
    unit = _choice("unit", request.args.get("unit", "commune"), UNITS)
    end = (
        _parse_day(request.args["date"])
        if "date" in request.args
        else dt.date.fromisoformat(whichrun.run_from_request()["date"])
    )
    days = int(web.float_arg("days", 1, lookup.MAX_DAYS)) if "days" in request.args else lookup.HISTORY_DAYS
    body = lookup.unit_history(web.store(), web.settings().runs_dir, unit, code, end, days)
    return web.cached(jsonify(body), web.SHORT)


@bp.get("/api/lockdowns.geojson")
def lockdowns_geojson() -> ResponseReturnValue:
    run = whichrun.run_from_request()
    return web.cached(
        web.send_file(whichrun.geojson(run, "lockdown"), mimetype="application/geo+json", etag=True), web.SHORT
    )


@bp.get("/api/rulesets")
def rulesets() -> ResponseReturnValue:
    return jsonify({"rulesets": [rulesinfo.summary(rs) for rs in current_app.config["RULESETS"].values()]})


@bp.get("/api/rulesets/<ruleset_id>")
def ruleset_detail(ruleset_id: str) -> ResponseReturnValue:
    return jsonify(rulesinfo.describe(whichrun.ruleset(ruleset_id)))


@bp.get("/api/changes")
def changes_api() -> ResponseReturnValue:
    if "to" not in request.args:
        raise InputError("bad_param", name="to", value="", allowed="a date YYYY-MM-DD")
    to_day = _parse_day(request.args["to"])
    from_day = _parse_day(request.args["from"]) if "from" in request.args else None
    unit = request.args.get("unit")
    units = (_choice("unit", unit, UNITS),) if unit else None
    rows, after, before = changes.changes(web.store(), web.settings().runs_dir, to_day, from_day, units)
    if request.args.get("all", "false").lower() not in ("1", "true", "yes"):
        rows = rows[rows["change"] != "same"]
    body = {
        "from": before["date"] if before else None,
        "to": after["date"],
        "run_from": before["run_id"] if before else None,
        "run_to": after["run_id"],
        "changes": json.loads(rows.to_json(orient="records", force_ascii=False)),
    }
    return web.cached(jsonify(body), web.SHORT)


@bp.get("/api/runs")
def runs() -> ResponseReturnValue:
    out = []
    for r in web.store().published_runs():
        m = r["manifest"]
        row = {
            k: m.get(k)
            for k in (
                "run_id",
                "date",
                "created_at",
                "ruleset",
                "ruleset_sha256",
                "boundary_version",
                "input_hashes",
                "code_version",
                "counts",
                "community_cases_in_window",
                "n_active_lockdowns",
            )
        }
        out.append({**row, "kind": m.get("kind", "full")})
    return jsonify({"runs": out})
