"""reclassify: load -> assign -> metrics -> classify -> publish, for one day."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from dataclasses import dataclass, field, replace

import filelock
import geopandas as gpd
import numpy as np
import pandas as pd

from rules import engine, ruleset as rs_mod
from rules.levels import SCALE
from . import adjacency, declared, explain, hysteresis, indicators, metrics, publish
from .assign import Assigner
from .config import Settings
from .errors import BusyError, InputError, MissingInputError
from .formats import DISPLAY_COL, GEOJSON_COL
from .lockdowns import active_lockdowns, flags_on
from .store import Store

# Attributes of the units kept in every output besides the computed ones (the last two are the
# geometry JSON strings computed once at import, see formats.geometry_json).
UNIT_ATTRS = ("code", "name", "district_code", "district_name", "province_code", "province_name", "population",
              GEOJSON_COL, DISPLAY_COL)


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


def _frame(units: gpd.GeoDataFrame, cls: engine.Classification, ruleset, env: dict, extra: dict) -> gpd.GeoDataFrame:
    out = units[list(UNIT_ATTRS)].copy()
    levels = cls.levels
    out["level"] = levels
    out["level_vi"] = [ruleset.level(lv)["vi"] for lv in levels]
    out["level_en"] = [ruleset.level(lv)["en"] for lv in levels]
    out["color"] = [ruleset.level(lv)["color"] for lv in levels]
    out["reasons"] = cls.reasons
    for k, v in {**env, **extra}.items():
        out[k] = v
    return gpd.GeoDataFrame(out, geometry=units.geometry.values, crs="EPSG:4326")


def _rollup(children: gpd.GeoDataFrame, child_cls, parents: gpd.GeoDataFrame, parent_key: str, ruleset,
            child_env: dict, indicator_table):
    """Parents from their children (RULES.md section 3): level counts, summed counts, rates and
    indicators (the parent's own imported figure, else derived from its children)."""
    pos = pd.Series(np.arange(len(parents)), index=parents["code"].astype(str))
    parent_of = pos.reindex(children[parent_key].astype(str)).to_numpy().astype(np.int64)
    n = len(parents)
    env = metrics.rollup_inputs(parent_of, n, child_cls.codes, child_env["population"],
                                child_env["known_source_community_cases"])
    for name in metrics.SUMMED:
        env[name] = np.bincount(parent_of, weights=child_env[name], minlength=n)
    env["community_cases_per_100k_7d"] = metrics.per_100k(env["community_cases_7d"], env["population"])
    own = indicators.for_units(indicator_table, parents["code"].astype(str).to_numpy())
    env.update(indicators.roll_up(parent_of, n, {k: child_env[k] for k in indicators.INDICATORS},
                                  child_env["population"], own))
    env["lockdown_active"] = (np.bincount(parent_of, weights=child_env["lockdown_active"], minlength=n) > 0).astype(float)
    cls = engine.classify(ruleset.rollup, env, ruleset.settings, n)
    counts = {f"n_{lv.value}": np.bincount(parent_of, weights=child_cls.codes == i, minlength=n).astype(int)
              for i, lv in enumerate(SCALE)}
    counts["n_unknown"] = env["n_unknown"].astype(int)
    shown = {k: env[k] for k in ("population", "lockdown_active", "community_cases_per_100k_7d", *metrics.SUMMED,
                                 *indicators.INDICATORS)}
    return _frame(parents, cls, ruleset, {}, {**counts, **shown}), cls, env


def _explain_frame(frame, section, env: dict, cls, triggers: list[list[str]], states=None) -> None:
    """`explanation` (Vietnamese), `explanation_en` and `adjacent_to` columns, in place.
    `states`: per unit None or the hysteresis figures ({lang: {prev, clean, need, step, computed}})."""
    n = len(frame)
    keys = [k for k in section.inputs if k in env]
    cols = {k: np.broadcast_to(np.asarray(env[k], float), (n,)) for k in keys}
    levels = cls.levels
    states = states or [None] * n
    for lang, column in (("vi", "explanation"), ("en", "explanation_en")):
        frame[column] = [explain.explain(section, {**{k: cols[k][i] for k in keys}, "hysteresis": states[i]},
                                         levels[i], cls.reasons[i], triggers[i], lang) for i in range(n)]
    frame["adjacent_to"] = triggers


def _hysteresis_states(ruleset, state, previous, clean, decided, final, day: dt.date) -> list:
    need = int(ruleset.settings.get("min_clean_days_before_downgrade", 0))
    step = int(ruleset.settings.get("max_step_down_per_run", len(SCALE)))
    days = hysteresis.notice_days(ruleset.settings)
    out = []
    for i, s in enumerate(state):
        if not s:
            out.append(None)
            continue
        prev = SCALE[(final if s == hysteresis.NOTICE else previous)[i]].value
        out.append({lang: {"prev": ruleset.level(prev)[lang], "computed": ruleset.level(decided[i])[lang],
                           "clean": int(clean[i]), "need": need, "step": step,
                           "hours": ruleset.settings.get("notice_hours", 0),
                           "effective": (day + dt.timedelta(days=days)).isoformat()} for lang in ("vi", "en")})
    return out


def _input_hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, pd.DataFrame):
            h.update(pd.util.hash_pandas_object(p.astype(str), index=False).to_numpy().tobytes())
        else:
            h.update(str(p).encode())
    return h.hexdigest()


