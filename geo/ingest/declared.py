"""Declared levels: the committee's decision binds. A declaration holds for one unit from its
date until the next declaration for that unit (or its optional end date). Runs carry both the
computed `level` and the `declared_level`, with a flag where they differ."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import normalise_header
from geo.base.errors import InputError, MissingInputError
from geo.base.vocabulary import UNITS
from geo.ingest.tables import RowErrors, log_import, parse_dates, read_table, summary, write_rejects
from geo.ingest.units import sha256_file
from geo.store.database import Store
from rules.levels import SCALE

LEVELS = tuple(lv.value for lv in SCALE)
COLUMNS = ("unit", "level", "from", "decision", "by", "reason", "until")
ALIASES = {"code": "unit", "ma": "unit", "muc": "level", "tu_ngay": "from", "date": "from", "so_quyet_dinh": "decision",
           "nguoi_ghi": "by", "author": "by", "ly_do": "reason", "den_ngay": "until"}


def _unit_codes(store: Store) -> set[str]:
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    return {c for unit in UNITS for c in store.load_units(version, unit)["code"]}


def declare_table(store: Store, df: pd.DataFrame, source: Path | None, rejects_dir: Path, today: dt.date) -> dict:
    """Record declarations from a table with COLUMNS (one transaction; bad rows rejected with reasons)."""
    err = RowErrors.of(df)
    df = df.rename(columns=lambda c: ALIASES.get(normalise_header(c), normalise_header(c)))
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = ""
    codes = _unit_codes(store)
    err.add(~df["unit"].isin(codes), "unit", "unknown unit code " + df["unit"])
    err.add(~df["level"].isin(LEVELS), "level", "level must be one of " + ", ".join(LEVELS) + ", got " + df["level"])
    start, e = parse_dates(df["from"], dt.date.max)
    err.add(df["from"] == "", "from", "missing from date")
    err.add(e != "", "from", e)
    until, e = parse_dates(df["until"], dt.date.max)
    err.add(e != "", "until", e)
    err.add(np.array([bool(a and b and b < a) for a, b in zip(start, until, strict=False)]), "until", "until before from")
    err.add(df["decision"] == "", "decision", "missing decision number (số/QĐ-UBND)")
    err.add(df["by"] == "", "by", "missing who records it")
    recorded = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    rows = []
    for k in np.flatnonzero(~err.bad):
        vals = (df["unit"].iat[k], df["level"].iat[k], start[k], until[k], df["decision"].iat[k], df["by"].iat[k],
                df["reason"].iat[k] or None)
        rows.append((*vals, recorded, hashlib.sha1(repr(vals).encode()).hexdigest()))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    rejects = write_rejects(df, err, rejects_dir, source or Path("declare"), stamp) if source else None
    if err.bad.any() and source is None:
        i = int(np.flatnonzero(err.bad)[0])
        raise InputError("bad_param", name=err.field[i], value=df[err.field[i]].iat[i] if err.field[i] in df else "",
                         allowed=err.reason[i])
    with store.transaction() as con:
        before = con.total_changes
        con.executemany("INSERT INTO declarations (unit, level, valid_from, valid_until, decision, by, reason, "
                        "recorded_at, row_hash) VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT(unit, valid_from, decision) "
                        "DO UPDATE SET level = excluded.level, valid_until = excluded.valid_until, by = excluded.by, "
                        "reason = excluded.reason, recorded_at = excluded.recorded_at, row_hash = excluded.row_hash "
                        "WHERE declarations.row_hash != excluded.row_hash", rows)
        result = summary(len(rows), err, con.total_changes - before, rejects, source)
        if source is not None:
            log_import(con, "declarations", source, sha256_file(source), stamp, result)
    return result


def declare_file(store: Store, path: Path, rejects_dir: Path, today: dt.date) -> dict:
    return declare_table(store, read_table(Path(path)), Path(path), rejects_dir, today)


def annotate(frame, table: pd.DataFrame, ruleset) -> None:
    """Add declared_* columns and `level_differs` to a published frame (in place)."""
    codes = frame["code"].astype(str)
    t = table.reindex(codes)
    frame["declared_level"] = t["level"].to_numpy(object)
    frame["declared_level_vi"] = [ruleset.level(v)["vi"] if isinstance(v, str) else None for v in t["level"]]
    frame["declared_decision"] = t["decision"].to_numpy(object)
    frame["declared_by"] = t["by"].to_numpy(object)
    frame["declared_from"] = t["valid_from"].to_numpy(object)
    frame["declared_reason"] = t["reason"].to_numpy(object)
    frame["level_differs"] = [isinstance(dl, str) and dl != lv for dl, lv in zip(t["level"], frame["level"], strict=False)]
