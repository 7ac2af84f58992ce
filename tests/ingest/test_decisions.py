"""From proposal to decision: an approver approves a run's proposal for a province; the approved levels are
declarations from the decision's time plus the ruleset's notice, in one transaction; a later decision supersedes
only the units it changes; the decision's DOCX and PDF say its number, date, every unit it changes and the
measures; the history shows decisions beside computed levels; the citizens' lookup shows only what is in force."""
from __future__ import annotations

import io
import re

import pytest
from docx import Document
from helpers import case, grid, invoke, numbered, run_scenario

from geo.serve import auth
from geo.store import decisions as decisions_table
from geo.store import inputs
from geo.store.database import Store

DAY = "2021-07-31"
RED = "10002"


@pytest.fixture
def proposal(runner, app, tmp_path):
    """A 2x3 grid, district A (10001-10003) and B: two unknown-source clusters make 10002 red and its neighbours
    orange; the rest safe."""
    units = grid(2, 3, district_of=lambda c: "A" if int(c) <= 10003 else "B")
    rows = numbered([case(RED, DAY, known=False, cluster="K") for _ in range(3)])
    run_scenario(runner, app, tmp_path, units, rows, DAY)
    store = Store(app.config["ZONES"].db_path)
    return store, {role: auth.add_user(store, f"cb-{role}", role) for role in ("operator", "approver")}


def _approve(runner, *args):
    return invoke(runner, "decision", "approve", "--date", DAY, "--signed", "31/07/2021 09:30", "--signer",
                  "Nguyễn Văn A", *args)


def _in_force(store, day: str = DAY) -> dict:
    with store.connect(readonly=True) as con:
        t = inputs.declarations_of(con, store.current_boundary_version(), day)
    return dict(zip(t["unit"], t["level"], strict=True))


def test_an_approval_records_every_changed_unit_in_one_decision(runner, app, proposal):
    store, _ = proposal
    computed = {u: p["level"] for u, p in _units(app).items()}
    assert computed[RED] == "very_high_risk"
    res = _approve(runner, "--number", "45/QĐ-UBND", "--set", f"{RED}=high_risk:Đã khoanh vùng, truy vết xong")
    assert res.exit_code == 0 and "Đã phê duyệt quyết định số 45/QĐ-UBND" in res.output, res.output
    decision_id = res.output.strip().splitlines()[-1]
    now = _in_force(store)
    # every unit of the province the decision sets (communes and districts), the changed one as the approver said
    assert now[RED] == "high_risk" and all(now[c] == lv for c, lv in computed.items() if c != RED)
    assert {"A", "B"} <= set(now)
    with store.connect(readonly=True) as con:
        d = decisions_table.get(con, decision_id)
        units = decisions_table.units(con, decision_id)
    assert d["number"] == "45/QĐ-UBND" and d["effective_at"].startswith("2021-07-31T09:30") and d["n_units"] == len(units)
    red = units[units["code"] == RED].iloc[0]
    assert red["computed_level"] == "very_high_risk" and red["level"] == "high_risk" and "truy vết" in red["reason"]
    # nothing changes: a second approval of the same proposal has nothing to record
    res = _approve(runner, "--number", "46/QĐ-UBND", "--set", f"{RED}=high_risk:như trên")
    assert res.exit_code != 0 and "không có gì để phê duyệt" in res.output
    # a later decision supersedes only the units it changes
    res = _approve(runner, "--number", "47/QĐ-UBND", "--set", f"{RED}=very_high_risk:theo đề xuất")
    assert res.exit_code == 0, res.output
    with store.connect(readonly=True) as con:
        later = decisions_table.get(con, res.output.strip().splitlines()[-1])
    assert later["n_units"] == 1 and _in_force(store)[RED] == "very_high_risk"
    history = app.test_client().get(f"/api/zones/{RED}/history?date={DAY}&days=3").get_json()
    assert [d["number"] for d in history["decisions"]] == ["45/QĐ-UBND", "47/QĐ-UBND"]      # beside computed levels
    assert history["levels"][-1] == "very_high_risk"


@pytest.mark.parametrize("args, said", [
    (("--number", "abc"), "Số/ký hiệu"),
    (("--number", "48/QĐ-UBND", "--set", f"{RED}=high_risk:"), "reason"),
    (("--number", "48/QĐ-UBND", "--set", "99999=high_risk:x"), "99999"),
    (("--number", "48/QĐ-UBND", "--set", f"{RED}=purple:x"), "purple"),
])
def test_a_bad_approval_records_nothing(runner, app, proposal, args, said):
    store, _ = proposal
    res = _approve(runner, *args)
    assert res.exit_code != 0 and said in res.output, res.output
    assert _in_force(store) == {}
    with store.connect(readonly=True) as con:
        assert decisions_table.listed(con) == []


