"""A new boundary version with communes merged and split, imported with a crosswalk: history stays
queryable on both sides, cases follow their commune, every output names its boundary version."""
from __future__ import annotations

import datetime as dt

import geopandas as gpd
import numpy as np
import pytest
import shapely
from helpers import case, cell_centre, grid, invoke, numbered, published, write_cases, write_units

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

D1, D2 = "2021-07-30", "2021-07-31"
# The GSO change report's own column names (../shared/data/vn_admin_units_gso_codes)
CROSSWALK = ("commune_code_2019,commune_code_2024,weight\n10001,20001,1\n10002,20001,1\n"
             "10006,20006,0.7\n10006,20007,0.3\n")


def _v2(v1: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """10001 + 10002 merged into 20001; 10006 split into 20006 (west) and 20007 (east)."""
    g = v1.set_index("code")
    merged = shapely.union(g.geometry["10001"], g.geometry["10002"])
    x0, y0, x1, y1 = g.geometry["10006"].bounds
    west, east = shapely.box(x0, y0, (x0 + x1) / 2, y1), shapely.box((x0 + x1) / 2, y0, x1, y1)
    rows = [dict(g.loc["10001"].drop("geometry"), code="20001", name="Xã Hợp Nhất", geometry=merged)]
    rows += [dict(g.loc[c].drop("geometry"), code=c, geometry=g.geometry[c]) for c in ("10003", "10004", "10005")]
    rows += [dict(g.loc["10006"].drop("geometry"), code=c, name=f"Xã Tách {c}", geometry=geom)
             for c, geom in (("20006", west), ("20007", east))]
    return gpd.GeoDataFrame(rows, crs=v1.crs)


@pytest.fixture
def changed(runner, app, tmp_path):
    v1 = grid(2, 3)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "xa-2019").exit_code == 0
    east_x, east_y = cell_centre(v1, "10006")
    rows = [case("10001", D1, known=False, cluster="A") for _ in range(3)] + [case("10002", D1)]
    rows += [case("10006", D1), case("10006", D1)]                              # by code: to the larger part
    rows += [{**case("", D1), "commune_code": "", "lon": east_x + 0.003, "lat": east_y}]   # by point: the east part
    assert invoke(runner, "import-cases", write_cases(numbered(rows), tmp_path / "c.csv")).exit_code == 0
    assert invoke(runner, "reclassify", "--date", D1).exit_code == 0
    (tmp_path / "crosswalk.csv").write_text(CROSSWALK, encoding="utf-8")
    res = invoke(runner, "import-units", write_units(_v2(v1), tmp_path / "v2.geojson"), "--boundary-version", "xa-2024",
                 "--crosswalk", tmp_path / "crosswalk.csv")
    assert res.exit_code == 0, res.output
    assert invoke(runner, "reclassify", "--date", D2).exit_code == 0
    return app, tmp_path, v1


def test_cases_follow_their_commune_into_the_new_version(changed):
    app, _, _ = changed
    day1, day2 = published(app, D1, "commune"), published(app, D2, "commune")
    assert set(day2) == {"20001", "10003", "10004", "10005", "20006", "20007"}
    assert {p["boundary_version"] for p in day1.values()} == {"xa-2019"}
    assert {p["boundary_version"] for p in day2.values()} == {"xa-2024"}
    # merged: the cases of both predecessors; split: coded cases to the larger part, the point case where it lies
    assert day2["20001"]["community_cases"] == day1["10001"]["community_cases"] + day1["10002"]["community_cases"] == 4
    assert day2["20006"]["community_cases"] == 2 and day2["20007"]["community_cases"] == 1
    assert published(app, D2, "commune") and app.test_client().get("/api/runs").get_json()["runs"][-1]["boundary_version"] == "xa-2024"


def test_previous_levels_across_versions_take_the_worst_predecessor(changed):
    from geo.evaluate import hysteresis
    from geo.store.database import Store
    from rules.levels import RANK
    app, _, _ = changed
    settings = app.config["ZONES"]
    store = Store(settings.db_path)
    day1 = published(app, D1, "commune")
    codes = np.array(["20001", "10003", "20006", "20007"], dtype=object)
    got = hysteresis.previous_levels(store, settings.runs_dir, dt.date.fromisoformat(D2), codes)
    worst = max(RANK[day1["10001"]["level"]], RANK[day1["10002"]["level"]])
    assert list(got) == [worst, RANK[day1["10003"]["level"]], RANK[day1["10006"]["level"]], RANK[day1["10006"]["level"]]]
    assert day1["10001"]["level"] != day1["10002"]["level"]          # the worst one was chosen, not the first


