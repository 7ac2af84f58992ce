"""Evaluate a ruleset section over many units at once (pure: arrays in, arrays out).

Hit policy: highest level wins. Levels are evaluated from the top down, one stage per
level, so `borders('very_high_risk')` sees the red units of the stage before and adjacency is
exactly one step deep (RULES.md section 2). A unit no rule puts above safe is safe, unless a
rule of a higher level than the one it got could not be evaluated (a missing input): then it is
`unknown`, with those rules as its reasons. Never shown as safe by default.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse

from . import expr as E
from .levels import SCALE, UNKNOWN_CODE, Level
from .model import RuleSection

# Reason id of a unit made unknown by the section's `unknown_when` (e.g. every child unknown).
UNKNOWN_WHEN_ID = "U"


# Reason prefix for a unit made unknown by a missing input under the "unknown" policy.
MISSING_PREFIX = "missing:"
STANDARD_LEVELS = tuple(lv.value for lv in SCALE)


@dataclass
class Classification:
    codes: np.ndarray                 # int per unit: rank on the ruleset's scale, or UNKNOWN_CODE
    truth: dict[str, np.ndarray]      # rule id -> 1/0/NaN per unit
    reasons: list[list[str]]          # fired rule ids of the unit's level (undecidable ids if unknown)
    level_ids: tuple[str, ...] = STANDARD_LEVELS
    declared_unknown: np.ndarray = field(default_factory=lambda: np.zeros(0, bool))   # made unknown by `unknown_when`
    gaps: np.ndarray = field(default_factory=lambda: np.zeros((0, 0), bool))  # units x gap_names: inputs missing ("unknown")
    gap_names: tuple[str, ...] = ()
    computed: np.ndarray | None = None  # the codes before a hold changed them (the service's hysteresis), if it did

    @property
    def levels(self) -> list[str]:
        return [Level.UNKNOWN.value if c < 0 else self.level_ids[c] for c in self.codes.tolist()]


def classify(section: RuleSection, env: Mapping[str, np.ndarray], settings: Mapping, n: int,
             neighbours: sparse.spmatrix | None = None, level_ids=STANDARD_LEVELS,
             borders_override: Callable[[str], np.ndarray] | None = None,
             missing_unknown: bool = False, days: int = 1, with_reasons: bool = True) -> Classification:
    """`borders_override` replaces the adjacency lookup (worked examples give neighbour levels);
    `missing_unknown` makes any unit with a missing input unknown (policy `missing_inputs: unknown`).
    Many days at once: arrays of n = units x days in unit-major order (unit i, day t at i * days + t);
    adjacency then applies within each day. `with_reasons=False` skips the per-unit reason lists."""
    scope = {**{k: v for k, v in settings.items() if isinstance(v, (int, float, str))}, **env}
    for name, ex in section.defines.items():         # named conditions, in the order the file gives them
        scope[name] = E.evaluate(ex, scope, n)
    level_ids = tuple(level_ids)
    rank = {lv: i for i, lv in enumerate(level_ids)}
    assigned = np.full(n, UNKNOWN_CODE, dtype=np.int8)
    undecided_rank = np.full(n, UNKNOWN_CODE, dtype=np.int8)
    truth: dict[str, np.ndarray] = {}

    def borders(level_id: str) -> np.ndarray:
        if borders_override is not None:
            return np.broadcast_to(np.asarray(borders_override(level_id), dtype=np.float64), (n,))
        if neighbours is None:
            return np.full(n, np.nan)
        hit = (assigned == rank[level_id]).astype(np.float64).reshape(-1, days)
        return (neighbours @ hit > 0).astype(np.float64).reshape(-1)

    for r in sorted({rank[rule.level] for rule in section.rules}, reverse=True):
        here = [rule for rule in section.rules if rank[rule.level] == r]
        any_true = np.zeros(n, dtype=bool)
        any_nan = np.zeros(n, dtype=bool)
        for rule in here:
            v = E.evaluate(rule.when, scope, n, borders)
            truth[rule.id] = v
            any_true |= v == 1
            any_nan |= np.isnan(v)
        assigned[(assigned == UNKNOWN_CODE) & any_true] = r
        undecided_rank[any_nan & (undecided_rank < r)] = r

    codes = np.where(assigned == UNKNOWN_CODE, 0, assigned).astype(np.int8)
    codes[undecided_rank > codes] = UNKNOWN_CODE
    declared_unknown = np.zeros(n, dtype=bool)
    if section.unknown_when is not None:
        declared_unknown = E.evaluate(section.unknown_when, scope, n) == 1
        codes[declared_unknown] = UNKNOWN_CODE
    for rule in section.unknown_rules:                # a matrix cell never published: unknown, the cell named
        v = truth[rule.id] = E.evaluate(rule.when, scope, n)
        codes[(v == 1) | np.isnan(v)] = UNKNOWN_CODE  # in it, or perhaps in it: not decided either way
    names = [k for k in section.inputs if k in env] if missing_unknown else []
    gaps = np.column_stack([np.isnan(np.broadcast_to(np.asarray(env[k], float), (n,))) for k in names]) \
        if names else np.zeros((n, 0), dtype=bool)
    missing = gaps.any(axis=1)
    codes[missing] = UNKNOWN_CODE
    cls = Classification(codes=codes, truth=truth, reasons=[], level_ids=level_ids,
                         declared_unknown=declared_unknown, gaps=gaps, gap_names=tuple(names))
    if with_reasons:
        cls.reasons = reasons_at(section, cls, np.arange(n))
    return cls


def reasons_at(section: RuleSection, cls: Classification, idx: np.ndarray) -> list[list[str]]:
    """Reason lists of the units at `idx` (e.g. one day's rows of a many-day classification)."""
    rank = {lv: i for i, lv in enumerate(cls.level_ids)}
    codes = cls.codes[idx]
    reasons = _reasons(section, {k: v[idx] for k, v in cls.truth.items()}, codes, rank, len(idx))
    for i in np.flatnonzero(cls.declared_unknown[idx]):
        reasons[i] = [UNKNOWN_WHEN_ID]
    if section.unknown_rules:
        truth = np.column_stack([cls.truth[r.id][idx] for r in section.unknown_rules])
        ids = [r.id for r in section.unknown_rules]
        for i in np.flatnonzero(codes == UNKNOWN_CODE):
            inside = [ids[j] for j in np.flatnonzero(truth[i] == 1)]
            maybe = [ids[j] for j in np.flatnonzero(np.isnan(truth[i]))]
            if inside:
                reasons[i] = inside
            elif maybe:
                reasons[i] = [r for r in reasons[i] if r != UNKNOWN_WHEN_ID] + maybe
    gaps = cls.gaps[idx]
    for i in np.flatnonzero(gaps.any(axis=1)):
        reasons[i] = [MISSING_PREFIX + cls.gap_names[j] for j in np.flatnonzero(gaps[i])]
    return reasons


def _row_patterns(pick: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the distinct rows of a boolean matrix, each row's index among them). Up to 62 columns a row is one
    integer (its bits), so the rows are told apart by a sort of integers rather than of whole rows."""
    if pick.shape[1] <= 62:
        key = pick.astype(np.int64) @ (np.int64(1) << np.arange(pick.shape[1], dtype=np.int64))
        _, first, which = np.unique(key, return_index=True, return_inverse=True)
        return pick[first], which.ravel()
    patterns, which = np.unique(pick, axis=0, return_inverse=True)
    return patterns, which.ravel()


def _reasons(section: RuleSection, truth, codes, rank, n) -> list[list[str]]:
    ids = [rule.id for rule in section.rules]
    if not ids:
        return [[] for _ in range(n)]
    mat = np.column_stack([np.broadcast_to(truth[i], (n,)) for i in ids])            # n x rules, 1/0/NaN
    rule_rank = np.array([rank[rule.level] for rule in section.rules])
    fired = (mat == 1) & (rule_rank[None, :] == codes[:, None])
    undecided = np.isnan(mat) & (codes[:, None] == UNKNOWN_CODE)
    pick = np.where((codes == UNKNOWN_CODE)[:, None], undecided, fired)
    # a few distinct patterns over thousands of units: each pattern's list made once, each unit given its own copy
    patterns, which = _row_patterns(pick)
    lists = [[ids[j] for j in np.flatnonzero(row)] for row in patterns]
    out = [list(lists[k]) for k in which.tolist()]
    for i in np.flatnonzero(codes == UNKNOWN_CODE):
        if not out[i]:
            out[i] = [UNKNOWN_WHEN_ID]
    return out
