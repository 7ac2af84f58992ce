"""import-units: read any GDAL vector file, validate, repair, derive districts and provinces,
measure the topology, compute adjacency, and store it all in one transaction."""
from __future__ import annotations

import hashlib
import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyproj
import shapely

from geo.base.columns import UNIT_ALIASES, Unit, UnitCol, rename_columns
from geo.base.errors import ConflictError, InputError
from geo.domain import adjacency
from geo.ingest import crosswalk, derive, nesting, population
from geo.ingest.tables import cell, parse_number
from geo.ingest.versions import check_version_name, content_digest, default_version_name, existing_digest
from geo.store import boundaries
from geo.store.database import Store, to_wkb
from geo.store.formats import geometry_json

REQUIRED = (UnitCol.CODE, UnitCol.NAME, UnitCol.PROVINCE_CODE)
# A layer without a district code (or with an empty one everywhere) is a two-level version: communes
# and provinces, as Vietnam since 1/7/2025; one where only some communes lack it is refused.
# Overlaps smaller than this (m²) are numerical noise along shared edges, not real overlaps.
MIN_OVERLAP_M2 = 1.0
# Tolerances for which candidate neighbour pairs are stored at import (the default ruleset's).
DEFAULT_TOLERANCE_M = 20.0
# At most this many problems are listed in a message; the full list goes to the report file.
MAX_LISTED = 20


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def code_str(value) -> str | None:
    """Codes as text; 4110101.0 read from a numeric column becomes '4110101'."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, (float, np.floating)) and float(value).is_integer():
        value = int(value)
    s = str(value).strip()
    return s or None


# Vietnam with its islands (Trường Sa reaches 117.8° E), a little wider: a commune outside this box
# is a file in another CRS than it says, not a commune.
VIETNAM_BOUNDS = (101.5, 5.5, 118.5, 24.0)


def read_vector(path: Path, crs: str | None = None) -> gpd.GeoDataFrame:
    if not path.exists():
        raise InputError("file_missing", path=str(path))
    try:
        gdf = pyogrio.read_dataframe(path)
    except Exception as exc:  # GDAL raises many types; all mean "cannot read this file"
        raise InputError("file_unreadable", path=str(path), detail=str(exc).strip()) from None
    if crs:
        try:
            gdf = gdf.set_crs(pyproj.CRS.from_user_input(crs), allow_override=True)
        except pyproj.exceptions.CRSError as exc:
            raise InputError("bad_crs", crs=crs, detail=str(exc)) from None
    if not isinstance(gdf, gpd.GeoDataFrame) or gdf.geometry.name not in gdf.columns:
        raise InputError("file_unreadable", path=str(path), detail="no geometry: not a vector layer")
    if gdf.crs is None:
        raise InputError("no_crs", path=str(path))
    return gdf


def prepare_communes(gdf: gpd.GeoDataFrame, path: Path, column_map: dict[str, str] | None = None):
    """Rename, check and repair. Returns (communes in EPSG:4326, list of repaired codes); the
    units whose population could not be read are listed in the frame's attrs["population_unknown"]."""
    raw_crs = gdf.crs.to_string() if gdf.crs else None
    mapping = rename_columns([c for c in gdf.columns if c != gdf.geometry.name], UNIT_ALIASES, column_map)
    gdf = gdf.rename(columns=mapping)
    missing = [c.value for c in REQUIRED if c.value not in gdf.columns]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing),
                         present=", ".join(c for c in gdf.columns if c != gdf.geometry.name))
    for col in (UnitCol.DISTRICT_CODE, UnitCol.DISTRICT_NAME, UnitCol.PROVINCE_NAME, UnitCol.POPULATION):
        if col.value not in gdf.columns:
            gdf[col.value] = None
    for col in (UnitCol.CODE, UnitCol.DISTRICT_CODE, UnitCol.PROVINCE_CODE):
        gdf[col.value] = [code_str(v) for v in gdf[col.value]]
    two_level = bool(gdf[UnitCol.DISTRICT_CODE.value].isna().all())
    if two_level:
        gdf[UnitCol.DISTRICT_NAME.value] = None
    pop_text = gdf[UnitCol.POPULATION.value].map(cell)
    population, pop_err = parse_number(pop_text, "whole")      # "7.657" people is 7657 (Vietnamese thousands)
    gdf[UnitCol.POPULATION.value] = population

    problems: list[str] = []

    def feature(i):
        return f"feature {i + 1} (code={code_str(gdf[UnitCol.CODE.value].iat[i])!r}, name={gdf[UnitCol.NAME.value].iat[i]!r})"

    # A population that is not a head count (fractional, not a number, ambiguous) does not refuse the
    # layer: that unit's population is unknown (its rates, and the levels needing them, are unknown
    # with a reason) and the import report lists it.
    bad_pop = np.flatnonzero(pop_err != "")
    gdf.loc[gdf.index[bad_pop], UnitCol.POPULATION.value] = np.nan
    population_unknown = [f"{feature(i)}: population {pop_err[i]}" for i in bad_pop]

    for col in (UnitCol.CODE, *(() if two_level else (UnitCol.DISTRICT_CODE,)), UnitCol.PROVINCE_CODE):
        for i in np.flatnonzero(gdf[col.value].isna().to_numpy()):
            problems.append(f"{feature(i)}: missing {col.value}")
    dup = gdf[UnitCol.CODE.value].duplicated(keep=False) & gdf[UnitCol.CODE.value].notna()
    for code, idx in gdf[dup].groupby(UnitCol.CODE.value).groups.items():
        rows = ", ".join(str(gdf.index.get_loc(k) + 1) for k in idx)
        problems.append(f"duplicate code {code!r} in features {rows}")
    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    for i in np.flatnonzero(empty):
        problems.append(f"{feature(i)}: empty geometry")
    kinds = shapely.get_type_id(geoms)
    for i in np.flatnonzero(~empty & ~np.isin(kinds, (3, 6))):
        problems.append(f"{feature(i)}: geometry is {shapely.get_type_id(geoms[i])} not a polygon")
    for i in np.flatnonzero(gdf[UnitCol.POPULATION.value].to_numpy() < 0):
        problems.append(f"{feature(i)}: negative population")
    if problems:
        shown = problems[:MAX_LISTED] + ([f"... and {len(problems) - MAX_LISTED} more"] if len(problems) > MAX_LISTED else [])
        raise InputError("units_invalid", path=str(path), n=len(problems), details="\n".join(shown))

    invalid = ~shapely.is_valid(geoms)
    repaired = [gdf[UnitCol.CODE.value].iat[i] for i in np.flatnonzero(invalid)]
    if invalid.any():
        fixed = shapely.make_valid(geoms[invalid])
        geoms = geoms.copy()
        geoms[invalid] = [_polygonal(g) for g in fixed]
    gdf = gdf.set_geometry(gpd.GeoSeries(geoms, index=gdf.index, crs=gdf.crs))
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    b = shapely.bounds(gdf.geometry.to_numpy())
    x0, y0, x1, y1 = VIETNAM_BOUNDS
    outside = ~np.isfinite(b).all(axis=1) | (b[:, 0] < x0) | (b[:, 2] > x1) | (b[:, 1] < y0) | (b[:, 3] > y1)
    if outside.any():
        details = [f"{feature(i)}: outside Vietnam ({b[i, 0]:.4g}, {b[i, 1]:.4g} .. {b[i, 2]:.4g}, {b[i, 3]:.4g}); "
                   f"wrong CRS? the file says {raw_crs}; pass --crs" for i in np.flatnonzero(outside)[:MAX_LISTED]]
        raise InputError("units_invalid", path=str(path), n=int(outside.sum()), details="\n".join(details))
    cols = [c.value for c in UnitCol]
    out = gpd.GeoDataFrame(gdf[cols], geometry=gdf.geometry.values, crs="EPSG:4326")
    out.attrs["population_unknown"] = population_unknown
    out.attrs["levels"] = [u.value for u in Unit if u is not Unit.DISTRICT or not two_level]
    return out, repaired


