"""The approver's review of a run's proposal (/console/proposal): for one province, the units whose computed level
differs from the level in force, grouped by district and level, each with its reason and the measures of the
level proposed, a choice of another level with a written reason; the rest counted; the decision's fields; and
the decisions already made (their documents)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.base import i18n
from geo.base.config import TIMEZONE, today
from geo.base.i18n import vn_date
from geo.domain import proposals
from geo.store import decisions
from geo.store.database import Store

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
ENV.globals.update(vn_time=i18n.vn_time, vn_date=vn_date)
# Units listed for review at most (a province's communes fit; the rest would be counted).
SHOWN = 1000


def _signed_default(run_date: str) -> str:
    """The decision's time offered: now on the run's own day, else 08:00 of that day (a day looked back on)."""
    if run_date == today().isoformat():
        return dt.datetime.now(TIMEZONE).strftime("%d/%m/%Y %H:%M")
    return f"{vn_date(run_date)} 08:00"


def decision(store: Store, decision_id: str) -> dict | None:
    with store.connect(readonly=True) as con:
        return decisions.get(con, decision_id)


def page(store: Store, runs_dir: Path, run: dict, ruleset, province: str | None, user: dict, lang: str,
         error: str | None = None, message: str | None = None) -> str:
    t = {**i18n.words("console", lang), **i18n.words("proposal", lang)}
    provinces = proposals.provinces(runs_dir, run)
    code = province if province in {c for c, _ in provinces} else (provinces[0][0] if provinces else "")
    rows = proposals.rows(store, runs_dir, run, code) if code else None
    labels = {lv: ruleset.level(lv)[lang] for lv in (*ruleset.level_ids, "unknown")}
    own = {lv: [m[lang] for m in ruleset.all_measures() if m["level"] == lv] for lv in ruleset.level_ids}
    groups: dict[str, list[dict]] = {}
    differ = rows[rows["differs"]] if rows is not None else pd.DataFrame()
    for r in differ.head(SHOWN).itertuples():
        groups.setdefault(r.district_name or "—", []).append({
            "code": r.code, "kind": r.kind, "name": r.name, "computed": r.computed_level,
            "computed_label": labels.get(r.computed_level, r.computed_level),
            "in_force": labels.get(r.in_force_level) if r.in_force_level else None, "decision": r.in_force_decision,
            "why": (r.explanation_en if lang == "en" else r.explanation) or "", "measures": own.get(r.computed_level, [])})
    with store.connect(readonly=True) as con:
        made = decisions.listed(con, 20)
    return ENV.get_template("proposal.html").render(
        t=t, lang=lang, user=user, run=run, date_vn=vn_date(run["date"]), provinces=provinces, province=code,
        groups=groups, n_differ=len(differ), n_same=(len(rows) - len(differ)) if rows is not None else 0,
        n_shown=min(len(differ), SHOWN), levels=[(lv, labels[lv]) for lv in ruleset.level_ids], error=error,
        message=message,
        decisions=made, signed_default=_signed_default(run["date"]),
        notice_hours=ruleset.settings.get("publication_notice_hours") or ruleset.settings.get("notice_hours") or 0)
