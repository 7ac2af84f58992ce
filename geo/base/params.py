"""Parsing of request and command-line parameters, with the errors the user sees."""
from __future__ import annotations

import datetime as dt
import re

from geo.base import config
from geo.base.errors import InputError

# Days the service can be asked about: its data start in 2020; far past or future dates are typos
# (and 0001-01-01 minus 60 days is no date at all).
FIRST_DAY, LAST_DAY = dt.date(2000, 1, 1), dt.date(2100, 12, 31)


# A day as the committee writes it: dd/mm/yyyy (d/m/yyyy too).
VN_DAY = re.compile(r"^\s*(\d{1,2})/(\d{1,2})/(\d{4})\s*$")


def parse_day(value: str) -> dt.date:
    """YYYY-MM-DD, or dd/mm/yyyy as a form typed by a person gives it."""
    try:
        m = VN_DAY.match(value) if isinstance(value, str) else None
        day = dt.date(int(m.group(3)), int(m.group(2)), int(m.group(1))) if m else dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError("bad_date", value=value) from None
    if not FIRST_DAY <= day <= LAST_DAY:
        raise InputError("bad_param", name="date", value=value, allowed=f"a day from {FIRST_DAY} to {LAST_DAY}")
    return day


def parse_as_of(value: str) -> str:
    try:
        instant = config.parse_instant(value)
    except (TypeError, ValueError, OverflowError):      # year 1 in Vietnam time is before year 1 in UTC
        raise InputError("bad_param", name="as_of", value=value, allowed="ISO time, e.g. 2021-08-01T07:00") from None
    if not FIRST_DAY.isoformat() <= instant[:10] <= LAST_DAY.isoformat():
        raise InputError("bad_param", name="as_of", value=value, allowed=f"a time from {FIRST_DAY} to {LAST_DAY}")
    return instant


def choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise InputError("bad_param", name=name, value=value, allowed=", ".join(allowed))
    return value
