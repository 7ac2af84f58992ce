"""The operator's console (/console): sign in with a token once (geo/serve/sessions.py), then what the
user's role allows, in Vietnamese by default: held runs released with a reason (operator), the audit
log filtered by who, what, when, file and outcome (admin). A viewer sees the same page without any
write action. Every form carries the session's CSRF token; server.py routes and checks them."""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape
from openpyxl import Workbook

from geo.base import i18n
from geo.base.columns import FLAG_NAMES
from geo.base.config import today
from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.publish import quality
from geo.serve import auth, blank
from geo.store.database import Store

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
# Audit rows shown on the page (the API gives more).
AUDIT_ROWS = 200
AUDIT_FILTERS = ("who", "action", "outcome", "since", "text")
# What an operator uploads from the console (new boundaries stay with admins, on the command line or API).
UPLOAD_KINDS = ("cases", "lockdowns", "flags", "indicators", "declarations")
# Form fields of the operator's column choices: map::<the file's header> = one of our columns.
MAP_FIELD = "map::"
# Rejected rows shown on the page after an import (the XLSX has them all).
REJECTS_SHOWN = 200
# A rejects file's name as the importers write it (geo/ingest/tables.py write_rejects).
REJECTS_NAME = re.compile(r"^[0-9T]{15,30}-[\w.-]{1,120}-rejects\.csv$")


def import_result(kind: str, label: str, digest: str, summary: dict, rejects_dir: Path, lang: str) -> dict:
    """What the page shows of an import: counts, personal columns dropped, notes, and the rejected rows."""
    path = Path(rejects_dir) / summary["rejects_file"] if summary.get("rejects_file") else None
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=REJECTS_SHOWN, encoding="utf-8-sig") if path else None
    return {"kind": kind, "file": label, "sha256": digest, "accepted": summary.get("accepted", 0),
            "rejected": summary.get("rejected", 0), "changed": summary.get("changed", 0),
            "personal": summary.get("personal_columns", []),
            # the personal columns are said above in the page's language; other notes as the import wrote them
            "notes": [n for n in summary.get("notes", []) if "personal columns dropped" not in n],
            "rejects": None if rows is None else [{**r, "reason": i18n.row_reason(r["reason"], lang)}
                                                  for r in rows[["row", "field", "reason"]].to_dict("records")],
            "rejects_name": path.name if path else None}


def rejects_xlsx(rejects_dir: Path, name: str, cache_dir: Path) -> Path:
    """The rejects file `name` as a spreadsheet (text cells: codes keep their zeros), made once."""
    if not REJECTS_NAME.match(name) or not (Path(rejects_dir) / name).is_file():
        raise NotFoundError("not_found", what=f"rejects file {name}")
    out = Path(cache_dir) / "rejects" / (Path(name).stem + ".xlsx")
    if not out.exists():
        df = pd.read_csv(Path(rejects_dir) / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        wb = Workbook()
        ws = wb.active
        ws.title = "rejects"
        ws.append(list(df.columns))
        for row in df.itertuples(index=False):
            ws.append(list(row))
        for cells in ws.iter_rows(min_row=2):
            for c in cells:
                c.number_format = "@"
        blank.save(wb, out)
    return out


def whatif_result(rows: pd.DataFrame, ev, lang: str, lines: list[str]) -> dict:
    """A what-if's changes for the page: unit kind, name, published -> new level (labels of the ruleset), why."""
    rs = ev.ruleset
    label = {lv: rs.level(lv)[lang] for lv in (*rs.level_ids, "unknown")}
    changes = [{"unit": i18n.unit_label(r.unit, lang), "code": r.code, "name": r.name,
                "before": label.get(r.published_level, r.published_level or "—"), "after": label.get(r.new_level, r.new_level),
                "up": (r.new_level in rs.level_ids and r.published_level in rs.level_ids
                       and rs.level_ids.index(r.new_level) > rs.level_ids.index(r.published_level)),
                "why": r.new_explanation} for r in rows.itertuples()]
    return {"date": vn_date(ev.manifest["date"]), "ruleset": rs.id, "settings": lines, "changes": changes}


def page(store: Store, user: dict | None, lang: str, args: dict, message: str | None = None,
         error: str | None = None, result: dict | None = None) -> str:
    """The console for `user` (None: the sign-in form)."""
    t = i18n.words("console", lang)
    filters = {k: str(args.get(k, "")) for k in AUDIT_FILTERS}
    holds: list[dict] = quality.holds(store, lang) if user is not None else []
    for h in holds:
        h["date_vn"] = vn_date(h["date"])
    audit, users = None, None
    if user is not None and auth.allows(user, "admin"):
        audit = auth.audit_log(store, AUDIT_ROWS, **{k: v for k, v in filters.items() if v})
        users = auth.users(store)
    return ENV.get_template("console.html").render(
        t=t, lang=lang, user=user, message=message, error=error, holds=holds, audit=audit, filters=filters,
        result=result, kinds=UPLOAD_KINDS, template_kinds=tuple(blank.SPECS), users=users, roles=auth.ROLES,
        code=str(args.get("code", ""))[:20], flag_names=FLAG_NAMES, today=today().isoformat(),
        levels=blank.LEVEL_WORDS,
        role_label=t["role_" + user["role"]] if user is not None else "",
        can_publish=user is not None and auth.allows(user, "operator"))
