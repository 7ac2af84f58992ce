"""The operator's console (/console): sign in with a token once (geo/serve/sessions.py), then what the
user's role allows, in Vietnamese by default: held runs released with a reason (operator), the audit
log filtered by who, what, when, file and outcome (admin). A viewer sees the same page without any
write action. Every form carries the session's CSRF token; server.py routes and checks them."""
from __future__ import annotations

import json
import os
import re
import secrets
import time
from pathlib import Path

import lazy_loader as lazy
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.base import i18n
from geo.base.columns import FLAG_NAMES
from geo.base.config import today
from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.base.params import parse_day
from geo.domain import reviews
from geo.domain.audit import audit_log
from geo.publish import quality
from geo.serve import auth, blank, trend
from geo.store import jobs as jobs_table
from geo.store.database import Store

# openpyxl takes a tenth of a second to import: loaded by the first workbook read or written
openpyxl = lazy.load("openpyxl")

ENV = Environment(loader=FileSystemLoader(Path(__file__).parent / "templates"), autoescape=select_autoescape())
ENV.globals.update(field_label=i18n.field_label, vn_time=i18n.vn_time)
# Audit rows shown on the page (the API gives more).
AUDIT_ROWS = 200
AUDIT_FILTERS = ("who", "action", "outcome", "since", "text")
# What an operator uploads from the console (new boundaries stay with admins, on the command line or API).
UPLOAD_KINDS = ("cases", "lockdowns", "flags", "indicators", "declarations")
# Form fields of the operator's column choices: map::<the file's header> = one of our columns.
MAP_FIELD = "map::"
# The what-if map's simplification (degrees, ~50 m): outlines to look at in a browser, the page stays small.
WHATIF_SIMPLIFY_DEG = 0.0005
# Rejected rows shown on the page after an import (the XLSX has them all).
REJECTS_SHOWN = 200
# A rejects file's name as the importers write it (geo/ingest/tables.py write_rejects).
REJECTS_NAME = re.compile(r"^[0-9T]{15,30}-[\w.-]{1,120}-rejects\.csv$")


def chosen_columns(fields) -> dict[str, str]:
    """The operator's column choices among a form's fields (map::<header> = column); a part whose name
    the browser could not encode (None) is not one of them."""
    return {k[len(MAP_FIELD):]: v for k, v in fields if isinstance(k, str) and k.startswith(MAP_FIELD) and v}


def import_result(kind: str, label: str, digest: str, summary: dict, rejects_dir: Path, lang: str) -> dict:
    """What the page shows of an import: counts, personal columns dropped, notes, and the rejected rows."""
    path = Path(rejects_dir) / summary["rejects_file"] if summary.get("rejects_file") else None
    rows = pd.read_csv(path, dtype=str, keep_default_na=False, nrows=REJECTS_SHOWN, encoding="utf-8-sig") if path else None
    return {"kind": kind, "file": label, "sha256": digest, "accepted": summary.get("accepted", 0),
            "rejected": summary.get("rejected", 0), "changed": summary.get("changed", 0),
            "personal": summary.get("personal_columns", []),
            # the personal columns are said above in the page's language; other notes translated where known
            "notes": [i18n.note(n, lang) for n in summary.get("notes", []) if "personal columns dropped" not in n],
            "rejects": None if rows is None else [{**r, "field": i18n.field_label(r["field"], lang),
                                                   "reason": i18n.row_reason(r["reason"], lang)}
                                                  for r in rows[["row", "field", "reason"]].to_dict("records")],
            "rejects_name": path.name if path else None}


def rejects_xlsx(rejects_dir: Path, name: str, cache_dir: Path, lang: str = "vi") -> Path:
    """The rejects file `name` as a spreadsheet in the operator's language (text cells: codes keep their zeros),
    made once per language: its headers are the columns' names the importers read (so the corrected sheet imports
    again), the column of each fault named the same way, each reason translated."""
    if not REJECTS_NAME.match(name) or not (Path(rejects_dir) / name).is_file():
        raise NotFoundError("not_found", what=f"rejects file {name}")
    out = Path(cache_dir) / "rejects" / f"{Path(name).stem}.{i18n.lang(lang)}.xlsx"
    if not out.exists():
        df = pd.read_csv(Path(rejects_dir) / name, dtype=str, keep_default_na=False, encoding="utf-8-sig")
        if "field" in df:
            df["field"] = df["field"].map(lambda f: i18n.field_label(f, lang))
        if "reason" in df:
            df["reason"] = df["reason"].map(lambda r: i18n.row_reason(r, lang))
        wb = openpyxl.Workbook()
        ws = wb.active
        ws.title = i18n.word("console", "rejected_rows", lang)[:31]
        ws.append([i18n.field_label(c, lang) for c in df.columns])
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
    return {"date": vn_date(ev.manifest["date"]), "ruleset": rs.id, "settings": lines, "changes": changes,
            "geo": _whatif_geo(rows, ev, lang)}


