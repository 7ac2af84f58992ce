"""rules evaluate: run a ruleset over a plain table (no geometry) whose columns are its inputs.

Adjacency rules cannot be evaluated without geometry: they are skipped (borders() is false) and
reported. Every input column is kept; `level` and `reasons` are added.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.errors import InputError
from geo.base.vocabulary import FALSE_WORDS, TRUE_WORDS
from rules import engine
from rules.model import Ruleset


def evaluate_table(ruleset: Ruleset, raw: pd.DataFrame, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """`raw`: the table as read (text cells) from `path` (named in errors)."""
    section = ruleset.commune
    missing = [name for name in section.inputs if name not in raw.columns]
    skipped = [r.id for r in section.rules if r.when.borders]
    # An adjacency-only input (none here) may be absent; every other declared input must be a column.
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(raw.columns))
    env = {}
    for name, spec in section.inputs.items():
        col = raw[name].str.strip()
        if spec["type"] == "bool":
            low = col.str.lower()
            env[name] = np.where(low.isin(TRUE_WORDS), 1.0, np.where(low.isin(FALSE_WORDS), 0.0, np.nan))
        else:
            env[name] = pd.to_numeric(col, errors="coerce").to_numpy(float)
    res = engine.classify(section, env, ruleset.settings, len(raw), level_ids=ruleset.level_ids,
                          borders_override=lambda level: np.array(0.0), missing_unknown=ruleset.missing_inputs == "unknown")
    out = raw.copy()
    out["level"] = res.levels
    out["reasons"] = [json.dumps(r) for r in res.reasons]
    return out, skipped
