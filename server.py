"""Flask app factory, HTTP routes and CLI commands. Thin: the work is in geo/ and rules/.

Routes serve published runs only (files written by `reclassify`); nothing heavy runs in a request.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import shutil
import sys
from pathlib import Path

import click
from flask.cli import AppGroup
from flask import Flask, Response, abort, jsonify, redirect, request, send_file, send_from_directory
from werkzeug.exceptions import HTTPException

from geo import config, i18n
from geo.errors import InputError, NotFoundError, ZonesError, http_status
from geo.store import Store

ROOT = Path(__file__).resolve().parent
UNITS = ("commune", "district", "province")
LEVEL_IDS = ("safe", "risk", "high_risk", "very_high_risk", "unknown")
EXPORT_FORMATS = ("geojson", "csv", "gpkg", "html")
# Run-addressed URLs never change: cache for a year. "Latest"/dated URLs: a minute.
IMMUTABLE = "public, max-age=31536000, immutable"
SHORT = "public, max-age=60"
RUN_ID_RE = re.compile(r"^[0-9A-Za-z_\-]{6,64}$")
# npm packages whose files the pages may load (everything else under node_modules stays private).
VENDOR_PACKAGES = ("leaflet", "jquery", "leaflet.vectorgrid")
# The committee page's own script and style (geo/static).
ASSETS = ("committee.js", "committee.css")


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(ZONES=config.from_env(test_config), VENDOR_DIR=str(ROOT / "node_modules"))
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if not k.startswith("ZONES_")})
    app.json.ensure_ascii = False
    # Rulesets are checked when the app starts: a broken file stops it with file, line and reason.
    from geo.pipeline import load_rulesets
    try:
        app.config["RULESETS"] = load_rulesets(app.config["ZONES"].ruleset_dir)
    except ZonesError as exc:     # a broken ruleset file stops the app with file, line and reason
        raise SystemExit(exc.text(app.config["ZONES"].lang)) from None
    _routes(app)
    _errors(app)
    _cli(app)
    return app


def _settings(app=None) -> config.Settings:
    from flask import current_app
    return (app or current_app).config["ZONES"]


def _store() -> Store:
    return Store(_settings().db_path)


# -- run lookup ------------------------------------------------------------------------------

def _parse_day(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InputError("bad_date", value=value) from None


def _parse_as_of(value: str) -> str:
    try:
        return config.parse_instant(value)
    except (TypeError, ValueError):
        raise InputError("bad_param", name="as_of", value=value, allowed="ISO time, e.g. 2021-08-01T07:00") from None


def _choice(name: str, value: str, allowed) -> str:
    if value not in allowed:
        raise InputError("bad_param", name=name, value=value, allowed=", ".join(allowed))
    return value


def _run_from_request() -> dict:
    store = _store()
    if "run" in request.args:
        return _run_by_id(request.args["run"])
    if "date" in request.args:
        day = _parse_day(request.args["date"]).isoformat()
        as_of = _parse_as_of(request.args["as_of"]) if "as_of" in request.args else None
        run = store.run_for_date(day, as_of)
        if run is None:
            raise NotFoundError("no_run_for_date", date=day + (f" (as of {request.args['as_of']})" if as_of else ""))
        return run
    run = store.latest_run()
    if run is None:
        raise NotFoundError("no_run")
    return run


def _run_by_id(run_id: str) -> dict:
    run = _store().published_run(run_id) if RUN_ID_RE.match(run_id or "") else None
    if run is None:
        raise NotFoundError("no_run_id", run_id=run_id)
    return run


def _ruleset(ruleset_id: str):
    from flask import current_app
    from rules.expr import did_you_mean
    found = current_app.config["RULESETS"].get(ruleset_id)
    if found is None:
        raise NotFoundError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, current_app.config["RULESETS"]))
    return found


def _run_dir(run: dict) -> Path:
    return _settings().runs_dir / run["run_id"]


def _full_run_file(run: dict, name: str) -> Path:
    """A file only full runs have (map, tiles): a backfilled day has its levels, not its pictures."""
    path = _run_dir(run) / name
    if not path.exists():
        raise NotFoundError("levels_run", run_id=run["run_id"], date=run["date"])
    return path


def _geojson(run: dict, unit: str) -> Path:
    from geo.runfiles import geojson_path
    return geojson_path(_store(), _run_dir(run), unit, _settings().cache_dir)


def _lang() -> str:
    return i18n.lang(request.args.get("lang") or _settings().lang)


# -- routes ----------------------------------------------------------------------------------

def _routes(app: Flask) -> None:
    @app.get("/")
    def index():
        return redirect("/map")

    @app.get("/map")
    def map_page():
        from geo import raster, viewer
        run = _run_from_request()
        s = _settings()
        rulesets = app.config["RULESETS"]
        ruleset = rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"]
        extent = run["manifest"].get("bounds", {}).get("province") or raster.bounds(_store(), run["boundary_version"])
        text = viewer.page(run, ruleset, _lang(), extent,
                           s.basemap_url, s.basemap_attribution)
        resp = Response(text, mimetype="text/html")
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/favicon.ico")
    def favicon():
        return Response(status=204)

    @app.get("/assets/<name>")
    def assets(name):
        if name not in ASSETS:
            abort(404)
        resp = send_from_directory(ROOT / "geo" / "static", name)
        resp.headers["Cache-Control"] = "public, max-age=3600"
        return resp

    @app.get("/api/zones.geojson")
    def zones_geojson():
        unit = _choice("unit", request.args.get("unit", "commune"), UNITS)
        run = _run_from_request()
        resp = send_file(_geojson(run, unit), mimetype="application/geo+json", etag=True)
        resp.headers["Cache-Control"] = IMMUTABLE if "run" in request.args else SHORT
        return resp.make_conditional(request)

    @app.get("/api/zones/<code>")
    def zone(code):
        from geo.runfiles import unit_properties
        unit = _choice("unit", request.args.get("unit", "commune"), UNITS)
        run = _run_from_request()
        props = unit_properties(_run_dir(run), unit, code)
        if props is None:
            raise NotFoundError("not_found", what=f"{unit} {code}")
        resp = jsonify(props)
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/api/level")
    def level_at():
        from geo import lookup
        lon, lat = _float_arg("lon", -180, 180), _float_arg("lat", -90, 90)
        run = _run_from_request()
        resp = jsonify(lookup.at_point(_store(), _run_dir(run), run["boundary_version"], lon, lat))
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/api/search")
    def search():
        from geo import lookup
        version = _store().current_boundary_version()
        if version is None:
            raise NotFoundError("no_run")
        return jsonify({"results": lookup.search(_store(), version, request.args.get("q", "")[:100])})

    @app.get("/api/zones/<code>/history")
    def zone_history(code):
        from geo import lookup
        unit = _choice("unit", request.args.get("unit", "commune"), UNITS)
        end = _parse_day(request.args["date"]) if "date" in request.args else dt.date.fromisoformat(_run_from_request()["date"])
        days = int(_float_arg("days", 1, lookup.MAX_DAYS)) if "days" in request.args else lookup.HISTORY_DAYS
        resp = jsonify(lookup.unit_history(_store(), _settings().runs_dir, unit, code, end, days))
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/api/lockdowns.geojson")
    def lockdowns_geojson():
        run = _run_from_request()
        resp = send_file(_geojson(run, "lockdown"), mimetype="application/geo+json", etag=True)
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/runs/<run_id>/display/<unit>.geojson")
    def display_geojson(run_id, unit):
        _choice("unit", unit, UNITS + ("lockdown",))
        run = _run_by_id(run_id)
        resp = send_file(_full_run_file(run, f"display/{unit}.geojson"), mimetype="application/geo+json", etag=True)
        resp.headers["Cache-Control"] = IMMUTABLE
        return resp.make_conditional(request)

    @app.get("/api/rulesets")
    def rulesets():
        from geo import rulesinfo
        return jsonify({"rulesets": [rulesinfo.summary(rs) for rs in app.config["RULESETS"].values()]})

    @app.get("/api/rulesets/<ruleset_id>")
    def ruleset_detail(ruleset_id):
        from geo import rulesinfo
        return jsonify(rulesinfo.describe(_ruleset(ruleset_id)))

    @app.get("/rulesets/<ruleset_id>")
    def ruleset_page(ruleset_id):
        from geo import rulesinfo
        return Response(rulesinfo.page(_ruleset(ruleset_id), _lang()), mimetype="text/html")

    @app.get("/report")
    def report_page():
        from geo import report
        fmt = _choice("format", request.args.get("format", "html"), tuple(report.FORMATS))
        run = _run_from_request()
        s = _settings()
        path = report.render(_store(), s.runs_dir, s.cache_dir, dt.date.fromisoformat(run["date"]), fmt, _lang(),
                             app.config["RULESETS"])
        resp = send_file(path, mimetype=report.FORMATS[fmt], etag=True, as_attachment=fmt != "html",
                         download_name=f"bao-cao-{run['date']}.{fmt}")
        resp.headers["Cache-Control"] = SHORT
        return resp.make_conditional(request)

    @app.get("/api/changes")
    def changes_api():
        from geo import changes
        if "to" not in request.args:
            raise InputError("bad_param", name="to", value="", allowed="a date YYYY-MM-DD")
        to_day = _parse_day(request.args["to"])
        from_day = _parse_day(request.args["from"]) if "from" in request.args else None
        unit = request.args.get("unit")
        units = (_choice("unit", unit, UNITS),) if unit else UNITS
        rows, after, before = changes.changes(_store(), _settings().runs_dir, to_day, from_day, units)
        if request.args.get("all", "false").lower() not in ("1", "true", "yes"):
            rows = rows[rows["change"] != "same"]
        body = {"from": before["date"] if before else None, "to": after["date"],
                "run_from": before["run_id"] if before else None, "run_to": after["run_id"],
                "changes": json.loads(rows.to_json(orient="records", force_ascii=False))}
        resp = jsonify(body)
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/api/runs")
    def runs():
        out = []
        for r in _store().published_runs():
            m = r["manifest"]
            row = {k: m.get(k) for k in ("run_id", "date", "created_at", "ruleset", "ruleset_sha256",
                                         "boundary_version", "input_hashes", "code_version", "counts",
                                         "community_cases_in_window", "n_active_lockdowns")}
            out.append({**row, "kind": m.get("kind", "full")})
        return jsonify({"runs": out})

    @app.get("/tiles/<unit>/tilejson.json")
    def tilejson_latest(unit):
        resp = jsonify(_tilejson(_run_from_request(), unit))
        resp.headers["Cache-Control"] = SHORT
        return resp

    @app.get("/tiles/runs/<run_id>/<unit>/tilejson.json")
    def tilejson_run(run_id, unit):
        resp = jsonify(_tilejson(_run_by_id(run_id), unit))
        resp.headers["Cache-Control"] = IMMUTABLE
        return resp

    @app.get("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.mvt")
    def tile(run_id, unit, z, x, y):
        from geo import tiles
        _choice("unit", unit, tiles.LAYERS)
        run = _run_by_id(run_id)
        _check_tile(z, x, y, 24)
        if unit == "lockdown" and run["manifest"].get("n_active_lockdowns") == 0:
            data = None       # a day without lockdowns has no lockdown tiles: every tile is empty
        else:
            data = tiles.read_tile(_full_run_file(run, f"tiles/{unit}.mbtiles"), z, x, y)
        return _tile_response(data, "application/vnd.mapbox-vector-tile", f"{run_id}/{unit}/{z}/{x}/{y}")

    @app.get("/tiles/runs/<run_id>/<unit>/<int:z>/<int:x>/<int:y>.png")
    def raster_tile(run_id, unit, z, x, y):
        from geo import raster
        _choice("unit", unit, raster.LAYERS)
        run = _run_by_id(run_id)
        _check_tile(z, x, y, raster.MAX_ZOOM)
        palette = _choice("palette", request.args.get("palette", "official"), tuple(raster.PALETTES))
        levels = None
        if request.args.get("levels"):
            levels = frozenset(_choice("levels", v, LEVEL_IDS) for v in request.args["levels"].split(","))
        data = raster.tile(_store(), _run_dir(run), run["boundary_version"], unit, z, x, y, _settings().cache_dir,
                           palette, levels, run["manifest"].get("bounds", {}).get("province"))
        return _tile_response(data, "image/png", f"{run_id}/{unit}/{z}/{x}/{y}.png?{request.query_string.decode()}")

    @app.get("/vendor/<package>/<path:filename>")
    def vendor(package, filename):
        if package not in VENDOR_PACKAGES:
            abort(404)
        resp = send_from_directory(Path(app.config["VENDOR_DIR"]) / package, filename)
        resp.headers["Cache-Control"] = "public, max-age=86400"
        return resp


def _float_arg(name: str, lo: float, hi: float) -> float:
    try:
        v = float(request.args[name])
    except (KeyError, ValueError):
        raise InputError("bad_param", name=name, value=request.args.get(name, ""), allowed=f"a number in [{lo}, {hi}]") from None
    if not lo <= v <= hi:
        raise InputError("bad_param", name=name, value=v, allowed=f"a number in [{lo}, {hi}]")
    return v


def _check_tile(z: int, x: int, y: int, max_zoom: int) -> None:
    if not (0 <= z <= max_zoom and 0 <= x < (1 << z) and 0 <= y < (1 << z)):
        raise InputError("bad_param", name="z/x/y", value=f"{z}/{x}/{y}", allowed=f"0 <= x, y < 2^z, z <= {max_zoom}")


def _tile_response(data: bytes | None, mimetype: str, key: str) -> Response:
    """Run-addressed tiles never change: immutable, with an ETag; an empty tile is 204."""
    resp = Response(data or b"", status=200 if data else 204, mimetype=mimetype)
    resp.headers["Cache-Control"] = IMMUTABLE
    resp.set_etag(hashlib.sha1(key.encode()).hexdigest()[:20])
    return resp.make_conditional(request)


def _tilejson(run: dict, unit: str) -> dict:
    """TileJSON 3.0.0 of a run's vector tiles, or with ?format=png of its raster tiles."""
    from geo import raster, tiles
    m = run["manifest"]
    base = request.host_url.rstrip("/")
    if _choice("format", request.args.get("format", "mvt"), ("mvt", "png")) == "png":
        _choice("unit", unit, raster.LAYERS)
        url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.png"
        return tiles.raster_tilejson(url, raster.bounds(_store(), m["boundary_version"]), raster.MAX_ZOOM,
                                     f"{unit} {m['date']} ({m['ruleset']})",
                                     f"run {run['run_id']}, boundaries {m['boundary_version']}")
    _choice("unit", unit, tiles.LAYERS)
    if not (unit == "lockdown" and m.get("n_active_lockdowns") == 0):
        _full_run_file(run, f"tiles/{unit}.mbtiles")
    url = f"{base}/tiles/runs/{run['run_id']}/{unit}/{{z}}/{{x}}/{{y}}.mvt"
    return tiles.tilejson(unit, url, m["bounds"][unit], f"{unit} {m['date']} ({m['ruleset']})",
                          f"run {run['run_id']}, boundaries {m['boundary_version']}")


