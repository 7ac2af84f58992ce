"""The morning report, in the order the committee reads it: counts per level and what changed;
every red and orange commune with its reason and days held (newly red first); districts ranked by
their worst level and number of red communes; a map per province and per district with red
communes; lockdowns started, ending and lifted; data-quality warnings. An A4 HTML page (no script,
no outside request) with page numbers, the run and the ruleset in its footer; an XLSX workbook; or
a PDF printed from the HTML by Chromium."""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from pathlib import Path

import lazy_loader as lazy
import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.base import faults, i18n
from geo.base.config import TIMEZONE
from geo.base.errors import NotFoundError
from geo.base.i18n import vn_date
from geo.serve import changes, hotspots, measures, outlook, printing, reportmap, trend
from geo.serve import declared as declared_levels
from geo.store import casestats, inputs, runfiles
from geo.store.database import Store
from geo.store.formats import spreadsheet_cell
from rules.levels import RANK, SCALE

# openpyxl takes a tenth of a second to import: loaded by the first workbook read or written
openpyxl = lazy.load("openpyxl")

LEVELS = tuple(lv.value for lv in SCALE) + ("unknown",)
# Provinces first, then districts, then communes, in the list of declared levels.
UNIT_ORDER = {"province": 0, "district": 1, "commune": 2}
# Lockdowns whose end date falls within this many days are listed as ending.
ENDING_WITHIN_DAYS = 3
# No case data imported for this many days before the report date is a warning.
STALE_CASE_DAYS = 2
# A reason in a table cell is cut at this many characters (the panel and the API have it whole).
MAX_REASON = 160
# A national day at a peak has thousands of orange communes: the printed report lists every red one,
# and at most this many orange ones and rows of the other tables (those that changed first); the
# XLSX and the API keep every row. A province's day stays far below these.
MAX_PRINTED_ORANGE = 300
MAX_PRINTED_ROWS = 300
MAX_PRINTED_DISTRICTS = 150
TEMPLATES = Path(__file__).parent / "templates"
# The report's form (its template, its words, this module): a cached report of another form is not reused.
FORM = hashlib.sha1(b"".join(p.read_bytes() for p in (TEMPLATES / "report.html", Path(i18n.__file__).with_name("catalogue.yaml"),
                                                       Path(__file__), Path(reportmap.__file__)))).hexdigest()[:10]
# The report's outlook line: the units back to green within this many days if no new case comes.
OUTLOOK_WITHIN = 7

def _lockdowns(store: Store, day: dt.date, since: dt.date | None) -> dict[str, list[dict]]:
    d, s = day.isoformat(), (since or day - dt.timedelta(days=1)).isoformat()
    soon = (day + dt.timedelta(days=ENDING_WITHIN_DAYS)).isoformat()
    with store.connect(readonly=True) as con:
        df = inputs.lockdown_table(con)
    live = df["lifted_date"].isna() | (df["lifted_date"] > d)
    pick = {"started": (df["start_date"] > s) & (df["start_date"] <= d),
            "ending": live & (df["start_date"] <= d) & df["end_date"].notna() & (df["end_date"] >= d) & (df["end_date"] <= soon),
            "lifted": df["lifted_date"].notna() & (df["lifted_date"] > s) & (df["lifted_date"] <= d)}
    return {k: json.loads(df[m].to_json(orient="records", force_ascii=False)) for k, m in pick.items()}


def _warnings(store: Store, run: dict, before: dict | None, rows: pd.DataFrame, w: dict) -> list[str]:
    out, m = [], run["manifest"]
    if m.get("cases_not_in_boundaries"):
        out.append(w["w_unplaced"].format(n=m["cases_not_in_boundaries"]))
    if (m.get("cases_followed") or {}).get("split_largest_part"):
        out.append(w["w_split"].format(n=m["cases_followed"]["split_largest_part"]))
    unknown = rows[(rows["unit"] == "commune") & (rows["level_to"] == "unknown")]
    if len(unknown):
        names = ", ".join(unknown["name"].astype(str).head(15)) + (" …" if len(unknown) > 15 else "")
        out.append(w["w_unknown"].format(n=len(unknown), names=names))
    since = before["created_at"] if before else "0000"
    with store.connect(readonly=True) as con:
        for r in inputs.imports_with_rejects(con, since):
            out.append(w["w_rejected"].format(kind=r["kind"], path=Path(r["path"] or "").name, n=r["rejected"]))
        last = casestats.newest_report_date(con, run["date"])
    if last is None or last < (dt.date.fromisoformat(run["date"]) - dt.timedelta(days=STALE_CASE_DAYS)).isoformat():
        out.append(w["w_stale"].format(date=vn_date(last) or "—"))
    differs = int(rows["level_differs"].fillna(False).astype(bool).sum())
    if differs:
        out.append(w["w_declared"].format(n=differs))
    return out


