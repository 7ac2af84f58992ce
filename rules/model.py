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



@dataclass
class Example:
    inputs: dict[str, Any]
    neighbours: list[str]
    level: str
    reasons: list[str] | None
    line: int


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

    @property
    def level_ids(self) -> list[str]:
        return [lv["id"] for lv in self.levels]

    def level(self, level_id: str) -> dict:
        if level_id == Level.UNKNOWN.value:
            return self.unknown
        return next(lv for lv in self.levels if lv["id"] == level_id)

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)

    def sections(self) -> list[tuple[str, RuleSection]]:
        first = "commune" if self.scope == "communes" else "units"
        return [(first, self.commune)] + ([("rollup", self.rollup)] if self.rollup else [])
