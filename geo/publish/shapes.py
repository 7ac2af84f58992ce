"""The shapes of a boundary version, built once and shared by every run published on it.

- `map.mbtiles` (and the same tiles as `xyz/z/x/y.mvt` files for nginx): one vector tile set with
  the layers `commune`, `district`, `province` (polygons carrying only `i`, their position in the
  version's index) and `label` (one point per unit where its name goes: `u` = c/d/p, `i`, `name`,
  `w` = width in degrees). The committee's page draws these and colours them from a run's small
  levels table (geo/publish/maplevels.py): a new day, a filter or a palette re-colours in the browser
  without fetching geometry again.
- `commune.mbtiles`, `district.mbtiles`, `province.mbtiles` (`code`, `i`): what each run's own
  vector tiles are joined from (tippecanoe's tile-join adds the day's attributes, see publish.py),
  so a daily run never tiles geometry.
- `index.json`: per unit kind the codes, names and parents in index order, and the provinces'
  bounding boxes (the page's province selector).

A folder is named by the version and the moment it was imported, so a re-imported version gets new
shapes; it is built in a staging folder and renamed when complete (readers never see half of it).
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.base.vocabulary import UNITS
from geo.publish import tiles
from geo.store import boundaries, formats
from geo.store.database import Store

# Polygon layers: the zooms of the runs' vector tiles (geo/publish/tiles.py), which are joined from these.
ZOOMS = {u: tiles.ZOOMS[u] for u in UNITS}
MAX_ZOOM = max(hi for _, hi in ZOOMS.values())
# Where each kind of name may appear (the page shows fewer: only names that fit and do not collide).
LABEL_MIN_ZOOM = {"province": 4, "district": 7, "commune": 8}
LABEL_CODE = {"commune": "c", "district": "d", "province": "p"}
# tippecanoe's detail below the top zoom: 2^10 units across a 256 px tile is 4 per pixel, and
# about half the bytes of the default 2^12 at the national overview.
LOW_DETAIL = 10
INDEX, MAP = "index.json", "map.mbtiles"
XYZ = "xyz"


def shapes_id(store: Store, version: str) -> str:
    """A name for the version's shapes: readable prefix + digest of (name, import time, source)."""
    with store.connect(readonly=True) as con:
        imported_at, source_sha256 = boundaries.version_stamp(con, version)
    stamp = f"{version}|{imported_at}|{source_sha256}"
    slug = re.sub(r"[^0-9A-Za-z_-]+", "-", version)[:40].strip("-") or "v"
    return f"{slug}-{hashlib.sha1(stamp.encode()).hexdigest()[:10]}"


def folder(data_dir: Path, sid: str) -> Path:
    return Path(data_dir) / "shapes" / sid


def ready(data_dir: Path, sid: str) -> bool:
    return (folder(data_dir, sid) / INDEX).exists()


def ensure(data_dir: Path, store: Store, version: str) -> str:
    """The shapes id of `version`, built first if it is not there yet (callers hold the writer lock)."""
    sid = shapes_id(store, version)
    if not ready(data_dir, sid):
        build(data_dir, store, version, sid)
    return sid


def _index(frames: dict, version: str, sid: str) -> dict:
    out: dict = {"id": sid, "version": version, "levels": list(frames), "zooms": [min(z[0] for z in ZOOMS.values()), MAX_ZOOM], "units": {}}
    pos = {u: pd.Series(np.arange(len(f)), index=f["code"].astype(str)) for u, f in frames.items()}
    for unit, f in frames.items():
        entry = {"code": f["code"].astype(str).tolist(), "name": f["name"].fillna("").astype(str).tolist()}
        for parent in [u for u in UNITS[UNITS.index(unit) + 1:] if u in frames]:
            entry[parent] = pos[parent].reindex(f[f"{parent}_code"].astype(str)).fillna(-1).astype(int).tolist()
        out["units"][unit] = entry
    prov = frames["province"]
    boxes = shapely.bounds(prov.geometry.to_numpy())
    out["units"]["province"]["bbox"] = [[round(float(v), 5) for v in b] for b in boxes]
    out["bounds"] = [round(float(v), 5) for v in prov.total_bounds]
    return out


