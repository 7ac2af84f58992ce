"""The morning report: what changed since the previous published day, per district, with counts
per level, lockdowns started and ending, data-quality warnings and a small map; as an A4 HTML page
(no script, no outside request), an XLSX workbook, or a PDF printed from the HTML by Chromium."""
from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from jinja2 import Environment, FileSystemLoader, select_autoescape

from rules.levels import SCALE
from . import changes, runfiles
from .formats import spreadsheet_cell
from .config import TIMEZONE
from .errors import MissingInputError
from .store import Store

LEVELS = tuple(lv.value for lv in SCALE) + ("unknown",)
# Lockdowns whose end date falls within this many days are listed as ending.
ENDING_WITHIN_DAYS = 3
# No case data imported for this many days before the report date is a warning.
STALE_CASE_DAYS = 2
# Above this many communes the small map shows districts (a national map of communes is not "small").
MAP_MAX_COMMUNES = 2500
MAP_WIDTH = 700
TEMPLATES = Path(__file__).parent / "templates"

TEXT = {
    "vi": {"title": "Báo cáo phân vùng nguy cơ", "date": "Ngày", "previous": "So với ngày", "none": "không có",
           "ruleset": "Bộ quy tắc", "run": "Lần chạy", "boundaries": "Ranh giới", "summary": "Số đơn vị theo mức", "unit": "Cấp",
           "commune": "Xã/phường", "district": "Quận/huyện", "province": "Tỉnh/thành phố", "by_district": "Theo quận/huyện",
           "changes": "Thay đổi", "newly_red": "Mới vào vùng đỏ", "up": "Tăng mức", "down": "Giảm mức",
           "unassessed": "Chưa đánh giá được", "assessed": "Đánh giá lại được", "new": "Đơn vị mới",
           "held": "Giữ mức cao", "days": "ngày", "lockdowns": "Phong tỏa", "started": "Bắt đầu", "ending": "Sắp kết thúc",
           "lifted": "Đã dỡ bỏ", "decision": "Quyết định", "from": "Từ", "until": "Đến", "warnings": "Cảnh báo dữ liệu",
           "map": "Bản đồ", "name": "Tên", "level": "Mức", "before": "Trước", "after": "Sau", "why": "Lý do",
           "declared": "Cấp đã công bố", "generated": "Lập lúc", "no_changes": "Không có thay đổi",
           "w_unplaced": "{n} ca không nằm trong ranh giới xã nào", "w_unknown": "{n} xã chưa đánh giá được: {names}",
           "w_rejected": "Lần nhập {kind} ({path}) bị loại {n} dòng", "w_stale": "Không có dữ liệu ca bệnh mới từ {date}",
           "w_declared": "{n} đơn vị có cấp đã công bố khác cấp tính toán", "w_none": "Không có cảnh báo"},
    "en": {"title": "Risk zone report", "date": "Date", "previous": "Compared with", "none": "none",
           "ruleset": "Ruleset", "run": "Run", "boundaries": "Boundaries", "summary": "Units per level", "unit": "Unit",
           "commune": "Communes", "district": "Districts", "province": "Provinces", "by_district": "By district",
           "changes": "Changes", "newly_red": "Newly red", "up": "Up", "down": "Down",
           "unassessed": "Not assessed", "assessed": "Assessed again", "new": "New units",
           "held": "Held at a high level", "days": "days", "lockdowns": "Lockdowns", "started": "Started", "ending": "Ending",
           "lifted": "Lifted", "decision": "Decision", "from": "From", "until": "Until", "warnings": "Data-quality warnings",
           "map": "Map", "name": "Name", "level": "Level", "before": "Before", "after": "After", "why": "Why",
           "declared": "Declared level", "generated": "Generated", "no_changes": "No changes",
           "w_unplaced": "{n} cases lie in no commune", "w_unknown": "{n} communes not assessed: {names}",
           "w_rejected": "Import of {kind} ({path}) rejected {n} rows", "w_stale": "No new case data since {date}",
           "w_declared": "{n} units have a declared level other than the computed one", "w_none": "No warnings"},
}


