"""Operations under a real server: gunicorn as deployed, /healthz, /metrics summed over workers,
JSON logs without secrets, and a bounded load test (200 concurrent clients on loopback)."""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import mercantile
import pytest
from helpers import ROOT, case, flag_and_lockdown, free_port, grid, invoke, numbered, run_scenario, wait_until_serving

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"
CLIENTS = 200
REQUESTS_PER_CLIENT = 5
GUNICORN = Path(sys.executable).with_name("gunicorn")


def test_healthz_reports_readiness(app, client, runner, tmp_path):
    res = client.get("/healthz")
    assert res.status_code == 503 and res.get_json()["status"] == "empty"
    run_scenario(runner, app, tmp_path, grid(2, 2), numbered([case("10002", DAY)]), DAY)
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok" and body["latest_date"] == DAY
    # the newest run's files gone (disk trouble): not ready, and it says which run
    run_dir = app.config["ZONES"].runs_dir / body["latest_run"]
    (run_dir / "manifest.json").rename(run_dir / "manifest.moved")
    res = client.get("/healthz")
    assert res.status_code == 503 and body["latest_run"] in res.get_json()["detail"]


@pytest.fixture
def deployed(runner, app, tmp_path, store_config):
    units = grid(4, 4)
    rows = numbered([case("10006", DAY, known=False, cluster="K"), case("10006", DAY), case("10011", DAY)])
    run_scenario(runner, app, tmp_path, units, rows, DAY)
    flag_and_lockdown(runner, tmp_path, units, ("10001", DAY, DAY), (9, "3/QĐ-UBND", DAY, "2021-08-07"))
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    token = invoke(runner, "users", "add", "ops", "--role", "operator").output.rsplit(": ", 1)[1].strip()
    port = free_port()
    log = tmp_path / "gunicorn.log"
    env = {**os.environ, "ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), **store_config}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    with open(log, "w") as fh:
        proc = subprocess.Popen([str(GUNICORN), "--workers", "2", "--threads", "8", "--bind", f"127.0.0.1:{port}",
                                 "server:create_app()"], cwd=ROOT, env=env, stdout=fh, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/healthz", tries=300)
        yield app, base, token, log, units
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _get(url: str, headers: dict | None = None) -> tuple[int, bytes]:
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, exc.read()


def test_two_hundred_clients_on_map_api_and_tiles(deployed):
    app, base, token, log, units = deployed
    runs = json.loads(_get(base + "/api/runs")[1])["runs"]
    run_id = runs[0]["run_id"]
    lon, lat = units.to_crs(4326).geometry.iloc[5].centroid.coords[0]
    tiles = []
    for z, png in ((8, 8), (9, 11), (10, 14)):            # vector tiles within their zooms; pictures at any
        t, p = mercantile.tile(lon, lat, z), mercantile.tile(lon, lat, png)
        tiles += [f"/tiles/runs/{run_id}/commune/{z}/{t.x}/{t.y}.mvt", f"/tiles/runs/{run_id}/commune/{png}/{p.x}/{p.y}.png"]
    urls = [f"/map?date={DAY}", "/api/zones.geojson", f"/api/level?lat={lat}&lon={lon}", "/ogc/collections/commune/items?limit=5",
            "/ogc/collections/lockdown/items", f"/api/exports/csv?date={DAY}", "/api/search?q=xa", "/healthz",
            f"/api/zones/10006/history?date={DAY}", *tiles]
    barrier = threading.Barrier(CLIENTS)

    def client(k: int) -> list[tuple[str, int]]:
        barrier.wait()             # all 200 start together
        out = []
        for i in range(REQUESTS_PER_CLIENT):
            url = urls[(k + i * 7) % len(urls)]
            try:
                status, body = _get(base + url)
            except OSError as exc:
                out.append((url, repr(exc)))
                continue
            out.append((url, status if body or status == 204 else "empty"))
        return out

    with ThreadPoolExecutor(CLIENTS) as pool:
        results = [r for rs in pool.map(client, range(CLIENTS)) for r in rs]
    errors = [r for r in results if r[1] not in (200, 204)]
    assert len(results) == CLIENTS * REQUESTS_PER_CLIENT and not errors, errors[:10]
    # /metrics sums both workers' counters
    text = _get(base + "/metrics")[1].decode()
    counted = sum(float(v) for v in re.findall(r'^zones_http_requests_total\{[^}]*\} (\S+)$', text, re.M))
    assert counted >= CLIENTS * REQUESTS_PER_CLIENT, counted
    assert re.search(r'zones_http_request_seconds_bucket\{le="0\.1",route="/api/zones\.geojson"\}', text) or \
        re.search(r'zones_http_request_seconds_bucket\{route="/api/zones\.geojson",le="0\.1"\}', text)
    assert re.search(r"^zones_published_days \S+", text, re.M)


def test_logs_are_json_without_secrets(deployed):
    app, base, token, log, _ = deployed
    secret = "s3cr3t-" + "x" * 20
    _get(base + f"/api/runs?access_token={secret}")
    _get(base + "/api/runs", {"Authorization": f"Bearer {token}"})
    _get(base + "/api/zones/nope")
    lines = [ln for ln in log.read_text().splitlines() if ln.startswith("{")]
    records = [json.loads(ln) for ln in lines]
    reqs = [r for r in records if r["msg"] == "request"]
    assert any(r["path"] == "/api/runs" and r["status"] == 200 and r["user"] == "ops" for r in reqs)
    assert any(r["route"] == "/api/zones/<code>" and r["status"] == 404 for r in reqs)
    assert all({"ts", "level", "route", "method", "status", "ms"} <= set(r) for r in reqs)
    text = log.read_text()
    assert secret not in text and token not in text


def test_keep_alive_clients_straight_to_gunicorn_see_no_reset(deployed):
    """200 clients each holding one connection and pausing about as long as gunicorn's default
    keep-alive (2 s) between requests: the server must not close a connection as it is reused
    (gunicorn.conf.py keeps them 30 s)."""
    import http.client
    import time
    app, base, _, _, _ = deployed
    port = int(base.rsplit(":", 1)[1])
    errors, done = [], []
    lock = threading.Lock()
    start = threading.Barrier(CLIENTS)

    def client(k: int) -> None:
        con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        start.wait()
        for i in range(4):
            try:
                con.request("GET", ("/api/runs", "/healthz", f"/api/zones/10006?date={DAY}", "/api/search?q=xa")[(k + i) % 4])
                res = con.getresponse()
                res.read()
                with lock:
                    done.append(res.status)
            except (OSError, http.client.HTTPException) as exc:
                with lock:
                    errors.append(repr(exc))
                con.close()
                con = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            time.sleep(1.95 + 0.01 * (k % 10))
        con.close()
    threads = [threading.Thread(target=client, args=(k,)) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(done) == CLIENTS * 4 and set(done) == {200}, (errors[:5], len(done))