def _labels(frame, unit: str) -> str:
    geoms = frame.geometry.to_numpy()
    pts = shapely.point_on_surface(geoms)
    width = shapely.bounds(geoms)[:, 2] - shapely.bounds(geoms)[:, 0]
    feats = []
    for k, (p, name, w) in enumerate(zip(pts, frame["name"].fillna("").astype(str), width, strict=False)):
        feats.append({"type": "Feature", "tippecanoe": {"minzoom": LABEL_MIN_ZOOM[unit]},
                      "properties": {"u": LABEL_CODE[unit], "i": k, "name": name, "w": round(float(w), 5)},
                      "geometry": {"type": "Point", "coordinates": [round(p.x, 6), round(p.y, 6)]}})
    return json.dumps({"type": "FeatureCollection", "features": feats}, ensure_ascii=False)


def shells(geoms: np.ndarray) -> np.ndarray:
    """Each (multi)polygon without its holes. A district's or province's holes are either gaps between
    its communes (a layer's slivers: squiggles in the middle of the map if outlined) or another
    unit inside it, which draws its own outline."""
    parts, owner = shapely.get_parts(geoms, return_index=True)
    out = np.array(geoms, dtype=object)
    shapely.multipolygons(shapely.polygons(shapely.get_exterior_ring(parts)), indices=owner, out=out)
    return out


def _tippecanoe(out: Path, layer: str, lo: int, hi: int, inputs: list[str], polygons: bool) -> subprocess.Popen:
    args = [tiles.tippecanoe_exe(), "-q", "-f", "-o", str(out), f"-Z{lo}", f"-z{hi}", "--no-tile-compression",
            "--no-feature-limit", "--no-tile-size-limit", f"--low-detail={LOW_DETAIL}"]
    if polygons:
        # neighbours simplified alike (no slivers of background between communes), none dropped as tiny
        args += ["-l", layer, "--detect-shared-borders", "--no-tiny-polygon-reduction"]
    else:
        args += ["-r1"]
    return tiles.start(args + inputs)


def build(data_dir: Path, store: Store, version: str, sid: str) -> Path:
    target = folder(data_dir, sid)
    stage = target.with_name(f".staging-{sid}-{os.getpid()}")
    shutil.rmtree(stage, ignore_errors=True)
    stage.mkdir(parents=True)
    frames = {u: store.load_units(version, u) for u in store.version_levels(version)}
    procs, label_inputs = [], []
    for unit, f in frames.items():
        src = stage / f".{unit}.geojson"
        props = pd.DataFrame({"code": f["code"].astype(str), "i": np.arange(len(f))})
        geojson = f["_geojson"] if unit == "commune" else formats.geometry_json(shells(f.geometry.to_numpy()))
        src.write_bytes(formats.feature_collection(formats.records(props), geojson))
        lo, hi = ZOOMS[unit]
        procs.append(_tippecanoe(stage / f"{unit}.mbtiles", unit, lo, hi, [str(src)], True))
        lab = stage / f".label-{unit}.geojson"
        lab.write_text(_labels(f, unit), encoding="utf-8")
        label_inputs.append(json.dumps({"file": str(lab), "layer": "label"}))
    procs.append(_tippecanoe(stage / "label.mbtiles", "label", 0, MAX_ZOOM, [f"-L{x}" for x in label_inputs], False))
    try:
        for p in procs:
            tiles.finish_build(p)
    finally:
        tiles.stop_builds(procs)
    # stored plain (-pC): a visitor fetches these once (cached for a year), and the app sends them with brotli, a
    # fifth smaller than the gzip tile-join would store (the national first visit is mostly these tiles)
    merge = [tiles.tile_join_exe(), "-q", "-f", "-o", str(stage / MAP), "-pk", "-pC", "-x", "code",
             *(str(stage / f"{u}.mbtiles") for u in (*frames, "label"))]
    tiles.run_checked(merge)
    tiles.explode(stage / MAP, stage / XYZ)
    for leftover in stage.glob(".*.geojson"):
        leftover.unlink()
    (stage / "label.mbtiles").unlink()
    (stage / INDEX).write_text(json.dumps(_index(frames, version, sid), ensure_ascii=False, separators=(",", ":")),
                               encoding="utf-8")
    os.sync()
    if target.exists():           # built meanwhile by another process: theirs is as good
        shutil.rmtree(stage, ignore_errors=True)
    else:
        os.rename(stage, target)
    return target


def index(data_dir: Path, sid: str) -> dict:
    return json.loads((folder(data_dir, sid) / INDEX).read_text(encoding="utf-8"))
