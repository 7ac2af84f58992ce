"""Vietnamese (default) and English. Every user-facing string is in one catalogue,
geo/base/catalogue.yaml (section -> key -> [vi, en]); this module reads it once, on first use.
Set ZONES_LANG=en (or pass lang) for English."""
from __future__ import annotations

import datetime as dt
import os
from functools import cache
from pathlib import Path

import yaml

from geo.base.config import TIMEZONE

CATALOGUE = Path(__file__).with_name("catalogue.yaml")
LANGUAGES = ("vi", "en")


@cache
def catalogue() -> dict[str, dict[str, tuple[str, str]]]:
    """{section: {key: (vi, en)}}, checked: every entry has both languages, and the same placeholders."""
    data = yaml.load(CATALOGUE.read_text(encoding="utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    out: dict[str, dict[str, tuple[str, str]]] = {}
    for section, entries in data.items():
        out[section] = {}
        for key, pair in entries.items():
            if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(x, str) for x in pair)):
                raise ValueError(f"{CATALOGUE.name}: {section}.{key} must be [Vietnamese, English]")
            out[section][str(key)] = (pair[0], pair[1])
    return out


def lang(explicit: str | None = None) -> str:
    value = (explicit or os.environ.get("ZONES_LANG") or "vi").lower()
    return "en" if value.startswith("en") else "vi"


def _pick(pair: tuple[str, str], language: str | None) -> str:
    return pair[1] if lang(language) == "en" else pair[0]


def t(key: str, language: str | None = None, **params) -> str:
    """A message (section `message`) in `language`, its placeholders filled."""
    return _pick(catalogue()["message"][key], language).format(**params)


def word(section: str, key: str, language: str | None = None, default: str | None = None) -> str:
    """One entry of a section; `default` (or the key itself) when the section has no such key."""
    pair = catalogue()[section].get(str(key))
    if pair is None:
        return default if default is not None else str(key)
    return _pick(pair, language)


def has(section: str, key) -> bool:
    return str(key) in catalogue()[section]


def words(section: str, language: str | None = None) -> dict[str, str]:
    """A section in one language: the words of a page, handed to its template (do not change it)."""
    return _words(section, lang(language))


@cache
def _words(section: str, language: str) -> dict[str, str]:
    k = 1 if language == "en" else 0
    return {key: pair[k] for key, pair in catalogue()[section].items()}


def stage_label(stage: str, language: str | None = None) -> str:
    return t("stage", language, stage=word("stage", stage, language))


def unit_label(unit: str, language: str | None = None) -> str:
    return word("unit", unit, language)


def vn_date(day: str | None) -> str:
    """'2021-07-31' -> '31/07/2021': the committee's dates, in both languages."""
    if not day:
        return ""
    s = str(day)
    return f"{s[8:10]}/{s[5:7]}/{s[:4]}" if len(s) >= 10 and s[4] == "-" else s


def vn_time(instant: str | None) -> str:
    """An ISO time (UTC or with its offset) -> '31/07/2021 06:05' in Vietnam time, as the committee reads it."""
    if not instant:
        return ""
    try:
        t = dt.datetime.fromisoformat(str(instant))
    except ValueError:
        return str(instant)
    t = t if t.tzinfo else t.replace(tzinfo=dt.UTC)
    return t.astimezone(TIMEZONE).strftime("%d/%m/%Y %H:%M")


def ruleset_why(manifest: dict, language: str | None = None) -> str:
    """Why a run's ruleset decided it (RULES.md §6): named by the run, the operator's default after the last
    known regime, or in force by its dates. '' for a run made before runs said so."""
    why = (manifest or {}).get("ruleset_choice") or {}
    kind = why.get("why")
    if not kind:
        return ""
    return t(f"ruleset_why_{kind}", language, start=vn_date(why.get("from")), until=vn_date(why.get("until")) or "…")


def field_label(name: str, language: str | None = None) -> str:
    """An importer's column as an operator reads it ("commune_code" -> "Mã xã"); an unknown one as it is."""
    labels = catalogue()["field"]
    return labels[name][0 if lang(language) == "vi" else 1] if name in labels else name


def note(text: str, language: str | None = None) -> str:
    """An import's note ("f.csv: columns not used: a, b") in `language`: its known part translated, the file's
    name and the values kept."""
    table = catalogue()["note"]
    if lang(language) == "en":
        return text
    for head, (vi, _) in table.items():
        where = text.find(head)
        if where >= 0:
            return text[:where] + vi + text[where + len(head):]
    return text


def row_reason(text: str, language: str | None = None) -> str:
    """An import's English reason for a row in `language`: the catalogue's longest matching beginning
    translated, the rest (values, row numbers, candidates) kept as it is."""
    table = catalogue()["row_reason"]
    head = max((k for k in table if text.startswith(k)), key=len, default=None)
    if head is None or lang(language) == "en":
        return text
    vi = table[head][0]
    rest = text[len(head):]
    return vi + rest if vi.endswith((": ", " ")) or not rest or rest.startswith(" (") else f"{vi} ({rest.strip(' :')})"
