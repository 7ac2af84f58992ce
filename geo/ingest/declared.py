"""Declared levels: the committee's decision binds. A declaration holds for one unit from its
date until the next declaration for that unit (or its optional end date). Runs carry both the
computed `level` and the `declared_level`, with a flag where they differ."""
from __future__ import annotations

import datetime as dt
import hashlib
from collections import defaultdict
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import DECLARATION_ALIASES, normalise_header
from geo.base.errors import InputError, MissingInputError
from geo.base.names import normalise
from geo.base.vocabulary import UNITS
from geo.domain import crosswalk
from geo.ingest.rejects import write_rejects
from geo.ingest.tables import RowErrors, parse_dates, read_table, summary
from geo.ingest.units import sha256_file
from geo.store import boundaries, inputs
from geo.store.database import Store
from rules.levels import SCALE

LEVELS = tuple(lv.value for lv in SCALE)
# A declaration takes effect at most this far ahead of today (year 9999 is a typing error).
DECLARED_AHEAD_DAYS = 366
# What a declaration's text fields hold at most: a decision number, who recorded it, a short reason.
TEXT_MAX = {"decision": 80, "by": 80, "reason": 1000}
CONTROL = r"[\x00-\x1f\x7f]"
# NQ 128/QĐ 4800 declare "cấp 1" to "cấp 4": our four levels in order (xanh, vàng, cam, đỏ).
NUMBERED = {str(k): lv for k, lv in enumerate(LEVELS, start=1)}
COLUMNS = ("unit", "level", "from", "decision", "by", "reason", "until", "unit_name", "unit_kind")
ALIASES = DECLARATION_ALIASES


def _unit_codes(store: Store) -> tuple[set[str], dict[tuple[str, str], list[str]], dict[str, str]]:
    """The current version's unit codes, {(kind, normalised name): codes} to place a unit named, and
    the provinces' names by code."""
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    codes: set[str] = set()
    by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
    provinces: dict[str, str] = {}
    for unit in UNITS:
        u = store.load_units(version, unit, texts=False)
        codes |= set(u["code"])
        for code, name in zip(u["code"], u["name"], strict=False):
            by_name[(unit, normalise(name))].append(code)
            by_name[("", normalise(name))].append(code)
            if unit == "province":
                provinces[code] = name
    return codes, by_name, provinces


def _level(value: str) -> str:
    """'very_high_risk', '4', 'Cấp 4', 'cap 4', 'level 4' -> our level id ('' stays '')."""
    s = normalise_header(value)
    for word in ("cap_do_", "cap_", "level_"):
        s = s.removeprefix(word)
    return NUMBERED.get(s, str(value).strip())


def declare_table(store: Store, df: pd.DataFrame, source: Path | None, rejects_dir: Path, today: dt.date,
                  defaults: dict | None = None, raise_bad: bool = True) -> dict:
    """Record declarations from a table with COLUMNS (one transaction; bad rows rejected with reasons).
    A unit is given by its code, or by its name (and kind: province, district, commune). Rows with the
    same date and decision are one published list: a list with any rejected row is refused whole."""
    defaults = {k: v for k, v in (defaults or {}).items() if v}
    err = RowErrors.of(df)
    df = df.rename(columns=lambda c: ALIASES.get(normalise_header(c), normalise_header(c)))
    for col in COLUMNS:
        if col not in df.columns:
            df[col] = ""
    for col, value in defaults.items():                 # the file's decision and recorder, where rows give none
        df[col] = df[col].where(df[col].astype(str).str.strip() != "", value)
    codes, by_name, provinces = _unit_codes(store)
    _units_by_name(df, err, by_name)
    err.add(~df["unit"].isin(codes), "unit", "unknown unit code " + df["unit"])
    df["level"] = df["level"].map(_level)
    err.add(~df["level"].isin(LEVELS), "level", "level must be one of " + ", ".join(LEVELS) + " (or cấp 1-4), got " + df["level"])
    latest = today + dt.timedelta(days=DECLARED_AHEAD_DAYS)      # a decision is announced ahead, not a decade ahead
    start, e = parse_dates(df["from"], latest)
    err.add(df["from"] == "", "from", "missing from date")
    err.add(e != "", "from", e)
    until, e = parse_dates(df["until"], dt.date.max)
    err.add(e != "", "until", e)
    for col, most in (("decision", TEXT_MAX["decision"]), ("by", TEXT_MAX["by"]), ("reason", TEXT_MAX["reason"])):
        text = df[col].astype(str)
        err.add(text.str.len().to_numpy() > most, col, f"longer than {most} characters")
        err.add(text.str.contains(CONTROL, regex=True).to_numpy(dtype=bool), col, "a control character (NUL, line break)")
    err.add(np.array([bool(a and b and b < a) for a, b in zip(start, until, strict=False)]), "until", "until before from")
    err.add(df["decision"] == "", "decision", "missing decision number (số/QĐ-UBND)")
    err.add(df["by"] == "", "by", "missing who records it")
    _twice(df, err, start)
    notes = _whole_lists(df, err, start, provinces, source)
    recorded = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    version = store.current_boundary_version()       # a declaration is of the version its codes are of
    rows = []
    for k in np.flatnonzero(~err.bad):
        vals = (df["unit"].iat[k], df["level"].iat[k], start[k], until[k], df["decision"].iat[k], df["by"].iat[k],
                df["reason"].iat[k] or None)
        rows.append((*vals, recorded, hashlib.sha1(repr((*vals, version)).encode()).hexdigest(), version))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    rejects = write_rejects(df, err, rejects_dir, source or Path("declare"), stamp, allowed=COLUMNS) if source else None
    if err.bad.any() and source is None and raise_bad:
        i = int(np.flatnonzero(err.bad)[0])
        raise InputError("bad_param", name=err.field[i], value=df[err.field[i]].iat[i] if err.field[i] in df else "",
                         allowed=err.reason[i])
    with store.transaction() as con:
        before = con.total_changes
        inputs.upsert_declarations(con, rows)
        result = summary(len(rows), err, con.total_changes - before, rejects, source)
        result["notes"] = notes
        if source is not None:
            inputs.log_import(con, "declarations", source, sha256_file(source), stamp, result)
    return result


