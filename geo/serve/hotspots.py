"""The red and orange communes of a published day, in the order the committee reads them: the
worst level first; within a level, those that just got there (newly red, then gone up), then those
with the most community cases; each with its reason and how many days it has held the level.

One list for the map's "Vùng đỏ / cam hôm nay" and the morning report's first page. Made once per
(run, previous run) and kept in the cache: neither run ever changes.
"""
from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np

from geo.base import faults
from geo.base.errors import StorageError
from geo.serve import changes, lookup
from geo.store import runfiles
from geo.store.database import Store
from rules.levels import RANK

HOT_LEVELS = ("very_high_risk", "high_risk")
# Order of the kinds of change inside a level: newly there first (after newly red), then those that
# held it, then those that came down to it.
CHANGE_ORDER = {"up": 0, "assessed": 0, "new": 0, "same": 1, "down": 2, "unassessed": 3}
FIELDS = ("code", "i", "name", "district_code", "district_name", "province_code", "province_name", "level",
          "level_from", "change", "newly_red", "unchanged_days", "community_cases", "reasons", "explanation",
          "explanation_en", "declared_level", "level_differs", "bbox")


def _rows(store: Store, runs_dir: Path, run: dict) -> list[dict]:
    rows, _, _ = changes.changes(store, runs_dir, dt.date.fromisoformat(run["date"]), units=("commune",))
    hot = rows[rows["level_to"].isin(HOT_LEVELS)].copy()
    if hot.empty:
        return []
    extra = runfiles.attributes(runs_dir / run["run_id"], "commune", ["code", "community_cases", "reasons"])
    extra["code"] = extra["code"].astype(str)
    hot = hot.merge(extra, on="code", how="left")
    idx = lookup.search_index(store, run["boundary_version"])
    communes = idx[idx["unit"] == "commune"].set_index("code")
    hot["i"] = communes["i"].reindex(hot["code"]).fillna(-1).astype(int).to_numpy()
    hot["bbox"] = communes["bbox"].reindex(hot["code"]).to_numpy()
    hot["level"] = hot["level_to"]
    hot["_rank"] = -hot["level"].map(RANK)
    hot["_change"] = np.where(hot["newly_red"], -1, hot["change"].map(CHANGE_ORDER).fillna(9))
    hot["_cases"] = -hot["community_cases"].fillna(0)
    hot = hot.sort_values(["_rank", "_change", "_cases", "name"], kind="stable")
    out = json.loads(hot[[c for c in FIELDS if c in hot.columns]].to_json(orient="records", force_ascii=False))
    for r in out:
        if isinstance(r.get("reasons"), str):
            r["reasons"] = json.loads(r["reasons"])
    return out


# The map's list shows this many at first (the worst first) and the next ones on demand: a national day has
# thousands of orange communes, and a member reads the top of the list.
PAGE = 100
PAGE_MAX = 1000


def _kept(store: Store, runs_dir: Path, cache_dir: Path, run: dict) -> list[str]:
    """The day's list as kept in the cache, made once per (run, previous run): a header line, then one unit per
    line (a page is a slice of lines, never parsed)."""
    before = changes.previous_run(store, dt.date.fromisoformat(run["date"]))
    target = Path(cache_dir) / run["run_id"] / f"hotspots--{before['run_id'] if before else 'none'}.jsonl"
    if target.exists():
        return target.read_text(encoding="utf-8").splitlines()
    head = {"run_id": run["run_id"], "date": run["date"], "compared_with": before["date"] if before else None}
    lines = [json.dumps(head, ensure_ascii=False)] + [json.dumps(u, ensure_ascii=False) for u in _rows(store, runs_dir, run)]
    try:
        faults.keep(target, lambda tmp: tmp.write_text("\n".join(lines) + "\n", encoding="utf-8"))
    except StorageError:
        pass             # not kept: made again next time
    return lines


def hotspots(store: Store, runs_dir: Path, cache_dir: Path, run: dict) -> dict:
    """The whole list: {run_id, date, compared_with, units}."""
    head, *units = _kept(store, runs_dir, cache_dir, run)
    return {**json.loads(head), "units": [json.loads(u) for u in units]}


def page_text(store: Store, runs_dir: Path, cache_dir: Path, run: dict, offset: int = 0, limit: int = PAGE) -> str:
    """One page of the list as JSON text, with `total`, `offset` and `limit`: the kept lines joined, never parsed."""
    head, *units = _kept(store, runs_dir, cache_dir, run)
    meta = json.dumps({**json.loads(head), "total": len(units), "offset": offset, "limit": limit}, ensure_ascii=False)
    return meta[:-1] + ',"units":[' + ",".join(units[offset:offset + limit]) + "]}"


def page(body: dict, offset: int = 0, limit: int = PAGE) -> dict:
    """One page of a list made in memory (the levels in force), as page_text pages the kept one."""
    return {**body, "total": len(body["units"]), "offset": offset, "limit": limit,
            "units": body["units"][offset:offset + limit]}


def in_force(store: Store, runs_dir: Path, cache_dir: Path, run: dict, declared_now) -> dict:
    """The list by the levels in force (the committee's decisions, `declared_now`: serve.declared.in_force) where
    a unit has one, else the computed ones: a computed red commune decided orange is listed as orange, one decided
    red that the run computes lower is added; each says its computed level and the decision."""
    body = hotspots(store, runs_dir, cache_dir, run)
    if declared_now is None or not len(declared_now):
        return {**body, "view": "in_force"}
    decided = declared_now["level"].to_dict()
    number = declared_now["decision"].to_dict()
    rows = []
    for u in body["units"]:
        level = decided.get(u["code"], u["level"])
        if level in HOT_LEVELS:
            rows.append({**u, "level": level, "level_computed": u["level"], "decision": number.get(u["code"])})
    listed = {u["code"] for u in body["units"]}
    idx = lookup.search_index(store, run["boundary_version"])
    communes = idx[idx["unit"] == "commune"].set_index("code")
    for code, level in decided.items():
        if level not in HOT_LEVELS or code in listed or code not in communes.index:
            continue
        c = communes.loc[code]
        rows.append({"code": code, "i": int(c["i"]), "name": c["name"], "district_name": c["district_name"],
                     "province_name": c["province_name"], "bbox": c["bbox"], "level": level, "level_computed": None,
                     "decision": number.get(code), "reasons": [], "change": "same", "newly_red": False,
                     "unchanged_days": None, "community_cases": None})
    rows.sort(key=lambda r: -RANK[r["level"]])                  # stable: the computed order within a level
    return {**body, "units": rows, "view": "in_force"}
