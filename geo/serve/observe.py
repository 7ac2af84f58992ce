"""Operations: request metrics (Prometheus text format), structured JSON logs, health.

Metrics use prometheus_client; under gunicorn (several worker processes) set
PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py does) and every worker's counts are summed on /metrics.
Logs are one JSON object per line on stderr (journald keeps them); they never hold a query string
(a token may be in it) or anything from a case file.
"""
from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from pathlib import Path

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from geo.publish import quality, shapes

REGISTRY = CollectorRegistry(auto_describe=True)
REQUESTS = Counter("zones_http_requests_total", "HTTP requests answered", ["route", "method", "status"], registry=REGISTRY)
# Buckets from a cached tile (~1 ms) to a first national GeoJSON (~2 s).
LATENCY = Histogram("zones_http_request_seconds", "Time to answer", ["route"], registry=REGISTRY,
                    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
LATEST_RUN_AGE = Gauge("zones_latest_run_age_seconds", "Seconds since the newest published run was created",
                       registry=REGISTRY, multiprocess_mode="max")
RUNS = Gauge("zones_published_days", "Days with a published run", registry=REGISTRY, multiprocess_mode="max")
HELD = Gauge("zones_held_runs", "Runs held by the data-quality gate, not yet decided", registry=REGISTRY,
             multiprocess_mode="max")
CONTENT_TYPE = CONTENT_TYPE_LATEST


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
               "level": record.levelname.lower(), "logger": record.name, "msg": record.getMessage()}
        out.update(getattr(record, "fields", {}))
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False, default=str)


def logger() -> logging.Logger:
    log = logging.getLogger("zones")
    if not log.handlers:
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        log.addHandler(handler)
        log.setLevel(os.environ.get("ZONES_LOG_LEVEL", "INFO").upper())
        log.propagate = False
    return log


def observe(route: str, method: str, status: int, seconds: float, fields: dict) -> None:
    try:
        REQUESTS.labels(route, method, str(status)).inc()
        LATENCY.labels(route).observe(seconds)
    except Exception:     # noqa: BLE001 - metrics degrade; the answer goes out
        pass
    logger().info("request", extra={"fields": {"route": route, "method": method, "status": status,
                                               "ms": round(seconds * 1000, 2), **fields}})


def metrics_text(store) -> bytes:
    runs = store.published_runs()
    RUNS.set(len(runs))
    if runs:
        newest = max(dt.datetime.fromisoformat(r["created_at"]) for r in runs)
        LATEST_RUN_AGE.set((dt.datetime.now(dt.UTC) - newest).total_seconds())
    HELD.set(sum(1 for h in quality.holds(store) if h["status"] == "held"))
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess  # deliberate: only under gunicorn's multiprocess mode
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def health(store, runs_dir) -> tuple[dict, int]:
    """Ready when the store opens and the newest run's files are there."""
    started = time.monotonic()
    try:
        run = store.latest_run()
    except Exception as exc:          # a locked or broken store: not ready, say why
        return {"status": "error", "detail": f"store: {type(exc).__name__}"}, 503
    if run is None:
        return {"status": "empty", "detail": "no run published yet"}, 503
    if not (runs_dir / run["run_id"] / "manifest.json").exists():
        return {"status": "error", "detail": f"run {run['run_id']} has no files"}, 503
    # the committee's map draws the boundary version's shapes folder: a server that shares only runs/ is not ready
    sid = shapes.shapes_id(store, run["boundary_version"])
    if not shapes.ready(Path(runs_dir).parent, sid):
        return {"status": "error", "detail": f"shapes {sid} of {run['boundary_version']} missing (share shapes/ too)"}, 503
    return {"status": "ok", "latest_run": run["run_id"], "latest_date": run["date"],
            "check_ms": round((time.monotonic() - started) * 1000, 2)}, 200
