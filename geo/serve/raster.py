"""Raster PNG tiles (XYZ, Web Mercator) of a run's levels, for Folium's TileLayer, QGIS or any
XYZ client: units filled with their level colour (outlines from z9), lockdowns hatched.

Rendered with rasterio.features (GDAL's rasteriser) and encoded by Pillow (imported only when a
tile is rendered), on first request,
then kept under data/cache/tiles/<run_id>/: a run never changes, so neither do its tiles. Any run
has them, a backfilled day too (its levels table and the stored geometry are all it needs).
"""
from __future__ import annotations

import io
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import mercantile
import numpy as np
import shapely
from affine import Affine
from PIL import Image
from pyproj import Transformer
from rasterio.features import rasterize

from geo.base.vocabulary import PALETTES
from geo.serve import tilecache
from geo.store import runfiles
from geo.store.database import Store

SIZE = 256
# Fills are opaque: a unit's pixels are exactly its level's colour (a client may dim the layer itself).
FILL_ALPHA = 255
OUTLINE_RGBA = (60, 60, 60, 255)
# Below this zoom commune outlines would be a grey smear: fills only.
OUTLINE_MIN_ZOOM = 9
HATCH_RGBA = (40, 0, 60, 230)
# Hatch spacing in pixels (diagonal lines, as on the map page).
HATCH_PX = 6
# Geometry simplified to a third of a pixel at the tile's zoom: invisible, and much faster.
SIMPLIFY_PX = 0.33
# `differs`: communes whose declared level differs from the computed one, outlined (seen at a glance).
LAYERS = ("commune", "district", "province", "lockdown", "differs")
UNIT_OF = {"commune": "commune", "district": "district", "province": "province", "differs": "commune"}
DIFFERS_RGBA = (200, 0, 200, 255)
# Rendered on request, so any zoom a client asks for up to street level.
MAX_ZOOM = 18
# Below z5 a commune is smaller than a pixel: the commune layers start there (as their vector
# tiles do), the province layer shows the country below.
MIN_ZOOM = {"commune": 5, "differs": 5, "district": 0, "province": 0, "lockdown": 0}
# Runs published before PNG tiles were rendered on request only kept their overview tiles here.
PRERENDER_DIR = "tiles/png"
# Up to this zoom a simplified copy is derived from the next zoom's (overview tiles hold thousands of units).
OVERVIEW_MAX_ZOOM = 6


def _project(geoms: np.ndarray) -> np.ndarray:
    to_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)
    return shapely.transform(geoms, lambda c: np.column_stack(to_3857.transform(c[:, 0], c[:, 1])))


@lru_cache(maxsize=8)
def _units(store_path: str, version: str, unit: str):
    """(codes, geometries in EPSG:3857, STRtree) of a boundary version, kept in memory per process."""
    units = Store(store_path).load_units(version, unit, texts=False)
    geoms = _project(units.geometry.to_numpy())
    return units["code"].astype(str).to_numpy(), geoms, shapely.STRtree(geoms)


# Up to this zoom a simplified copy of the whole layer is kept per zoom (overview tiles hold thousands
# of units; simplifying once instead of per tile is what makes a cold national view fast).
CACHED_SIMPLIFY_MAX_ZOOM = 10
WEB_MERCATOR_WIDTH_M = 2 * 20037508.342789244


def _tolerance(z: int) -> float:
    return WEB_MERCATOR_WIDTH_M / (1 << z) / SIZE * SIMPLIFY_PX


@lru_cache(maxsize=3 * (CACHED_SIMPLIFY_MAX_ZOOM + 1))
def _simplified(store_path: str, version: str, unit: str, z: int) -> np.ndarray:
    """The layer simplified for zoom z; overview zooms from the next zoom's copy (the tolerance
    doubles at each step down, and simplifying an already simple copy is cheap)."""
    base = _simplified(store_path, version, unit, z + 1) if z < OVERVIEW_MAX_ZOOM else _units(store_path, version, unit)[1]
    return drop_specks(shapely.simplify(base, _tolerance(z), preserve_topology=True), (_tolerance(z) / SIMPLIFY_PX) ** 2)


