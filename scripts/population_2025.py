"""Population of the 3,321 wards of 1/7/2025 from the 2019 census, through the GSO crosswalks, for
`import-units --population FILE` (the ward polygons carry none). Written from ../shared/data, never
committed (the census table has no licence). One row per ward: code, population, method, detail.

The chain: a census commune (names of 1/4/2019) -> its 2019 GSO code, placed by names
(geo/base/names.py) in the GSO change report -> its code of 2024 (the report's successor) -> the new
wards (the 2025-03 -> 2025-07 crosswalk; for a commune merged between 11/2024 and 3/2025, the 2021 ->
2025 crosswalk). A ward's population is the sum over its predecessors; `method` says how it was got:

- `sum`: every predecessor went whole into this ward and has a census figure;
- `area_share`: a predecessor split over several wards is shared by the area of its polygon (the 2009
  polygons of the commune, ../shared/data/vn_communes_2009_census, through the 2009 -> 2021 crosswalk of
  scripts/gso_crosswalk_2009_2021.py) inside each ward;
- `equal_share`: a split predecessor without a polygon, shared equally (low confidence);
- `incomplete`: some predecessor has no census figure (named in `detail`), or a commune of one of its
  predecessors' 2021 districts was merged between 11/2024 and 3/2025 into a ward no crosswalk names (its
  people may be here); the population is the known part, an under-estimate, so rates err towards a
  warning (RULES.md section 3);
- `none`: no predecessor with a census figure: population empty (unknown).

    .venv/bin/python scripts/population_2025.py [--shared ../shared/data] --out FILE
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd
import pyogrio
import shapely

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

from gso_crosswalk_2009_2021 import crosswalk as crosswalk_2009_2021  # noqa: E402

from geo.base.names import BY_DISTRICT, BY_PROVINCE, EXACT, NameIndex  # noqa: E402

# Methods from the most to the least certain: a ward takes the least certain of its links.
METHODS = ("sum", "area_share", "equal_share", "incomplete", "none")
WARDS = "vn_admin_2025_wards/vn_wards_2025_simplified_0p001.geojson"
# Equal-area projection for the shares (Vietnam: UTM 48N is within 1 % across the country for ratios).
METRIC = "EPSG:32648"


def census_2019_codes(shared: Path) -> tuple[pd.DataFrame, dict]:
    """Census communes with their 2019 GSO code and 2024 successor, and the placement counts."""
    census = pd.read_csv(shared / "vn_population_census2019" / "population_2019_by_admin_unit.csv", dtype=str)
    census = census[census["level"] == "commune"].copy()
    census["total"] = pd.to_numeric(census["total"])
    ch = pd.read_csv(shared / "vn_admin_units_gso_codes" / "commune_changes_2019-01-01_to_2024-11-10.csv", dtype=str)
    ch = ch.drop_duplicates("commune_code_2019")
    index = NameIndex(ch["commune_code_2019"], ch["commune_name_2019"], ch["district_name_2019"], ch["province_name_2019"])
    placed = [index.place(r.commune, r.district or "", r.province) for r in census.itertuples()]
    census["code_2019"] = [p.code if p.rule in (EXACT, BY_DISTRICT, BY_PROVINCE) else None for p in placed]
    census["placed_by"] = [p.rule if p.code else "" for p in placed]
    succ = ch.set_index("commune_code_2019")["commune_code_2024"]
    census["code_2024"] = census["code_2019"].map(succ)
    stats = {"census_communes": len(census), "placed": int(census["code_2019"].notna().sum()),
             "by_rule": census["placed_by"].value_counts().to_dict(),
             "with_2024_code": int(census["code_2024"].notna().sum())}
    return census, stats


def links_to_2025(shared: Path) -> pd.DataFrame:
    """old code (2024/2025-03, else 2021) -> new ward, with the number of wards the old one went to."""
    xw = shared / "vn_admin_2025_crosswalk"
    a = pd.read_csv(xw / "xwalk_gso2025-03_to_2025-07.csv", dtype=str)
    a = a[a["old_level"] == "commune"][["old_code", "new_code"]]
    b = pd.read_csv(xw / "xwalk_gso2021-11_to_2025-07.csv", dtype=str)
    b = b[(b["method"] != "unresolved") & ~b["code_2021"].isin(a["old_code"])]
    b = b.rename(columns={"code_2021": "old_code"})[["old_code", "new_code"]].dropna()
    out = pd.concat([a, b], ignore_index=True).drop_duplicates()
    out["n_targets"] = out.groupby("old_code")["new_code"].transform("size")
    return out


def old_polygons(shared: Path, codes: set[str]) -> dict[str, object]:
    """A polygon for each of `codes` (2021 GSO codes) from the 2009 layer, where the crosswalk has one."""
    xw = crosswalk_2009_2021(shared)
    xw = xw[xw["new_code"].isin(codes) & (xw["old_code"] != "")]
    layer = pyogrio.read_dataframe(shared / "vn_communes_2009_census" / "communes_2009.geojson", columns=["commune_id"])
    layer = layer.to_crs(METRIC)
    geom = dict(zip(layer["commune_id"].astype(str), layer.geometry.to_numpy(), strict=False))
    parts = defaultdict(list)
    for old, new in zip(xw["old_code"], xw["new_code"], strict=False):
        if old in geom:
            parts[new].append(geom[old])
    return {code: shapely.union_all(p) for code, p in parts.items()}


def _vanished(census: pd.DataFrame, links: pd.DataFrame, shared: Path) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Census communes whose code leads to no 2025 ward: their 2024 code is in neither crosswalk (merged between
    11/2024 and 3/2025 with no successor found: the 2021 crosswalk's `unresolved`), tried again by their 2019
    code. -> (the census rows re-keyed where the 2019 code leads on, the ones still without a ward with their
    2021 district)."""
    b = pd.read_csv(shared / "vn_admin_2025_crosswalk" / "xwalk_gso2021-11_to_2025-07.csv", dtype=str)
    linked = set(links["old_code"])
    lost = census["code_2024"].notna() & ~census["code_2024"].isin(linked)
    again = lost & census["code_2019"].isin(linked)
    census = census.assign(code_2024=np.where(again, census["code_2019"], census["code_2024"]))
    still = census[lost & ~again].merge(b[["code_2021", "district_code_2021", "province_code_2021"]].drop_duplicates("code_2021"),
                                        left_on="code_2019", right_on="code_2021", how="left")
    return census, still


