"""import-indicators: vaccination coverage, treatment capacity and other per-unit figures that the
later rulesets (NQ 128/QĐ 4800, QĐ 218) read, per unit (commune, district or province) and date.

Wide CSV/XLSX: `code`, `date` and one column per indicator. A value holds from its date until a
newer one, for at most MAX_AGE_DAYS (older figures are treated as missing, never as current).
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
from unidecode import unidecode

from geo.base.columns import normalise_header
from geo.base.errors import InputError, MissingInputError
from geo.base.vocabulary import UNITS
from geo.domain.indicators import IMPORTED, RESPONSE_CAPACITY
from geo.ingest.rejects import write_rejects
from geo.ingest.tables import (
    RowErrors,
    parse_bool,
    parse_dates,
    parse_number,
    read_table,
    summary,
)
from geo.ingest.units import sha256_file
from geo.store import inputs
from geo.store.database import Store


def canonical(columns) -> dict[str, str]:
    """Each header -> the indicator or column it names (unknown headers keep their normalised name)."""
    alias = {a: name for name, (_, aliases) in IMPORTED.items() for a in (name, *aliases)}
    alias.update({"ma": "code", "ma_don_vi": "code", "ma_xa": "code", "ngay": "date"})
    return {c: alias.get(normalise_header(c), normalise_header(c)) for c in columns}


def import_indicators(store: Store, path: Path, rejects_dir: Path, today: dt.date,
                      rename: dict[str, str] | None = None) -> dict:
    path = Path(path)
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    raw = read_table(path, rename=rename)
    df = raw.rename(columns=canonical(raw.columns))
    present = [c for c in df.columns if c in IMPORTED]
    missing = [c for c in ("code", "date") if c not in df.columns]
    if missing or not present:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing or ["<indicator>"]),
                         present=", ".join(raw.columns) + f" (indicators: {', '.join(IMPORTED)})")
    codes = {c for unit in UNITS for c in store.load_units(version, unit, texts=False)["code"]}
    err = RowErrors.of(raw)
    err.add(~df["code"].isin(codes), "code", "unknown unit code " + df["code"])
    day, e = parse_dates(df["date"], today)
    err.add(df["date"] == "", "date", "missing date")
    err.add(e != "", "date", e)
    values = {}
    for name in present:
        kind = IMPORTED[name][0]
        if kind == "bool":
            v, e = parse_bool(df[name], None)
            err.add(e != "", name, e)
        elif kind == "ordinal":
            v, e = _ordinal(df[name])
            err.add(e != "", name, e)
        else:
            v, e = parse_number(df[name], "decimal")
            err.add(e != "", name, e)
            bad = (df[name] != "").to_numpy(dtype=bool) & (np.isnan(v) | (v < 0) | ((v > 100) if kind == "pct" else False))
            err.add(bad, name, f"{name} must be a number" + (" from 0 to 100" if kind == "pct" else " >= 0")
                    + ", got " + df[name].astype(str).to_numpy(dtype=object))
        values[name] = v
    rows = []
    for k in np.flatnonzero(~err.bad):
        row = []
        for name in present:
            if not np.isnan(values[name][k]):
                vals = (df["code"].iat[k], day[k], name, float(values[name][k]))
                row.append((*vals, hashlib.sha1(repr(vals).encode()).hexdigest()))
        rows.append(row)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    rejects = write_rejects(df, err, rejects_dir, path, stamp, allowed=["code", "date", *IMPORTED])
    with store.transaction() as con:
        changed = inputs.upsert_indicators(con, rows)
        result = summary(int((~err.bad).sum()), err, changed, rejects, path)
        inputs.log_import(con, "indicators", path, sha256_file(path), stamp, result)
    return result


def _ordinal(values) -> tuple[np.ndarray, np.ndarray]:
    """cao / trung bình / thấp (or high / medium / low, 3 / 2 / 1) -> 3 / 2 / 1; '' -> missing."""
    words = values.astype(str).map(lambda v: " ".join(unidecode(v).lower().split()))
    rank = words.map(RESPONSE_CAPACITY).to_numpy(dtype=float)
    bad = (words != "").to_numpy(dtype=bool) & np.isnan(rank)
    err = np.where(bad, "must be high, medium or low, got " + values.astype(str).to_numpy(dtype=object), "")
    return rank, err


