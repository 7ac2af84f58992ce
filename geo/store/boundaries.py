"""Boundary versions in the store: their units, adjacency and crosswalk rows (geo/ingest/units.py
validates and derives them; this writes and reads them)."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass

import pandas as pd
import shapely

from geo.store.connection import Connection

# Which column of a commune row names each parent level.
PARENT_COLUMN = {"commune": "code", "district": "district_code", "province": "province_code"}


@dataclass
class Version:
    """A boundary version as stored: its units per level (rows in `units` column order, geometry as
    WKB and GeoJSON text), adjacency pairs, crosswalk links from the previous version, the import report."""
    name: str
    source: str
    source_sha256: str
    source_crs: str
    n_communes: int
    report: dict
    units: dict[str, list[tuple]]
    adjacency: list[tuple]
    method: str
    crosswalk: list[tuple] | None
    previous: str | None
    valid_from: str | None = None     # the first day it is in force: a case dated before reads its codes as earlier ones


def replace_version(con: Connection, v: Version) -> None:
    """Write a version (replacing one of the same name) and make it the current one."""
    now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    con.execute("DELETE FROM units WHERE boundary_version = ?", (v.name,))
    con.execute("DELETE FROM adjacency WHERE boundary_version = ?", (v.name,))
    # points placed against the polygons being replaced are placed again by the next evaluation (it keeps the
    # commune of a point only when the point was placed under the version it evaluates)
    con.execute("UPDATE cases SET code_version = NULL WHERE code_version = ? AND located_by = 'point'", (v.name,))
    for unit, rows in v.units.items():
        con.executemany("INSERT INTO units VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", [(v.name, unit, *r) for r in rows])
    con.executemany("INSERT INTO adjacency VALUES (?,?,?,?,?)", [(v.name, v.method, *pair) for pair in v.adjacency])
    if v.crosswalk is not None:
        con.execute("DELETE FROM crosswalk WHERE to_version = ?", (v.name,))
        con.executemany("INSERT INTO crosswalk VALUES (?,?,?,?,?)", [(v.previous, v.name, *link) for link in v.crosswalk])
    con.execute("UPDATE boundary_versions SET is_current = 0")
    con.execute("DELETE FROM boundary_versions WHERE name = ?", (v.name,))
    con.execute("INSERT INTO boundary_versions (name, imported_at, source, source_sha256, source_crs, n_communes, report, "
                "is_current, valid_from) VALUES (?,?,?,?,?,?,?,1,?)",
                (v.name, now, v.source, v.source_sha256, v.source_crs, v.n_communes, json.dumps(v.report), v.valid_from))


def versions(con: Connection) -> list[dict]:
    """Every boundary version, oldest in force first: (name, valid_from, imported_at, is_current)."""
    rows = con.execute("SELECT name, valid_from, imported_at, is_current FROM boundary_versions").fetchall()
    out = [{"name": r[0], "valid_from": r[1], "imported_at": r[2], "is_current": bool(r[3])} for r in rows]
    return sorted(out, key=lambda v: (v["valid_from"] or "", v["imported_at"]))


def version_stamp(con: Connection, version: str) -> tuple[str, str]:
    """(import time, source SHA-256) of a version, ('', '') when there is none."""
    row = con.execute("SELECT imported_at, source_sha256 FROM boundary_versions WHERE name = ?", (version,)).fetchone()
    return (row[0], row[1]) if row else ("", "")


def kinds(con: Connection, version: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT DISTINCT unit FROM units WHERE boundary_version = ?", (version,))}


def unit_codes(con: Connection, version: str, unit: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT code FROM units WHERE boundary_version = ? AND unit = ?", (version, unit))}


def commune_codes(con: Connection, version: str) -> set[str]:
    return {r[0] for r in con.execute("SELECT code FROM units WHERE boundary_version = ? AND unit = 'commune'", (version,))}


def any_commune(con: Connection, codes: Iterable[str]) -> bool:
    """Is any of `codes` a commune of any version?"""
    codes = list(codes)
    if not codes:
        return False
    marks = ",".join("?" * len(codes))
    return con.execute(f"SELECT 1 FROM units WHERE unit = 'commune' AND code IN ({marks}) LIMIT 1",
                       tuple(codes)).fetchone() is not None


def communes_of(con: Connection, version: str | None, unit: str, code: str) -> list[str]:
    """The communes of `version` inside the unit `code` of level `unit`."""
    column = PARENT_COLUMN[unit]
    return [r[0] for r in con.execute(f"SELECT code FROM units WHERE boundary_version = ? AND unit = 'commune' AND "
                                      f"{column} = ? ORDER BY code", (version, code))]


def crosswalk_edges(con: Connection) -> pd.DataFrame:
    return pd.read_sql_query("SELECT from_version, to_version, old_code, new_code, weight FROM crosswalk", con)


def unit_bounds(con: Connection, version: str, unit: str = "commune") -> pd.DataFrame:
    """Each unit's code, names and lon/lat bounds (minx, miny, maxx, maxy), the geometry read in chunks and let go:
    a search index of the whole country without a worker ever holding its polygons."""
    parts = []
    for df in pd.read_sql_query("SELECT code, name, district_name, province_name, geom FROM units "
                                "WHERE boundary_version = ? AND unit = ? ORDER BY code", con,
                                params=(version, unit), chunksize=500):
        bounds = shapely.bounds(shapely.from_wkb(df.pop("geom").to_numpy()))
        parts.append(df.assign(minx=bounds[:, 0], miny=bounds[:, 1], maxx=bounds[:, 2], maxy=bounds[:, 3]))
    return pd.concat(parts, ignore_index=True)
