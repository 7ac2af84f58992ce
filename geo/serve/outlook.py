"""The outlook of a published day (geo/evaluate/outlook.py computes it when the day is reclassified):
for each unit above safe, the day it would step down and the day it would be safe if no new case
came, and the neighbours it waits for. Served as read from the run; a backfilled day has none."""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pandas as pd

from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.store import runfiles
from rules.levels import RANK

COLUMNS = ["code", "name", "level", "outlook_down_date", "outlook_down_level", "outlook_safe_date"]


def units(runs_dir: Path, run: dict, kinds: list[str] | None = None) -> list[dict]:
    """Units above safe with their outlook, highest level first, then the latest to be safe."""
    if not run["manifest"].get("outlook_until"):
        raise NotFoundError("no_outlook", date=vn_date(run["date"]), iso=run["date"], run_id=run["run_id"])
    out = []
    for unit in kinds or runfiles.kinds_in(run["manifest"]):
        df = runfiles.attributes(runs_dir / run["run_id"], unit, COLUMNS + (["adjacent_to"] if unit == "commune" else []))
        df = df[df["level"].map(lambda v: RANK.get(v, -1)) > 0].copy()
        # who it waits for: the neighbours holding its level today (a commune's adjacency rules)
        df["waits_for"] = [", ".join(_names(a)) or None for a in df.pop("adjacent_to")] if unit == "commune" else None
        df.insert(0, "unit", unit)
        out.append(df)
    rows = pd.concat(out, ignore_index=True)
    if rows.empty:                # nothing above safe (or everything unknown): no outlook to give
        return []
    rows["_rank"] = -rows["level"].map(RANK).astype(int)
    rows["_safe"] = rows["outlook_safe_date"].fillna("9999")
    rows = rows.sort_values(["_rank", "_safe", "unit", "name"]).drop(columns=["_rank", "_safe"])
    rows = rows.astype(object).where(rows.notna(), None)
    return rows.to_dict("records")


def _names(value) -> list[str]:
    """`adjacent_to` as a table holds it: a list, or its JSON text."""
    if isinstance(value, str):
        value = json.loads(value) if value.startswith("[") else [value]
    return [str(v) for v in value or []]


def back_to_safe(rows: list[dict], day: str, within: int) -> list[dict]:
    """The units that would be safe within `within` days of `day` if no new case came (the report's line)."""
    last = (dt.date.fromisoformat(day) + dt.timedelta(days=within)).isoformat()
    return [r for r in rows if r["outlook_safe_date"] and r["outlook_safe_date"] <= last]
