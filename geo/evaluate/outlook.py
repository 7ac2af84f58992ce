"""When can it come down? For every unit above safe, the first day it would step down, and the first
day it would be safe, if no new case were reported after today: the days after today are evaluated
by the same evaluation as today (window, clusters, neighbours, hysteresis, notice),
with nothing dated after today read (geo/evaluate/inputs.py gather's `known_until`). No formula of
its own: the outlook is what the engine publishes on those days if nothing new is imported."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from geo.evaluate import hysteresis
from rules.levels import SCALE

# Columns the outlook adds to a day's published tables. Who a commune waits for is `adjacent_to` (the neighbours
# holding its level today), already published: not repeated.
COLUMNS = ("outlook_down_date", "outlook_down_level", "outlook_safe_date")


def horizon(settings: dict) -> int:
    """Days looked ahead: the longest memory a level has (the rule window, the weekly rate, the clean days a
    downgrade waits for), then a step down a day (each after its notice) from the top of the scale to safe.
    The 28-day "outbreak over" is shown, not read by any rule: it holds no level. A unit still above safe at the
    horizon says so ('not within N days')."""
    memory = max(int(settings["window_days"]), int(settings["rate_window_days"]),
                 int(settings.get("min_clean_days_before_downgrade", 0)))
    return memory + (len(SCALE) - 1) * (hysteresis.notice_days(settings) + 1)


def days(day: dt.date, settings: dict) -> list[dt.date]:
    """Today and the days the outlook evaluates after it."""
    return [day + dt.timedelta(days=k) for k in range(horizon(settings) + 1)]


def _first(mask: np.ndarray) -> np.ndarray:
    """Per row, the first column where `mask` holds, else -1."""
    return np.where(mask.any(axis=1), mask.argmax(axis=1), -1)


def table(levels: np.ndarray, dates: list[dt.date]) -> pd.DataFrame:
    """From the level codes of units x (today, the days after): the outlook columns, in the units' order."""
    today, ahead = levels[:, 0], levels[:, 1:]
    above = today > 0                     # safe is 0, unknown -1: neither has an outlook
    down = _first((ahead >= 0) & (ahead < today[:, None])) + 1
    safe = _first(ahead == 0) + 1
    iso = np.array([d.isoformat() for d in dates], dtype=object)
    names = np.array([lv.value for lv in SCALE], dtype=object)
    has_down, has_safe = above & (down > 0), above & (safe > 0)
    return pd.DataFrame({
        "outlook_down_date": np.where(has_down, iso[np.maximum(down, 0)], None),
        "outlook_down_level": np.where(has_down, names[np.clip(levels[np.arange(len(today)), np.maximum(down, 0)], 0, None)], None),
        "outlook_safe_date": np.where(has_safe, iso[np.maximum(safe, 0)], None),
    })
