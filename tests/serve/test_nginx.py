"""The nginx front (deploy/nginx-zones.conf): published vector tiles sent as files, the rest by us."""
from __future__ import annotations

import os
import shutil
import subprocess
import threading
import urllib.error
import urllib.request

import mercantile
import pytest
from helpers import case, free_port, grid, invoke, numbered, run_scenario, wait_until_serving
from werkzeug.serving import make_server

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
pytestmark = pytest.mark.skipif(NGINX is None, reason="nginx not installed (bash scripts/setup-bench.sh installs it)")
DAY = "2021-07-31"
WRAPPER = """worker_processes 1;
{user}
pid {tmp}/nginx.pid;
error_log {tmp}/error.log;
events {{ worker_connections 64; }}
http {{
  client_body_temp_path {tmp}/body; proxy_temp_path {tmp}/proxy; fastcgi_temp_path {tmp}/fcgi;
  uwsgi_temp_path {tmp}/uwsgi; scgi_temp_path {tmp}/scgi;
  access_log off;
  include {site};
}}
"""


def _get(url: str, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        with e:
            return e.code, dict(e.headers), e.read()


@pytest.fixture
def front(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", DAY, setting="school")]), DAY)
    seen = []

    def counting(environ, start_response):
        seen.append(environ["PATH_INFO"])
        return app(environ, start_response)
    upstream = make_server("127.0.0.1", 0, counting, threaded=True)
    threading.Thread(target=upstream.serve_forever, daemon=True).start()
    port = free_port()
    site = tmp_path / "site.conf"
    res = invoke(runner, "nginx-conf", "--listen", f"127.0.0.1:{port}", "--upstream", f"127.0.0.1:{upstream.server_port}")
    assert res.exit_code == 0 and "gzip_static always" in res.output
    site.write_text(res.output, encoding="utf-8")
    os.chmod(tmp_path, 0o755)
    conf = tmp_path / "nginx.conf"
    conf.write_text(WRAPPER.format(tmp=tmp_path, site=site, user="user root;" if os.geteuid() == 0 else ""))
    subprocess.run([NGINX, "-c", str(conf), "-p", str(tmp_path)], check=True)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/api/runs")
    yield base, seen, app
    subprocess.run([NGINX, "-c", str(conf), "-p", str(tmp_path), "-s", "stop"], check=False)
    upstream.shutdown()


def test_published_tiles_are_files_for_nginx(front, client):
    base, seen, app = front
    run = client.get("/api/runs").get_json()["runs"][-1]
    tj = client.get(f"/tiles/commune/tilejson.json?date={DAY}").get_json()
    w, s, e, n = tj["bounds"]
    t = mercantile.tile((w + e) / 2, (s + n) / 2, tj["maxzoom"])
    path = f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x}/{t.y}.mvt"
    seen.clear()
    status, headers, body = _get(base + path)
    assert status == 200 and body == client.get(path).data                    # the same bytes as the service's
    assert headers["Content-Type"] == "application/vnd.mapbox-vector-tile"
    assert "immutable" in headers["Cache-Control"] and headers.get("ETag")
    assert _get(base + path, {"If-None-Match": headers["ETag"]})[0] == 304
    assert seen == []                                                         # nginx sent the file itself
    # to a client that takes gzip, the copy gzipped once when the run was published (gzip_static): not compressed
    # again per request
    status, headers, packed = _get(base + path, {"Accept-Encoding": "gzip"})
    stored = app.config["ZONES"].runs_dir / run["run_id"] / "tiles" / "xyz" / "commune" / str(t.z) / str(t.x) / f"{t.y}.mvt.gz"
    assert status == 200 and headers.get("Content-Encoding") == "gzip" and packed == stored.read_bytes()
    assert seen == []
    # not a file: the service answers as it always does
    empty = f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x + 50}/{t.y}.mvt"
    assert _get(base + empty)[0] == 204 and seen == [empty]
    assert _get(base + "/tiles/runs/nope00/commune/1/0/0.mvt")[0] == 404
    status, _, body = _get(base + "/api/runs")
    assert status == 200 and b"run_id" in body


def test_shapes_are_files_and_everything_goes_compressed(front, client):
    import gzip
    import json
    import re
    base, seen, app = front
    page = client.get(f"/map?date={DAY}").get_data(as_text=True)
    sid = json.loads(re.search(r'id="zones-config">(.*?)</script>', page).group(1))["shapes"]
    index = client.get(f"/tiles/shapes/{sid}/index.json").get_json()
    lon = sum(b[0] + b[2] for b in index["units"]["province"]["bbox"]) / 2
    lat = sum(b[1] + b[3] for b in index["units"]["province"]["bbox"]) / 2
    t = mercantile.tile(lon, lat, 10)
    path = f"/tiles/shapes/{sid}/{t.z}/{t.x}/{t.y}.mvt"
    seen.clear()
    status, headers, body = _get(base + path, {"Accept-Encoding": "gzip"})
    assert status == 200 and seen == []                                      # the version's shapes: a file for nginx
    assert headers.get("Content-Encoding") == "gzip" and gzip.decompress(body) == client.get(path).data
    # what the service answers goes compressed too (brotli from the app, passed on as it is; or gzip)
    for url, enc in ((f"/map?date={DAY}", "br, gzip"), (f"/api/zones.geojson?date={DAY}", "gzip"), ("/assets/committee.js", "gzip")):
        status, headers, body = _get(base + url, {"Accept-Encoding": enc})
        assert status == 200 and headers.get("Content-Encoding") in enc.split(", "), (url, headers)
