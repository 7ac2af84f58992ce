"""backfill: reclassify and publish every day of a date range.

The range is split where the ruleset in force changes; each part is evaluated at once for all
units and days (geo/evaluate/evaluation.py), then every day is published as its own run, oldest first, so
`?date=D` and `?as_of=T` work for each of them exactly as for a daily run. Days are published as
levels runs (tables and GeoJSON, no map or tiles: geo/store/runfiles.py), except the newest day of the
range when no later date has a run: it becomes the day the committee's map opens on, so it is
published in full.

The day tables (explanations, JSON, gzip) are built by worker processes forked after the
evaluation, one per core; runs are still committed one by one in date order by this process.
"""
from __future__ import annotations

import datetime as dt
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from itertools import groupby

from geo.base import collector
from geo.base.config import Settings
from geo.base.errors import InputError
from geo.domain.rulesets import load_rulesets, ruleset_choice
from geo.evaluate import evaluation
from geo.publish import pipeline, publish, quality
from geo.publish.pipeline import Timer
from geo.store.database import Store
from geo.store.locks import writer_lock

# A range longer than this is almost certainly a typo in a year (2012 for 2021): refuse it.
MAX_DAYS = 3 * 366
# Below this many days, forking workers costs more than it saves.
MIN_DAYS_FOR_WORKERS = 8

# What forked workers read (set before the fork, inherited copy-on-write; never pickled).
_JOB: dict = {}


def days_between(start: dt.date, end: dt.date) -> list[dt.date]:
    if end < start:
        raise InputError("bad_param", name="--to", value=end.isoformat(), allowed=f"a date on or after {start.isoformat()}")
    n = (end - start).days + 1
    if n > MAX_DAYS:
        raise InputError("bad_param", name="--from/--to", value=f"{start} .. {end} ({n} days)",
                         allowed=f"at most {MAX_DAYS} days per backfill")
    return [start + dt.timedelta(days=k) for k in range(n)]


def plan(settings: Settings, start: dt.date, end: dt.date, ruleset_id: str | None = None):
    """[(ruleset, why, [days])]: consecutive days under the same ruleset chosen for the same reason (the one
    named, the operator's default, or the one in force: geo/domain/rulesets.py)."""
    rulesets = load_rulesets(settings.ruleset_dir, settings.verdicts_path)
    days = days_between(start, end)
    chosen = [(d, *ruleset_choice(rulesets, d, ruleset_id, settings)) for d in days]
    parts = [list(part) for _, part in groupby(chosen, key=lambda x: (x[1].id, x[2]["why"]))]
    return [(part[0][1], part[0][2], [d for d, _, _ in part]) for part in parts]


def _day_tables(k: int):
    """Day k of the current evaluation: (tables, lockdowns, manifest)."""
    tables, lockdowns, manifest = pipeline.day_run(_JOB["res"], k, _JOB["ruleset"], _JOB["why"])
    manifest["quality"] = _JOB["facts"][k]          # what the next day's quality gate compares with
    return tables, lockdowns, manifest


def _stage_day(k: int):
    tables, lockdowns, manifest = _day_tables(k)
    return publish.stage_levels(_JOB["settings"], _JOB["res"].days[k], _JOB["ruleset"], tables, lockdowns,
                                manifest, _JOB["origin"], _JOB["index"])


def _staged(levels_days: list[int]):
    """Staged levels runs of these days, in order, built by a pool of forked workers when it pays."""
    workers = min(os.cpu_count() or 1, len(levels_days) // MIN_DAYS_FOR_WORKERS)
    if workers < 2:
        yield from map(_stage_day, levels_days)
        return
    # the evaluation set aside before the fork: the workers' collections neither walk nor write its pages
    with collector.set_aside(), multiprocessing.get_context("fork").Pool(workers) as pool:
        yield from pool.imap(_stage_day, levels_days, chunksize=2)


def backfill(settings: Settings, start: dt.date, end: dt.date, ruleset_id: str | None = None,
             progress=None, day_done=None) -> list[dict]:
    """Publish one run per day of [start, end]; returns their manifests. `progress(stage)` is told
    the stages of each evaluation, `day_done(manifest)` each published day."""
    with writer_lock(settings):
        store = Store(settings.db_path)
        parts = plan(settings, start, end, ruleset_id)
        latest = store.latest_run()
        full_day = end if latest is None or latest["date"] <= end.isoformat() else None
        publish.clean_staging(settings.runs_dir)
        origin = {"from": start.isoformat(), "to": end.isoformat()}
        out = []
        for ruleset, why, days in parts:
            # what the quality gate compares is read on a helper thread while the range is evaluated (the
            # database works without the interpreter lock)
            with ThreadPoolExecutor(1, thread_name_prefix="backfill-facts") as helper:
                reading = helper.submit(quality.stored_facts, store, days)
                # the units' GeoJSON texts only when a day of the part is published in full
                res = evaluation.evaluate_range(settings, days, ruleset, progress=progress, detail=True,
                                                texts=full_day is not None and full_day in days)
                stored = reading.result()
            index = publish.shapes_index(settings, store, (res.detail or {})["units"].version)
            _JOB.update(settings=settings, res=res, ruleset=ruleset, origin=origin, index=index, why=why,
                        facts=quality.facts_of_days(store, days, res.unplaced, stored))
            try:
                levels_days = [k for k, day in enumerate(days) if day != full_day]
                for stage, manifest in _staged(levels_days):
                    out.append(publish.commit_staged(store, stage, ruleset, manifest))
                    if day_done:
                        day_done(out[-1])
                if full_day is not None and full_day in days:
                    tables, lockdowns, manifest = _day_tables(days.index(full_day))
                    out.append(publish.publish(settings, store, full_day, ruleset, tables, lockdowns,
                                               {**manifest, "backfill": origin}, Timer()))
                    if day_done:
                        day_done(out[-1])
            finally:
                _JOB.clear()
        return out
