"""What is in force on a day: the committee flags, the latest indicator figures (no older than they may be),
the declared levels, the boundary version."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from geo.domain import indicators


def flags_in_force(rows: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """(code, flag) set on `day`: the latest row dated <= day for the commune and flag, unless ended."""
    d = day.isoformat()
    rows = rows[rows["date"] <= d]
    if rows.empty:
        return pd.DataFrame(columns=["code", "flag"])
    last = rows.groupby(["code", "flag"]).tail(1)
    live = last[(last["end_date"].isna()) | (last["end_date"] >= d)]
    return live[live["value"] == 1][["code", "flag"]]


def indicators_in_force(rows: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """Latest value of each (code, indicator) dated within MAX_AGE_DAYS up to `day`, wide by indicator."""
    start = (day - dt.timedelta(days=indicators.MAX_AGE_DAYS - 1)).isoformat()
    weekly = (day - dt.timedelta(days=indicators.REPORTED_MAX_AGE_DAYS)).isoformat()
    rows = rows[(rows["date"] >= start) & (rows["date"] <= day.isoformat())]
    rows = rows[~rows["name"].isin(list(indicators.REPORTED)) | (rows["date"] >= weekly)]
    if rows.empty:
        return pd.DataFrame(columns=list(indicators.IMPORTED), index=pd.Index([], name="code"))
    latest = rows.groupby(["code", "name"])["value"].last().unstack("name")
    return latest.reindex(columns=list(indicators.IMPORTED))


def declared_in_force(rows: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    """The declaration in force on `day` per unit: the latest valid_from <= day, unless ended."""
    d = day.isoformat()
    rows = rows[rows["valid_from"] <= d]
    last = rows.groupby("unit").tail(1)
    live = last[last["valid_until"].isna() | (last["valid_until"] >= d)]
    return live.set_index("unit")


def version_in_force(valid_from: list[tuple[str, str]], day: str) -> str | None:
    """The boundary version in force on `day` (ISO text) among (first day, version) pairs in the order they come
    into force: the last to come into force by then (one without a first day is in force until the next one's).
    None when no version says when it came into force."""
    if not day or not any(first for first, _ in valid_from):
        return None
    found = None
    for first, version in valid_from:
        if first <= day:
            found = version
    return found
