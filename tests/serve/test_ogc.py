"""OGC API - Features and the HTTP exports, read by clients nobody here wrote: GDAL (ogrinfo OAPIF:,
ogr2ogr) and OWSLib, over a real socket."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import threading

import geopandas as gpd
import pytest
import shapely
from helpers import case, flag_and_lockdown, grid, invoke, numbered, published, store_dump, write_cases
from werkzeug.serving import make_server

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

D1, D2 = "2021-07-30", "2021-07-31"
needs_gdal = pytest.mark.skipif(shutil.which("ogrinfo") is None,
                                reason="ogrinfo not installed (scripts/setup.sh installs gdal-bin)")
# Patient fields in the case file: they must never come out of anything we serve.
PII = {"ho_ten": "Nguyễn Văn Riêngtư", "phone": "0912345678", "dia_chi": "Số 9 ngõ Bímật"}


@pytest.fixture
def served(runner, app, tmp_path):
    """4 x 5 communes in two districts; day 1 quiet, day 2 an outbreak and a lockdown; served on a port."""
    units = grid(4, 5, district_of=lambda c: "101" if int(c) <= 10010 else "102")
    units.loc[units["code"] == "10020", "name"] = "=HYPERLINK(\"http://x\",\"bấm\")"
    units.to_file(tmp_path / "units.geojson", engine="pyogrio")
    assert invoke(runner, "import-units", tmp_path / "units.geojson").exit_code == 0
    rows = [case("10001", D1, **PII)] + [case("10007", D2, known=False, cluster="A", **PII) for _ in range(3)]
    rows += [case("10014", D2, setting="industrial_zone")]
    assert invoke(runner, "import-cases", write_cases(numbered(rows), tmp_path / "cases.csv")).exit_code == 0
    flag_and_lockdown(runner, tmp_path, units, ("10003", D2, D2), (12, "77/QĐ-UBND", D2, "2021-08-10"))
    for day in (D1, D2):
        assert invoke(runner, "reclassify", "--date", day).exit_code == 0
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield app, f"http://127.0.0.1:{server.server_port}", units
    server.shutdown()


def _runs(client):
    return {r["date"]: r["run_id"] for r in client.get("/api/runs").get_json()["runs"]}


def _gdal(*args) -> str:
    out = subprocess.run([*map(str, args)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@needs_gdal
def test_gdal_lists_and_copies_every_collection_with_paging(served, tmp_path):
    app, base, _ = served
    info = _gdal("ogrinfo", "-ro", "-oo", "PAGE_SIZE=7", f"OAPIF:{base}/ogc")
    for i, name in enumerate(("commune", "district", "province", "lockdown"), 1):
        assert f"{i}: {name}" in info
    out = tmp_path / "copy.gpkg"
    _gdal("ogr2ogr", "-oo", "PAGE_SIZE=7", "-f", "GPKG", out, f"OAPIF:{base}/ogc")
    for unit, n in (("commune", 20), ("district", 2), ("province", 1), ("lockdown", 1)):
        copied = gpd.read_file(out, layer=unit, engine="pyogrio")
        assert len(copied) == n, unit
        if unit != "lockdown":
            expected = published(app, D2, unit)
            assert dict(zip(copied["code"], copied["level"], strict=False)) == {c: p["level"] for c, p in expected.items()}
            assert set(copied["boundary_version"]) == {expected[next(iter(expected))]["boundary_version"]}
    assert "decision_no (String) = 77/QĐ-UBND" in _gdal("ogrinfo", "-ro", "-al", f"OAPIF:{base}/ogc", "lockdown")
    # GDAL passes a spatial filter as bbox and an attribute filter it can, and gets the right features
    where = _gdal("ogrinfo", "-ro", "-al", "-q", "-where", "level = 'very_high_risk'", f"OAPIF:{base}/ogc", "commune")
    vhr = {c for c, p in published(app, D2, "commune").items() if p["level"] == "very_high_risk"}
    assert vhr and where.count("OGRFeature(") == len(vhr)


def test_owslib_pages_through_every_collection(served):
    from owslib.ogcapi.features import Features
    app, base, _ = served
    api = Features(base + "/ogc")
    assert "http://www.opengis.net/spec/ogcapi-features-1/1.0/conf/geojson" in api.conformance()["conformsTo"]
    assert [c["id"] for c in api.collections()["collections"]] == ["commune", "district", "province", "lockdown"]
    for unit in ("commune", "district", "province", "lockdown"):
        seen, offset, pages = [], 0, 0
        while True:
            page = api.collection_items(unit, limit=6, offset=offset)
            seen += [f["id"] for f in page["features"]]
            pages += 1
            nxt = [lk for lk in page["links"] if lk["rel"] == "next"]
            if not nxt:
                break
            offset = int(nxt[0]["href"].split("offset=")[1].split("&")[0])
        assert len(seen) == len(set(seen)) == page["numberMatched"]
        if unit != "lockdown":
            assert set(seen) == set(published(app, D2, unit))
        assert pages == -(-len(seen) // 6) or len(seen) == 0
    one = api.collection_item("commune", "10007")
    assert one["id"] == "10007" and one["properties"]["level"] == published(app, D2, "commune")["10007"]["level"]
    assert set(api.collection_queryables("commune")["properties"]) >= {"level", "district_code", "province_code"}


def test_filters_bbox_datetime_and_errors(served, client):
    app, _, units = served
    runs = _runs(client)
    day2 = published(app, D2, "commune")
    # bbox: exactly the communes whose polygon intersects it (a box inside cell 10007 touches only it)
    cell = units.to_crs(4326).set_index("code").geometry
    box = shapely.box(*cell["10007"].buffer(-0.001).bounds)
    res = client.get("/ogc/collections/commune/items?bbox=" + ",".join(map(str, box.bounds)))
    assert [f["id"] for f in res.get_json()["features"]] == ["10007"]
    wide = shapely.box(*cell["10007"].buffer(0.002).bounds)
    got = {f["id"] for f in client.get("/ogc/collections/commune/items?bbox=" + ",".join(map(str, wide.bounds))).get_json()["features"]}
    assert got == set(cell.index[cell.intersects(wide)])
    # property filters, any-of lists, booleans, and combined with paging counts
    lv = client.get("/ogc/collections/commune/items?level=very_high_risk,high_risk&district_code=101").get_json()
    expected = {c for c, p in day2.items() if p["level"] in ("very_high_risk", "high_risk") and p["district_code"] == "101"}
    assert {f["id"] for f in lv["features"]} == expected and lv["numberMatched"] == len(expected)
    assert {f["id"] for f in client.get("/ogc/collections/commune/items?lockdown=true").get_json()["features"]} == \
        {c for c, p in day2.items() if p["lockdown"]}
    # datetime: an instant, an interval (its newest published day), and run=
    d1 = client.get(f"/ogc/collections/commune/items?datetime={D1}T08:00:00Z").get_json()
    assert d1["date"] == D1 and d1["run_id"] == runs[D1]
    assert client.get(f"/ogc/collections/commune/items?datetime=../{D2}").get_json()["date"] == D2
    assert client.get(f"/ogc/collections/commune/items?datetime=2021-07-01/{D1}").get_json()["date"] == D1
    assert client.get(f"/ogc/collections/commune/items?run={runs[D1]}").get_json()["date"] == D1
    assert client.get("/ogc/collections/commune/items?datetime=2020-01-01").status_code == 404
    # errors name the parameter
    for query, name in (("bbox=1,2,3", "bbox"), ("limit=0", "limit"), ("limit=100001", "limit"), ("offset=-1", "offset"),
                        ("level=green", "level"), ("colour=red", "colour"), ("datetime=yesterday", "datetime"),
                        ("datetime=2021-07-31/2021-07-01", "datetime"), ("f=html", "f")):
        res = client.get(f"/ogc/collections/commune/items?{query}")
        assert res.status_code == 400 and name in res.get_json()["message"], query
    assert client.get("/ogc/collections/village/items").status_code == 400
    assert client.get("/ogc/collections/commune/items/99999").status_code == 404
    # the document other systems start from
    landing = client.get("/ogc").get_json()
    assert {lk["rel"] for lk in landing["links"]} >= {"service-desc", "conformance", "data"}
    doc = client.get("/ogc/api")
    assert doc.mimetype == "application/vnd.oai.openapi+json" and "/ogc/collections/{collectionId}/items" in doc.get_json()["paths"]
    coll = client.get("/ogc/collections/commune").get_json()
    assert coll["extent"]["temporal"]["interval"][0][0].startswith(D1) and coll["boundary_version"]


@needs_gdal
def test_exports_in_every_format_since_and_etag(served, client, tmp_path):
    app, _, _ = served
    runs = _runs(client)
    day1, day2 = published(app, D1, "commune"), published(app, D2, "commune")
    changed = {c for c in day2 if day2[c]["level"] != day1[c]["level"]}
    assert changed and len(changed) < len(day2)
    for fmt, driver in (("geojson", "GeoJSON"), ("geojsonseq", "GeoJSONSeq"), ("csv", "CSV"), ("gpkg", "GPKG"),
                        ("xlsx", "XLSX")):
        for since, codes in ((None, set(day2)), (runs[D1], changed)):
            url = f"/api/exports/{fmt}?date={D2}" + (f"&since={since}" if since else "")
            res = client.get(url)
            assert res.status_code == 200, (url, res.data[:200])
            path = tmp_path / f"x-{bool(since)}.{ 'geojsons' if fmt == 'geojsonseq' else fmt}"
            path.write_bytes(res.data)
            # GPKG and XLSX hold the units' layer and, beside it, the table of the measures their ids name
            info = _gdal("ogrinfo", "-ro", "-q", path, "commune") if fmt in ("gpkg", "xlsx") else _gdal("ogrinfo", "-ro", "-al", "-q", path)
            assert info.count("OGRFeature(") == len(codes), (fmt, since)
            if fmt in ("gpkg", "xlsx"):
                assert "V-TRANSPORT" in _gdal("ogrinfo", "-ro", "-q", path, "measures")
            assert f"using driver `{driver}'" in _gdal("ogrinfo", "-ro", "-so", path)
            got = {ln.split("=", 1)[1].strip() for ln in info.splitlines() if ln.strip().startswith("code (")}
            assert got == codes, (fmt, since)
            assert info.count("boundary_version (String) = units") == len(codes)   # every row names it
            assert res.headers["X-Boundary-Version"] and res.headers["ETag"]
            again = client.get(url, headers={"If-None-Match": res.headers["ETag"]})
            assert again.status_code == 304 and not again.data
    assert client.get(f"/api/exports/pdf?date={D2}").status_code == 400
    assert client.get(f"/api/exports/csv?since=nope{'x' * 6}").status_code == 404


def test_xlsx_export_neutralises_formulas(served, client):
    from openpyxl import load_workbook
    res = client.get(f"/api/exports/xlsx?date={D2}")
    ws = load_workbook(io.BytesIO(res.data)).active
    header = [c.value for c in ws[1]]
    names = [row[header.index("name")] for row in ws.iter_rows(min_row=2, values_only=True)]
    bad = [n for n in names if n.startswith("'=")]
    assert bad == ['\'=HYPERLINK("http://x","bấm")']
    assert not any(c.data_type == "f" for row in ws.iter_rows() for c in row)


def test_no_patient_field_in_any_output(served, client):
    app, base, _ = served
    runs = _runs(client)
    bodies = [client.get(u).data for u in (
        "/ogc/collections/commune/items", "/ogc/collections/lockdown/items", "/api/zones.geojson", "/api/runs",
        "/api/zones/10007", "/api/zones/10007/history", f"/api/changes?to={D2}", "/api/lockdowns.geojson",
        f"/report?date={D2}", "/map")]
    bodies += [client.get(f"/api/exports/{f}?date={D2}").data for f in ("geojson", "geojsonseq", "csv", "gpkg", "xlsx")]
    files = [p for p in app.config["ZONES"].data_dir.rglob("*") if p.is_file() and not p.name.startswith("zones.sqlite")]
    bodies += [p.read_bytes() for p in files]
    assert runs and len(files) > 20
    for value in PII.values():
        for text in (value.encode(), value.encode("utf-16-le")):
            assert not any(text in b for b in bodies), value
    # nor in the store itself: personal columns are dropped when the case file is read
    from geo.store.database import Store
    dump = store_dump(Store(app.config["ZONES"].db_path))
    assert not any(v in dump for v in PII.values())
    assert json.dumps(client.get("/api/runs").get_json(), ensure_ascii=False).count("Riêngtư") == 0


@needs_gdal
def test_cli_exports_the_same_files(served, runner, client, tmp_path):
    app, _, _ = served
    runs = _runs(client)
    day1, day2 = published(app, D1, "commune"), published(app, D2, "commune")
    changed = {c for c in day2 if day2[c]["level"] != day1[c]["level"]}
    for fmt in ("geojsonseq", "xlsx", "csv"):
        out = tmp_path / f"cli.{ 'geojsons' if fmt == 'geojsonseq' else fmt}"
        res = invoke(runner, "export", "--date", D2, "--format", fmt, "--since", runs[D1], "--out", out)
        assert res.exit_code == 0, res.output
        assert out.read_bytes() == client.get(f"/api/exports/{fmt}?date={D2}&since={runs[D1]}").data
        # the workbook holds the units' sheet and, beside it, the measures' sheet: the units' layer is read
        args = ("-q", out, "commune") if fmt == "xlsx" else ("-al", "-q", out)
        assert _gdal("ogrinfo", "-ro", *args).count("OGRFeature(") == len(changed)
    assert invoke(runner, "export", "--date", D2, "--format", "csv", "--since", "nope-nope", "--out", tmp_path / "x").exit_code == 2