def _ranking(communes: pd.DataFrame, parents: pd.DataFrame, kind: str) -> list[dict]:
    """The units of the kind above communes (districts, or provinces in a version without districts)
    by the worst level of their communes, then red communes, then orange ones."""
    out = []
    own = parents.set_index("code") if len(parents) else parents
    keys = ["province_code", "district_code"] if kind == "district" else ["province_code"]
    for key, grp in communes.groupby(keys, sort=False, dropna=False):
        code = key[-1] if isinstance(key, tuple) else key
        counts = {lv: int((grp["level_to"] == lv).sum()) for lv in LEVELS}
        worst = max((RANK.get(v, -1) for v in grp["level_to"]), default=-1)
        d = own.loc[code] if code in own.index else None
        out.append({"district": grp[f"{kind}_name"].iloc[0],
                    "province": grp["province_name"].iloc[0] if kind == "district" else "",
                    "level": d["level_to"] if d is not None else None,
                    "explanation": None if d is None else d["explanation"], "explanation_en": None if d is None else d["explanation_en"],
                    "counts": counts, "worst": worst, "changes": int((grp["change"] != "same").sum())})
    out.sort(key=lambda r: (-r["worst"], -r["counts"]["very_high_risk"], -r["counts"]["high_risk"],
                            -r["counts"]["risk"], str(r["province"]), str(r["district"])))
    return out


def _printed(hot: list[dict], other: list[dict], ranking: list[dict]) -> dict:
    """What the printed report lists of long tables: every red commune; orange ones that got there
    today first, then by cases, up to MAX_PRINTED_ORANGE; the counts of what is left out."""
    red = [h for h in hot if h["level"] == "very_high_risk"]
    orange = [h for h in hot if h["level"] != "very_high_risk"]
    if len(orange) > MAX_PRINTED_ORANGE:
        orange = sorted(orange, key=lambda h: (h["change"] == "same", -(h["community_cases"] or 0)))[:MAX_PRINTED_ORANGE]
    return {"hot": red + orange, "hot_left_out": len(hot) - len(red) - len(orange),
            "ranking": ranking[:MAX_PRINTED_DISTRICTS], "ranking_left_out": max(0, len(ranking) - MAX_PRINTED_DISTRICTS),
            "other": other[:MAX_PRINTED_ROWS], "other_left_out": max(0, len(other) - MAX_PRINTED_ROWS)}


def _reason(text) -> str:
    """An explanation for a table cell: the rules' texts with their figures, without the rule ids."""
    if not isinstance(text, str):
        return ""
    parts = [re.sub(r"^[A-Z]+[0-9]*: ", "", p.strip()) for p in text.split("; ")]
    return "; ".join(p if len(p) <= MAX_REASON else p[:MAX_REASON - 1] + "…" for p in parts)


def _ahead_and_trend(store: Store, runs_dir: Path, cache_dir: Path, run: dict, labels: dict, w: dict, lang: str) -> dict:
    """The outlook's line (units back to green within OUTLOOK_WITHIN days if no new case) and the last
    30 days' trend with its chart; a day without an outlook (backfilled) says so."""
    day = dt.date.fromisoformat(run["date"])
    try:
        ahead = outlook.back_to_safe(outlook.units(runs_dir, run, ["commune"]), run["date"], OUTLOOK_WITHIN)
    except NotFoundError:
        ahead = None
    tr = trend.trend(store, runs_dir, cache_dir, day - dt.timedelta(days=trend.DEFAULT_DAYS - 1), day)
    return {"ahead": ahead, "ahead_within": OUTLOOK_WITHIN, "trend": tr,
            "trend_svg": trend.svg(tr, labels, w["trend_title"].format(n=len(tr["days"]))),
            "trend_words": trend.words(tr, labels, lang)}