def _errors(app: Flask) -> None:
    @app.errorhandler(ZonesError)
    def zones_error(exc: ZonesError):
        return jsonify({"error": exc.key, "message": exc.text(_lang())}), http_status(exc)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        return jsonify({"error": exc.name, "message": exc.description}), exc.code

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        app.logger.exception("unexpected error")
        return jsonify({"error": "internal", "message": "internal error; see the server log"}), 500


# -- CLI -------------------------------------------------------------------------------------

def _ruleset_or_fail(app, ruleset_id):
    from rules.expr import did_you_mean
    raise InputError("unknown_ruleset", id=ruleset_id, hint=did_you_mean(ruleset_id, app.config["RULESETS"]))


def _parse_overrides(items) -> dict:
    import yaml
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError("bad_param", name="--set", value=item, allowed="name=value")
        name, value = item.split("=", 1)
        out[name.strip()] = yaml.safe_load(value)
    return out


def _fail(exc: ZonesError):
    click.echo(exc.text(_settings().lang), err=True)
    sys.exit(2)


def _run_import(do) -> None:
    """Run one import (`do(settings)` returns its summary), print the summary, or fail cleanly."""
    s = _settings()
    try:
        summary = do(s)
    except ZonesError as exc:
        _fail(exc)
    _print_import(summary)


