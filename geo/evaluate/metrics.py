"""The inputs rulesets read (their names), and the pieces of their computation shared by the
evaluation (geo/evaluate/evaluation.py): windows, rates, case placement, roll-up counts.

Only community cases count (RULES.md section 2). The window is [D - window_days + 1, D] on the
ruleset's date column. A missing or zero population is NaN (missing), so a rule that needs
it is unknown rather than false.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from geo.base.columns import FLAG_NAMES
from geo.ingest.indicators import INDICATORS
from rules.levels import RANK, UNKNOWN_CODE

# Figures imported per unit and date (geo/ingest/indicators.py), usable by commune and roll-up rules.
INDICATOR_INPUTS = tuple(INDICATORS)
COMMUNE_INPUTS = (
    "population", "community_cases", "known_source_community_cases", "unknown_source_community_cases",
    "largest_unknown_source_cluster", "hard_to_trace_setting_cases", *(f"flag_{f}" for f in FLAG_NAMES),
    "lockdown_active",
    "community_cases_7d", "community_cases_per_100k_7d", *INDICATOR_INPUTS,
)
ROLLUP_INPUTS = (
    "n_children", "n_unknown", "n_risk_or_worse", "n_high_risk_or_worse", "n_very_high_risk",
    "population", "known_source_community_cases", "community_cases_7d", "community_cases_per_100k_7d",
    *INDICATOR_INPUTS,
)
# QĐ 07/2020/QĐ-TTg: an outbreak is over after this many days without a new case (RULES.md section 5);
# a ruleset may set `outbreak_over_days` otherwise.
OUTBREAK_OVER_DAYS = 28
# Counts that add up from communes to districts and provinces.
SUMMED = ("community_cases", "known_source_community_cases", "community_cases_7d")


def window(day: dt.date, days: int) -> tuple[str, str]:
    return (day - dt.timedelta(days=days - 1)).isoformat(), day.isoformat()


def per_100k(cases: np.ndarray, population: np.ndarray) -> np.ndarray:
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(population > 0, cases * 100_000.0 / population, np.nan)


def outbreak_over_days(settings: dict) -> int:
    return int(settings.get("outbreak_over_days", OUTBREAK_OVER_DAYS))


def lookback_days(settings: dict) -> int:
    """The longest span any setting needs: rule window, weekly rate, clean days, outbreak over."""
    return max(settings["window_days"], settings["rate_window_days"],
               int(settings.get("min_clean_days_before_downgrade", 0)), outbreak_over_days(settings))


def commune_index(cases: pd.DataFrame, codes: np.ndarray, assigner) -> np.ndarray:
    """Index of each case's commune in `codes` (-1: not in this boundary version).
    Point cases are assigned again against the boundaries of this run."""
    pos = pd.Series(np.arange(len(codes)), index=pd.Index(codes))
    idx = pos.reindex(cases["commune_code"].astype(str)).fillna(-1).to_numpy(np.int64, copy=True)
    point = (cases["located_by"] == "point").to_numpy() & cases["lon"].notna().to_numpy()
    if "followed" in cases:      # a case of a split commune goes where its point lies, when it has one
        point |= (cases["followed"] == "split").to_numpy() & cases["lon"].notna().to_numpy()
    if point.any():
        idx[point] = assigner.assign(cases["lon"].to_numpy(float)[point], cases["lat"].to_numpy(float)[point])
    return idx


def rollup_inputs(parent_of_child: np.ndarray, n_parents: int, child_codes: np.ndarray,
                  child_population: np.ndarray, child_known_cases: np.ndarray) -> dict[str, np.ndarray]:
    """Counts of children per level (by parent index) plus summed population and known cases."""
    def count(mask):
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
