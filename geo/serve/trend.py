"""Is red shrinking? Per published day: the communes and their population at each level, for the whole
area, each province and each district (or, since 1/7/2025, each province only); the share of the
population in green; per district the last day it had a red commune; the units red or orange the
longest. Read from the published runs (backfilled days too), each run's figures kept once in the
cache (runs never change). Drawn as a stacked chart (SVG, no script) for the map page and the report."""
from __future__ import annotations

import datetime as dt
import html
import io
import json
import textwrap
from pathlib import Path

import pandas as pd

from geo.base import faults, i18n
from geo.base.errors import InputError, NotFoundError, StorageError
from geo.base.params import parse_day
from geo.base.vocabulary import LEVEL_IDS as LEVELS
from geo.serve import hotspots
from geo.store import runfiles
from geo.store.database import Store

# The default span: the last 30 days, as the committee reads it.
DEFAULT_DAYS = 30
# The longest span one request may ask for (a year and a day of runs).
MAX_DAYS = 366
# Units listed as red or orange the longest.
LONGEST = 10
LONGEST_FIELDS = ("code", "name", "level", "unchanged_days", "district_name", "province_name")
ALL = "all"


def _figures(runs_dir: Path, cache_dir: Path, run: dict) -> dict:
    """{group code: {name, kind, units: {level: n}, population: {level: n}}} of one run (kept in the cache)."""
    target = Path(cache_dir) / run["run_id"] / "trend.json"
    if target.exists():
        return json.loads(target.read_text(encoding="utf-8"))
    df = runfiles.attributes(runs_dir / run["run_id"], "commune",
                             ["code", "level", "population", "district_code", "district_name", "province_code", "province_name"])
    df["population"] = pd.to_numeric(df["population"], errors="coerce").fillna(0)
    groups = [(ALL, None, None)] + [(kind, f"{kind}_code", f"{kind}_name") for kind in ("province", "district")
                                    if f"{kind}_code" in df and df[f"{kind}_code"].notna().any()]
    out: dict = {}
    for kind, code_col, name_col in groups:
        parts = [(ALL, ALL, df)] if code_col is None else \
            [(str(c), str(g[name_col].iloc[0]), g) for c, g in df.groupby(code_col, sort=True)]
        for code, name, g in parts:
            out[code] = {"name": name, "kind": kind, "province": str(g["province_code"].iloc[0]) if kind == "district" else None,
                         "units": {lv: int((g["level"] == lv).sum()) for lv in LEVELS},
                         "population": {lv: int(g.loc[g["level"] == lv, "population"].sum()) for lv in LEVELS}}
    try:
        faults.keep(target, lambda tmp: tmp.write_text(json.dumps(out, ensure_ascii=False), encoding="utf-8"))
    except StorageError:
        pass            # not kept: made again next time
    return out


def span(args: dict, latest: str | None) -> tuple[dt.date, dt.date]:
    """The asked days: `to` (default the latest published day) and `from` (default 30 days before), each a day the
    service knows (params.parse_day: 0001-01-01 is a 400, not a date 30 days before it that does not exist)."""
    to = args.get("to") or latest
    if not to:
        raise InputError("bad_param", name="from/to", value=f"{args.get('from')}/{args.get('to')}", allowed="YYYY-MM-DD")
    last = parse_day(to)
    first = parse_day(args["from"]) if args.get("from") else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last or (last - first).days >= MAX_DAYS:
        raise InputError("bad_param", name="from/to", value=f"{first}/{last}", allowed=f"from <= to, at most {MAX_DAYS} days")
    return first, last


