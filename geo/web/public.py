"""The citizens' lookup (/tra-cuu): the committee's map of the levels in force, open to anyone while
ZONES_PUBLIC_LOOKUP is open (even when reading the service needs a token), Vietnamese with English on request."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from geo.base import config
from geo.base.errors import NotFoundError
from geo.base.params import choice as _choice
from geo.base.vocabulary import UNITS
from geo.serve import public, viewer
from geo.web import common as web
from geo.web import errors, security, whichrun
from rules.ruleset import Ruleset

bp = Blueprint("public", __name__)
# The answers change when a decision is approved: a browser asks again after this long.
FRESH = "public, max-age=60"


def _open() -> tuple[str, dict]:
    """The boundary version in force and its shapes index, when the lookup is open (else 404)."""
    if not web.settings().public_lookup:
        raise NotFoundError("not_found", what="/tra-cuu")
    latest = web.store().latest_run()
    if latest is None:
        raise NotFoundError("no_run_for_date", date="—", iso="")
    return latest["boundary_version"], whichrun.shapes_index(whichrun.shapes_id(latest))


def _ruleset() -> Ruleset:
    """The ruleset of the latest run: its levels' names, colours and measures."""
    rulesets = current_app.config["RULESETS"]
    latest = web.store().latest_run()
    found = rulesets.get(latest["manifest"]["ruleset"]) if latest else None
    return found or rulesets["qd2686"]


@bp.get("/tra-cuu")
@security.public_view
@errors.person_page(links_back=True)
def lookup_page() -> ResponseReturnValue:
    version, index = _open()
    day = config.today()
    table = public.levels_table(index, public.in_force(web.store(), version, day), day)
    home = viewer.home_area(index, table, web.settings().home, request.args.get("province"))
    run = {"run_id": "public", "date": day.isoformat(), "boundary_version": version, "manifest": {}}
    text = viewer.page(run, _ruleset(), web.lang(), [(day.isoformat(), "public")], index, home, public=True)
    return web.cached(Response(web.nonced(text), mimetype="text/html"), FRESH)


@bp.get("/tra-cuu/levels.json")
@security.public_view
def lookup_levels() -> ResponseReturnValue:
    version, index = _open()
    day = config.today()
    return web.cached(jsonify(public.levels_table(index, public.in_force(web.store(), version, day), day)), FRESH)


@bp.get("/tra-cuu/units/<code>")
@security.public_view
def lookup_unit(code: str) -> ResponseReturnValue:
    version, _ = _open()
    kind = _choice("unit", request.args.get("unit", "commune"), UNITS)
    found = public.unit(web.store(), version, public.in_force(web.store(), version, config.today()), kind, code[:20],
                        _ruleset())
    if found is None:
        raise NotFoundError("not_found", what=f"{kind} {code[:20]}")
    return web.cached(jsonify(found), FRESH)


@bp.get("/tra-cuu/search")
@security.public_view
def lookup_search() -> ResponseReturnValue:
    version, _ = _open()
    q = request.args.get("q", "")[:100]
    results = public.search(web.store(), version, public.in_force(web.store(), version, config.today()), q)
    return web.cached(jsonify({"results": results}), FRESH)