def _day(value) -> str:
    """A date of the outlook, dd/mm/yyyy; none (not above safe, or not within the horizon): a dash."""
    return vn_date(value) if isinstance(value, str) and value else "—"


def plan_ahead(moved: pd.DataFrame, published: dict, under: list[dict], ruleset, lang: str) -> dict:
    """The what-if's effect ahead and over the last month: the units whose outlook moves (published -> what-if),
    the published days drawn beside the same days under the what-if, and the red and orange commune-days of each."""
    t = i18n.words("console", lang)
    labels = trend.labels(ruleset, lang)

    def days_at(days: list[dict], level: str) -> int:
        return sum(d["units"][level] for d in days)
    rows = [{"unit": i18n.unit_label(r.unit, lang), "code": r.code, "name": r.name, "level": labels[r.level]["label"],
             "before": _day(r.published_safe), "after": _day(r.new_safe)} for r in moved.itertuples()]
    outlook = [r for r in rows if r["before"] != r["after"]]      # what moves; the rest is counted
    n = len(under)
    return {"outlook": outlook, "outlook_same": len(rows) - len(outlook),
            "trend_published": trend.svg(published, labels, t["plan_published"].format(n=len(published["days"]))),
            "trend_whatif": trend.svg({"days": under}, labels, t["plan_whatif"].format(n=n)),
            "plan_summary": t["plan_summary"].format(
                n=n, red=days_at(published["days"], "very_high_risk"), red_new=days_at(under, "very_high_risk"),
                orange=days_at(published["days"], "high_risk"), orange_new=days_at(under, "high_risk"))}


def _whatif_geo(rows: pd.DataFrame, ev, lang: str) -> dict:
    """The what-if drawn: the changed units in their new level's colour over the outline of the largest units,
    as GeoJSON in the page (simplified: a map to look at, not to measure)."""
    rs = ev.ruleset
    colour = {lv: rs.level(lv)["color"] for lv in rs.level_ids} | {"unknown": rs.unknown["color"]}
    features, finest = [], list(ev.frames)[0]
    for unit, part in rows.groupby("unit"):
        frame = ev.frames[unit].set_index(ev.frames[unit]["code"].astype(str))
        geom = frame.loc[part["code"].astype(str), "geometry"].simplify(WHATIF_SIMPLIFY_DEG)
        for r, g in zip(part.itertuples(), geom, strict=True):
            features.append({"type": "Feature", "geometry": g.__geo_interface__,
                             "properties": {"code": r.code, "name": r.name, "changed": True,
                                            "fill": unit == finest,       # a district's change: its outline
                                            "color": colour.get(r.new_level, "#999"),
                                            "label": f"{r.name}: {rs.level(r.published_level)[lang] if r.published_level in rs.level_ids else '—'}"
                                                     f" → {rs.level(r.new_level)[lang] if r.new_level in rs.level_ids else rs.unknown[lang]}"}})
    top = list(ev.frames)[-1]                 # the outline: the largest units of the version (provinces)
    for g in ev.frames[top].geometry.simplify(WHATIF_SIMPLIFY_DEG * 4):
        features.append({"type": "Feature", "geometry": g.__geo_interface__, "properties": {"changed": False}})
    return {"type": "FeatureCollection", "features": features}


# What-if results are kept this long in the cache (the page of their job shows them).
WHATIF_KEEP_S = 24 * 3600
WHATIF_NAME = re.compile(r"^[0-9a-f]{16}\.json$")


def keep_whatif(cache_dir: Path, data: dict) -> str:
    """Keep a what-if's page data (both languages) in the cache -> its name; older ones are dropped."""
    folder = Path(cache_dir) / "whatif"
    folder.mkdir(parents=True, exist_ok=True)
    now = time.time()
    for old in folder.glob("*.json"):
        if now - old.stat().st_mtime > WHATIF_KEEP_S:
            old.unlink(missing_ok=True)
    name = secrets.token_hex(8) + ".json"
    tmp = folder / f".{name}.tmp"
    tmp.write_text(json.dumps(data, ensure_ascii=False, default=str), encoding="utf-8")
    os.replace(tmp, folder / name)
    return name


def whatif_kept(cache_dir: Path, name: str, lang: str) -> dict | None:
    if not WHATIF_NAME.match(name or ""):
        return None
    path = Path(cache_dir) / "whatif" / name
    if not path.is_file():
        return None
    return json.loads(path.read_text(encoding="utf-8")).get(lang)


