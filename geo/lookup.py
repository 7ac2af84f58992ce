"""Questions the map asks about one place, answered from published runs and the stored boundaries:
the commune at a point (the case assignment's tie-break), name search ignoring diacritics, and a
commune's last days (daily community cases and published level)."""
from __future__ import annotations

import datetime as dt
import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from unidecode import unidecode

from rules.levels import RANK
from . import runfiles
from .assign import Assigner
from .errors import NotFoundError
from .store import Store

UNIT_ORDER = ("province", "district", "commune")
# Search answers at most this many units (the page lists them; more is noise).
MAX_RESULTS = 20
# The unit chart covers this many days unless asked otherwise, and at most MAX_DAYS.
HISTORY_DAYS, MAX_DAYS = 60, 366
PROPS = ("code", "name", "district_code", "district_name", "province_code", "province_name", "level", "level_vi",
         "level_en", "color", "declared_level", "declared_decision", "level_differs", "explanation", "explanation_en",
         "reasons", "community_cases", "population", "lockdown", "outbreak_over", "clean_days", "date", "run_id")


@lru_cache(maxsize=4)
def _assigner(store_path: str, version: str) -> Assigner:
    units = Store(store_path).load_units(version, "commune")
    return Assigner(units.geometry.to_numpy(), units["code"].astype(str).to_numpy())


def at_point(store: Store, run_dir: Path, version: str, lon: float, lat: float) -> dict:
    """The commune at (lon, lat) in a run, its district and province levels, and the run's lockdowns there."""
    a = _assigner(str(store.path), version)
    i = int(a.assign([lon], [lat])[0])
    if i < 0:
        raise NotFoundError("outside_communes", lon=lon, lat=lat)
    props = runfiles.unit_properties(run_dir, "commune", a.codes[i])
    out = {k: props.get(k) for k in PROPS if k in props}
    for unit in ("district", "province"):
        parent = runfiles.unit_properties(run_dir, unit, str(props.get(f"{unit}_code")))
        out[unit] = {k: parent.get(k) for k in ("code", "name", "level", "level_vi", "level_en", "color")} if parent else None
    out["lockdowns"] = _lockdowns_at(run_dir, lon, lat)
    return out


def _lockdowns_at(run_dir: Path, lon: float, lat: float) -> list[dict]:
    path = run_dir / "lockdown.geojson"
    if not path.exists():
        return []
    pt = shapely.Point(lon, lat)
    keep = ("decision_no", "issuer", "name", "start_date", "end_date", "lifted_date")
    return [{k: f["properties"].get(k) for k in keep} for f in json.loads(path.read_text(encoding="utf-8"))["features"]
            if shapely.from_geojson(json.dumps(f["geometry"])).intersects(pt)]


def _key(text) -> str:
    return " ".join(unidecode(str(text or "")).lower().split())


@lru_cache(maxsize=4)
def _search_index(store_path: str, version: str) -> pd.DataFrame:
    store, frames = Store(store_path), []
    for unit in UNIT_ORDER:
        u = store.load_units(version, unit)
        b = shapely.bounds(u.geometry.to_numpy())
        frames.append(pd.DataFrame({
            "unit": unit, "code": u["code"].astype(str), "name": u["name"], "district_name": u["district_name"],
            "province_name": u["province_name"], "bbox": [list(map(float, r)) for r in b],
            "key": [_key(f"{n} {d if unit != 'province' else ''} {p if unit != 'province' else ''}")
                    for n, d, p in zip(u["name"], u["district_name"], u["province_name"])],
            "name_key": [_key(n) for n in u["name"]]}))
    return pd.concat(frames, ignore_index=True)