def test_history_is_queryable_by_old_and_new_codes(changed, client):
    app, _, _ = changed
    day1, day2 = published(app, D1, "commune"), published(app, D2, "commune")
    old = client.get(f"/api/zones/10001/history?date={D2}&days=2").get_json()
    assert old["levels"] == [day1["10001"]["level"], day2["20001"]["level"]]
    assert old["codes_then"] == [["10001"], ["20001"]] and old["cases"][0] == 3
    new = client.get(f"/api/zones/20001/history?date={D2}&days=2").get_json()
    assert new["codes_then"] == [["10001", "10002"], ["20001"]]
    assert new["levels"][0] == max(day1["10001"]["level"], day1["10002"]["level"],
                                   key=["safe", "risk", "high_risk", "very_high_risk"].index)
    assert new["cases"][0] == 4 and set(new["lineage"]) == {"10001", "10002", "20001"}
    split = client.get(f"/api/zones/20007/history?date={D2}&days=2").get_json()
    assert split["codes_then"] == [["10006"], ["20007"]] and split["levels"][0] == day1["10006"]["level"]
    # each day's run answers in its own codes, and says which boundaries
    assert client.get(f"/api/zones/10001?date={D1}").status_code == 200
    assert client.get(f"/api/zones/10001?date={D2}").status_code == 404
    items = client.get(f"/ogc/collections/commune/items?datetime={D1}").get_json()
    assert items["boundary_version"] == "xa-2019" and {f["id"] for f in items["features"]} >= {"10001", "10006"}
    assert client.get(f"/api/exports/csv?date={D1}").headers["X-Boundary-Version"] == "xa-2019"
    assert client.get(f"/ogc/collections/commune/items?datetime={D2}").get_json()["boundary_version"] == "xa-2024"


def test_a_bad_crosswalk_is_refused_and_nothing_changes(runner, app, tmp_path):
    from geo.store.database import Store
    v1 = grid(2, 3)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "xa-2019").exit_code == 0
    write_units(_v2(v1), tmp_path / "v2.geojson")
    store = Store(app.config["ZONES"].db_path)
    for text, expect in (
        ("old_code,new_code\n10001,20001\n10002,20001\n10006,20006\n19999,20007\n", ["row 5", "old_code", "19999"]),
        ("old_code,new_code\n10001,20001\n10002,29999\n10006,20006\n", ["row 3", "new_code", "29999"]),
        ("old_code,new_code\n10001,20001\n10006,20006\n", ["not mapped", "10002"]),
        ("ma_cu,ma_moi,weight\n10001,20001,1\n10002,20001,0\n10006,20006,1\n", ["row 3", "weight"]),
        ("cu,moi\n10001,20001\n", ["old_code"]),
    ):
        (tmp_path / "cw.csv").write_text(text, encoding="utf-8")
        res = invoke(runner, "import-units", tmp_path / "v2.geojson", "--boundary-version", "xa-2024",
                     "--crosswalk", tmp_path / "cw.csv")
        assert res.exit_code == 2 and "cw.csv" in res.output, res.output
        for e in expect:
            assert e in res.output, (e, res.output)
        assert store.current_boundary_version() == "xa-2019"
        with store.connect(readonly=True) as con:
            assert con.execute("SELECT COUNT(*) FROM units WHERE boundary_version = 'xa-2024'").fetchone()[0] == 0
            assert con.execute("SELECT COUNT(*) FROM crosswalk").fetchone()[0] == 0


def test_a_version_derived_from_old_polygons_and_a_crosswalk(runner, app, tmp_path):
    """import-units --derive-from: merged communes are the union of their predecessors, a renamed one keeps
    its polygon, a split one is named as needing polygons; cases under old codes follow; nothing invented."""
    v1 = grid(2, 3, population={"10001": 1000, "10002": 2000, "10003": 500, "10004": 700, "10005": 900, "10006": 300})
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "xa-2009").exit_code == 0
    xwalk = tmp_path / "gso-2009-2021.csv"
    xwalk.write_text("old_code,new_code,new_name,new_district_code,new_district_name\n"
                     "10001,20001,Xã Hợp Nhất,201,Huyện Mới\n10002,20001,Xã Hợp Nhất,201,Huyện Mới\n"
                     "10003,20003,,,\n10004,20004,,,\n10005,20005,Xã Đổi Tên,,\n"
                     "10006,20006,Xã Tách Tây,,\n10006,20007,Xã Tách Đông,,\n99999,20009,Xã Ma,,\n", encoding="utf-8")
    res = invoke(runner, "import-units", "--derive-from", "xa-2009", "--crosswalk", xwalk, "--boundary-version", "xa-2021")
    assert res.exit_code == 0, res.output
    assert "Dựng được 4/7 xã từ phiên bản xa-2009 (1 xã sáp nhập); 3 xã cần ranh giới" in res.output
    from geo.store.database import Store
    store = Store(app.config["ZONES"].db_path)
    assert store.current_boundary_version() == "xa-2021"
    new = store.load_units("xa-2021", "commune").set_index("code")
    assert sorted(new.index) == ["20001", "20003", "20004", "20005"]
    old = v1.to_crs(4326).set_index("code")
    assert new.geometry["20001"].symmetric_difference(old.geometry["10001"].union(old.geometry["10002"])).area < 1e-12
    assert new.loc["20001", "population"] == 3000 and new.loc["20001", "name"] == "Xã Hợp Nhất"
    assert new.loc["20001", "district_code"] == "201" and new.loc["20003", "district_code"] == "101"
    assert new.loc["20003", "name"] == "Xã Ô 10003" and new.loc["20005", "name"] == "Xã Đổi Tên"
    report = store.boundary_report("xa-2021")["derived"]
    assert report["need_polygons"] == ["20006", "20007", "20009"] and report["unknown_old_codes"] == ["99999"]
    assert report["n_old_not_in_crosswalk"] == 0 and report["derived_from"] == "xa-2009"
    # without a crosswalk: a clear refusal naming what is missing
    bad = invoke(runner, "import-units", "--derive-from", "xa-2009", "--boundary-version", "xa-x")
    assert bad.exit_code != 0 and "--crosswalk" in bad.output