def _lockdowns(store: Store, day: dt.date, since: dt.date | None) -> dict[str, list[dict]]:
    d, s = day.isoformat(), (since or day - dt.timedelta(days=1)).isoformat()
    soon = (day + dt.timedelta(days=ENDING_WITHIN_DAYS)).isoformat()
    with store.connect(readonly=True) as con:
        df = pd.read_sql_query("SELECT decision_no, issuer, name, start_date, end_date, lifted_date FROM lockdowns "
                               "ORDER BY start_date, decision_no", con)
    live = df["lifted_date"].isna() | (df["lifted_date"] > d)
    pick = {"started": (df["start_date"] > s) & (df["start_date"] <= d),
            "ending": live & (df["start_date"] <= d) & df["end_date"].notna() & (df["end_date"] >= d) & (df["end_date"] <= soon),
            "lifted": df["lifted_date"].notna() & (df["lifted_date"] > s) & (df["lifted_date"] <= d)}
    return {k: json.loads(df[m].to_json(orient="records", force_ascii=False)) for k, m in pick.items()}


def _warnings(store: Store, run: dict, before: dict | None, rows: pd.DataFrame, w: dict) -> list[str]:
    out, m = [], run["manifest"]
    if m.get("cases_not_in_boundaries"):
        out.append(w["w_unplaced"].format(n=m["cases_not_in_boundaries"]))
    unknown = rows[(rows["unit"] == "commune") & (rows["level_to"] == "unknown")]
    if len(unknown):
        names = ", ".join(unknown["name"].astype(str).head(15)) + (" …" if len(unknown) > 15 else "")
        out.append(w["w_unknown"].format(n=len(unknown), names=names))
    since = before["created_at"] if before else "0000"
    with store.connect(readonly=True) as con:
        for r in con.execute("SELECT kind, path, rejected FROM imports WHERE imported_at > ? AND rejected > 0 "
                             "ORDER BY imported_at", (since,)).fetchall():
            out.append(w["w_rejected"].format(kind=r["kind"], path=Path(r["path"] or "").name, n=r["rejected"]))
        last = con.execute("SELECT MAX(report_date) FROM cases WHERE report_date <= ?", (run["date"],)).fetchone()[0]
    if last is None or last < (dt.date.fromisoformat(run["date"]) - dt.timedelta(days=STALE_CASE_DAYS)).isoformat():
        out.append(w["w_stale"].format(date=last or "—"))
    differs = int(rows["level_differs"].fillna(False).astype(bool).sum())
    if differs:
        out.append(w["w_declared"].format(n=differs))
    return out


def _svg_paths(geoms: np.ndarray, bounds, scale: float) -> list[str]:
    """One SVG path per geometry (even-odd rings), in a viewBox of MAP_WIDTH px across."""
    minx, maxy = bounds[0], bounds[3]
    polys, owner = shapely.get_parts(geoms, return_index=True)
    rings, ring_poly = shapely.get_rings(polys, return_index=True)
    xy, ring_of = shapely.get_coordinates(rings, return_index=True)
    px = np.column_stack([(xy[:, 0] - minx) * scale, (maxy - xy[:, 1]) * scale]).round(1)
    cuts = np.flatnonzero(np.diff(ring_of)) + 1
    ring_text = ["M" + " ".join(f"{x:g},{y:g}" for x, y in seg) + "Z" for seg in np.split(px, cuts)]
    out = [""] * len(geoms)
    for text, unit in zip(ring_text, owner[ring_poly[np.unique(ring_of)]]):
        out[unit] += text
    return out


