"""Measures, trend and outlook for the committee: the measures of a level (an operator's edited copy adds
one: it is in the panel, the export and the report); the trend's numbers equal the published runs (every
day, every level, backfilled days too), as JSON, CSV and a chart in the report and its PDF."""
from __future__ import annotations

import io
import re
import shutil

import pandas as pd
import pytest
from helpers import case, grid, invoke, operator_copy, run_scenario

from geo.store import runfiles
from geo.store.database import Store
from rules import ruleset

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DAYS = [f"2021-07-0{d}" for d in range(1, 7)]
NEW_MEASURE = "Tỉnh bổ sung: xét nghiệm toàn dân trong 3 ngày"


@pytest.fixture
def week(runner, app, tmp_path):
    """A school case in 10001 on 3 July (red for 14 days), 30 June reclassified, 1-6 July backfilled."""
    units = grid(3, 4, district_of=lambda c: "A" if int(c) <= 10006 else "B")
    run_scenario(runner, app, tmp_path, units, [case("10001", "2021-07-03", setting="school", case_id="s1")], "2021-06-30")
    res = invoke(runner, "backfill", "--from", DAYS[0], "--to", DAYS[-1])
    assert res.exit_code == 0, res.output
    return units


def test_qd2686_measures_are_cumulative_partial_and_checked_by_the_examples(tmp_path):
    from geo.domain.rulesets import COMMUNE_INPUTS, ROLLUP_INPUTS
    rs = ruleset.load_all(COMMUNE_INPUTS, ROLLUP_INPUTS)["qd2686"]
    ids = {lv: [m["id"] for m in rs.measures(lv)] for lv in rs.level_ids}
    for lower, higher in zip(rs.level_ids, rs.level_ids[1:], strict=False):
        assert ids[lower] == ids[higher][:len(ids[lower])] and len(ids[higher]) > len(ids[lower])
    assert "V-DISTANCING" in ids["very_high_risk"] and "V-DISTANCING" not in ids["high_risk"]
    assert all(m["partial"] and m["ref"] and m["vi"] and m["en"] for m in rs.measures("very_high_risk"))
    assert rs.measures("unknown") == []
    text = (ruleset.RULESET_DIR / "qd2686.yaml").read_text(encoding="utf-8")

    def load(old, new):
        path = tmp_path / "edited.yaml"
        path.write_text(text.replace(old, new, 1), encoding="utf-8")
        with pytest.raises(ruleset.RulesetError) as err:
            ruleset.load(path, COMMUNE_INPUTS, ROLLUP_INPUTS)
        return str(err.value)
    # a worked example states the measures its level requires: a wrong list is refused with its line
    assert "requires the measures" in load("H-TRANSPORT, H-WORK]}", "H-TRANSPORT]}")
    assert "did you mean 'H-WORK'" in load("H-TRANSPORT, H-WORK]}", "H-TRANSPORT, H-WROK]}")
    assert "did you mean 'partial'" in load("partial: true,", "partal: true,")
    assert "make two measures" in load('vi: "Hạn chế tụ tập đông người"', 'vi: "Hạn chế tụ tập; đông người"')
    assert "used twice" in load("{id: R-GATHER,", "{id: R-TRACE,")


