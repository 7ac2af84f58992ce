"""Levels a committee declared (imported by `declare`, geo/ingest/declared.py), as a published run shows them."""
from __future__ import annotations

import pandas as pd


def annotate(frame, table: pd.DataFrame, ruleset) -> None:
    """Add declared_* columns and `level_differs` to a published frame (in place)."""
    codes = frame["code"].astype(str)
    t = table.reindex(codes)
    frame["declared_level"] = t["level"].to_numpy(object)
    declared = t["level"].to_numpy(object)      # iterated as Python objects, not cell by cell from Arrow
    words = {v: ruleset.level(v)["vi"] for v in set(declared) if isinstance(v, str)}
    frame["declared_level_vi"] = [words.get(v) if isinstance(v, str) else None for v in declared]
    frame["declared_decision"] = t["decision"].to_numpy(object)
    frame["declared_by"] = t["by"].to_numpy(object)
    frame["declared_from"] = t["valid_from"].to_numpy(object)
    frame["declared_reason"] = t["reason"].to_numpy(object)
    frame["level_differs"] = [isinstance(dl, str) and dl != lv
                              for dl, lv in zip(declared, frame["level"].to_numpy(object), strict=False)]
