"""reclassify: load -> assign -> metrics -> classify -> publish, for one day."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

import filelock
import geopandas as gpd
import numpy as np
import pandas as pd

from rules import engine, ruleset as rs_mod
from . import adjacency, declared, frames, hysteresis, indicators, metrics, publish
from .assign import Assigner
from .config import Settings
from .errors import BusyError, InputError, MissingInputError
from .lockdowns import active_lockdowns, flags_on
from .store import Store

@dataclass
class Timer:
    stages: dict[str, float] = field(default_factory=dict)
    _t: float = field(default_factory=time.perf_counter)
    progress: object = None

    def done(self, stage: str) -> None:
        now = time.perf_counter()
        self.stages[stage] = round(now - self._t, 4)
        self._t = now
        if self.progress:
            self.progress(stage)


def load_rulesets(extra_dir=None) -> dict[str, rs_mod.Ruleset]:
    """Shipped rulesets plus an operator's directory (ZONES_RULESETS); ids must be unique."""
    try:
        out = rs_mod.load_all(metrics.COMMUNE_INPUTS, metrics.ROLLUP_INPUTS)
        if extra_dir is not None:
            for rid, rs in rs_mod.load_all(metrics.COMMUNE_INPUTS, metrics.ROLLUP_INPUTS, extra_dir).items():
                if rid in out:
                    raise rs_mod.RulesetError(rs.path, None, f"ruleset id {rid!r} is already shipped; give the copy a new id")
                out[rid] = rs
    except rs_mod.RulesetError as exc:
        raise InputError("ruleset_invalid", detail=str(exc)) from None
    return out


def choose_ruleset(rulesets, day: dt.date, ruleset_id: str | None) -> rs_mod.Ruleset:
    if ruleset_id:
        if ruleset_id not in rulesets:
            from rules.expr import did_you_mean
            raise InputError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, rulesets))
        if rulesets[ruleset_id].scope != "communes":
            raise InputError("ruleset_not_for_communes", id=ruleset_id)
        return rulesets[ruleset_id]
    chosen = rs_mod.in_force(rulesets, day)
    if chosen is None:
        raise MissingInputError("no_ruleset", date=day.isoformat())
    return chosen


def neighbour_matrix(store: Store, version: str, communes: gpd.GeoDataFrame, settings: dict):
    tol = float(settings["adjacency_tolerance_m"])
    pairs = store.load_adjacency(version, f"tol={tol:g}")
    codes = communes["code"].astype(str).to_numpy()
    if pairs is None:  # a ruleset with another tolerance: measure now (not stored)
        geoms_m = communes.to_crs(adjacency.metric_crs(communes.total_bounds)).geometry.to_numpy()
        p = adjacency.shared_borders(geoms_m, tol)
        pairs = pd.DataFrame({"a": codes[p["i"]], "b": codes[p["j"]], "shared_m": p["shared_m"]})
    sel = adjacency.select(pairs, settings["adjacency"], float(settings["rook_min_shared_length_m"]))
    pos = pd.Series(np.arange(len(codes)), index=codes)
    return adjacency.matrix(len(codes), pos[sel["a"]].to_numpy(), pos[sel["b"]].to_numpy())


def _input_hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, pd.DataFrame):
            h.update(pd.util.hash_pandas_object(p.astype(str), index=False).to_numpy().tobytes())
        else:
            h.update(str(p).encode())
    return h.hexdigest()


