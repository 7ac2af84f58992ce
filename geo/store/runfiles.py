"""Reading a published run, whichever kind it is.

- A full run (the daily `reclassify`) holds GeoJSON, a GeoPackage, tiles and the map pages.
- A levels run (each day of a `backfill` but the newest) holds only the day's tables, one Parquet file
  per kind of unit (the columns of the full run without geometry; their types are in the manifest;
  runs written before Parquet hold gzipped CSV, read the same way), and the lockdowns active that
  day. Geometry is that of the run's boundary version, stored once in the store, so a year of
  backfilled days costs megabytes, not gigabytes.

Everything that reads levels, properties or exports goes through here.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pyogrio

from geo.base import faults
from geo.base.errors import NotFoundError, StorageError
from geo.base.vocabulary import UNITS
from geo.store import formats
from geo.store.database import Store
from rules.levels import RANK, UNKNOWN_CODE

FULL, LEVELS = "full", "levels"
# Columns holding lists, written as JSON text in tables (as in the GeoPackage).
LIST_COLUMNS = ("reasons", "adjacent_to")
BOOL_COLUMNS = ("lockdown", "level_differs", "outbreak_over")
# zstd, Parquet's own: a backfilled day's tables written in half the time of gzipped CSV (the repeated
# explanations dictionary-encoded), read back typed
PARQUET_OPTIONS = {"compression": "zstd"}


def kind(run_dir: Path) -> str:
    if (run_dir / "zones.gpkg").exists():
        return FULL
    if not (run_dir / "manifest.json").exists():    # a published run whose folder was deleted or not restored
        raise StorageError("run_files_missing", run_id=run_dir.name)
    return LEVELS


def table_name(unit: str) -> str:
    return f"{unit}.parquet"


def _csv_name(unit: str) -> str:
    """A levels-run table as runs wrote it before Parquet."""
    return f"{unit}.csv.gz"


def write_tables(frames: dict[str, gpd.GeoDataFrame], folder: Path) -> dict[str, dict[str, str]]:
    """The levels-run tables; returns the column types to keep in the manifest."""
    types = {}
    for unit, frame in frames.items():
        df = formats.flat(frame)
        types[unit] = {c: str(t) for c, t in df.dtypes.items()}
        pq.write_table(pa.Table.from_pandas(df, preserve_index=False), folder / table_name(unit), **PARQUET_OPTIONS)
    return types


def _read_table(run_dir: Path, unit: str, manifest: dict, columns: list[str] | None = None) -> pd.DataFrame:
    types = manifest["columns"][unit]
    if not (run_dir / table_name(unit)).exists():
        return _read_csv_table(run_dir, unit, types, columns)
    df = pq.read_table(run_dir / table_name(unit), columns=columns).to_pandas()
    for c in df.columns:     # as a table of CSV reads: empty text is missing, codes text, true/false never missing
        if c in BOOL_COLUMNS or types.get(c) == "bool":
            df[c] = df[c].fillna(True).astype(bool)
        elif types.get(c) in ("object", "str", "string") or c == "code":
            text = df[c].astype(str)          # pandas' str: a missing value stays missing
            df[c] = text.where(text != "")
    return df


def _read_csv_table(run_dir: Path, unit: str, types: dict, columns: list[str] | None) -> pd.DataFrame:
    # text as pandas' str (missing = NaN), like a GeoPackage read; codes stay text ("001")
    text_cols = {c: str for c, t in types.items() if t in ("object", "str", "string") or c == "code"}
    df = pd.read_csv(run_dir / _csv_name(unit), dtype=text_cols, usecols=columns, keep_default_na=False,
                     na_values=[""])
    for c in df.columns:
        if c in BOOL_COLUMNS or types.get(c) == "bool":
            df[c] = df[c].map({True: True, False: False, "True": True, "False": False}).astype(bool)
        elif types.get(c, "").startswith("float") and df[c].dtype != types[c]:
            df[c] = df[c].astype(types[c])    # a whole number is written "12" (pyarrow), "12.0" (older runs)
    return df


def manifest(run_dir: Path) -> dict:
    try:
        return json.loads((run_dir / "manifest.json").read_text(encoding="utf-8"))
    except FileNotFoundError:      # a published run whose folder was deleted or not restored
        raise StorageError("run_files_missing", run_id=run_dir.name) from None


def kinds(run_dir: Path) -> tuple[str, ...]:
    """The kinds of unit a run has: its boundary version's (runs before versions had kinds: all three)."""
    return kinds_in(manifest(run_dir))


def kinds_in(m: dict) -> tuple[str, ...]:
    return tuple(m.get("levels", UNITS))


def require(run_dir: Path, unit: str) -> None:
    """A clear 404 for a kind of unit the run's boundary version does not have (districts since 2025)."""
    require_in(manifest(run_dir), unit)


def require_in(m: dict, unit: str) -> None:
    """require() on a run's manifest already read (lockdowns and other layers are not kinds of unit)."""
    if unit in UNITS and unit not in m.get("levels", UNITS):
        raise NotFoundError("no_such_level", unit=unit, version=m.get("boundary_version", "?"),
                            levels=", ".join(m.get("levels", UNITS)))


def attributes(run_dir: Path, unit: str, columns: list[str] | None = None) -> pd.DataFrame:
    """A run's table for one kind of unit, without geometry (lists as JSON text)."""
    full = kind(run_dir) == FULL
    m = manifest(run_dir)
    require_in(m, unit)
    if full:
        return pyogrio.read_dataframe(run_dir / "zones.gpkg", layer=unit, read_geometry=False, columns=columns)
    return _read_table(run_dir, unit, m, columns)


