"""Codes, names and declarations across a reform on a hand-drawn fixture (issue 23): a ward number of the new
version that was another commune's number before (00226, 27019, 00454 in 2025) stays that ward on a day the new
version is in force; an earlier date reads it as the old commune. Addresses written ward + province (no district),
declarations bound to the version they were made on and carried over only on request, and crosswalks checked
against themselves and the polygons, with a way forward when only part of one is consistent."""
from __future__ import annotations

import geopandas as gpd
import pandas as pd
import pytest
import shapely
from helpers import grid, invoke, published, write_cases, write_units

BEFORE, AFTER = "2025-06-20", "2025-08-01"
# 10001 absorbs 10002; the number 10002 goes to the ward made of old 10003's land
CROSSWALK = "old_code,new_code\n10001,10001\n10002,10001\n10003,10002\n"


def _wards(v1: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    g = v1.set_index("code")
    rows = [{"code": "10001", "name": "Phường Hợp Nhất", "geometry": shapely.union(g.geometry["10001"], g.geometry["10002"])},
            {"code": "10002", "name": "Phường Mới", "geometry": g.geometry["10003"]}]
    out = gpd.GeoDataFrame(rows, crs=v1.crs)
    out["province_code"], out["province_name"], out["population"] = "1", "Tỉnh Thử", 100_000
    return out


def count(code: str, day: str, n: int, **extra) -> dict:
    return {"report_date": day, "commune_code": code, "count": n, "community": "true", "source_known": "true", **extra}


@pytest.fixture
def two_versions(runner, app, tmp_path):
    v1 = grid(1, 3, population=100_000)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "v2021").exit_code == 0
    res = invoke(runner, "declare", "--unit", "10002", "--level", "very_high_risk", "--from", BEFORE,
                 "--decision", "12/QĐ-UBND", "--by", "BCĐ")
    assert res.exit_code == 0, res.output
    (tmp_path / "xw.csv").write_text(CROSSWALK, encoding="utf-8")
    res = invoke(runner, "import-units", write_units(_wards(v1), tmp_path / "v2.geojson"), "--boundary-version", "v2025",
                 "--crosswalk", tmp_path / "xw.csv", "--valid-from", "2025-07-01")
    assert res.exit_code == 0, res.output
    return v1, tmp_path


def test_a_reused_number_is_the_new_ward_on_a_day_the_new_version_is_in_force(runner, app, two_versions):
    _, tmp = two_versions
    rows = [count("10002", AFTER, 7), count("10002", BEFORE, 5)]      # the new ward, and old 10002 (now in 10001)
    res = invoke(runner, "import-cases", write_cases(rows, tmp / "c.csv"))
    assert res.exit_code == 0 and "Nhận 2 dòng, loại 0 dòng" in res.output, res.output
    assert invoke(runner, "reclassify", "--date", AFTER).exit_code == 0
    day = published(app, AFTER, "commune")
    # the 7 cases of 01/08/2025 stay in ward 10002; the 5 of 20/06/2025 (old 10002) are not in it
    assert day["10002"]["community_cases"] == 7
    assert invoke(runner, "reclassify", "--date", "2025-06-25").exit_code == 0
    assert published(app, "2025-06-25", "commune")["10001"]["community_cases"] == 5


def test_an_address_written_ward_and_province(runner, app, two_versions):
    """2025 addresses have no district: a names-only file of ward + province imports."""
    _, tmp = two_versions
    rows = [{"report_date": AFTER, "commune_name": "Phường Mới", "province_name": "Tỉnh Thử", "count": 3,
             "community": "true", "source_known": "true"}]
    res = invoke(runner, "import-cases", write_cases(rows, tmp / "addr.csv"))
    assert res.exit_code == 0 and "Nhận 1 dòng, loại 0 dòng" in res.output, res.output
    assert invoke(runner, "reclassify", "--date", AFTER).exit_code == 0
    assert published(app, AFTER, "commune")["10002"]["community_cases"] == 3