def build(store: Store, runs_dir: Path, cache_dir: Path, day: dt.date, lang: str, rulesets: dict) -> dict:
    rows, run, before = changes.changes(store, runs_dir, day)
    w = i18n.words("report", lang)
    rs = rulesets.get(run["manifest"]["ruleset"])
    now_declared = declared_levels.in_force(store, run["boundary_version"], run["date"])   # as declared now
    rows = declared_levels.overlay_rows(rows, now_declared, "level_to")
    labels = trend.labels(rs, lang)
    communes = rows[rows["unit"] == "commune"]
    hot = hotspots.hotspots(store, runs_dir, cache_dir, run)["units"]
    for h in hot:
        h.update(declared_levels.overlay_unit(h, now_declared, rs))
        h["why"] = _reason(h["explanation"] if lang == "vi" else h["explanation_en"])
    listed = {h["code"] for h in hot}
    other = communes[(communes["change"] != "same") & ~communes["code"].astype(str).isin(listed)].copy()
    other["_rank"] = -other["level_to"].map(lambda v: RANK.get(v, -1)).astype(int)
    other = other.sort_values(["_rank", "province_name", "district_name", "name"])
    other_rows = json.loads(other.drop(columns=["_rank"]).to_json(orient="records", force_ascii=False))
    for r in other_rows:
        r["why"] = _reason(r["explanation"] if lang == "vi" else r["explanation_en"])
    now = run["manifest"]["counts"]
    prev = before["manifest"]["counts"] if before else {}
    warnings = _warnings(store, run, before, rows, w)
    kinds = runfiles.kinds_in(run["manifest"])
    above = kinds[1]           # the kind right above communes: districts, or provinces since 2025
    ranking = _ranking(communes, rows[rows["unit"] == above], above)
    differs = rows[rows["level_differs"].fillna(False).astype(bool)]
    declared = [{"unit": r.unit, "name": r.name, "computed": r.level_to, "declared": r.declared_level}
                for r in differs.sort_values(["unit", "name"], key=lambda c: c.map(UNIT_ORDER) if c.name == "unit" else c)
                .itertuples()]
    return {
        "lang": lang, "w": w, "labels": labels, "levels": LEVELS, "run": run, "before": before,
        "date": run["date"], "date_vn": vn_date(run["date"]), "before_vn": vn_date(before["date"]) if before else None,
        "ruleset": run["manifest"]["ruleset"],
        "ruleset_title": (rs.title_en if lang == "en" and rs.title_en else rs.title) if rs is not None else run["manifest"]["ruleset"],
        "ruleset_why": i18n.ruleset_why(run["manifest"], lang),
        "summary": [{"unit": u, "now": now[u], "prev": prev.get(u, {})} for u in kinds],
        "above": above, "parent_col": f"{above}_name",
        "kinds": {k: int(((rows["change"] == k) & (rows["unit"] == "commune")).sum())
                  for k in ("up", "down", "unassessed", "assessed", "new")},
        "newly_red": int(communes["newly_red"].sum()), "hot": hot, "other": other_rows,
        "ranking": ranking, "printed": _printed(hot, other_rows, ranking),
        "lockdowns": _lockdowns(store, day, dt.date.fromisoformat(before["date"]) if before else None),
        "warnings": warnings, "rows": rows, "declared": declared,
        "measures": measures.changed(rows, run, before, rulesets, lang, above),
        **_ahead_and_trend(store, runs_dir, cache_dir, run, labels, w, lang),
        "generated": dt.datetime.now(TIMEZONE).strftime("%d/%m/%Y %H:%M"),
        "maps": reportmap.maps(store, runs_dir, run, cache_dir, w),
    }


def html(report: dict) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["vn"] = vn_date
    env.filters["css"] = lambda s: str(s).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return env.get_template("report.html").render(**report)


def _sheet(title: str) -> str:
    """A worksheet name: at most 31 characters, none of []:*?/\\ (Excel refuses them)."""
    return re.sub(r"[\[\]:*?/\\]", "-", title)[:31]