def test_an_operators_added_measure_is_in_the_panel_the_export_and_the_report(week, app, tmp_path):
    """A province tightens red: its copy of the ruleset adds a measure; the day reclassified under it
    carries it in the unit's panel, the GeoJSON export, and the report's list of changed measures."""
    old = "      - {id: V-TRANSPORT,"
    app2, _ = operator_copy(app, tmp_path, "qd2686-tinh", {
        old: f'      - {{id: P-TEST, vi: "{NEW_MEASURE}", en: "Province: test everyone within 3 days", ref: "QĐ 1/QĐ-UBND"}}\n{old}',
        # the worked example of a red commune states its measures: the copy says the new one too (checked at load)
        "V-GATHER, V-TRANSPORT]}": "V-GATHER, P-TEST, V-TRANSPORT]}"})
    res = invoke(app2.test_cli_runner(), "reclassify", "--date", "2021-07-03", "--ruleset", "qd2686-tinh")
    assert res.exit_code == 0, res.output
    c = app2.test_client()
    panel = c.get("/api/zones/10001?date=2021-07-03").get_json()
    texts = [m["vi"] for m in panel["measures_list"]]
    assert panel["level"] == "very_high_risk" and NEW_MEASURE in texts and "P-TEST" in panel["measures"].split(",")
    assert "Province: test everyone within 3 days" in [m["en"] for m in panel["measures_list"]]
    assert texts.index(NEW_MEASURE) > texts.index("Thực hiện 5K: khẩu trang, khử khuẩn, khoảng cách, không tụ tập, khai báo y tế")
    orange = c.get("/api/zones/10002?date=2021-07-03").get_json()                  # orange: not its level
    assert orange["level"] == "high_risk" and "P-TEST" not in orange["measures"] and "H-WORK" in orange["measures"]
    # the exports carry the ids per unit and the texts as a linked table (GeoJSON member, GPKG table, XLSX sheet)
    export = c.get("/api/exports/geojson?date=2021-07-03").get_json()
    assert "P-TEST" in next(f["properties"]["measures"] for f in export["features"] if f["properties"]["code"] == "10001")
    assert {m["id"]: m["vi"] for m in export["measures"]}["P-TEST"] == NEW_MEASURE
    gpkg = tmp_path / "e.gpkg"
    gpkg.write_bytes(c.get("/api/exports/gpkg?date=2021-07-03").data)
    import pyogrio
    table = pyogrio.read_dataframe(gpkg, layer="measures", read_geometry=False)
    assert NEW_MEASURE in set(table["vi"]) and set(table["level"]) == {"safe", "risk", "high_risk", "very_high_risk"}
    rules_page = c.get("/rulesets/qd2686-tinh").get_data(as_text=True)    # the ruleset's page lists them per level
    assert NEW_MEASURE in rules_page.split('id="measures"')[1] and "P-TEST" in rules_page
    ogc = c.get("/ogc/collections/commune/items?code=10001&datetime=2021-07-03").get_json()["features"][0]["properties"]
    assert "P-TEST" in ogc["measures"] and ogc["outlook_safe_date"] == "2021-07-17"   # the school case: 14 days
    page = c.get("/report?date=2021-07-03").get_data(as_text=True)
    listed = page.split('id="measures"')[1].split("</div>")[0]
    assert "Xã Ô 10001" in listed and NEW_MEASURE in listed and "Giãn cách xã hội toàn địa bàn 14 ngày" in listed
    assert "Xã Ô 10012" not in listed                                   # its level (and so its measures) did not change
    later = c.get("/report?date=2021-07-04").get_data(as_text=True)   # back under qd2686: the added measure is lifted
    assert "không còn bắt buộc: " + NEW_MEASURE in later


def _published_counts(app, day: str) -> pd.DataFrame:
    settings = app.config["ZONES"]
    run = Store(settings.db_path).run_for_date(day)
    return runfiles.attributes(settings.runs_dir / run["run_id"], "commune", ["code", "level", "population", "district_code"])


