"""The OpenAPI 3.0 document of the read API (OGC API - Features and our own routes) and of the operator's
console (its form posts need a signed-in session cookie and the session's CSRF token in the form).

Built from the same constants the routes check, so the document and the server cannot drift
apart on collections, levels, formats or limits. Schemathesis reads it in the tests.
"""
from __future__ import annotations

from geo.base.columns import FLAG_NAMES
from geo.base.vocabulary import HTTP_EXPORT_FORMATS, UNITS
from geo.serve import auth, blank, console, ogc

DATE = {"type": "string", "format": "date", "example": "2021-07-31"}
RUN_ID = {"type": "string", "pattern": "^[0-9A-Za-z_\\-]{6,64}$"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LANG = {"name": "lang", "in": "query", "required": False, "schema": {"type": "string", "enum": ["vi", "en"]}}
# A console write without a session, its CSRF token or the role.
CONSOLE_REFUSALS = {"401": {"description": "Not signed in"}, "403": {"description": "CSRF token or role refused"}}


def _param(name: str, schema: dict, where: str = "query", required: bool = False, description: str = "") -> dict:
    p = {"name": name, "in": where, "required": required or where == "path", "schema": schema}
    if description:
        p["description"] = description
    if name == "bbox":
        p.update(style="form", explode=False)
    return p


def _ok(mime: str, schema: dict | None = None, description: str = "OK", extra: dict | None = None) -> dict:
    out = {"200": {"description": description, "content": {mime: {"schema": schema or {"type": "object"}}}},
           "400": {"$ref": "#/components/responses/Error"}, "404": {"$ref": "#/components/responses/Error"}}
    out.update(extra or {})
    return out


def _get(summary: str, params: list[dict], responses: dict, tag: str) -> dict:
    return {"get": {"summary": summary, "tags": [tag], "parameters": params, "responses": responses}}


def _run_selectors() -> list[dict]:
    return [_param("date", DATE, description="a published day (default: the latest)"),
            _param("run", RUN_ID, description="a run id (immutable)"),
            _param("as_of", {"type": "string"}, description="what had been published at this time")]


def _ogc_paths() -> dict:
    unit = _param("collectionId", {"type": "string", "enum": list(ogc.COLLECTIONS)}, "path")
    items_params = [unit,
                    _param("bbox", {"type": "array", "items": {"type": "number"}, "minItems": 4, "maxItems": 6}),
                    _param("limit", {"type": "integer", "minimum": 1, "maximum": ogc.MAX_LIMIT, "default": ogc.DEFAULT_LIMIT}),
                    _param("offset", {"type": "integer", "minimum": 0}),
                    _param("datetime", {"type": "string"}, description="RFC 3339 instant or interval: the newest published day in it"),
                    _param("run", RUN_ID)]
    all_q = sorted({q for qs in ogc.QUERYABLES.values() for q in qs})
    for q in all_q:
        schema = ({"type": "string", "enum": list(ogc.LEVELS)} if q in ("level", "declared_level")
                  else {"type": "boolean"} if q in ogc.BOOL_QUERYABLES else {"type": "string"})
        items_params.append(_param(q, schema, description="equality filter (collections that have it)"))
    fc = {"$ref": "#/components/schemas/FeatureCollection"}
    return {
        "/ogc": _get("Landing page", [], _ok(ogc.JSON), "OGC API"),
        "/ogc/conformance": _get("Conformance classes", [], _ok(ogc.JSON), "OGC API"),
        "/ogc/api": _get("This document", [], _ok(ogc.OPENAPI), "OGC API"),
        "/ogc/collections": _get("Collections", [_param("datetime", {"type": "string"}), _param("run", RUN_ID)],
                                 _ok(ogc.JSON), "OGC API"),
        "/ogc/collections/{collectionId}": _get("A collection", [unit], _ok(ogc.JSON), "OGC API"),
        "/ogc/collections/{collectionId}/queryables": _get("Queryable properties", [unit],
                                                           _ok("application/schema+json"), "OGC API"),
        "/ogc/collections/{collectionId}/items": _get("Features", items_params, _ok(ogc.GEOJSON, fc), "OGC API"),
        "/ogc/collections/{collectionId}/items/{featureId}": _get(
            "One feature", [unit, _param("featureId", {"type": "string"}, "path"), _param("datetime", {"type": "string"}),
                            _param("run", RUN_ID)], _ok(ogc.GEOJSON), "OGC API"),
    }


def _api_paths() -> dict:
    unit_q = _param("unit", {"type": "string", "enum": list(UNITS)})
    code = _param("code", {"type": "string"}, "path")
    fmt = _param("format", {"type": "string", "enum": list(HTTP_EXPORT_FORMATS)}, "path")
    tile_unit = _param("unit", {"type": "string", "enum": ["commune", "district", "province", "lockdown"]}, "path")
    zxy = [_param(n, {"type": "integer", "minimum": 0, "maximum": 24 if n == "z" else 2 ** 24 - 1}, "path")
           for n in ("z", "x", "y")]
    run_path = _param("run_id", RUN_ID, "path")
    return {
        "/api/zones.geojson": _get("Units with levels (GeoJSON)", [unit_q, *_run_selectors()], _ok(ogc.GEOJSON), "API"),
        "/api/zones/{code}": _get("One unit's published properties", [code, unit_q, *_run_selectors()], _ok(ogc.JSON), "API"),
        "/api/zones/{code}/history": _get(
            "Daily level and cases of a unit", [code, unit_q, _param("date", DATE),
                                               _param("days", {"type": "integer", "minimum": 1, "maximum": 366})],
            _ok(ogc.JSON), "API"),
        "/api/level": _get("The commune at a point and its level",
                           [_param("lat", {"type": "number", "minimum": -90, "maximum": 90}, required=True),
                            _param("lon", {"type": "number", "minimum": -180, "maximum": 180}, required=True),
                            *_run_selectors()], _ok(ogc.JSON), "API"),
        "/api/search": _get("Units by name (diacritics optional)", [_param("q", {"type": "string", "maxLength": 100})],
                            _ok(ogc.JSON), "API"),
        "/api/hotspots": _get(
            "The day's red and orange communes, worst first, a page at a time (`total` says how many)",
            [*_run_selectors(), _param("view", {"type": "string", "enum": ["proposal", "in_force"]}),
             _param("offset", {"type": "integer", "minimum": 0, "maximum": 10**7}),
             _param("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, description="default 100")],
            _ok(ogc.JSON), "API"),
        "/api/lockdowns.geojson": _get("Lockdown areas of a day", _run_selectors(), _ok(ogc.GEOJSON), "API"),
        "/api/declarations": _get("Levels the committee declared, in force on a run's day (read now: a declaration made "
                                  "after the run is listed at once)", _run_selectors(), _ok(ogc.JSON), "API"),
        "/api/changes": _get("Level changes between two days",
                             [_param("to", DATE, required=True), _param("from", DATE), unit_q,
                              _param("all", {"type": "boolean"})], _ok(ogc.JSON), "API"),
        "/api/outlook": _get("If no new case came: when each unit above safe steps down and is safe (engine-evaluated)",
                             [unit_q, *_run_selectors(), _param("within", {"type": "integer", "minimum": 0, "maximum": 366},
                                                                description="only units safe within this many days")],
                             _ok(ogc.JSON), "API"),
        "/api/trend": _get("Units and population per level per day, province and each district (published runs)",
                           [_param("from", DATE), _param("to", DATE),
                            _param("code", {"type": "string", "maxLength": 20}, description="a district or province code"),
                            {**_param("unit", {"type": "string", "maxLength": 20},
                                      description="deprecated: the old name of `code` (everywhere else `unit` is a kind of "
                                                  "unit); still read when `code` is absent"), "deprecated": True},
                            _param("format", {"type": "string", "enum": ["json", "csv", "svg"]}),
                            _param("width", {"type": "integer", "minimum": 200, "maximum": 1200}, description="the chart's (svg)")],
                           _ok(ogc.JSON, extra={"200": {"description": "OK", "content": {
                               ogc.JSON: {"schema": {"type": "object"}}, "text/csv": {"schema": {"type": "string"}},
                               "image/svg+xml": {"schema": {"type": "string"}}}}}),
                           "API"),
        "/api/runs": _get("Published runs", [], _ok(ogc.JSON), "API"),
        "/tra-cuu": _get("The citizens' lookup (HTML): the levels in force only", [LANG, _param("province", {"type": "string", "maxLength": 20})],
                         _ok("text/html", {"type": "string"}), "Public"),
        "/tra-cuu/levels.json": _get("The levels in force today, per unit of the shapes index", [], _ok(ogc.JSON), "Public"),
        "/tra-cuu/units/{code}": _get("One unit's level in force, since, decision and measures", [code, unit_q],
                                      _ok(ogc.JSON), "Public"),
        "/tra-cuu/search": _get("Units by name, with their level in force", [_param("q", {"type": "string", "maxLength": 100})],
                                _ok(ogc.JSON), "Public"),
        "/api/rulesets": _get("Rulesets", [], _ok(ogc.JSON), "API"),
        "/api/rulesets/{ruleset_id}": _get("One ruleset", [_param("ruleset_id", {"type": "string"}, "path")],
                                           _ok(ogc.JSON), "API"),
        "/api/exports/{format}": _get(
            "Export a day's units (aggregates only)", [fmt, unit_q, *_run_selectors(),
                                                       _param("since", RUN_ID, description="only units whose level changed since this run")],
            _ok("application/octet-stream", {"type": "string", "format": "binary"},
                extra={"304": {"description": "Not modified (If-None-Match)"}}), "Exports"),
        "/tiles/runs/{run_id}/{unit}/tilejson.json": _get("TileJSON of a run's tiles", [run_path, tile_unit,
                                                          _param("format", {"type": "string", "enum": ["mvt", "png"]})],
                                                          _ok(ogc.JSON), "Tiles"),
        "/tiles/runs/{run_id}/{unit}/{z}/{x}/{y}.mvt": _get(
            "Vector tile", [run_path, tile_unit, *zxy],
            _ok("application/vnd.mapbox-vector-tile", {"type": "string", "format": "binary"},
                extra={"204": {"description": "Empty tile"}}), "Tiles"),
        "/tiles/runs/{run_id}/{unit}/{z}/{x}/{y}.png": _get(
            "Picture tile (PNG) of the run's levels, or with view=in_force of the levels the committee decided",
            [run_path, tile_unit, *zxy, _param("palette", {"type": "string", "enum": ["official", "cb"]}),
             _param("levels", {"type": "string", "maxLength": 80}, description="comma-separated level ids to draw"),
             _param("view", {"type": "string", "enum": ["proposal", "in_force"]},
                    description="in_force: the level of a decision in force where there is one (not immutable)")],
            _ok("image/png", {"type": "string", "format": "binary"}, extra={"204": {"description": "Empty tile"}}), "Tiles"),
        "/console": _get("The operator's console (HTML): sign-in form, held runs, the audit log filtered (admin)",
                         [_param(n, {"type": "string", "maxLength": 200}) for n in ("who", "action", "outcome", "text")]
                         + [_param("since", DATE), LANG, _param("job", {"type": "string", "maxLength": 32}),
                            _param("code", {"type": "string", "maxLength": 20})],
                         _ok("text/html", {"type": "string"}), "Console"),
        "/healthz": _get("Health", [], _ok(ogc.JSON, extra={"503": {"description": "Not ready"}}), "Operations"),
        "/metrics": _get("Prometheus metrics", [], _ok("text/plain", {"type": "string"}), "Operations"),
    }


def _form(summary: str, fields: dict, required: list[str], responses: dict, params: list[dict] | None = None,
          multipart: bool = False) -> dict:
    """A console form post: the session cookie, the CSRF token among the fields, an HTML page or a redirect back."""
    schema = {"type": "object", "properties": {"csrf": {"type": "string"}, **fields}, "required": ["csrf", *required]}
    mime = "multipart/form-data" if multipart else "application/x-www-form-urlencoded"
    return {"post": {"summary": summary, "tags": ["Console"], "parameters": [LANG, *(params or [])],
                     "security": [{"session": []}], "requestBody": {"required": True, "content": {mime: {"schema": schema}}},
                     "responses": {**_ok("text/html", {"type": "string"}), **CONSOLE_REFUSALS, **responses}}}


def _console_paths() -> dict:
    text = {"type": "string", "maxLength": 200}
    upload = {"kind": {"type": "string", "enum": list(console.UPLOAD_KINDS)}, "file": {"type": "string", "format": "binary"},
              "remember": {"type": "string", "enum": ["1"]}}
    see_other = {"303": {"description": "Done: back to the console (a job's page for a reclassification)"}}
    return {
        "/console/signin": {"post": {
            "summary": "Sign in with a token: a session cookie (HttpOnly, SameSite=Strict)", "tags": ["Console"],
            "parameters": [LANG], "requestBody": {"required": True, "content": {"application/x-www-form-urlencoded": {
                "schema": {"type": "object", "properties": {"token": text}, "required": ["token"]}}}},
            "responses": {"303": {"description": "Signed in"}, "401": {"description": "Unknown or revoked token"}}}},
        "/console/signout": _form("Sign out (the session ends on the server)", {}, [], see_other),
        "/console/upload": _form("Import a file (rejects shown, personal columns dropped)", upload, ["kind", "file"], {},
                                 multipart=True),
        "/console/preview": _form("The first rows of a file and the column mapping the import will use (JSON)",
                                  upload, ["kind", "file"], {}, multipart=True),
        "/console/whatif": _form("Evaluate a day with changed settings, publishing nothing (a job; its page shows the result)",
                                 {"date": DATE, "ruleset": text, "settings": {"type": "string", "maxLength": 2000}}, [],
                                 {**see_other, "503": {"description": "The same what-if is running"}}),
        "/console/reclassify": _form("Reclassify and publish a day (a job whose stages the page shows)", {"date": DATE}, [],
                                     {**see_other, "503": {"description": "Another writer is running (the lock)"}}),
        "/console/declare": _form("Declare a level for a unit", {
            "unit": text, "level": {"type": "string", "enum": list(blank.LEVEL_WORDS)}, "from": DATE, "until": DATE,
            "decision": text, "reason": text}, ["unit", "level", "from", "decision"], {}),
        "/console/flag": _form("Set or clear a committee flag for a commune", {
            "code": text, "flag": {"type": "string", "enum": list(FLAG_NAMES)},
            "value": {"type": "string", "enum": ["true", "false"]}, "date": DATE, "end_date": DATE},
            ["code", "flag", "value", "date"], {}),
        "/console/review": _form("Choose the commune of a doubtful announced place (or none): its rows count at once",
                                 {"review_key": {"type": "string", "maxLength": 300}, "code": {"type": "string", "maxLength": 20}},
                                 ["review_key", "code"], {}),
        "/console/users": _form("Add a user (admin): the token is shown once",
                                {"name": {"type": "string", "pattern": "^[A-Za-z0-9._@-]{2,64}$"},
                                 "role": {"type": "string", "enum": list(auth.ROLES)}}, ["name", "role"], {}),
        "/console/users/{name}/revoke": _form("Revoke a user (admin)", {}, [], {},
                                              [_param("name", {"type": "string"}, "path")]),
        "/console/holds/{run_id}/publish": _form("Publish a held run with a reason (audited)", {"reason": text}, ["reason"],
                                                 {}, [_param("run_id", RUN_ID, "path")]),
        "/console/jobs/{job_id}": _get("A console job's progress (JSON; the session of an operator)",
                                       [_param("job_id", {"type": "string", "maxLength": 32}, "path"), LANG],
                                       {**_ok(ogc.JSON), **CONSOLE_REFUSALS}, "Console"),
        "/console/rejects/{name}": _get("An import's rejected rows as XLSX", [_param("name", {"type": "string"}, "path")],
                                        _ok(XLSX, {"type": "string", "format": "binary"}), "Console"),
        "/console/templates/{kind}.xlsx": _get(
            "A blank template to fill in, Vietnamese headers", [_param("kind", {"type": "string", "enum": list(blank.SPECS)},
                                                                       "path"), LANG],
            _ok(XLSX, {"type": "string", "format": "binary"}), "Console"),
    }


def document(base: str) -> dict:
    return {
        "openapi": "3.0.3",
        "info": {"title": "Phân vùng nguy cơ COVID-19 / COVID-19 zone levels", "version": "1.0.0",
                 "description": "Read API over published runs. Exports carry aggregates only, never patient data."},
        "servers": [{"url": base}],
        "paths": {**_ogc_paths(), **_api_paths(), **_console_paths()},
        "components": {
            "schemas": {"FeatureCollection": {"type": "object", "required": ["type", "features"],
                                              "properties": {"type": {"type": "string", "enum": ["FeatureCollection"]},
                                                             "features": {"type": "array", "items": {"type": "object"}},
                                                             "numberMatched": {"type": "integer"},
                                                             "numberReturned": {"type": "integer"},
                                                             "links": {"type": "array", "items": {"type": "object"}}}},
                        "Error": {"type": "object", "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}},
            "securitySchemes": {"session": {"type": "apiKey", "in": "cookie", "name": "zones_session"}},
            "responses": {"Error": {"description": "Error with a message",
                                    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}},
        },
    }