def xlsx(report: dict, path: Path) -> None:
    w = report["w"]
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = _sheet(w["summary"])
    ws.append([w["date"], report["date_vn"], w["ruleset"], report["ruleset"], w["previous"],
               report["before_vn"] or w["none"], w["boundaries"], report["run"]["boundary_version"]])
    ws.append([w["unit"], *[report["labels"][lv]["label"] for lv in report["levels"]]])
    for s in report["summary"]:
        ws.append([w[s["unit"]], *[s["now"].get(lv, 0) for lv in report["levels"]]])
    hot = wb.create_sheet(_sheet(w["hot"]))
    above = report["above"]
    three = above == "district"
    hot.append([w["level"], w["name"], *([w["district"]] if three else []), w["province"], w["change"], w["held"],
                w["cases"], w["why"], "code"])
    for h in report["hot"]:
        change = w["newly_red"] if h["newly_red"] else w.get(h["change"], h["change"])
        hot.append([spreadsheet_cell(v) for v in (report["labels"][h["level"]]["label"], h["name"],
                                                  *([h["district_name"]] if three else []), h["province_name"], change, h["unchanged_days"], h["community_cases"],
                                                  h["why"], h["code"])])
    rank = wb.create_sheet(_sheet(w["ranking" if above == "district" else "ranking_province"]))
    rank.append([w[above], *([w["province"]] if above == "district" else []), w["level"], *[report["labels"][lv]["label"] for lv in report["levels"]]])
    for r in report["ranking"]:
        rank.append([spreadsheet_cell(v) for v in (r["district"], *([r["province"]] if above == "district" else []),
                                                   report["labels"][r["level"]]["label"] if r["level"] in report["labels"] else "",
                                                   *[r["counts"][lv] for lv in report["levels"]])])
    sheets = {w["change"]: report["rows"][report["rows"]["change"] != "same"]}
    for title, df in sheets.items():
        sh = wb.create_sheet(_sheet(title))
        sh.append(list(df.columns))
        for row in df.itertuples(index=False):
            sh.append([spreadsheet_cell(None if (isinstance(v, float) and np.isnan(v)) else v) for v in row])
    sh = wb.create_sheet(_sheet(w["lockdowns"]))
    sh.append(["", w["decision"], w["name"], w["from"], w["until"]])
    for kind in ("started", "ending", "lifted"):
        for lk in report["lockdowns"][kind]:
            sh.append([spreadsheet_cell(x) for x in (w[kind], lk["decision_no"], lk["name"], lk["start_date"], lk["end_date"])])
    sh = wb.create_sheet(_sheet(w["declared_head"]))
    sh.append([w["unit"], w["name"], w["computed"], w["declared"]])
    for d in report["declared"]:
        sh.append([spreadsheet_cell(x) for x in (w[d["unit"]], d["name"], report["labels"][d["computed"]]["label"],
                                                 report["labels"][d["declared"]]["label"])])
    sh = wb.create_sheet(_sheet(w["measures_head"]))
    for g in report["measures"]:
        for u in g["units"]:
            sh.append([spreadsheet_cell(x) for x in (g["parent"], u["code"], u["text"])])
    sh = wb.create_sheet(_sheet(w["warnings"]))
    for text in report["warnings"] or [w["w_none"]]:
        sh.append([spreadsheet_cell(text)])
    wb.save(path)


FORMATS = {"html": "text/html", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def render(store: Store, runs_dir: Path, cache_dir: Path, day: dt.date, fmt: str, lang: str, rulesets: dict) -> Path:
    """The report file, made once per (run, previous run, declarations in force, language, format): runs never
    change, so neither does their report; a later run of either day, or a new declaration, gives a new one."""
    run = changes.run_or_404(store, day)
    before = changes.previous_run(store, day)
    # what else it shows: the levels declared now (data beside the runs) and this code's way of writing it
    now = declared_levels.in_force(store, run["boundary_version"], run["date"])
    said = hashlib.sha1((FORM + now.reset_index().to_json(orient="records")).encode()).hexdigest()[:10]
    target = cache_dir / "reports" / f"{run['run_id']}--{before['run_id'] if before else 'none'}--{said}.{lang}.{fmt}"
    if target.exists():
        return target
    report = build(store, runs_dir, cache_dir, day, lang, rulesets)

    def write(tmp: Path) -> None:
        if fmt == "xlsx":
            xlsx(report, tmp)
        elif fmt == "pdf":
            printing.pdf(html(report), tmp)
        else:
            tmp.write_text(html(report), encoding="utf-8")
    return faults.keep(target, write)
