"""Worked examples in ruleset files are executed when the file loads: a ruleset whose example
does not give the level (and reasons) it states is rejected with the example's line."""
from __future__ import annotations

import numpy as np

from . import engine
from .expr import did_you_mean
from .model import Example, RuleSection, Ruleset, RulesetError

# Inputs an example leaves out: no cases, no flag; numbers (population, rates) stay missing.
DEFAULTS = {"count": 0.0, "bool": 0.0, "number": np.nan}


def run(rs: Ruleset, section: RuleSection, ex: Example) -> tuple[str, list[str]]:
    env = {name: np.array([float(ex.inputs.get(name, DEFAULTS[spec["type"]]))]) for name, spec in section.inputs.items()}
    res = engine.classify(section, env, rs.settings, 1, level_ids=rs.level_ids,
                          borders_override=lambda level: np.array(1.0 if level in ex.neighbours else 0.0),
                          missing_unknown=rs.missing_inputs == "unknown")
    return res.levels[0], res.reasons[0]


def _check_measures(rs: Ruleset, owner: str, ex: Example, level: str) -> None:
    """An example stating measures: each is declared, and they are exactly those its level requires."""
    declared = [m["id"] for lv in rs.levels for m in lv["measures"]]
    for m in ex.measures or []:
        if m not in declared:
            raise RulesetError(rs.path, ex.line, f"{owner}: measure {m!r} is not declared{did_you_mean(m, declared)}")
    have = [m["id"] for m in rs.measures(level)]
    if sorted(have) != sorted(ex.measures or []):
        raise RulesetError(rs.path, ex.line, f"{owner}: level {level} requires the measures {have}, the file says {ex.measures}")


def check(rs: Ruleset) -> int:
    """Run every example of every section; return how many ran."""
    count = 0
    for _, section in rs.sections():
        owned = [(f"rule {r.id}", ex) for r in section.rules for ex in r.examples]
        owned += [("example", ex) for ex in section.examples]
        for owner, ex in owned:
            level, reasons = run(rs, section, ex)
            if level != ex.level or (ex.reasons is not None and sorted(reasons) != sorted(ex.reasons)):
                raise RulesetError(rs.path, ex.line, f"{owner}: worked example gives {level} {reasons}, "
                                   f"the file says {ex.level}" + (f" {ex.reasons}" if ex.reasons is not None else ""))
            if ex.measures is not None:
                _check_measures(rs, owner, ex, level)
            count += 1
    return count
