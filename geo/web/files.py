"""Exports and imports over HTTP: a published day as a file (aggregates only), an upload imported by the same
importer as the command line (checked, audited, deleted), declarations, held runs published."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from flask import (
    Blueprint,
    Response,
    g,
    jsonify,
    request,
)
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from geo.base import config, faults
from geo.base.errors import (
    ImportFailedError,
    InputError,
    ZonesError,
)
from geo.base.params import choice as _choice
from geo.base.vocabulary import EXPORT_FORMATS, HTTP_EXPORT_FORMATS, UNITS
from geo.ingest import declared, imports, uploads
from geo.publish import quality
from geo.serve import declared as in_force_now
from geo.serve import (
    export,
)
from geo.web import common as web
from geo.web import security, whichrun

bp = Blueprint("files", __name__)


@bp.record_once
def sweep_uploads(state: BlueprintSetupState) -> None:
    """When the app is made: uploads a killed worker left behind go (they may hold names and phones)."""
    uploads.sweep()


@bp.route("/api/imports/<kind>", methods=["POST"])
@security.writes("operator", admin_kinds=security.ADMIN_ONLY_IMPORTS)
def import_upload(kind: str) -> ResponseReturnValue:
    summary, ftype, digest, label = receive_and_import(kind)
    # an import's row reasons and notes are English (a reason per row, made for a million rows)
    return jsonify({"kind": kind, "file": label, "type": ftype, "sha256": digest, **web.http_value(summary, "en")})


def receive_and_import(kind: str, prepare: Callable[[Path, str], dict] | None = None) -> tuple[dict, str, str, str]:
    """An uploaded file (form field `file`) imported as `kind`, audited whatever happens, deleted after:
    -> (summary, type, SHA-256, the sender's file name). The API and the console share it; `prepare(path,
    label)` may add import options once the file is received (the console's column mapping)."""
    _choice("kind", kind, tuple(k for k in uploads.KINDS if k != "crosswalk"))
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        raise InputError("upload_missing")
    label = upload.filename or "upload"
    options: dict = {k: request.form.get(k) or None for k in ("community", "source_known", "crs", "boundary_version")}
    path = crosswalk = digest = None
    try:
        try:
            path, ftype, digest = uploads.receive(upload.stream, label, kind)
            if kind == "units" and request.files.get("crosswalk") is not None:
                cw = request.files["crosswalk"]
                crosswalk = uploads.receive(cw.stream, cw.filename or "crosswalk", "crosswalk")[0]
                options["crosswalk_path"] = crosswalk
            if kind == "units" and not options["boundary_version"]:
                options["boundary_version"] = path.stem
            if prepare is not None:
                options.update(prepare(path, label))
            summary = imports.run(kind, web.settings(), path, options)
        except ZonesError as exc:
            web.audit(
                f"import-{kind}",
                f"refused: {exc.key}" if path is None else f"failed: {exc.key}",
                file_name=label,
                detail=web.http_text(exc.text("en"), "en"),
                sha256=digest,
            )
            raise
        except Exception as exc:  # whatever went wrong: audited, a clear answer, nothing half-stored
            fault = faults.classify(exc, where=str(web.settings().data_dir))
            try:
                web.audit(
                    f"import-{kind}",
                    f"failed: {fault.key if fault else 'internal'}",
                    file_name=label,
                    detail=type(exc).__name__,
                    sha256=digest,
                )
            except Exception:  # noqa: BLE001 - a store that cannot be written cannot audit either
                pass
            if fault is not None:
                raise fault from exc
            raise ImportFailedError("import_failed", name=label) from exc
    finally:
        uploads.discard(path)
        uploads.discard(crosswalk)
    web.audit(f"import-{kind}", "ok", file_name=label, detail=summary, sha256=digest)
    return summary, ftype, digest, label


@bp.route("/api/declarations", methods=["POST"])
@security.writes("operator")
def declare_api() -> ResponseReturnValue:
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise InputError(
            "bad_param",
            name="body",
            value=request.get_data(as_text=True)[:100],
            allowed='JSON {"unit", "level", "from", "until", "decision", "reason"}',
        )
    row = {k: str(body.get(k) or "") for k in ("unit", "level", "from", "until", "decision", "reason")}
    row["by"] = g.user["name"]  # who declares is who is logged in, not what the body says
    try:
        r = declared.declare_table(web.store(), pd.DataFrame([row]), None, web.settings().rejects_dir, config.today())
    except ZonesError as exc:
        web.audit("declare", f"failed: {exc.key}", target=row["unit"], detail=exc.text("en"))
        raise
    web.audit("declare", "ok", target=row["unit"], detail=row)
    return jsonify({"recorded": row, "changed": r.get("changed", 0)})


@bp.route("/api/holds/<run_id>/publish", methods=["POST"])
@security.writes("operator")
def publish_held(run_id: str) -> ResponseReturnValue:
    body = request.get_json(silent=True) or {}
    reason = str(body.get("reason") or "").strip()
    if not reason:
        raise InputError("bad_param", name="reason", value="", allowed="why the held run is published anyway")
    run = quality.publish_anyway(web.settings(), run_id, g.user["name"], reason)
    web.audit("publish-anyway", "ok", target=run_id, detail={"reason": reason, "date": run["date"]})
    return jsonify({"published": run_id, "date": run["date"]})


@bp.get("/api/exports/<fmt>")
def export_api(fmt: str) -> ResponseReturnValue:
    _choice("format", fmt, HTTP_EXPORT_FORMATS)
    run = whichrun.run_from_request()
    unit = whichrun.run_unit(run, request.args.get("unit", "commune"), UNITS + (("lockdown",) if fmt != "xlsx" else ()))
    since = whichrun.run_by_id(request.args["since"]) if "since" in request.args else None
    if since and unit == "lockdown":
        raise InputError("bad_param", name="since", value=since["run_id"], allowed="commune, district, province")
    # the decisions in force are in the file too: a new one makes a new file (and a new ETag)
    decided = in_force_now.digest(in_force_now.in_force(web.store(), run["boundary_version"], run["date"]))
    etag = hashlib.sha1(f"{run['run_id']}|{unit}|{fmt}|{since and since['run_id']}|{decided}".encode()).hexdigest()[:24]
    if etag in request.if_none_match:
        return Response(status=304, headers={"ETag": f'"{etag}"', "Cache-Control": web.SHORT})
    s = web.settings()
    path = export.export_file(
        web.store(),
        s.runs_dir,
        run,
        unit,
        fmt,
        s.cache_dir,
        since,
        export.feature_lines(web.store(), s.runs_dir, s.cache_dir, unit),
    )
    suffix = f"-since-{since['date']}" if since else ""
    resp = web.send_file(
        path,
        mimetype=EXPORT_FORMATS[fmt].mime,
        as_attachment=True,
        etag=False,
        download_name=f"{unit}-{run['date']}{suffix}.{EXPORT_FORMATS[fmt].extension}",
    )
    resp.set_etag(etag)
    resp.headers["Cache-Control"] = web.run_cache()
    resp.headers["X-Boundary-Version"] = run["boundary_version"]
    return resp
