"""Exports of a published run's units: the CLI's files and the HTTP exports (aggregates only)."""
from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import lazy_loader as lazy
import numpy as np
import pandas as pd
import pyogrio

from geo.base import faults
from geo.base.errors import InputError
from geo.base.vocabulary import EXPORT_FORMATS
from geo.serve import declared
from geo.store import runfiles
from geo.store.formats import GPKG_OPTIONS, spreadsheet_cell, spreadsheet_safe

# openpyxl takes a tenth of a second to import: loaded by the first workbook read or written
openpyxl = lazy.load("openpyxl")

# The linked table of the measures a unit's `measures` ids name (RULES.md §9): a GeoJSON member, a GPKG table, a sheet.
MEASURES_TABLE = "measures"


def export(store, run_dir: Path, unit: str, fmt: str, out: str, cache_dir: Path) -> int:
    if fmt == "geojson":
        src = runfiles.geojson_path(store, run_dir, unit, cache_dir)
        if out == "-":
            with open(src, encoding="utf-8") as fh:
                shutil.copyfileobj(fh, sys.stdout)
            sys.stdout.flush()
        else:
            shutil.copyfile(src, out)
        return len(runfiles.attributes(run_dir, unit, ["code"]))
    if fmt == "csv":
        df = runfiles.attributes(run_dir, unit)
        text = spreadsheet_safe(df).to_csv(index=False)
        if out == "-":
            sys.stdout.write(text)
            sys.stdout.flush()
        else:
            Path(out).write_text(text, encoding="utf-8")
        return len(df)
    if out == "-":
        raise InputError("export_format", fmt="gpkg (stdout)", unit=unit)
    df = runfiles.frame(store, run_dir, unit)
    target = Path(out)
    if target.exists():
        target.unlink()
    pyogrio.write_dataframe(df, target, layer=unit, driver="GPKG", promote_to_multi=True, use_arrow=True, **GPKG_OPTIONS)
    _measures_layer(target, runfiles.manifest(run_dir).get("measures") or [])
    return len(df)


# -- exports over HTTP: files derived once per (run, unit, since) into the cache ------------------



def changed_codes(run_dir: Path, since_dir: Path, unit: str) -> set[str]:
    """Codes whose level differs from the `since` run's (units it did not have count as changed)."""
    now = runfiles.attributes(run_dir, unit, ["code", "level"]).set_index("code")["level"]
    before = runfiles.attributes(since_dir, unit, ["code", "level"]).set_index("code")["level"]
    before = before.reindex(now.index)
    return set(now.index[(now != before) | before.isna()].astype(str))


def export_file(store, runs_dir: Path, run: dict, unit: str, fmt: str, cache_dir: Path,
                since: dict | None = None, feature_lines=None) -> Path:
    """The export file of one run and unit (only units changed since `since` if given), each unit with its level
    in force beside the computed one (the committee's decisions, read now: declared.with_columns).
    `feature_lines(run)` gives (id, feature JSON text) of each feature of the run's GeoJSON for the two GeoJSON
    formats."""
    ext = EXPORT_FORMATS[fmt].extension
    now = declared.in_force(store, run["boundary_version"], run["date"]) if unit != "lockdown" else None
    tag = f"--{declared.digest(now)}" if now is not None and len(now) else ""
    name = f"{unit}-since-{since['run_id']}{tag}.{ext}" if since else f"{unit}{tag}.{ext}"
    target = cache_dir / "exports" / run["run_id"] / name
    if target.exists():
        return target
    run_dir = runs_dir / run["run_id"]
    measures = run["manifest"].get("measures") or []
    keep = changed_codes(run_dir, runs_dir / since["run_id"], unit) if since else None

    def write(tmp: Path) -> None:
        if fmt in ("geojson", "geojsonseq"):
            computed = None
            if now is not None and len(now):
                levels = runfiles.attributes(run_dir, unit, ["code", "level"])
                computed = dict(zip(levels["code"].astype(str), levels["level"], strict=False))
            # a feature at a time from the run's file to this one: a national export never sits in a worker's memory
            with open(tmp, "w", encoding="utf-8") as out:
                if fmt == "geojson":
                    head = json.dumps({"type": "FeatureCollection", "name": unit, "date": run["date"], "run_id": run["run_id"],
                                       "boundary_version": run["boundary_version"],
                                       "since": since["run_id"] if since else None,
                                       "measures": measures}, ensure_ascii=False)[1:-1]
                    out.write("{" + head + ',"features":[\n')
                first = True
                for fid, line in feature_lines(run):
                    if keep is not None and fid not in keep:
                        continue
                    if computed is not None:
                        line = declared.feature_text(line, fid, computed.get(fid), now)
                    out.write(f"\x1e{line}\n" if fmt == "geojsonseq" else line if first else ",\n" + line)
                    first = False
                if fmt == "geojson":
                    out.write("\n]}\n")
        else:
            df = runfiles.frame(store, run_dir, unit) if fmt == "gpkg" else runfiles.attributes(run_dir, unit)
            if keep is not None:
                df = df[df["code"].astype(str).isin(keep)]
            if "boundary_version" not in df.columns:
                df = df.assign(boundary_version=run["boundary_version"])
            if now is not None and len(now):
                df = declared.with_columns(df, now)
            if fmt == "csv":
                spreadsheet_safe(df).to_csv(tmp, index=False)
            elif fmt == "gpkg":
                pyogrio.write_dataframe(df, tmp, layer=unit, driver="GPKG", promote_to_multi=True, use_arrow=True,
                                        **GPKG_OPTIONS)
                _measures_layer(tmp, measures)
            else:
                _xlsx(df, tmp, unit, measures)
    return faults.keep(target, write)


def feature_lines(store, runs_dir: Path, cache_dir: Path, unit: str):
    """`lines(run)`: (id, Feature JSON text) of each feature of a run's GeoJSON, as the OGC API gives them, read as a
    stream from the run's file."""
    def lines(run: dict):
        return runfiles.features(runfiles.geojson_path(store, runs_dir / run["run_id"], unit, cache_dir), unit)
    return lines


def _measures_layer(path: Path, measures: list[dict]) -> None:
    """Beside the units in a GeoPackage: the linked table of the measures their ids name (no geometry)."""
    if measures:
        pyogrio.write_dataframe(pd.DataFrame(measures), path, layer=MEASURES_TABLE, driver="GPKG", **GPKG_OPTIONS)


def _xlsx(df, path: Path, unit: str, measures: list[dict]) -> None:
    wb = openpyxl.Workbook(write_only=True)
    for name, table in ((unit, df), (MEASURES_TABLE, pd.DataFrame(measures))):
        if table.empty and name == MEASURES_TABLE:
            continue
        ws = wb.create_sheet(name[:31])
        ws.append(list(table.columns))
        for row in table.itertuples(index=False):
            ws.append([spreadsheet_cell(None if (isinstance(v, float) and np.isnan(v)) else v) for v in row])
    wb.save(path)