def _polygonal(geom):
    """Keep the polygon parts of a repaired geometry (make_valid may add stray lines)."""
    parts = shapely.get_parts(geom)
    polys = [p for p in parts if shapely.get_type_id(p) in (3, 6)]
    return shapely.multipolygons(shapely.get_parts(polys)) if polys else geom


def derive_parents(communes: gpd.GeoDataFrame, unit: Unit) -> gpd.GeoDataFrame:
    code_col = UnitCol.DISTRICT_CODE if unit is Unit.DISTRICT else UnitCol.PROVINCE_CODE
    name_col = UnitCol.DISTRICT_NAME if unit is Unit.DISTRICT else UnitCol.PROVINCE_NAME
    keep = {UnitCol.NAME.value: (name_col.value, "first"),
            UnitCol.POPULATION.value: (UnitCol.POPULATION.value, lambda s: s.sum(min_count=1))}
    if unit is Unit.DISTRICT:
        keep[UnitCol.PROVINCE_CODE.value] = (UnitCol.PROVINCE_CODE.value, "first")
        keep[UnitCol.PROVINCE_NAME.value] = (UnitCol.PROVINCE_NAME.value, "first")
    attrs = communes.groupby(code_col.value, sort=True).agg(**keep)
    geoms = communes.geometry.groupby(communes[code_col.value], sort=True).agg(lambda s: shapely.union_all(s.to_numpy()))
    out = gpd.GeoDataFrame(attrs, geometry=geoms.reindex(attrs.index).values, crs="EPSG:4326")
    out.index.name = UnitCol.CODE.value
    out = out.reset_index()
    if unit is Unit.DISTRICT:
        out[UnitCol.DISTRICT_CODE.value] = out[UnitCol.CODE.value]
        out[UnitCol.DISTRICT_NAME.value] = out[UnitCol.NAME.value]
    else:
        out[UnitCol.PROVINCE_CODE.value] = out[UnitCol.CODE.value]
        out[UnitCol.PROVINCE_NAME.value] = out[UnitCol.NAME.value]
    for col in UnitCol:
        if col.value not in out.columns:
            out[col.value] = None
    return out[[c.value for c in UnitCol] + ["geometry"]]


