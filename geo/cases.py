"""import-cases: a line list (one row per case) or daily counts per commune, CSV or XLSX.

Rows are located by commune_code, else lon/lat, else commune + district + province names.
Rows that cannot be placed or parsed are kept in a rejects file with row, field and reason.
Idempotent: a case is keyed by case_id, a count by date + commune + its flags; re-importing
the same file changes nothing, a corrected file updates the rows it changes.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from .assign import Assigner
from .columns import CASE_ALIASES, PERSONAL_COLUMNS, CaseCol as C, rename_columns
from .errors import InputError, MissingInputError
from .names import NameIndex
from .store import CASE_FIELDS, Store
from .tables import RowErrors, log_import, parse_bool, parse_dates, read_table, summary, write_rejects
from .units import sha256_file

# Vietnam's extent with a margin (lon, lat): a point outside is a typing error, not a case.
VN_BOUNDS = (100.0, 6.0, 118.0, 24.5)

# No commune has reported anything near this in a day (Vietnam's worst national day, March 2022,
# was ~450,000 cases over 10,000 communes); above it a count is a typo or a running total.
MAX_DAILY_COUNT = 50_000


def _col(df: pd.DataFrame, name: C) -> pd.Series:
    return df[name.value] if name.value in df.columns else pd.Series([""] * len(df), index=df.index)


def parse_cases(raw: pd.DataFrame, path: Path, units, today: dt.date,
                community: bool | None = None, source_known: bool | None = None):
    """-> (accepted DataFrame with CASE_FIELDS, RowErrors over raw rows)."""
    mapping = rename_columns(raw.columns, CASE_ALIASES)
    df = raw.rename(columns=mapping)
    df = df[[c for c in df.columns if c not in PERSONAL_COLUMNS]]
    n = len(df)
    err = RowErrors(n)
    is_counts = C.COUNT.value in df.columns
    if not is_counts and C.CASE_ID.value not in df.columns:
        raise InputError("line_list_needs_id", path=str(path))
    has_code = C.COMMUNE_CODE.value in df.columns
    has_point = C.LON.value in df.columns and C.LAT.value in df.columns
    has_names = all(c.value in df.columns for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME))
    if not (has_code or has_point or has_names):
        raise InputError("no_location_columns", path=str(path))
    if C.REPORT_DATE.value not in df.columns:
        raise InputError("missing_columns", path=str(path), columns=C.REPORT_DATE.value, present=", ".join(raw.columns))

    out = pd.DataFrame(index=df.index)
    case_id = _col(df, C.CASE_ID)
    if not is_counts:
        err.add(case_id == "", C.CASE_ID.value, "missing case_id")
        dup = case_id.duplicated() & (case_id != "")
        first_row = case_id.map({v: i + 2 for i, v in reversed(list(enumerate(case_id)))})
        err.add(dup, C.CASE_ID.value, "duplicate case_id in this file, first at row " + first_row.astype(str))
    for col in (C.REPORT_DATE, C.SAMPLE_DATE, C.RESULT_DATE):
        values, e = parse_dates(_col(df, col), today)
        if col is C.REPORT_DATE:
            err.add(_col(df, col) == "", col.value, "missing report_date")
        err.add(e != "", col.value, e)
        out[col.value] = values
    if is_counts:
        cnt = pd.to_numeric(df[C.COUNT.value], errors="coerce")
        bad = cnt.isna() | (cnt < 0) | (cnt != cnt.round())
        err.add(bad.to_numpy(), C.COUNT.value, "count must be a whole number >= 0, got " + df[C.COUNT.value].astype(str))
        out[C.COUNT.value] = cnt.fillna(0).astype(np.int64)
    else:
        out[C.COUNT.value] = 1
    comm, e = parse_bool(_col(df, C.COMMUNITY), community)
    err.add(e != "", C.COMMUNITY.value, e)
    err.add(np.isnan(comm), C.COMMUNITY.value, "community missing (give the column or --community)")
    known, e = parse_bool(_col(df, C.SOURCE_KNOWN), source_known)
    err.add(e != "", C.SOURCE_KNOWN.value, e)
    err.add(np.isnan(known) & (comm == 1), C.SOURCE_KNOWN.value,
            "source_known missing for a community case (give the column or --source-known)")
    out[C.COMMUNITY.value] = comm
    out[C.SOURCE_KNOWN.value] = known
    out[C.SOURCE_SETTING.value] = _col(df, C.SOURCE_SETTING).str.lower().replace("", None)
    out[C.CLUSTER_ID.value] = _col(df, C.CLUSTER_ID).replace("", None)
    out[C.AGE.value] = pd.to_numeric(_col(df, C.AGE), errors="coerce")
    out[C.SEX.value] = _col(df, C.SEX).replace("", None)
    out[C.CASE_ID.value] = case_id.replace("", None) if not is_counts else None
    _locate(df, out, err, units, has_code, has_point, has_names)
    if is_counts:
        # more cases in a day than people in the commune is a typo or a cumulative column
        pop = out[C.COMMUNE_CODE.value].map(units.set_index("code")["population"]).astype(float)
        pop = pop.where(pop > 0, MAX_DAILY_COUNT)          # unknown or zero population: only the absolute limit
        too_many = (out[C.COUNT.value] > np.minimum(pop, MAX_DAILY_COUNT)).to_numpy()
        err.add(too_many, C.COUNT.value, "count larger than the commune's population (or " + str(MAX_DAILY_COUNT) +
                "): " + df[C.COUNT.value].astype(str))

    kind = "count" if is_counts else "case"
    if is_counts:
        parts = out[[c.value for c in (C.REPORT_DATE, C.COMMUNE_CODE, C.COMMUNITY, C.SOURCE_KNOWN,
                                        C.SOURCE_SETTING, C.CLUSTER_ID)]]
        key = pd.Series(["count:" + "|".join("" if v is None or v != v else str(v) for v in row)
                         for row in parts.itertuples(index=False)], index=out.index)
        dup = key.duplicated() & ~err.bad
        first_row = key.map({v: i + 2 for i, v in reversed(list(enumerate(key)))})
        err.add(dup.to_numpy(), C.COUNT.value,
                "same date, commune and flags as row " + first_row.astype(str) + " of this file")
    else:
        key = "case:" + case_id
    out["case_key"] = key
    out["kind"] = kind
    ok = ~err.bad
    acc = out[ok].copy()
    acc["row_hash"] = [hashlib.sha1(repr(r).encode()).hexdigest() for r in
                       acc[[f for f in CASE_FIELDS if f not in ("row_hash",)]].itertuples(index=False)]
    acc = acc[list(CASE_FIELDS)]
    used = {c.value for c in C}
    acc.attrs["ignored"] = [orig for orig, canon in mapping.items() if canon not in used and canon not in PERSONAL_COLUMNS]
    acc.attrs["personal"] = [orig for orig, canon in mapping.items() if canon in PERSONAL_COLUMNS]
    return acc, err


def _locate(df, out, err, units, has_code, has_point, has_names) -> None:
    n = len(df)
    codes = units["code"].astype(str).to_numpy()
    code_set = set(codes)
    commune = np.full(n, None, dtype=object)
    located = np.full(n, None, dtype=object)
    lon = pd.to_numeric(_col(df, C.LON), errors="coerce").to_numpy(float)
    lat = pd.to_numeric(_col(df, C.LAT), errors="coerce").to_numpy(float)
    if has_code:
        given = _col(df, C.COMMUNE_CODE).to_numpy(dtype=object)
        known = np.isin(given, list(code_set))
        commune[known] = given[known]
        located[known] = "code"
        err.add((given != "") & ~known, C.COMMUNE_CODE.value, "unknown commune_code " + given.astype(str))
    if has_point:
        todo = (commune == None) & ~err.bad & ~np.isnan(lon) & ~np.isnan(lat)  # noqa: E711
        raw_lon, raw_lat = _col(df, C.LON).to_numpy(), _col(df, C.LAT).to_numpy()
        err.add((commune == None) & ((raw_lon != "") | (raw_lat != "")) & (np.isnan(lon) | np.isnan(lat)),  # noqa: E711
                C.LON.value, "lon/lat not numbers")
        x0, y0, x1, y1 = VN_BOUNDS
        outside = todo & ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        swapped = outside & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
        err.add(swapped, C.LON.value, "lon/lat look swapped (lon must be 100-118, lat 6-24.5)")
        err.add(outside, C.LON.value, "point outside Vietnam: " + np.char.add(np.char.add(lon.astype(str), ","), lat.astype(str)))
        todo &= ~outside
        if todo.any():
            assigner = Assigner(units.geometry.to_numpy(), codes)
            idx = assigner.assign(lon[todo], lat[todo])
            hit = np.flatnonzero(todo)[idx >= 0]
            commune[hit] = codes[idx[idx >= 0]]
            located[hit] = "point"
            miss = np.flatnonzero(todo)[idx < 0]
            if len(miss):
                near, dist = assigner.nearest(lon[miss], lat[miss])
                reason = np.full(n, "", dtype=object)
                reason[miss] = [f"outside every commune (nearest {codes[k]} {units['name'].iat[k]}, about {d:.0f} m)"
                                for k, d in zip(near, dist)]
                mask = np.zeros(n, dtype=bool)
                mask[miss] = True
                err.add(mask, C.LON.value, reason)
    if has_names:
        todo = (commune == None) & ~err.bad  # noqa: E711
        names = NameIndex(codes, units["name"], units["district_name"], units["province_name"])
        reason = np.full(n, "", dtype=object)
        cn, dn, pn = (_col(df, c).to_numpy() for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME))
        for k in np.flatnonzero(todo & (cn != "")):
            code, why = names.match(cn[k], dn[k], pn[k])
            if code:
                commune[k], located[k] = code, "names"
            else:
                reason[k] = why
        err.add(reason != "", C.COMMUNE_NAME.value, reason)
    err.add((commune == None) & ~err.bad, C.COMMUNE_CODE.value, "no location: give commune_code, lon/lat or names")  # noqa: E711
    out[C.COMMUNE_CODE.value] = commune
    out["located_by"] = located
    out[C.LON.value] = np.where(np.isnan(lon), None, lon)
    out[C.LAT.value] = np.where(np.isnan(lat), None, lat)


def import_cases(store: Store, path: Path, rejects_dir: Path, today: dt.date,
                 community: bool | None = None, source_known: bool | None = None) -> dict:
    path = Path(path)
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    raw = read_table(path)
    units = store.load_units(version)
    acc, err = parse_cases(raw, path, units, today, community, source_known)
    stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    rejects = write_rejects(raw, err, rejects_dir, path, stamp)
    rows = [tuple(None if (isinstance(v, float) and np.isnan(v)) else v for v in r)
            for r in acc.itertuples(index=False)]
    cols = ", ".join(CASE_FIELDS)
    updates = ", ".join(f"{f} = excluded.{f}" for f in CASE_FIELDS if f != "case_key")
    with store.transaction() as con:
        before = con.total_changes
        con.executemany(
            f"INSERT INTO cases ({cols}, import_id) VALUES ({', '.join('?' * len(CASE_FIELDS))}, NULL) "
            f"ON CONFLICT(case_key) DO UPDATE SET {updates} WHERE cases.row_hash != excluded.row_hash", rows)
        result = summary(len(acc), err, con.total_changes - before, rejects, path)
        result["notes"] = ([f"{path.name}: columns not used: {', '.join(acc.attrs['ignored'])}"] if acc.attrs["ignored"] else []) + \
            ([f"{path.name}: personal columns dropped, never stored: {', '.join(acc.attrs['personal'])}"]
             if acc.attrs["personal"] else [])
        import_id = log_import(con, "cases", path, sha256_file(path), stamp, result)
        con.execute("UPDATE cases SET import_id = ? WHERE import_id IS NULL", (import_id,))
    return result
