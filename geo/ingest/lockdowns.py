"""import-lockdowns (polygons declared by decision) and import-flags (committee flags).

A lockdown is a decision, not a computed level (RULES.md section 4): it is active on D when
start_date <= D, D <= end_date (if given) and D < lifted_date (if given).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import shapely

from geo.base.columns import FLAG_ALIASES, FLAG_NAMES, LOCKDOWN_ALIASES, FlagCol, rename_columns
from geo.base.columns import LockdownCol as L
from geo.base.errors import InputError, MissingInputError
from geo.ingest.rejects import write_rejects
from geo.ingest.tables import RowErrors, cell, parse_bool, parse_dates, read_table, summary
from geo.ingest.units import read_vector, sha256_file
from geo.store import inputs
from geo.store.database import Store, to_wkb


def _stamp() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")


def import_lockdowns(store: Store, path: Path, rejects_dir: Path, today: dt.date, crs: str | None = None) -> dict:
    path = Path(path)
    gdf = read_vector(path, crs).to_crs(4326)
    attrs = pd.DataFrame(gdf.drop(columns=gdf.geometry.name))
    attrs.columns = [str(c) for c in attrs.columns]
    attrs = attrs.apply(lambda s: s.map(cell))
    attrs = attrs.rename(columns=rename_columns(attrs.columns, LOCKDOWN_ALIASES))
    for col in L:
        if col.value not in attrs.columns:
            attrs[col.value] = ""
    err = RowErrors(len(attrs))
    err.add(attrs[L.DECISION_NO.value] == "", L.DECISION_NO.value, "missing decision_no")
    dates = {}
    for col in (L.START_DATE, L.END_DATE, L.LIFTED_DATE):
        # Planned ends may lie in the future; only start and lifting dates must have happened.
        values, e = parse_dates(attrs[col.value], dt.date.max if col is L.END_DATE else today)
        err.add(e != "", col.value, e)
        dates[col.value] = values
    err.add(attrs[L.START_DATE.value] == "", L.START_DATE.value, "missing start_date")
    start, end, lifted = dates[L.START_DATE.value], dates[L.END_DATE.value], dates[L.LIFTED_DATE.value]
    err.add(np.array([bool(s and e and e < s) for s, e in zip(start, end, strict=False)]), L.END_DATE.value, "end_date before start_date")
    lifted = dates[L.LIFTED_DATE.value]
    err.add(np.array([bool(s and x and x < s) for s, x in zip(start, lifted, strict=False)]), L.LIFTED_DATE.value,
            "lifted_date before start_date")
    geoms = gdf.geometry.to_numpy()
    empty = shapely.is_missing(geoms) | shapely.is_empty(geoms)
    err.add(empty, "geometry", "empty geometry")
    polygonal = ~empty & np.isin(shapely.get_type_id(geoms), (3, 6))
    err.add(~empty & ~polygonal, "geometry", "not a polygon")
    version = store.current_boundary_version()
    if version is not None and polygonal.any():
        # a lockdown in no commune is a file in the wrong CRS or a typo in a coordinate
        tree = shapely.STRtree(store.load_units(version, "commune", texts=False).geometry.to_numpy())
        sub = np.flatnonzero(polygonal)
        inside = np.zeros(len(geoms), dtype=bool)
        inside[sub[np.unique(tree.query(geoms[sub], predicate="intersects")[0])]] = True
        err.add(polygonal & ~inside, "geometry", "outside every commune (wrong CRS?)")
    invalid = polygonal & ~err.bad & ~shapely.is_valid(geoms)
    notes = [f"{path.name}: row {i + 2}, geometry: repaired ({shapely.is_valid_reason(geoms[i])})" for i in np.flatnonzero(invalid)]
    # one decision, one lockdown: its features are one area, with one set of dates
    decision = attrs[L.DECISION_NO.value].map(decision_key)
    same = attrs[[L.ISSUER.value, L.NAME.value]].astype(str).agg("|".join, axis=1) + "|" + \
        pd.Series([f"{a}|{b}|{c}" for a, b, c in zip(start, end, lifted, strict=False)], index=attrs.index)
    first: dict = {}
    for k in np.flatnonzero(~err.bad):
        first.setdefault(decision.iat[k], k)
    clash = np.fromiter((k != first.get(decision.iat[k], k) and same.iat[k] != same.iat[first[decision.iat[k]]]
                         for k in range(len(attrs))), dtype=bool, count=len(attrs))
    err.add(clash, L.DECISION_NO.value, "same decision as an earlier row with other dates or issuer: a decision has one set")
    ok = ~err.bad
    fixed = np.array(geoms, dtype=object)
    fixed[ok] = shapely.make_valid(geoms[ok])
    rows = []
    for key, members in pd.Series(np.flatnonzero(ok)).groupby(decision.to_numpy()[ok]):
        one = int(members.iloc[0])
        area = shapely.union_all(fixed[members.to_numpy()]) if len(members) > 1 else fixed[one]
        w = to_wkb([area])[0]
        a = attrs.iloc[one]
        vals = (a[L.DECISION_NO.value], a[L.ISSUER.value] or None, a[L.NAME.value] or None, start[one], end[one],
                dates[L.LIFTED_DATE.value][one])
        rows.append((key, *vals, w, hashlib.sha1(repr(vals).encode() + w).hexdigest()))
    stamp = _stamp()
    table = pd.DataFrame(attrs)
    table["geometry_wkt"] = shapely.to_wkt(geoms, rounding_precision=6)
    rejects = write_rejects(table, err, rejects_dir, path, stamp, allowed=[*(c.value for c in L), "geometry_wkt"])
    with store.transaction() as con:
        replaced = inputs.keep_lockdown_history(con, rows, stamp)
        before = con.total_changes            # the decisions this file changes, not the history rows kept
        inputs.upsert_lockdowns(con, rows)
        result = summary(len(rows), err, con.total_changes - before, rejects, path)
        result["notes"] = notes + [f"{path.name}: decision {d}: replaced by this file (the previous area and dates are kept "
                                   f"in the history)" for d in replaced]
        result["replaced"] = replaced
        inputs.log_import(con, "lockdowns", path, sha256_file(path), stamp, result)
    return result


def decision_key(decision_no) -> str:
    """A decision's identity: its number, ignoring case and spacing ("12/QĐ-UBND" = "12 / qđ-ubnd")."""
    return "decision:" + "".join(str(decision_no).split()).casefold()


