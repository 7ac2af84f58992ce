"""Questions the map asks about one place, answered from published runs and the stored boundaries:
the commune at a point (the case assignment's tie-break), name search ignoring diacritics, and a
commune's last days (daily community cases and published level)."""
from __future__ import annotations

import datetime as dt
import json
import re
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd
import shapely
from unidecode import unidecode

from geo.base.errors import NotFoundError
from geo.domain import crosswalk
from geo.domain.assign import Assigner
from geo.store import boundaries, casestats, decisions, runfiles
from geo.store.database import Store
from rules.levels import RANK
from rules.measures import MEASURE_ID_SEPARATOR

UNIT_ORDER = ("province", "district", "commune")
# Search answers at most this many units (the page lists them; more is noise).
MAX_RESULTS = 20
# The unit chart covers this many days unless asked otherwise, and at most MAX_DAYS.
HISTORY_DAYS, MAX_DAYS = 60, 366


@lru_cache(maxsize=4)
def _assigner(store_path: str, version: str) -> Assigner:
    units = Store(store_path).load_units(version, "commune", texts=False)
    return Assigner(units.geometry.to_numpy(), units["code"].astype(str).to_numpy())


PARENT_PROPS = ("code", "name", "level", "level_vi", "level_en", "color", "explanation", "explanation_en",
                "declared_level", "level_differs")
LOCKDOWN_PROPS = ("decision_no", "issuer", "name", "start_date", "end_date", "lifted_date")


def at_point(store: Store, run_dir: Path, version: str, lon: float, lat: float, cache_dir: Path | None = None) -> dict:
    """The commune at (lon, lat) in a run, with its district and province and its lockdowns (panel())."""
    a = _assigner(str(store.path), version)
    i = int(a.assign([lon], [lat])[0])
    if i < 0:
        raise NotFoundError("outside_communes", lon=lon, lat=lat)
    return panel(store, run_dir, version, "commune", a.codes[i], cache_dir)


def panel(store: Store, run_dir: Path, version: str, unit: str, code: str, cache_dir: Path | None = None) -> dict:
    """What the map's panel shows of a unit in a run: its published properties, its district and
    province (level and reason), and for a commune the run's lockdowns inside it."""
    props = runfiles.unit_properties(run_dir, unit, code)
    if props is None:
        raise NotFoundError("not_found", what=f"{unit} {code}")
    out = dict(props)
    out["unit"] = unit
    out["measures_list"] = measures_of(runfiles.manifest(run_dir), props.get("measures"))
    kinds = runfiles.kinds(run_dir)
    for parent in [u for u in UNIT_ORDER[:UNIT_ORDER.index(unit)][::-1] if u in kinds]:
        found = runfiles.unit_properties(run_dir, parent, str(props.get(f"{parent}_code")))
        out[parent] = {k: found.get(k) for k in PARENT_PROPS} if found else None
    if unit == "commune":
        a = _assigner(str(store.path), version)
        where = np.flatnonzero(a.codes == code)
        out["lockdowns"] = _lockdowns_in(store, run_dir, cache_dir, a.geoms[where[0]]) if len(where) else []
    return out


def measures_of(manifest: dict, ids) -> list[dict]:
    """A unit's measure ids (comma-separated) with their texts from the run's linked table, in the unit's order."""
    table = {m["id"]: m for m in manifest.get("measures") or []}
    return [table[i] for i in str(ids or "").split(MEASURE_ID_SEPARATOR) if i in table]


def _lockdowns_in(store: Store, run_dir: Path, cache_dir: Path | None, geom) -> list[dict]:
    """The run's lockdowns whose interior overlaps the commune's (touching an edge does not count)."""
    path = runfiles.geojson_path(store, run_dir, "lockdown", cache_dir or run_dir.parent.parent / "cache")
    feats = json.loads(path.read_text(encoding="utf-8"))["features"]
    if not feats:
        return []
    geoms = shapely.from_geojson([json.dumps(f["geometry"]) for f in feats])
    inside = shapely.intersects(geoms, geom) & ~shapely.touches(geoms, geom)
    return [{k: f["properties"].get(k) for k in LOCKDOWN_PROPS} for f, hit in zip(feats, inside, strict=False) if hit]


def _key(text) -> str:
    return " ".join(unidecode(str(text or "")).lower().split())


# Administrative prefixes, stripped on the Vietnamese form (after transliteration "Tịnh Biên" would
# lose "tinh" as if it were "Tỉnh"), longest first.
_PREFIX = re.compile(r"^\s*(thành phố|thị trấn|thị xã|phường|quận|huyện|tỉnh|xã|tp\.?|tx\.?|tt\.?)(\s+|$)",
                     re.IGNORECASE)


def _core(name) -> str:
    """'Phường Vĩnh Hải' -> 'vinh hai' (the name without its administrative prefix)."""
    return _key(_PREFIX.sub("", str(name or ""), count=1))


@lru_cache(maxsize=4)
def _search_index(store_path: str, version: str) -> pd.DataFrame:
    store, frames = Store(store_path), []
    for unit in UNIT_ORDER:
        with store.connect(readonly=True) as con:
            u = boundaries.unit_bounds(con, version, unit)
        b = u[["minx", "miny", "maxx", "maxy"]].to_numpy()
        own = unit != "province"
        frames.append(pd.DataFrame({
            "unit": unit, "code": u["code"].astype(str), "i": np.arange(len(u)), "name": u["name"],
            "district_name": u["district_name"] if unit == "commune" else None,
            "province_name": u["province_name"] if own else None,
            "bbox": [[round(float(v), 6) for v in r] for r in b],
            "key": [_key(f"{n} {d if unit == 'commune' else ''} {p if own else ''}")
                    for n, d, p in zip(u["name"], u["district_name"], u["province_name"], strict=False)],
            "name_key": [_key(n) for n in u["name"]], "core": [_core(n) for n in u["name"]]}))
    return pd.concat(frames, ignore_index=True)


