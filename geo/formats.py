"""Writers for published units: GeoJSON (RFC 7946), GeoPackage and CSV. Aggregates only."""
from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

# Properties every published unit carries, in this order (the rest follow).
LEAD_PROPS = ("code", "name", "level", "level_vi", "level_en", "color", "reasons", "explanation", "lockdown",
              "date", "run_id", "ruleset", "boundary_version")
# Decimal places kept in GeoJSON coordinates: 1e-7 degree is about 1 cm.
COORD_DECIMALS = 7


def properties(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    df = pd.DataFrame(frame.drop(columns=frame.geometry.name))
    order = [c for c in LEAD_PROPS if c in df.columns] + [c for c in df.columns if c not in LEAD_PROPS]
    return df[order]


def _records(df: pd.DataFrame) -> list[str]:
    # pandas' JSON writer turns NaN into null and numpy scalars into plain numbers.
    rows = json.loads(df.to_json(orient="records", force_ascii=False, double_precision=10))
    return [json.dumps(r, ensure_ascii=False, separators=(",", ":")) for r in rows]


def geojson_text(frame: gpd.GeoDataFrame, name: str) -> str:
    geoms = frame.geometry.to_crs(4326).values if frame.crs and frame.crs.to_epsg() != 4326 else frame.geometry.values
    geoms = shapely.orient_polygons(np.asarray(geoms), exterior_cw=False)  # RFC 7946 right-hand rule
    geoms = shapely.set_precision(geoms, 10 ** -COORD_DECIMALS, mode="pointwise")
    gj = shapely.to_geojson(geoms)
    props = _records(properties(frame)) if len(frame) else []
    feats = ",\n".join(f'{{"type":"Feature","properties":{p},"geometry":{g}}}' for p, g in zip(props, gj))
    return f'{{"type":"FeatureCollection","name":{json.dumps(name)},"features":[\n{feats}\n]}}\n'


def flat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Properties with list values as JSON text, for CSV and GeoPackage."""
    df = properties(frame).copy()
    for col in df.columns[df.dtypes == object]:
        first = df[col].dropna()
        if len(first) and isinstance(first.iat[0], (list, dict)):
            df[col] = [json.dumps(v, ensure_ascii=False) for v in df[col]]
    return df


def write_gpkg(frames: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    for layer, frame in frames.items():
        df = flat(frame)
        gdf = gpd.GeoDataFrame(df, geometry=frame.geometry.values, crs="EPSG:4326")
        if "lockdown" in gdf.columns:
            gdf["lockdown"] = gdf["lockdown"].astype(bool)
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=path.exists(),
                                promote_to_multi=True, geometry_type="MultiPolygon")


def csv_text(frame: gpd.GeoDataFrame) -> str:
    return flat(frame).to_csv(index=False)
