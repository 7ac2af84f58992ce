"""export: copy a published run's units out as GeoJSON, CSV or a one-layer GeoPackage."""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pyogrio

from . import runfiles
from .errors import InputError
from .formats import GPKG_OPTIONS


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
        text = df.to_csv(index=False)
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
    pyogrio.write_dataframe(df, target, layer=unit, driver="GPKG", promote_to_multi=True, **GPKG_OPTIONS)
    return len(df)