def reclassify(settings: Settings, day: dt.date, ruleset_id: str | None = None, progress=None) -> dict:
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    lock = filelock.FileLock(str(settings.lock_path), timeout=settings.lock_timeout_s)
    try:
        lock.acquire()
    except filelock.Timeout:
        raise BusyError("busy", lock=str(settings.lock_path)) from None
    try:
        ev = evaluate(settings, day, ruleset_id, progress=progress)
        return publish.publish(settings, ev.store, day, ev.ruleset, ev.frames, ev.lockdowns, ev.manifest, ev.timer)
    finally:
        lock.release()


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
    computed = cls.levels
    previous = hysteresis.previous_levels(store, settings.runs_dir, day, codes)
    horizon = max(rset["window_days"], rset["rate_window_days"], int(rset.get("min_clean_days_before_downgrade", 0)))
    clean = hysteresis.clean_days(cases, idx, day, len(codes), horizon)
    computed_codes = cls.codes.copy()
    decided, state = hysteresis.apply(cls.codes, previous, clean, rset)
    final, noticed = hysteresis.with_notice(decided, hysteresis.decided_before(
        store, settings.runs_dir, day, codes, hysteresis.notice_days(rset)))
    state[noticed] = hysteresis.NOTICE
    for i in np.flatnonzero(state != ""):
        cls.reasons[i] = [state[i]]
    cls.codes = final
    decided_levels = [SCALE[c].value if c >= 0 else "unknown" for c in decided.tolist()]
    commune_out = _frame(communes, cls, ruleset, env, {"computed_level": computed, "decided_level": decided_levels,
                                                        "clean_days": clean})
    district_out, dcls, denv = _rollup(communes, cls, districts, "district_code", ruleset, env, indicator_table)
    province_out, pcls, penv = _rollup(districts, dcls, provinces, "province_code", ruleset, denv, indicator_table)
    labels = [f"{n} ({c})" for n, c in zip(communes["name"], codes)]
    triggers = explain.adjacency_triggers(ruleset.commune, cls.reasons, codes, computed_codes, nb, labels, ruleset.level_ids)
    _explain_frame(commune_out, ruleset.commune, env, cls, triggers,
                   _hysteresis_states(ruleset, state, previous, clean, decided_levels, final, day))
    for frame, c, e in ((district_out, dcls, denv), (province_out, pcls, penv)):
        _explain_frame(frame, ruleset.rollup, e, c, [[] for _ in range(len(frame))])
    declared_table = declared.declared_on(store, day)
    for frame in (commune_out, district_out, province_out):
        declared.annotate(frame, declared_table, ruleset)
    timer.done("classify")

    counts = {name: {lv: int((frame["level"] == lv).sum()) for lv in [s.value for s in SCALE] + ["unknown"]}
              for name, frame in (("commune", commune_out), ("district", district_out), ("province", province_out))}
    unplaced = int((cases["count"].to_numpy()[idx < 0]).sum())
    manifest = {
        "date": day.isoformat(), "ruleset": ruleset.id, "ruleset_sha256": ruleset.sha256,
        "ruleset_title": ruleset.title, "boundary_version": version,
        "window": list(metrics.window(day, rset["window_days"])),
        "input_hashes": {"boundaries": src, "cases": _input_hash(cases), "lockdowns": _input_hash(lock_attrs),
                         "flags": _input_hash(flags), "indicators": _input_hash(indicator_table.reset_index()),
                         "declarations": _input_hash(declared_table.reset_index()),
                         "ruleset": ruleset.sha256},
        "counts": counts,
        "n_declared_differs": {name: int(frame["level_differs"].sum()) for name, frame in
                               (("commune", commune_out), ("district", district_out), ("province", province_out))},
        "community_cases_in_window": int(cases.loc[cases["day"] >= metrics.window(day, rset["window_days"])[0], "count"].sum()),
        "cases_not_in_boundaries": unplaced, "n_active_lockdowns": len(lock_attrs),
    }
    lockdown_frame = gpd.GeoDataFrame(lock_attrs, geometry=lock_geoms, crs="EPSG:4326")
    frames = {"commune": commune_out, "district": district_out, "province": province_out}
    return Evaluation(ruleset, frames, lockdown_frame, manifest, timer, store)