def import_flags(store: Store, path: Path, rejects_dir: Path, today: dt.date, rename: dict[str, str] | None = None) -> dict:
    """Committee flags: code, date, flag, value, author[, end_date]. A flag holds from its date
    until its end_date or a later row for the same commune and flag."""
    path = Path(path)
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    raw = read_table(path, rename=rename)
    df = raw.rename(columns=rename_columns(raw.columns, FLAG_ALIASES))
    missing = [c.value for c in (FlagCol.CODE, FlagCol.DATE, FlagCol.FLAG) if c.value not in df.columns]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(raw.columns))
    for col in (FlagCol.VALUE, FlagCol.AUTHOR, FlagCol.END_DATE):
        if col.value not in df.columns:
            df[col.value] = ""
    codes = set(store.load_units(version, texts=False)["code"].astype(str))
    err = RowErrors.of(raw)
    err.add(~df[FlagCol.CODE.value].isin(codes), FlagCol.CODE.value, "unknown commune code " + df[FlagCol.CODE.value])
    err.add(df[FlagCol.DATE.value] == "", FlagCol.DATE.value, "missing date")
    day, e = parse_dates(df[FlagCol.DATE.value], today)
    err.add(e != "", FlagCol.DATE.value, e)
    end, e = parse_dates(df[FlagCol.END_DATE.value], dt.date.max)
    err.add(e != "", FlagCol.END_DATE.value, e)
    err.add(np.array([bool(a and b and b < a) for a, b in zip(day, end, strict=True)]), FlagCol.END_DATE.value,
            "end_date before date")
    err.add(~df[FlagCol.FLAG.value].isin(FLAG_NAMES), FlagCol.FLAG.value,
            "unknown flag " + df[FlagCol.FLAG.value] + f" (allowed: {', '.join(FLAG_NAMES)})")
    value, e = parse_bool(df[FlagCol.VALUE.value], True)
    err.add(e != "", FlagCol.VALUE.value, e)
    ok = np.flatnonzero(~err.bad)
    rows = []
    for k in ok:
        vals = (df[FlagCol.CODE.value].iat[k], day[k], df[FlagCol.FLAG.value].iat[k], int(value[k]),
                df[FlagCol.AUTHOR.value].iat[k] or None, end[k])
        rows.append((*vals, hashlib.sha1(repr(vals).encode()).hexdigest()))
    stamp = _stamp()
    rejects = write_rejects(df, err, rejects_dir, path, stamp, allowed=[c.value for c in FlagCol])
    with store.transaction() as con:
        before = con.total_changes
        inputs.upsert_flags(con, rows)
        result = summary(len(rows), err, con.total_changes - before, rejects, path)
        inputs.log_import(con, "flags", path, sha256_file(path), stamp, result)
    return result
