"""Tiles: TileJSON, a run's vector and picture tiles, a day's levels for the map, a boundary version's shapes."""

from __future__ import annotations

from flask import (
    Blueprint,
    jsonify,
    request,
)
from flask.typing import ResponseReturnValue

from geo.base.errors import (
    NotFoundError,
)
from geo.base.params import choice as _choice
from geo.base.vocabulary import LEVEL_IDS
from geo.publish import maplevels, shapes, tiles
from geo.serve import (
    declared,
    published,
)
from geo.web import common as web
from geo.web import security, whichrun
from geo.web.libraries import raster

bp = Blueprint("tiles", __name__)


@bp.get("/tiles/<unit>/tilejson.json")
def tilejson_latest(unit: str) -> ResponseReturnValue:
    return web.linked(web.cached(jsonify(whichrun.tilejson(whichrun.run_from_request(), unit)), web.SHORT))


@bp.get("/tiles/runs/<run_id>/<unit>/tilejson.json")
def tilejson_run(run_id: str, unit: str) -> ResponseReturnValue:
    return web.linked(web.cached(jsonify(whichrun.tilejson(whichrun.run_by_id(run_id), unit)), web.IMMUTABLE))


@bp.get("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.mvt")
def tile(run_id: str, unit: str, z: int, x: int, y: int) -> ResponseReturnValue:
    run = whichrun.run_by_id(run_id)
    whichrun.run_unit(run, unit, tiles.LAYERS)
    whichrun.check_tile(z, x, y, 24)
    lo, hi = tiles.ZOOMS[unit]
    if not lo <= z <= hi:  # as the TileJSON says: outside the zooms there are no tiles (overzoom z={hi})
        raise NotFoundError("tile_zoom", unit=unit, z=z, lo=lo, hi=hi)
    if unit == "lockdown" and run["manifest"].get("n_active_lockdowns") == 0:
        data = None  # a day without lockdowns has no lockdown tiles: every tile is empty
    else:
        data = published.tile(whichrun.full_run_file(run, f"tiles/{unit}.mbtiles"), z, x, y)
    return whichrun.tile_response(data, "application/vnd.mapbox-vector-tile", f"{run_id}/{unit}/{z}/{x}/{y}")


@bp.get("/tiles/runs/<run_id>/map-levels.json")
def map_levels(run_id: str) -> ResponseReturnValue:
    run = whichrun.run_by_id(run_id)
    path = maplevels.path(web.store(), web.settings().data_dir, whichrun.run_dir(run), run)
    return web.cached(
        web.send_file(path, mimetype="application/json", etag=True, max_age=None), web.IMMUTABLE
    ).make_conditional(request)


@bp.get("/tiles/shapes/<sid>/index.json")
@security.public_view
def shapes_index(sid: str) -> ResponseReturnValue:
    folder = whichrun.shapes_folder(sid)
    return web.cached(
        web.send_file(folder / shapes.INDEX, mimetype="application/json", etag=True, max_age=None), web.IMMUTABLE
    ).make_conditional(request)


@bp.get("/tiles/shapes/<sid>/<int:z>/<int:x>/<int:y>.mvt")
@security.public_view
def shapes_tile(sid: str, z: int, x: int, y: int) -> ResponseReturnValue:
    folder = whichrun.shapes_folder(sid)
    whichrun.check_tile(z, x, y, 24)
    if z > shapes.MAX_ZOOM:
        raise NotFoundError("tile_zoom", unit="shapes", z=z, lo=0, hi=shapes.MAX_ZOOM)
    data = published.tile(folder / shapes.MAP, z, x, y)
    return whichrun.tile_response(data, "application/vnd.mapbox-vector-tile", f"shapes/{sid}/{z}/{x}/{y}")


@bp.get("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.png")
def raster_tile(run_id: str, unit: str, z: int, x: int, y: int) -> ResponseReturnValue:
    run = whichrun.run_by_id(run_id)
    whichrun.run_unit(run, unit, raster.LAYERS)
    whichrun.check_tile(z, x, y, raster.MAX_ZOOM)
    palette = _choice("palette", request.args.get("palette", "official"), tuple(raster.PALETTES))
    levels = None
    if request.args.get("levels"):
        levels = frozenset(_choice("levels", v, LEVEL_IDS) for v in request.args["levels"].split(","))
    view = _choice("view", request.args.get("view", "proposal"), ("proposal", "in_force"))
    in_force = _in_force(run) if view == "in_force" else None
    s = web.settings()
    data = raster.tile(
        web.store(),
        whichrun.run_dir(run),
        run["boundary_version"],
        unit,
        z,
        x,
        y,
        s.cache_dir,
        palette,
        levels,
        run["manifest"].get("bounds", {}).get("province"),
        int(s.tile_cache_mb * (1 << 20)),
        s.tile_render_rate,
        in_force,
    )
    if in_force is not None:  # the levels in force change with each decision: a tile of them is not immutable
        return web.cached(whichrun.tile_response(data, "image/png", f"{run_id}/{unit}/{z}/{x}/{y}.png?{in_force.digest}"),
                          "no-cache")
    return whichrun.tile_response(data, "image/png", f"{run_id}/{unit}/{z}/{x}/{y}.png?{request.query_string.decode()}")


def _in_force(run: dict) -> raster.InForce:
    """The committee's levels in force on the run's day, with the colours of the run's ruleset."""
    table = declared.in_force(web.store(), run["boundary_version"], run["date"])
    rs = whichrun.ruleset(run["ruleset"])
    colours = {lv: rs.level(lv)["color"] for lv in [*rs.level_ids, "unknown"]}
    return raster.InForce(dict(table["level"]) if len(table) else {}, colours, declared.digest(table))
