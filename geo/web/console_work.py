"""The console's actions on the data: what-if and reclassify (jobs: the work runs beside the request, the page
follows it), declared levels and committee flags, the review of doubtful places, held runs released."""

from __future__ import annotations

import datetime as dt
import hashlib
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
from flask import (
    Blueprint,
    current_app,
    g,
    jsonify,
    redirect,
    request,
)
from flask.typing import ResponseReturnValue

from geo.base import config, i18n
from geo.base.config import Settings
from geo.base.errors import (
    AuthError,
    ForbiddenError,
    NotFoundError,
    ZonesError,
    http_status,
)
from geo.base.i18n import vn_date
from geo.base.params import parse_day as _parse_day
from geo.domain import audit, rulesets
from geo.ingest import declared, imports, reviews, uploads
from geo.publish import jobs, quality
from geo.serve import (
    auth,
    console,
    published,
    trend,
    whatif,
)
from geo.web import common as web
from geo.web import console as consoleviews
from geo.web import security

bp = Blueprint("console_work", __name__)


# A what-if changes at most this many settings at once.
WHATIF_MAX_SETTINGS = 20


@bp.route("/console/whatif", methods=["POST"])
@security.console_form("operator")
def console_whatif() -> ResponseReturnValue:
    """Evaluate a day (another ruleset or changed settings) without publishing: the units whose level would
    change against what is published for that day, with the reasons, and the month ahead and behind. Nothing is
    written but the job's result; it runs as a job (a national what-if takes seconds): the page follows it and
    shows the result when it ends. The changed settings are checked first, as the ruleset file's own are."""
    latest = web.store().latest_run()
    day = _parse_day(request.form.get("date") or (latest["date"] if latest else config.today().isoformat()))
    lines = [x.strip() for x in request.form.get("settings", "").splitlines() if x.strip()][:WHATIF_MAX_SETTINGS]
    ruleset_id = request.form.get("ruleset") or None
    settings, store = web.settings(), web.store()
    try:
        overrides = rulesets.parse_overrides(lines)
        chosen = rulesets.choose_ruleset(current_app.config["RULESETS"], day, ruleset_id, settings)
        rulesets.with_settings(chosen, overrides)  # refused here, before any job, when out of bounds
        key = hashlib.sha1(repr((ruleset_id, lines)).encode()).hexdigest()[:10]
        job_id = jobs.start_whatif(
            settings,
            day,
            ruleset_id,
            overrides,
            key,
            g.user["name"],
            lambda ev, progress, trend_under: whatif_result(settings, store, day, lines, ev, progress, trend_under),
        )
    except ZonesError as exc:
        return consoleviews.console_page(http_status(exc), error=web.http_text(exc.text(web.lang()), web.lang()))
    return redirect(f"/console?job={job_id}&lang={web.lang()}#job", code=303)


def whatif_result(settings: Settings, store: published.Store, day: dt.date, lines: list[str], ev: Any,
                  progress: Callable[[str], None], trend_under: Callable[[dt.date], list[dict]]) -> tuple[str, dict]:
    """A what-if's evaluation (`ev`: the job's pipeline.Evaluation, a type the web layer does not import; in the job's thread) compared with what is published, and the month under it beside
    the published month; the page's data in both languages kept as a file of the cache (the result names it)."""
    rows = whatif.diff(store, settings.runs_dir, ev)
    moved = whatif.outlook_diff(store, settings.runs_dir, ev)
    progress("compare")
    published = trend.trend(
        store, settings.runs_dir, settings.cache_dir, day - dt.timedelta(days=trend.DEFAULT_DAYS - 1), day
    )
    under = trend_under(dt.date.fromisoformat(published["days"][0]["date"]) if published["days"] else day)
    progress("plan_ahead")
    pages_data = {
        lang: {
            **console.whatif_result(rows, ev, lang, lines),
            **console.plan_ahead(moved, published, under, ev.ruleset, lang),
        }
        for lang in ("vi", "en")
    }
    name = console.keep_whatif(settings.cache_dir, pages_data)
    return "done", {"whatif": name, "date": day.isoformat(), "changes": len(rows)}


@bp.route("/console/reclassify", methods=["POST"])
@security.console_form("operator")
def console_reclassify() -> ResponseReturnValue:
    """Reclassify and publish a day: the work runs beside the request (geo/publish/jobs.py) and the page
    shows its stages as they pass; one at a time (the writer lock's message when busy). A run the
    data-quality gate holds is listed with its reasons, to release or correct."""
    day = _parse_day(request.form.get("date") or config.today().isoformat())
    user, remote, store = dict(g.user), request.remote_addr, web.store()

    def done(status: str, result: dict) -> None:  # in the job's thread: no request context
        audit.record(
            store,
            user["name"],
            user["role"],
            "http",
            "reclassify",
            status if status != "failed" else f"failed: {result['error']}",
            result.get("run_id") or day.isoformat(),
            remote=remote,
            detail={
                "date": day.isoformat(),
                "via": "console",
                **({"error": result["en"]} if status == "failed" else {}),
            },
        )

    try:
        job_id = jobs.start_reclassify(web.settings(), day, user["name"], done)
    except ZonesError as exc:
        web.audit("reclassify", f"failed: {exc.key}", target=day.isoformat(), detail=exc.text("en"))
        return consoleviews.console_page(http_status(exc), error=web.http_text(exc.text(web.lang()), web.lang()))
    return redirect(f"/console?job={job_id}&lang={web.lang()}#job", code=303)


