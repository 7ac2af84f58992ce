"""The evaluation: inputs -> metrics -> rules -> roll-up -> hysteresis -> explanations' arrays, for
every unit and each of a run of consecutive days at once. A single day is a run of one day: the
daily reclassify, a backfill of a year and a what-if all come here (there is no other path).

Cases are assigned once; daily counts per commune become a units x days matrix whose cumulative
sums give every window at once; one engine call classifies all unit-days (adjacency applies within
each day); hysteresis then walks the days in order. Everything read comes from geo/evaluate/inputs.py.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import shapely

from geo.base.columns import FLAG_NAMES
from geo.base.config import Settings
from geo.domain import indicators
from geo.domain.assign import Assigner
from geo.evaluate import frames, hysteresis, metrics
from geo.evaluate.inputs import Inputs, gather
from geo.store.database import Store
from rules import engine
from rules.engine import Classification
from rules.levels import SCALE
from rules.model import Ruleset


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
    parents: dict[str, Levels]  # each parent kind the boundary version has (district, province)
    unplaced: list[int]        # per day: community cases of its window that fall in no commune of the boundaries
    detail: dict | None = None  # what the day's published tables are built from (see day())

    def of(self, unit: str) -> Levels:
        """The published levels of one kind of unit (communes after hysteresis)."""
        return self.commune if unit == "commune" else self.parents[unit]


def day(res: RangeResult, k: int) -> tuple[frames.CommuneDay, dict[str, frames.ParentDay]]:
    """The arrays of day k, as the single-day evaluation makes them (for frames.build)."""
    det, t = res.detail, len(res.days)
    if det is None:
        raise ValueError("day() needs the evaluation made with detail=True")

    def column(env: dict, n: int) -> dict:
        return {name: np.asarray(v).reshape(n, t)[:, k] for name, v in env.items()}

    n = len(res.commune.codes)
    rows = np.arange(n) * t + k
    c = frames.CommuneDay(column(det["env"], n), res.computed.levels[:, k],
                          engine.reasons_at(det["section"], det["cls"], rows), det["decided"][:, k],
                          res.commune.levels[:, k], det["state"][:, k], det["previous"][:, k], det["clean"][:, k],
                          det["published_on"][k])
    parents = {}
    for unit, lv in res.parents.items():
        m = len(lv.codes)
        rows = np.arange(m) * t + k
        cls, env = det[unit]
        reasons = engine.reasons_at(det["rollup"], cls, rows)
        state = det["parent_states"].get(unit)
        if state is not None:
            reasons = [[s] if s else r for s, r in zip(state[:, k], reasons, strict=True)]
        parents[unit] = frames.ParentDay(column(env, m), cls.codes[rows], reasons, det["children"][unit],
                                         None if state is None else state[:, k],
                                         cls.codes[rows] if cls.computed is None else cls.computed[rows],
                                         det["published_on"][k])
    return c, parents


def _rolling(daily: np.ndarray, width: int, offset: int, days: int) -> np.ndarray:
    """Sums over [j - width + 1, j] for j = offset .. offset + days - 1 (columns of `daily`)."""
    c = np.concatenate([np.zeros((daily.shape[0], 1)), np.cumsum(daily, axis=1)], axis=1)
    j = np.arange(offset, offset + days)
    return c[:, j + 1] - c[:, j + 1 - width]


def _daily(unit: np.ndarray, day: np.ndarray, weight: np.ndarray, n: int, width: int) -> np.ndarray:
    return np.bincount(unit * width + day, weights=weight, minlength=n * width).reshape(n, width)


def _lockdowns(inputs: Inputs, geoms: np.ndarray, tree: shapely.STRtree) -> np.ndarray:
    """(units, days): the unit's interior meets an active lockdown's interior (touching is not enough)."""
    rows, days = inputs.lockdowns, inputs.days
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


def commune_env(inputs: Inputs, rset: dict, assigner: Assigner) -> tuple[dict, np.ndarray, list[int]]:
    """Inputs of the commune rules for every unit and day, flattened unit-major; clean days; and, per day,
    the community cases of its window that fall in no commune."""
    communes, days, codes = inputs.units.communes, inputs.days, assigner.codes
    n, t = len(communes), len(days)
    span = metrics.lookback_days(rset)
    width, offset = (days[-1] - inputs.first).days + 1, span - 1
    cases = inputs.cases
    idx = metrics.commune_index(cases, codes, assigner, inputs.units.version)
    ok = idx >= 0
    community = cases["community"].to_numpy(float) == 1 if "community" in cases else np.ones(len(cases), dtype=bool)
    every_day = (pd.to_datetime(cases["day"].to_numpy()) - pd.Timestamp(inputs.first)).days.to_numpy()
    lost = ~ok & community
    unplaced = _rolling(_daily(np.zeros(int(lost.sum()), dtype=np.int64), every_day[lost], cases["count"].to_numpy(float)[lost],
                               1, width), span, offset, t)[0].astype(int).tolist()
    unit, day = idx[ok], every_day[ok]
    count = cases["count"].to_numpy(float)[ok]
    every_case = _daily(unit, day, count, n, width)          # community or not (read when a weekly rate counts all)
    comm = community[ok]
    unit, day, count = unit[comm], day[comm], count[comm]
    known = cases["source_known"].to_numpy()[ok][comm]
    hard = cases["source_setting"].isin(list(rset["hard_to_trace_settings"])).to_numpy()[ok][comm]
    every = _daily(unit, day, count, n, width)
    window = rset["window_days"]
    pop = communes["population"].to_numpy(float)
    week_days, per_week = metrics.rate_window(rset)
    env = {
        "population": np.broadcast_to(np.where(pop > 0, pop, np.nan)[:, None], (n, t)),
        "community_cases": _rolling(every, window, offset, t),
        "known_source_community_cases": _rolling(_daily(unit[known == 1], day[known == 1], count[known == 1], n, width), window, offset, t),
        "unknown_source_community_cases": _rolling(_daily(unit[known == 0], day[known == 0], count[known == 0], n, width), window, offset, t),
        "hard_to_trace_setting_cases": _rolling(_daily(unit[hard], day[hard], count[hard], n, width), window, offset, t),
        "community_cases_7d": _rolling(every, rset["rate_window_days"], offset, t),
        "cases_week": _rolling(every_case if rset.get("rate_cases") == "all" else every, week_days, offset, t) * per_week,
        "largest_unknown_source_cluster": np.zeros((n, t)),
    }
    env["community_cases_per_100k_7d"] = metrics.per_100k(env["community_cases_7d"], env["population"])
    env["cases_per_100k_week"] = metrics.per_100k(env["cases_week"], env["population"])
    clustered = (known == 0) & cases["cluster_id"].notna().to_numpy()[ok][comm]
    if clustered.any():
        keys, uniq = pd.factorize(pd.Series(list(zip(unit[clustered], cases["cluster_id"].to_numpy()[ok][comm][clustered], strict=False))))
        per_key = _rolling(_daily(keys, day[clustered], count[clustered], len(uniq), width), window, offset, t)
        np.maximum.at(env["largest_unknown_source_cluster"], np.array([u for u, _ in uniq]), per_key)
    pos = {c: i for i, c in enumerate(codes)}
    for name in FLAG_NAMES:
        env[f"flag_{name}"] = np.zeros((n, t))
    for k in range(t if len(inputs.flags) else 0):
        f = inputs.flags_on(k)
        for name in FLAG_NAMES:
            hit = [pos[c] for c in f.loc[f["flag"] == name, "code"] if c in pos] if len(f) else []
            env[f"flag_{name}"][hit, k] = 1.0
    grid = inputs.indicator_grid(codes)
    for name in grid:          # a reported figure replaces the computed one where there is one
        env[name] = np.where(np.isnan(grid[name]), env[name], grid[name]) if name in indicators.REPORTED else grid[name]
    env["cases_per_100k_week"] = metrics.reported_week(env["cases_per_100k_week"], grid)
    env["lockdown_active"] = _lockdowns(inputs, communes.geometry.to_numpy(), assigner.tree).astype(float)
    flat = {k: np.ascontiguousarray(v).reshape(-1) for k, v in env.items()}
    metrics.older_group(flat, rset, days)
    return flat, _clean_days(every, offset, t, span), unplaced


def _parents(parent_of: np.ndarray, m: int, days: list[dt.date], ruleset: Ruleset, child_codes_flat: np.ndarray,
             child_env: dict, own_table_days: dict) -> tuple[Classification, dict]:
    """Roll-up for every day at once: parent p on day k is row p * t + k."""
    t = len(days)
    flat_parent = (parent_of[:, None] * t + np.arange(t)[None, :]).reshape(-1)
    env = frames.parent_env(flat_parent, m * t, child_codes_flat, child_env, own_table_days)
    metrics.older_group(env, ruleset.settings, days)
    assert ruleset.rollup is not None      # parents are evaluated only when the ruleset rolls up
    return engine.classify(ruleset.rollup, env, ruleset.settings, m * t, with_reasons=False), env


def _hold_parents(pcls: Classification, penv: dict, inputs: Inputs, unit: str, days: list[dt.date], rset: dict) -> np.ndarray:
    """A district's or province's levels day by day after the capacity hold and weekly publication, as a
    commune's (in place in `pcls.codes`; `pcls.computed` keeps the day's evaluation); -> the state per parent
    and day ('', CAPACITY or WEEKLY)."""
    t = len(days)
    m = len(pcls.codes) // t
    computed = pcls.codes.copy()
    codes = pcls.codes.reshape(m, t)
    capacity = np.asarray(penv["treatment_capacity_met"], float).reshape(m, t)
    states = np.empty((m, t), dtype=object)
    previous = (inputs.previous_parents or {}).get(unit, np.full(m, -1, dtype=np.int8))
    weekly = dict(inputs.published_before[unit]) if inputs.published_before is not None else None
    only = {"capacity_not_met_holds": bool(rset.get("capacity_not_met_holds"))}   # no clean-day count for parents
    for k in range(t):
        held, states[:, k] = hysteresis.apply(codes[:, k].copy(), previous, np.zeros(m), only, capacity[:, k])
        if weekly is not None:
            final, _ = hysteresis.in_force_weekly(computed.reshape(m, t)[:, k], days[k], weekly, rset)
            states[:, k] = np.where(final != held, hysteresis.WEEKLY, states[:, k])
            held = final
        codes[:, k] = held
        previous = held
    pcls.computed = computed
    pcls.codes = codes.reshape(-1)
    return states


def evaluate_range(settings: Settings, days: list[dt.date], ruleset: Ruleset, progress: Callable[[str], object] | None = None,
                   detail: bool = False, texts: bool = True) -> RangeResult:
    """Levels for every unit and each of `days` (consecutive) under one ruleset, inputs read from the store
    (`texts`: the units' GeoJSON texts too, which only a full run's files need)."""
    step = progress or (lambda stage: None)
    inputs = gather(settings, Store(settings.db_path), days, ruleset, texts=texts)
    step("load")
    return evaluate(inputs, ruleset, progress, detail)


def evaluate(inputs: Inputs, ruleset: Ruleset, progress: Callable[[str], object] | None = None, detail: bool = False) -> RangeResult:
    """Levels for every unit and each of the inputs' days; with `detail`, also what each day's
    published tables are built from (inputs, reasons, hysteresis state)."""
    step = progress or (lambda stage: None)
    units, days = inputs.units, inputs.days
    communes = units.communes
    codes = communes["code"].astype(str).to_numpy()
    assigner = Assigner(communes.geometry.to_numpy(), codes)
    rset = ruleset.settings
    n, t = len(codes), len(days)
    env, clean, unplaced = commune_env(inputs, rset, assigner)
    nb = inputs.neighbours
    step("metrics")
    cls = engine.classify(ruleset.commune, env, rset, n * t, nb, days=t, with_reasons=False)
    computed = cls.codes.reshape(n, t)
    step("classify")
    final = np.empty_like(computed)
    decided_all, state_all, previous_all = np.empty_like(computed), np.empty((n, t), dtype=object), np.empty_like(computed)
    previous = inputs.previous
    notice = hysteresis.notice_days(rset)
    decided_hist = list(inputs.decided_before)
    capacity = env["treatment_capacity_met"].reshape(n, t)
    weekly = dict(inputs.published_before["commune"]) if inputs.published_before is not None else None
    since = np.empty(t, dtype=object)
    for k in range(t):
        decided, state = hysteresis.apply(computed[:, k], previous, clean[:, k], rset, capacity[:, k])
        if weekly is not None:          # the level in force is the one last published (after its notice)
            final[:, k], since[k] = hysteresis.in_force_weekly(decided, days[k], weekly, rset)
            state[final[:, k] != decided] = hysteresis.WEEKLY
        else:
            recent = decided_hist[len(decided_hist) - notice:] if notice else []
            final[:, k], noticed = hysteresis.with_notice(decided, recent)
            state[noticed] = hysteresis.NOTICE
        decided_all[:, k], state_all[:, k], previous_all[:, k] = decided, state, previous
        decided_hist.append(decided)
        previous = final[:, k]
    step("hysteresis")

    def own(table_codes: np.ndarray) -> dict[str, np.ndarray]:
        return {name: v.reshape(-1) for name, v in inputs.indicator_grid(table_codes).items()}

    # each parent kind from the kind below it that the version has (RULES.md section 3, rollup_from)
    flat = {"commune": (final.reshape(-1), env)}
    parents, children, parent_states = {}, {}, {}
    for unit in units.levels[1:]:
        child = children[unit] = units.child_kind(unit, rset["rollup_from"])
        pcodes = units.of(unit)["code"].astype(str).to_numpy()
        pcls, penv = _parents(units.parent_of(unit, child), len(pcodes), days, ruleset, *flat[child], own(pcodes))
        if inputs.previous_parents is not None or inputs.published_before is not None:
            parent_states[unit] = _hold_parents(pcls, penv, inputs, unit, days, rset)
        flat[unit] = (pcls.codes, penv)
        parents[unit] = (Levels(pcodes, pcls.codes.reshape(-1, t)), pcls, penv)
    step("rollup")
    res = RangeResult(days, ruleset.id, Levels(codes, computed), Levels(codes, final),
                      {u: lv for u, (lv, _, _) in parents.items()}, unplaced)
    if detail:
        res.detail = {"env": env, "cls": cls, "section": ruleset.commune, "rollup": ruleset.rollup,
                      "decided": decided_all, "state": state_all, "previous": previous_all, "clean": clean,
                      **{u: (cls_, env_) for u, (_, cls_, env_) in parents.items()}, "children": children,
                      "parent_states": parent_states, "published_on": since,
                      "neighbours": nb, "units": units, "inputs": inputs}
    return res


def level_names(levels: np.ndarray) -> np.ndarray:
    names = np.array([lv.value for lv in SCALE] + ["unknown"], dtype=object)
    return names[np.where(levels < 0, len(SCALE), levels)]
