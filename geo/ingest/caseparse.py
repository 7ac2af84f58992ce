"""Reading a case file's rows: line lists (one row per case) or daily counts per commune.

`Plan.of(raw)` looks at the whole file once (columns, personal ones, what locates a row);
`parse(part, plan, ...)` turns a part of it (a chunk of rows) into rows for the store, marking what
it cannot take in a RowErrors view (row, field, reason). Rows are located by commune_code, else
lon/lat, else commune + district + province names.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import CASE_ALIASES, PERSONAL_COLUMNS, rename_columns
from geo.base.columns import CaseCol as C
from geo.base.errors import InputError
from geo.base.names import EARLIER_CODE, EARLIER_NAMES, NameIndex
from geo.ingest import crosswalk, personal
from geo.ingest.assign import Assigner
from geo.ingest.tables import RowErrors, origin, parse_bool, parse_dates, parse_number
from geo.store import boundaries
from geo.store.database import CASE_FIELDS

# Vietnam's extent with a margin (lon, lat): a point outside is a typing error, not a case.
VN_BOUNDS = (100.0, 6.0, 118.0, 24.5)
# No commune has reported anything near this in a day (Vietnam's worst national day, March 2022,
# was ~450,000 cases over 10,000 communes); above it a count is a typo or a running total.
MAX_DAILY_COUNT = 50_000
# Our own dates, numbers, flags and codes: parsed strictly, never mistaken for personal data.
STRUCTURED = frozenset(c.value for c in (C.REPORT_DATE, C.SAMPLE_DATE, C.RESULT_DATE, C.LON, C.LAT, C.COUNT,
                                         C.COMMUNITY, C.SOURCE_KNOWN, C.AGE, C.SEX, C.COMMUNE_CODE))
# Identifiers the rules only compare: stored as keyed pseudonyms (geo/ingest/personal.py).
PSEUDONYMISED = (C.CASE_ID.value, C.CLUSTER_ID.value)
# Place names used to locate a case: kept (an address typed into one is masked wherever it is shown).
PLACE_NAMES = frozenset(c.value for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME))


def _col(df: pd.DataFrame, name: C) -> pd.Series:
    return df[name.value] if name.value in df.columns else pd.Series("", index=df.index, dtype=object)


def _obj(values, index) -> pd.Series:
    """An object column (pandas would otherwise infer Arrow strings from Python ones, at a cost)."""
    return pd.Series(values, index=index, dtype=object)


def personal_columns(raw: pd.DataFrame, mapping: dict[str, str]) -> dict[str, str]:
    """{original column: why it is personal}: by its header, or by what its cells hold."""
    found = {}
    for orig, canon in mapping.items():
        if canon in PERSONAL_COLUMNS or personal.personal_header(orig):
            found[orig] = "header"
        elif canon not in STRUCTURED and canon not in PSEUDONYMISED and canon not in PLACE_NAMES:
            kind = personal.looks_personal(raw[orig])
            if kind:
                found[orig] = kind
    return found


@dataclass
class Plan:
    """What a case file is, from its columns: counts or a line list, what locates a row, which
    columns are personal (dropped), which are not used."""
    mapping: dict
    personal: dict
    ignored: list
    is_counts: bool
    has_code: bool
    has_point: bool
    has_names: bool
    label: str

    @classmethod
    def of(cls, raw: pd.DataFrame, path: Path) -> Plan:
        mapping = rename_columns(raw.columns, CASE_ALIASES)
        found = personal_columns(raw, mapping)
        cols = {mapping[c] for c in raw.columns if c not in found}
        source = origin(raw)
        label = source.source if source else str(path)
        is_counts = C.COUNT.value in cols
        if not is_counts and C.CASE_ID.value not in cols:
            raise InputError("line_list_needs_id", path=label)
        plan = cls(mapping, found, [o for o, c in mapping.items() if c not in {x.value for x in C} and o not in found],
                   is_counts, C.COMMUNE_CODE.value in cols, C.LON.value in cols and C.LAT.value in cols,
                   all(c.value in cols for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME)), label)
        if not (plan.has_code or plan.has_point or plan.has_names):
            raise InputError("no_location_columns", path=label)
        if C.REPORT_DATE.value not in cols:
            raise InputError("missing_columns", path=label, columns=C.REPORT_DATE.value,
                             present=", ".join(c for c in raw.columns if c not in found))
        return plan

    def frame(self, raw: pd.DataFrame) -> pd.DataFrame:
        """The file's columns under our names, personal ones left out."""
        return raw.drop(columns=list(self.personal)).rename(columns=self.mapping)


