"""The measures a locality must apply (RULES.md §9): what changed today, per district (or province
where a boundary version has no districts), for the morning report. A unit's measures are those of
its published level under the run's ruleset; going up adds measures, coming down lifts them."""
from __future__ import annotations

import pandas as pd

from geo.base import i18n


def _ids(ruleset, level) -> dict[str, dict]:
    return {m["id"]: m for m in ruleset.measures(level)} if ruleset is not None and isinstance(level, str) else {}


def changed(rows: pd.DataFrame, run: dict, before: dict | None, rulesets: dict, lang: str, above: str) -> list[dict]:
    """[{parent, units: [{code, name, text}]}]: the communes whose required measures differ from the
    previous run's, grouped by the unit above them, each said in one line ("X: từ <level> sang <level> — áp dụng thêm: …; không còn bắt buộc: …")."""
    rs_now = rulesets.get(run["manifest"]["ruleset"])
    if before is None or rs_now is None:
        return []
    rs_before = rulesets.get(before["manifest"]["ruleset"], rs_now)
    w = i18n.words("report", lang)
    communes = rows[rows["unit"] == "commune"]
    if rs_before is rs_now:          # same ruleset: only a change of level changes the measures
        communes = communes[communes["change"] != "same"]
    groups: dict[str, list[dict]] = {}
    for r in communes.sort_values(["province_name", f"{above}_name", "name"]).itertuples():
        now, was = _ids(rs_now, r.level_to), _ids(rs_before, r.level_from)
        if list(now) == list(was):
            continue
        added = [m[lang] for k, m in now.items() if k not in was]
        lifted = [m[lang] for k, m in was.items() if k not in now]
        frm = rs_before.level(r.level_from)[lang] if isinstance(r.level_from, str) else w["none"]
        parts = [w["measures_apply"].format(list="; ".join(added))] if added else []
        parts += [w["measures_lift"].format(list="; ".join(lifted))] if lifted else []
        text = w["measures_line"].format(name=r.name, frm=frm, to=rs_now.level(r.level_to)[lang], what=" — ".join(parts))
        groups.setdefault(str(getattr(r, f"{above}_name")), []).append({"code": r.code, "name": r.name, "text": text})
    return [{"parent": k, "units": v} for k, v in groups.items()]
