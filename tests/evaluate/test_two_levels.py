"""A boundary version with two levels, commune -> province, as Vietnam since 1/7/2025: a hand-drawn
fixture (no shared data). The province is rated from its communes by RULES.md section 3's clauses
(rollup_from), every output follows the version, and asking for districts is a 404 naming it."""
from __future__ import annotations

import json
import subprocess

import pytest

from tests.helpers import case, grid, invoke, numbered, published, write_cases, write_units

DAY = "2021-07-20"
# 2 provinces side by side, 5 x 2 communes each, no district columns at all
ROWS, COLS = 5, 4


def _two_level(population=100_000):
    g = grid(ROWS, COLS, population=population)
    g["province_code"] = ["01" if (int(c) - 10001) % COLS < 2 else "02" for c in g["code"]]
    g["province_name"] = g["province_code"].map({"01": "Tỉnh Một", "02": "Tỉnh Hai"})
    return g.drop(columns=["district_code", "district_name"])


def _oracle(counts: dict[str, int], n: int) -> str:
    """RULES.md section 3 on the commune counts of one province (population rule aside: no known-source
    cases in these scenarios, so "risk" comes only from a child at risk or worse)."""
    vh, hi = counts.get("very_high_risk", 0), counts.get("very_high_risk", 0) + counts.get("high_risk", 0)
    ri = hi + counts.get("risk", 0)
    if vh * 100 >= 30 * n or hi * 100 >= 50 * n:
        return "very_high_risk"
    if hi * 100 >= 30 * n or ri * 100 >= 50 * n or vh:
        return "high_risk"
    return "risk" if ri else ("unknown" if counts.get("unknown", 0) == n else "safe")


@pytest.fixture
def two_level_run(runner, app, tmp_path):
    units = _two_level()
    res = invoke(runner, "import-units", write_units(units, tmp_path / "wards.geojson"))
    assert res.exit_code == 0, res.output
    assert "không có cấp huyện" in res.output, res.output
    # unknown-source clusters (red) in 3 communes of province 01 (col 0), one in province 02 (col 3)
    reds = ["10001", "10009", "10017", "10008"]
    rows = numbered([case(c, DAY, known=False, cluster=f"K{c}") for c in reds for _ in range(2)])
    assert invoke(runner, "import-cases", write_cases(rows, tmp_path / "cases.csv")).exit_code == 0
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 0, res.output
    return units


def test_two_level_import_classify_and_rollup(app, two_level_run):
    communes = published(app, DAY, "commune")
    provinces = published(app, DAY, "province")
    assert set(provinces) == {"01", "02"}
    assert all(p["district_code"] is None for p in communes.values())
    for code, p in provinces.items():
        kids = [c for c in communes.values() if c["province_code"] == code]
        counts: dict[str, int] = {}
        for c in kids:
            counts[c["level"]] = counts.get(c["level"], 0) + 1
        assert p["level"] == _oracle(counts, len(kids)), (code, counts, p)
        assert p["n_children"] == len(kids) == 10 if "n_children" in p else True
    # three red communes of ten in province 01 is 30 %: very high risk (RV1); one in 02 is high risk
    assert provinces["01"]["level"] == "very_high_risk" and "RV1" in provinces["01"]["reasons"]
    assert provinces["02"]["level"] == "high_risk"
    settings = app.config["ZONES"]
    from geo.store.database import Store
    run = Store(settings.db_path).run_for_date(DAY)
    folder = settings.runs_dir / run["run_id"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["levels"] == ["commune", "province"]
    assert not (folder / "district.geojson").exists()
    gpkg = subprocess.run(["ogrinfo", "-ro", "-q", str(folder / "zones.gpkg")], capture_output=True, text=True, check=True)
    assert "province" in gpkg.stdout and "district" not in gpkg.stdout


def test_two_level_trend_and_outlook_by_province(client, two_level_run):
    """Without districts the trend's parents are the provinces, and every unit above safe has an outlook."""
    body = client.get(f"/api/trend?to={DAY}").get_json()
    assert {(p["kind"], p["code"], p["days_since_red"]) for p in body["parents"]} == {("province", "01", 0), ("province", "02", 0)}
    assert body["days"][-1]["units"]["very_high_risk"] == 4
    one = client.get(f"/api/trend?to={DAY}&unit=02").get_json()
    assert one["days"][-1]["units"]["very_high_risk"] == 1 and [p["code"] for p in one["parents"]] == ["02"]
    ahead = client.get(f"/api/outlook?date={DAY}").get_json()["units"]
    assert {u["unit"] for u in ahead} == {"commune", "province"} and all(u["outlook_safe_date"] for u in ahead)


def test_two_level_serving_404_names_the_version(client, two_level_run):
    r = client.get(f"/api/zones.geojson?date={DAY}&unit=district")
    assert r.status_code == 404
    body = r.get_json()
    assert "district" in json.dumps(body, ensure_ascii=False) and "wards" in json.dumps(body, ensure_ascii=False)
    assert client.get(f"/api/zones.geojson?date={DAY}&unit=province").status_code == 200
    cols = client.get("/ogc/collections?f=json").get_json()
    ids = {c["id"] for c in cols["collections"]}
    assert "district" not in ids and {"commune", "province"} <= ids
    assert client.get("/ogc/collections/district").status_code == 404
    assert client.get("/ogc/collections/district/items").status_code == 404
    assert client.get("/tiles/district/tilejson.json").status_code == 404
    assert client.get(f"/api/exports/csv?date={DAY}&unit=district").status_code == 404
    assert client.get(f"/api/exports/csv?date={DAY}&unit=province").status_code == 200
    assert client.get(f"/api/changes?to={DAY}").status_code == 200
    r = client.get(f"/report?date={DAY}")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    # the ranking is of the level above communes: the provinces, worst first; no "None" for a district
    assert "Tỉnh/thành phố theo mức độ" in page and "Quận/huyện theo mức độ" not in page
    assert page.index("<b>Tỉnh Một</b>") < page.index("<b>Tỉnh Hai</b>") and "None" not in page
    assert client.get(f"/map?date={DAY}").status_code == 200
    names = [u["name"] for u in client.get("/api/search?q=Hai").get_json()["results"]]
    assert "Tỉnh Hai" in names
    panel = client.get(f"/api/zones/01?unit=province&date={DAY}").get_json()
    assert panel["level"] == "very_high_risk"
    commune = client.get(f"/api/zones/10001?date={DAY}").get_json()
    assert commune["province"]["code"] == "01" and "district" not in commune, commune
    assert client.get(f"/api/zones/10001?unit=district&date={DAY}").status_code == 404


def test_ruleset_without_a_way_to_rate_provinces_from_communes_is_refused(app, runner, tmp_path, two_level_run):
    from tests.helpers import operator_copy
    app2, _ = operator_copy(app, tmp_path, "districts-only", {"province: [district, commune]": "province: [district]"})
    res = app2.test_cli_runner().invoke(args=["reclassify", "--date", DAY, "--ruleset", "districts-only"])
    assert res.exit_code != 0
    assert "rollup_from" in res.output and "wards" in res.output, res.output