def drop_specks(geoms: np.ndarray, min_area: float) -> np.ndarray:
    """Holes and parts smaller than a pixel left out (outlines derived from a layer with gaps carry
    thousands of pinholes and slivers); a unit keeps its largest part whatever its size."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    if not len(parts):
        return geoms
    rings, ring_part = shapely.get_rings(parts, return_index=True)
    shell = np.ones(len(rings), dtype=bool)
    shell[1:] = ring_part[1:] != ring_part[:-1]
    keep_ring = shell | (shapely.area(shapely.polygons(rings)) >= min_area)
    parts = shapely.polygons(rings[keep_ring], indices=ring_part[keep_ring])
    area = shapely.area(parts)
    largest = np.zeros(len(parts), dtype=bool)
    order = np.lexsort((-area, owner))
    first = np.ones(len(order), dtype=bool)
    first[1:] = owner[order][1:] != owner[order][:-1]
    largest[order[first]] = True
    keep = (area >= min_area) | largest
    out = np.array(geoms, dtype=object)
    shapely.multipolygons(parts[keep], indices=owner[keep], out=out)
    return out


def _shown(store, version: str, unit: str, z: int, hit: np.ndarray, geoms: np.ndarray) -> np.ndarray:
    if z <= CACHED_SIMPLIFY_MAX_ZOOM:
        return _simplified(str(store.path), version, unit, z)[hit]
    return shapely.simplify(geoms[hit], _tolerance(z), preserve_topology=True)


@lru_cache(maxsize=8)
def _bounds(store_path: str, version: str) -> tuple:
    return tuple(float(v) for v in Store(store_path).load_units(version, "province", texts=False).total_bounds)


def bounds(store, version: str) -> tuple:
    """Lon/lat bounds of a boundary version (for TileJSON)."""
    return _bounds(str(store.path), version)


def _table(run_dir: str, unit: str, codes: tuple):
    return _run_table(run_dir, unit, codes)


@lru_cache(maxsize=32)
def _run_table(run_dir: str, unit: str, codes: tuple):
    return _table_of(runfiles.attributes(Path(run_dir), unit, ["code", "level", "color", "level_differs"]), codes)


def _table_of(t, codes: tuple):
    """(level, colour, level_differs) per unit in `codes` order."""
    t = t.set_index("code").reindex(list(codes))
    return (t["level"].fillna("unknown").to_numpy(object), t["color"].fillna("#9e9e9e").to_numpy(object),
            t["level_differs"].fillna(False).astype(bool).to_numpy())


def _colours(run_dir: str, unit: str, codes: tuple, palette: str, levels: frozenset | None,
             in_force: InForce | None = None) -> np.ndarray:
    """RGBA per unit: the run's level colours (or the palette's), transparent when filtered out; with `in_force`,
    the committee's level where a decision is in force and the run's elsewhere."""
    level, colour, _ = _table(run_dir, unit, codes)
    chosen = PALETTES[palette]
    if in_force is not None and in_force.levels:
        decided = np.array([in_force.levels.get(c) for c in codes], dtype=object)
        mask = decided != None  # noqa: E711  (elementwise over an object array)
        level, colour = level.copy(), colour.copy()
        level[mask] = decided[mask]
        colour[mask] = [in_force.colours[lv] for lv in decided[mask]]
    if chosen:
        colour = np.array([chosen[lv] for lv in level], dtype=object)
    rgb = np.array([[int(h[i:i + 2], 16) for i in (1, 3, 5)] for h in colour], dtype=np.uint8).reshape(-1, 3)
    alpha = np.full(len(rgb), FILL_ALPHA, dtype=np.uint8)
    if levels is not None:
        alpha[~np.isin(level, list(levels))] = 0
    return np.column_stack([rgb, alpha])


@lru_cache(maxsize=32)
def _lockdowns(run_dir: str) -> np.ndarray:
    path = Path(run_dir) / "lockdown.geojson"
    feats = json.loads(path.read_text(encoding="utf-8"))["features"] if path.exists() else []
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in feats]) if feats else np.array([], dtype=object)
    return _project(np.asarray(geoms, dtype=object))


def _as_geojson(geoms: np.ndarray) -> list[dict]:
    """GeoJSON-like MultiPolygon dicts for rasterio, built with a few vectorised calls (shapely's
    per-geometry __geo_interface__ walks every coordinate in Python and dominated tile time)."""
    polys, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    cuts = (np.flatnonzero(np.diff(ring_of)) + 1).tolist()
    starts, ends = [0] + cuts, cuts + [len(xy)]
    points = xy.tolist()
    out = [{"type": "MultiPolygon", "coordinates": []} for _ in range(len(geoms))]
    owner, ring_poly = owner.tolist(), ring_poly.tolist()
    last_poly = -1
    poly_rings: list[list] = []     # rings of the polygon being filled
    for ring, a, b in zip(ring_of[starts].tolist(), starts, ends, strict=False):
        p = ring_poly[ring]
        if p != last_poly:
            poly_rings = []
            last_poly = p
            out[owner[p]]["coordinates"].append(poly_rings)
        poly_rings.append(points[a:b])
    return out


def _edges(index: np.ndarray) -> np.ndarray:
    """Pixels where the unit changes to the right or below: the outlines, from the fill raster itself."""
    edge = np.zeros(index.shape, dtype=bool)
    edge[:, :-1] |= index[:, :-1] != index[:, 1:]
    edge[:-1, :] |= index[:-1, :] != index[1:, :]
    return edge


@dataclass(frozen=True)
class InForce:
    """The committee's levels in force (unit code -> level), their colours, and what they are in a few characters
    (a tile drawn with them is cached under that name: a new decision draws new tiles)."""
    levels: dict
    colours: dict
    digest: str


def render(store, run_dir: Path, version: str, unit: str, z: int, x: int, y: int, palette: str = "official",
           levels: frozenset | None = None, in_force: InForce | None = None) -> bytes | None:
    """PNG bytes of one tile, or None when nothing of the layer lies on it. `levels` keeps only
    units at those levels; `palette` is a key of PALETTES; `in_force`: the levels in force instead of the run's."""
    if z < MIN_ZOOM[unit]:
        return None
    # imported here: serving a published or cached tile (most requests) needs neither
    b = mercantile.xy_bounds(x, y, z)
    box = shapely.box(b.left, b.bottom, b.right, b.top)
    transform = Affine((b.right - b.left) / SIZE, 0, b.left, 0, -(b.top - b.bottom) / SIZE, b.top)
    tol = (b.right - b.left) / SIZE * SIMPLIFY_PX
    img = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    if unit == "lockdown":
        geoms = _lockdowns(str(run_dir))
        hit = np.flatnonzero(shapely.intersects(geoms, box)) if len(geoms) else np.zeros(0, int)
        if not len(hit):
            return None
        mask = rasterize([(g, 1) for g in geoms[hit]], out_shape=(SIZE, SIZE), transform=transform, dtype=np.uint8)
        rows, cols = np.indices((SIZE, SIZE))
        stripes = ((rows + cols) % HATCH_PX) < 2
        img[(mask == 1) & stripes] = HATCH_RGBA
        edge = rasterize([(g.boundary, 1) for g in geoms[hit]], out_shape=(SIZE, SIZE), transform=transform, dtype=np.uint8)
        img[edge == 1] = HATCH_RGBA
    elif unit == "differs":
        codes, geoms, tree = _units(str(store.path), version, "commune")
        hit = tree.query(box, predicate="intersects")
        hit = hit[_table(str(run_dir), "commune", tuple(codes))[2][hit]]
        if not len(hit):
            return None
        ring = shapely.buffer(shapely.boundary(_shown(store, version, "commune", z, hit, geoms)), 1.5 * tol / SIMPLIFY_PX)
        mask = rasterize(((g, 1) for g in ring), out_shape=(SIZE, SIZE), transform=transform, fill=0, dtype=np.uint8,
                         all_touched=True)
        img[mask == 1] = DIFFERS_RGBA
    else:
        codes, geoms, tree = _units(str(store.path), version, unit)
        hit = tree.query(box, predicate="intersects")
        if not len(hit):
            return None
        shown = _shown(store, version, unit, z, hit, geoms)
        colours = _colours(str(run_dir), unit, tuple(codes), palette, levels, in_force)
        index = rasterize(zip(_as_geojson(shown), range(1, len(hit) + 1), strict=False), out_shape=(SIZE, SIZE),
                          transform=transform, fill=0, dtype=np.int32)
        filled = index > 0
        img[filled] = colours[hit[index[filled] - 1]]
        if z >= OUTLINE_MIN_ZOOM or unit != "commune":
            img[_edges(index)] = OUTLINE_RGBA
    if not img[..., 3].any():
        return None
    out = io.BytesIO()
    Image.fromarray(img, "RGBA").save(out, format="PNG", optimize=False)
    return out.getvalue()


