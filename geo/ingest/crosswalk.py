"""Boundary versions and the crosswalk between them (communes merged, split or renumbered).

`import-units NEW --crosswalk FILE` reads a table old code -> new code (the GSO change report's
`commune_code_2019, commune_code_2024` columns work as they are; `weight` optional, for a split:
the share of the old commune in each new one). It is checked before anything is stored: every
old code must be a commune of the current version, every new code one of the file being imported,
and every current commune absent from the new version must be mapped. Then units and crosswalk
are stored in one transaction.

With it, history stays queryable on both sides of the change:
- cases located by commune code under the old version are counted in the successor (a split
  commune's cases go to its largest part unless the case has coordinates, which are placed again);
- hysteresis and the morning report compare a new commune with the worst level of its predecessors;
- /api/zones/{code}/history works for an old code (followed forward) and a new one (backward).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.base.columns import normalise_header
from geo.base.errors import InputError
from geo.domain.crosswalk import clean_code
from geo.ingest.tables import RowErrors, parse_number, read_table

ALIASES = {"old_code": "old_code", "ma_cu": "old_code", "commune_code_2019": "old_code", "code_old": "old_code",
           "code_2021": "old_code", "new_code": "new_code", "ma_moi": "new_code", "commune_code_2024": "new_code",
           "code_new": "new_code", "weight": "weight", "ty_le": "weight", "share": "weight",
           "method": "method", "cach_xac_dinh": "method", "confidence": "method"}
# A crosswalk's `method` values that are trusted as they are (the GSO tables' own links); any other
# value (a link found spatially, by an LLM, "unresolved") is listed in the import report as low confidence.
TRUSTED_METHODS = frozenset({"", "direct", "code", "changes", "names", "full", "via_gso_change_record_2019_2024"})
# Low-confidence rows listed in the report (all are counted).
MAX_LISTED = 200


# A split's weights are shares of the old commune: they add up to 1 within this (rounding in the file).
WEIGHT_SUM_TOLERANCE = 0.01
# A link whose old commune lies less than this share inside its declared successor is listed (two codes
# swapped, a typo to a neighbour's code): the polygons are the independent check of the table.
MIN_OVERLAP_SHARE = 0.1


def read(path: Path, old_codes: set[str], new_codes: set[str], partial: bool = False) -> tuple[pd.DataFrame, list[str], dict]:
    """The crosswalk rows (old_code, new_code, weight) checked against both versions; problems
    name the file, row and field; notes for the import report (old communes with no successor,
    low-confidence links, whether weights were given). Rows mapping a code to itself are implied
    and may be left out; a row with an empty new_code says the old commune has no known successor.
    `partial`: the consistent rows are kept and the others listed in the notes (`refused`) instead of
    refusing the file; an old code no stored version has (a commune the previous version lacks) is then
    kept as a link, so cases written with it still reach their ward."""
    raw = read_table(Path(path))
    df = raw.rename(columns={c: ALIASES.get(normalise_header(c), normalise_header(c)) for c in raw.columns})
    missing = [c for c in ("old_code", "new_code") if c not in df.columns]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(raw.columns))
    df["old_code"] = df["old_code"].map(clean_code)
    df["new_code"] = df["new_code"].map(clean_code)
    method = df["method"].astype(str).str.strip() if "method" in df.columns else pd.Series("", index=df.index)
    none = (df["new_code"] == "") & df["old_code"].isin(old_codes)
    no_successor = sorted(set(df.loc[none, "old_code"]))
    low = ~method.isin(TRUSTED_METHODS) & df["old_code"].isin(old_codes)
    notes = {"no_successor": no_successor, "weights_given": "weight" in df.columns,
             "by_method": {str(k): int(v) for k, v in method[df["old_code"].isin(old_codes)].value_counts().items()},
             "n_low_confidence": int(low.sum()),
             "low_confidence": [{"old_code": o, "new_code": n, "method": m} for o, n, m in
                                zip(df.loc[low, "old_code"], df.loc[low, "new_code"], method[low], strict=False)][:MAX_LISTED]}
    weight = pd.Series(parse_number(df["weight"], "decimal")[0], index=df.index) if "weight" in df.columns \
        else pd.Series(1.0, index=df.index)
    err = RowErrors.of(raw)
    unknown_old = ~df["old_code"].isin(old_codes) & (df["old_code"] != "")
    kept_unknown = unknown_old & df["new_code"].isin(new_codes) if partial else pd.Series(False, index=df.index)
    err.add((~df["old_code"].isin(old_codes) & ~kept_unknown).to_numpy(), "old_code",
            "not a commune of the current boundary version: " + df["old_code"])
    err.add(~df["new_code"].isin(new_codes) & ~none, "new_code", "not a commune of the new boundary version: " + df["new_code"])
    err.add(((weight.isna() | (weight <= 0)) & ~none).to_numpy(), "weight", "weight must be a number > 0")
    pair = df["old_code"] + ">" + df["new_code"]
    clash = pair.duplicated(keep=False) & (weight.groupby(pair).transform("nunique") > 1)
    err.add(clash.to_numpy(), "weight", lambda at: "the same old_code, new_code as another row with another weight: "
            + pair.iloc[at].to_numpy(dtype=object))
    if "weight" in df.columns:           # a split's weights are shares of the old commune: they add up to 1
        total = weight.where(~pair.duplicated() & ~none).groupby(df["old_code"]).transform("sum")
        off = (total - 1).abs() > WEIGHT_SUM_TOLERANCE
        err.add((off & ~none).to_numpy(), "weight", lambda at: "weights of this old_code add up to "
                + total.iloc[at].round(3).astype(str).to_numpy(dtype=object) + ", not 1")
    problems = [f"{Path(path).name}: row {r}, {f or '—'}: {why}" for r, f, why in err.set_aside] + \
        [f"{Path(path).name}: row {err.where(int(i))}, {err.field[i]}: {err.reason[i]}" for i in np.flatnonzero(err.bad)]
    keep = ~err.bad & ~none.to_numpy()
    rows = df.loc[keep, ["old_code", "new_code"]].assign(weight=weight[keep]).drop_duplicates(["old_code", "new_code"])
    unmapped = sorted((old_codes - new_codes) - set(rows["old_code"]) - set(no_successor))
    if unmapped:
        problems.append(f"{Path(path).name}: {len(unmapped)} commune(s) of the current version are not in the new one "
                        f"and not mapped (old_code): {', '.join(unmapped[:20])}")
    if partial:         # the rows kept, the rest listed with their reasons: the operator's way forward
        notes["refused"] = problems
        notes["kept_without_polygon"] = sorted(set(df.loc[kept_unknown, "old_code"]))
        problems = []
    return rows.reset_index(drop=True), problems, notes


def for_import(store, path: Path, previous: str, communes, metric_crs, partial: bool = False) -> tuple[pd.DataFrame, dict]:
    """The crosswalk of `import-units --crosswalk` from the stored version `previous` to `communes`
    (refused whole on any problem, unless `partial`), weighted by areas where the file gives no weight;
    each link is checked against the polygons (an old commune barely inside its successor is listed)."""
    old = store.load_units(previous, "commune", texts=False)
    new_codes = set(communes["code"].astype(str))
    links, problems, notes = read(path, set(old["code"].astype(str)), new_codes, partial)
    if problems:
        raise InputError("units_invalid", path=str(path), n=len(problems), details="\n".join(problems[:20]))
    if not notes["weights_given"]:
        links = area_weights(links, pd.Series(old.to_crs(metric_crs).geometry.to_numpy(), index=old["code"].astype(str)),
                             pd.Series(communes.to_crs(metric_crs).geometry.to_numpy(), index=communes["code"].astype(str)))
    split = links[links["old_code"].duplicated(keep=False)]
    notes.update({"weights": "given" if notes["weights_given"] else "areas", "n_links": len(links),
                  "n_split_old_communes": int(split["old_code"].nunique()),
                  "barely_overlapping": overlaps(links, old, communes, metric_crs)})
    return links, notes


def overlaps(links: pd.DataFrame, old, new, metric_crs) -> list[dict]:
    """Links whose old commune lies less than MIN_OVERLAP_SHARE inside the new one (codes swapped or mistyped),
    each with the share: the table checked against the polygons, listed in the import report."""
    o = pd.Series(old.to_crs(metric_crs).geometry.to_numpy(), index=old["code"].astype(str)).reindex(links["old_code"]).to_numpy()
    n = pd.Series(new.to_crs(metric_crs).geometry.to_numpy(), index=new["code"].astype(str)).reindex(links["new_code"]).to_numpy()
    ok = ~(pd.isna(o) | pd.isna(n))
    share = np.full(len(links), np.nan)
    area = shapely.area(o[ok].astype(object))
    share[ok] = np.where(area > 0, shapely.area(shapely.intersection(o[ok], n[ok])) / np.where(area > 0, area, 1), np.nan)
    low = np.flatnonzero(ok & (share < MIN_OVERLAP_SHARE))
    return [{"old_code": links["old_code"].iat[i], "new_code": links["new_code"].iat[i], "share": round(float(share[i]), 4)}
            for i in low][:MAX_LISTED]


def area_weights(links: pd.DataFrame, old_geoms: pd.Series, new_geoms: pd.Series) -> pd.DataFrame:
    """Weights of a split's links from areas (the share of the old commune inside each new one),
    for a crosswalk that gives none: a case without a point then goes to the largest part."""
    split = links["old_code"].duplicated(keep=False).to_numpy()
    if not split.any():
        return links
    out = links.copy()
    sub = out[split]
    old = old_geoms.reindex(sub["old_code"]).to_numpy()
    new = new_geoms.reindex(sub["new_code"]).to_numpy()
    ok = ~(pd.isna(old) | pd.isna(new))
    area = np.zeros(len(sub))
    area[ok] = shapely.area(shapely.intersection(old[ok], new[ok]))
    total = pd.Series(area).groupby(sub["old_code"].to_numpy()).transform("sum").to_numpy()
    weight = np.where(total > 0, area / np.where(total > 0, total, 1), sub["weight"].to_numpy())
    out.loc[split, "weight"] = np.round(weight, 6)
    return out