def _text(values: pd.Series) -> pd.Series:
    """Key parts as text: '' for missing, floats as Python prints them ('1.0'), as keys always were."""
    v = values.astype(object)
    return v.where(v.notna(), "").map(str) if v.dtype == object else v.astype(str)


def count_keys(out: pd.DataFrame) -> pd.Series:
    key = "count:" + _text(out[C.REPORT_DATE.value])
    for col in (C.COMMUNE_CODE, C.COMMUNITY, C.SOURCE_KNOWN, C.SOURCE_SETTING, C.CLUSTER_ID):
        key = key + "|" + _text(out[col.value])
    return key


def _place(names: NameIndex, earlier: Earlier | None, key: tuple) -> tuple[str | None, str, str]:
    """A row's names on the current version; else on an earlier one the crosswalk leads from."""
    code, rule, why = names.place(*key)
    if code is None and earlier is not None and earlier.names is not None:
        old, old_rule, _ = earlier.names.place(*key)
        if old is not None:
            return old, EARLIER_NAMES, ""
    return code, rule, why


def parse(df: pd.DataFrame, plan: Plan, units, today: dt.date, community: bool | None, source_known: bool | None,
          secret: bytes, err: RowErrors, earlier: Earlier | None = None) -> pd.DataFrame:
    """Rows of `df` (a part of plan.frame(raw)) for the store, with CASE_FIELDS (row_hash included);
    the rows it cannot take are marked in `err` (a view over the same rows) and left out."""
    n = len(df)
    out = pd.DataFrame(index=df.index)
    case_id = _col(df, C.CASE_ID)
    if not plan.is_counts:
        err.add((case_id == "").to_numpy(dtype=bool), C.CASE_ID.value, "missing case_id")
    for col in (C.REPORT_DATE, C.SAMPLE_DATE, C.RESULT_DATE):
        values, e = parse_dates(_col(df, col), today)
        if col is C.REPORT_DATE:
            err.add((_col(df, col) == "").to_numpy(dtype=bool), col.value, "missing report_date")
        err.add(e != "", col.value, e)
        out[col.value] = _obj(values, out.index)
    if plan.is_counts:
        cnt, e = parse_number(df[C.COUNT.value], "whole")
        err.add(e != "", C.COUNT.value, "count must be a whole number >= 0: " + e)
        given = df[C.COUNT.value]
        err.add(np.isnan(cnt) | (cnt < 0), C.COUNT.value,
                lambda at: "count must be a whole number >= 0, got " + given.iloc[at].astype(str).to_numpy(dtype=object))
        out[C.COUNT.value] = np.nan_to_num(cnt, nan=0).astype(np.int64)
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
    setting = _col(df, C.SOURCE_SETTING).astype(str).str.lower()
    given = (setting != "").to_numpy(dtype=bool)
    clean = np.full(n, None, dtype=object)
    if given.any():                 # a name or an address is no setting
        some = setting[given]
        clean[np.flatnonzero(given)] = np.where(personal.personal_cells(some).to_numpy(dtype=bool), None,
                                                some.to_numpy(dtype=object))
    out[C.SOURCE_SETTING.value] = _obj(clean, out.index)
    out[C.CLUSTER_ID.value] = personal.pseudonyms(_col(df, C.CLUSTER_ID), secret)
    out[C.AGE.value], _ = parse_number(_col(df, C.AGE), "decimal")
    sex = _col(df, C.SEX).to_numpy(dtype=object)
    out[C.SEX.value] = _obj(np.where(sex == "", None, sex), out.index)
    out[C.CASE_ID.value] = personal.pseudonyms(case_id, secret) if not plan.is_counts else None
    _locate(df, out, err, units, plan.has_code, plan.has_point, plan.has_names, earlier)
    if plan.is_counts:
        # more cases in a day than people in the commune is a typo or a cumulative column
        pop = out[C.COMMUNE_CODE.value].map(units.set_index("code")["population"]).astype(float)
        pop = pop.where(pop > 0, MAX_DAILY_COUNT)          # unknown or zero population: only the absolute limit
        too_many = (out[C.COUNT.value] > np.minimum(pop, MAX_DAILY_COUNT)).to_numpy()
        err.add(too_many, C.COUNT.value, lambda at: f"count larger than the commune's population (or {MAX_DAILY_COUNT}): "
                + df[C.COUNT.value].iloc[at].astype(str).to_numpy(dtype=object))
        out["case_key"] = count_keys(out)
        out["kind"] = "count"
    else:
        ids = out[C.CASE_ID.value].to_numpy(dtype=object)
        out["case_key"] = _obj(np.add("case:", np.where(pd.isna(ids), "", ids)), out.index)
        out["kind"] = "case"
    ok = ~err.bad
    acc = out if ok.all() else out[ok].copy()
    # what can change under a key (the key itself, and its kind, cannot)
    hashed = pd.util.hash_pandas_object(acc[[f for f in CASE_FIELDS if f not in ("row_hash", "case_key", "kind")]],
                                        index=False).to_numpy()
    acc["row_hash"] = personal.hex64(hashed).astype(str).astype(object)
    return acc[list(CASE_FIELDS)]