def topology(communes_m: np.ndarray, codes: np.ndarray, pairs: pd.DataFrame, country_m) -> dict:
    """Overlaps between neighbour pairs and gaps (holes in the union of all communes)."""
    i, j = pairs["i"].to_numpy(), pairs["j"].to_numpy()
    area = shapely.area(shapely.intersection(communes_m[i], communes_m[j])) if len(i) else np.array([])
    over = area > MIN_OVERLAP_M2
    holes = []
    for poly in shapely.get_parts(country_m):
        for k in range(shapely.get_num_interior_rings(poly)):
            ring = shapely.get_interior_ring(poly, k)
            holes.append(shapely.polygons(ring))
    hole_area = shapely.area(np.array(holes)) if holes else np.array([])
    order = np.argsort(-area[over]) if over.any() else np.zeros(0, int)
    return {
        "n_overlaps": int(over.sum()), "overlap_km2": float(area[over].sum() / 1e6),
        "n_gaps": int(len(holes)), "gap_km2": float(hole_area.sum() / 1e6),
        "largest_overlaps": [{"a": str(codes[i[over][k]]), "b": str(codes[j[over][k]]),
                              "area_m2": round(float(area[over][k]), 1)} for k in list(order)[:MAX_LISTED]],
    }


def import_units(store: Store, path: Path, version: str | None = None, column_map=None, crs=None,
                 reports_dir: Path | None = None, tolerance_m: float = DEFAULT_TOLERANCE_M, progress=None,
                 crosswalk_path: Path | None = None, derive_from: str | None = None,
                 provinces_path: Path | None = None, population_path: Path | None = None,
                 valid_from: str | None = None, partial_crosswalk: bool = False) -> dict:
    """Import a commune layer (`path`), or derive one from a stored version and a crosswalk
    (`derive_from`, `crosswalk_path`: geo/ingest/derive.py)."""
    step = progress or (lambda stage: None)
    step("read")
    derived = None
    if derive_from is not None:
        if crosswalk_path is None:
            raise InputError("derive_needs_crosswalk", version=derive_from)
        raw, derived_links, derived = derive.derive(store, derive_from, Path(crosswalk_path))
        path = Path(crosswalk_path)
    else:
        path = Path(path)
        raw = read_vector(path, crs)
    source_crs = raw.crs.to_string()
    step("validate")
    version = check_version_name(version) if version else default_version_name(path)
    communes, repaired = prepare_communes(raw, path, column_map)
    mcrs = adjacency.metric_crs(communes.total_bounds)
    pop_report = population.apply(communes, Path(population_path)) if population_path is not None else None
    nested = None
    if provinces_path is not None:
        names, nested = nesting.check(communes, read_vector(Path(provinces_path), crs), provinces_path, mcrs)
        given = communes[UnitCol.PROVINCE_NAME.value]
        communes[UnitCol.PROVINCE_NAME.value] = given.where(given.notna(), communes[UnitCol.PROVINCE_CODE.value].map(names))
    digest = content_digest(communes)
    existing = existing_digest(store, version)
    if existing is not None:
        if existing == digest:
            return {"version": version, "unchanged": True, "n_communes": len(communes), "repaired": [],
                    "n_districts": None, "n_provinces": None, "previous_version": None, "crosswalk_rows": None}
        used = store.runs_using(version)
        if used:
            raise ConflictError("version_in_use", version=version, n=used)
    previous = derive_from or store.current_boundary_version()
    links = derived_links if derived is not None else None
    xw_notes = None
    if crosswalk_path is not None and derived is None:
        if previous is None or previous == version:
            raise InputError("crosswalk_without_previous", path=str(crosswalk_path), version=version)
        links, xw_notes = crosswalk.for_import(store, Path(crosswalk_path), previous, communes, mcrs, partial_crosswalk)
    step("districts_provinces")
    levels = communes.attrs["levels"]
    districts = derive_parents(communes, Unit.DISTRICT) if Unit.DISTRICT.value in levels else None
    provinces = derive_parents(communes, Unit.PROVINCE)
    step("adjacency_topology")

    geoms_m = communes.to_crs(mcrs).geometry.to_numpy()
    pairs = adjacency.shared_borders(geoms_m, tolerance_m)
    country_m = shapely.union_all(provinces.to_crs(mcrs).geometry.to_numpy())
    codes = communes[UnitCol.CODE.value].to_numpy()
    report = {"version": version, "content_sha256": digest, "source": str(path), "source_crs": source_crs,
              "metric_crs": mcrs.to_string(),
              "repaired": repaired, "population_unknown": communes.attrs.get("population_unknown", []),
              "levels": levels, "n_communes": len(communes), "n_districts": 0 if districts is None else len(districts),
              "n_provinces": len(provinces), "adjacency_methods": [f"tol={tolerance_m:g}"],
              "n_candidate_pairs": len(pairs), **topology(geoms_m, codes, pairs, country_m),
              "previous_version": previous, "crosswalk_rows": None if links is None else len(links),
              **({"derived": derived} if derived is not None else {}),
              **({"provinces_file": nested} if nested is not None else {}),
              **({"population_file": pop_report} if pop_report is not None else {}),
              **({"crosswalk": xw_notes} if xw_notes is not None else {})}
    step("store")
    rows = {}
    for unit, df in ((Unit.COMMUNE, communes), (Unit.DISTRICT, districts), (Unit.PROVINCE, provinces)):
        if df is None:
            continue
        pop = [None if pd.isna(v) else float(v) for v in df[UnitCol.POPULATION.value]]
        geoms = df.geometry.values
        rows[unit.value] = list(zip(*(df[c.value].tolist() for c in UnitCol if c is not UnitCol.POPULATION),
                                    pop, to_wkb(geoms), geometry_json(geoms), geometry_json(geoms, unit.value), strict=False))
    stored = boundaries.Version(
        name=version, source=str(path), source_sha256=sha256_file(path), source_crs=source_crs, n_communes=len(communes),
        report=report, units=rows, method=f"tol={tolerance_m:g}",
        adjacency=[(str(codes[a]), str(codes[b]), float(s)) for a, b, s in pairs.itertuples(index=False)],
        crosswalk=None if links is None else [(o, n, float(w)) for o, n, w in links.itertuples(index=False)],
        previous=previous, valid_from=valid_from)
    report["valid_from"] = valid_from
    unnamed = provinces.loc[provinces[UnitCol.NAME.value].isna() | (provinces[UnitCol.NAME.value].astype(str).str.strip()
                                                                   .isin(["", "None", "nan"])), UnitCol.CODE.value]
    report["provinces_unnamed"] = sorted(map(str, unnamed))      # said on the command line: give --provinces
    with store.transaction() as con:
        boundaries.replace_version(con, stored)
    if reports_dir is not None:
        reports_dir.mkdir(parents=True, exist_ok=True)
        report_path = reports_dir / f"units-{version}.json"
        report_path.write_text(json.dumps(report, ensure_ascii=False, indent=1), encoding="utf-8")
        report["report_path"] = str(report_path)
    return report
