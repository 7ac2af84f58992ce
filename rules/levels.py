"""Zone levels: the ordered scale plus `unknown`, which is deliberately off the scale.

Labels and colours are declared by each ruleset file (RULES.md section 1); this module only
holds the ids every ruleset must use so that the rest of the service can rely on them.
"""
from __future__ import annotations

from enum import Enum


class Level(str, Enum):
    SAFE = "safe"
    RISK = "risk"
    HIGH_RISK = "high_risk"
    VERY_HIGH_RISK = "very_high_risk"
    UNKNOWN = "unknown"


# Order of the scale; `unknown` has no rank so it can never compare as "safe" or "lower".
SCALE: tuple[Level, ...] = (Level.SAFE, Level.RISK, Level.HIGH_RISK, Level.VERY_HIGH_RISK)
RANK: dict[str, int] = {lvl.value: i for i, lvl in enumerate(SCALE)}
# Integer code used in arrays for `unknown` (negative so `>= RANK[...]` tests never include it).
UNKNOWN_CODE = -1
