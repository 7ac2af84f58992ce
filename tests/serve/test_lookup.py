"""The questions the map asks: the commune at a point, name search, a unit's last days."""
from __future__ import annotations

import json

import pytest
import shapely
from helpers import case, grid, import_lockdown, invoke, run_scenario


@pytest.fixture
def place(runner, app, tmp_path):
    units = grid(2, 3, district_of=lambda c: "A" if int(c) <= 10003 else "B")
    rows = [case("10001", "2021-07-03", setting="school", case_id="s"), case("10001", "2021-07-05", case_id="k1"),
            case("10001", "2021-07-05", case_id="k2"), case("10005", "2021-07-04", case_id="k3")]
    run_scenario(runner, app, tmp_path, units, rows, "2021-07-01")
    import_lockdown(runner, tmp_path, units, 0, 200, decision_no="5/QĐ", start_date="2021-07-02", end_date="2021-07-20")
    assert invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-06").exit_code == 0
    return units.to_crs(4326)


def test_level_at_a_point(place, app, client):
    c = place.geometry.iloc[0].centroid                 # inside the lockdown of 10001
    r = client.get(f"/api/level?lon={c.x}&lat={c.y}&date=2021-07-04").get_json()
    assert r["code"] == "10001" and r["level"] == "very_high_risk" and r["explanation"].startswith("R2:")
    assert [lk["decision_no"] for lk in r["lockdowns"]] == ["5/QĐ"]
    assert r["district"]["code"] == "A" and r["province"]["level"] in ("high_risk", "very_high_risk")
    before = client.get(f"/api/level?lon={c.x}&lat={c.y}&date=2021-07-01").get_json()
    assert before["level"] == "safe" and before["lockdowns"] == []
    # a corner shared by 10001 and 10002 goes to the lowest code, as cases do
    from geo.store.database import Store
    stored = Store(app.config["ZONES"].db_path).current_units()[1].set_index("code").geometry
    shared = set(map(tuple, shapely.get_coordinates(stored["10001"]))) & set(map(tuple, shapely.get_coordinates(stored["10002"])))
    x, y = map(float, sorted(shared)[0])
    got = client.get(f"/api/level?lon={x!r}&lat={y!r}").get_json()
    assert got.get("code") == "10001", got
    r = client.get("/api/level?lon=150&lat=-30")
    assert r.status_code == 404 and "không thuộc xã nào" in r.get_json()["message"]
    assert client.get("/api/level?lon=east&lat=1").status_code == 400
    assert client.get("/api/level?lon=200&lat=1").status_code == 400


def test_search_ignores_diacritics_and_case(place, client):
    got = client.get("/api/search?q=xa o 10003").get_json()["results"]
    assert got[0]["code"] == "10003" and got[0]["unit"] == "commune" and len(got[0]["bbox"]) == 4
    assert client.get("/api/search?q=XÃ Ô 10003").get_json()["results"][0]["code"] == "10003"
    tinh = client.get("/api/search?q=tinh thu").get_json()["results"]
    assert tinh[0]["unit"] == "province" and len(tinh) == 1 + 2 + 6       # the province, then everything in it
    assert client.get("/api/search?q=huyen b").get_json()["results"][0]["code"] == "B"
    assert client.get("/api/search?q=nowhere").get_json()["results"] == []


def test_unit_history_has_daily_cases_and_levels(place, runner, tmp_path, client):
    h = client.get("/api/zones/10001/history?date=2021-07-06&days=7").get_json()
    assert h["dates"][0] == "2021-06-30" and h["dates"][-1] == "2021-07-06"
    assert h["cases"] == [0, 0, 0, 1, 0, 2, 0]
    assert h["levels"] == [None, "safe", "safe", "very_high_risk", "very_high_risk", "very_high_risk", "very_high_risk"]
    d = client.get("/api/zones/B/history?unit=district&date=2021-07-06&days=7").get_json()
    assert d["cases"] == [0, 0, 0, 0, 1, 0, 0] and d["levels"][-1] is not None
    assert len(client.get("/api/zones/10002/history").get_json()["dates"]) == 60
    assert client.get("/api/zones/99999/history").status_code == 404


def test_map_page_is_light_and_loads_only_from_our_server(place, app, client):
    import re

    from geo.store.database import Store
    from server import create_app
    run = Store(app.config["ZONES"].db_path).run_for_date("2021-07-04")
    page = client.get("/map?date=2021-07-04").get_data(as_text=True)
    assert len(page.encode()) < 100_000                        # data comes as tiles, never inside the page
    # the page draws its version's shape tiles in the colours of the run's levels table
    config = json.loads(re.search(r'id="zones-config">(.*?)</script>', page).group(1))
    assert config["run"] == run["run_id"] and config["shapes"] == run["manifest"]["shapes"]
    index = client.get(f"/tiles/shapes/{config['shapes']}/index.json").get_json()
    table = client.get(f"/tiles/runs/{run['run_id']}/map-levels.json").get_json()
    assert len(table["units"]["commune"]["level"]) == len(index["units"]["commune"]["code"]) == 6
    assert not re.search(r'(src|href)="(https?:)?//', page) and "http://" not in page.replace("http://www.w3.org", "")
    assert client.get("/assets/committee.js").status_code == 200 and client.get("/assets/../server.py").status_code == 404
    intranet = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir),
                           "ZONES_BASEMAP_URL": "http://gis.tinh.local/tiles/{z}/{x}/{y}.png"})
    with_basemap = intranet.test_client().get("/map?date=2021-07-04").get_data(as_text=True)
    assert "http://gis.tinh.local/tiles/{z}/{x}/{y}.png" in with_basemap
