"""Going down again (RULES.md section 5): settings of the ruleset, applied to communes after the
day's evaluation. [default] they are off: the level is the day's evaluation.

- min_clean_days_before_downgrade: a commune keeps its previous level until it has had no new
  community case for that many consecutive days (HCMC practice: 14).
- max_step_down_per_run: at most this many steps down per run.
- notice_hours: a downgrade is announced that long before it takes effect (NQ 128 practice: 48 h):
  the published level is the highest level decided over the last ceil(notice_hours / 24) days.
- capacity_not_met_holds (NQ 128 / QĐ 4800, criterion 3, RULES.md §6): while a unit's treatment capacity
  is not met its level is not lowered (held at the last published level); it is never raised by it, and a
  capacity not reported holds nothing (the explanation says it was not reported).
Upgrades always apply at once, and `unknown` is never hidden behind an older level.
- publish_weekday (NQ 128 practice, 1 = Monday .. 7 = Sunday; 0 = every day): levels are published once a
  week; each day is still evaluated and shown as a proposal (`decided_level`), and the level in force is the
  one published on the last publication day, from `publication_notice_hours` (48) after it (state WEEKLY).
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from geo.domain import crosswalk
from geo.store import runfiles
from geo.store.database import Store
from rules.levels import RANK, UNKNOWN_CODE

HOLD, STEP, NOTICE, CAPACITY, WEEKLY = "HOLD", "STEP", "NOTICE", "CAPACITY", "WEEKLY"
HOURS_PER_DAY = 24


def previous_levels(store: Store, runs_dir: Path, day: dt.date, codes: np.ndarray, unit: str = "commune") -> np.ndarray:
    """Level codes published for the latest date before `day` (UNKNOWN_CODE where none). A district or
    province only from a run on the current boundaries (its units are not followed across versions)."""
    run = store.latest_run_before(day.isoformat())
    if run is None:
        return np.full(len(codes), UNKNOWN_CODE, dtype=np.int8)
    if unit != "commune":
        run_dir = runs_dir / run["run_id"]
        manifest = runfiles.manifest(run_dir)
        if manifest.get("boundary_version") != store.current_boundary_version() or unit not in manifest.get("levels", [unit]):
            return np.full(len(codes), UNKNOWN_CODE, dtype=np.int8)
        return runfiles.levels(run_dir, unit, codes, "level")
    return run_levels(store, runs_dir / run["run_id"], codes)


def run_levels(store: Store, run_dir: Path, codes: np.ndarray, column: str = "level") -> np.ndarray:
    """Levels of `codes` (current boundaries) in a run; a run on earlier boundaries gives each
    commune the worst known level of the communes that covered it then (geo/domain/crosswalk.py)."""
    version = runfiles.manifest(run_dir).get("boundary_version")
    current = store.current_boundary_version()
    if version is None or version == current:
        return runfiles.levels(run_dir, "commune", codes, column)
    graph = crosswalk.Graph(store)
    eq = [graph.equivalents(str(c), version, current) for c in codes]
    then = sorted({x for e in eq for x in e})
    found = dict(zip(then, runfiles.levels(run_dir, "commune", np.array(then, dtype=object), column), strict=False)) if then else {}
    out = np.full(len(codes), UNKNOWN_CODE, dtype=np.int8)
    for i, e in enumerate(eq):
        known = [found[x] for x in e if found[x] != UNKNOWN_CODE]
        if known:
            out[i] = max(known)
    return out


def notice_days(settings: dict) -> int:
    return int(np.ceil(float(settings.get("notice_hours", 0)) / HOURS_PER_DAY))


def decided_before(store: Store, runs_dir: Path, day: dt.date, codes: np.ndarray, days: int) -> list[np.ndarray]:
    """Levels decided (before notice) by the runs of the `days` previous dates that have one."""
    out = []
    for k in range(1, days + 1):
        run = store.run_for_date((day - dt.timedelta(days=k)).isoformat())
        if run is not None:
            out.append(run_levels(store, runs_dir / run["run_id"], codes, "decided_level"))
    return out


def publication_notice_days(settings: dict) -> int:
    return int(np.ceil(float(settings.get("publication_notice_hours", 48)) / HOURS_PER_DAY))


def publications_before(store: Store, runs_dir: Path, day: dt.date, codes: np.ndarray, settings: dict,
                        unit: str = "commune") -> dict[dt.date, np.ndarray]:
    """{publication day: levels decided that day} for the publication days whose levels can still be in force
    on `day` or after (weekly publication); {} when levels are published every day. A district or province:
    its computed level that day, from a run on the current boundaries."""
    weekday = int(settings.get("publish_weekday", 0))
    if not weekday:
        return {}
    out = {}
    for k in range(1, publication_notice_days(settings) + 8):
        d = day - dt.timedelta(days=k)
        if d.isoweekday() != weekday:
            continue
        run = store.run_for_date(d.isoformat())
        if run is None:
            continue
        if unit == "commune":
            out[d] = run_levels(store, runs_dir / run["run_id"], codes, "decided_level")
        elif runfiles.manifest(runs_dir / run["run_id"]).get("boundary_version") == store.current_boundary_version():
            out[d] = runfiles.levels(runs_dir / run["run_id"], unit, codes, "computed_level")
    return out


def in_force_weekly(decided: np.ndarray, day: dt.date, published: dict[dt.date, np.ndarray], settings: dict
                    ) -> tuple[np.ndarray, dt.date | None]:
    """Weekly publication: -> (levels in force on `day`, the publication day they come from or None). `published`
    gains `day`'s levels when it is a publication day (they take effect `publication_notice_hours` later)."""
    if day.isoweekday() == int(settings["publish_weekday"]):
        published[day] = decided
    effective = [d for d in published if (day - d).days >= publication_notice_days(settings)]
    if not effective:
        return decided, None
    since = max(effective)
    return published[since].copy(), since


def with_notice(decided: np.ndarray, earlier: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """-> (published levels, mask of units whose announced downgrade has not taken effect yet)."""
    effective = decided.copy()
    known = decided >= 0
    for e in earlier:
        effective = np.where(known & (e > effective), e, effective).astype(np.int8)
    return effective, known & (effective > decided)


def apply(computed: np.ndarray, previous: np.ndarray, clean: np.ndarray, settings: dict,
          capacity: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """-> (final level codes, state per unit: '' or a reason id CAPACITY/HOLD/STEP). `capacity`: treatment
    capacity met (1), not met (0) or not reported (NaN) per unit."""
    min_clean = int(settings.get("min_clean_days_before_downgrade", 0))
    max_step = int(settings.get("max_step_down_per_run", len(RANK)))
    final = computed.copy()
    state = np.full(len(computed), "", dtype=object)
    down = (computed >= 0) & (previous >= 0) & (computed < previous)
    if settings.get("capacity_not_met_holds") and capacity is not None:
        held = down & (capacity == 0)
        final[held] = previous[held]
        state[held] = CAPACITY
        down &= ~held
    hold = down & (clean < min_clean)
    final[hold] = previous[hold]
    state[hold] = HOLD
    limited = down & ~hold & (previous - computed > max_step)
    final[limited] = previous[limited] - max_step
    state[limited] = STEP
    return final, state
