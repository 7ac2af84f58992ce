"""What changed between two published days: per unit the level before and after, the kind of
change, and how long the level has held. Read from published runs only (full or levels runs).

Kinds: `up`, `down`, `same`; `unassessed` (became unknown), `assessed` (was unknown, now has a
level), `new` (no such unit in the earlier run, e.g. after a boundary change). `newly_red` marks a
unit that reached very_high_risk. `unchanged_days` counts calendar days back to the earliest
published day of the unbroken streak at today's level (days without a run do not break it).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.store import runfiles
from geo.store.database import Store
from rules.levels import RANK, UNKNOWN_CODE

# How many earlier runs are read to measure how long a level has held.
STREAK_LOOKBACK_RUNS = 90
COLUMNS = ("unit", "code", "name", "district_code", "district_name", "province_code", "province_name",
           "level_from", "level_to", "change", "newly_red", "unchanged_days", "declared_level", "level_differs",
           "explanation", "explanation_en")
READ = ["code", "name", "district_code", "district_name", "province_code", "province_name", "level",
        "declared_level", "level_differs", "explanation", "explanation_en"]


def run_or_404(store: Store, day: dt.date) -> dict:
    run = store.run_for_date(day.isoformat())
    if run is None:
        raise NotFoundError("no_run_for_date", date=vn_date(day.isoformat()), iso=day.isoformat())
    return run


def previous_run(store: Store, day: dt.date) -> dict | None:
    """The run of the latest published date before `day`."""
    return store.latest_run_before(day.isoformat())


def _kind(before: np.ndarray, after: np.ndarray, present: np.ndarray) -> np.ndarray:
    out = np.where(after > before, "up", np.where(after < before, "down", "same")).astype(object)
    out[(after == UNKNOWN_CODE) & (before != UNKNOWN_CODE)] = "unassessed"
    out[(after != UNKNOWN_CODE) & (before == UNKNOWN_CODE)] = "assessed"
    out[~present] = "new"
    return out


def _streak_start(store: Store, runs_dir: Path, unit: str, codes: np.ndarray, levels: np.ndarray, day: str) -> np.ndarray:
    start = np.full(len(codes), day, dtype=object)
    alive = np.ones(len(codes), dtype=bool)
    earlier = [r for r in store.published_runs() if r["date"] < day][-STREAK_LOOKBACK_RUNS:]
    for run in reversed(earlier):
        if not alive.any() or unit not in runfiles.kinds_in(run["manifest"]):
            break
        same = alive & (runfiles.levels(runs_dir / run["run_id"], unit, codes) == levels)
        start[same] = run["date"]
        alive &= same
    return start


def changes(store: Store, runs_dir: Path, to_day: dt.date, from_day: dt.date | None = None,
            units=None) -> tuple[pd.DataFrame, dict, dict | None]:
    """-> (one row per unit of the later run, its run, the earlier run or None). `units`: the kinds
    asked for (None: every kind the later run's boundary version has)."""
    after_run = run_or_404(store, to_day)
    before_run = run_or_404(store, from_day) if from_day else previous_run(store, to_day)
    frames = []
    before_kinds = runfiles.kinds_in(before_run["manifest"]) if before_run is not None else ()
    for unit in units or runfiles.kinds_in(after_run["manifest"]):
        after = runfiles.attributes(runs_dir / after_run["run_id"], unit, READ)
        codes = after["code"].astype(str).to_numpy()
        lv_after = np.array([RANK.get(v, UNKNOWN_CODE) for v in after["level"]], dtype=np.int8)
        if before_run is not None and unit in before_kinds:
            before_table = runfiles.attributes(runs_dir / before_run["run_id"], unit, ["code", "level"]).set_index("code")
            present = pd.Index(codes).isin(before_table.index)
            lv_before = runfiles.levels(runs_dir / before_run["run_id"], unit, codes)
            level_from = before_table["level"].reindex(codes).to_numpy(object)
        else:
            present = np.zeros(len(codes), dtype=bool)
            lv_before = np.full(len(codes), UNKNOWN_CODE, dtype=np.int8)
            level_from = np.full(len(codes), None, dtype=object)
        start = _streak_start(store, runs_dir, unit, codes, lv_after, after_run["date"])
        df = after.rename(columns={"level": "level_to"})
        df.insert(0, "unit", unit)
        df["level_from"] = level_from
        df["change"] = _kind(lv_before, lv_after, present)
        df["newly_red"] = (lv_after == RANK["very_high_risk"]) & (lv_before != RANK["very_high_risk"])
        df["unchanged_days"] = [(dt.date.fromisoformat(after_run["date"]) - dt.date.fromisoformat(s)).days + 1
                                for s in start]
        frames.append(df)
    out = pd.concat(frames, ignore_index=True)
    return out[[c for c in COLUMNS if c in out.columns]], after_run, before_run
