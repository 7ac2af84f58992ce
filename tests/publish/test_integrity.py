"""What is published stays as it was published, and what an operator or a stranger sends cannot
change that, break a page, fill the disk or reach other clients: boundary versions are immutable once
used, a lockdown decision is one lockdown (a new file replaces it, history kept), text from files
cannot escape into a page or run as a spreadsheet formula, picture tiles are bounded, a forged Host
is never put in a shared answer, absurd dates are refused."""
from __future__ import annotations

import base64
import csv
import gzip
import io
import json
import re
from pathlib import Path

import geopandas as gpd
import pytest
import shapely
from helpers import case, grid, import_lockdown, invoke, numbered, run_scenario, write_units

pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"


@pytest.fixture
def published(runner, app, tmp_path):
    units = grid(2, 3)
    run_scenario(runner, app, tmp_path, units, numbered([case("10002", DAY, setting="school")]), DAY)
    return units


def _token(runner, role="admin") -> str:
    return invoke(runner, "users", "add", f"u-{role}", "--role", role).output.strip().rsplit(": ", 1)[1]


def test_a_used_boundary_version_never_changes(published, runner, client, tmp_path):
    units = published
    before = client.get(f"/api/zones.geojson?date={DAY}").get_json()
    # the same content again: nothing happens
    res = invoke(runner, "import-units", write_units(units, tmp_path / "units.geojson"))
    assert res.exit_code == 0 and "không thay đổi gì" in res.output, res.output
    # the same name with other content: refused, naming what to do
    changed = units.copy()
    changed.loc[0, "population"] = 5
    res = invoke(runner, "import-units", write_units(changed.iloc[1:], tmp_path / "units.geojson"))
    assert res.exit_code == 2 and "tên mới" in res.output, res.output
    # over HTTP the name defaults to the file's: a corrected "units.geojson" is refused the same way (409)
    token = _token(runner)
    resp = client.post("/api/imports/units", data={"file": (io.BytesIO(changed.to_crs(4326).to_json().encode()), "units.geojson")},
                       content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 409 and resp.get_json()["error"] == "version_in_use"
    after = client.get(f"/api/zones.geojson?date={DAY}").get_json()
    assert after == before
    # under a new name it is a new version
    res = invoke(runner, "import-units", write_units(changed, tmp_path / "units-2.geojson"), "--boundary-version", "units-2")
    assert res.exit_code == 0, res.output


@pytest.mark.parametrize("name", ["../../../../x", "bad\r\nname", "có dấu", "", "a" * 65, "/abs"])
def test_boundary_version_names_are_checked(published, runner, client, tmp_path, name):
    token = _token(runner)
    data = published.to_crs(4326).to_json().encode()
    resp = client.post("/api/imports/units", data={"file": (io.BytesIO(data), "xa.geojson"), "boundary_version": name},
                       content_type="multipart/form-data", headers={"Authorization": f"Bearer {token}"})
    if name == "":          # empty: the file's name is used
        assert resp.status_code == 200, resp.get_json()
        return
    assert resp.status_code == 400 and resp.get_json()["error"] == "bad_version_name", resp.get_json()
    audit = client.get("/api/audit", headers={"Authorization": f"Bearer {token}"}).get_json()["audit"]
    assert audit[0]["outcome"].startswith("failed") and audit[0]["action"] == "import-units"
    assert invoke(runner, "export", "--date", DAY, "--format", "csv", "--out", tmp_path / "x.csv").exit_code == 0


def test_a_decision_is_one_lockdown_and_a_new_file_replaces_it(published, runner, app, client, tmp_path):
    units = published
    import_lockdown(runner, tmp_path, units, 0, 100, decision_no="7/QĐ-UBND", start_date="2021-07-25", end_date="2021-08-10")
    # the same decision with a corrected polygon (spelled a little differently): it replaces the first
    import_lockdown(runner, tmp_path, units, 4, 100, decision_no="7 / qđ-ubnd", start_date="2021-07-26", end_date="2021-08-10")
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    lk = client.get(f"/api/lockdowns.geojson?date={DAY}").get_json()["features"]
    assert len(lk) == 1 and lk[0]["properties"]["start_date"] == "2021-07-26"
    centre = shapely.from_geojson(json.dumps(lk[0]["geometry"])).centroid
    assert shapely.contains(units.to_crs(4326).geometry.iloc[4], centre)          # the corrected area, not the first
    from geo.store.database import Store
    with Store(app.config["ZONES"].db_path).connect(readonly=True) as con:
        history = con.execute("SELECT decision_no, start_date FROM lockdown_history").fetchall()
    assert [tuple(r) for r in history] == [("7/QĐ-UBND", "2021-07-25")]
    # two polygons of one decision in one file are one lockdown
    two = gpd.GeoDataFrame([{"decision_no": "9/QĐ", "start_date": "2021-07-30", "geometry": units.geometry.iloc[k].centroid.buffer(80)}
                            for k in (1, 5)], crs=units.crs)
    two.to_file(tmp_path / "two.gpkg", engine="pyogrio")
    res = invoke(runner, "import-lockdowns", tmp_path / "two.gpkg")
    assert res.exit_code == 0 and "Nhận 1 dòng" in res.output, res.output


def test_text_from_files_cannot_break_pages_or_spreadsheets(published, runner, client, tmp_path):
    units = published
    nasty = '<!--<script>alert(1)</script>\u2028=HYPERLINK("http://x")'
    import_lockdown(runner, tmp_path, units, 1, 100, decision_no=nasty, name="=1+1", issuer="@SUM(A1)",
                    start_date="2021-07-25")
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    out = tmp_path / "ban-do.html"
    assert invoke(runner, "export", "--date", DAY, "--format", "html", "--out", out).exit_code == 0
    page = out.read_text(encoding="utf-8")
    # the file's data travels compressed and base64-encoded: nothing of it can end a script or open a comment
    block = re.search(r'<script type="application/octet-stream" id="zones-offline-data">(.*?)</script>', page, re.S).group(1)
    assert re.fullmatch(r"[A-Za-z0-9+/=\s]+", block) and "<!--<script>" not in page and "alert(1)" not in page
    data = json.loads(gzip.decompress(base64.b64decode(block)))
    assert [f["properties"]["decision_no"] for f in data["lockdowns"]["features"]] == [nasty]   # the value survives
    # CSV: exports and rejects never start a cell with = + - @
    for url in (f"/api/exports/csv?date={DAY}&unit=lockdown", f"/api/exports/csv?date={DAY}"):
        rows = list(csv.reader(io.StringIO(client.get(url).get_data(as_text=True))))
        assert all(not c.startswith(("=", "+", "-", "@")) for r in rows[1:] for c in r if c), url
    bad = tmp_path / "ca.csv"
    bad.write_text(f"case_id,report_date,commune_code,community,source_known\n=HYPERLINK(\"http://x\"),{DAY},99999,1,1\n")
    res = invoke(runner, "import-cases", bad)
    rejects = re.search(r"(?:ở|in) (\S+rejects\.csv)", res.output).group(1)
    text = Path(rejects).read_text(encoding="utf-8-sig")
    # never a live formula: masked (a cell of free text is not kept by allowlist) or quoted
    assert "\n=HYPERLINK" not in text and ",=HYPERLINK" not in text and ("«…»" in text or "'=HYPERLINK" in text)


def test_picture_tiles_are_bounded(published, app, client):
    import mercantile

    from geo.serve import raster, tilecache
    run = client.get("/api/runs").get_json()["runs"][-1]
    lon, lat = published.to_crs(4326).geometry.iloc[0].centroid.coords[0]
    # a style outside the published set is refused; the cache stays within its limit
    assert client.get(f"/tiles/runs/{run['run_id']}/commune/10/1/1.png?palette=neon").status_code == 400
    root = app.config["ZONES"].cache_dir / "tiles"
    for z in range(8, 19):
        t = mercantile.tile(lon, lat, z)
        assert client.get(f"/tiles/runs/{run['run_id']}/commune/{z}/{t.x}/{t.y}.png").status_code in (200, 204)
    size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file())
    assert size > 0
    assert tilecache.trim(root, size // 2) > 0
    assert sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) <= size // 2 * tilecache.TRIM_TO
    # rendering is rate-limited: a burst past the limit is answered 503 with Retry-After, not rendered
    lim = tilecache.Limiter(rate=2)
    assert [lim.take() for _ in range(4)].count(True) == 2
    from server import create_app
    slow = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_TILE_RENDER_RATE": "1",
                       "ZONES_DATABASE_URL": app.config["ZONES"].database_url or ""}).test_client()
    busy = 0
    for k in range(20):
        t = mercantile.tile(lon + k * 0.01, lat, 17)
        r = slow.get(f"/tiles/runs/{run['run_id']}/commune/17/{t.x}/{t.y}.png?palette=cb")
        busy += r.status_code == 503 and r.headers.get("Retry-After") is not None
    assert busy > 0
    assert raster.MAX_ZOOM == 18


def test_a_forged_host_never_reaches_a_shared_answer(published, app, client):
    r = client.get("/ogc/collections", headers={"Host": "evil.example"})
    assert "evil.example" in r.get_data(as_text=True)                # the asker's own address, for the asker only
    assert r.headers["Cache-Control"].startswith("private") and "Host" in r.headers.get("Vary", "")
    from server import create_app
    public = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_PUBLIC_URL": "https://gis.tinh.vn/zones",
                         "ZONES_DATABASE_URL": app.config["ZONES"].database_url or ""})
    r = public.test_client().get("/ogc/collections", headers={"Host": "evil.example"})
    text = r.get_data(as_text=True)
    assert "evil.example" not in text and "https://gis.tinh.vn/zones/ogc/collections" in text
    assert r.headers["Cache-Control"].startswith("public")


def test_absurd_dates_are_refused_not_crashed(published, client):
    for path in ("/api/zones/10001/history?date=0001-01-01", "/api/zones/10001/history?date=9999-12-31",
                 "/map?date=0001-01-01", "/api/changes?to=0001-01-01"):
        r = client.get(path, headers={"Accept": "application/json"})
        assert r.status_code == 400, (path, r.status_code)
