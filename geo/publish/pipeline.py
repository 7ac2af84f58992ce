"""reclassify: gather inputs -> evaluate (a run of one day) -> tables -> publish, for one day."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

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


def _named(rulesets, ruleset_id: str, setting: str | None = None) -> rs_mod.Ruleset:
    if ruleset_id not in rulesets:
        raise InputError("unknown_ruleset", id=(f"{setting}={ruleset_id}" if setting else ruleset_id),
                         hint=did_you_mean(ruleset_id, rulesets))
    if rulesets[ruleset_id].scope != "communes":
        raise InputError("ruleset_not_for_communes", id=ruleset_id)
    return rulesets[ruleset_id]


def ruleset_choice(rulesets, day: dt.date, ruleset_id: str | None, settings: Settings | None = None) -> tuple[rs_mod.Ruleset, dict]:
    """The ruleset that decides `day` and why (RULES.md §6): the one a run names; else, from the operator's
    `ZONES_DEFAULT_RULESET_FROM`, the operator's default (no national regime is known after QĐ 218); else the
    one in force on the day by its effective dates. The why goes into the run's manifest, map and report."""
    if ruleset_id:
        return _named(rulesets, ruleset_id), {"why": "named", "ruleset": ruleset_id}
    if settings is not None and settings.default_ruleset and day >= settings.default_ruleset_from:
        chosen = _named(rulesets, settings.default_ruleset, "ZONES_DEFAULT_RULESET")
        return chosen, {"why": "operator_default", "ruleset": chosen.id, "from": settings.default_ruleset_from.isoformat()}
    dated = rs_mod.in_force(rulesets, day)
    if dated is None:
        raise MissingInputError("no_ruleset", date=day.isoformat())
    return dated, {"why": "in_force", "ruleset": dated.id, "from": dated.effective_from.isoformat(),
                   "until": dated.effective_until.isoformat() if dated.effective_until else None}


def choose_ruleset(rulesets, day: dt.date, ruleset_id: str | None, settings: Settings | None = None) -> rs_mod.Ruleset:
    return ruleset_choice(rulesets, day, ruleset_id, settings)[0]


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
    """A what-if copy of the ruleset with some settings changed, each checked as the file's own are (names,
    types, choices, bounds; matrix cells re-made): a value outside them is refused before anything runs."""
    if not overrides:
        return ruleset
    try:
        return rs_mod.with_settings(ruleset, overrides, metrics.COMMUNE_INPUTS, metrics.ROLLUP_INPUTS)
    except rs_mod.RulesetError as exc:
        raise InputError("bad_param", name="--set", value=", ".join(f"{k}={v}" for k, v in overrides.items()),
                         allowed=str(exc).split(": ", 1)[-1]) from None


def evaluate(settings: Settings, day: dt.date, ruleset_id=None, overrides=None, progress=None) -> Evaluation:
    """Everything up to publishing, for one day: the evaluation of a run of one day (geo/evaluate/evaluation.py)
    and that day's published tables."""
    timer = Timer(progress=progress)
    store = Store(settings.db_path)
    chosen, why = ruleset_choice(load_rulesets(settings.ruleset_dir), day, ruleset_id, settings)
    ruleset = with_settings(chosen, overrides)
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
        "cases_followed": res.followed, "outlook_until": ahead[-1].isoformat(), "ruleset_choice": why,
    }
    return Evaluation(ruleset, out, inputs.lockdown_frame(0), manifest, timer, store)
