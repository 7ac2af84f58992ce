"""HTTP through Flask's test client: map, GeoJSON, TileJSON and tiles, runs, errors."""
from __future__ import annotations

import re

import mapbox_vector_tile
import mercantile
import pytest
from helpers import case, grid, numbered, run_scenario

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"
REQUIRED = {"code", "name", "level", "level_vi", "color", "reasons", "lockdown", "date", "run_id", "ruleset",
            "boundary_version"}
PERSONAL = {"case_id", "ho_ten", "dia_chi", "phone", "name_of_patient", "address", "age", "sex"}


@pytest.fixture
def published_app(runner, app, tmp_path):
    cases = numbered([case("10001", DAY, known=False, cluster="A"), case("10001", DAY, known=False, cluster="A"),
                      case("10006", DAY, age="34", sex="F")])
    run_scenario(runner, app, tmp_path, grid(2, 3), cases, DAY)
    return app


def test_zones_geojson_properties_and_rfc7946(published_app, client):
    for unit in ("commune", "district", "province"):
        res = client.get(f"/api/zones.geojson?date={DAY}&unit={unit}")
        assert res.status_code == 200 and res.mimetype == "application/geo+json"
        data = res.get_json(force=True)
        assert "crs" not in data
        for f in data["features"]:
            props = f["properties"]
            assert REQUIRED <= set(props) and not (PERSONAL & set(props))
            assert props["level"] in ("safe", "risk", "high_risk", "very_high_risk", "unknown")
            geom = f["geometry"]
            ring = geom["coordinates"][0] if geom["type"] == "Polygon" else geom["coordinates"][0][0]
            lon, lat = ring[0]
            assert 100 < lon < 118 and 6 < lat < 24            # lon, lat order in WGS 84
            area2 = sum(x0 * y1 - x1 * y0 for (x0, y0), (x1, y1) in zip(ring, ring[1:], strict=False))
            assert area2 > 0                                     # exterior ring counter-clockwise
        if unit != "commune":
            assert {"n_safe", "n_risk", "n_high_risk", "n_very_high_risk", "n_unknown"} <= set(props)
    communes = {f["properties"]["code"]: f["properties"] for f in
                client.get(f"/api/zones.geojson?date={DAY}").get_json(force=True)["features"]}
    assert communes["10001"]["level"] == "very_high_risk" and communes["10001"]["reasons"] == ["R1"]
    assert communes["10001"]["level_vi"] == "Vùng nguy cơ rất cao (đỏ)" and communes["10001"]["color"] == "#d7191c"


def test_errors_are_json_never_tracebacks(published_app, client):
    cases = [("/api/zones.geojson?date=2021-08-01", 404, "no_run_for_date"),
             ("/api/zones.geojson?date=31-07-2021", 400, "bad_date"),
             ("/api/zones.geojson?date=2021-07-31&unit=ward", 400, "bad_param"),
             ("/map?date=2020-02-30", 400, "bad_date"),
             ("/tiles/village/tilejson.json", 400, "bad_param"),
             ("/tiles/runs/nope/commune/1/0/0.mvt", 404, "no_run_id"),
             ("/tiles/runs/../../etc/commune/1/0/0.mvt", 404, None),
             ("/no/such/page", 404, None)]
    # a time in year 1 is before year 1 in UTC: a 400 on every route that reads ?as_of=, never a 500
    cases += [(f"{u}{'&' if '?' in u else '?'}as_of=0001-01-01", 400, "bad_param") for u in (
        "/api/zones.geojson?date=2021-07-31", "/api/zones/10001?date=2021-07-31", "/api/hotspots?date=2021-07-31",
        "/api/lockdowns.geojson?date=2021-07-31", "/api/exports/csv?date=2021-07-31", "/ogc/collections/commune/items",
        "/report?date=2021-07-31")]
    for url, status, key in cases:
        res = client.get(url)
        assert res.status_code == status, url
        body = res.get_json()
        assert body["message"] and "Traceback" not in res.get_data(as_text=True)
        if key:
            assert body["error"] == key
    assert "No published run" in client.get("/api/zones.geojson?date=2021-08-01&lang=en").get_json()["message"]


def test_map_page_uses_only_our_own_assets(published_app, client):
    res = client.get(f"/map?date={DAY}")
    assert res.status_code == 200
    html = res.get_data(as_text=True)
    urls = [u for u in re.findall(r'(?:src|href)="([^"]+)"', html) if not u.startswith("#")]      # in-page links aside
    assert urls and all(u.startswith("/") for u in urls), urls
    assert "http://" not in html.replace("http://www.w3.org", "") and "https://" not in html
    for u in urls:
        assert client.get(u).status_code == 200, u
    assert "Vùng nguy cơ rất cao (đỏ)" in html and "Vùng phong tỏa" in html   # counts come from /api/runs
    en = client.get(f"/map?date={DAY}&lang=en").get_data(as_text=True)
    assert "Very high risk (red)" in en and "Lockdowns" in en
    assert client.get("/").status_code == 302


