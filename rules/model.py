"""What a loaded ruleset is: its rules, sections, worked examples, and the error a bad file gets.
Plain data: no parsing here (rules/ruleset.py) and no evaluation (rules/engine.py)."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from . import expr as E
from .levels import Level


class RulesetError(ValueError):
    def __init__(self, path, line, message):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")



def known_keys(d: dict, allowed: set[str], path, what: str) -> None:
    for key in d:
        if key != "__line__" and key not in allowed:
            raise RulesetError(path, d.get("__line__"), f"unknown key {key!r} in {what}{E.did_you_mean(key, allowed)}")


def required(d: dict, key: str, path, kind=str):
    if key not in d:
        raise RulesetError(path, d.get("__line__"), f"missing '{key}'{E.did_you_mean(key, [k for k in d if k != '__line__'])}")
    val = d[key]
    if kind is not None and not isinstance(val, kind):
        raise RulesetError(path, d.get("__line__"), f"'{key}' must be {getattr(kind, '__name__', kind)}")
    return val


@dataclass
class Example:
    inputs: dict[str, Any]
    neighbours: list[str]
    level: str
    reasons: list[str] | None
    line: int
    measures: list[str] | None = None     # the measure ids the level requires, when the example states them


@dataclass
class Rule:
    id: str
    level: str
    when: E.Expr
    ref: str
    vi: str
    en: str
    line: int
    examples: list[Example] = field(default_factory=list)
    unverified: bool = False


@dataclass
class RuleSection:
    """The rules for one kind of unit (communes, parents in the roll-up, or table rows)."""
    inputs: dict[str, dict]
    rules: list[Rule]
    unknown_when: E.Expr | None = None
    examples: list[Example] = field(default_factory=list)


@dataclass
class Ruleset:
    id: str
    title: str
    title_en: str
    legal_source: str
    scope: str
    effective_from: dt.date
    effective_until: dt.date | None
    levels: list[dict]
    unknown: dict
    settings: dict[str, Any]
    commune: RuleSection
    rollup: RuleSection | None
    missing_inputs: str
    path: str
    sha256: str
    raw: dict = field(repr=False, default_factory=dict)
    measures_cumulative: bool = True      # RULES.md §9: each level's measures add to those of the levels below

    @property
    def level_ids(self) -> list[str]:
        return [lv["id"] for lv in self.levels]

    def level(self, level_id: str) -> dict:
        if level_id == Level.UNKNOWN.value:
            return self.unknown
        return next(lv for lv in self.levels if lv["id"] == level_id)

    def all_measures(self) -> list[dict]:
        """Every level's own measures, lowest level first, each with its level (and partial, ref filled in)."""
        return [{"level": lv["id"], "partial": False, "ref": "", **m} for lv in self.levels for m in lv.get("measures") or []]

    def measures(self, level_id: str) -> list[dict]:
        """The administrative measures a unit at `level_id` must apply (none for unknown: not assessed)."""
        if level_id not in self.level_ids:
            return []
        upto = self.level_ids[:self.level_ids.index(level_id) + 1] if self.measures_cumulative else [level_id]
        return [m for m in self.all_measures() if m["level"] in upto]

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def sections(self) -> list[tuple[str, RuleSection]]:
        first = "commune" if self.scope == "communes" else "units"
        return [(first, self.commune)] + ([("rollup", self.rollup)] if self.rollup else [])
