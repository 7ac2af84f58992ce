"""Province polygons given beside a commune layer (`import-units --provinces FILE`): their names fill
the communes' province names, and the import report says whether they nest the communes.

A province of the service is always the union of its communes (so it nests by construction); a
published province layer is often generalised separately (Vietnam's 2025 province polygons leave
28-361 km² of wards outside each province). Such a layer is reported, never used for geometry."""
from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.base.columns import UnitCol
from geo.base.errors import InputError

# A commune may stick out of its province's polygon by this much (m²) and still count as nested:
# shared edges simplified alike differ by floating-point noise, far below a hectare.
OUTSIDE_TOLERANCE_M2 = 10_000.0
# Columns read for the province's code and name, first found wins (the 2025 files: code, fullName).
CODE_COLUMNS = ("province_code", "ma_tinh", "code")
NAME_COLUMNS = ("province_name", "fullName", "ten_tinh", "name")
# Provinces listed in the report, worst first.
MAX_LISTED = 40


def _column(gdf: gpd.GeoDataFrame, choices: tuple[str, ...]) -> str | None:
    lower = {c.lower(): c for c in gdf.columns if c != gdf.geometry.name}
    return next((lower[c.lower()] for c in choices if c.lower() in lower), None)


def check(communes: gpd.GeoDataFrame, provinces: gpd.GeoDataFrame, path, metric_crs) -> tuple[dict, dict]:
    """-> ({province code: name}, report). `communes` in EPSG:4326 with province codes."""
    code_col = _column(provinces, CODE_COLUMNS)
    if code_col is None:
        raise InputError("missing_columns", path=str(path), columns="province_code",
                         present=", ".join(c for c in provinces.columns if c != provinces.geometry.name))
    name_col = _column(provinces, NAME_COLUMNS)
    codes = provinces[code_col].map(lambda v: str(int(v)).zfill(2) if isinstance(v, float) else str(v).strip())
    names = dict(zip(codes, provinces[name_col].astype(str), strict=False)) if name_col else {}
    geoms = pd.Series(provinces.to_crs(metric_crs).geometry.to_numpy(), index=codes)
    geoms = geoms[~geoms.index.duplicated()]
    wards_m = communes.to_crs(metric_crs).geometry.to_numpy()
    pcodes = communes[UnitCol.PROVINCE_CODE.value].astype(str).to_numpy()
    has = np.isin(pcodes, geoms.index)
    outside = np.full(len(wards_m), np.nan)
    if has.any():
        outside[has] = shapely.area(shapely.difference(wards_m[has], geoms.reindex(pcodes[has]).to_numpy()))
    off = np.nan_to_num(outside) > OUTSIDE_TOLERANCE_M2
    per = (pd.DataFrame({"province_code": pcodes, "outside_m2": np.nan_to_num(outside), "off": off})
           .groupby("province_code").agg(outside_km2=("outside_m2", lambda s: round(float(s.sum()) / 1e6, 3)),
                                         n_communes_outside=("off", "sum")))
    per = per[per["n_communes_outside"] > 0].sort_values("outside_km2", ascending=False)
    missing = sorted(set(pcodes) - set(geoms.index))
    extra = sorted(set(geoms.index) - set(pcodes))
    report = {
        "path": str(path), "n_provinces": int(len(geoms)), "nest": bool(not off.any() and not missing),
        "tolerance_m2": OUTSIDE_TOLERANCE_M2, "n_communes_outside": int(off.sum()),
        "outside_km2": round(float(np.nansum(np.where(off, outside, 0))) / 1e6, 3),
        "provinces_not_nesting": [{"code": c, "name": names.get(c, ""), "outside_km2": r.outside_km2,
                                   "n_communes_outside": int(r.n_communes_outside)}
                                  for c, r in per.head(MAX_LISTED).iterrows()],
        "provinces_missing_from_file": missing, "provinces_without_communes": extra,
        "geometry_used": "union of the communes",
    }
    return names, report
