"""The citizens' lookup (/tra-cuu): the committee's map of the levels in force, nothing else. A unit's level is the
one the committee decided (a declaration or an approved decision in force today), with since when, the decision's
number and the measures its level requires; a unit with no decision says so. No computed proposal, no case count,
nothing unpublished: what it reads is the store's declarations and the boundaries, never a run's tables."""
from __future__ import annotations

import datetime as dt

import pandas as pd

from geo.base.vocabulary import LEVEL_IDS, UNITS
from geo.serve import declared, lookup
from geo.store.database import Store

_CHAR = {lv: str(k) for k, lv in enumerate(LEVEL_IDS)}


def in_force(store: Store, version: str, day: dt.date) -> pd.DataFrame:
    return declared.in_force(store, version, day.isoformat())


def levels_table(index: dict, now: pd.DataFrame, day: dt.date) -> dict:
    """The levels in force in the map's table form (one character per unit of the shapes index; none decided: '-')."""
    decided = now["level"].to_dict() if len(now) else {}
    units = {unit: {"level": "".join(_CHAR.get(decided.get(str(c), ""), "-") for c in entry["code"]), "reasons": {},
                    "differs": []}
             for unit, entry in index["units"].items()}
    return {"run_id": "public", "date": day.isoformat(), "shapes": index["id"], "levels": list(LEVEL_IDS), "units": units}


def unit(store: Store, version: str, now: pd.DataFrame, kind: str, code: str, ruleset) -> dict | None:
    """What the lookup says of one unit: its name and parents, its level in force, since, the decision and measures."""
    idx = lookup.search_index(store, version)
    found = idx[(idx["unit"] == kind) & (idx["code"].astype(str) == code)]
    if found.empty or kind not in UNITS:
        return None
    row = found.iloc[0]
    d = now.loc[code] if code in now.index else None
    level = d["level"] if d is not None else None
    out = {"code": code, "unit": kind, "name": row["name"], "district_name": row.get("district_name"),
           "province_name": row.get("province_name"), "level": level,
           "since": d["valid_from"] if d is not None else None, "decision": d["decision"] if d is not None else None,
           "measures_list": ruleset.measures(level) if level in ruleset.level_ids else []}
    return out


def search(store: Store, version: str, now: pd.DataFrame, q: str) -> list[dict]:
    """Units by name (diacritics optional), each with its level in force (none: not decided)."""
    decided = now["level"].to_dict() if len(now) else {}
    keep = ("unit", "code", "i", "name", "district_name", "province_name", "bbox", "rank")
    return [{**{k: r[k] for k in keep if k in r}, "level": decided.get(str(r["code"]))}
            for r in lookup.search(store, version, q)]