def search_index(store: Store, version: str) -> pd.DataFrame:
    """Every unit of a version: unit, code, i (position in the version's shapes index), name, bbox, …"""
    return _search_index(str(store.path), version)


def _rank(q: str, words: list[str], name_key: str, core: str) -> int:
    """0 the name itself, 1 a name that starts so, 2 every word in the name, 3 found through its district or province."""
    if q in (name_key, core):
        return 0
    if name_key.startswith(q) or core.startswith(q):
        return 1
    name_words = name_key.split()
    return 2 if all(any(n.startswith(w) for n in name_words) for w in words) else 3


def search(store: Store, version: str, q: str, levels: dict | None = None) -> list[dict]:
    """Units where each word of `q` begins a word of the unit's name, district or province, ignoring
    case, diacritics and the administrative prefix ("vinh hai" finds "Phường Vĩnh Hải" and not
    "Sơn Thái"). Exact names first, then names starting so, then the rest; provinces before districts
    before communes at equal rank. `levels`: {unit: {code: level}} of a run, added to each result."""
    words = _key(_PREFIX.sub("", q, count=1)).split() or _key(q).split()
    if not words:
        return []
    idx = _search_index(str(store.path), version)
    hit = np.ones(len(idx), dtype=bool)
    for w in words:
        hit &= idx["key"].str.contains(w, regex=False).to_numpy()
    found = idx[hit].copy()
    found = found[np.array([all(any(k.startswith(w) for k in key.split()) for w in words) for key in found["key"]],
                           dtype=bool)]
    qk = " ".join(words)
    found["rank"] = [_rank(qk, words, nk, c) for nk, c in zip(found["name_key"], found["core"], strict=False)]
    found["unit_rank"] = found["unit"].map({u: i for i, u in enumerate(UNIT_ORDER)})
    found = found.sort_values(["rank", "unit_rank", "name_key"]).head(MAX_RESULTS)
    out = json.loads(found.drop(columns=["key", "name_key", "core", "unit_rank"]).to_json(orient="records",
                                                                                      force_ascii=False))
    if levels is not None:
        for r in out:
            r["level"] = levels.get(r["unit"], {}).get(r["code"], "unknown")
    return out


def run_levels(runs_dir: Path, run_id: str) -> dict:
    """{unit: {code: level}} of a published run (remembered: runs never change)."""
    kinds = runfiles.kinds(runs_dir / run_id)
    return {u: _levels_of_run(str(runs_dir / run_id), u) if u in kinds else {} for u in UNIT_ORDER}


@lru_cache(maxsize=512)
def _levels_of_run(run_dir: str, unit: str) -> dict:
    t = runfiles.attributes(Path(run_dir), unit, ["code", "level"])
    return dict(zip(t["code"].astype(str), t["level"], strict=False))


def unit_history(store: Store, runs_dir: Path, unit: str, code: str, end: dt.date, days: int = HISTORY_DAYS) -> dict:
    """Daily community cases (communes; summed for parents) and the published level of each day.
    A commune is followed across boundary versions (geo/domain/crosswalk.py): on a day published on other
    boundaries its level is the worst of the communes that covered it then (`codes_then` names them),
    and its cases are those of its predecessors and successors."""
    days = max(1, min(int(days), MAX_DAYS))
    start = end - dt.timedelta(days=days - 1)
    dates = [(start + dt.timedelta(days=k)).isoformat() for k in range(days)]
    runs = {r["date"]: r for r in store.published_runs() if start.isoformat() <= r["date"] <= end.isoformat()}
    graph = crosswalk.Graph(store) if unit == "commune" else None
    current = store.current_boundary_version()
    own = current if graph is not None and code in graph.codes(current or "") else None   # the code as of today
    lineage = graph.lineage if graph else (lambda c: {c})
    levels: list[str | None] = []
    codes_then: list[list[str] | None] = []
    for d in dates:
        if d not in runs or unit not in runfiles.kinds_in(runs[d]["manifest"]):
            levels.append(None)
            codes_then.append(None)
            continue
        table = _levels_of_run(str(runs_dir / runs[d]["run_id"]), unit)
        then = graph.equivalents(code, runs[d]["boundary_version"], own) if graph else [code]
        found = [table[c] for c in then if c in table]
        levels.append(max(found, key=lambda lv: RANK.get(lv, -1)) if found else None)
        codes_then.append(then)
    with store.connect(readonly=True) as con:
        version = current
        if unit == "commune":
            codes = sorted(lineage(code))
            if not boundaries.any_commune(con, codes):
                raise NotFoundError("not_found", what=f"{unit} {code}")
        else:
            codes = boundaries.communes_of(con, version, unit, code)
        per_day = casestats.community_daily(con, codes, start.isoformat(), end.isoformat())
        decided = decisions.of_unit(con, code, version) if version else []
    out = {"unit": unit, "code": code, "dates": dates, "cases": [per_day.get(d, 0) for d in dates], "levels": levels,
           # the committee's decisions beside the computed levels: each decision's number, level and when it applies
           "decisions": decided}
    if graph is not None and any(c is not None and c != [code] for c in codes_then):
        out["codes_then"] = codes_then
        # a day published on other boundaries: this unit's level then is derived from its predecessors
        out["derived"] = [c is not None and c != [code] for c in codes_then]
        out["lineage"] = sorted(codes)
    return out
