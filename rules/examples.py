"""Worked examples in ruleset files are executed when the file loads: a ruleset whose example
does not give the level (and reasons) it states is rejected with the example's line."""
from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

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


# What an example's outcome depends on besides its file: this package's source and numpy's version.
ENGINE = hashlib.sha256(b"".join(p.read_bytes() for p in sorted(Path(__file__).parent.glob("*.py")))
                        + np.__version__.encode()).hexdigest()


class Verdicts:
    """Worked examples already run and passed, kept in a file (a digest of the ruleset's text and of ENGINE each): a
    process loading a ruleset whose examples passed under the same engine does not run them again (each command,
    each server worker: a tenth of a second). A file changed, or the engine, is checked again. Nothing is kept when
    the file cannot be written (a read-only data folder): the examples are run each time, as without it."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        try:
            self.passed_keys = set(json.loads(path.read_text(encoding="utf-8"))) if path else set()
        except (OSError, ValueError, TypeError):
            self.passed_keys = set()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8") + ENGINE.encode()).hexdigest()

    def passed(self, text: str) -> bool:
        return self.key(text) in self.passed_keys

    def record(self, text: str) -> None:
        if self.path is None or self.passed(text):
            return
        self.passed_keys.add(self.key(text))
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp.write_text(json.dumps(sorted(self.passed_keys)), encoding="utf-8")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)
