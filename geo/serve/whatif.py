"""What-if: evaluate a date with another ruleset or changed settings, without publishing, and
list the units whose level would change against the published run of that date, and why."""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.store import runfiles
from geo.store.database import Store

COLUMNS = ["unit", "code", "name", "published_level", "new_level", "published_reasons", "new_reasons", "new_explanation"]


def diff(store: Store, runs_dir: Path, ev) -> pd.DataFrame:
    day = ev.manifest["date"]
    run = store.run_for_date(day)
    if run is None:
        raise NotFoundError("no_run_for_date", date=vn_date(day), iso=day)
    out = []
    for unit, frame in ev.frames.items():
        old = runfiles.attributes(runs_dir / run["run_id"], unit, ["code", "level", "reasons"]).set_index("code")
        new = pd.DataFrame({"code": frame["code"].astype(str), "name": frame["name"], "level": frame["level"],
                            "reasons": [json.dumps(r) for r in frame["reasons"]],
                            "explanation": frame["explanation"]}).set_index("code")
        both = new.join(old.add_suffix("_published"), how="left")
        changed = both[both["level"] != both["level_published"]]
        for code, row in changed.iterrows():
            out.append({"unit": unit, "code": code, "name": row["name"], "published_level": row["level_published"],
                        "new_level": row["level"], "published_reasons": row["reasons_published"],
                        "new_reasons": row["reasons"], "new_explanation": row["explanation"]})
    return pd.DataFrame(out, columns=COLUMNS)


OUTLOOK_COLUMNS = ["unit", "code", "name", "level", "published_down", "new_down", "published_safe", "new_safe"]


def outlook_diff(store: Store, runs_dir: Path, ev) -> pd.DataFrame:
    """The units whose outlook (if no new case: the day it steps down, the day it is safe) differs between
    the published run and the what-if; empty when the published run has no outlook (backfilled)."""
    day = ev.manifest["date"]
    run = store.run_for_date(day)
    if run is None or not run["manifest"].get("outlook_until"):
        return pd.DataFrame(columns=OUTLOOK_COLUMNS)
    out = []
    for unit, frame in ev.frames.items():
        old = runfiles.attributes(runs_dir / run["run_id"], unit, ["code", "outlook_down_date", "outlook_safe_date"])
        old = old.set_index(old["code"].astype(str))
        new = pd.DataFrame({"name": frame["name"].to_numpy(), "level": frame["level"].to_numpy(),
                            "new_down": frame["outlook_down_date"].to_numpy(), "new_safe": frame["outlook_safe_date"].to_numpy()},
                           index=frame["code"].astype(str))
        both = new.join(old.rename(columns={"outlook_down_date": "published_down", "outlook_safe_date": "published_safe"}))
        both = both.astype(object).where(both.notna(), None)
        moved = both[(both["new_down"] != both["published_down"]) | (both["new_safe"] != both["published_safe"])]
        out += [{"unit": unit, "code": code, **row[OUTLOOK_COLUMNS[2:]].to_dict()} for code, row in moved.iterrows()]
    return pd.DataFrame(out, columns=OUTLOOK_COLUMNS)