@bp.get("/console/jobs/<job_id>")
def console_job(job_id: str) -> ResponseReturnValue:
    """A console job's progress (JSON, polled by the page): stage, share done, and the outcome at the end."""
    if g.get("token_via") != "session" or not auth.allows(g.user, "operator"):
        raise (
            AuthError("auth_needed")
            if g.user is None
            else ForbiddenError(
                "auth_role", name=g.user["name"], role=g.user["role"], action="console_job", needed="operator"
            )
        )
    view = console.job_view(jobs.get(web.store(), job_id), web.lang())
    if view is None:
        raise NotFoundError("not_found", what=f"job {job_id}")
    return web.cached(jsonify(view), "no-store")


@bp.route("/console/declare", methods=["POST"])
@security.console_form("operator")
def console_declare() -> ResponseReturnValue:
    """A declared level for one unit (the declarations importer, one row): who declares is who is signed in."""
    row = {k: request.form.get(k, "").strip() for k in ("unit", "level", "from", "until", "decision", "reason")}
    row["by"] = g.user["name"]
    try:
        r = declared.declare_table(
            web.store(), pd.DataFrame([row]), None, web.settings().rejects_dir, config.today(), raise_bad=False
        )
    except ZonesError as exc:
        return _failed("declare", row["unit"], exc)
    message = i18n.word("console", "declared", web.lang()).format(unit=row["unit"], level=row["level"])
    return _one_row_answer("declare", row["unit"], r, row, message)


def _failed(action: str, target: str, exc: ZonesError) -> ResponseReturnValue:
    """The console page with what stopped an action, audited."""
    web.audit(action, f"failed: {exc.key}", target=target, detail=exc.text("en"))
    return consoleviews.console_page(http_status(exc), error=web.http_text(exc.text(web.lang()), web.lang()))


def _one_row_answer(action: str, target: str, result: dict, row: dict, message: str, where: int = 1) -> ResponseReturnValue:
    """The console's answer to one row given to an importer: the row's reasons when it was refused, else
    `message`; audited either way. A reason opens with `where` parts saying where ("row 2: ", or a file's
    "f.csv:2: code: "), which the operator, who typed the row, does not need."""
    if result.get("rejected"):
        web.audit(action, "refused: row", target=target, detail=result.get("reasons"))
        reasons = (x.split(": ", where)[-1] for x in result["reasons"])
        return consoleviews.console_page(400, error="; ".join(i18n.row_reason(x, web.lang()) for x in reasons))
    web.audit(action, "ok", target=target, detail={**row, "via": "console"})
    return consoleviews.console_page(message=message)


@bp.route("/console/review", methods=["POST"])
@security.console_form("operator")
def console_review() -> ResponseReturnValue:
    """An operator's choice for a doubtful announced place (geo/ingest/reviews.py): a commune, or none; the
    waiting rows are counted at once and the choice is remembered for later imports (audited)."""
    key = request.form.get("review_key", "").strip()[:300]
    code = request.form.get("code", "").strip()[:20]
    try:
        r = reviews.decide(web.store(), key, None if code in ("", "none") else code, g.user["name"])
    except ZonesError as exc:
        return _failed("review-decide", key, exc)
    web.audit("review-decide", "ok", target=key, detail={**r, "via": "console"})
    return consoleviews.console_page(
        message=i18n.t(
            "review_decided" if r["code"] else "review_dropped",
            web.lang(),
            place=key,
            code=r["code"] or "",
            rows=r["rows"],
            cases=r["cases"],
        )
    )


@bp.route("/console/flag", methods=["POST"])
@security.console_form("operator")
def console_flag() -> ResponseReturnValue:
    """Set or clear a committee flag for a commune (the flags importer, one row; audited)."""
    row = {
        "code": request.form.get("code", "").strip(),
        "date": request.form.get("date", "").strip(),
        "flag": request.form.get("flag", ""),
        "value": request.form.get("value", "true"),
        "author": g.user["name"],
        "end_date": request.form.get("end_date", "").strip(),
    }
    folder = Path(tempfile.mkdtemp(prefix=uploads.TEMP_PREFIX))
    try:
        path = folder / "co-ban-chi-dao.csv"
        pd.DataFrame([row]).to_csv(path, index=False)
        r = imports.run("flags", web.settings(), path, {})
    except ZonesError as exc:
        return _failed("import-flags", row["code"], exc)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    message = i18n.word("console", "flag_set", web.lang()).format(code=row["code"], flag=row["flag"])
    return _one_row_answer("import-flags", row["code"], r, row, message, where=2)


@bp.route("/console/holds/<run_id>/publish", methods=["POST"])
@security.console_form("operator")
def console_publish_held(run_id: str) -> ResponseReturnValue:
    reason = request.form.get("reason", "").strip()
    if not reason:
        return consoleviews.console_page(400, error=i18n.word("console", "need_reason", web.lang()))
    run = quality.publish_anyway(web.settings(), run_id, g.user["name"], reason)
    web.audit("publish-anyway", "ok", target=run_id, detail={"reason": reason, "date": run["date"], "via": "console"})
    return consoleviews.console_page(
        message=i18n.word("console", "released", web.lang()).format(run_id=run_id, date=vn_date(run["date"]))
    )
