"""Vector tiles of a run, stored as MBTiles and served as-is (nothing is encoded per request).

A run's commune, district and province tiles are its boundary version's shape tiles (geo/publish/shapes.py,
tiled once per version) with the day's attributes joined by tippecanoe's tile-join: no geometry is
tiled on a daily run. Lockdowns, which change from day to day, are tiled with tippecanoe itself.
Both come from the cubao-tippecanoe wheel."""
from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

import cubao_tippecanoe

from geo.store import mbtiles as mbtiles_file

# Zoom range per layer; clients overzoom past maxzoom. Polygons go to z10 (a pixel ~150 m, finer
# than the 2009 layer's vertices); communes start at z4, where the whole country fits a phone screen.
# Lockdowns are often a few streets: they go on to z14 and are never dropped as tiny polygons.
ZOOMS = {"province": (0, 10), "district": (0, 10), "commune": (4, 10), "lockdown": (5, 14)}
# Properties carried by the tiles (the rest stay in GeoJSON/GPKG to keep tiles small).
TILE_FIELDS = {"code": "String", "name": "String", "level": "String", "color": "String", "lockdown": "Boolean"}
LOCKDOWN_FIELDS = {"decision_no": "String", "issuer": "String", "name": "String", "start_date": "String",
                   "end_date": "String", "lifted_date": "String"}
LAYERS = ("commune", "district", "province", "lockdown")


# The same vector tiles as plain files (z/x/y.mvt) in each full run, for a web server in front of
# ours to send as static files (deploy/nginx-zones.conf); the MBTiles stay for GDAL, QGIS and us.
XYZ_DIR = "tiles/xyz"


def explode(mbtiles: Path, folder: Path, earlier: tuple[Path, Path] | None = None) -> int:
    """The tiles as files for nginx: a gzipped tile as it is stored, z/x/y.mvt.gz (nginx sends it as it is to a
    client that takes gzip, unpacked to one that does not: gzip_static always, gunzip), a plain one as z/x/y.mvt.
    One file per tile: creating a file is most of what this costs, and more the more runs the disk holds (a new
    inode is looked for near its folder's, among the earlier runs' thousands: 0.05 ms a file on an empty disk,
    0.4 ms beside twenty national runs). `earlier`: the same layer's MBTiles of an earlier run of the same shapes
    and the folder of its files; a tile the same to the byte as that run's is a hard link to its file
    (a published run is never written again, so sharing is safe; deleting either run leaves the other whole). Most
    tiles of a day are yesterday's: where no commune in a tile changed level, nothing in it changed."""
    rows = mbtiles_file.all_tiles(mbtiles)
    before, earlier_files = (mbtiles_file.tiles_by_position(earlier[0]), earlier[1]) if earlier else ({}, None)
    for z, x, tms_y, data in rows:
        d = folder / str(z) / str(x)
        d.mkdir(parents=True, exist_ok=True)
        name = f"{(1 << z) - 1 - tms_y}.mvt{'.gz' if gzipped(data) else ''}"
        if earlier_files is not None and before.get((z, x, tms_y)) == data and _linked(earlier_files, d, z, x, name):
            continue
        (d / name).write_bytes(data)
    return len(rows)


def _linked(earlier_files: Path, folder: Path, z: int, x: int, name: str) -> bool:
    """The earlier run's file hard-linked as this run's: False when it cannot be (no such file, another disk,
    too many links), and the tile is written instead."""
    try:
        os.link(earlier_files / str(z) / str(x) / name, folder / name)
    except OSError:
        return False
    return True


def gzipped(data: bytes | None) -> bool:
    """A tile stored gzipped (tippecanoe's default; tiles of older runs and shapes are plain)."""
    return data is not None and data[:2] == b"\x1f\x8b"


def fields(layer: str) -> dict:
    return LOCKDOWN_FIELDS if layer == "lockdown" else TILE_FIELDS


