"""The indicators a unit reports (vaccination coverage, treatment capacity, response capacity …): their names,
types and column aliases, how long a figure holds, and how a parent's comes from its children's. Imported by
`import-indicators` (geo/ingest/indicators.py), read by the evaluation."""
from __future__ import annotations

import numpy as np

# name -> (type, aliases). Percentages are 0-100; an ordinal is stored as its rank (RESPONSE_CAPACITY).
INDICATORS: dict[str, tuple[str, tuple[str, ...]]] = {
    "vaccination_first_dose_18plus_pct": ("pct", ("tiem_1_mui_18", "mui_1_18_tuoi", "first_dose_18plus")),
    # NQ 128's older group (RULES.md §6): 65+ in October 2021, 50+ from 1 November 2021 (setting older_group_from)
    "vaccination_full_dose_65plus_pct": ("pct", ("tiem_du_65", "du_mui_65_tuoi", "full_dose_65plus")),
    "vaccination_full_dose_50plus_pct": ("pct", ("tiem_du_50", "du_mui_50_tuoi", "full_dose_50plus")),
    # QĐ 218: the whole population's full-dose coverage against the 75 % target
    "vaccination_full_dose_pct": ("pct", ("tiem_du_lieu", "ty_le_tiem_du", "full_dose")),
    "treatment_capacity_met": ("bool", ("dap_ung_dieu_tri", "du_nang_luc_dieu_tri", "capacity_met")),
    "oxygen_cases_per_100k_7d": ("rate", ("ca_tho_oxy_100k", "oxygen_per_100k")),
    "deaths_per_100k_7d": ("rate", ("tu_vong_100k", "deaths_per_100k")),
    # QĐ 218's response capacity as the unit assesses it: cao / trung bình / thấp (high / medium / low)
    "response_capacity": ("ordinal", ("kha_nang_dap_ung", "muc_dap_ung", "dap_ung")),
}


# The words of an ordinal indicator and the rank each is stored as (rules compare the rank).
RESPONSE_CAPACITY: dict[str, float] = {
    "cao": 3, "high": 3, "3": 3, "trung binh": 2, "medium": 2, "2": 2, "thap": 1, "low": 1, "1": 1}


# Figures the service also computes from cases, which a unit may report instead (a province's weekly
# rate from its own surveillance, when its commune cases are not in the store): an imported one replaces
# the computed one for that unit and day, and rolls up no further.
REPORTED: dict[str, tuple[str, tuple[str, ...]]] = {
    "community_cases_per_100k_7d": ("rate", ("ca_cong_dong_100k_tuan", "community_cases_per_100k")),
    # the unit's weekly rate as the ruleset counts it (its week, its cases: RULES.md §6 rate_window, rate_cases)
    "cases_per_100k_week": ("rate", ("ca_moi_100k_tuan", "cases_per_100k_7d")),
}


IMPORTED = {**INDICATORS, **REPORTED}


# A figure is used for this many days: its own date and the 13 days after (a row dated D-14 is not used
# on D: stale data must not look current).
MAX_AGE_DAYS = 14


# A reported weekly rate describes its week only: from its date to 6 days after, never longer.
REPORTED_MAX_AGE_DAYS = 6


def roll_up(parent_of: np.ndarray, n_parents: int, child: dict[str, np.ndarray], child_pop: np.ndarray,
            own: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """A parent's figure is its own imported one; else [default] the population-weighted mean of
    its children's (a rate or share), or for treatment capacity: met only if every child's is."""
    out = {}
    w = np.nan_to_num(child_pop)
    for name, (kind, _) in INDICATORS.items():
        v = child[name]
        have = ~np.isnan(v)
        if kind == "ordinal":      # the lowest of its children's once every child has one, or as soon as one is low
            low = np.full(n_parents, np.inf)
            np.minimum.at(low, parent_of, np.where(have, v, np.inf))
            n_have = np.bincount(parent_of, weights=have, minlength=n_parents)
            n_all = np.bincount(parent_of, minlength=n_parents)
            derived = np.where((n_have == n_all) & (n_all > 0) | (low == 1), low, np.nan)
        elif kind == "bool":
            n_have = np.bincount(parent_of, weights=have, minlength=n_parents)
            n_met = np.bincount(parent_of, weights=np.where(have, v, 0), minlength=n_parents)
            n_all = np.bincount(parent_of, minlength=n_parents)
            derived = np.where(n_have - n_met > 0, 0.0, np.where(n_have == n_all, 1.0, np.nan))
        else:
            wsum = np.bincount(parent_of, weights=np.where(have, w, 0), minlength=n_parents)
            vsum = np.bincount(parent_of, weights=np.where(have, v * w, 0), minlength=n_parents)
            with np.errstate(invalid="ignore", divide="ignore"):
                derived = np.round(np.where(wsum > 0, vsum / wsum, np.nan), 9)   # 70 % stays 70, not 69.99999…
        out[name] = np.where(np.isnan(own[name]), derived, own[name])
    return out
