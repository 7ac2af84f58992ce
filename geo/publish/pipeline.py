"""reclassify: gather inputs -> evaluate (a run of one day) -> tables -> publish, for one day."""
from __future__ import annotations

import datetime as dt
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import geopandas as gpd
import numpy as np
import pandas as pd

from geo.base.config import Settings
from geo.domain.rulesets import load_rulesets, ruleset_choice, with_settings
from geo.evaluate import evaluation, frames, metrics, outlook
from geo.evaluate.inputs import gather
from geo.publish import publish, quality
from geo.store import casestats
from geo.store.database import Store
from geo.store.locks import writer_lock
from rules import ruleset as rs_mod


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


def _input_hash(table: pd.DataFrame) -> str:
    """A table's digest whatever the order of its rows (the store returns them in no set order): the sorted
    hashes of its rows, with its column names."""
    try:        # scalar columns hash as they are; a column of lists (or mixed) hashes as text
        rows = pd.util.hash_pandas_object(table, index=False)
    except TypeError:
        rows = pd.util.hash_pandas_object(table.astype(str), index=False)
    h = hashlib.sha256("|".join(map(str, table.columns)).encode())
    h.update(np.sort(rows.to_numpy()).tobytes())
    return h.hexdigest()


# The cases' columns a run's digest covers: what the evaluation reads, in the order it reads them (a column the
# reading adds, such as how a case was followed across boundary versions, is not an input).
CASE_HASH_COLUMNS = list(casestats.CASE_COLUMNS)


def day_run(res: evaluation.RangeResult, k: int, ruleset: rs_mod.Ruleset, why: dict,
            outlook_days: list[dt.date] | None = None) -> tuple[dict[str, gpd.GeoDataFrame], gpd.GeoDataFrame, dict]:
    """Day k of an evaluation as a run publishes it: its tables, its lockdowns and its manifest, with the digests
    of what it read. The one assembly of a day, for the daily run and every backfilled day alike (a backfilled
    day carries the input_hashes the daily run of that day would). `outlook_days`: the daily run's days ahead
    (its outlook columns)."""
    det = res.detail or {}
    inputs, day = det["inputs"], res.days[k]
    c, parents = evaluation.day(res, k)
    declared_table = inputs.declared_on(k)
    tables = frames.build(day, ruleset, det["units"], c, parents, det["neighbours"], declared_table)
    if outlook_days:
        for unit, frame in tables.items():
            for column, values in outlook.table(res.of(unit).levels, outlook_days).items():
                frame[column] = values.to_numpy()
    lock_attrs, _ = inputs.lockdowns_on(k)
    cases = inputs.cases_on(k)
    manifest = {
        **frames.summary(day, ruleset, det["units"].version, tables),
        "input_hashes": {"boundaries": inputs.boundary_sha256,
                         "cases": _input_hash(cases.reindex(columns=CASE_HASH_COLUMNS)),
                         "lockdowns": _input_hash(lock_attrs), "flags": _input_hash(inputs.flags_on(k)),
                         "indicators": _input_hash(inputs.indicators_on(k).reset_index()),
                         "declarations": _input_hash(declared_table.reset_index()), "ruleset": ruleset.sha256},
        "cases_not_in_boundaries": res.unplaced[k], "n_active_lockdowns": len(lock_attrs),
        "cases_followed": metrics.followed_counts(cases), "ruleset_choice": why,
    }
    if outlook_days:
        manifest["outlook_until"] = outlook_days[-1].isoformat()
    return tables, inputs.lockdown_frame(k), manifest


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


def evaluate(settings: Settings, day: dt.date, ruleset_id=None, overrides=None, progress=None) -> Evaluation:
    """Everything up to publishing, for one day: the evaluation of a run of one day (geo/evaluate/evaluation.py)
    and that day's published tables."""
    timer = Timer(progress=progress)
    store = Store(settings.db_path)
    chosen, why = ruleset_choice(load_rulesets(settings.ruleset_dir, settings.verdicts_path), day, ruleset_id, settings)
    ruleset = with_settings(chosen, overrides)
    ahead = outlook.days(day, ruleset.settings)     # today, then the outlook's days with nothing new read
    inputs = gather(settings, store, ahead, ruleset, known_until=day)
    timer.done("load")
    res = evaluation.evaluate(inputs, ruleset, progress=timer.done, detail=True)
    out, lockdowns, manifest = day_run(res, 0, ruleset, why, outlook_days=ahead)
    timer.done("tables")
    return Evaluation(ruleset, out, lockdowns, manifest, timer, store)
