"""A run's levels as the committee's page reads them: a small table aligned with the boundary
version's shape tiles (geo/publish/shapes.py), so the page colours geometry it already has.

    {"run_id", "date", "shapes", "levels": ["safe", ..., "unknown"],
     "units": {"commune": {"level": "0013…", "reasons": {"17": "R1 O2"}, "differs": [5, 17]}, ...}}

`level` holds one character per unit in index order: the position of its level in `levels`, or
"-" for a unit the run does not have. `reasons` lists the rules that decided each unit above the
lowest level. National: about 12 KB, 3 KB compressed. Written with every run (full or levels run);
runs published before it existed get it in the cache on first use.
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from geo.base import faults
from geo.base.vocabulary import LEVEL_IDS
from geo.publish import shapes
from geo.store import formats, runfiles

FILE = "map-levels.json"
_CHAR = {lv: str(k) for k, lv in enumerate(LEVEL_IDS)}


def _reasons(value) -> str:
    if isinstance(value, str):
        value = json.loads(value) if value.startswith("[") else value.split()
    return " ".join(str(v) for v in (value or []))


def _reason_texts(values) -> dict[str, str]:
    """{position: reasons as text} of the units with reasons; the few distinct lists joined once."""
    return {str(k): text for k, text in enumerate(formats.each_distinct(values, _reasons)) if text}


def table(tables: dict[str, pd.DataFrame], index: dict) -> dict:
    """From each unit kind's table (code, level, reasons, level_differs) to the page's table."""
    units = {}
    for unit, entry in index["units"].items():
        t = tables[unit][[c for c in ("code", "level", "reasons", "level_differs") if c in tables[unit]]]
        t = t.assign(code=t["code"].astype(str)).drop_duplicates("code").set_index("code")
        t = t.reindex(entry["code"])
        # columns iterated as Python objects (not cell by cell from Arrow); the few distinct reason lists joined once
        level = "".join(_CHAR.get(v, "-") if isinstance(v, str) else "-" for v in t["level"].to_numpy(object))
        reasons = _reason_texts(t["reasons"].to_numpy(object)) if "reasons" in t else {}
        differs = [int(k) for k in (t["level_differs"].fillna(False).astype(bool).to_numpy().nonzero()[0])] \
            if "level_differs" in t else []
        units[unit] = {"level": level, "reasons": reasons, "differs": differs}
    return {"shapes": index["id"], "levels": list(LEVEL_IDS), "units": units}


def text(tables: dict[str, pd.DataFrame], index: dict, run_id: str, day: str) -> str:
    return json.dumps({"run_id": run_id, "date": day, **table(tables, index)}, ensure_ascii=False, separators=(",", ":"))


def write(folder: Path, tables: dict[str, pd.DataFrame], index: dict, run_id: str, day: str) -> None:
    (folder / FILE).write_text(text(tables, index, run_id, day), encoding="utf-8")


def path(store, data_dir: Path, run_dir: Path, run: dict) -> Path:
    """The run's table: its own file, or one made once into the cache for a run without it."""
    own = run_dir / FILE
    if own.exists():
        return own
    target = Path(data_dir) / "cache" / run_dir.name / FILE
    if target.exists():
        return target
    sid = run["manifest"].get("shapes") or shapes.shapes_id(store, run["boundary_version"])
    index = shapes.index(data_dir, sid)
    cols = ["code", "level", "reasons", "level_differs"]
    tables = {u: runfiles.attributes(run_dir, u, cols) for u in index["units"]}
    return faults.keep(target, lambda tmp: tmp.write_text(text(tables, index, run["run_id"], run["date"]), encoding="utf-8"))