def build(shared: Path) -> tuple[pd.DataFrame, dict]:
    census, stats = census_2019_codes(shared)
    links = links_to_2025(shared)
    census, vanished = _vanished(census, links, shared)
    pop = census[~census["code_2019"].isin(vanished["code_2019"])].dropna(subset=["code_2024"]).groupby("code_2024")["total"].sum()
    # the wards that may have taken a vanished commune's people: those fed by a commune of its 2021 district
    b = pd.read_csv(shared / "vn_admin_2025_crosswalk" / "xwalk_gso2021-11_to_2025-07.csv", dtype=str)
    by_district = b.dropna(subset=["new_code"]).groupby("district_code_2021")["new_code"].agg(set)
    maybe: dict[str, list[str]] = defaultdict(list)
    for v in vanished.itertuples():
        for ward in by_district.get(v.district_code_2021, set()):
            maybe[ward].append(f"{v.commune} ({v.code_2019}, {int(v.total)})")
    wards = pyogrio.read_dataframe(shared / WARDS, columns=["code"]).to_crs(METRIC)
    ward_geom = dict(zip(wards["code"].astype(str), wards.geometry.to_numpy(), strict=False))
    split = links[links["n_targets"] > 1]
    polys = old_polygons(shared, set(split["old_code"]))
    share = np.where(links["n_targets"] > 1, 1.0 / links["n_targets"], 1.0)
    how = np.where(links["n_targets"] > 1, "equal_share", "sum").astype(object)
    for old, grp in split.groupby("old_code"):
        if old not in polys:
            continue
        areas = np.array([shapely.area(shapely.intersection(polys[old], ward_geom[n])) if n in ward_geom else 0.0
                          for n in grp["new_code"]])
        if areas.sum() > 0:
            share[grp.index.to_numpy()] = areas / areas.sum()
            how[grp.index.to_numpy()] = "area_share"
    links = links.assign(share=share, how=how, population=links["old_code"].map(pop))
    orphan = links[~links["new_code"].isin(ward_geom) & links["population"].notna()]   # the polygons lack the ward code
    rows = []
    for code in sorted(ward_geom):
        grp = links[links["new_code"] == code]
        known = grp[grp["population"].notna()]
        missing = sorted(grp.loc[grp["population"].isna(), "old_code"])
        if known.empty:
            rows.append((code, None, "none", "no predecessor with a census figure: " + ", ".join(missing)))
            continue
        value = float((known["population"] * known["share"]).sum())
        method = max(known["how"], key=METHODS.index)
        detail = f"{len(known)} predecessors: " + ", ".join(f"{o}×{s:.2f}" if s < 1 else o
                                                            for o, s in zip(known["old_code"], known["share"], strict=False))
        if missing:
            method, detail = "incomplete", detail + "; without a census figure: " + ", ".join(missing)
        if code in maybe:
            method, detail = "incomplete", detail + "; a commune of its district merged 11/2024-3/2025 into a ward " \
                "no crosswalk names, maybe here: " + ", ".join(sorted(maybe[code]))
        rows.append((code, round(value), method, detail))
    out = pd.DataFrame(rows, columns=["code", "population", "method", "detail"])
    out["population"] = out["population"].astype("Int64")      # whole persons, written without ".0"
    total, census_total = int(out["population"].sum()), int(census["total"].sum())
    unplaced = census[census["code_2019"].isna()]
    stats.update({"wards": len(out), "by_method": out["method"].value_counts().to_dict(),
                  "population_total": total, "census_total": census_total,
                  "difference": census_total - total, "difference_pct": round(100 * (census_total - total) / census_total, 2),
                  # where the difference is: nothing lost silently
                  "census_not_placed": {"communes": len(unplaced), "people": int(unplaced["total"].sum()),
                                        "listed": [f"{r.commune}, {r.district}, {r.province}" for r in unplaced.itertuples()]},
                  "to_a_ward_the_polygons_lack": {"links": len(orphan), "people": int(round((orphan["population"] * orphan["share"]).sum())),
                                                  "listed": [f"{o} -> {n}" for o, n in zip(orphan["old_code"], orphan["new_code"], strict=True)]},
                  "no_2024_code": {"communes": int((census["code_2019"].notna() & census["code_2024"].isna()).sum()),
                                   "people": int(census.loc[census["code_2019"].notna() & census["code_2024"].isna(), "total"].sum())},
                  "merged_to_no_known_ward": {"communes": len(vanished), "people": int(vanished["total"].sum()),
                                              "listed": [f"{r.commune} ({r.code_2019})" for r in vanished.itertuples()]}})
    return out, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    out, stats = build(args.shared)
    out.to_csv(args.out, index=False, encoding="utf-8")
    report = args.out.with_suffix(".report.json")
    report.write_text(json.dumps(stats, ensure_ascii=False, indent=1), encoding="utf-8")
    print({k: v for k, v in stats.items() if k not in ("census_not_placed", "merged_to_no_known_ward")},
          "census communes not placed:", stats["census_not_placed"]["communes"], stats["census_not_placed"]["people"],
          "merged to no known ward:", stats["merged_to_no_known_ward"]["communes"],
          stats["merged_to_no_known_ward"]["people"], "listed in", report)


if __name__ == "__main__":
    main()
