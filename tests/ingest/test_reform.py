"""Across the 2025 reform on a hand-drawn fixture: a three-level version (communes, districts, provinces)
followed by a two-level one (no districts) through a crosswalk with a split, a merger, a low-confidence
link and an old commune without successor. Cases recorded afterwards with old codes or old names follow
to the new wards; a split commune's case goes where its point lies, else to its largest part (flagged);
history before the reform is marked derived."""
from __future__ import annotations

import json

import geopandas as gpd
import pytest
import shapely
from helpers import case, cell_centre, grid, invoke, numbered, published, write_cases, write_units

D1, D2 = "2021-07-30", "2021-07-31"
# 2021 codes -> 2025 wards, as the national crosswalk writes them (no weights: taken from areas)
CROSSWALK = ("code_2021,new_code,method\n10001,20001,direct\n10002,20001,direct\n10003,10003,direct\n"
             "10004,10004,direct\n10006,20006,direct\n10006,20007,spatial_2009_polygon_point\n10005,,unresolved\n")


def _wards(v1: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """10001 + 10002 merged into 20001; 10006 split 70/30 into 20006 (west) and 20007 (east); 10005 gone
    (its land left out of the fixture: no successor); no district columns."""
    g = v1.set_index("code")
    x0, y0, x1, y1 = g.geometry["10006"].bounds
    cut = x0 + 0.7 * (x1 - x0)
    rows = [{"code": "20001", "name": "Phường Hợp Nhất", "geometry": shapely.union(g.geometry["10001"], g.geometry["10002"])},
            {"code": "10003", "name": "Xã Ô 10003", "geometry": g.geometry["10003"]},
            {"code": "10004", "name": "Xã Ô 10004", "geometry": g.geometry["10004"]},
            {"code": "20006", "name": "Xã Tây", "geometry": shapely.box(x0, y0, cut, y1)},
            {"code": "20007", "name": "Xã Đông", "geometry": shapely.box(cut, y0, x1, y1)}]
    out = gpd.GeoDataFrame(rows, crs=v1.crs)
    out["province_code"], out["province_name"], out["population"] = "1", "Tỉnh Thử", 50_000
    return out


@pytest.fixture
def reformed(runner, app, tmp_path):
    v1 = grid(2, 3)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "xa2021.geojson"), "--boundary-version", "xa-2021").exit_code == 0
    before = numbered([case("10001", D1, known=False, cluster="A") for _ in range(2)])
    assert invoke(runner, "import-cases", write_cases(before, tmp_path / "c1.csv")).exit_code == 0
    assert invoke(runner, "reclassify", "--date", D1).exit_code == 0
    (tmp_path / "xwalk.csv").write_text(CROSSWALK, encoding="utf-8")
    res = invoke(runner, "import-units", write_units(_wards(v1), tmp_path / "phuong2025.geojson"), "--boundary-version",
                 "xa-2025", "--crosswalk", tmp_path / "xwalk.csv")
    assert res.exit_code == 0, res.output
    east_x, east_y = cell_centre(v1, "10006")
    after = [case("10001", D2, known=False, cluster="B", case_id="N1"), case("10001", D2, known=False, cluster="B", case_id="N2"),
             case("10006", D2, case_id="N3"), case("10006", D2, case_id="N4"),                 # no point: largest part
             {**case("10006", D2, case_id="N5"), "lon": east_x + 0.004, "lat": east_y},      # a point in the east part
             {**case("", D2, case_id="N6"), "commune_name": "Xã Ô 10002", "district_name": "Huyện 101",
              "province_name": "Tỉnh Thử"},                                                  # old names
             case("10005", D2, case_id="N7")]                                                # no successor
    imported = invoke(runner, "import-cases", write_cases(after, tmp_path / "c2.csv"))
    assert imported.exit_code == 0, imported.output
    res2 = invoke(runner, "reclassify", "--date", D2)
    assert res2.exit_code == 0, res2.output
    return app, res.output, imported.output, tmp_path


def test_the_crosswalk_is_reported_with_area_weights_and_low_confidence_links(reformed):
    app, out, _, _ = reformed
    assert "không có cấp huyện" in out and "1 xã cũ bị chia (tỷ lệ theo diện tích)" in out, out
    assert "2 liên kết độ tin cậy thấp và 1 xã cũ không có xã kế thừa" in out, out
    report = json.loads((app.config["ZONES"].reports_dir / "units-xa-2025.json").read_text(encoding="utf-8"))["crosswalk"]
    assert report["no_successor"] == ["10005"] and report["weights"] == "areas"
    assert {(r["old_code"], r["method"]) for r in report["low_confidence"]} == {("10006", "spatial_2009_polygon_point"),
                                                                              ("10005", "unresolved")}
    from geo.store.database import Store
    with Store(app.config["ZONES"].db_path).connect(readonly=True) as con:
        weights = dict(con.execute("SELECT new_code, weight FROM crosswalk WHERE old_code = '10006'").fetchall())
    assert weights == pytest.approx({"20006": 0.7, "20007": 0.3}, abs=1e-6)


def test_cases_with_old_codes_and_names_follow_to_the_new_wards(reformed):
    app, _, imported, _ = reformed
    assert "names of an earlier boundary version" in imported and "a commune code of an earlier" in imported, imported
    day2 = published(app, D2, "commune")
    assert set(day2) == {"20001", "10003", "10004", "20006", "20007"}
    # D1's two cases (on 10001, before the reform) and D2's: two by old code 10001, one by the old names of 10002
    assert day2["20001"]["community_cases"] == 5
    assert day2["20006"]["community_cases"] == 2            # the split commune's cases without a point: largest part
    assert day2["20007"]["community_cases"] == 1            # the one with a point: where it lies
    assert day2["20001"]["level"] == "very_high_risk"
    from geo.store.database import Store
    run = Store(app.config["ZONES"].db_path).run_for_date(D2)
    followed = run["manifest"]["cases_followed"]
    assert followed["split_largest_part"] == 2 and followed["split_by_point"] == 1 and followed["crosswalk"] >= 6
    # 10005 has no successor: its case is rejected with the reason, never silently counted elsewhere
    assert "loại 1 dòng" in imported and "10005" in imported
    assert run["manifest"]["levels"] == ["commune", "province"]


def test_the_report_flags_split_cases_and_history_before_the_reform_is_derived(reformed, client):
    page = client.get(f"/report?date={D2}").get_data(as_text=True)
    assert "2 ca ghi theo mã xã cũ đã bị chia" in page
    hist = client.get(f"/api/zones/20001/history?date={D2}&days=2").get_json()
    assert hist["codes_then"] == [["10001", "10002"], ["20001"]] and hist["derived"] == [True, False]
    assert hist["levels"][0] == "very_high_risk"            # the worst of its predecessors on D1
    assert client.get(f"/api/zones.geojson?date={D1}&unit=district").status_code == 200   # 2021 had districts
    assert client.get(f"/api/zones.geojson?date={D2}&unit=district").status_code == 404   # 2025 has none