def job_view(job: dict | None, lang: str) -> dict | None:
    """A console job as the page and its poll show it: stage reached, share done, and at the end the outcome."""
    if job is None:
        return None
    t = i18n.words("console", lang)
    out = {"id": job["id"], "status": job["status"], "kind": job["kind"], "date": vn_date(job["target"].split("|")[0]),
           "done": job["stages_done"], "total": job["stages_total"],
           "percent": min(100, round(100 * job["stages_done"] / max(1, job["stages_total"]))),
           "stage": i18n.stage_label(job["stage"], lang) if job["stage"] else t["job_waiting"], "message": None}
    r = job["result"] or {}
    if job["kind"] == "whatif" and job["status"] == "done":
        out.update(percent=100, message=t["whatif_done"].format(date=out["date"].split("|")[0], n=r.get("changes", 0)),
                   whatif=r.get("whatif"))
    elif job["status"] in ("published", "held"):
        key = "reclassified_held" if job["status"] == "held" else "reclassified"
        out.update(percent=100, message=t[key].format(run_id=r["run_id"], date=vn_date(r["date"])),
                   run_id=r["run_id"], map=f"/map?date={r['date']}&lang={lang}")
    elif job["status"] == "failed":
        out["message"] = t["job_failed"].format(date=out["date"], error=r.get(lang) or r.get("error", ""))
    return out


# Doubtful places shown on the page at most (the most cases first; `review list` has them all).
REVIEWS_SHOWN = 50


def audit_row(a: dict, lang: str) -> dict:
    """An audit row as the console shows it: Vietnam time, and its role, route, action and outcome in words
    (an id the catalogue does not know is shown as it is)."""
    def word(section: str, key: str | None) -> str:
        entry = i18n.catalogue()[section].get(key or "")
        return (entry[0] if i18n.lang(lang) == "vi" else entry[1]) if entry else (key or "")
    head, _, rest = str(a.get("outcome") or "").partition(": ")
    return {**a, "at_vn": i18n.vn_time(a.get("at")), "role_label": word("console", f"role_{a.get('role')}") if a.get("role") else "",
            "via_label": word("audit_via", a.get("via")), "action_label": word("audit_action", a.get("action")),
            "outcome_label": word("audit_outcome", head) + (f": {rest}" if rest else "")}


def review_list(store: Store) -> list[dict]:
    """The announced places waiting for an operator's choice, each with its candidates' names."""
    rows = reviews.waiting(store)[:REVIEWS_SHOWN]
    labels = reviews.labels(store, rows)
    return [{**r, "options": [(c, labels.get(c, c)) for c in r["candidates"]]} for r in rows]


def page(store: Store, user: dict | None, lang: str, args: dict, message: str | None = None,
         error: str | None = None, result: dict | None = None, cache_dir: Path | None = None) -> str:
    """The console for `user` (None: the sign-in form)."""
    t = i18n.words("console", lang)
    filters = {k: str(args.get(k, "")) for k in AUDIT_FILTERS}
    holds: list[dict] = quality.holds(store, lang) if user is not None else []
    for h in holds:
        h["date_vn"] = vn_date(h["date"])
    audit, users = None, None
    job = None
    if user is not None and auth.allows(user, "operator") and args.get("job"):
        with store.connect(readonly=True) as con:
            job = job_view(jobs_table.get(con, str(args["job"])[:32]), lang)
        if job is not None and job.get("whatif") and cache_dir is not None and result is None:
            kept = whatif_kept(cache_dir, job["whatif"], lang)
            result = {"whatif": kept} if kept else None
    if user is not None and auth.allows(user, "admin"):
        wanted = {k: v for k, v in filters.items() if v}
        if "since" in wanted:          # typed as the page shows dates (dd/mm/yyyy), asked as stored (ISO)
            wanted["since"] = parse_day(wanted["since"]).isoformat()
        audit = [audit_row(a, lang) for a in audit_log(store, AUDIT_ROWS, **wanted)]
        users = [{**u, "created_vn": i18n.vn_time(u["created_at"]), "revoked_vn": i18n.vn_time(u.get("revoked_at"))}
                 for u in auth.users(store)]
    places = review_list(store) if user is not None and auth.allows(user, "operator") else []
    return ENV.get_template("console.html").render(
        t=t, lang=lang, user=user, message=message, error=error, holds=holds, audit=audit, filters=filters,
        result=result, job=job, kinds=UPLOAD_KINDS, template_kinds=tuple(blank.SPECS), users=users, roles=auth.ROLES,
        code=str(args.get("code", ""))[:20], flag_names=FLAG_NAMES, today=today().isoformat(), today_vn=vn_date(today().isoformat()),
        published={vn_date(r["date"]): r["run_id"] for r in store.published_runs()} if user is not None and store.exists() else {},
        levels=blank.LEVEL_WORDS, places=places,
        role_label=t["role_" + user["role"]] if user is not None else "",
        can_publish=user is not None and auth.allows(user, "operator"),
        can_approve=user is not None and auth.allows(user, "approver"))