@contextmanager
def writer_lock(settings: Settings):
    """One writer of runs at a time (reclassify, backfill); others wait, then fail with BusyError."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(settings.lock_path), timeout=settings.lock_timeout_s)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BusyError("busy", lock=str(settings.lock_path)) from None
    try:
        if settings.database_url:      # several servers on one database: the lock is the database's
            from . import pg
            with pg.advisory_lock(settings.database_url, settings.lock_timeout_s) as held:
                if not held:
                    raise BusyError("busy", lock="pg_advisory_lock")
                yield
        else:
            yield
    finally:
        lock.release()


def reclassify(settings: Settings, day: dt.date, ruleset_id: str | None = None, progress=None) -> dict:
    """Evaluate and publish `day`; if the data-quality gate objects, the run is written but held
    (the result has `held` with the reasons; see geo/quality.py)."""
    from . import quality
    with writer_lock(settings):
        ev = evaluate(settings, day, ruleset_id, progress=progress)
        ev.manifest["quality"] = quality.facts(ev.store, day, ev.manifest["cases_not_in_boundaries"])
        reasons = quality.check(ev.store, day, ev.manifest["quality"], settings.stale_days) if settings.quality_gate else []
        full = publish.publish(settings, ev.store, day, ev.ruleset, ev.frames, ev.lockdowns, ev.manifest, ev.timer,
                               hold=bool(reasons))
        if reasons:
            quality.hold(ev.store, settings.runs_dir, full, reasons)
            full["held"] = reasons
        else:
            quality.supersede(ev.store, settings.runs_dir, day.isoformat())
        return full


@dataclass
class Evaluation:
    ruleset: rs_mod.Ruleset
    frames: dict[str, gpd.GeoDataFrame]
    lockdowns: gpd.GeoDataFrame
    manifest: dict
    timer: Timer
    store: Store


def with_settings(ruleset: rs_mod.Ruleset, overrides: dict | None) -> rs_mod.Ruleset:
    """A what-if copy of the ruleset with some settings changed (same names and types only)."""
    if not overrides:
        return ruleset
    from rules.expr import did_you_mean
    new = dict(ruleset.settings)
    for name, value in overrides.items():
        if name not in new:
            raise InputError("bad_param", name="--set", value=name, allowed=f"a setting of {ruleset.id}{did_you_mean(name, new)}")
        old = new[name]
        if isinstance(old, bool) != isinstance(value, bool) or not isinstance(value, type(old) if not isinstance(old, (int, float)) else (int, float)):
            raise InputError("bad_param", name=name, value=value, allowed=f"a value like {old!r}")
        new[name] = value
    return replace(ruleset, settings=new, id=f"{ruleset.id}+what-if")


def evaluate(settings: Settings, day: dt.date, ruleset_id=None, overrides=None, progress=None) -> Evaluation:
    """Everything up to publishing: inputs -> assignment -> metrics -> levels and explanations."""
    timer = Timer(progress=progress)
    store = Store(settings.db_path)
    ruleset = with_settings(choose_ruleset(load_rulesets(settings.ruleset_dir), day, ruleset_id), overrides)
    rset = ruleset.settings
    version, communes, districts, provinces = store.current_units()
    store.require_case_data()
    with store.connect(readonly=True) as con:
        cases = metrics.load_cases(con, day, rset)
        src = con.execute("SELECT source_sha256 FROM boundary_versions WHERE name = ?", (version,)).fetchone()[0]
    lock_attrs, lock_geoms = active_lockdowns(store, day)
    flags = flags_on(store, day)
    timer.done("load")

    codes = communes["code"].astype(str).to_numpy()
    geoms = communes.geometry.to_numpy()
    assigner = Assigner(geoms, codes)
    idx = metrics.commune_index(cases, codes, assigner)
    timer.done("assign")

    code_pos = {c: i for i, c in enumerate(codes)}
    lmask = metrics.lockdown_mask(geoms, lock_geoms, assigner.tree)
    env = metrics.commune_metrics(len(codes), communes["population"].to_numpy(float), cases, idx, rset, flags,
                                  code_pos, lmask, day)
    indicator_table = indicators.indicators_on(store, day)
    env.update(indicators.for_units(indicator_table, codes))
    nb = neighbour_matrix(store, version, communes, rset)
    timer.done("metrics")

    cls = engine.classify(ruleset.commune, env, rset, len(codes), nb)
    previous = hysteresis.previous_levels(store, settings.runs_dir, day, codes)
    horizon = metrics.lookback_days(rset)
    clean = hysteresis.clean_days(cases, idx, day, len(codes), horizon)
    decided, state = hysteresis.apply(cls.codes, previous, clean, rset)
    final, noticed = hysteresis.with_notice(decided, hysteresis.decided_before(
        store, settings.runs_dir, day, codes, hysteresis.notice_days(rset)))
    state[noticed] = hysteresis.NOTICE
    units = frames.Units(version, communes, districts, provinces)
    c = frames.CommuneDay(env, cls.codes, cls.reasons, decided, final, state, previous, clean)
    d_own = indicators.for_units(indicator_table, districts["code"].astype(str).to_numpy())
    d = frames.classify_parents(ruleset, units.parent_index(communes, "district_code", districts), len(districts),
                                final, env, d_own)
    p_own = indicators.for_units(indicator_table, provinces["code"].astype(str).to_numpy())
    p = frames.classify_parents(ruleset, units.parent_index(districts, "province_code", provinces), len(provinces),
                                d.codes, d.env, p_own)
    declared_table = declared.declared_on(store, day)
    out = frames.build(day, ruleset, units, c, d, p, nb, declared_table)
    timer.done("classify")

    unplaced = int((cases["count"].to_numpy()[idx < 0]).sum())
    manifest = {
        **frames.summary(day, ruleset, version, out),
        "input_hashes": {"boundaries": src, "cases": _input_hash(cases), "lockdowns": _input_hash(lock_attrs),
                         "flags": _input_hash(flags), "indicators": _input_hash(indicator_table.reset_index()),
                         "declarations": _input_hash(declared_table.reset_index()),
                         "ruleset": ruleset.sha256},
        "cases_not_in_boundaries": unplaced, "n_active_lockdowns": len(lock_attrs),
    }
    lockdown_frame = gpd.GeoDataFrame(lock_attrs, geometry=lock_geoms, crs="EPSG:4326")
    return Evaluation(ruleset, out, lockdown_frame, manifest, timer, store)
