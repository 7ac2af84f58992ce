"""Measures per level (RULES.md §9): each level of a ruleset lists the administrative measures a unit at
that level must apply, checked when the file loads like every other part of it."""
from __future__ import annotations

from .model import RulesetError, known_keys, required

MEASURE_KEYS = {"id", "vi", "en", "ref", "partial"}
# What joins a unit's measure ids in one field of the exports (GPKG and CSV have no lists), and their texts where
# shown together: neither is found inside an id or a text.
MEASURE_ID_SEPARATOR = ","
MEASURE_SEPARATOR = "; "


def check(levels: list, path) -> None:
    """Each level's administrative measures (RULES.md §9): a list of {id, vi, en, ref, partial}; ids unique
    in the ruleset, both languages given, no separator inside a text (exports join them with it)."""
    seen: set[str] = set()
    for lv in levels:
        items = lv.get("measures") or []
        if not isinstance(items, list):
            raise RulesetError(path, lv.get("__line__"), f"measures of level {lv['id']!r} are a list of mappings")
        for m in items:
            line = m.get("__line__", lv.get("__line__")) if isinstance(m, dict) else lv.get("__line__")
            if not isinstance(m, dict):
                raise RulesetError(path, line, "a measure is a mapping with id, vi, en (ref, partial optional)")
            known_keys(m, MEASURE_KEYS, path, f"a measure of level {lv['id']!r}")
            mid = str(required(m, "id", path))
            if MEASURE_ID_SEPARATOR in mid or not mid.strip():
                raise RulesetError(path, line, f"measure id {mid!r}: no {MEASURE_ID_SEPARATOR!r}, not empty")
            if mid in seen:
                raise RulesetError(path, line, f"measure id {mid!r} is used twice")
            seen.add(mid)
            for key in ("vi", "en"):
                text = str(required(m, key, path))
                if MEASURE_SEPARATOR.strip() in text:
                    raise RulesetError(path, line, f"measure {mid!r}: {MEASURE_SEPARATOR.strip()!r} separates measures "
                                       "in the exports; make two measures")
            if not isinstance(m.get("partial", False), bool):
                raise RulesetError(path, line, f"measure {mid!r}: partial is true or false")
