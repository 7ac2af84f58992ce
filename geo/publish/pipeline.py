"""reclassify: gather inputs -> evaluate (a run of one day) -> tables -> publish, for one day."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import geopandas as gpd
import pandas as pd
import yaml

from geo.base.config import Settings
from geo.base.errors import InputError, MissingInputError
from geo.evaluate import evaluation, frames, metrics, outlook
from geo.evaluate.inputs import gather
from geo.publish import publish, quality
from geo.store.database import Store
from geo.store.locks import writer_lock
from rules import ruleset as rs_mod
from rules.expr import did_you_mean


@dataclass
class Timer:
    stages: dict[str, float] = field(default_factory=dict)
    _t: float = field(default_factory=time.perf_counter)
    progress: Callable[[str], object] | None = None

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
            raise InputError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, rulesets))
        if rulesets[ruleset_id].scope != "communes":
            raise InputError("ruleset_not_for_communes", id=ruleset_id)
        return rulesets[ruleset_id]
    chosen = rs_mod.in_force(rulesets, day)
    if chosen is None:
        raise MissingInputError("no_ruleset", date=day.isoformat())
    return chosen


def _input_hash(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        if isinstance(p, pd.DataFrame):
            try:        # scalar columns hash as they are; a column of lists (or mixed) hashes as text
                values = pd.util.hash_pandas_object(p, index=False)
            except TypeError:
                values = pd.util.hash_pandas_object(p.astype(str), index=False)
            h.update(values.to_numpy().tobytes())
        else:
            h.update(str(p).encode())
    return h.hexdigest()


def reclassify(settings: Settings, day: dt.date, ruleset_id: str | None = None, progress=None) -> dict:
    """Evaluate and publish `day`; if the data-quality gate objects, the run is written but held
    (the result has `held` with the reasons; see geo/publish/quality.py)."""
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


def parse_overrides(items) -> dict:
    """`name=value` lines (a what-if's changed settings) -> {name: value}, values read as YAML (14, true, [a, b])."""
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError("bad_param", name="--set", value=item, allowed="name=value")
        name, value = item.split("=", 1)
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError("bad_param", name=name.strip(), value=value, allowed="a number, true/false or a list") from None
    return out


def with_settings(ruleset: rs_mod.Ruleset, overrides: dict | None) -> rs_mod.Ruleset:
    """A what-if copy of the ruleset with some settings changed (same names and types only)."""
    if not overrides:
        return ruleset
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
    """Everything up to publishing, for one day: the evaluation of a run of one day (geo/evaluate/evaluation.py)
    and that day's published tables."""
    timer = Timer(progress=progress)
    store = Store(settings.db_path)
    ruleset = with_settings(choose_ruleset(load_rulesets(settings.ruleset_dir), day, ruleset_id), overrides)
    ahead = outlook.days(day, ruleset.settings)     # today, then the outlook's days with nothing new read
    inputs = gather(settings, store, ahead, ruleset, known_until=day)
    timer.done("load")
    res = evaluation.evaluate(inputs, ruleset, progress=timer.done, detail=True)
    c, parents = evaluation.day(res, 0)
    declared_table = inputs.declared_on(0)
    out = frames.build(day, ruleset, inputs.units, c, parents, inputs.neighbours, declared_table)
    for unit, frame in out.items():
        for column, values in outlook.table(res.of(unit).levels, ahead).items():
            frame[column] = values.to_numpy()
    timer.done("tables")
    lock_attrs, _ = inputs.lockdowns_on(0)
    manifest = {
        **frames.summary(day, ruleset, inputs.units.version, out),
        "input_hashes": {"boundaries": inputs.boundary_sha256, "cases": _input_hash(inputs.cases),
                         "lockdowns": _input_hash(lock_attrs), "flags": _input_hash(inputs.flags_on(0)),
                         "indicators": _input_hash(inputs.indicators_on(0).reset_index()),
                         "declarations": _input_hash(declared_table.reset_index()), "ruleset": ruleset.sha256},
        "cases_not_in_boundaries": res.unplaced, "n_active_lockdowns": len(lock_attrs),
        "cases_followed": res.followed, "outlook_until": ahead[-1].isoformat(),
    }
    return Evaluation(ruleset, out, inputs.lockdown_frame(0), manifest, timer, store)