def trend(store: Store, runs_dir: Path, cache_dir: Path, first: dt.date, last: dt.date, unit: str | None = None) -> dict:
    """The trend of `unit` (a province or district code; None: the whole area) over the published days in range,
    with every district's (or province's) last red day and share in green on the last day."""
    runs = [r for r in store.published_runs() if first.isoformat() <= r["date"] <= last.isoformat()]
    if not runs:
        raise NotFoundError("no_run_for_date", date=f"{first.isoformat()} – {last.isoformat()}", iso=last.isoformat())
    code = unit or ALL
    days: list[dict] = []
    parents: dict[str, dict] = {}
    for run in runs:
        fig = _figures(runs_dir, cache_dir, run)
        if code not in fig:
            raise NotFoundError("not_found", what=f"unit {code} on {run['date']}")
        g = fig[code]
        total = sum(g["population"].values())
        days.append({"date": run["date"], "run_id": run["run_id"], "units": g["units"], "population": g["population"],
                     "green_share": round(g["population"]["safe"] / total, 4) if total else None})
        below = "district" if any(v["kind"] == "district" for v in fig.values()) else "province"
        for pc, p in fig.items():
            if p["kind"] != below or (unit and not _inside(pc, code, fig)):
                continue
            row = parents.setdefault(pc, {"code": pc, "name": p["name"], "kind": below, "last_red": None})
            if p["units"]["very_high_risk"]:
                row["last_red"] = run["date"]
            total_p = sum(p["population"].values())
            row["green_share"] = round(p["population"]["safe"] / total_p, 4) if total_p else None
            row["red"], row["orange"] = p["units"]["very_high_risk"], p["units"]["high_risk"]
    end = dt.date.fromisoformat(runs[-1]["date"])
    hot = hotspots.hotspots(store, runs_dir, cache_dir, runs[-1])["units"]
    longest = sorted((h for h in hot if not unit or unit in (h.get("district_code"), h.get("province_code"))),
                     key=lambda h: (-h["unchanged_days"], h["name"]))[:LONGEST]
    for row in parents.values():
        row["days_since_red"] = (end - dt.date.fromisoformat(row["last_red"])).days if row["last_red"] else None
    return {"from": first.isoformat(), "to": last.isoformat(), "unit": unit, "name": fig[code]["name"] if unit else None,
            "ruleset": runs[-1]["manifest"]["ruleset"], "days": days,
            "longest": [{k: h.get(k) for k in LONGEST_FIELDS} for h in longest],
            "parents": sorted(parents.values(), key=lambda r: (r["days_since_red"] is None, r["days_since_red"] or 0, r["name"]))}


def _inside(child: str, parent: str, fig: dict) -> bool:
    """Whether district `child` lies in province `parent` (codes nest by their GSO prefix only through the
    commune table, so the run's own grouping is asked): a district is inside itself."""
    return child == parent or fig[child].get("province") == parent


def labels(ruleset, lang: str) -> dict:
    """Each level's label and colour under `ruleset` (None: the level ids, grey)."""
    return {lv: {"label": (ruleset.level(lv) if ruleset is not None else {lang: lv})[lang],
                 "color": ruleset.level(lv)["color"] if ruleset is not None else "#999"} for lv in LEVELS}


def csv_text(body: dict) -> str:
    """The trend as CSV: one row per day and level (units, population)."""
    rows = [{"date": d["date"], "unit": body["unit"] or ALL, "level": lv, "units": d["units"][lv],
             "population": d["population"][lv], "green_share": d["green_share"]} for d in body["days"] for lv in LEVELS]
    buf = io.StringIO()
    pd.DataFrame(rows).to_csv(buf, index=False)
    return buf.getvalue()


def svg(body: dict, labels: dict, title: str, width: int = 640, height: int = 180) -> str:
    """A stacked bar per day: the communes at each level, safe at the bottom, red on top; first and last day under it."""
    days = body["days"]
    n, pad, axis = len(days), 4, 16
    bw = (width - 2 * pad) / max(n, 1)
    bars = []
    for i, d in enumerate(days):
        total = sum(d["units"].values()) or 1
        y = height - axis
        for lv in LEVELS:
            h = (height - axis - 20) * d["units"][lv] / total
            if h > 0:
                bars.append(f'<rect x="{pad + i * bw:.1f}" y="{y - h:.1f}" width="{max(bw - 1, 1):.1f}" height="{h:.1f}" '
                            f'fill="{labels[lv]["color"]}" data-level="{lv}" data-date="{d["date"]}">'
                            f'<title>{d["date"]}: {html.escape(labels[lv]["label"])} {d["units"][lv]}</title></rect>')
                y -= h
    first, last = (days[0]["date"], days[-1]["date"]) if days else ("", "")
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="trend" viewBox="0 0 {width} {height}" width="100%" '
            f'role="img" aria-label="{html.escape(title)}" data-days="{n}">'
            f'<text x="{pad}" y="13" font-size="12" font-weight="700">{html.escape(title)}</text>{"".join(bars)}'
            f'<text x="{pad}" y="{height - 3}" font-size="10">{first[8:10]}/{first[5:7]}</text>'
            f'<text x="{width - pad}" y="{height - 3}" font-size="10" text-anchor="end">{last[8:10]}/{last[5:7]}</text></svg>')


