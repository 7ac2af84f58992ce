"""The data-quality gate: before a day is published, check that its inputs look like data.

A run is held (written completely, kept aside as runs/.held-<run_id>, listed in `holds`) when:
- jump: the cases reported on the day exceed JUMP_FACTOR x the highest day of the JUMP_DAYS before
  (and JUMP_MIN_CASES): a file imported twice, a cumulative column read as daily...;
- cumulative down: the cases reported up to the previous published day are fewer now than when
  that day was published (rows removed, counts lowered): history changed under the committee;
- cumulative up: ... or JUMP_FACTOR x more (a whole history imported again multiplied, every case
  repeated under new ids): a uniform inflation that the day-on-day jump cannot see;
- implausible: a commune with more cases on one day than IMPLAUSIBLE_SHARE of its population (and
  more than JUMP_MIN_CASES), or the whole layer above that share (holds a first import inflated the
  same way, with no earlier run to compare with);
- unplaced: the share of the window's cases that fall in no commune is above UNPLACED_MAX_SHARE
  and higher than the previous run's by UNPLACED_RISE;
- stale: no case row at all newer than `stale_days` before the day, or communes with a daily feed
  silent for `stale_days`. A daily feed is one that sends zero rows on quiet days; a line list, or
  counts sent only for days with cases (the MoH announcements), has no row on a quiet day, so
  silence there means nothing.
An operator publishes a held run anyway with a reason (`publish-anyway`, POST /api/holds/<id>/publish):
the release and who did it are in the audit log. A new reclassify of the day replaces the hold.
"""
from __future__ import annotations

import datetime as dt
import itertools
import json
import shutil
from pathlib import Path

from geo.base import i18n
from geo.base.errors import InputError, NotFoundError
from geo.publish import publish
from geo.store import casestats
from geo.store import holds as holds_table
from geo.store.database import Store
from geo.store.locks import writer_lock

# A real outbreak grows at most ~2x a day (doubling time >= 1 day); 5x the worst of two weeks is
# a data error far more often than an epidemic.
JUMP_FACTOR = 5.0
JUMP_DAYS = 14
# Below this many cases a jump is within ordinary noise (0 -> 12 is not suspicious).
JUMP_MIN_CASES = 50
# Case files geocode well: a few per cent fall outside (islands, typos); more means a broken column.
UNPLACED_MAX_SHARE = 0.05
UNPLACED_RISE = 0.02
# Vietnam's worst day (March 2022) was ~450,000 cases, 0.5 % of the population; a province's worst
# ~0.2 %. Four times the national peak in one day is not an epidemic.
IMPLAUSIBLE_SHARE = 0.02
# Communes reporting daily counts that have reported within this many days are expected to go on.
REPORTING_LOOKBACK_DAYS = 28
MAX_LISTED = 10


def facts(store: Store, day: dt.date, unplaced: int) -> dict:
    """What the gate compares, kept in each run's manifest for the next day's comparison."""
    return facts_of_days(store, [day], [unplaced])[0]


def stored_facts(store: Store, days: list[dt.date]) -> dict:
    """What facts_of_days() reads of the store for these days: the daily totals up to the last, the newest
    report date, the population and the communes' spikes (a backfill reads them while it evaluates)."""
    last = max(days).isoformat()
    with store.connect(readonly=True) as con:
        spikes: dict[str, list] = {}
        for d, code, n, pop in casestats.commune_spikes(con, min(days).isoformat(), last, IMPLAUSIBLE_SHARE, JUMP_MIN_CASES):
            spikes.setdefault(d, []).append({"code": code, "n": n, "population": pop})
        return {"totals": casestats.daily_totals(con, "", last), "newest": casestats.newest_report_date(con),
                "population": casestats.current_population(con), "spikes": spikes}


def facts_of_days(store: Store, days: list[dt.date], unplaced: list[int], stored: dict | None = None) -> list[dict]:
    """facts() of many days (a backfill) from one read of the daily totals up to the last (`stored`: that read,
    made beforehand by stored_facts())."""
    stored = stored or stored_facts(store, days)
    totals, newest, population, spikes = stored["totals"], stored["newest"], stored["population"], stored["spikes"]
    dates = sorted(totals)
    cumulative = dict(zip(dates, itertools.accumulate(totals[d] for d in dates), strict=True))
    out = []
    for day, n_unplaced in zip(days, unplaced, strict=True):
        d, start = day.isoformat(), (day - dt.timedelta(days=JUMP_DAYS)).isoformat()
        upto = [x for x in dates if x <= d]
        window = {x: totals[x] for x in upto if x > start}
        out.append({"cases_through_day": int(cumulative[upto[-1]]) if upto else 0, "cases_on_day": int(totals.get(d, 0)),
                    "population": int(population or 0),
                    "max_daily_before": int(max([v for k, v in window.items() if k != d], default=0)),
                    "commune_spikes": spikes.get(d, [])[:MAX_LISTED],
                    "newest_report_date": newest,
                    "unplaced_share": round(n_unplaced / sum(window.values()), 4) if sum(window.values()) else 0.0})
    return out


def _reason(key: str, **params) -> dict:
    return {"key": f"hold_{key}", "params": params}


def reason_text(reason: dict | str, language: str | None = None) -> str:
    """A hold reason in the operator's language (runs held before reasons were keyed are plain text)."""
    if isinstance(reason, str):
        return reason
    vi = i18n.lang(language) == "vi"
    params = {k: (i18n.vn_date(v) if k in ("day", "newest") and isinstance(v, str)          # dd/mm/yyyy, and
                  else v.replace(".", ",") if vi and isinstance(v, str) and v.endswith("%")  # 3,1 % in Vietnamese
                  else v) for k, v in reason["params"].items()}
    return i18n.t(reason["key"], language, **params)