def test_tilejson_and_tiles(published_app, client):
    tj = client.get(f"/tiles/commune/tilejson.json?date={DAY}").get_json()
    assert tj["tilejson"] == "3.0.0" and tj["vector_layers"][0]["id"] == "commune"
    assert set(tj["vector_layers"][0]["fields"]) == {"code", "name", "level", "color", "lockdown"}
    west, south, east, north = tj["bounds"]
    z = tj["maxzoom"]
    t = mercantile.tile((west + east) / 2, (south + north) / 2, z)
    url = tj["tiles"][0].replace("http://localhost", "").format(z=z, x=t.x, y=t.y)
    res = client.get(url)
    assert res.status_code == 200 and res.mimetype == "application/vnd.mapbox-vector-tile"
    assert "immutable" in res.headers["Cache-Control"] and res.headers["ETag"]
    layer = mapbox_vector_tile.decode(res.data)["commune"]
    levels = {f["properties"]["code"]: f["properties"]["level"] for f in layer["features"]}
    assert levels.get("10001") == "very_high_risk" and set(levels) <= {f"1000{i}" for i in range(1, 7)}
    again = client.get(url, headers={"If-None-Match": res.headers["ETag"]})
    assert again.status_code == 304
    # the tile is stored gzipped when published: sent as it is to a client that takes gzip (and as a .mvt.gz file
    # beside the .mvt for nginx's gzip_static), unpacked for one that does not
    import gzip
    packed = client.get(url, headers={"Accept-Encoding": "gzip, br"})
    assert packed.headers["Content-Encoding"] == "gzip" and "Accept-Encoding" in packed.headers["Vary"]
    assert gzip.decompress(packed.data) == res.data and "Content-Encoding" not in res.headers
    assert packed.headers["ETag"] != res.headers["ETag"]
    run_dir = published_app.config["ZONES"].runs_dir / url.split("/")[3]
    stored = run_dir / "tiles" / "xyz" / "commune" / str(z) / str(t.x) / f"{t.y}.mvt.gz"
    assert stored.read_bytes() == packed.data and not stored.with_suffix("").exists()
    empty = client.get(url.replace(f"/{t.x}/{t.y}.mvt", f"/{t.x + 40}/{t.y}.mvt"))
    assert empty.status_code == 204
    assert client.get(url.replace(f"/{z}/", "/3/")).status_code in (204, 400)
    # past maxzoom the area still has communes: no "empty" answer, a 404 naming the zooms (as TileJSON says)
    deeper = mercantile.tile((west + east) / 2, (south + north) / 2, z + 2)
    past = client.get(url.replace(f"/{z}/{t.x}/{t.y}.mvt", f"/{z + 2}/{deeper.x}/{deeper.y}.mvt"))
    assert past.status_code == 404 and f"4–{z}" in past.get_json()["message"]


def test_runs_list(published_app, client):
    runs = client.get("/api/runs").get_json()["runs"]
    assert len(runs) == 1
    r = runs[0]
    assert r["date"] == DAY and r["ruleset"] == "qd2686" and r["boundary_version"] == "units"
    assert set(r["input_hashes"]) == {"boundaries", "cases", "lockdowns", "flags", "indicators", "declarations", "ruleset"}
    assert r["counts"]["commune"]["very_high_risk"] == 1 and sum(r["counts"]["commune"].values()) == 6


def test_a_large_file_goes_compressed_from_one_copy_per_encoding(published_app, client, monkeypatch):
    """A large published file (a national GeoJSON) is compressed once per encoding and kept: brotli when the
    client takes it, else gzip, else as it is; the same bytes and ETag on every request."""
    import gzip

    import brotli

    from geo.serve import compressed
    monkeypatch.setattr(compressed, "MIN_BYTES", 1)        # the test's small day stands for a national one
    plain = client.get(f"/api/zones.geojson?date={DAY}", headers={"Accept-Encoding": "identity"})
    assert plain.status_code == 200 and "Content-Encoding" not in plain.headers
    cache = published_app.config["ZONES"].cache_dir
    for encoding, unpack in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        first = client.get(f"/api/zones.geojson?date={DAY}", headers={"Accept-Encoding": f"{encoding}, identity"})
        kept = list((cache / encoding).rglob("*"))
        again = client.get(f"/api/zones.geojson?date={DAY}", headers={"Accept-Encoding": encoding})
        assert first.headers["Content-Encoding"] == encoding and "Accept-Encoding" in first.headers["Vary"]
        assert unpack(first.data) == plain.data and again.data == first.data
        assert again.headers["ETag"] == first.headers["ETag"] != plain.headers["ETag"]
        assert list((cache / encoding).rglob("*")) == kept and any(p.is_file() for p in kept)
    both = client.get(f"/api/zones.geojson?date={DAY}", headers={"Accept-Encoding": "gzip, br"})
    assert both.headers["Content-Encoding"] == "br"