def levels(run_dir: Path, unit: str, codes: np.ndarray, column: str = "level") -> np.ndarray:
    """Level codes of `codes` in a run (UNKNOWN_CODE where absent); `column` falls back to level."""
    try:
        df = attributes(run_dir, unit, ["code", column])
    except (ValueError, KeyError, pyogrio.errors.FieldError):
        df = attributes(run_dir, unit, ["code", "level"]).rename(columns={"level": column})
    level = df.set_index("code")[column].reindex(codes)
    return np.array([RANK.get(v, UNKNOWN_CODE) if isinstance(v, str) else UNKNOWN_CODE for v in level], dtype=np.int8)


def level_rows(run_dir: Path) -> list[tuple]:
    """A run's levels as rows (unit, code, level, properties JSON text): what the PostgreSQL store keeps. The
    properties are a feature's of the run's GeoJSON (its lists JSON lists, not texts as in the tables)."""
    tables = {unit: attributes(Path(run_dir), unit) for unit in kinds(Path(run_dir))}
    for df in tables.values():
        for key in LIST_COLUMNS:
            if key in df:
                df[key] = [json.loads(v) if isinstance(v, str) else v for v in df[key]]
    return level_rows_of(tables, {unit: formats.records(df) for unit, df in tables.items()})


def level_rows_of(tables: dict[str, pd.DataFrame], props: dict[str, list[str]]) -> list[tuple]:
    """level_rows() from each unit kind's table (its codes and levels) and its properties as JSON texts, in the
    table's order (those a run's GeoJSON was written with: formats.geojson_and_records())."""
    rows = []
    for unit, df in tables.items():
        rows += [(unit, str(c), lv, p) for c, lv, p in zip(df["code"], df["level"], props[unit], strict=True)]
    return rows


def _decoded(row: dict) -> dict:
    for key in LIST_COLUMNS:
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    for key in BOOL_COLUMNS:
        if key in row and row[key] is not None:
            row[key] = bool(row[key])
    return row


def unit_properties(run_dir: Path, unit: str, code: str) -> dict | None:
    """One unit's published properties (lists decoded)."""
    if kind(run_dir) == FULL:
        require(run_dir, unit)
        safe = code.replace("'", "''")
        df = pyogrio.read_dataframe(run_dir / "zones.gpkg", layer=unit, where=f"code = '{safe}'", read_geometry=False)
    else:
        df = attributes(run_dir, unit)
        df = df[df["code"] == code]
    if df.empty:
        return None
    return _decoded(json.loads(df.iloc[[0]].to_json(orient="records", force_ascii=False))[0])


def frame(store: Store, run_dir: Path, unit: str) -> gpd.GeoDataFrame:
    """A run's units with geometry (a levels run takes it from its boundary version)."""
    if kind(run_dir) == FULL:
        require(run_dir, unit)
        return pyogrio.read_dataframe(run_dir / "zones.gpkg", layer=unit)
    df = attributes(run_dir, unit)
    geoms = store.load_units(manifest(run_dir)["boundary_version"], unit, texts=False).set_index("code").geometry
    return gpd.GeoDataFrame(df, geometry=geoms.reindex(df["code"]).values, crs="EPSG:4326")


def geojson_path(store: Store, run_dir: Path, unit: str, cache_dir: Path) -> Path:
    """The run's GeoJSON for `unit` (`lockdown` too): the file of a full run, or for a levels run
    one composed from its table and the stored geometry JSON, once, into `cache_dir`."""
    own = run_dir / f"{unit}.geojson"
    if own.exists():
        return own
    if not (run_dir / "manifest.json").exists():
        raise StorageError("run_files_missing", run_id=run_dir.name)
    require(run_dir, unit)
    target = cache_dir / run_dir.name / f"{unit}.geojson"
    if target.exists():
        return target

    def write(tmp: Path) -> None:
        df = attributes(run_dir, unit)
        props = formats.properties(df)
        for key in LIST_COLUMNS:
            if key in props:
                props[key] = [json.loads(v) if isinstance(v, str) else v for v in props[key]]
        geoms = store.unit_geojson(manifest(run_dir)["boundary_version"], unit).reindex(df["code"])
        # a unit without stored geometry is written with none (JSON null), never NaN
        geoms = geoms.where(geoms.notna(), "null")
        tmp.write_bytes(formats.feature_collection(formats.records(props), geoms.to_numpy(), unit))
    return faults.keep(target, write)


FEATURE = '{"type":"Feature",'
_JSON = json.JSONDecoder()


def features(path: Path, unit: str) -> Iterator[tuple[str, str]]:
    """(id, Feature JSON text with that id) of each feature of a run's GeoJSON file, read as a stream (one feature
    per line as publishing writes them): the id is the unit's code, its first property (lockdowns: 1, 2, …)."""
    with open(path, encoding="utf-8") as fh:
        k = 0
        for ln in fh:
            if not ln.startswith(FEATURE):
                continue
            ln = ln.rstrip("\n").rstrip(",")
            k += 1
            if unit == "lockdown":
                fid = str(k)
            else:
                at = ln.index('"code":', len(FEATURE)) + len('"code":')
                fid = str(_JSON.raw_decode(ln, at)[0])
            yield fid, f'{FEATURE}"id":{json.dumps(fid, ensure_ascii=False)},{ln[len(FEATURE):]}'