def declare_file(store: Store, path: Path, rejects_dir: Path, today: dt.date, defaults: dict | None = None,
                 rename: dict[str, str] | None = None) -> dict:
    return declare_table(store, read_table(Path(path), rename=rename), Path(path), rejects_dir, today, defaults)


def _units_by_name(df: pd.DataFrame, err: RowErrors, by_name: dict) -> None:
    """Rows naming their unit instead of giving its code: placed where the name (and kind) is unique."""
    named = (df["unit"].astype(str).str.strip() == "") & (df["unit_name"].astype(str).str.strip() != "")
    for k in np.flatnonzero(named.to_numpy()):
        kind = str(df["unit_kind"].iat[k]).strip().lower()
        kind = kind if kind in UNITS else ""
        found = by_name.get((kind, normalise(df["unit_name"].iat[k])), [])
        if len(found) == 1:
            df.iat[k, df.columns.get_loc("unit")] = found[0]
        else:
            mask = np.zeros(len(df), dtype=bool)
            mask[k] = True
            err.add(mask, "unit_name", f"{'ambiguous' if found else 'unknown'} {kind or 'unit'} name "
                    f"{df['unit_name'].iat[k]!r}" + (f" (codes {', '.join(found)})" if found else ""))


def _twice(df: pd.DataFrame, err: RowErrors, start) -> None:
    """A unit listed twice for the same day: both rows rejected (which one was meant is unknown)."""
    key = df["unit"].astype(str) + "|" + pd.Series(start, index=df.index).astype(str)
    dup = key.duplicated(keep=False) & (df["unit"].astype(str) != "")
    err.add(dup.to_numpy(), "unit", lambda at: "listed more than once for this date: rows " + err.first_rows(key, at)
            + " and later (which one was meant is unknown)")


def _whole_lists(df: pd.DataFrame, err: RowErrors, start, provinces: dict[str, str], source: Path | None) -> list[str]:
    """Rows sharing a date and a decision are one list: refused whole when any of its rows is rejected,
    and a list of provinces that leaves some out says which."""
    notes = []
    lists = pd.Series(start, index=df.index).astype(str) + " | " + df["decision"].astype(str)
    where = f"{Path(source).name}: " if source is not None else ""
    for key, rows in lists.groupby(lists).groups.items():
        at = df.index.get_indexer(rows)
        if err.bad[at].any():
            mask = np.zeros(len(df), dtype=bool)
            mask[at] = True
            err.add(mask, "decision", f"the list of {key} has rejected rows: refused whole, none of it stored")
            notes.append(f"{where}list {key}: refused ({int(err.bad[at].sum())} rows), nothing of it stored")
        kinds = set(df["unit_kind"].iloc[at].astype(str).str.lower())
        listed = set(df["unit"].iloc[at].astype(str))
        if kinds == {"province"} and len(listed & set(provinces)) >= len(provinces) // 2:
            missing = sorted(name for code, name in provinces.items() if code not in listed)
            if missing:
                notes.append(f"{where}list {key}: {len(provinces) - len(missing)} of {len(provinces)} provinces; "
                             f"not listed: {', '.join(missing)}")
    return notes


def carry_over(store: Store, from_version: str, day: dt.date, by: str) -> dict:
    """The declarations in force on `day` on an earlier boundary version, recorded on the current one through
    the crosswalk, on request only (a declaration belongs to the version it was made on): a commune's successor
    takes the highest level of its predecessors' (a merged ward of a red and a green commune is red); districts
    and provinces are not carried (their codes mean other places after a reform) and are counted as such."""
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    if from_version == version:
        raise InputError("bad_param", name="--from", value=from_version, allowed="an earlier boundary version")
    with store.connect(readonly=True) as con:
        rows = inputs.declarations_of(con, from_version, day.isoformat())
        edges = boundaries.crosswalk_edges(con)
        kinds_then = {u: boundaries.unit_codes(con, from_version, u) for u in UNITS}
        now = boundaries.commune_codes(con, version)
    if rows.empty:
        raise InputError("bad_param", name="--from", value=from_version,
                         allowed=f"a version with declarations in force on {day.isoformat()}")
    communes = rows[rows["unit"].isin(kinds_then["commune"])]
    moved = crosswalk.forward(edges, communes["unit"])
    rank = {lv: i for i, lv in enumerate(LEVELS)}
    carried: dict[str, pd.Series] = {}
    for r in communes.itertuples():
        new = moved.get(r.unit, r.unit)
        if new in now and (new not in carried or rank[r.level] > rank[carried[new].level]):
            carried[new] = r
    recorded = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    out = []
    for code, r in sorted(carried.items()):
        vals = (code, r.level, r.valid_from, r.valid_until, r.decision, by,
                f"{r.reason + '; ' if r.reason else ''}carried over from {from_version} {r.unit}")
        out.append((*vals, recorded, hashlib.sha1(repr((*vals, version)).encode()).hexdigest(), version))
    with store.transaction() as con:
        inputs.upsert_declarations(con, out)
    return {"carried": len(out), "from": from_version, "to": version, "communes_then": len(communes),
            "not_carried_parents": int(len(rows) - len(communes))}