def _exe(name: str) -> str:
    found = glob.glob(os.path.join(os.path.dirname(cubao_tippecanoe.__file__), f"__cubao_tippecanoe_{name}*"))
    if not found:
        raise RuntimeError(f"{name} executable not found in the cubao-tippecanoe package")
    return found[0]


def tippecanoe_exe() -> str:
    return _exe("tippecanoe")


def tile_join_exe() -> str:
    return _exe("tile-join")


# tippecanoe and tile-join find how many files they may open by opening them, up to the soft limit, and keep about
# that many temporary files: under a service's high limit (20,000) a tiny layer spends half a second in the kernel
# (creating and unlinking thousands of files). 256, macOS's default, is plenty for the national layer.
TOOL_OPEN_FILES = 256


def start(args: list[str]) -> subprocess.Popen:
    """Start a tippecanoe tool with TOOL_OPEN_FILES open files at most (util-linux's prlimit, when there)."""
    prlimit = shutil.which("prlimit")
    limited = [prlimit, f"--nofile={TOOL_OPEN_FILES}:", "--", *args] if prlimit else args
    return subprocess.Popen(limited, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_checked(args: list[str]) -> None:
    proc = start(args)
    try:
        finish_build(proc)
    finally:
        stop_builds([proc])


def start_join(shapes: Path, table_csv: Path, out: Path) -> subprocess.Popen:
    """Start tile-join: the version's shape tiles of one unit kind with the day's attributes (the
    CSV's first column, `code`, is the key; the index `i` is left out of the run's tiles). Its tiles are
    gzipped (compressed once, in C, on the other core): sent as they are to every client that takes gzip."""
    return start([tile_join_exe(), "-q", "-f", "-o", str(out), "-pk", "-c", str(table_csv), "-x", "i", str(shapes)])


def start_build(geojson: Path, out: Path, layer: str) -> subprocess.Popen:
    """Start tippecanoe in the background (it uses the other core while Python writes the rest)."""
    lo, hi = ZOOMS[layer]
    args = [tippecanoe_exe(), "-q", "-f", "-o", str(out), "-l", layer, "-n", layer, f"-Z{lo}", f"-z{hi}",
            "--no-feature-limit", "--no-tile-size-limit"]
    if layer == "lockdown":
        args.append("--no-tiny-polygon-reduction")
    for name in fields(layer):
        args += ["-y", name]
    return start(args + [str(geojson)])


def stop_builds(procs: list[subprocess.Popen]) -> None:
    """Builds a failing caller will not finish: stopped and reaped (no orphan process, no open pipe)."""
    for proc in procs:
        if proc.returncode is None:
            proc.kill()
        if proc.stderr is not None and not proc.stderr.closed:
            proc.communicate()      # reaped and its pipe closed, even if it had ended by itself
        else:
            proc.wait()


def finish_build(proc: subprocess.Popen) -> None:
    _, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"tippecanoe failed ({proc.returncode}): {err.decode(errors='replace')[-2000:]}")


def tilejson(unit: str, tiles_url: str, bounds, name: str, attribution: str) -> dict:
    lo, hi = ZOOMS[unit]
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    return {
        "tilejson": "3.0.0", "name": name, "scheme": "xyz", "tiles": [tiles_url],
        "minzoom": lo, "maxzoom": hi, "bounds": [round(b, 6) for b in bounds],
        "center": [round(cx, 6), round(cy, 6), max(lo, min(hi, 7))], "attribution": attribution,
        "vector_layers": [{"id": unit, "fields": fields(unit), "minzoom": lo, "maxzoom": hi}],
    }


def raster_tilejson(tiles_url: str, bounds, maxzoom: int, name: str, attribution: str) -> dict:
    cx, cy = (bounds[0] + bounds[2]) / 2, (bounds[1] + bounds[3]) / 2
    return {"tilejson": "3.0.0", "name": name, "scheme": "xyz", "tiles": [tiles_url], "minzoom": 0,
            "maxzoom": maxzoom, "bounds": [round(b, 6) for b in bounds], "center": [round(cx, 6), round(cy, 6), 7],
            "attribution": attribution}