def small_map(store: Store, runs_dir: Path, run: dict) -> dict:
    """Units coloured by level plus lockdown outlines, as SVG path data (no script, prints as is)."""
    run_dir = runs_dir / run["run_id"]
    n_communes = sum(run["manifest"]["counts"]["commune"].values())
    unit = "commune" if n_communes <= MAP_MAX_COMMUNES else "district"
    table = runfiles.attributes(run_dir, unit, ["code", "level", "color"])
    units = store.load_units(run["manifest"]["boundary_version"], unit).set_index("code")
    geoms = units.geometry.reindex(table["code"]).to_numpy()
    bounds = shapely.total_bounds(geoms)
    lat = np.radians((bounds[1] + bounds[3]) / 2)
    scale = MAP_WIDTH / max((bounds[2] - bounds[0]) * np.cos(lat), 1e-9)
    # simplify to about a pixel: the map is small, the report must stay light
    geoms_px = shapely.simplify(geoms, 0.8 / scale, preserve_topology=True)
    squeezed = shapely.transform(geoms_px, lambda c: np.column_stack([c[:, 0] * np.cos(lat), c[:, 1]]))
    sb = [bounds[0] * np.cos(lat), bounds[1], bounds[2] * np.cos(lat), bounds[3]]
    paths = _svg_paths(squeezed, sb, scale)
    lk = runfiles.geojson_path(store, run_dir, "lockdown", runs_dir.parent / "cache")
    lk_geoms = np.array([shapely.from_geojson(json.dumps(f["geometry"]))
                         for f in json.loads(lk.read_text(encoding="utf-8"))["features"]], dtype=object)
    lk_paths = _svg_paths(shapely.transform(lk_geoms, lambda c: np.column_stack([c[:, 0] * np.cos(lat), c[:, 1]])),
                          sb, scale) if len(lk_geoms) else []
    height = round((bounds[3] - bounds[1]) * scale, 1)
    return {"unit": unit, "width": MAP_WIDTH, "height": height, "lockdowns": lk_paths,
            "units": [{"d": d, "color": c, "title": f"{code}: {lv}"}
                      for d, c, code, lv in zip(paths, table["color"], table["code"], table["level"])]}


def build(store: Store, runs_dir: Path, day: dt.date, lang: str, rulesets: dict) -> dict:
    rows, run, before = changes.changes(store, runs_dir, day)
    w = TEXT[lang]
    labels = {}
    rs = rulesets.get(run["manifest"]["ruleset"])
    for lv in LEVELS:
        spec = rs.level(lv) if rs is not None else {"vi": lv, "en": lv, "color": "#999"}
        labels[lv] = {"label": spec[lang], "color": spec["color"]}
    communes = rows[rows["unit"] == "commune"]
    districts = []
    for (pname, dname), grp in communes.groupby(["province_name", "district_name"], sort=True, dropna=False):
        moved = grp[grp["change"] != "same"]
        held = grp[(grp["change"] == "same") & grp["level_to"].isin(["very_high_risk", "high_risk"])]
        districts.append({"province": pname, "district": dname,
                          "counts": {lv: int((grp["level_to"] == lv).sum()) for lv in LEVELS},
                          "changes": json.loads(moved.sort_values(["newly_red", "change"], ascending=False)
                                                .to_json(orient="records", force_ascii=False)),
                          "held": json.loads(held.to_json(orient="records", force_ascii=False))})
    now = run["manifest"]["counts"]
    prev = before["manifest"]["counts"] if before else {}
    return {
        "lang": lang, "w": w, "labels": labels, "levels": LEVELS, "run": run, "before": before,
        "date": run["date"], "ruleset": run["manifest"]["ruleset"],
        "summary": [{"unit": u, "now": now[u], "prev": prev.get(u, {})} for u in changes.UNITS],
        "kinds": {k: int(((rows["change"] == k) & (rows["unit"] == "commune")).sum())
                  for k in ("up", "down", "unassessed", "assessed", "new")},
        "newly_red": int(communes["newly_red"].sum()),
        "districts": districts, "lockdowns": _lockdowns(store, day, dt.date.fromisoformat(before["date"]) if before else None),
        "warnings": _warnings(store, run, before, rows, w), "rows": rows,
        "generated": dt.datetime.now(TIMEZONE).strftime("%Y-%m-%d %H:%M (%Z)"),
    }


