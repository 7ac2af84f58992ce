"""One self-contained HTML file of a published day, for a USB stick or an email attachment: the committee's map
itself (geo/serve/viewer.py with the same script and styles), with everything it would ask the server for inlined,
so it reads the same offline: names, exact colours, the red and orange list, a unit's panel with its reasons,
measures and outlook, search. No request of any kind when opened.

What the page would fetch is answered from inside the file (geo/serve/static/offline.js stands in for `fetch`):
the boundary version's shape tiles from the lowest zoom up to the highest that fits the size budget (the map
draws closer zooms from them, as it does past the tiles' own zooms), the day's levels table, the shapes index,
the list, the declarations in force and the lockdowns, and per unit what its panel shows. Tiles and data are
gzip-compressed and base64-encoded (the browser's DecompressionStream opens them): the national layer stays
under 5 MB."""
from __future__ import annotations

import base64
import gzip
import json
from pathlib import Path

import numpy as np
import shapely

from geo.publish import maplevels, shapes
from geo.serve import declared, hotspots, viewer
from geo.store import runfiles
from geo.store.database import Store

STATIC = Path(__file__).parent / "static"
# What the tiles may weigh in the file (compressed, base64): the national layer's file must fit an e-mail (5 MB).
TILE_BUDGET = 3_400_000
# The red and orange list carries this many units (the rest is counted, as on a server's first page).
HOT_ROWS = 300
# The columns a unit's panel reads from the run's tables.
PANEL_COLUMNS = ["code", "explanation", "explanation_en", "community_cases", "population", "outlook_down_date",
                 "outlook_down_level", "outlook_safe_date", "measures", "outbreak_over"]


def _b64_gzip(data: bytes) -> str:
    return base64.b64encode(gzip.compress(data, 9, mtime=0)).decode("ascii")


def _tiles(folder: Path, lowest: int, highest: int) -> tuple[int, dict[str, list[int]], bytes]:
    """The shape tiles from `lowest` up to the highest zoom whose running total (compressed, base64) stays within
    TILE_BUDGET -> (that zoom, {"z/x/y": [offset, length]}, the tiles end to end)."""
    xyz = folder / shapes.XYZ
    chosen, index, blob = lowest, {}, b""
    for z in range(lowest, highest + 1):
        paths = sorted((xyz / str(z)).glob("*/*.mvt*"))       # a tile kept gzipped (.mvt.gz) or plain (.mvt)
        tiles = [gzip.decompress(p.read_bytes()) if p.suffix == ".gz" else p.read_bytes() for p in paths]
        if z > lowest and len(gzip.compress(blob + b"".join(tiles), 6)) * 4 / 3 > TILE_BUDGET:
            break
        for p, data in zip(paths, tiles, strict=True):
            index[f"{z}/{p.parent.name}/{p.name.split('.')[0]}"] = [len(blob), len(data)]
            blob += data
        chosen = z
    return chosen, index, blob


def _clean(values) -> list:
    """A column as JSON values: missing as null, whole numbers as ints."""
    out: list = []
    for v in values:
        if v is None or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, (float, np.floating)) and float(v).is_integer():
            out.append(int(v))
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def _adjacent(value) -> list[str]:
    if isinstance(value, str):
        return json.loads(value) if value.startswith("[") else [value]
    return [str(v) for v in value] if isinstance(value, (list, tuple, np.ndarray)) else []


def _panels(store: Store, run_dir: Path, run: dict, index: dict, lang: str) -> dict:
    """Per kind of unit, in the shapes index's order: what a panel shows (explanation, cases, population, outlook,
    measures, neighbours held by, lockdowns) and each unit's box (search moves the map there)."""
    out = {}
    lockdown_path = run_dir / "lockdown.geojson"
    lock_feats = json.loads(lockdown_path.read_text(encoding="utf-8"))["features"] if lockdown_path.exists() else []
    lock_geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"])) for f in lock_feats], dtype=object)
    for unit, idx in index["units"].items():
        kinds = runfiles.kinds_in(run["manifest"])
        if unit not in kinds:
            continue
        wanted = PANEL_COLUMNS + (["adjacent_to"] if unit == "commune" else [])
        table = runfiles.attributes(run_dir, unit)
        table = table[[c for c in wanted if c in table.columns]].copy()
        table["code"] = table["code"].astype(str)
        table = table.set_index("code").reindex([str(c) for c in idx["code"]])
        geoms = store.load_units(run["boundary_version"], unit, texts=False).set_index("code").geometry.reindex(table.index)
        boxes = shapely.bounds(geoms.to_numpy())
        panel = {"e": _clean(table["explanation_en" if lang == "en" else "explanation"]),
                 "b": [[round(float(x), 4) for x in b] if np.isfinite(b).all() else None for b in boxes]}
        for key, column in (("k", "community_cases"), ("p", "population"), ("od", "outlook_down_date"),
                            ("ol", "outlook_down_level"), ("os", "outlook_safe_date"), ("m", "measures"),
                            ("oo", "outbreak_over")):
            if column in table.columns:
                panel[key] = _clean(table[column])
        if "adjacent_to" in table.columns:
            panel["a"] = [_adjacent(v) if v is not None and v == v else [] for v in table["adjacent_to"]]
        if unit == "commune" and len(lock_geoms):
            inside = [np.flatnonzero(shapely.intersects(lock_geoms, g) & ~shapely.touches(lock_geoms, g)).tolist()
                      if g is not None else [] for g in geoms.to_numpy()]
            panel["lk"] = inside
        out[unit] = panel
    return out