def test_the_signed_time_and_the_notice_set_when_it_applies(runner, app, tmp_path, proposal):
    from helpers import operator_copy
    app2, _ = operator_copy(app, tmp_path, "notice48", {"notice_hours: 0": "notice_hours: 48"})
    res = invoke(app2.test_cli_runner(), "reclassify", "--date", DAY, "--ruleset", "notice48")
    assert res.exit_code == 0, res.output
    store, _ = proposal
    res = invoke(app2.test_cli_runner(), "decision", "approve", "--date", DAY, "--signed", "31/07/2021 09:30",
                 "--signer", "Nguyễn Văn A", "--number", "50/QĐ-UBND")
    assert res.exit_code == 0 and "02/08/2021 09:30" in res.output, res.output
    assert _in_force(store, "2021-08-01") == {} and _in_force(store, "2021-08-02")[RED] == "very_high_risk"
    res = invoke(app2.test_cli_runner(), "decision", "approve", "--date", DAY, "--signed", "30/07/2021 09:30",
                 "--signer", "Nguyễn Văn A", "--number", "51/QĐ-UBND")
    assert res.exit_code != 0 and "signed" in res.output          # signed before the run's day: refused


def test_the_documents_say_the_decision_and_its_appendix(runner, app, proposal, tmp_path):
    from pypdf import PdfReader
    store, _ = proposal
    res = _approve(runner, "--number", "52/QĐ-UBND", "--set", f"{RED}=high_risk:Đã khoanh vùng")
    decision_id = res.output.strip().splitlines()[-1]
    out = tmp_path / "qd.docx"
    assert invoke(runner, "decision", "document", decision_id, "--format", "docx", "--out", out).exit_code == 0
    doc = Document(str(out))
    text = "\n".join(p.text for p in doc.paragraphs) + "\n" + "\n".join(
        c.text for t in doc.tables for row in t.rows for c in row.cells)
    assert "Số: 52/QĐ-UBND" in text and "ngày 31 tháng 7 năm 2021" in text and "QUYẾT ĐỊNH" in text
    assert "Căn cứ Quyết định 2686/QĐ-BCĐQG" in text and "PHỤ LỤC" in text
    names = {f"Xã Ô {10001 + k}" for k in range(6)}
    assert all(n in text for n in names)                                   # every unit it sets, in the appendix
    assert "Đã khoanh vùng" in text                                        # the approver's reason beside it
    assert "Thực hiện 5K" in text                                          # the measures of the levels
    section = doc.sections[0]
    assert round(section.left_margin.mm) == 30 and round(section.page_width.mm) == 210
    assert doc.styles["Normal"].font.name == "Times New Roman"
    pdf = tmp_path / "qd.pdf"
    assert invoke(runner, "decision", "document", decision_id, "--format", "pdf", "--out", pdf).exit_code == 0
    flat = "".join("".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert "52/QĐ-UBND" in flat and "XãÔ10002" in flat and "PHỤLỤC" in flat


def test_review_and_approval_in_the_console_need_an_approver(app, proposal):
    store, tokens = proposal
    op, ap = app.test_client(), app.test_client()
    op.post("/console/signin", data={"token": tokens["operator"]})
    ap.post("/console/signin", data={"token": tokens["approver"]})
    assert op.get(f"/console/proposal?date={DAY}").status_code == 403
    page = ap.get(f"/console/proposal?date={DAY}").get_data(as_text=True)
    assert 'data-code="10002"' in page and "Vùng nguy cơ rất cao (đỏ)" in page and "Thực hiện 5K" not in page.split(
        'data-code="10002"')[0]
    token = re.search(r'name="csrf" value="([^"]+)"', page).group(1)
    run = re.search(r'name="run" value="([^"]+)"', page).group(1)
    form = {"csrf": token, "run": run, "province": "1", "number": "60/QĐ-UBND", "signed": "31/07/2021 10:00",
            "signer": "Trần Thị C", "recipients": "Như Điều 3;\nLưu: VT.", f"level::{RED}": "high_risk",
            f"reason::{RED}": "Đã khoanh vùng"}
    csrf_op = re.search(r'name="csrf" value="([^"]+)"', op.get("/console").get_data(as_text=True)).group(1)
    assert op.post("/console/decisions", data={**form, "csrf": csrf_op}).status_code == 403
    r = ap.post("/console/decisions", data={**form, f"reason::{RED}": ""})   # a changed level needs its reason
    assert r.status_code == 400 and _in_force(store) == {}
    r = ap.post("/console/decisions", data=form)
    assert r.status_code == 303, r.get_data(as_text=True)[-800:]
    assert _in_force(store)[RED] == "high_risk"
    page = ap.get(r.headers["Location"]).get_data(as_text=True)
    decision_id = re.search(r'data-decision="([0-9a-f]+)"', page).group(1)
    docx = ap.get(f"/console/decisions/{decision_id}.docx")
    assert docx.status_code == 200 and "60/QĐ-UBND" in "\n".join(p.text for p in Document(io.BytesIO(docx.data)).paragraphs)
    assert app.test_client().get(f"/console/decisions/{decision_id}.docx").status_code == 401
    log = [(a["action"], a["outcome"]) for a in __import__("geo.domain.audit", fromlist=["x"]).audit_log(store, 10)]
    assert ("decision-approve", "ok") in log


def test_the_public_lookup_shows_only_what_is_in_force(runner, app, proposal):
    from server import create_app
    store, _ = proposal
    closed = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_READ_ACCESS": "token"}).test_client()
    assert closed.get("/api/runs").status_code == 401                     # the service needs a token …
    assert closed.get("/tra-cuu").status_code == 200                      # … its citizens' lookup does not
    before = closed.get("/tra-cuu/levels.json").get_json()
    assert set(before["units"]["commune"]["level"]) == {"-"}              # nothing decided: nothing shown
    _approve(runner, "--number", "70/QĐ-UBND", "--set", f"{RED}=high_risk:Đã khoanh vùng")
    levels = closed.get("/tra-cuu/levels.json").get_json()
    assert "-" not in levels["units"]["commune"]["level"] and levels["units"]["commune"]["reasons"] == {}
    unit = closed.get(f"/tra-cuu/units/{RED}?unit=commune").get_json()
    assert unit["level"] == "high_risk" and unit["decision"] == "70/QĐ-UBND" and unit["since"] == DAY
    assert set(unit) == {"code", "unit", "name", "district_name", "province_name", "level", "since", "decision",
                         "measures_list"}                                 # no cases, no computed level, no reasons
    assert closed.get("/tra-cuu/search?q=o 10002").get_json()["results"][0]["level"] == "high_risk"
    page = closed.get("/tra-cuu").get_data(as_text=True)
    assert '"public": true' in page.replace('"public":true', '"public": true')
    off = create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_PUBLIC_LOOKUP": "off"}).test_client()
    assert off.get("/tra-cuu").status_code == 404


def _units(app) -> dict:
    fc = app.test_client().get(f"/api/zones.geojson?date={DAY}").get_json()
    return {f["properties"]["code"]: f["properties"] for f in fc["features"]}


def test_exports_and_the_ogc_api_carry_the_level_in_force_beside_the_computed_one(runner, app, proposal):
    import csv
    c = app.test_client()
    before = c.get(f"/api/zones.geojson?date={DAY}").get_json()["features"][0]["properties"]
    assert "level_in_force" not in before                                 # nothing decided: the run as published
    _approve(runner, "--number", "80/QĐ-UBND", "--set", f"{RED}=high_risk:Đã khoanh vùng")
    fc = c.get(f"/api/zones.geojson?date={DAY}").get_json()
    red = next(f["properties"] for f in fc["features"] if f["properties"]["code"] == RED)
    assert (red["level_in_force"], red["level_computed"], red["decision_in_force"]) == ("high_risk", "very_high_risk",
                                                                                        "80/QĐ-UBND")
    rows = list(csv.DictReader(io.StringIO(c.get(f"/api/exports/csv?date={DAY}").get_data(as_text=True))))
    row = next(r for r in rows if r["code"] == RED)
    assert row["level_in_force"] == "high_risk" and row["level_computed"] == "very_high_risk"
    item = c.get(f"/ogc/collections/commune/items/{RED}?datetime={DAY}").get_json()
    assert item["properties"]["level_in_force"] == "high_risk" and item["properties"]["decision_in_force"] == "80/QĐ-UBND"