def _path(root: Path, unit: str, style: str, z: int, x: int, y: int) -> Path:
    return root / f"{unit}.{style}" / str(z) / str(x) / f"{y}.png"


def tile(store, run_dir: Path, version: str, unit: str, z: int, x: int, y: int, cache_dir: Path,
         palette: str = "official", levels: frozenset | None = None, extent=None,
         cache_bytes: int = 512 << 20, render_rate: float = 20.0, in_force: InForce | None = None) -> bytes | None:
    """A tile from the cache (or a run published with overview tiles), else rendered and kept in the
    bounded cache (geo/serve/tilecache.py). `extent`: the layer's lon/lat bounds when known."""
    style = palette + ("" if levels is None else "-" + "-".join(sorted(levels)))
    if in_force is not None:
        style += "-in-force-" + in_force.digest
    w, s, e, n = extent or bounds(store, version)
    t = mercantile.bounds(x, y, z)
    if unit != "lockdown" and (t.east < w or t.west > e or t.north < s or t.south > n):
        return None          # off the map: nothing to load or draw (viewports reach past the country)
    root = cache_dir / "tiles"
    for path in (_path(run_dir / PRERENDER_DIR, unit, style, z, x, y), _path(root / run_dir.name, unit, style, z, x, y)):
        found = tilecache.read(path)
        if found is not None:
            return found or None
    data = tilecache.render(lambda: render(store, run_dir, version, unit, z, x, y, palette, levels, in_force),
                           render_rate)
    tilecache.write(path, data, root, cache_bytes)
    return data