@dataclass
class Earlier:
    """Places of earlier boundary versions that the crosswalk leads into the current one: a case file
    written with last decade's codes or names (2021 communes after the 2025 reform) is stored under the
    old code, and the evaluation follows it (geo/ingest/crosswalk.py forward)."""
    followed: set[str]                 # old codes that lead to a current commune
    names: NameIndex | None            # the names of those old communes, for rows without a code


def earlier_places(store, version: str) -> Earlier:
    with store.connect(readonly=True) as con:
        edges = boundaries.crosswalk_edges(con)
    followed = set(crosswalk.forward(edges, edges["old_code"].unique()))
    if not followed:
        return Earlier(set(), None)
    frames = [store.load_units(v, "commune") for v in sorted(set(edges["from_version"].dropna()) - {version})]
    old = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["code"])
    old = old[old["code"].astype(str).isin(followed)].drop_duplicates("code")
    index = NameIndex(old["code"], old["name"], old["district_name"].fillna(""), old["province_name"]) if len(old) else None
    return Earlier(followed, index)


def _locate(df, out, err, units, has_code, has_point, has_names, earlier: Earlier | None = None) -> None:
    n = len(df)
    codes = units["code"].astype(str).to_numpy()
    commune = np.full(n, None, dtype=object)
    located = np.full(n, None, dtype=object)
    lon, lat = (parse_number(df[c.value], "coordinate")[0] if c.value in df.columns else np.full(n, np.nan)
                for c in (C.LON, C.LAT))
    if has_code:
        given = _col(df, C.COMMUNE_CODE).astype(str).to_numpy(dtype=object)
        known = pd.Index(codes).get_indexer(given) >= 0
        commune[known] = given[known]
        located[known] = "code"
        if earlier is not None and earlier.followed:
            old = ~known & pd.Index(given).isin(list(earlier.followed))
            commune[old], located[old] = given[old], EARLIER_CODE
            known |= old
        err.add((given != "") & ~known, C.COMMUNE_CODE.value, lambda at: "unknown commune_code " + given[at].astype(str))
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
                                for k, d in zip(near, dist, strict=False)]
                mask = np.zeros(n, dtype=bool)
                mask[miss] = True
                err.add(mask, C.LON.value, reason)
    if has_names:
        todo = (commune == None) & ~err.bad  # noqa: E711
        names = NameIndex(codes, units["name"], units["district_name"], units["province_name"])
        reason = np.full(n, "", dtype=object)
        cn, dn, pn = (_col(df, c).to_numpy() for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME))
        seen: dict[tuple, tuple] = {}          # announcements repeat the same names day after day
        for k in np.flatnonzero(todo & (cn != "")):
            key = (cn[k], dn[k], pn[k])
            code, rule, why = seen[key] if key in seen else seen.setdefault(key, _place(names, earlier, key))
            if code:
                commune[k], located[k] = code, rule
            else:
                reason[k] = why
        err.add(reason != "", C.COMMUNE_NAME.value, reason)
    err.add((commune == None) & ~err.bad, C.COMMUNE_CODE.value, "no location: give commune_code, lon/lat or names")  # noqa: E711
    out[C.COMMUNE_CODE.value] = _obj(commune, out.index)
    out["located_by"] = _obj(located, out.index)
    out[C.LON.value] = _obj(lon, out.index).where(~np.isnan(lon), None)
    out[C.LAT.value] = _obj(lat, out.index).where(~np.isnan(lat), None)
