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



def clean(d: dict) -> dict:
    """A mapping without the '__line__' the loader records."""
    return {k: v for k, v in d.items() if k != "__line__"}


def parse_date(val, path, line, key):
    if val is None or isinstance(val, dt.date):
        return val
    try:
        return dt.date.fromisoformat(str(val))
    except ValueError:
        raise RulesetError(path, line, f"'{key}' is not a date (YYYY-MM-DD): {val!r}") from None


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
    source: str = ""                      # where a published case comes from (a worked example from practice)
    note: str = ""


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
class Matrix:
    """A decision table (RULES.md §6: band x coverage, transmission x capacity): each cell the level a setting
    gives it (`cell_<row>_<column>`) with its source. Compiled at load into the section's rules (one per cell
    above the lowest level, named `<row>-<column>`, and one per raise), and into `unknown_rules` for cells
    whose level was never published: a unit there is unknown, its reason naming the cell."""
    vi: str
    en: str
    rows: list[dict]                  # {id, when, vi, en}
    columns: list[dict]
    cells: dict[str, dict]            # '<row>-<column>' -> {level, ref, setting}
    raises: list[dict] = field(default_factory=list)   # {id, when, vi, en, ref}: each raises the cell's level by one


@dataclass
class RuleSection:
    """The rules for one kind of unit (communes, parents in the roll-up, or table rows)."""
    inputs: dict[str, dict]
    rules: list[Rule]
    unknown_when: E.Expr | None = None
    examples: list[Example] = field(default_factory=list)
    defines: dict[str, E.Expr] = field(default_factory=dict)     # named conditions/numbers, in order
    unknown_rules: list[Rule] = field(default_factory=list)      # true: the unit is unknown, this rule its reason
    matrix: Matrix | None = None


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