def test_a_declaration_stays_on_its_version_and_is_carried_over_on_request(runner, app, two_versions):
    """Declared on v2021 for its commune 10002: the v2025 ward numbered 10002 does not inherit it; carried over
    through the crosswalk it lands on 10001, the ward that took old 10002."""
    assert invoke(runner, "import-cases", write_cases([count("10001", AFTER, 0)], two_versions[1] / "z.csv")).exit_code == 0
    assert invoke(runner, "reclassify", "--date", AFTER).exit_code == 0
    day = published(app, AFTER, "commune")
    assert day["10002"]["declared_level"] is None and day["10001"]["declared_level"] is None
    res = invoke(runner, "carry-over", "--from", "v2021", "--date", AFTER, "--by", "BCĐ")
    assert res.exit_code == 0 and "Đã chuyển 1 cấp" in res.output, res.output
    assert invoke(runner, "reclassify", "--date", AFTER).exit_code == 0
    day = published(app, AFTER, "commune")
    assert day["10001"]["declared_level"] == "very_high_risk" and day["10002"]["declared_level"] is None
    assert "10002" in day["10001"]["declared_reason"]


@pytest.mark.parametrize(("rows", "why"), [
    ("old_code,new_code,weight\n10001,20001,1\n10002,20001,1\n10003,20002,0.6\n10003,20003,0.3\n", "add up to 0.9"),
    ("old_code,new_code,weight\n10001,20001,1\n10002,20001,1\n10003,20002,0.6\n10003,20002,0.4\n10003,20003,0.4\n",
     "another weight"),
])
def test_crosswalk_weights_are_checked(runner, app, tmp_path, rows, why):
    v1 = grid(1, 3)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "a").exit_code == 0
    g = v1.set_index("code").geometry
    x0, y0, x1, y1 = g["10003"].bounds
    wards = gpd.GeoDataFrame([{"code": "20001", "geometry": shapely.union(g["10001"], g["10002"])},
                              {"code": "20002", "geometry": shapely.box(x0, y0, (x0 + x1) / 2, y1)},
                              {"code": "20003", "geometry": shapely.box((x0 + x1) / 2, y0, x1, y1)}], crs=v1.crs)
    wards["name"], wards["province_code"], wards["province_name"], wards["population"] = "P", "1", "T", 1000
    (tmp_path / "xw.csv").write_text(rows, encoding="utf-8")
    res = invoke(runner, "import-units", write_units(wards, tmp_path / "v2.geojson"), "--boundary-version", "b",
                 "--crosswalk", tmp_path / "xw.csv")
    assert res.exit_code == 2 and why in res.output, res.output


def test_a_partial_crosswalk_and_swapped_codes_are_said(runner, app, tmp_path):
    """A typo in a new code refuses the file; --partial imports the consistent rows and lists the rest; two codes
    swapped are found by the polygons (an old commune barely inside its declared successor)."""
    v1 = grid(1, 3)
    assert invoke(runner, "import-units", write_units(v1, tmp_path / "v1.geojson"), "--boundary-version", "a").exit_code == 0
    g = v1.set_index("code").geometry
    wards = gpd.GeoDataFrame([{"code": "20001", "geometry": g["10001"]}, {"code": "20002", "geometry": g["10002"]},
                              {"code": "20003", "geometry": g["10003"]}], crs=v1.crs)
    wards["name"], wards["province_code"], wards["province_name"], wards["population"] = "P", "1", "T", 1000
    path = write_units(wards, tmp_path / "v2.geojson")
    # 10001 and 10002 swapped; 10003 written to a ward code the polygons lack; 10009 a code no version has
    (tmp_path / "xw.csv").write_text("old_code,new_code\n10001,20002\n10002,20001\n10003,20033\n10009,20003\n",
                                     encoding="utf-8")
    res = invoke(runner, "import-units", path, "--boundary-version", "b", "--crosswalk", tmp_path / "xw.csv")
    assert res.exit_code == 2 and "20033" in res.output
    res = invoke(runner, "import-units", path, "--boundary-version", "b", "--crosswalk", tmp_path / "xw.csv", "--partial")
    assert res.exit_code == 0, res.output
    assert "20033" in res.output and "1 mã cũ" in res.output                   # listed; 10009 kept for its cases
    assert "10001→20002 (0%)" in res.output and "10002→20001 (0%)" in res.output
    cases = pd.DataFrame([count("10009", "2025-08-01", 2)])
    assert "Nhận 1 dòng, loại 0 dòng" in invoke(runner, "import-cases", write_cases(cases.to_dict("records"),
                                                                                 tmp_path / "c.csv")).output
    assert invoke(runner, "reclassify", "--date", "2025-08-01").exit_code == 0
    assert published(app, "2025-08-01", "commune")["20003"]["community_cases"] == 2
