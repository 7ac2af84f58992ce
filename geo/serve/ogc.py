"""OGC API - Features (Part 1: core, GeoJSON, OpenAPI 3.0) over published runs.

Four collections: commune, district, province, lockdown. A collection is the level map of one
published day: the latest run, `datetime=D` (an instant or an interval: the newest published day
inside it) or `run=RUN_ID`. Features are the run's own GeoJSON features (one per line in the file,
kept as text), with the unit code as id (lockdowns: their order in the run). Filters: bbox (true
intersection), equality on the queryable properties, limit/offset with next/prev links.
"""
from __future__ import annotations

import datetime as dt
import json
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import numpy as np
import pandas as pd
import pyogrio
import shapely

from geo.base.errors import InputError, NotFoundError
from geo.base.params import choice
from geo.serve import declared
from geo.store import runfiles

COLLECTIONS = ("commune", "district", "province", "lockdown")
TITLES = {"commune": "Xã, phường, thị trấn / communes", "district": "Quận, huyện / districts",
          "province": "Tỉnh, thành phố / provinces", "lockdown": "Vùng phong tỏa / lockdown areas"}
LEVELS = ("safe", "risk", "high_risk", "very_high_risk", "unknown")
# Equality filters per collection (a comma-separated value means "any of"): what other systems ask for.
QUERYABLES = {
    "commune": ("code", "level", "declared_level", "district_code", "province_code", "lockdown", "level_differs"),
    "district": ("code", "level", "declared_level", "province_code", "lockdown", "level_differs"),
    "province": ("code", "level", "declared_level", "lockdown", "level_differs"),
    "lockdown": ("decision_no", "issuer"),
}
BOOL_QUERYABLES = ("lockdown", "level_differs")
# Paging: GDAL and OWSLib follow `next` links; 10,000 keeps one page of a national layer under ~60 MB.
DEFAULT_LIMIT, MAX_LIMIT = 1000, 10000
# Parameters every items request may carry besides the filters (f: format, lang/token: ours).
COMMON_PARAMS = ("f", "lang", "token", "access_token")
ITEMS_PARAMS = ("bbox", "bbox-crs", "limit", "offset", "datetime", "run") + COMMON_PARAMS
CRS84 = "http://www.opengis.net/def/crs/OGC/1.3/CRS84"
CONFORMANCE = [
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/core",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson",
    "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/oas30",
]
GEOJSON, JSON, OPENAPI = "application/geo+json", "application/json", "application/vnd.oai.openapi+json;version=3.0"
# Collections kept in memory per process (a national commune layer is ~100 MB of text).
MAX_CACHED = 4


@dataclass
class Collection:
    run_id: str
    date: str
    boundary_version: str
    features: list[str]          # the Feature JSON text, id included
    ids: np.ndarray
    geoms: np.ndarray            # shapely geometries (for bbox)
    bounds: np.ndarray           # (n, 4)
    table: pd.DataFrame          # properties (for filters)


_CACHE: OrderedDict = OrderedDict()
_LOCK = threading.Lock()


def collection(store, run: dict, unit: str, runs_dir: Path, cache_dir: Path) -> Collection:
    key = (str(store.path), run["run_id"], unit)
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    built = _build(store, run, unit, runs_dir / run["run_id"], cache_dir)
    with _LOCK:
        _CACHE[key] = built
        while len(_CACHE) > MAX_CACHED:
            _CACHE.popitem(last=False)
    return built


def _build(store, run: dict, unit: str, run_dir: Path, cache_dir: Path) -> Collection:
    path = runfiles.geojson_path(store, run_dir, unit, cache_dir)
    pairs = list(runfiles.features(path, unit))
    if pairs:
        df = pyogrio.read_dataframe(path)
        geoms = df.geometry.values._data if hasattr(df.geometry.values, "_data") else np.asarray(df.geometry.values)
        table = df.drop(columns=df.geometry.name)
    else:
        geoms, table = np.array([], dtype=object), pd.DataFrame()
    if len(pairs) != len(table):
        raise NotFoundError("not_found", what=f"{path} (features and lines differ)")
    ids = np.array([i for i, _ in pairs], dtype=object)
    if unit != "lockdown" and not np.array_equal(ids, table["code"].astype(str).to_numpy()):
        raise NotFoundError("not_found", what=f"{path} (feature codes and lines differ)")
    bounds = shapely.bounds(geoms) if len(geoms) else np.zeros((0, 4))
    return Collection(run["run_id"], run["date"], run["boundary_version"], [t for _, t in pairs], ids, geoms, bounds,
                      table)


# -- parameters ------------------------------------------------------------------------------