def check(store: Store, day: dt.date, f: dict, stale_days: int) -> list[dict]:
    """The reasons to hold `day`'s run (empty: publish), each a message key and its values."""
    reasons = []
    limit = max(JUMP_FACTOR * f["max_daily_before"], JUMP_MIN_CASES)
    if f["cases_on_day"] > limit:
        reasons.append(_reason("jump", n=f["cases_on_day"], day=day.isoformat(), factor=f"{JUMP_FACTOR:g}",
                               days=JUMP_DAYS, most=f["max_daily_before"]))
    prev = store.latest_run_before(day.isoformat())
    if prev is not None and "quality" in prev["manifest"]:
        then = prev["manifest"]["quality"]["cases_through_day"]
        with store.connect(readonly=True) as con:
            now = casestats.cases_through(con, prev["date"])
        if now < then:
            reasons.append(_reason("cumulative_down", day=prev["date"], then=then, now=now))
        elif now > max(JUMP_FACTOR * then, then + JUMP_MIN_CASES):
            reasons.append(_reason("cumulative_up", day=prev["date"], then=then, now=now,
                                   times=f"{now / max(then, 1):.0f}"))
    population = f.get("population") or 0
    if population and f["cases_on_day"] > max(IMPLAUSIBLE_SHARE * population, JUMP_MIN_CASES):
        reasons.append(_reason("implausible", n=f["cases_on_day"], day=day.isoformat(),
                               share=f"{f['cases_on_day'] / population:.1%}"))
    for spike in f.get("commune_spikes", []):
        reasons.append(_reason("commune_spike", n=spike["n"], code=spike["code"], day=day.isoformat(),
                               population=spike["population"], share=f"{spike['n'] / spike['population']:.1%}",
                               limit=f"{IMPLAUSIBLE_SHARE:.0%}"))
    before = prev["manifest"].get("quality", {}).get("unplaced_share", 0.0) if prev else 0.0
    if f["unplaced_share"] > max(UNPLACED_MAX_SHARE, before + UNPLACED_RISE):
        reasons.append(_reason("unplaced", share=f"{f['unplaced_share']:.1%}", before=f"{before:.1%}",
                               limit=f"{UNPLACED_MAX_SHARE:.0%}"))
    reasons += _stale(store, day, f, stale_days)
    return reasons


def _stale(store: Store, day: dt.date, f: dict, stale_days: int) -> list[dict]:
    cutoff = (day - dt.timedelta(days=stale_days)).isoformat()
    if f["newest_report_date"] is not None and f["newest_report_date"] < cutoff:
        return [_reason("stale", newest=f["newest_report_date"], days=stale_days, day=day.isoformat())]
    since = (day - dt.timedelta(days=REPORTING_LOOKBACK_DAYS)).isoformat()
    with store.connect(readonly=True) as con:
        rows = casestats.silent_daily_feeds(con, since, day.isoformat(), cutoff)
    if not rows:
        return []
    listed = ", ".join(f"{c} ({d})" for c, d in rows[:MAX_LISTED]) + (" ..." if len(rows) > MAX_LISTED else "")
    return [_reason("stale_communes", n=len(rows), days=stale_days, listed=listed)]


# -- holds -----------------------------------------------------------------------------------

def hold(store: Store, runs_dir: Path, full: dict, reasons: list[dict]) -> None:
    """Record a held run (its files are in runs/.held-<id>); an earlier hold of the day is dropped."""
    supersede(store, runs_dir, full["date"])
    with store.transaction() as con:
        holds_table.add(con, full["run_id"], full["date"], reasons, full["ruleset"])


def supersede(store: Store, runs_dir: Path, day: str) -> None:
    """A newer run of the day (held or published) replaces what was held for it."""
    with store.transaction() as con:
        old = holds_table.supersede(con, day)
    for run_id in old:
        shutil.rmtree(publish.held_dir(runs_dir, run_id), ignore_errors=True)


def holds(store: Store, language: str | None = None) -> list[dict]:
    """Held runs, newest first, their reasons in `language`."""
    if not store.exists():
        return []
    with store.connect(readonly=True) as con:
        rows = holds_table.listed(con)
    return [{**r, "reasons": [reason_text(x, language) for x in json.loads(r["reasons"])]} for r in rows]


def publish_anyway(settings, run_id: str, by: str, reason: str) -> dict:
    """Publish a held run as it was written; the caller audits who and why."""
    store = Store(settings.db_path)
    with writer_lock(settings):
        with store.connect(readonly=True) as con:
            row = holds_table.get(con, run_id)
        if row is None:
            raise NotFoundError("not_found", what=f"held run {run_id}")
        if row["status"] != "held":
            raise InputError("bad_param", name="run_id", value=run_id, allowed=f"a run still held (this one is {row['status']})")
        folder = publish.held_dir(settings.runs_dir, run_id)
        if folder.exists():
            full = publish.release_held(store, settings.runs_dir, run_id, row["ruleset"])
        else:       # renamed before a crash, not yet recorded: record it now
            full = json.loads((settings.runs_dir / run_id / "manifest.json").read_text(encoding="utf-8"))
            publish.record(store, settings.runs_dir / run_id, row["ruleset"], full.get("ruleset_sha256"), full)
        with store.transaction() as con:
            holds_table.released(con, run_id, by, reason)
    return full
