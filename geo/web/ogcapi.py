"""OGC API - Features over the published runs (geo/serve/ogc.py makes the documents)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
from flask import (
    Blueprint,
    request,
)
from flask.typing import ResponseReturnValue

from geo.base import i18n
from geo.base.errors import (
    InputError,
)
from geo.base.params import choice as _choice
from geo.serve import (
    declared,
    ogc,
    openapi,
    published,
)
from geo.web import common as web
from geo.web import whichrun

bp = Blueprint("ogc", __name__)


@bp.get("/ogc")
@bp.get("/ogc/")
def ogc_landing() -> ResponseReturnValue:
    return web.json_doc(ogc.landing(web.base(), i18n.t("ogc_title", web.lang())))


@bp.get("/ogc/conformance")
def ogc_conformance() -> ResponseReturnValue:
    return web.json_doc({"conformsTo": ogc.CONFORMANCE})


@bp.get("/ogc/api")
def ogc_openapi() -> ResponseReturnValue:
    resp = web.json_doc(openapi.document(web.base()))
    resp.mimetype = ogc.OPENAPI
    return resp


@bp.get("/ogc/collections")
def ogc_collections() -> ResponseReturnValue:
    run, first = whichrun.ogc_run(), whichrun.first_date()
    return web.json_doc(
        {
            "links": [{"href": f"{web.base()}/ogc/collections", "rel": "self", "type": ogc.JSON}],
            "collections": [ogc.describe(web.base(), u, run, first) for u in ogc.collections_of(run)],
        }
    )


@bp.get("/ogc/collections/<unit>")
def ogc_collection(unit: str) -> ResponseReturnValue:
    _choice("collection", unit, ogc.COLLECTIONS)
    run = whichrun.ogc_run()
    published.require_unit(run["manifest"], unit)
    return web.json_doc(ogc.describe(web.base(), unit, run, whichrun.first_date()))


@bp.get("/ogc/collections/<unit>/queryables")
def ogc_queryables(unit: str) -> ResponseReturnValue:
    _choice("collection", unit, ogc.COLLECTIONS)
    resp = web.json_doc(ogc.queryables(web.base(), unit))
    resp.mimetype = "application/schema+json"
    return resp


@bp.get("/ogc/collections/<unit>/items")
def ogc_items(unit: str) -> ResponseReturnValue:
    _choice("collection", unit, ogc.COLLECTIONS)
    ogc.check_params(unit, request.args)
    run = whichrun.ogc_run()
    published.require_unit(run["manifest"], unit)
    col = ogc.collection(web.store(), run, unit, web.settings().runs_dir, web.settings().cache_dir)
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    body = ogc.items_body(col, unit, request.args, f"{web.base()}/ogc/collections/{unit}/items", now, _in_force(run, unit))
    return web.geojson_response(body, run)


def _in_force(run: dict, unit: str) -> pd.DataFrame | None:
    """The committee's decisions in force on the run's day (units carry them beside their computed levels)."""
    return None if unit == "lockdown" else declared.in_force(web.store(), run["boundary_version"], run["date"])


@bp.get("/ogc/collections/<unit>/items/<fid>")
def ogc_item(unit: str, fid: str) -> ResponseReturnValue:
    _choice("collection", unit, ogc.COLLECTIONS)
    for name in request.args:
        if name not in ("datetime", "run") + ogc.COMMON_PARAMS:
            raise InputError("bad_param", name=name, value=request.args[name], allowed="datetime, run, f")
    run = whichrun.ogc_run()
    published.require_unit(run["manifest"], unit)
    col = ogc.collection(web.store(), run, unit, web.settings().runs_dir, web.settings().cache_dir)
    return web.geojson_response(
        ogc.item_body(col, fid, f"{web.base()}/ogc/collections/{unit}/items/{fid}", _in_force(run, unit)), run)
