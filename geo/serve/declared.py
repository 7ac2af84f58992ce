"""Levels a committee declared, in force on a day, read from the store when asked: data beside the runs. A level
declared in the console shows at once on the map, in a unit's panel and in the morning report, without a new
run; the run keeps the declarations it was computed with (its own `declared_*` columns, its manifest's counts)."""
from __future__ import annotations

import hashlib
import json

import pandas as pd

from geo.store import inputs
from geo.store.database import Store

# The fields a declaration shows, as the run's tables name them.
FIELDS = {"level": "declared_level", "decision": "declared_decision", "by": "declared_by",
          "valid_from": "declared_from", "reason": "declared_reason"}


def in_force(store: Store, version: str, day: str) -> pd.DataFrame:
    """The declarations of `version` in force on `day` (ISO), one row per unit code (the index)."""
    if not store.exists():
        return pd.DataFrame(columns=list(FIELDS), index=pd.Index([], name="unit"))
    with store.connect(readonly=True) as con:
        rows = inputs.declarations_of(con, version, day)
    return rows.assign(unit=rows["unit"].astype(str)).set_index("unit")


def listing(table: pd.DataFrame) -> list[dict]:
    """The declarations as the map reads them: code, level, decision, from, until."""
    return [{"code": code, "level": r["level"], "decision": r["decision"], "from": r["valid_from"],
             "until": r["valid_until"] if isinstance(r["valid_until"], str) else None}
            for code, r in table.iterrows()]


def overlay_unit(props: dict, table: pd.DataFrame, ruleset) -> dict:
    """A unit's panel with the declaration in force now (or none), and whether it differs from the level."""
    out = dict(props)
    row = table.loc[str(props["code"])] if str(props["code"]) in table.index else None
    for field, column in FIELDS.items():
        out[column] = None if row is None or pd.isna(row[field]) else row[field]
    level = out["declared_level"]
    out["declared_level_vi"] = ruleset.level(level)["vi"] if level and ruleset is not None else None
    out["level_differs"] = bool(level) and level != props.get("level")
    return out


def overlay_rows(rows: pd.DataFrame, table: pd.DataFrame, level_column: str = "level") -> pd.DataFrame:
    """A table of units (column `code`) with `declared_level` and `level_differs` as declared now."""
    out = rows.copy()
    declared = table["level"] if len(table) else pd.Series(dtype=object)
    out["declared_level"] = out["code"].astype(str).map(declared).astype(object).where(lambda s: s.notna(), None)
    out["level_differs"] = out["declared_level"].notna() & (out["declared_level"] != out[level_column])
    return out


# The fields a published unit carries beside its own once the committee has decided (exports, OGC API items).
IN_FORCE_FIELDS = ("level_in_force", "level_computed", "decision_in_force", "in_force_since")


def in_force_fields(table: pd.DataFrame, code: str, computed: str | None) -> dict:
    """One unit's level in force (the committee's, None where no decision), the computed one, and the decision."""
    row = table.loc[code] if code in table.index else None
    return {"level_in_force": None if row is None else row["level"], "level_computed": computed,
            "decision_in_force": None if row is None else row["decision"],
            "in_force_since": None if row is None else row["valid_from"]}


def feature_text(line: str, code: str, computed: str | None, table: pd.DataFrame) -> str:
    """A GeoJSON feature's text with the in-force fields first among its properties."""
    extra = json.dumps(in_force_fields(table, code, computed), ensure_ascii=False)[1:-1]
    return line.replace('"properties":{', '"properties":{' + extra + ",", 1)


def with_columns(df: pd.DataFrame, table: pd.DataFrame) -> pd.DataFrame:
    """A table of units (`code`, `level`) with the in-force columns."""
    out = df.copy()
    codes = out["code"].astype(str)
    out["level_in_force"] = codes.map(table["level"]).astype(object) if len(table) else None
    out["level_computed"] = out["level"]
    out["decision_in_force"] = codes.map(table["decision"]).astype(object) if len(table) else None
    out["in_force_since"] = codes.map(table["valid_from"]).astype(object) if len(table) else None
    for c in IN_FORCE_FIELDS:
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    return out


def digest(table: pd.DataFrame) -> str:
    """What the declarations in force are, in 10 characters (a derived file made under them says so in its name)."""
    return hashlib.sha1(table.reset_index().to_json(orient="records").encode()).hexdigest()[:10]
