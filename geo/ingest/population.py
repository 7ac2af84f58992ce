"""Population given beside a commune layer (`import-units --population FILE`): a table of code,
population and how each figure was obtained (`method`, `detail`), e.g. the 2025 wards' population
derived from the 2019 census by scripts/population_2025.py. The file's figure replaces the layer's;
the import report keeps each commune's method, so a published rate can be traced to its source."""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.base.columns import UnitCol, normalise_header
from geo.base.errors import InputError
from geo.ingest.tables import cell, parse_number, read_table

ALIASES = {"ma_xa": "code", "ma": "code", "commune_code": "code", "dan_so": "population", "danso": "population",
           "cach_tinh": "method", "ghi_chu": "detail"}
# Problems listed in an error message (the rest are counted).
MAX_LISTED = 20


def apply(communes: gpd.GeoDataFrame, path: Path) -> dict:
    """Set the communes' population from the file; -> the report's `population_file` section."""
    raw = read_table(Path(path))
    df = raw.rename(columns={c: ALIASES.get(normalise_header(c), normalise_header(c)) for c in raw.columns})
    missing = [c for c in ("code", "population") if c not in df.columns]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(raw.columns))
    codes = df["code"].map(cell).str.strip()
    values, err = parse_number(df["population"].map(cell), "whole")
    problems = [f"row {i + 2}, population: {err[i]}" for i in np.flatnonzero(err != "")]
    problems += [f"row {i + 2}, code: {codes.iat[i]!r} twice" for i in np.flatnonzero(codes.duplicated().to_numpy())]
    if problems:
        raise InputError("units_invalid", path=str(path), n=len(problems), details="\n".join(problems[:MAX_LISTED]))
    method = (df["method"].map(cell) if "method" in df.columns else pd.Series("", index=df.index)).replace("", "given")
    detail = df["detail"].map(cell) if "detail" in df.columns else pd.Series("", index=df.index)
    by_code = pd.DataFrame({"population": values, "method": method.to_numpy(), "detail": detail.to_numpy()},
                           index=codes.to_numpy())
    layer_codes = communes[UnitCol.CODE.value].astype(str)
    found = by_code.reindex(layer_codes)
    communes[UnitCol.POPULATION.value] = found["population"].to_numpy()
    method_of = found["method"].fillna("not_in_file")
    return {
        "path": str(path), "n_rows": len(by_code),
        "by_method": {str(k): int(v) for k, v in method_of.value_counts().items()},
        "not_in_file": layer_codes[found["population"].isna().to_numpy() & found["method"].isna().to_numpy()].tolist(),
        "not_in_layer": sorted(set(by_code.index) - set(layer_codes)),
        "unknown": layer_codes[np.isnan(found["population"].to_numpy(dtype=float))].tolist(),
        "method_of": dict(zip(layer_codes, method_of, strict=False)),
        "detail_of": {c: d for c, d in zip(layer_codes, found["detail"].fillna(""), strict=False) if d},
    }
