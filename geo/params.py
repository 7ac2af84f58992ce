"""Parsing of request and command-line parameters, with the errors the user sees."""
from __future__ import annotations

import datetime as dt

from . import config
from .errors import InputError


def parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError("bad_date", value=value) from None


def parse_as_of(value: str) -> str:
    try:
        return config.parse_instant(value)
    except (TypeError, ValueError):
        raise InputError("bad_param", name="as_of", value=value, allowed="ISO time, e.g. 2021-08-01T07:00") from None


def choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise InputError("bad_param", name=name, value=value, allowed=", ".join(allowed))
    return value