def parse_bbox(text: str) -> tuple[float, float, float, float]:
    try:
        v = [float(x) for x in text.split(",")]
    except ValueError:
        v = []
    if len(v) == 6:          # 3D bbox: minx, miny, minz, maxx, maxy, maxz
        v = [v[0], v[1], v[3], v[4]]
    if len(v) != 4 or not all(np.isfinite(v)) or not (-90 <= v[1] <= 90 and -90 <= v[3] <= 90 and v[1] <= v[3]):
        raise InputError("bad_param", name="bbox", value=text, allowed="minLon,minLat,maxLon,maxLat (CRS84)")
    return v[0], v[1], v[2], v[3]


def parse_int(name: str, text: str | None, default: int, lo: int, hi: int) -> int:
    if text is None:
        return default
    try:
        v = int(text)
    except ValueError:
        raise InputError("bad_param", name=name, value=text, allowed=f"an integer in [{lo}, {hi}]") from None
    if not lo <= v <= hi:
        raise InputError("bad_param", name=name, value=text, allowed=f"an integer in [{lo}, {hi}]")
    return v


def parse_datetime(text: str) -> tuple[str | None, str | None]:
    """An RFC 3339 instant or interval ('..' open) as a (first day, last day) pair of ISO dates."""
    parts = text.split("/")
    if len(parts) > 2:
        raise InputError("bad_param", name="datetime", value=text, allowed="an instant or start/end (RFC 3339)")
    days: list[str | None] = []
    for p in parts:
        p = p.strip()
        if p in ("..", ""):
            days.append(None)
            continue
        try:
            days.append(dt.datetime.fromisoformat(p.replace("Z", "+00:00")).date().isoformat() if "T" in p
                        else dt.date.fromisoformat(p).isoformat())
        except ValueError:
            raise InputError("bad_param", name="datetime", value=text, allowed="an instant or start/end (RFC 3339)") from None
    if len(days) == 1:
        if days[0] is None:
            raise InputError("bad_param", name="datetime", value=text, allowed="an instant or start/end (RFC 3339)")
        return days[0], days[0]
    if days[0] and days[1] and days[0] > days[1]:
        raise InputError("bad_param", name="datetime", value=text, allowed="start <= end")
    return days[0], days[1]


def check_params(unit: str, args) -> None:
    allowed = set(ITEMS_PARAMS) | set(QUERYABLES[unit])
    for name in args:
        if name not in allowed:
            raise InputError("bad_param", name=name, value=args.get(name), allowed=", ".join(sorted(allowed)))
    if args.get("bbox-crs", CRS84) != CRS84:
        raise InputError("bad_param", name="bbox-crs", value=args["bbox-crs"], allowed=CRS84)
    if "f" in args:
        choice("f", args["f"], ("json", "geojson"))


# -- queries ---------------------------------------------------------------------------------

def select(col: Collection, unit: str, args) -> np.ndarray:
    """Indices of the features matching bbox and property filters, in file order."""
    keep = np.ones(len(col.features), dtype=bool)
    if "bbox" in args and len(keep):
        x0, y0, x1, y1 = parse_bbox(args["bbox"])
        b = col.bounds
        if x0 <= x1:
            keep &= (b[:, 0] <= x1) & (b[:, 2] >= x0) & (b[:, 1] <= y1) & (b[:, 3] >= y0)
            box = shapely.box(x0, y0, x1, y1)
        else:               # crosses the antimeridian: never near Vietnam, but valid
            box = shapely.union(shapely.box(x0, y0, 180, y1), shapely.box(-180, y0, x1, y1))
        cand = np.flatnonzero(keep)
        keep[cand] = shapely.intersects(col.geoms[cand], box)
    for name in QUERYABLES[unit]:
        if name not in args or name not in col.table.columns:
            if name in args and len(keep):
                keep[:] = False     # a filter on a property this run does not have matches nothing
            continue
        wanted = args[name].split(",")
        if name == "level" or name == "declared_level":
            for w in wanted:
                choice(name, w, LEVELS)
        values = col.table[name]
        if name in BOOL_QUERYABLES:
            flags = {w.strip().lower() in ("true", "1", "yes") for w in wanted}
            keep &= values.fillna(False).astype(bool).isin(flags).to_numpy()
        else:
            keep &= values.astype(str).isin(wanted).to_numpy() & values.notna().to_numpy()
    return np.flatnonzero(keep)


def _feature(col: Collection, i: int, in_force: pd.DataFrame | None) -> str:
    """Feature i of a collection, with its level in force beside the computed one once the committee decided."""
    if in_force is None or not len(in_force) or "level" not in col.table.columns:
        return col.features[i]
    return declared.feature_text(col.features[i], str(col.ids[i]), col.table["level"].iat[i], in_force)


