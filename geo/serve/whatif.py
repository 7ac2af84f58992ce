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
