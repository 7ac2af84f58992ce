"""Writers for published units: GeoJSON (RFC 7946), GeoPackage and CSV. Aggregates only."""
from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from json.encoder import encode_basestring
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import shapely

# Properties every published unit carries, in this order (the rest follow).
LEAD_PROPS = ("code", "name", "level", "level_vi", "level_en", "color", "reasons", "explanation", "explanation_en",
              "measures", "adjacent_to", "declared_level", "declared_level_vi", "declared_decision", "level_differs", "lockdown",
              "date", "run_id", "ruleset", "boundary_version")
# GeoPackage 1.2: read without warnings by the GDAL 3.6 of Debian 12 and by older QGIS.
GPKG_OPTIONS = {"dataset_options": {"VERSION": "1.2"}}
# Decimal places kept in GeoJSON coordinates: 1e-7 degree is about 1 cm.
COORD_DECIMALS = 7


# Columns carrying precomputed geometry JSON (see geometry_json); never written as properties.
GEOJSON_COL, DISPLAY_COL = "_geojson", "_display"
# Display geometry for the map page, simplified in degrees (~30 m for communes, ~100 m for outlines)
# and rounded to 1e-5 degree (~1 m): plenty on screen, half the bytes.
DISPLAY_SIMPLIFY_DEG = {"commune": 0.0003, "district": 0.001, "province": 0.001, "lockdown": 0.0}
DISPLAY_PRECISION = 1e-5


def geometry_json(geoms: Iterable, display_unit: str | None = None) -> np.ndarray:
    """GeoJSON geometry strings: RFC 7946 (counter-clockwise exteriors, 1e-7 degree), or the map's
    simplified display version when `display_unit` is given. Computed once per boundary version."""
    geoms = np.asarray(geoms)
    if display_unit is None:
        geoms = shapely.set_precision(shapely.orient_polygons(geoms, exterior_cw=False),
                                      10 ** -COORD_DECIMALS, mode="pointwise")
    else:
        if DISPLAY_SIMPLIFY_DEG[display_unit]:
            geoms = shapely.simplify(geoms, DISPLAY_SIMPLIFY_DEG[display_unit], preserve_topology=True)
        geoms = shapely.set_precision(geoms, DISPLAY_PRECISION, mode="pointwise")
    return shapely.to_geojson(geoms)


def properties(frame: pd.DataFrame) -> pd.DataFrame:
    """The published properties in order (geometry and geometry JSON columns left out)."""
    geometry = [frame.geometry.name] if isinstance(frame, gpd.GeoDataFrame) and frame._geometry_column_name in frame else []
    left_out = {*geometry, GEOJSON_COL, DISPLAY_COL}
    columns = [c for c in frame.columns if c not in left_out]
    order = [c for c in LEAD_PROPS if c in columns] + [c for c in columns if c not in LEAD_PROPS]
    return pd.DataFrame(frame[order])      # one selection (the geometry not in it: a plain frame)


# A first key no published row has: pandas writes it escaped, `},{"\u0001":0,` then parts the rows exactly (a
# quote inside a JSON string is always escaped, so the sequence cannot occur in a value).
_ROW_KEY = "\x01"
_ROW_MARK = '},{"\\u0001":0,'


def records(df: pd.DataFrame) -> list[str]:
    """One JSON object per row, by pandas' C writer (NaN -> null, numpy scalars -> numbers). Written as one
    list and parted at a marker key, not with `lines=True`: pandas splits its lines a character at a time,
    which was most of the cost (20 MB of a national day's commune properties)."""
    if df.empty:
        return []
    marked = df.copy(deep=False)
    marked.insert(0, _ROW_KEY, np.zeros(len(df), dtype=np.int8))
    text = marked.to_json(orient="records", force_ascii=False, double_precision=10)
    return ["{" + part + "}" for part in text[len(_ROW_MARK) - 1:-2].split(_ROW_MARK)]


def feature_collection(props: list[str], geometries: Iterable[str], name: str | None = None) -> bytes:
    """A FeatureCollection assembled from property and geometry JSON texts, as the UTF-8 bytes of the file. The
    properties are encoded in one piece and parted again at NUL (which JSON text never holds raw): one encoding of
    the whole instead of a string per feature, then a join of bytes (a national layer is ~30 MB)."""
    named = f'"name":{json.dumps(name)},' if name else ""
    head = f'{{"type":"FeatureCollection",{named}"features":[\n'
    props_b = "\0".join(props).encode("utf-8").split(b"\0") if props else []
    lead, middle = b'{"type":"Feature","properties":', b',"geometry":'
    body = b"},\n".join([lead + p + middle + g.encode("ascii") for p, g in zip(props_b, geometries, strict=False)])
    return b"".join([head.encode("utf-8"), body, b"}" if props_b else b"", b"\n]}\n"])


