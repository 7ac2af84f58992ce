"""The Flask app factory: settings, rulesets checked, the web layer's blueprints (geo/web/), the command line.

Routes serve published runs only (files written by `reclassify`); nothing heavy runs in a request: long work
(a reclassification, a what-if) runs as a job the page follows (geo/publish/jobs.py).
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from geo import cli
from geo.base import config
from geo.base.errors import ZonesError
from geo.domain.rulesets import load_rulesets
from geo.web import (
    api,
    compression,
    console,
    console_work,
    decisions,
    errors,
    files,
    libraries,
    memory,
    ogcapi,
    pages,
    public,
    security,
    tiles,
)

ROOT = Path(__file__).resolve().parent
BLUEPRINTS = (pages.bp, api.bp, tiles.bp, ogcapi.bp, files.bp, console.bp, console_work.bp, decisions.bp, public.bp)


def create_app(test_config: dict | None = None) -> Flask:
    app = Flask(__name__)
    app.config.from_mapping(ZONES=config.from_env(test_config), VENDOR_DIR=str(ROOT / "node_modules"))
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["ZONES"].max_upload_mb * 1024 * 1024)
    if test_config:
        app.config.update({k: v for k, v in test_config.items() if not k.startswith("ZONES_")})
    app.json.ensure_ascii = False  # type: ignore[attr-defined]  # DefaultJSONProvider: Vietnamese as is
    try:  # rulesets are checked when the app starts: a broken file stops it with file, line and reason
        app.config["RULESETS"] = load_rulesets(app.config["ZONES"].ruleset_dir, app.config["ZONES"].verdicts_path)
    except ZonesError as exc:
        raise SystemExit(exc.text(app.config["ZONES"].lang)) from None
    security.install(app)
    compression.install(app)
    memory.install(app)
    libraries.install(app)
    for bp in BLUEPRINTS:
        app.register_blueprint(bp)
    errors.install(app)
    cli.register(app.cli, app.config)
    return app
