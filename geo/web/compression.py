"""Answers compressed by the app (and by nginx in front of it): text, JSON, GeoJSON and vector tiles."""

from __future__ import annotations

from flask import Flask, Response
from flask_compress import Compress

COMPRESSED_TYPES = (
    "text/html",
    "text/css",
    "text/plain",
    "text/csv",
    "text/javascript",
    "application/javascript",
    "application/json",
    "application/geo+json",
    "application/schema+json",
    "application/problem+json",
    "application/vnd.oai.openapi+json",
    "application/vnd.mapbox-vector-tile",
    "image/svg+xml",
)
# Files sent in chunks that keep their ETag and 304 (Flask-Compress drops them otherwise).
STREAMED = ["pages.vendor", "pages.assets", "tiles.map_levels", "tiles.shapes_index"]


def install(app: Flask) -> None:
    app.config.update(
        COMPRESS_MIMETYPES=list(COMPRESSED_TYPES),
        COMPRESS_ALGORITHM=["br", "gzip"],
        COMPRESS_ALGORITHM_STREAMING=["br", "deflate"],
        COMPRESS_BR_LEVEL=5,
        COMPRESS_STREAMING_ENDPOINT_CONDITIONAL=STREAMED,
    )
    Compress(app)
    # registered after Compress, so it runs before it (Flask runs them in reverse)
    app.after_request(close_sent_files)


def close_sent_files(resp: Response) -> Response:
    """Flask-Compress streams a sent file through its compressor and never closes the file: it is closed
    with the response instead (else each compressed download leaves a file open until GC)."""
    body = resp.response
    if resp.direct_passthrough and hasattr(body, "close"):
        resp.call_on_close(body.close)
    return resp