def geojson_bytes(frame: gpd.GeoDataFrame, name: str) -> bytes:
    return geojson_and_records(frame, name)[0]


def geojson_and_records(frame: gpd.GeoDataFrame, name: str) -> tuple[bytes, list[str]]:
    """geojson_bytes() and its features' properties as JSON texts, one per row (PostgreSQL's level rows)."""
    geoms = frame[GEOJSON_COL] if GEOJSON_COL in frame else geometry_json(frame.geometry.values)
    props = records(properties(frame))
    return feature_collection(props, geoms, name), props


def tile_input_bytes(frame: gpd.GeoDataFrame, fields: list[str]) -> bytes:
    """The few properties vector tiles carry, with the RFC 7946 geometry: tippecanoe's input."""
    geoms = frame[GEOJSON_COL] if GEOJSON_COL in frame else geometry_json(frame.geometry.values)
    return feature_collection(records(pd.DataFrame(frame[fields])), geoms)


def join_table(frame: gpd.GeoDataFrame, fields: list[str]) -> pd.DataFrame:
    """The day's attributes of a run's vector tiles, as tile-join reads them (key `code` first;
    true/false as text, which tile-join keeps as strings like any other)."""
    df = pd.DataFrame(frame[fields]).copy()
    for col in df.columns[df.dtypes.eq(bool)]:
        df[col] = df[col].map({True: "true", False: "false"})
    return df


def flat(frame: gpd.GeoDataFrame) -> pd.DataFrame:
    """Properties with list values as JSON text, for CSV and GeoPackage."""
    df = properties(frame)      # a new frame (copy on write): setting its columns leaves `frame` as it was
    for col in df.columns[df.dtypes.eq(object)]:
        first = df[col].dropna()
        if len(first) and isinstance(first.iat[0], (list, dict)):
            df[col] = _json_texts(df[col])
    return df


def _json_texts(values: Iterable) -> list[str]:
    """JSON text of each list; the few distinct lists (reasons) repeat over thousands of units."""
    return each_distinct(values, _json_text)


def _json_text(value: Any) -> str:
    """json.dumps(value, ensure_ascii=False), a list of texts (reasons, neighbours) written by json's own C string
    encoder without the rest of json.dumps around it (thousands of distinct neighbour lists a day)."""
    if type(value) is list and all(type(v) is str for v in value):
        return "[" + ", ".join(map(encode_basestring, value)) + "]"
    return json.dumps(value, ensure_ascii=False)


def each_distinct(values: Iterable, convert: Callable[[Any], str]) -> list[str]:
    """convert(v) of each value, made once per distinct value (told apart by repr: lists are not hashable)."""
    seen: dict[str, str] = {}
    out = []
    for v in values:
        key = repr(v)
        text = seen.get(key)
        if text is None:
            text = seen[key] = convert(v)
        out.append(text)
    return out


def write_gpkg(frames: dict[str, gpd.GeoDataFrame], path: Path) -> None:
    """Each frame as a layer of `path` (its flat() table with the geometry)."""
    for layer, frame in frames.items():
        df = flat(frame)
        gdf = gpd.GeoDataFrame(df, geometry=frame.geometry.values, crs="EPSG:4326")
        if "lockdown" in gdf.columns:
            gdf["lockdown"] = gdf["lockdown"].astype(bool)
        # through Arrow: two thirds of the time of the row-by-row path, the same layer
        pyogrio.write_dataframe(gdf, path, layer=layer, driver="GPKG", append=path.exists(), use_arrow=True,
                                promote_to_multi=True, geometry_type="MultiPolygon", **GPKG_OPTIONS)


def spreadsheet_safe(df: pd.DataFrame) -> pd.DataFrame:
    """A table for CSV: every text cell a spreadsheet would run as a formula made harmless, as in XLSX."""
    out = df.copy()
    for col in out.columns[(out.dtypes.eq(object)) | out.dtypes.map(lambda t: isinstance(t, pd.StringDtype))]:
        out[col] = out[col].map(lambda v: spreadsheet_cell(v) if isinstance(v, str) else v)
    return out


def inline_json(value: object) -> str:
    """JSON safe inside an HTML <script> element: no character can end the element, open a comment
    or break the line of a script (<, >, & and U+2028/9 escaped)."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"), ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(ch, esc)
    return text


def spreadsheet_cell(v: object) -> object:
    """A value for a spreadsheet cell: text a spreadsheet would run as a formula (=, +, -, @, tab, CR
    first) is stored as text with a leading apostrophe (formula injection); numpy scalars as Python."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    if isinstance(v, np.generic):
        return v.item()
    return v
