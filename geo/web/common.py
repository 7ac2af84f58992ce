"""What every view shares: the app's settings and store, the language asked for, caching headers, files sent
with an ETag, texts made safe for an HTTP answer, links, and the audit of a write."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any, TypeVar, cast

from flask import (
    Flask,
    Response,
    current_app,
    g,
    jsonify,
    request,
)
from flask import (
    send_file as flask_send_file,
)
from werkzeug.wrappers import Response as WerkzeugResponse

from geo.base import config, i18n
from geo.base.errors import (
    InputError,
)
from geo.domain import audit as audit_log
from geo.serve import (
    compressed,
    ogc,
    published,
)

ROOT = Path(__file__).resolve().parents[2]

# Run-addressed URLs never change: cache for a year. "Latest"/dated URLs: a minute.
IMMUTABLE = "public, max-age=31536000, immutable"

SHORT = "public, max-age=60"

R = TypeVar("R", bound=WerkzeugResponse)
V = TypeVar("V")


def settings(app: Flask | None = None) -> config.Settings:
    return (app or current_app).config["ZONES"]


def store() -> published.Store:
    return published.store(settings())


def lang() -> str:
    return i18n.lang(request.args.get("lang") or settings().lang)


def cached(resp: R, cache: str) -> R:
    resp.headers["Cache-Control"] = cache
    return resp


def run_cache() -> str:
    """A response addressed by run id never changes; the latest (or a day's) may, within a minute."""
    return IMMUTABLE if "run" in request.args else SHORT


def nonced(html: str) -> str:
    """Give this response's nonce to the page's inline scripts and styles (the CSP has no 'unsafe-inline')."""
    return re.sub(r"<(script|style)(?=[\s>])", lambda m: f'<{m.group(1)} nonce="{g.nonce}"', html)


def send_file(path: Path, **kw: Any) -> Response:
    """send_file; a file a client would wait for (GeoJSON of a national day: 24 MB) goes compressed in the best
    encoding the client accepts (brotli, else gzip), from a copy made once beside the cache (run files never
    change): never compressed again per request."""
    encoding = next((e for e in compressed.ENCODINGS if request.accept_encodings[e]), None)
    packed = compressed.copy(Path(path), settings().cache_dir, encoding) if encoding else None
    if packed is None:
        return flask_send_file(path, **kw)
    resp = flask_send_file(packed, **kw)
    resp.headers["Content-Encoding"] = encoding
    resp.vary.add("Accept-Encoding")
    return resp


# An absolute path in a message (not "dd/mm/yyyy"): only its last part is shown.
ABSOLUTE_PATH = re.compile(r"(?<![\w/.])/(?:[^\s'\"/,;:()]+/)+([^\s'\"/,;:()]+)")


def http_text(text: str, language: str | None = None) -> str:
    """A message for an HTTP client: no server path, no command-line option."""
    # messages made for the command line name its options; over HTTP the same things are form
    # fields (the catalogue's http_option section, phrases before bare options)
    for option, http in i18n.words("http_option", language or lang()).items():
        text = text.replace(option, http)
    return ABSOLUTE_PATH.sub(r"\1", text)


def http_value(value: V, language: str | None = None) -> V:
    """Every text inside `value` (dicts and lists walked) made safe for an HTTP answer; the same shape back."""
    out: object = value
    if isinstance(value, str):
        out = http_text(value, language)
    elif isinstance(value, dict):
        out = {k: http_value(v, language) for k, v in value.items()}
    elif isinstance(value, (list, tuple)):
        out = [http_value(v, language) for v in value]
    return cast(V, out)


def base() -> str:
    """The address links are made of: ZONES_PUBLIC_URL when set; else the request's own host, and the
    answer is then kept out of shared caches (a forged Host header must not reach other clients)."""
    public = settings().public_url
    if public:
        return public
    g.host_links = True
    return request.host_url.rstrip("/")


def linked(resp: Response) -> Response:
    if g.get("host_links"):
        resp.headers["Cache-Control"] = "private, max-age=60"
        resp.vary.add("Host")
    return resp


def json_doc(doc: dict) -> Response:
    return linked(cached(jsonify(doc), SHORT))


def float_arg(name: str, lo: float, hi: float) -> float:
    try:
        v = float(request.args[name])
    except (KeyError, ValueError):
        raise InputError(
            "bad_param", name=name, value=request.args.get(name, ""), allowed=f"a number in [{lo}, {hi}]"
        ) from None
    if not lo <= v <= hi:
        raise InputError("bad_param", name=name, value=v, allowed=f"a number in [{lo}, {hi}]")
    return v


def geojson_response(body: str, run: dict) -> WerkzeugResponse:
    resp = cached(Response(body, mimetype=ogc.GEOJSON), run_cache())
    resp.headers["Content-Crs"] = f"<{ogc.CRS84}>"
    resp.set_etag(hashlib.sha1(f"{run['run_id']}?{request.query_string.decode()}".encode()).hexdigest()[:20])
    return linked(resp).make_conditional(request)


def audit(action: str, outcome: str, target: str = "", path: Path | None = None, file_name: str | None = None,
          detail: object = None, sha256: str | None = None) -> None:
    audit_log.record(
        store(),
        g.user["name"],
        g.user["role"],
        "http",
        action,
        outcome,
        target,
        path,
        file_name,
        request.remote_addr,
        detail,
        sha256,
    )
