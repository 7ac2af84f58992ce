"""Many days at once: the levels of every unit for a range of dates, vectorised over units and days.

The cases are loaded and assigned once; daily counts per commune become a units x days matrix whose
cumulative sums give every window at once; one engine call classifies all unit-days (adjacency
applies within each day); hysteresis then walks the days in order. The result equals running the
single-day evaluation for each date (tested), in a fraction of the time (benchmarks/).
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from rules import engine
from rules.levels import SCALE
from . import frames, hysteresis, indicators, metrics
from .assign import Assigner
from .config import Settings
from .lockdowns import flags_on
from .store import Store

FLAGS = ("community_f1", "illegal_entry_risk", "large_quarantine_site")


@dataclass
class Levels:
    """Level codes (rank on the scale, -1 unknown) per unit and day, for one kind of unit."""
    codes: np.ndarray          # unit codes, shape (n,)
    levels: np.ndarray         # shape (n, days)


@dataclass
class RangeResult:
    days: list[dt.date]
    ruleset_id: str
    computed: Levels           # communes, the day's evaluation
    commune: Levels            # communes, after hysteresis
    district: Levels
    province: Levels
    detail: dict | None = None  # what the day's published tables are built from (see day())


def day(res: RangeResult, k: int) -> tuple[frames.CommuneDay, frames.ParentDay, frames.ParentDay]:
    """The arrays of day k, as the single-day evaluation makes them (for frames.build)."""
    det, t = res.detail, len(res.days)

    def column(env: dict, n: int) -> dict:
        return {name: np.asarray(v).reshape(n, t)[:, k] for name, v in env.items()}

    n = len(res.commune.codes)
    rows = np.arange(n) * t + k
    c = frames.CommuneDay(column(det["env"], n), res.computed.levels[:, k],
                          engine.reasons_at(det["section"], det["cls"], rows), det["decided"][:, k],
                          res.commune.levels[:, k], det["state"][:, k], det["previous"][:, k], det["clean"][:, k])
    parents = []
    for unit in ("district", "province"):
        m = len(getattr(res, unit).codes)
        rows = np.arange(m) * t + k
        cls, env = det[unit]
        parents.append(frames.ParentDay(column(env, m), cls.codes[rows], engine.reasons_at(det["rollup"], cls, rows)))
    return c, parents[0], parents[1]


def _rolling(daily: np.ndarray, width: int, offset: int, days: int) -> np.ndarray:
    """Sums over [j - width + 1, j] for j = offset .. offset + days - 1 (columns of `daily`)."""
    c = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    j = np.arange(offset, offset + days)
    return c[:, j + 1] - c[:, j + 1 - width]


def _daily(unit: np.ndarray, day: np.ndarray, weight: np.ndarray, n: int, width: int) -> np.ndarray:
    return np.bincount(unit * width + day, weights=weight, minlength=n * width).reshape(n, width)


def _lockdowns(store: Store, geoms: np.ndarray, tree, days: list[dt.date]) -> np.ndarray:
    with store.connect(readonly=True) as con:
        rows = pd.read_sql_query("SELECT start_date, end_date, lifted_date, geom FROM lockdowns WHERE start_date <= ?",
                                 con, params=(days[-1].isoformat(),))
    out = np.zeros((len(geoms), len(days)), dtype=bool)
    if rows.empty:
        return out
    lk = shapely.from_wkb(rows["geom"].to_numpy())
    li, ui = tree.query(lk, predicate="intersects")
    inner = shapely.relate_pattern(geoms[ui], lk[li], "T********")
    li, ui = li[inner], ui[inner]
    iso = np.array([d.isoformat() for d in days])
    start, end, lifted = (rows[c].fillna("9999-12-31").to_numpy() for c in ("start_date", "end_date", "lifted_date"))
    active = (start[:, None] <= iso[None, :]) & (end[:, None] >= iso[None, :]) & (lifted[:, None] > iso[None, :])
    np.logical_or.at(out, ui, active[li])
    return out


def _clean_days(daily: np.ndarray, offset: int, days: int, cap: int) -> np.ndarray:
    """Days since the last case for each unit and day (capped at `cap`)."""
    pos = np.where(daily > 0, np.arange(daily.shape[1])[None, :], -10 ** 6)
    last = np.maximum.accumulate(pos, axis=1)[:, offset:offset + days]
    return np.minimum(np.arange(offset, offset + days)[None, :] - last, cap).astype(float)


def commune_env(store: Store, communes, days: list[dt.date], rset: dict, assigner, nb_codes) -> tuple[dict, np.ndarray]:
    """Inputs of the commune rules for every unit and day, flattened unit-major; and clean days."""
    n, t = len(communes), len(days)
    span = metrics.lookback_days(rset)
    first = days[0] - dt.timedelta(days=span - 1)
    width, offset = (days[-1] - first).days + 1, span - 1
    col = rset["date_column"]
    with store.connect(readonly=True) as con:
        cases = pd.read_sql_query(
            f"SELECT {col} AS day, count, source_known, source_setting, cluster_id, lon, lat, commune_code, located_by "
            f"FROM cases WHERE {col} BETWEEN ? AND ? AND community = 1", con,
            params=(first.isoformat(), days[-1].isoformat()))
        cases = metrics.relocate(con, cases)
    idx = metrics.commune_index(cases, nb_codes, assigner)
    ok = idx >= 0
    unit, day = idx[ok], (pd.to_datetime(cases["day"].to_numpy()[ok]) - pd.Timestamp(first)).days.to_numpy()
    count = cases["count"].to_numpy(float)[ok]
    known = cases["source_known"].to_numpy()[ok]
    hard = cases["source_setting"].isin(list(rset["hard_to_trace_settings"])).to_numpy()[ok]
    every = _daily(unit, day, count, n, width)
    window = rset["window_days"]
    pop = communes["population"].to_numpy(float)
    env = {
        "population": np.broadcast_to(np.where(pop > 0, pop, np.nan)[:, None], (n, t)),
        "community_cases": _rolling(every, window, offset, t),
        "known_source_community_cases": _rolling(_daily(unit[known == 1], day[known == 1], count[known == 1], n, width), window, offset, t),
        "unknown_source_community_cases": _rolling(_daily(unit[known == 0], day[known == 0], count[known == 0], n, width), window, offset, t),
        "hard_to_trace_setting_cases": _rolling(_daily(unit[hard], day[hard], count[hard], n, width), window, offset, t),
        "community_cases_7d": _rolling(every, rset["rate_window_days"], offset, t),
        "largest_unknown_source_cluster": np.zeros((n, t)),
    }
    env["community_cases_per_100k_7d"] = metrics.per_100k(env["community_cases_7d"], env["population"])
    clustered = (known == 0) & cases["cluster_id"].notna().to_numpy()[ok]
    if clustered.any():
        keys, uniq = pd.factorize(pd.Series(list(zip(unit[clustered], cases["cluster_id"].to_numpy()[ok][clustered]))))
        per_key = _rolling(_daily(keys, day[clustered], count[clustered], len(uniq), width), window, offset, t)
        np.maximum.at(env["largest_unknown_source_cluster"], np.array([u for u, _ in uniq]), per_key)
    pos = {c: i for i, c in enumerate(nb_codes)}
    for name in FLAGS:
        env[f"flag_{name}"] = np.zeros((n, t))
    ind = {name: np.full((n, t), np.nan) for name in indicators.INDICATORS}
    for k, d in enumerate(days):
        f = flags_on(store, d)
        for name in FLAGS:
            hit = [pos[c] for c in f.loc[f["flag"] == name, "code"] if c in pos] if len(f) else []
            env[f"flag_{name}"][hit, k] = 1.0
        for name, values in indicators.for_units(indicators.indicators_on(store, d), nb_codes).items():
            ind[name][:, k] = values
    env.update(ind)
    env["lockdown_active"] = _lockdowns(store, communes.geometry.to_numpy(), assigner.tree, days).astype(float)
    return {k: np.ascontiguousarray(v).reshape(-1) for k, v in env.items()}, _clean_days(every, offset, t, span)


def _parents(parent_of: np.ndarray, m: int, t: int, ruleset, child_codes_flat, child_env: dict, own_table_days):
    """Roll-up for every day at once: parent p on day k is row p * t + k."""
    flat_parent = (parent_of[:, None] * t + np.arange(t)[None, :]).reshape(-1)
    env = frames.parent_env(flat_parent, m * t, child_codes_flat, child_env, own_table_days)
    return engine.classify(ruleset.rollup, env, ruleset.settings, m * t, with_reasons=False), env


def evaluate_range(settings: Settings, days: list[dt.date], ruleset, progress=None, detail=False) -> RangeResult:
    """Levels for every unit and each of `days` (consecutive) under one ruleset; with `detail`,
    also what each day's published tables are built from (inputs, reasons, hysteresis state)."""
    step = progress or (lambda stage: None)
    store = Store(settings.db_path)
    from .pipeline import neighbour_matrix
    version, communes, districts, provinces = store.current_units()
    store.require_case_data()
    codes = communes["code"].astype(str).to_numpy()
    assigner = Assigner(communes.geometry.to_numpy(), codes)
    rset = ruleset.settings
    n, t = len(codes), len(days)
    step("load")
    env, clean = commune_env(store, communes, days, rset, assigner, codes)
    nb = neighbour_matrix(store, version, communes, rset)
    step("metrics")
    cls = engine.classify(ruleset.commune, env, rset, n * t, nb, days=t, with_reasons=False)
    computed = cls.codes.reshape(n, t)
    step("classify")
    final = np.empty_like(computed)
    decided_all, state_all, previous_all = np.empty_like(computed), np.empty((n, t), dtype=object), np.empty_like(computed)
    previous = hysteresis.previous_levels(store, settings.runs_dir, days[0], codes)
    notice = hysteresis.notice_days(rset)
    decided_hist = hysteresis.decided_before(store, settings.runs_dir, days[0], codes, notice)[::-1]
    for k in range(t):
        decided, state = hysteresis.apply(computed[:, k], previous, clean[:, k], rset)
        recent = decided_hist[len(decided_hist) - notice:] if notice else []
        final[:, k], noticed = hysteresis.with_notice(decided, recent)
        state[noticed] = hysteresis.NOTICE
        decided_all[:, k], state_all[:, k], previous_all[:, k] = decided, state, previous
        decided_hist.append(decided)
        previous = final[:, k]
    step("hysteresis")

    def own(table_codes):
        out = {name: np.full((len(table_codes), t), np.nan) for name in indicators.INDICATORS}
        for k, d in enumerate(days):
            for name, values in indicators.for_units(indicators.indicators_on(store, d), table_codes).items():
                out[name][:, k] = values
        return {name: v.reshape(-1) for name, v in out.items()}

    dcodes = districts["code"].astype(str).to_numpy()
    d_of = pd.Series(np.arange(len(dcodes)), index=dcodes).reindex(communes["district_code"].astype(str)).to_numpy()
    dcls, denv = _parents(d_of, len(dcodes), t, ruleset, final.reshape(-1), env, own(dcodes))
    pcodes = provinces["code"].astype(str).to_numpy()
    p_of = pd.Series(np.arange(len(pcodes)), index=pcodes).reindex(districts["province_code"].astype(str)).to_numpy()
    pcls, penv = _parents(p_of, len(pcodes), t, ruleset, dcls.codes, denv, own(pcodes))
    step("rollup")
    res = RangeResult(days, ruleset.id, Levels(codes, computed), Levels(codes, final),
                      Levels(dcodes, dcls.codes.reshape(-1, t)), Levels(pcodes, pcls.codes.reshape(-1, t)))
    if detail:
        res.detail = {"env": env, "cls": cls, "section": ruleset.commune, "rollup": ruleset.rollup,
                      "decided": decided_all, "state": state_all, "previous": previous_all, "clean": clean,
                      "district": (dcls, denv), "province": (pcls, penv), "neighbours": nb,
                      "units": frames.Units(version, communes, districts, provinces)}
    return res


def level_names(levels: np.ndarray) -> np.ndarray:
    names = np.array([lv.value for lv in SCALE] + ["unknown"], dtype=object)
    return names[np.where(levels < 0, len(SCALE), levels)]