def page(store: Store, data_dir: Path, runs_dir: Path, cache_dir: Path, run: dict, ruleset, lang: str,
         vendor_dir: Path) -> str:
    """The day's map as one file (the live page's HTML, scripts and data inlined)."""
    version = run["boundary_version"]
    run_dir = runs_dir / run["run_id"]
    sid = shapes.ensure(data_dir, store, version)
    index = shapes.index(data_dir, sid)
    table = json.loads(maplevels.path(store, data_dir, run_dir, run).read_text(encoding="utf-8"))
    lowest = viewer.MIN_ZOOM
    native, tile_index, blob = _tiles(shapes.folder(data_dir, sid), lowest, index["zooms"][1])
    home = viewer.home_area(index, table, None, None)
    now = declared.in_force(store, version, run["date"])
    hot = hotspots.in_force(store, runs_dir, cache_dir, run, now)        # the levels in force where decided
    lk_path = run_dir / "lockdown.geojson"
    data = {
        "run": run["run_id"], "sid": sid, "lang": lang, "table": table, "index": index, "tiles": tile_index,
        "hot": {**hot, "units": hot["units"][:HOT_ROWS], "total": len(hot["units"])},
        "declarations": {"date": run["date"], "boundary_version": version, "units": declared.listing(now)},
        "lockdowns": json.loads(lk_path.read_text(encoding="utf-8")) if lk_path.exists() else {"type": "FeatureCollection", "features": []},
        "panels": _panels(store, run_dir, run, index, lang), "measures": run["manifest"].get("measures") or [],
        "levels": [lv["id"] for lv in ruleset.levels] + ["unknown"],
    }
    text = viewer.page(run, ruleset, lang, [(run["date"], run["run_id"])], index, home, offline=True, native_zoom=native)
    return inline(text, vendor_dir, _b64_gzip(json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()),
                  _b64_gzip(blob))


def _module(path: Path) -> str:
    return "data:text/javascript;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _safe(script: str) -> str:
    """A script's text inside an HTML <script> element (it must not end it early)."""
    return script.replace("</script", "<\\/script").replace("<!--", "<\\!--")


def inline(text: str, vendor_dir: Path, data: str, tiles: str) -> str:
    """The live page with what it links to placed inside it: Leaflet, the page's styles and script, the tile
    decoder's modules (an import map of data: URLs), the data and the stand-in for `fetch`."""
    leaflet_css = (vendor_dir / "leaflet" / "dist" / "leaflet.css").read_text(encoding="utf-8")
    leaflet_css = leaflet_css.replace("url(images/", "url(data:,")          # no image is needed; never ask for one
    replacements = {
        '<script src="/vendor/leaflet/dist/leaflet.js"></script>':
            f'<script>{_safe((vendor_dir / "leaflet" / "dist" / "leaflet.js").read_text(encoding="utf-8"))}</script>',
        '<link rel="stylesheet" href="/vendor/leaflet/dist/leaflet.css"/>': f"<style>{leaflet_css}</style>",
        '<link rel="stylesheet" href="/assets/committee.css">':
            f'<style>{(STATIC / "committee.css").read_text(encoding="utf-8")}</style>',
        '<link rel="modulepreload" href="/assets/committee.js">': "",
    }
    for old, new in replacements.items():
        if old not in text:
            raise RuntimeError(f"the map page changed: {old!r} not found")      # the offline file would ask for it
        text = text.replace(old, new, 1)
    imports = {"pbf": _module(vendor_dir / "pbf" / "index.js"),
               "@mapbox/vector-tile": _module(vendor_dir / "@mapbox" / "vector-tile" / "index.js"),
               "@mapbox/point-geometry": _module(vendor_dir / "@mapbox" / "point-geometry" / "index.js")}
    text = text.replace(f'<script type="importmap">{json.dumps({"imports": viewer.IMPORTS})}</script>',
                        f'<script type="importmap">{json.dumps({"imports": imports})}</script>', 1)
    shim = (STATIC / "offline.js").read_text(encoding="utf-8")
    module = (STATIC / "committee.js").read_text(encoding="utf-8")
    text = text.replace('<script type="module" src="/assets/committee.js"></script>',
                        f'<script type="application/octet-stream" id="zones-offline-data">{data}</script>\n'
                        f'<script type="application/octet-stream" id="zones-offline-tiles">{tiles}</script>\n'
                        f"<script>{_safe(shim)}</script>\n<script type=\"module\">{_safe(module)}</script>", 1)
    if "/assets/" in text or '"/vendor/' in text.replace("/vendor/leaflet/dist/images", ""):
        raise RuntimeError("the offline page still names a file of the server")
    return text