def test_trend_numbers_equal_the_published_runs_every_day_and_level(week, app, client):
    body = client.get("/api/trend?from=2021-06-30&to=2021-07-06").get_json()
    assert [d["date"] for d in body["days"]] == ["2021-06-30", *DAYS]          # backfilled days too
    levels = ("safe", "risk", "high_risk", "very_high_risk", "unknown")
    for d in body["days"]:
        table = _published_counts(app, d["date"])
        assert d["units"] == {lv: int((table["level"] == lv).sum()) for lv in levels}, d["date"]
        assert d["population"] == {lv: int(table.loc[table["level"] == lv, "population"].sum()) for lv in levels}
        assert d["green_share"] == pytest.approx(d["population"]["safe"] / table["population"].sum(), abs=1e-4)
        for district in ("A", "B"):
            one = client.get(f"/api/trend?from={d['date']}&to={d['date']}&code={district}").get_json()["days"][0]
            part = table[table["district_code"] == district]
            assert one["units"] == {lv: int((part["level"] == lv).sum()) for lv in levels}, (d["date"], district)
    parents = {p["code"]: p for p in body["parents"]}
    assert parents["A"]["last_red"] == "2021-07-06" and parents["A"]["days_since_red"] == 0
    assert parents["B"]["last_red"] is None and parents["B"]["days_since_red"] is None
    assert body["longest"][0]["code"] == "10001" and body["longest"][0]["unchanged_days"] == 4
    csv = pd.read_csv(io.StringIO(client.get("/api/trend?from=2021-06-30&to=2021-07-06&format=csv").get_data(as_text=True)))
    assert len(csv) == 7 * 5 and int(csv[(csv["date"] == "2021-07-03") & (csv["level"] == "very_high_risk")]["units"].iloc[0]) == 1
    svg = client.get("/api/trend?to=2021-07-06&format=svg")
    assert svg.mimetype == "image/svg+xml" and 'data-days="7"' in svg.get_data(as_text=True)
    assert client.get("/api/trend?from=2021-07-06&to=2021-07-01").status_code == 400
    # a day the service does not know is a 400 naming it, never a date computed before year 1 (a 500)
    for query in ("to=0001-01-01&format=csv", "from=0001-01-01&to=2021-07-06", "to=9999-12-31"):
        r = client.get(f"/api/trend?{query}")
        assert r.status_code == 400 and r.get_json()["error"] in ("bad_param", "bad_date"), (query, r.get_data())
    assert client.get("/api/trend?to=2021-07-06&code=nowhere").status_code == 404
    # `unit=` was the old name of `code=` (everywhere else `unit` is a kind): still read, marked deprecated
    old = client.get("/api/trend?from=2021-07-03&to=2021-07-06&unit=A").get_json()
    assert old["days"] == client.get("/api/trend?from=2021-07-03&to=2021-07-06&code=A").get_json()["days"]
    doc = client.get("/ogc/api").get_json()["paths"]["/api/trend"]["get"]["parameters"]
    assert {p["name"]: p.get("deprecated", False) for p in doc if p["name"] in ("code", "unit")} == {"code": False, "unit": True}
    # the change in words, for the area asked
    words = client.get("/api/trend?from=2021-07-01&to=2021-07-06&code=A").get_json()["words"]
    assert words.startswith("Huyện") and "đỏ 0 → 1" in words and "vùng đỏ mở rộng" in words


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium (Debian package) is not installed")
def test_the_report_has_the_trend_chart_and_the_outlook_in_html_and_pdf(week, runner, client, tmp_path):
    from pypdf import PdfReader
    res = invoke(runner, "reclassify", "--date", "2021-07-06")                 # a full run: it has an outlook
    assert res.exit_code == 0, res.output
    page = client.get("/report?date=2021-07-06").get_data(as_text=True)
    chart = page.split('<div id="trend">')[1].split("</div>")[0]
    assert 'data-days="7"' in chart and chart.count('data-level="very_high_risk"') == 4   # red from the 3rd
    assert "Dân số sống ở vùng xanh" in page and "Đỏ, cam lâu nhất" in page
    ahead = page.split("Dự kiến trở lại vùng xanh trong 7 ngày tới")[1].split("<h2>")[0]
    assert "Không xã nào" in ahead                                             # the school case holds red until the 17th
    assert "chưa có dự báo" in client.get("/report?date=2021-07-05").get_data(as_text=True)   # a backfilled day
    out = tmp_path / "r.pdf"
    assert invoke(runner, "report", "--date", "2021-07-06", "--format", "pdf", "--out", out).exit_code == 0
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(out).pages).split())
    assert "Số xã/phường theo cấp độ, 7 ngày gần nhất" in text and re.search(r"Xu hướng", text)