def html(report: dict, store: Store, runs_dir: Path) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("report.html").render(**report, map=small_map(store, runs_dir, report["run"]))


def xlsx(report: dict, path: Path) -> None:
    from openpyxl import Workbook
    w = report["w"]
    wb = Workbook()
    ws = wb.active
    ws.title = w["summary"][:31]
    ws.append([w["date"], report["date"], w["ruleset"], report["ruleset"], w["previous"],
               report["before"]["date"] if report["before"] else w["none"], w["boundaries"], report["run"]["boundary_version"]])
    ws.append([w["unit"], *[report["labels"][lv]["label"] for lv in report["levels"]]])
    for s in report["summary"]:
        ws.append([w[s["unit"]], *[s["now"].get(lv, 0) for lv in report["levels"]]])
    sheets = {w["changes"]: report["rows"][report["rows"]["change"] != "same"],
              w["held"]: report["rows"][(report["rows"]["change"] == "same")
                                        & report["rows"]["level_to"].isin(["very_high_risk", "high_risk"])]}
    for title, df in sheets.items():
        sh = wb.create_sheet(title[:31])
        sh.append(list(df.columns))
        for row in df.itertuples(index=False):
            sh.append([spreadsheet_cell(None if (isinstance(v, float) and np.isnan(v)) else v) for v in row])
    sh = wb.create_sheet(w["lockdowns"][:31])
    sh.append(["", w["decision"], w["name"], w["from"], w["until"]])
    for kind in ("started", "ending", "lifted"):
        for lk in report["lockdowns"][kind]:
            sh.append([spreadsheet_cell(x) for x in (w[kind], lk["decision_no"], lk["name"], lk["start_date"], lk["end_date"])])
    sh = wb.create_sheet(w["warnings"][:31])
    for text in report["warnings"] or [w["w_none"]]:
        sh.append([spreadsheet_cell(text)])
    wb.save(path)


def pdf(html_text: str, path: Path) -> None:
    """Print the HTML report to PDF with Chromium (Debian package), offline."""
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise MissingInputError("no_chromium")
    with tempfile.TemporaryDirectory() as tmp:
        page = Path(tmp) / "report.html"
        page.write_text(html_text, encoding="utf-8")
        cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer",
               f"--user-data-dir={tmp}/profile", "--host-resolver-rules=MAP * ~NOTFOUND",
               f"--print-to-pdf={Path(path).resolve()}", page.as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if done.returncode != 0 or not Path(path).exists():
            raise MissingInputError("pdf_failed", detail=(done.stderr or "")[-400:])


FORMATS = {"html": "text/html", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}


def render(store: Store, runs_dir: Path, cache_dir: Path, day: dt.date, fmt: str, lang: str, rulesets: dict) -> Path:
    """The report file, made once per (run, previous run, language, format): runs never change, so
    neither does their report; a later run of either day gives a new one."""
    run = changes.run_or_404(store, day)
    before = changes.previous_run(store, day)
    target = cache_dir / "reports" / f"{run['run_id']}--{before['run_id'] if before else 'none'}.{lang}.{fmt}"
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    report = build(store, runs_dir, day, lang, rulesets)
    tmp = target.with_name(f".{target.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")   # unique per thread
    if fmt == "xlsx":
        xlsx(report, tmp)
    elif fmt == "pdf":
        pdf(html(report, store, runs_dir), tmp)
    else:
        tmp.write_text(html(report, store, runs_dir), encoding="utf-8")
    tmp.replace(target)
    return target