def search(store: Store, version: str, q: str) -> list[dict]:
    """Units whose name (with its district and province) contains every word of `q`, ignoring case
    and diacritics ("cam ranh" finds "Thành phố Cam Ranh"); exact names first, provinces before districts."""
    words = _key(q).split()
    if not words:
        return []
    idx = _search_index(str(store.path), version)
    hit = np.ones(len(idx), dtype=bool)
    for w in words:
        hit &= idx["key"].str.contains(w, regex=False).to_numpy()
    found = idx[hit].copy()
    qk = " ".join(words)
    found["rank"] = [0 if nk == qk or nk.endswith(" " + qk) else 1 if qk in nk else 2 for nk in found["name_key"]]
    found["unit_rank"] = found["unit"].map({u: i for i, u in enumerate(UNIT_ORDER)})
    found = found.sort_values(["rank", "unit_rank", "name_key"]).head(MAX_RESULTS)
    return json.loads(found.drop(columns=["key", "name_key", "rank", "unit_rank"]).to_json(orient="records",
                                                                                           force_ascii=False))


@lru_cache(maxsize=512)
def _levels_of_run(run_dir: str, unit: str) -> dict:
    t = runfiles.attributes(Path(run_dir), unit, ["code", "level"])
    return dict(zip(t["code"].astype(str), t["level"]))


def unit_history(store: Store, runs_dir: Path, unit: str, code: str, end: dt.date, days: int = HISTORY_DAYS) -> dict:
    """Daily community cases (communes; summed for parents) and the published level of each day.
    A commune is followed across boundary versions (geo/crosswalk.py): on a day published on other
    boundaries its level is the worst of the communes that covered it then (`codes_then` names them),
    and its cases are those of its predecessors and successors."""
    from . import crosswalk
    days = max(1, min(int(days), MAX_DAYS))
    start = end - dt.timedelta(days=days - 1)
    dates = [(start + dt.timedelta(days=k)).isoformat() for k in range(days)]
    runs = {r["date"]: r for r in store.published_runs() if start.isoformat() <= r["date"] <= end.isoformat()}
    graph = crosswalk.Graph(store) if unit == "commune" else None
    levels, codes_then = [], []
    for d in dates:
        if d not in runs:
            levels.append(None)
            codes_then.append(None)
            continue
        table = _levels_of_run(str(runs_dir / runs[d]["run_id"]), unit)
        then = graph.equivalents(code, runs[d]["boundary_version"]) if graph else [code]
        found = [table[c] for c in then if c in table]
        levels.append(max(found, key=lambda lv: RANK.get(lv, -1)) if found else None)
        codes_then.append(then)
    column = {"commune": "commune_code", "district": "district_code", "province": "province_code"}[unit]
    with store.connect(readonly=True) as con:
        version = store.current_boundary_version()
        if unit == "commune":
            codes = pd.Series(sorted(graph.lineage(code)))
            known = con.execute("SELECT 1 FROM units WHERE unit = 'commune' AND code IN (%s) LIMIT 1"
                                % ",".join("?" * len(codes)), tuple(codes)).fetchone()
            if known is None:
                raise NotFoundError("not_found", what=f"{unit} {code}")
        else:
            codes = pd.read_sql_query(f"SELECT code FROM units WHERE boundary_version = ? AND unit = 'commune' AND "
                                      f"{column} = ?", con, params=(version, code))["code"]
        marks = ",".join("?" * len(codes))
        cases = pd.read_sql_query(f"SELECT report_date AS day, SUM(count) AS n FROM cases WHERE community = 1 AND "
                                  f"commune_code IN ({marks}) AND report_date BETWEEN ? AND ? GROUP BY report_date",
                                  con, params=(*codes, start.isoformat(), end.isoformat()))
    per_day = dict(zip(cases["day"], cases["n"].astype(int)))
    out = {"unit": unit, "code": code, "dates": dates, "cases": [per_day.get(d, 0) for d in dates], "levels": levels}
    if graph is not None and any(c is not None and c != [code] for c in codes_then):
        out["codes_then"] = codes_then
        out["lineage"] = sorted(codes)
    return out
