"""Metrics per commune for one day, and per parent for the roll-up: the inputs rulesets read.

Only community cases count (RULES.md section 2). The window is [D - window_days + 1, D] on the
ruleset's date column. A missing or zero population is NaN (missing), so a rule that needs
it is unknown rather than false.
"""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import shapely

from rules.levels import RANK, UNKNOWN_CODE
from . import crosswalk
from .indicators import INDICATORS

# Figures imported per unit and date (geo/indicators.py), usable by commune and roll-up rules.
INDICATOR_INPUTS = tuple(INDICATORS)
COMMUNE_INPUTS = (
    "population", "community_cases", "known_source_community_cases", "unknown_source_community_cases",
    "largest_unknown_source_cluster", "hard_to_trace_setting_cases", "flag_community_f1",
    "flag_illegal_entry_risk", "flag_large_quarantine_site", "lockdown_active",
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


def load_cases(con, day: dt.date, settings: dict) -> pd.DataFrame:
    """Community cases over lookback_days()."""
    start, end = window(day, lookback_days(settings))
    col = settings["date_column"]
    cases = pd.read_sql_query(
        f"SELECT {col} AS day, count, community, source_known, source_setting, cluster_id, lon, lat, "
        f"commune_code, located_by FROM cases WHERE {col} BETWEEN ? AND ? AND community = 1",
        con, params=(start, end))
    return relocate(con, cases)


def relocate(con, cases: pd.DataFrame) -> pd.DataFrame:
    """Cases located under an earlier boundary version count in the commune that now covers them
    (geo/crosswalk.py); point cases are placed again by commune_index anyway."""
    moved = crosswalk.forward(con, cases["commune_code"].dropna().unique())
    if moved:
        cases["commune_code"] = cases["commune_code"].map(lambda c: moved.get(c, c))
    return cases


def commune_index(cases: pd.DataFrame, codes: np.ndarray, assigner) -> np.ndarray:
    """Index of each case's commune in `codes` (-1: not in this boundary version).
    Point cases are assigned again against the boundaries of this run."""
    pos = pd.Series(np.arange(len(codes)), index=pd.Index(codes))
    idx = pos.reindex(cases["commune_code"].astype(str)).fillna(-1).to_numpy(np.int64, copy=True)
    point = (cases["located_by"] == "point").to_numpy() & cases["lon"].notna().to_numpy()
    if point.any():
        idx[point] = assigner.assign(cases["lon"].to_numpy(float)[point], cases["lat"].to_numpy(float)[point])
    return idx


def commune_metrics(n: int, population: np.ndarray, cases: pd.DataFrame, idx: np.ndarray, settings: dict,
                    flags: pd.DataFrame, code_pos: dict, lockdown: np.ndarray, day: dt.date) -> dict[str, np.ndarray]:
    rate_start = window(day, settings["rate_window_days"])[0]
    recent = (idx >= 0) & (cases["day"] >= rate_start).to_numpy()
    week = np.bincount(idx[recent], weights=cases["count"].to_numpy(np.float64)[recent], minlength=n)
    ok = (idx >= 0) & (cases["day"] >= window(day, settings["window_days"])[0]).to_numpy()
    c, at = cases[ok], idx[ok]
    count = c["count"].to_numpy(np.float64)
    known = c["source_known"].to_numpy() == 1
    unknown = c["source_known"].to_numpy() == 0
    hard = c["source_setting"].isin(list(settings["hard_to_trace_settings"])).to_numpy()
    env = {
        "population": np.where(population > 0, population, np.nan),
        "community_cases": np.bincount(at, weights=count, minlength=n),
        "known_source_community_cases": np.bincount(at[known], weights=count[known], minlength=n),
        "unknown_source_community_cases": np.bincount(at[unknown], weights=count[unknown], minlength=n),
        "hard_to_trace_setting_cases": np.bincount(at[hard], weights=count[hard], minlength=n),
        "largest_unknown_source_cluster": np.zeros(n),
        "lockdown_active": lockdown.astype(np.float64),
        "community_cases_7d": week,
        "community_cases_per_100k_7d": per_100k(week, population),
    }
    clustered = unknown & c["cluster_id"].notna().to_numpy()
    if clustered.any():
        sizes = pd.DataFrame({"u": at[clustered], "k": c["cluster_id"].to_numpy()[clustered],
                              "n": count[clustered]}).groupby(["u", "k"])["n"].sum().groupby(level=0).max()
        env["largest_unknown_source_cluster"][sizes.index.to_numpy()] = sizes.to_numpy()
    for name in ("community_f1", "illegal_entry_risk", "large_quarantine_site"):
        arr = np.zeros(n)
        hit = [code_pos[k] for k in flags.loc[flags["flag"] == name, "code"] if k in code_pos] if len(flags) else []
        arr[hit] = 1.0
        env[f"flag_{name}"] = arr
    return env


def lockdown_mask(unit_geoms: np.ndarray, lockdown_geoms: np.ndarray, tree=None) -> np.ndarray:
    """True for units whose interior meets an active lockdown's interior (touching is not enough)."""
    out = np.zeros(len(unit_geoms), dtype=bool)
    if len(lockdown_geoms) == 0:
        return out
    tree = tree or shapely.STRtree(unit_geoms)
    li, ui = tree.query(lockdown_geoms, predicate="intersects")
    inner = shapely.relate_pattern(unit_geoms[ui], lockdown_geoms[li], "T********")
    out[ui[inner]] = True
    return out


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
