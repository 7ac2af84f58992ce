"""GDAL's command-line tools as an independent client of our GeoJSON, GeoPackage and tiles."""
from __future__ import annotations

import re
import shutil
import subprocess
import threading

import mercantile
import pytest
from helpers import case, grid, import_lockdown, invoke, numbered, run_scenario
from werkzeug.serving import make_server

DAY = "2021-07-31"
pytestmark = pytest.mark.skipif(shutil.which("ogrinfo") is None,
                                reason="ogrinfo not installed (scripts/setup.sh installs gdal-bin)")


def ogrinfo(*args) -> str:
    out = subprocess.run(["ogrinfo", "-ro", *map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.fixture
def scenario(runner, app, tmp_path):
    cases = numbered([case("10002", DAY, setting="industrial_zone")])
    run_scenario(runner, app, tmp_path, grid(2, 3), cases, DAY)
    return app


def test_exported_geojson_and_gpkg_read_by_ogrinfo(scenario, runner, tmp_path):
    gj = tmp_path / "communes.geojson"
    assert invoke(runner, "export", "--date", DAY, "--unit", "commune", "--format", "geojson", "--out", gj).exit_code == 0
    info = ogrinfo("-so", "-al", gj)
    assert "Feature Count: 6" in info and "WGS 84" in info
    for field in ("code: String", "level: String", "reasons: StringList", "lockdown: Integer(Boolean)", "run_id: String"):
        assert field in info, field
    rows = ogrinfo("-al", "-where", "level = 'very_high_risk'", gj)
    assert "code (String) = 10002" in rows
    assert rows.count("OGRFeature(") == 1 and "reasons (StringList) = (1:R2)" in rows
    gpkg = tmp_path / "d.gpkg"
    assert invoke(runner, "export", "--date", DAY, "--unit", "district", "--format", "gpkg", "--out", gpkg).exit_code == 0
    info = ogrinfo("-so", gpkg, "district")
    assert "Feature Count: 1" in info and "n_very_high_risk: Integer" in info


def test_tile_and_mbtiles_read_by_ogrinfo(scenario, client, tmp_path):
    tj = client.get(f"/tiles/commune/tilejson.json?date={DAY}").get_json()
    w, s, e, n = tj["bounds"]
    z = tj["maxzoom"]
    t = mercantile.tile((w + e) / 2, (s + n) / 2, z)
    res = client.get(tj["tiles"][0].replace("http://localhost", "").format(z=z, x=t.x, y=t.y))
    assert res.status_code == 200
    path = tmp_path / str(z) / str(t.x) / f"{t.y}.pbf"      # z/x/y.pbf: GDAL georeferences it
    path.parent.mkdir(parents=True)
    path.write_bytes(res.data)
    info = ogrinfo("-al", path)
    assert "Layer name: commune" in info and "level (String) = very_high_risk" in info
    assert "code (String) = 10002" in info
    # the MVT is in Web Mercator; its features fall inside the tile's bounds
    xy = mercantile.xy_bounds(t)
    extent = [line for line in ogrinfo("-so", "-al", path).splitlines() if line.startswith("Extent:")][0]
    nums = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", extent)]   # (xmin, ymin) - (xmax, ymax)
    assert xy.left - 1 <= nums[0] and nums[2] <= xy.right + 1
    run_dir = scenario.config["ZONES"].runs_dir
    mbtiles = next(run_dir.glob("*/tiles/commune.mbtiles"))
    assert "commune" in ogrinfo(mbtiles)


def test_ogrinfo_reads_the_api_over_http(scenario):
    server = make_server("127.0.0.1", 0, scenario, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/api/zones.geojson?date={DAY}&unit=commune"
        info = ogrinfo("-so", "-al", url)
        assert "Feature Count: 6" in info and "level: String" in info
    finally:
        server.shutdown()


def test_lockdown_vector_tiles_read_by_ogrinfo(scenario, runner, client, tmp_path):
    import_lockdown(runner, tmp_path, grid(2, 3), 1, 120, decision_no="88/QĐ-UBND", issuer="UBND huyện",
                    start_date="2021-07-25", end_date="2021-08-05")
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    tj = client.get(f"/tiles/lockdown/tilejson.json?date={DAY}").get_json()
    assert tj["vector_layers"][0]["id"] == "lockdown" and "decision_no" in tj["vector_layers"][0]["fields"]
    w, s, e, n = tj["bounds"]
    for z in (tj["minzoom"], tj["maxzoom"]):          # a lockdown of a few streets is kept at every zoom
        t = mercantile.tile((w + e) / 2, (s + n) / 2, z)
        res = client.get(tj["tiles"][0].replace("http://localhost", "").format(z=z, x=t.x, y=t.y))
        assert res.status_code == 200, z
        path = tmp_path / f"z{z}" / str(z) / str(t.x) / f"{t.y}.pbf"
        path.parent.mkdir(parents=True)
        path.write_bytes(res.data)
        info = ogrinfo("-al", path)
        assert "Layer name: lockdown" in info and "decision_no (String) = 88/QĐ-UBND" in info
    # a day without lockdowns: every lockdown tile is empty
    assert invoke(runner, "reclassify", "--date", "2021-07-20").exit_code == 0
    run = client.get("/api/runs").get_json()["runs"][0]
    assert run["date"] == "2021-07-20" and run["n_active_lockdowns"] == 0
    assert client.get(f"/tiles/runs/{run['run_id']}/lockdown/5/25/14.mvt").status_code == 204