def items_body(col: Collection, unit: str, args, base_url: str, now: str, in_force: pd.DataFrame | None = None) -> str:
    check_params(unit, args)
    limit = parse_int("limit", args.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT)
    offset = parse_int("offset", args.get("offset"), 0, 0, 10**9)
    idx = select(col, unit, args)
    page = idx[offset:offset + limit]
    links = [_link(base_url, args, None, "self", GEOJSON),
             _link(base_url, {}, None, "collection", JSON, path_up=True)]
    if offset + limit < len(idx):
        links.append(_link(base_url, args, offset + limit, "next", GEOJSON))
    if offset > 0:
        links.append(_link(base_url, args, max(0, offset - limit), "prev", GEOJSON))
    head = {"type": "FeatureCollection", "numberMatched": int(len(idx)), "numberReturned": int(len(page)),
            "timeStamp": now, "links": links, "date": col.date, "run_id": col.run_id,
            "boundary_version": col.boundary_version}
    meta = json.dumps(head, ensure_ascii=False)[1:-1]
    return "{" + meta + ',"features":[\n' + ",\n".join(_feature(col, i, in_force) for i in page) + "\n]}\n"


def item_body(col: Collection, fid: str, base_url: str, in_force: pd.DataFrame | None = None) -> str:
    hits = np.flatnonzero(col.ids == fid)
    if not len(hits):
        raise NotFoundError("not_found", what=f"feature {fid}")
    links = json.dumps([{"href": base_url, "rel": "self", "type": GEOJSON},
                        {"href": base_url.rsplit("/items/", 1)[0], "rel": "collection", "type": JSON}])
    text = _feature(col, int(hits[0]), in_force)
    return text[:-1] + f',"links":{links}}}'


def _link(base_url: str, args, offset, rel: str, mime: str, path_up: bool = False) -> dict:
    if path_up:
        return {"href": base_url.rsplit("/items", 1)[0], "rel": rel, "type": mime}
    q = {k: v for k, v in args.items()}
    if offset is not None:
        q["offset"] = str(offset)
    return {"href": base_url + ("?" + urlencode(q) if q else ""), "rel": rel, "type": mime}


# -- documents -------------------------------------------------------------------------------

def landing(base: str, title: str) -> dict:
    return {"title": title, "description": "Cấp độ dịch COVID-19 theo xã, huyện, tỉnh / COVID-19 levels by unit",
            "links": [{"href": f"{base}/ogc", "rel": "self", "type": JSON, "title": "this document"},
                      {"href": f"{base}/ogc/api", "rel": "service-desc", "type": OPENAPI, "title": "OpenAPI"},
                      {"href": f"{base}/ogc/conformance", "rel": "conformance", "type": JSON},
                      {"href": f"{base}/ogc/collections", "rel": "data", "type": JSON}]}


def collections_of(run: dict) -> tuple[str, ...]:
    """The run's collections: the kinds of unit its boundary version has, and lockdowns."""
    return (*runfiles.kinds_in(run["manifest"]), "lockdown")


def describe(base: str, unit: str, run: dict, first_date: str | None) -> dict:
    m = run["manifest"]
    bbox = (m.get("bounds") or {}).get(unit) or (m.get("bounds") or {}).get("province") or [-180, -90, 180, 90]
    url = f"{base}/ogc/collections/{unit}"
    return {"id": unit, "title": TITLES[unit], "itemType": "feature", "crs": [CRS84],
            "description": f"{TITLES[unit]}: {m['date']}, {m['ruleset']}, boundaries {m['boundary_version']}",
            "extent": {"spatial": {"bbox": [list(bbox)], "crs": CRS84},
                       "temporal": {"interval": [[f"{first_date or m['date']}T00:00:00Z", f"{m['date']}T23:59:59Z"]],
                                    "trs": "http://www.opengis.net/def/uom/ISO-8601/0/Gregorian"}},
            "boundary_version": m["boundary_version"], "run_id": run["run_id"],
            "links": [{"href": url, "rel": "self", "type": JSON},
                      {"href": f"{url}/items", "rel": "items", "type": GEOJSON},
                      {"href": f"{url}/queryables", "rel": "http://www.opengis.net/def/rel/ogc/1.0/queryables",
                       "type": "application/schema+json"}]}


def queryables(base: str, unit: str) -> dict:
    props = {}
    for name in QUERYABLES[unit]:
        if name in ("level", "declared_level"):
            props[name] = {"type": "string", "enum": list(LEVELS)}
        elif name in BOOL_QUERYABLES:
            props[name] = {"type": "boolean"}
        else:
            props[name] = {"type": "string"}
    return {"$schema": "https://json-schema.org/draft/2019-09/schema", "$id": f"{base}/ogc/collections/{unit}/queryables",
            "type": "object", "title": TITLES[unit], "properties": props}
