"""Raster PNG tiles: each unit painted in its level colour, lockdowns hatched, read by GDAL."""
from __future__ import annotations

import io
import subprocess

import mercantile
import numpy as np
import pytest
from helpers import case, grid, import_lockdown, invoke, run_scenario
from PIL import Image

from geo.serve import raster
from geo.store import runfiles
from geo.store.database import Store

Z = 14


def _pixel(lon: float, lat: float, z: int = Z):
    """(tile, column, row) of a point at zoom z."""
    t = mercantile.tile(lon, lat, z)
    b = mercantile.xy_bounds(t)
    x, y = mercantile.xy(lon, lat)
    return t, int((x - b.left) / (b.right - b.left) * raster.SIZE), int((b.top - y) / (b.top - b.bottom) * raster.SIZE)


def _rgb(hex_colour: str) -> tuple:
    return tuple(int(hex_colour[i:i + 2], 16) for i in (1, 3, 5))


@pytest.fixture
def scene(runner, app, tmp_path):
    units = grid(3, 4)
    run_scenario(runner, app, tmp_path, units, [case("10001", "2021-07-03", setting="school", case_id="s")], "2021-07-03")
    import_lockdown(runner, tmp_path, units, 0, 200, decision_no="5/QĐ", start_date="2021-07-01", end_date="2021-07-20")
    assert invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-04").exit_code == 0
    return units.to_crs(4326)


def test_png_tile_paints_each_commune_in_its_level_colour(scene, app, client, tmp_path):
    store = Store(app.config["ZONES"].db_path)
    for day in ("2021-07-02", "2021-07-04"):            # a backfilled levels run, then the full newest day
        run = store.run_for_date(day)
        table = runfiles.attributes(app.config["ZONES"].runs_dir / run["run_id"], "commune").set_index("code")
        seen = set()
        for code, geom in zip(scene["code"], scene.geometry, strict=False):
            c = geom.centroid
            t, col, row = _pixel(c.x, c.y)
            r = client.get(f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x}/{t.y}.png")
            assert r.status_code == 200 and r.mimetype == "image/png"
            px = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))[row, col]
            assert tuple(px[:3]) == _rgb(table.loc[code, "color"]) and px[3] == raster.FILL_ALPHA, (day, code)
            seen.add(table.loc[code, "level"])
        assert len(seen) >= (1 if day == "2021-07-02" else 3)       # safe before the case; red, orange, yellow after


def test_png_tiles_cache_etag_empty_and_gdal(scene, app, client, tmp_path):
    run = Store(app.config["ZONES"].db_path).run_for_date("2021-07-04")
    c = scene.geometry.iloc[5].centroid
    t, _, _ = _pixel(c.x, c.y)
    url = f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x}/{t.y}.png"
    r = client.get(url)
    assert "immutable" in r.headers["Cache-Control"]
    assert client.get(url, headers={"If-None-Match": r.headers["ETag"]}).status_code == 304
    far = mercantile.tile(150.0, -30.0, Z)
    assert client.get(f"/tiles/runs/{run['run_id']}/commune/{Z}/{far.x}/{far.y}.png").status_code == 204
    assert client.get(f"/tiles/runs/{run['run_id']}/commune/30/0/0.png").status_code == 400
    assert client.get(f"/tiles/runs/{run['run_id']}/parish/1/0/0.png").status_code == 400
    path = tmp_path / "t.png"
    path.write_bytes(r.data)
    info = subprocess.run(["gdalinfo", str(path)], capture_output=True, text=True, check=True).stdout
    assert "Driver: PNG/Portable Network Graphics" in info and "Size is 256, 256" in info and "Band 4" in info
    tj = client.get(f"/tiles/runs/{run['run_id']}/commune/tilejson.json?format=png").get_json()
    assert tj["tilejson"] == "3.0.0" and tj["tiles"][0].endswith("/{z}/{x}/{y}.png") and "vector_layers" not in tj


def test_lockdown_layer_is_hatched(scene, app, client):
    run = Store(app.config["ZONES"].db_path).run_for_date("2021-07-03")
    c = scene.geometry.iloc[0].centroid
    t, col, row = _pixel(c.x, c.y, 16)
    r = client.get(f"/tiles/runs/{run['run_id']}/lockdown/{t.z}/{t.x}/{t.y}.png")
    assert r.status_code == 200
    img = np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))
    near = img[max(row - 10, 0):row + 10, max(col - 10, 0):col + 10]
    hatched = (near[..., 3] == raster.HATCH_RGBA[3]).mean()
    assert 0.2 < hatched < 0.6                                      # stripes, not a solid fill
    corner = mercantile.tile(*scene.geometry.iloc[11].centroid.coords[0], 16)
    assert client.get(f"/tiles/runs/{run['run_id']}/lockdown/16/{corner.x}/{corner.y}.png").status_code == 204


def test_png_tiles_in_force_show_the_committees_level_and_change_with_a_decision(scene, app, client):
    """view=in_force: a decided unit in its decided colour, the others in the run's; a new decision, new tiles."""
    run = Store(app.config["ZONES"].db_path).run_for_date("2021-07-04")
    table = runfiles.attributes(app.config["ZONES"].runs_dir / run["run_id"], "commune").set_index("code")
    code = next(c for c in scene["code"] if table.loc[c, "level"] != "safe")
    other = next(c for c in scene["code"] if c != code)
    rs = app.config["RULESETS"][run["ruleset"]]

    def colour(unit_code, view):
        c = scene.set_index("code").geometry[unit_code].centroid
        t, col, row = _pixel(c.x, c.y)
        r = client.get(f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x}/{t.y}.png?view={view}")
        assert r.status_code == 200, r.data[:200]
        return tuple(np.asarray(Image.open(io.BytesIO(r.data)).convert("RGBA"))[row, col][:3]), r

    before, first = colour(code, "in_force")
    assert before == _rgb(table.loc[code, "color"])          # no decision yet: the run's level
    res = invoke(app.test_cli_runner(), "declare", "--unit", code, "--level", "safe", "--from", "2021-07-01",
                 "--decision", "7/QĐ-UBND", "--by", "Chủ tịch")
    assert res.exit_code == 0, res.output
    after, second = colour(code, "in_force")
    assert after == _rgb(rs.level("safe")["color"]) and second.headers["ETag"] != first.headers["ETag"]
    assert "immutable" not in second.headers["Cache-Control"]
    assert colour(code, "proposal")[0] == _rgb(table.loc[code, "color"])   # the proposal keeps the run's level
    assert colour(other, "in_force")[0] == _rgb(table.loc[other, "color"])
    assert client.get(f"/tiles/runs/{run['run_id']}/commune/{Z}/0/0.png?view=decided").status_code == 400
