"""The settings the service itself reads from a communes ruleset: their types, choices and bounds (a what-if's
changed value is checked against them too), dated settings, and the roll-up's kinds of unit."""
from __future__ import annotations

import datetime as dt

from . import expr as E
from .levels import DEFAULT_ROLLUP_FROM, UNITS
from .model import RulesetError
from .model import clean as _clean
from .model import parse_date as _date

# Settings the service itself reads (beyond what conditions use), with their expected types.
SERVICE_SETTINGS: dict[str, type | tuple] = {
    "window_days": int,
    "rate_window_days": int,
    "date_column": str,
    "adjacency": str,
    "adjacency_tolerance_m": (int, float),
    "rook_min_shared_length_m": (int, float),
    "hard_to_trace_settings": list,
}
# Optional settings the service reads, their choices or bounds (RULES.md §5-6). A what-if's changed setting
# is checked against these too: a value outside them is refused, never evaluated.
CHOICES: dict[str, tuple[str, ...]] = {
    "rate_window": ("rolling_7", "half_14"),        # the week of a weekly rate: [D-6, D], or the 14-day total / 2
    "rate_cases": ("community", "all"),             # which new cases a weekly rate counts
    "older_group_mode": ("and", "raise"),           # NQ 128 coverage: both cuts, or the older group's raises a level
}
BOUNDS: dict[str, tuple[float, float]] = {
    "window_days": (1, 60), "rate_window_days": (1, 60), "adjacency_tolerance_m": (0, 500),
    "rook_min_shared_length_m": (0, 10_000), "min_clean_days_before_downgrade": (0, 60),
    "max_step_down_per_run": (1, 3), "notice_hours": (0, 14 * 24), "outbreak_over_days": (1, 90),
    "publish_weekday": (0, 7), "publication_notice_hours": (0, 7 * 24),
}
DATE_COLUMNS = ("report_date", "result_date", "sample_date")
ADJACENCY_KINDS = ("rook", "queen")


def check_service(settings: dict, path, line) -> None:
    for key, kind in SERVICE_SETTINGS.items():
        if key not in settings:
            raise RulesetError(path, line, f"missing setting {key!r}{E.did_you_mean(key, settings)}")
        if not isinstance(settings[key], kind) or isinstance(settings[key], bool):
            raise RulesetError(path, line, f"setting {key!r} has the wrong type: {settings[key]!r}")
    if settings["date_column"] not in DATE_COLUMNS:
        raise RulesetError(path, line, f"date_column must be one of {DATE_COLUMNS}")
    if settings["adjacency"] not in ADJACENCY_KINDS:
        raise RulesetError(path, line, f"adjacency must be one of {ADJACENCY_KINDS}")
    for key, (low, high) in BOUNDS.items():
        value = settings.get(key)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not (low <= value <= high):
            raise RulesetError(path, line, f"setting {key!r} must be a number from {low:g} to {high:g}, not {value!r}")
        if key.endswith("_days") and not float(value).is_integer():
            raise RulesetError(path, line, f"setting {key!r} is a whole number of days, not {value!r}")
    for key, allowed in CHOICES.items():
        if key in settings and settings[key] not in allowed:
            raise RulesetError(path, line, f"setting {key!r} must be one of {allowed}{E.did_you_mean(str(settings[key]), allowed)}")
    if "older_group_from" in settings:
        settings["older_group_from"] = _dated(settings["older_group_from"], path, line, "older_group_from")
    settings["rollup_from"] = _rollup_from(settings.get("rollup_from", DEFAULT_ROLLUP_FROM), path, line)


def _dated(value, path, line, key) -> dict[str, int]:
    """A dated setting: {first day: value}, e.g. the older group of NQ 128's coverage cut by date
    ({2021-10-12: 65, 2021-11-01: 50}); a day before the first date has none."""
    if not isinstance(value, dict) or not _clean(value):
        raise RulesetError(path, line, f"{key}: a mapping first-day -> value, e.g. {{2021-11-01: 50}}")
    out = {}
    for day, v in _clean(value).items():
        when = _date(day, path, line, key)
        if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
            raise RulesetError(path, line, f"{key}: {v!r} on {when} is not a positive whole number")
        out[when.isoformat()] = v
    return dict(sorted(out.items()))


def dated_value(table: dict[str, int] | None, day: dt.date) -> int | None:
    """The value of a dated setting on `day` (None before its first date)."""
    found = None
    for first, v in (table or {}).items():
        if first <= day.isoformat():
            found = v
    return found


def _rollup_from(value, path, line) -> dict[str, list[str]]:
    """Which kinds of unit each parent kind is rated from, in order of preference (RULES.md section 3):
    {district: [commune], province: [district, commune]} rates a province from its districts, or from its
    communes in a version without districts."""
    if not isinstance(value, dict):
        raise RulesetError(path, line, f"rollup_from is a mapping parent -> [children], not {value!r}")
    out = {}
    for parent, children in _clean(value).items():
        if parent not in UNITS[1:]:
            raise RulesetError(path, line, f"rollup_from: {parent!r} is not a parent kind{E.did_you_mean(str(parent), UNITS[1:])}")
        below = UNITS[:UNITS.index(parent)]
        if not isinstance(children, list) or not children or any(c not in below for c in children):
            raise RulesetError(path, line, f"rollup_from.{parent}: a list of kinds below it, from {list(below)}; got {children!r}")
        out[parent] = [str(c) for c in children]
    return out
