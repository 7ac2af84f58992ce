"""Which published run a request means (?run=, ?date=[&as_of=], the latest), its files, the shapes it is drawn
with, and the checks of a tile's address."""

from __future__ import annotations

import gzip
import hashlib
import re
from pathlib import Path

from flask import (
    Response,
    current_app,
    request,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from geo.base.errors import (
    InputError,
    NotFoundError,
)
from geo.base.i18n import vn_date
from geo.base.params import choice as _choice
from geo.base.params import parse_as_of as _parse_as_of
from geo.base.params import parse_day as _parse_day
from geo.base.vocabulary import UNITS
from geo.publish import shapes, tiles
from geo.serve import (
    ogc,
    published,
)
from geo.web import common as web
from geo.web.libraries import raster
from rules.expr import did_you_mean
from rules.ruleset import Ruleset

RUN_ID_RE = re.compile(r"^[0-9A-Za-z_\-]{6,64}$")


def run_from_request() -> dict:
    store = web.store()
    if "run" in request.args:
        return run_by_id(request.args["run"])
    if "date" in request.args:
        day = _parse_day(request.args["date"]).isoformat()
        as_of = _parse_as_of(request.args["as_of"]) if "as_of" in request.args else None
        run = store.run_for_date(day, as_of)
        if run is None:
            raise NotFoundError(
                "no_run_for_date", date=vn_date(day) + (f" (as of {request.args['as_of']})" if as_of else ""), iso=day
            )
        return run
    run = store.latest_run()
    if run is None:
        raise NotFoundError("no_run")
    return run


def run_by_id(run_id: str) -> dict:
    run = web.store().published_run(run_id) if RUN_ID_RE.match(run_id or "") else None
    if run is None:
        raise NotFoundError("no_run_id", run_id=run_id)
    return run


def ruleset(ruleset_id: str) -> Ruleset:
    found = current_app.config["RULESETS"].get(ruleset_id)
    if found is None:
        raise NotFoundError(
            "unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, current_app.config["RULESETS"])
        )
    return found


def run_dir(run: dict) -> Path:
    return web.settings().runs_dir / run["run_id"]


def full_run_file(run: dict, name: str) -> Path:
    """A file only full runs have (map, tiles): a backfilled day has its levels, not its pictures."""
    path = run_dir(run) / name
    if not path.exists():
        raise NotFoundError("levels_run", run_id=run["run_id"], date=run["date"])
    return path


def geojson(run: dict, unit: str) -> Path:
    return published.geojson(web.settings(), run_dir(run), unit)


def shapes_id(run: dict) -> str:
    return run["manifest"].get("shapes") or shapes.shapes_id(web.store(), run["boundary_version"])


SHAPES_ID_RE = re.compile(r"^[0-9A-Za-z_-]{1,64}$")


def shapes_folder(sid: str) -> Path:
    if not SHAPES_ID_RE.match(sid) or not shapes.ready(web.settings().data_dir, sid):
        raise NotFoundError("not_found", what=f"shapes {sid}")
    return shapes.folder(web.settings().data_dir, sid)


def shapes_index(sid: str) -> dict:
    """A version's shapes index, remembered per process (shapes never change once built)."""
    key = (str(web.settings().data_dir), sid)
    found = SHAPES_INDEX.get(key)
    if found is None:
        shapes_folder(sid)
        found = SHAPES_INDEX[key] = shapes.index(web.settings().data_dir, sid)
    return found


SHAPES_INDEX: dict = {}


def ogc_run() -> dict:
    """The run an OGC request reads: ?run=, ?datetime= (instant or interval), else the latest."""
    if "run" in request.args:
        return run_by_id(request.args["run"])
    if "datetime" in request.args:
        first, last = ogc.parse_datetime(request.args["datetime"])
        run = web.store().latest_run_between(first, last)
        if run is None:
            raise NotFoundError("no_run_for_date", date=f"{first or '..'}/{last or '..'}")
        return run
    run = web.store().latest_run()
    if run is None:
        raise NotFoundError("no_run")
    return run


def first_date() -> str | None:
    return web.store().first_date()


def check_tile(z: int, x: int, y: int, max_zoom: int) -> None:
    if not (0 <= z <= max_zoom and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise InputError("bad_param", name="z/x/y", value=f"{z}/{x}/{y}", allowed=f"0 <= x, y < 2^z, z <= {max_zoom}")


def tile_response(data: bytes | None, mimetype: str, key: str) -> WerkzeugResponse:
    """Run-addressed tiles never change: immutable, with an ETag; an empty tile is 204. A tile stored gzipped goes
    as it is to a client that takes gzip (never compressed again), unpacked for one that does not."""
    packed = tiles.gzipped(data)
    if packed and not request.accept_encodings["gzip"]:
        data, packed = gzip.decompress(data or b""), False
    resp = Response(data or b"", status=200 if data else 204, mimetype=mimetype)
    resp.headers["Cache-Control"] = web.IMMUTABLE
    if packed:
        resp.headers["Content-Encoding"] = "gzip"
    resp.vary.add("Accept-Encoding")
    resp.set_etag(hashlib.sha1(f"{key}|{'gzip' if packed else ''}".encode()).hexdigest()[:20])
    return resp.make_conditional(request)


def run_unit(run: dict, value: str, allowed: tuple[str, ...] = UNITS) -> str:
    """A kind of unit asked for, checked against the run's boundary version (404 naming it when absent)."""
    unit = _choice("unit", value, allowed)
    published.require_unit(run["manifest"], unit)
    return unit


def tilejson(run: dict, unit: str) -> dict:
    """TileJSON 3.0.0 of a run's vector tiles, or with ?format=png of its raster tiles."""
    m = run["manifest"]
    base = web.base()
    if _choice("format", request.args.get("format", "mvt"), ("mvt", "png")) == "png":
        run_unit(run, unit, raster.LAYERS)
        url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.png"
        return tiles.raster_tilejson(
            url,
            raster.bounds(web.store(), m["boundary_version"]),
            raster.MAX_ZOOM,
            f"{unit} {m['date']} ({m['ruleset']})",
            f"run {run['run_id']}, boundaries {m['boundary_version']}",
        )
    run_unit(run, unit, tiles.LAYERS)
    if not (unit == "lockdown" and m.get("n_active_lockdowns") == 0):
        full_run_file(run, f"tiles/{unit}.mbtiles")
    url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.mvt"
    return tiles.tilejson(
        unit,
        url,
        m["bounds"][unit],
        f"{unit} {m['date']} ({m['ruleset']})",
        f"run {run['run_id']}, boundaries {m['boundary_version']}",
    )
