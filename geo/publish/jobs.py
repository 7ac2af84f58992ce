"""Long work started from the console, run beside the request: the request answers at once with a job
id, the work runs in a thread of the server process, and each stage it reaches is written to the store
(geo/store/jobs.py), so the page can show how far it is from any server process. One writer at a time
stays the writer lock's business: a busy lock is said before anything starts."""
from __future__ import annotations

import datetime as dt
import secrets
import threading
from collections.abc import Callable

from geo.base.config import Settings
from geo.base.errors import BusyError, ZonesError
from geo.publish import pipeline, planahead
from geo.store import jobs as jobs_table
from geo.store.database import Store
from geo.store.locks import check_free

# The stages a reclassification reports, in order (pipeline.evaluate, then publish): the page's progress bar.
RECLASSIFY_STAGES = ("load", "metrics", "classify", "hysteresis", "rollup", "tables",
                     "publish_geojson", "publish_gpkg", "publish_tiles", "publish_commit")


def start(settings: Settings, kind: str, target: str, who: str, stages: tuple[str, ...],
          work: Callable[[Callable[[str], None]], tuple[str, dict]],
          done: Callable[[str, dict], object] = lambda status, result: None, join: bool = False) -> str:
    """Run `work(progress)` in a thread as a job of `kind` on `target` -> its id; one job of a kind and target at a
    time. `work` returns (status, result); an error ends the job failed with its key and text in both languages.
    `done(status, result)` is called at the end, before the job is marked ended (the caller audits there).
    `join`: the same work asked again while it runs follows the running job (a what-if: nothing is written);
    else it is refused (a reclassification: the second would publish the day twice)."""
    store = Store(settings.db_path)
    job_id = secrets.token_hex(8)
    with store.transaction() as con:
        running = jobs_table.add(con, job_id, kind, target, who, len(stages))
    if running is not None and join:
        return running
    if running is not None:
        raise BusyError("job_running", date=target.split("|")[0])        # ten posts at once: one job

    def stage(name: str) -> None:
        with store.transaction() as con:
            jobs_table.step(con, job_id, name)

    ended = threading.Event()

    def heartbeat() -> None:        # the row says the thread lives, so a job whose process died is seen as lost
        while not ended.wait(jobs_table.HEARTBEAT_S):
            with store.transaction() as con:
                jobs_table.touch(con, job_id)

    def run() -> None:
        threading.Thread(target=heartbeat, name=f"heartbeat-{job_id}", daemon=True).start()
        try:
            status, result = work(stage)
        except ZonesError as exc:
            status, result = "failed", {"error": exc.key, "vi": exc.text("vi"), "en": exc.text("en")}
        except Exception as exc:  # noqa: BLE001 - the job must end as failed, whatever stopped it; the log has it
            status, result = "failed", {"error": type(exc).__name__, "vi": str(exc), "en": str(exc)}
        try:
            done(status, result)        # audited before the job says it ended
        finally:
            ended.set()
            with store.transaction() as con:
                jobs_table.finish(con, job_id, status, result)

    threading.Thread(target=run, name=f"{kind}-{job_id}", daemon=True).start()
    return job_id


def start_reclassify(settings: Settings, day: dt.date, who: str,
                     done: Callable[[str, dict], object] = lambda status, result: None) -> str:
    """Reclassify and publish `day` in a thread -> the job's id. `done(status, result)` is called at the
    end, before the job is marked ended (status: published, held or failed; result: the run, or the error's key and text in both languages)."""
    check_free(settings)

    def work(progress) -> tuple[str, dict]:
        r = pipeline.reclassify(settings, day, progress=progress)
        return ("held" if r.get("held") else "published"), {"run_id": r["run_id"], "date": r["date"]}
    return start(settings, "reclassify", day.isoformat(), who, RECLASSIFY_STAGES, work, done)


# The stages of a what-if (the evaluation's, then the comparisons the caller makes): the page's progress bar.
WHATIF_STAGES = ("load", "metrics", "classify", "hysteresis", "rollup", "tables", "compare", "plan_ahead")


def start_whatif(settings: Settings, day: dt.date, ruleset_id: str | None, overrides: dict, key: str, who: str,
                 compare: Callable[..., tuple[str, dict]]) -> str:
    """Evaluate `day` under another ruleset or changed settings, publishing nothing, in a thread -> the job's id.
    `compare(ev, progress, trend_under)` makes the job's result from the evaluation: `trend_under(first)` is the
    month from `first` to `day` evaluated again under the same ruleset (geo/publish/planahead.py). The serving
    side never evaluates: it hands its comparison to the job."""
    def work(progress) -> tuple[str, dict]:
        ev = pipeline.evaluate(settings, day, ruleset_id, overrides, progress=progress)
        return compare(ev, progress, lambda first: planahead.trend_under(settings, ev.ruleset, day, (day - first).days + 1))
    return start(settings, "whatif", f"{day.isoformat()}|{key}", who, WHATIF_STAGES, work, join=True)


def get(store: Store, job_id: str) -> dict | None:
    with store.connect(readonly=True) as con:
        return jobs_table.get(con, job_id)
