"""Raster PNG tiles (XYZ, Web Mercator) of a run's levels, for Folium's TileLayer, QGIS or any
XYZ client: units filled with their level colour (outlines from z9), lockdowns hatched.

Rendered with rasterio.features (GDAL's rasteriser) and encoded by Pillow, on first request,
then kept under data/cache/tiles/<run_id>/: a run never changes, so neither do its tiles. Any run
has them, a backfilled day too (its levels table and the stored geometry are all it needs).
"""
from __future__ import annotations

import io
import json
import os
from functools import lru_cache
from pathlib import Path

import mercantile
import numpy as np
import shapely
from PIL import Image
from pyproj import Transformer
from rasterio.features import rasterize
from affine import Affine

from . import runfiles

SIZE = 256
# Fill opacity: the administrative outlines and any intranet basemap stay readable underneath.
FILL_ALPHA = 190
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
# ColorBrewer RdYlBu (colour-blind safe): blue, pale yellow, orange, dark red; unknown grey.
PALETTES = {"official": None,
            "cb": {"safe": "#4575b4", "risk": "#fee090", "high_risk": "#f46d43", "very_high_risk": "#a50026",
                   "unknown": "#bdbdbd"}}
# Rendered on request, so any zoom a client asks for up to street level.
MAX_ZOOM = 18
_TO_3857 = Transformer.from_crs("EPSG:4326", "EPSG:3857", always_xy=True)


def _project(geoms: np.ndarray) -> np.ndarray:
    return shapely.transform(geoms, lambda c: np.column_stack(_TO_3857.transform(c[:, 0], c[:, 1])))


@lru_cache(maxsize=8)
def _units(store_path: str, version: str, unit: str):
    """(codes, geometries in EPSG:3857, STRtree) of a boundary version, kept in memory per process."""
    from .store import Store
    units = Store(Path(store_path)).load_units(version, unit)
    geoms = _project(units.geometry.to_numpy())
    return units["code"].astype(str).to_numpy(), geoms, shapely.STRtree(geoms)


@lru_cache(maxsize=8)
def _bounds(store_path: str, version: str) -> tuple:
    from .store import Store
    return tuple(float(v) for v in Store(Path(store_path)).load_units(version, "province").total_bounds)


def bounds(store, version: str) -> tuple:
    """Lon/lat bounds of a boundary version (for TileJSON)."""
    return _bounds(str(store.path), version)


@lru_cache(maxsize=32)
def _table(run_dir: str, unit: str, codes: tuple):
    """(level, colour, level_differs) per unit in `codes` order."""
    t = runfiles.attributes(Path(run_dir), unit, ["code", "level", "color", "level_differs"]).set_index("code")
    t = t.reindex(list(codes))
    return (t["level"].fillna("unknown").to_numpy(object), t["color"].fillna("#9e9e9e").to_numpy(object),
            t["level_differs"].fillna(False).astype(bool).to_numpy())


def _colours(run_dir: str, unit: str, codes: tuple, palette: str, levels: frozenset | None) -> np.ndarray:
    """RGBA per unit: the run's level colours (or the palette's), transparent when filtered out."""
    level, colour, _ = _table(run_dir, unit, codes)
    if PALETTES[palette]:
        colour = np.array([PALETTES[palette][lv] for lv in level], dtype=object)
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


def render(store, run_dir: Path, version: str, unit: str, z: int, x: int, y: int, palette: str = "official",
           levels: frozenset | None = None) -> bytes | None:
    """PNG bytes of one tile, or None when nothing of the layer lies on it. `levels` keeps only
    units at those levels; `palette` is a key of PALETTES."""
    b = mercantile.xy_bounds(x, y, z)
    box = shapely.box(b.left, b.bottom, b.right, b.top)
    transform = Affine((b.right - b.left) / SIZE, 0, b.left, 0, -(b.top - b.bottom) / SIZE, b.top)
    tol = (b.right - b.left) / SIZE * SIMPLIFY_PX
    img = np.zeros((SIZE, SIZE, 4), dtype=np.uint8)
    if unit == "lockdown":
        geoms = _lockdowns(str(run_dir))
        hit = np.flatnonzero(shapely.intersects(geoms, box)) if len(geoms) else []
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
        ring = shapely.buffer(shapely.boundary(shapely.simplify(geoms[hit], tol)), 1.5 * tol / SIMPLIFY_PX)
        mask = rasterize(((g, 1) for g in ring), out_shape=(SIZE, SIZE), transform=transform, fill=0, dtype=np.uint8,
                         all_touched=True)
        img[mask == 1] = DIFFERS_RGBA
    else:
        codes, geoms, tree = _units(str(store.path), version, unit)
        hit = tree.query(box, predicate="intersects")
        if not len(hit):
            return None
        shown = shapely.simplify(geoms[hit], tol, preserve_topology=True)
        colours = _colours(str(run_dir), unit, tuple(codes), palette, levels)
        index = rasterize(zip(shown, range(1, len(hit) + 1)), out_shape=(SIZE, SIZE), transform=transform,
                          fill=0, dtype=np.int32)
        filled = index > 0
        img[filled] = colours[hit[index[filled] - 1]]
        if z >= OUTLINE_MIN_ZOOM or unit != "commune":
            edge = rasterize(((shapely.boundary(g), 1) for g in shown), out_shape=(SIZE, SIZE), transform=transform,
                             fill=0, dtype=np.uint8)
            img[edge == 1] = OUTLINE_RGBA
    if not img[..., 3].any():
        return None
    out = io.BytesIO()
    Image.fromarray(img, "RGBA").save(out, format="PNG", optimize=False)
    return out.getvalue()


def tile(store, run_dir: Path, version: str, unit: str, z: int, x: int, y: int, cache_dir: Path,
         palette: str = "official", levels: frozenset | None = None) -> bytes | None:
    """A tile from the cache, rendering it the first time (empty tiles are remembered as empty files)."""
    style = palette + ("" if levels is None else "-" + "-".join(sorted(levels)))
    path = cache_dir / "tiles" / run_dir.name / f"{unit}.{style}" / str(z) / str(x) / f"{y}.png"
    if path.exists():
        data = path.read_bytes()
        return data or None
    data = render(store, run_dir, version, unit, z, x, y, palette, levels)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{y}.{os.getpid()}.tmp")
    tmp.write_bytes(data or b"")
    os.replace(tmp, path)
    return data
