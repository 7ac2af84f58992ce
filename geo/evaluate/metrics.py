"""The pieces of the rulesets' inputs' computation shared by the
evaluation (geo/evaluate/evaluation.py): windows, rates, case placement, roll-up counts.

Only community cases count (RULES.md section 2). The window is [D - window_days + 1, D] on the
ruleset's date column. A missing or zero population is NaN (missing), so a rule that needs
it is unknown rather than false.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from geo.base.errors import InputError
from geo.domain.assign import Assigner
from rules.levels import RANK, UNKNOWN_CODE
from rules.ruleset import dated_value

RATE_WINDOWS = {"rolling_7": (7, 1.0), "half_14": (14, 0.5)}     # days summed, and the factor to a week
# QĐ 07/2020/QĐ-TTg: an outbreak is over after this many days without a new case (RULES.md section 5);
# a ruleset may set `outbreak_over_days` otherwise.
OUTBREAK_OVER_DAYS = 28
# Counts that add up from communes to districts and provinces.
SUMMED = ("community_cases", "known_source_community_cases", "community_cases_7d", "cases_week")


def window(day: dt.date, days: int) -> tuple[str, str]:
    return (day - dt.timedelta(days=days - 1)).isoformat(), day.isoformat()


# Rates are compared with their bands exactly at the edge (RULES.md §6: half-open bands): 6 cases in 30,000
# people is 20 per 100,000, not 19.999999999999996 or 20.000000000000004 by the order of float operations.
RATE_DECIMALS = 9


def per_100k(cases: np.ndarray, population: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.round(np.where(population > 0, cases * 100_000.0 / population, np.nan), RATE_DECIMALS)


def outbreak_over_days(settings: dict) -> int:
    return int(settings.get("outbreak_over_days", OUTBREAK_OVER_DAYS))


def rate_window(settings: dict) -> tuple[int, float]:
    """(days summed, factor to one week) of the ruleset's weekly rate: the 7 days [D-6, D] by default."""
    return RATE_WINDOWS[settings.get("rate_window", "rolling_7")]


def lookback_days(settings: dict) -> int:
    """The longest span any setting needs: rule window, weekly rate, clean days, outbreak over."""
    return max(settings["window_days"], settings["rate_window_days"], rate_window(settings)[0],
               int(settings.get("min_clean_days_before_downgrade", 0)), outbreak_over_days(settings))


def reported_week(computed: np.ndarray, reported: dict) -> np.ndarray:
    """The weekly rate rules read: the unit's own reported `cases_per_100k_week`, else its reported weekly
    rate of `community_cases_per_100k_7d` (what a province sends: scripts/ncsc_province_rates.py), else computed."""
    week, community = reported["cases_per_100k_week"], reported["community_cases_per_100k_7d"]
    return np.where(~np.isnan(week), week, np.where(~np.isnan(community), community, computed))


def older_group(env: dict, settings: dict, days: list[dt.date]) -> None:
    """In place: the full-dose coverage of the older group in force on each day (NQ 128: 65+ in October 2021,
    50+ from 1 November 2021), from the imported per-age figures; NaN on a day whose group has no figure or
    before the setting's first date. `env` arrays are flat, unit-major over `days`."""
    table = settings.get("older_group_from")
    n = len(next(iter(env.values())))
    ages = np.array([dated_value(table, d) or 0 for d in days], dtype=float)
    age = ages[np.arange(n) % len(days)]
    out = np.full(n, np.nan)
    for a in np.unique(ages[ages > 0]):
        name = f"vaccination_full_dose_{int(a)}plus_pct"
        if name not in env:
            raise InputError("bad_param", name="older_group_from", value=int(a), allowed="65, 50 (the imported groups)")
        out = np.where(age == a, env[name], out)
    env["vaccination_full_dose_older_pct"] = out
    env["older_group_age"] = np.where(age > 0, age, np.nan)


def commune_index(cases: pd.DataFrame, codes: np.ndarray, assigner: Assigner, version: str | None = None) -> np.ndarray:
    """Index of each case's commune in `codes` (-1: not in this boundary version, `version`).
    A point placed by the import under this version keeps its commune (the import placed it against these very
    polygons, and a version a run has used is never replaced); a point recorded under another version (or none)
    is placed again against the boundaries of this run."""
    pos = pd.Series(np.arange(len(codes)), index=pd.Index(codes))
    idx = pos.reindex(cases["commune_code"].astype(str)).fillna(-1).to_numpy(np.int64, copy=True)
    point = (cases["located_by"] == "point").to_numpy() & cases["lon"].notna().to_numpy()
    if version is not None and "code_version" in cases:
        point &= (cases["code_version"] != version).to_numpy()
    if "followed" in cases:      # a case of a split commune goes where its point lies, when it has one
        point |= (cases["followed"] == "split").to_numpy() & cases["lon"].notna().to_numpy()
    if point.any():
        idx[point] = assigner.assign(cases["lon"].to_numpy(float)[point], cases["lat"].to_numpy(float)[point])
    return idx


def rollup_inputs(parent_of_child: np.ndarray, n_parents: int, child_codes: np.ndarray,
                  child_population: np.ndarray, child_known_cases: np.ndarray) -> dict[str, np.ndarray]:
    """Counts of children per level (by parent index) plus summed population and known cases."""
    def count(mask: np.ndarray) -> np.ndarray:
        return np.bincount(parent_of_child[mask], minlength=n_parents).astype(np.float64)
    pop = np.bincount(parent_of_child, weights=np.nan_to_num(child_population), minlength=n_parents)
    has_pop = np.bincount(parent_of_child, weights=~np.isnan(child_population), minlength=n_parents) > 0
    return {
        "n_children": count(np.ones(len(child_codes), dtype=bool)),
        "n_unknown": count(child_codes == UNKNOWN_CODE),
        "n_risk_or_worse": count(child_codes >= RANK["risk"]),
        "n_high_risk_or_worse": count(child_codes >= RANK["high_risk"]),
        "n_very_high_risk": count(child_codes == RANK["very_high_risk"]),
        "population": np.where(has_pop & (pop > 0), pop, np.nan),
        "known_source_community_cases": np.bincount(parent_of_child, weights=child_known_cases, minlength=n_parents),
    }


def followed_counts(cases: pd.DataFrame) -> dict:
    """Community cases recorded under an earlier boundary version and followed through the crosswalk;
    those of a split commune without a point went to its largest part (flagged: the committee may ask)."""
    if "followed" not in cases:
        return {"crosswalk": 0, "split_largest_part": 0, "split_by_point": 0}
    count, kind, point = cases["count"].to_numpy(float), cases["followed"].to_numpy(), cases["lon"].notna().to_numpy()
    if "community" in cases:
        count = np.where(cases["community"].to_numpy(float) == 1, count, 0.0)
    return {"crosswalk": int(count[kind != ""].sum()),
            "split_largest_part": int(count[(kind == "split") & ~point].sum()),
            "split_by_point": int(count[(kind == "split") & point].sum())}