def _print_import(summary: dict) -> None:
    lang = _settings().lang
    where = i18n.t("rejects_at", lang, path=summary["rejects_path"]) if summary["rejects_path"] else ""
    click.echo(i18n.t("import_summary", lang, accepted=summary["accepted"], rejected=summary["rejected"], where=where))
    if summary.get("unchanged"):
        click.echo(i18n.t("unchanged", lang, n=summary["unchanged"]))
    for line in summary.get("reasons", []):
        click.echo("  " + line)


def _parse_bool_option(value):
    if value is None:
        return None
    v = value.strip().lower()
    if v in ("true", "1", "yes", "co", "có"):
        return True
    if v in ("false", "0", "no", "khong", "không"):
        return False
    raise click.BadParameter(f"expected true or false, got {value!r}")


def _cli(app: Flask) -> None:
    @app.cli.command("import-units")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--boundary-version", default=None, help="Name of this boundary version (default: file name).")
    @click.option("--column", "columns", multiple=True, help="Column mapping, e.g. code=MA_XA (repeatable).")
    @click.option("--crs", default=None, help="CRS to assume when the file has none, e.g. EPSG:4326.")
    def import_units_cmd(path, boundary_version, columns, crs):
        """Nhập ranh giới xã (mọi định dạng GDAL đọc được) / import commune boundaries."""
        from geo.units import import_units
        s = _settings()
        try:
            mapping = {}
            for item in columns:
                if "=" not in item:
                    raise InputError("bad_column_option", value=item)
                k, v = item.split("=", 1)
                mapping[k.strip()] = v.strip()
            r = import_units(_store(), path, boundary_version, mapping, crs, s.reports_dir,
                             progress=lambda st: click.echo(i18n.stage_label(st, s.lang), err=True))
        except ZonesError as exc:
            _fail(exc)
        click.echo(i18n.t("imported_units", s.lang, n=r["n_communes"], nd=r["n_districts"], np=r["n_provinces"],
                          version=r["version"]))
        if r["repaired"]:
            click.echo(i18n.t("repaired", s.lang, n=len(r["repaired"]), codes=", ".join(map(str, r["repaired"][:20]))))
        click.echo(i18n.t("topology", s.lang, report=r["report_path"], **{k: r[k] for k in
                                                                          ("n_overlaps", "overlap_km2", "n_gaps", "gap_km2")}))

    @app.cli.command("import-cases")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--community", default=None, help="true/false for rows without a community value.")
    @click.option("--source-known", default=None, help="true/false for rows without a source_known value.")
    def import_cases_cmd(path, community, source_known):
        """Nhập ca bệnh (danh sách ca hoặc số ca theo ngày, CSV/XLSX) / import cases."""
        from geo.cases import import_cases
        _run_import(lambda s: import_cases(_store(), path, s.rejects_dir, config.today(),
                                           _parse_bool_option(community), _parse_bool_option(source_known)))

    @app.cli.command("import-lockdowns")
    @click.argument("path", type=click.Path(path_type=Path))
    @click.option("--crs", default=None, help="CRS to assume when the file has none.")
    def import_lockdowns_cmd(path, crs):
        """Nhập vùng phong tỏa / import lockdown polygons."""
        from geo.lockdowns import import_lockdowns
        _run_import(lambda s: import_lockdowns(_store(), path, s.rejects_dir, config.today(), crs))

    @app.cli.command("import-flags")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_flags_cmd(path):
        """Nhập cờ của Ban Chỉ đạo (Y2) / import committee flags."""
        from geo.lockdowns import import_flags
        _run_import(lambda s: import_flags(_store(), path, s.rejects_dir, config.today()))

    @app.cli.command("import-indicators")
    @click.argument("path", type=click.Path(path_type=Path))
    def import_indicators_cmd(path):
        """Nhập độ bao phủ vắc xin, năng lực điều trị... theo đơn vị và ngày / import indicators."""
        from geo.indicators import import_indicators
        _run_import(lambda s: import_indicators(_store(), path, s.rejects_dir, config.today()))

    @app.cli.command("declare")
    @click.option("--unit", "unit_code", default=None, help="Mã đơn vị (xã, huyện hoặc tỉnh) / unit code.")
    @click.option("--level", default=None, help="safe | risk | high_risk | very_high_risk")
    @click.option("--from", "valid_from", default=None, help="YYYY-MM-DD or dd/mm/yyyy")
    @click.option("--until", "valid_until", default="", help="optional end date")
    @click.option("--decision", default=None, help='số quyết định, e.g. "123/QĐ-UBND"')
    @click.option("--by", "by", default=None, help="người ghi / who records it")
    @click.option("--reason", default="")
    @click.option("--file", "path", default=None, type=click.Path(path_type=Path), help="CSV/XLSX batch instead.")
    def declare_cmd(unit_code, level, valid_from, valid_until, decision, by, reason, path):
        """Ghi cấp độ Ban Chỉ đạo đã công bố / record an officially declared level."""
        import pandas as pd
        from geo import declared
        if path is not None:
            _run_import(lambda s: declared.declare_file(_store(), path, s.rejects_dir, config.today()))
            return
        row = {"unit": unit_code or "", "level": level or "", "from": valid_from or "", "until": valid_until,
               "decision": decision or "", "by": by or "", "reason": reason}
        _run_import(lambda s: declared.declare_table(_store(), pd.DataFrame([row]), None, s.rejects_dir, config.today()))

    @app.cli.command("reclassify")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today in Asia/Ho_Chi_Minh).")
    @click.option("--ruleset", default=None, help="Ruleset id (default: the one in force on the date).")
    @click.option("--dry-run", is_flag=True, help="Do not publish: print the difference against the published run.")
    @click.option("--set", "overrides", multiple=True, help="With --dry-run: change a setting, e.g. window_days=7.")
    @click.option("--out", default=None, help="With --dry-run: write the differences as CSV (- for stdout).")
    def reclassify_cmd(day, ruleset, dry_run, overrides, out):
        """Phân loại lại và công bố kết quả cho một ngày / reclassify and publish a day."""
        from geo.pipeline import evaluate, reclassify
        s = _settings()
        progress = lambda st: click.echo(i18n.stage_label(st, s.lang), err=True)  # noqa: E731
        try:
            d = _parse_day(day) if day else config.today()
            if not dry_run:
                if overrides or out:
                    raise InputError("bad_param", name="--set/--out", value=" ".join(overrides) or out,
                                     allowed="only with --dry-run")
                r = reclassify(s, d, ruleset, progress=progress)
            else:
                from geo.whatif import diff
                ev = evaluate(s, d, ruleset, _parse_overrides(overrides), progress=progress)
                changes = diff(_store(), s.runs_dir, ev)
        except ZonesError as exc:
            _fail(exc)
        if dry_run:
            click.echo(i18n.t("whatif", s.lang, date=d.isoformat(), ruleset=ev.ruleset.id, n=len(changes)))
            for row in changes.head(50).itertuples(index=False):
                click.echo(f"  {row.unit} {row.code} {row.name}: {row.published_level} → {row.new_level}  {row.new_explanation}")
            if out == "-":
                click.echo(changes.to_csv(index=False), nl=False)
            elif out:
                changes.to_csv(out, index=False)
            return
        click.echo(i18n.t("run_published", s.lang, run_id=r["run_id"], date=r["date"], ruleset=r["ruleset"]))
        for unit in UNITS:
            summary = ", ".join(f"{k}={v}" for k, v in r["counts"][unit].items())
            click.echo(i18n.t("level_summary", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))

    @app.cli.command("backfill")
    @click.option("--from", "start", required=True, help="First day, YYYY-MM-DD.")
    @click.option("--to", "end", required=True, help="Last day, YYYY-MM-DD.")
    @click.option("--ruleset", default=None, help="Ruleset id for every day (default: the one in force on each day).")
    def backfill_cmd(start, end, ruleset):
        """Phân loại lại và công bố từng ngày của một khoảng / reclassify and publish a date range."""
        from tqdm import tqdm
        from geo.backfill import backfill, days_between
        s = _settings()
        try:
            d1, d2 = _parse_day(start), _parse_day(end)
            bar = tqdm(total=len(days_between(d1, d2)), desc=i18n.t("backfill_bar", s.lang), unit=i18n.t("day_unit", s.lang),
                       file=sys.stderr, disable=None)
            runs = backfill(s, d1, d2, ruleset, progress=lambda st: bar.set_postfix_str(i18n.stage_label(st, s.lang)),
                            day_done=lambda run: (bar.set_postfix_str(run["date"]), bar.update()))
            bar.close()
        except ZonesError as exc:
            _fail(exc)
        click.echo(i18n.t("backfilled", s.lang, n=len(runs), start=d1.isoformat(), end=d2.isoformat(),
                          rulesets=", ".join(sorted({r["ruleset"] for r in runs}))))
        for unit in UNITS:
            summary = ", ".join(f"{k}={sum(r['counts'][unit][k] for r in runs)}" for k in runs[-1]["counts"][unit])
            click.echo(i18n.t("level_summary_days", s.lang, unit=i18n.unit_label(unit, s.lang), summary=summary))

    @app.cli.command("report")
    @click.option("--date", "day", default=None, help="YYYY-MM-DD of a published run (default: today).")
    @click.option("--format", "fmt", type=click.Choice(["html", "xlsx", "pdf"]), default="html")
    @click.option("--out", required=True, help="Output file.")
    def report_cmd(day, fmt, out):
        """Báo cáo buổi sáng: thay đổi so với lần trước / the morning report."""
        from geo import report
        s = _settings()
        try:
            d = _parse_day(day) if day else config.today()
            path = report.render(_store(), s.runs_dir, s.cache_dir, d, fmt, i18n.lang(s.lang), app.config["RULESETS"])
        except ZonesError as exc:
            _fail(exc)
        shutil.copyfile(path, out)
        click.echo(i18n.t("report_written", s.lang, date=d.isoformat(), fmt=fmt, path=out))

    @app.cli.command("nginx-conf")
    @click.option("--listen", default="80", help="nginx listen address (port or host:port).")
    @click.option("--upstream", default="127.0.0.1:8000", help="Where gunicorn listens.")
    def nginx_conf_cmd(listen, upstream):
        """In cấu hình nginx đặt trước dịch vụ / print the nginx site for this data folder."""
        text = (ROOT / "deploy" / "nginx-zones.conf").read_text(encoding="utf-8")
        click.echo(text.replace("@LISTEN@", listen).replace("@UPSTREAM@", upstream)
                   .replace("@RUNS@", str(_settings().runs_dir)), nl=False)

    rules_cli = AppGroup("rules", help="Bộ quy tắc: kiểm tra, liệt kê, đánh giá bảng / rulesets.")
    app.cli.add_command(rules_cli)

    @rules_cli.command("check")
    @click.argument("path", type=click.Path(path_type=Path))
    def rules_check(path):
        """Kiểm tra một tệp bộ quy tắc (tên, cấp, chu trình, ví dụ) / check a ruleset file."""
        from geo import metrics
        from rules import examples, ruleset as rs_mod
        s = _settings()
        try:
            rs = rs_mod.load(path, metrics.COMMUNE_INPUTS, metrics.ROLLUP_INPUTS)
        except rs_mod.RulesetError as exc:
            click.echo(str(exc), err=True)
            sys.exit(2)
        click.echo(i18n.t("ruleset_ok", s.lang, path=path, id=rs.id, n_rules=sum(len(x.rules) for _, x in rs.sections()),
                          n_examples=examples.check(rs)))

    @rules_cli.command("list")
    def rules_list():
        """Liệt kê mọi tiêu chí và căn cứ pháp lý / list every rule with its legal reference."""
        from geo import rulesinfo
        for line in rulesinfo.list_lines(app.config["RULESETS"], i18n.lang(_settings().lang)):
            click.echo(line)

    @rules_cli.command("evaluate")
    @click.option("--ruleset", "ruleset_id", required=True)
    @click.option("--input", "input_path", required=True, type=click.Path(path_type=Path))
    @click.option("--output", "output_path", required=True, help="CSV file, or - for standard output.")
    def rules_evaluate(ruleset_id, input_path, output_path):
        """Đánh giá một bảng chỉ số (không hình học) / evaluate a ruleset on a plain table."""
        from geo.evaluate import evaluate_table
        s = _settings()
        try:
            rs = app.config["RULESETS"].get(ruleset_id) or _ruleset_or_fail(app, ruleset_id)
            table, skipped = evaluate_table(rs, input_path)
        except ZonesError as exc:
            _fail(exc)
        text = table.to_csv(index=False)
        if output_path == "-":
            click.echo(text, nl=False)
            return
        Path(output_path).write_text(text, encoding="utf-8")
        counts = table["level"].value_counts()
        summary = ", ".join(f"{lv}={int(counts.get(lv, 0))}" for lv in rs.level_ids + ["unknown"])
        if skipped:
            click.echo(i18n.t("skipped_adjacency", s.lang, ids=", ".join(skipped)))
        click.echo(i18n.t("evaluated", s.lang, n=len(table), id=rs.id, summary=summary, path=output_path))

    @app.cli.command("export")
    @click.option("--date", "day", required=True, help="YYYY-MM-DD of a published run.")
    @click.option("--unit", type=click.Choice(UNITS), default="commune")
    @click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="geojson")
    @click.option("--out", required=True, help="Output file, or - for standard output.")
    @click.option("--as-of", "as_of", default=None, help="What had been published at this time (ISO, Vietnam time).")
    def export_cmd(day, unit, fmt, out, as_of):
        """Xuất kết quả đã công bố / export a published run."""
        from geo.export import export
        s = _settings()
        try:
            run = _store().run_for_date(_parse_day(day).isoformat(), _parse_as_of(as_of) if as_of else None)
            if run is None:
                raise NotFoundError("no_run_for_date", date=day)
            if fmt == "html":
                from geo import offline
                rulesets = app.config["RULESETS"]
                text = offline.page(_store(), s.runs_dir / run["run_id"], run,
                                    rulesets.get(run["manifest"]["ruleset"]) or rulesets["qd2686"], i18n.lang(s.lang),
                                    Path(app.config["VENDOR_DIR"]))
                if out == "-":
                    raise InputError("export_format", fmt="html (stdout)", unit=unit)
                Path(out).write_text(text, encoding="utf-8")
                n = sum(run["manifest"]["counts"]["commune"].values())
            else:
                n = export(_store(), s.runs_dir / run["run_id"], unit, fmt, out, s.cache_dir)
        except ZonesError as exc:
            _fail(exc)
        if out != "-":
            click.echo(i18n.t("exported", s.lang, n=n, path=out))
