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
from unidecode import unidecode

from geo.base.columns import CASE_ALIASES, PERSONAL_COLUMNS, rename_columns
from geo.base.columns import CaseCol as C
from geo.base.errors import InputError
from geo.base.vocabulary import SEXES, SOURCE_SETTINGS
from geo.ingest import personal
from geo.ingest.locate import Earlier, _col, _obj, locate
from geo.ingest.tables import RowErrors, origin, parse_bool, parse_dates, parse_number
from geo.store.database import CASE_FIELDS

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
                   all(c.value in cols for c in (C.COMMUNE_NAME, C.PROVINCE_NAME)), label)   # 2025: ward + province
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


def closed(values: pd.Series, vocabulary: dict[str, tuple[str, ...]], otherwise: str | None) -> np.ndarray:
    """Cells read into a closed vocabulary: an id, or a phrase beginning with one of its words (without
    diacritics, any case); '' -> None; anything else -> `otherwise` (never the cell itself)."""
    cells = values.astype(str)
    read = {}                  # each distinct cell read once (a million rows hold a handful of settings)
    for v in cells.unique():
        w = " ".join(unidecode(v).lower().replace("_", " ").split())
        read[v] = None if not w else next((key for key, phrases in vocabulary.items()
                                          for p in (key.replace("_", " "), *phrases) if w == p or w.startswith(p + " ")),
                                         otherwise)
    return cells.map(read).to_numpy(dtype=object)


def count_keys(out: pd.DataFrame, announced: pd.Series | None = None) -> pd.Series:
    """A daily count's identity: date, commune, flags and, for a file that names places, the names it was
    announced under (two provinces announcing one commune on one day are two reports, both counted)."""
    key = "count:" + _text(out[C.REPORT_DATE.value])
    for col in (C.COMMUNE_CODE, C.COMMUNITY, C.SOURCE_KNOWN, C.SOURCE_SETTING, C.CLUSTER_ID):
        key = key + "|" + _text(out[col.value])
    return key if announced is None else key + "|" + announced


def parse(df: pd.DataFrame, plan: Plan, units, today: dt.date, community: bool | None, source_known: bool | None,
          secret: bytes, err: RowErrors, earlier: Earlier | None = None, doubts: dict | None = None) -> pd.DataFrame:
    """Rows of `df` (a part of plan.frame(raw)) for the store, with CASE_FIELDS (row_hash included) and
    `review_key`: set on a row whose names placed it nowhere with certainty (it waits for an operator's choice,
    geo/ingest/reviews.py); the rows it cannot take are marked in `err` (a view over the same rows) and left out."""
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
    # free text never kept: the setting and the sex from closed lists (a name mapped to `sex` is no sex)
    out[C.SOURCE_SETTING.value] = _obj(closed(_col(df, C.SOURCE_SETTING), SOURCE_SETTINGS, "other"), out.index)
    out[C.CLUSTER_ID.value] = personal.pseudonyms(_col(df, C.CLUSTER_ID), secret)
    age, _ = parse_number(_col(df, C.AGE), "decimal")
    out[C.AGE.value] = np.where((age >= 0) & (age <= 130), age, np.nan)
    sex = closed(_col(df, C.SEX), SEXES, None)
    err.add((_col(df, C.SEX) != "").to_numpy(dtype=bool) & pd.isna(sex), C.SEX.value,
            "sex must be male, female or other")
    out[C.SEX.value] = _obj(sex, out.index)
    out[C.CASE_ID.value] = personal.pseudonyms(case_id, secret) if not plan.is_counts else None
    locate(df, out, err, units, plan.has_code, plan.has_point, plan.has_names, earlier, doubts)
    if plan.is_counts:
        # more cases in a day than people in the commune is a typo or a cumulative column
        pop = out[C.COMMUNE_CODE.value].map(units.set_index("code")["population"]).astype(float)
        pop = pop.where(pop > 0, MAX_DAILY_COUNT)          # unknown or zero population: only the absolute limit
        too_many = (out[C.COUNT.value] > np.minimum(pop, MAX_DAILY_COUNT)).to_numpy()
        err.add(too_many, C.COUNT.value, lambda at: f"count larger than the commune's population (or {MAX_DAILY_COUNT}): "
                + df[C.COUNT.value].iloc[at].astype(str).to_numpy(dtype=object))
        out["case_key"] = count_keys(out, out.pop("_announced") if "_announced" in out else None)
        out["kind"] = "count"
    else:
        out.pop("_announced") if "_announced" in out else None
        ids = out[C.CASE_ID.value].to_numpy(dtype=object)
        out["case_key"] = _obj(np.add("case:", np.where(pd.isna(ids), "", ids)), out.index)
        out["kind"] = "case"
    ok = ~err.bad
    acc = out if ok.all() else out[ok].copy()
    acc["row_hash"] = row_hashes(acc)
    return acc[[*CASE_FIELDS, "review_key"]]


def row_hashes(rows: pd.DataFrame) -> np.ndarray:
    """What can change under a key (the key itself, and its kind, cannot), as a digest per row."""
    hashed = pd.util.hash_pandas_object(rows[[f for f in CASE_FIELDS if f not in ("row_hash", "case_key", "kind")]],
                                        index=False).to_numpy()
    return personal.hex64(hashed).astype(str).astype(object)


