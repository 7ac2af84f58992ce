"""A boundary version derived from an older one and a crosswalk, for provinces that have last
decade's polygons and a list of mergers, not new polygons:

    import-units CROSSWALK --derive-from OLD_VERSION [--boundary-version NEW]

The crosswalk has old_code, new_code (the GSO change report's columns work as they are), an optional
weight, and the new communes' names and parents (new_name, new_district_code, new_district_name,
new_province_code, new_province_name; where absent, those of the only predecessor). A link is full
when its old commune has no other successor: the whole polygon goes to the new commune. A new
commune all of whose links are full is the union of its predecessors' polygons (its population their
sum); one reached by a partial link (an old commune split between several), or with no known
predecessor (a row with an empty old_code lists a new commune), has no polygon yet and is named in
the report as needing one. Old communes going nowhere and rows naming no old commune are
reported too. Nothing is invented: the report says how many of the list's communes were derived.
"""
from __future__ import annotations

from pathlib import Path

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.base.columns import UnitCol, normalise_header
from geo.base.errors import InputError
from geo.ingest.tables import parse_number, read_table
from geo.store.database import Store

ALIASES = {"ma_cu": "old_code", "commune_code_2019": "old_code", "code_old": "old_code",
           "ma_moi": "new_code", "commune_code_2024": "new_code", "code_new": "new_code", "c_code": "new_code",
           "ty_le": "weight", "share": "weight", "commune_name_2024": "new_name", "ten_moi": "new_name",
           "district_code_2024": "new_district_code", "district_name_2024": "new_district_name",
           "province_code_2024": "new_province_code", "province_name_2024": "new_province_name"}
# The new communes' columns, and the old version's column each falls back to.
NEW_COLUMNS = {"new_name": UnitCol.NAME, "new_district_code": UnitCol.DISTRICT_CODE,
               "new_district_name": UnitCol.DISTRICT_NAME, "new_province_code": UnitCol.PROVINCE_CODE,
               "new_province_name": UnitCol.PROVINCE_NAME}
# How many codes a report lists of each kind (the counts are always complete).
MAX_LISTED = 50


def _code(v) -> str:
    s = str(v).strip()
    return s[:-2] if s.endswith(".0") and s[:-2].isdigit() else s


def read(path: Path) -> pd.DataFrame:
    raw = read_table(Path(path))
    df = raw.rename(columns={c: ALIASES.get(normalise_header(c), normalise_header(c)) for c in raw.columns})
    missing = [c for c in ("old_code", "new_code") if c not in df.columns]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(raw.columns))
    for col in ("old_code", "new_code"):
        df[col] = df[col].map(_code)
    df["weight"] = parse_number(df["weight"], "decimal")[0] if "weight" in df.columns else np.nan
    for col in NEW_COLUMNS:
        if col not in df.columns:
            df[col] = ""
        df[col] = df[col].fillna("").astype(str).str.strip()
    return df[df["new_code"] != ""].drop_duplicates(["old_code", "new_code"])


def derive(store: Store, old_version: str, path: Path) -> tuple[gpd.GeoDataFrame, pd.DataFrame, dict]:
    """-> (the new communes that can be drawn, the links old -> new with weights, the report)."""
    old = store.load_units(old_version, "commune", texts=False)
    if old.empty:
        raise InputError("bad_param", name="derive-from", value=old_version, allowed="a stored boundary version")
    old = old.set_index(UnitCol.CODE.value)
    links = read(path)
    listed = set(links["new_code"])          # every new commune, with a predecessor or not (old_code empty)
    known = links["old_code"].isin(old.index)
    unknown_old = sorted(set(links.loc[~known & (links["old_code"] != ""), "old_code"]))
    links = links[known].copy()
    successors = links.groupby("old_code")["new_code"].transform("size")
    links["full"] = (successors == 1).to_numpy()
    links["weight"] = np.where(links["full"], 1.0, links["weight"].fillna(1.0 / successors))
    whole = links.groupby("new_code")["full"].all()
    drawn = sorted(whole.index[whole])
    need = sorted(listed - set(drawn))       # split from an old commune, or no known predecessor
    rows = []
    for new_code, group in links[links["new_code"].isin(drawn)].groupby("new_code", sort=True):
        before = old.loc[group["old_code"]]
        first = group.iloc[0]
        attrs = {UnitCol.CODE.value: new_code}
        for col, fallback in NEW_COLUMNS.items():          # given, else what every predecessor agrees on
            same = before[fallback.value].dropna().unique()
            attrs[fallback.value] = first[col] or (same[0] if len(same) == 1 else None)
        if attrs[UnitCol.NAME.value] is None:                 # named in the report; shown as its parts meanwhile
            attrs[UnitCol.NAME.value] = " + ".join(before[UnitCol.NAME.value].astype(str))
            attrs["_unnamed"] = True
        pop = before[UnitCol.POPULATION.value]
        attrs[UnitCol.POPULATION.value] = float(pop.sum()) if pop.notna().all() else None
        attrs["geometry"] = shapely.union_all(before.geometry.to_numpy())
        rows.append(attrs)
    out = gpd.GeoDataFrame(rows, geometry="geometry", crs="EPSG:4326") if rows else \
        gpd.GeoDataFrame(columns=[c.value for c in UnitCol] + ["geometry"], geometry="geometry", crs="EPSG:4326")
    unnamed = out.loc[out["_unnamed"].fillna(False).astype(bool), UnitCol.CODE.value].tolist() if "_unnamed" in out else []
    out = out.drop(columns=["_unnamed"], errors="ignore")
    unused = sorted(set(old.index) - set(links["old_code"]))
    report = {"derived_from": old_version, "crosswalk": Path(path).name, "n_new_in_crosswalk": len(listed),
              "n_derived": len(drawn), "n_merged": int((links[links["new_code"].isin(drawn)].groupby("new_code").size() > 1).sum()),
              "n_need_polygons": len(need), "need_polygons": need[:MAX_LISTED],
              "n_old_not_in_crosswalk": len(unused), "old_not_in_crosswalk": unused[:MAX_LISTED],
              "n_rows_unknown_old_code": len(unknown_old), "unknown_old_codes": unknown_old[:MAX_LISTED],
              "unnamed": unnamed[:MAX_LISTED]}
    return out, links[["old_code", "new_code", "weight"]], report