# The levels the map's chart follows, each on the chart's own scale (a few red communes among hundreds stay visible).
HOT_LEVELS = ("very_high_risk", "high_risk")


def words(body: dict, labels: dict, lang: str) -> str:
    """The change over the span in words: "Khánh Hòa: đỏ 11 → 5, cam 38 → 30 trong 30 ngày — vùng đỏ thu hẹp"."""
    days = body["days"]
    if not days:
        return ""
    w = i18n.words("trend", lang)
    first, last = days[0]["units"], days[-1]["units"]
    red0, red1 = first["very_high_risk"], last["very_high_risk"]
    verdict = w["shrinking"] if red1 < red0 else w["growing"] if red1 > red0 else w["steady"]
    return w["change"].format(area=body["name"] or w["whole_area"], red0=red0, red1=red1,
                              orange0=first["high_risk"], orange1=last["high_risk"], n=len(days), verdict=verdict)


def hot_svg(body: dict, labels: dict, title: str, lang: str, width: int = 320) -> str:
    """Red and orange communes per day as two lines on their own scale, each with its first, last and highest
    value written, and the change in words under it (the map's question: is red shrinking?)."""
    days = body["days"]
    said = words(body, labels, lang)
    lines = textwrap.wrap(said, max(20, int(width / 6.3)))      # 11 px text: about 6 px a letter
    n, pad, top, axis, foot = len(days), 26, 20, 14, 14 * len(lines) + 4
    height = top + 90 + axis + foot
    peak = max([d["units"][lv] for d in days for lv in HOT_LEVELS] + [1])
    x = lambda i: pad + (width - 2 * pad) * (i / max(n - 1, 1))  # noqa: E731
    y = lambda v: top + 90 * (1 - v / peak)  # noqa: E731
    parts = [f'<line x1="{pad}" x2="{width - pad}" y1="{y(0):.1f}" y2="{y(0):.1f}" stroke="#888" stroke-width="1"/>']
    for lv in HOT_LEVELS:
        values = [d["units"][lv] for d in days]
        colour = labels[lv]["color"]
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(values))
        parts.append(f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2.5" data-level="{lv}"/>')
        for i, (d, v) in enumerate(zip(days, values, strict=True)):
            parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.2" fill="{colour}" data-level="{lv}" '
                         f'data-date="{d["date"]}" data-value="{v}"><title>{d["date"][8:10]}/{d["date"][5:7]}: '
                         f'{html.escape(labels[lv]["label"])} {v}</title></circle>')
        marked = {0, n - 1, max(range(n), key=lambda i: values[i])} if n else set()
        for i in sorted(marked):
            anchor = "end" if i == 0 else "start" if i == n - 1 else "middle"
            dx = -4 if i == 0 else 4 if i == n - 1 else 0
            parts.append(f'<text x="{x(i) + dx:.1f}" y="{y(values[i]) - 4:.1f}" font-size="11" font-weight="700" '
                         f'fill="#111" text-anchor="{anchor}" class="value" data-level="{lv}">{values[i]}</text>')
    first, last = (days[0]["date"], days[-1]["date"]) if days else ("", "")
    said_lines = "".join(f'<text x="4" y="{top + 90 + axis + 14 * (k + 1)}" font-size="11" class="words">{html.escape(t)}</text>'
                         for k, t in enumerate(lines))
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="trend-hot" viewBox="0 0 {width} {height}" width="100%" '
            'font-family="system-ui, DejaVu Sans, sans-serif" '
            f'role="img" aria-label="{html.escape(title)}: {html.escape(said)}" data-days="{n}" data-peak="{peak}">'
            f'<text x="4" y="13" font-size="12" font-weight="700">{html.escape(title)}</text>{"".join(parts)}'
            f'<text x="{pad}" y="{top + 90 + axis - 2}" font-size="10">{first[8:10]}/{first[5:7]}</text>'
            f'<text x="{width - pad}" y="{top + 90 + axis - 2}" font-size="10" text-anchor="end">{last[8:10]}/{last[5:7]}</text>'
            f'{said_lines}</svg>')
