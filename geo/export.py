"""export: copy a published run's units out as GeoJSON, CSV or a one-layer GeoPackage."""
from __future__ import annotations

import json
import sys
from pathlib import Path

import pyogrio

from .errors import InputError
from .formats import GPKG_OPTIONS


def export(run_dir: Path, unit: str, fmt: str, out: str) -> int:
    if fmt == "geojson":
        text = (run_dir / f"{unit}.geojson").read_text(encoding="utf-8")
        n = len(json.loads(text)["features"])
        _write(text, out)
        return n
    df = pyogrio.read_dataframe(run_dir / "zones.gpkg", layer=unit)
    if fmt == "csv":
        _write(df.drop(columns="geometry").to_csv(index=False), out)
        return len(df)
    if out == "-":
        raise InputError("export_format", fmt="gpkg (stdout)", unit=unit)
    target = Path(out)
    if target.exists():
        target.unlink()
    pyogrio.write_dataframe(df, target, layer=unit, driver="GPKG", **GPKG_OPTIONS)
    return len(df)


def unit_properties(run_dir: Path, unit: str, code: str) -> dict | None:
    """One unit's published properties (reasons and other lists decoded), read from the run's GPKG."""
    safe = code.replace("'", "''")
    df = pyogrio.read_dataframe(run_dir / "zones.gpkg", layer=unit, where=f"code = '{safe}'", read_geometry=False)
    if df.empty:
        return None
    row = json.loads(df.iloc[[0]].to_json(orient="records", force_ascii=False))[0]
    for key in ("reasons", "adjacent_to"):
        if isinstance(row.get(key), str):
            row[key] = json.loads(row[key])
    for key in ("lockdown", "level_differs"):
        if key in row and row[key] is not None:
            row[key] = bool(row[key])
    return row


def _write(text: str, out: str) -> None:
    if out == "-":
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        Path(out).write_text(text, encoding="utf-8")
