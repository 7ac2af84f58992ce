"""From proposal to decision: the approver's review of a run (/console/proposal), the approval (one transaction:
geo/ingest/decisions.py), and the decision's document (DOCX, PDF)."""

from __future__ import annotations

from flask import Blueprint, Response, current_app, g, redirect, request
from flask.typing import ResponseReturnValue

from geo.base import config, i18n
from geo.base.errors import AuthError, ForbiddenError, NotFoundError, ZonesError, http_status
from geo.base.params import choice as _choice
from geo.base.params import parse_day as _parse_day
from geo.ingest import decisions
from geo.serve import auth, proposals
from geo.serve import decision as document
from geo.web import common as web
from geo.web import security
from rules.ruleset import Ruleset

bp = Blueprint("decisions", __name__)


def _signed_in(role: str) -> dict:
    """The console's session user with `role` at least (a page read with the session, not a token)."""
    user = g.session if g.get("token_via") == "session" else None
    if user is None:
        raise AuthError("auth_needed")
    if not auth.allows(user, role):
        raise ForbiddenError("auth_role", name=user["name"], role=user["role"], action=security.action(), needed=role)
    return user


def _run(run_id: str | None, day: str | None) -> dict:
    store = web.store()
    run = store.published_run(run_id) if run_id else (
        store.run_for_date(_parse_day(day).isoformat()) if day else store.latest_run())
    if run is None:
        raise NotFoundError("no_run_id", run_id=run_id or day or "")
    return run


def _ruleset(run: dict) -> Ruleset:
    rulesets = current_app.config["RULESETS"]
    return rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"]


def _page(run: dict, province: str | None, status: int = 200, error: str | None = None,
          message: str | None = None) -> Response:
    user = _signed_in("approver")
    text = proposals.page(web.store(), web.settings().runs_dir, run, _ruleset(run), province, user, web.lang(), error,
                          message)
    return web.cached(Response(web.nonced(text), status=status, mimetype="text/html"), "no-store")


@bp.get("/console/proposal")
@security.open_view
def proposal_page() -> ResponseReturnValue:
    """A published run as the proposal for one province (`?date=`, `?run=`, `?province=`): approvers."""
    run = _run(request.args.get("run"), request.args.get("date"))
    made = proposals.decision(web.store(), request.args["approved"][:32]) if request.args.get("approved") else None
    message = i18n.t("decision_approved", web.lang(), number=made["number"], n=made["n_units"],
                     effective=i18n.vn_time(made["effective_at"])) if made else None
    return _page(run, request.args.get("province"), message=message)


@bp.route("/console/decisions", methods=["POST"])
@security.console_form("approver")
def approve() -> ResponseReturnValue:
    """The approval: every unit of the province whose approved level differs from the level in force is recorded
    with the decision, in one transaction; audited; the page of the decision's documents follows."""
    run = _run(request.form.get("run"), None)
    province = request.form.get("province", "")
    d = decisions.Decision(
        number=request.form.get("number", ""), signed=request.form.get("signed", ""),
        signer=request.form.get("signer", ""), signer_title=request.form.get("signer_title", ""),
        recipients=[r for r in request.form.get("recipients", "").splitlines() if r.strip()],
        changes=decisions.changes_from_form(request.form.items()))
    try:
        made = decisions.approve(web.store(), web.settings().runs_dir, run, _ruleset(run), province, d, g.user["name"],
                                 config.today())
    except ZonesError as exc:
        web.audit("decision-approve", f"failed: {exc.key}", target=d.number[:80])
        return _page(run, province, http_status(exc), web.http_text(exc.text(web.lang()), web.lang()))
    web.audit("decision-approve", "ok", target=made["number"],
              detail={"id": made["id"], "units": made["n_units"], "run": run["run_id"], "province": province})
    return redirect(f"/console/proposal?run={run['run_id']}&province={province}&lang={web.lang()}"
                    f"&approved={made['id']}#decisions", code=303)


@bp.get("/console/decisions/<decision_id>.<fmt>")
@security.open_view
def decision_document(decision_id: str, fmt: str) -> ResponseReturnValue:
    """The decision with its appendix as DOCX or PDF (operators and above, signed in)."""
    _signed_in("operator")
    _choice("format", fmt, tuple(document.FORMATS))
    s = web.settings()
    path = document.render(web.store(), s.cache_dir, decision_id[:32], fmt, current_app.config["RULESETS"],
                           s.decision_template)
    name = f"quyet-dinh-{decision_id[:32]}.{fmt}"
    return web.cached(web.send_file(path, mimetype=document.FORMATS[fmt], as_attachment=True, download_name=name,
                                    etag=True), "no-store")

