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
# The kinds of administrative unit a boundary version may have, smallest first. A version has
# communes and provinces, and districts only where the administration has them (none since 1/7/2025).
UNITS: tuple[str, ...] = ("commune", "district", "province")
# RULES.md section 3: which kinds of unit each parent kind is rated from, the first the version has.
DEFAULT_ROLLUP_FROM: dict[str, list[str]] = {"district": ["commune"], "province": ["district", "commune"]}
# Integer code used in arrays for `unknown` (negative so `>= RANK[...]` tests never include it).
UNKNOWN_CODE = -1
