"""A published run as the committee's proposal: per unit of a province (communes, and districts where the boundary
version has them: a province's committee decides those; the province's own level is the Ministry's), the level
computed beside the level in force on the run's day (the latest declaration or approved decision). The console's
review (geo/serve/console.py) shows it; an approval (geo/ingest/decisions.py) records from it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd

from geo.store import inputs, runfiles
from geo.store.database import Store

# The kinds of unit a province's decision sets, in the order a decision lists them.
DECIDED_KINDS = ("district", "commune")
COLUMNS = ["code", "name", "level", "explanation", "explanation_en", "district_name", "province_code", "province_name"]


def provinces(runs_dir: Path, run: dict) -> list[tuple[str, str]]:
    """(code, name) of the run's provinces, by name."""
    t = runfiles.attributes(runs_dir / run["run_id"], "commune", ["province_code", "province_name"]).drop_duplicates()
    return sorted(((str(c), str(n)) for c, n in zip(t["province_code"], t["province_name"], strict=True)),
                  key=lambda p: p[1])


def rows(store: Store, runs_dir: Path, run: dict, province_code: str) -> pd.DataFrame:
    """The units of `province_code` the decision sets, one row each: kind, code, name, district, computed level
    and its reason, the level in force on the run's day with its decision (None: none declared yet), and whether
    the two differ."""
    kinds = [k for k in DECIDED_KINDS if k in runfiles.kinds_in(run["manifest"])]
    parts = []
    for kind in kinds:
        t = runfiles.attributes(runs_dir / run["run_id"], kind)
        t = t[[c for c in COLUMNS if c in t.columns]].copy()
        t["code"] = t["code"].astype(str)
        t = t[t["province_code"].astype(str) == str(province_code)]
        t.insert(0, "kind", kind)
        parts.append(t)
    out = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["kind", *COLUMNS])
    if "district_name" not in out.columns:
        out["district_name"] = None
    out.loc[out["kind"] == "district", "district_name"] = out.loc[out["kind"] == "district", "name"]
    with store.connect(readonly=True) as con:
        now = inputs.declarations_of(con, run["boundary_version"], run["date"]).set_index("unit")
    out = out.rename(columns={"level": "computed_level"})
    out["in_force_level"] = out["code"].map(now["level"]).astype(object)
    out["in_force_decision"] = out["code"].map(now["decision"]).astype(object)
    out["in_force_from"] = out["code"].map(now["valid_from"]).astype(object)
    out = out.astype(object).where(out.notna(), None)
    out["differs"] = out["computed_level"] != out["in_force_level"]
    return out.sort_values(["kind", "district_name", "name"], ascending=[False, True, True],
                           key=lambda c: c.astype(str)).reset_index(drop=True)
