"""Declared vs computed levels, and explanations (values read, neighbours that triggered adjacency)."""
from __future__ import annotations

import pandas as pd
from helpers import case, grid, invoke, numbered, operator_copy, published, run_scenario, write_cases

DAY = "2021-07-31"


def test_declared_level_travels_with_the_computed_one(runner, app, tmp_path, client):
    cases = numbered([case("10001", DAY, setting="school")])
    run_scenario(runner, app, tmp_path, grid(1, 3), cases, DAY)
    res = invoke(runner, "declare", "--unit", "10002", "--level", "very_high_risk", "--from", "2021-07-30",
                 "--decision", "45/QĐ-UBND", "--by", "Nguyễn Văn A", "--reason", "ổ dịch chợ")
    assert res.exit_code == 0 and "Nhận 1 dòng, loại 0 dòng" in res.output
    bad = invoke(runner, "declare", "--unit", "10002", "--level", "red", "--from", DAY, "--decision", "1/QĐ", "--by", "x")
    assert bad.exit_code != 0 and "level must be one of" in bad.output
    batch = pd.DataFrame([
        {"unit": "10003", "level": "risk", "from": "2021-07-20", "decision": "40/QĐ-UBND", "by": "B"},
        {"unit": "10003", "level": "safe", "from": "2021-08-05", "decision": "50/QĐ-UBND", "by": "B"},   # later: not yet
        {"unit": "101", "level": "high_risk", "from": "2021-07-01", "decision": "30/QĐ-UBND", "by": "B"},
        {"unit": "nope", "level": "risk", "from": "2021-07-01", "decision": "x", "by": "B"},
    ])
    path = tmp_path / "declared.xlsx"
    batch.to_excel(path, index=False)
    res = invoke(runner, "declare", "--file", path)
    assert "Nhận 3 dòng, loại 1 dòng" in res.output and "unknown unit code nope" in res.output
    # the run published before the declarations keeps what the committee saw; a new run carries them
    assert published(app, DAY, "commune")["10002"]["declared_level"] is None
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    out = published(app, DAY, "commune")
    assert out["10002"]["level"] == "high_risk" and out["10002"]["declared_level"] == "very_high_risk"
    assert out["10002"]["declared_decision"] == "45/QĐ-UBND" and out["10002"]["level_differs"] is True
    assert out["10003"]["declared_level"] == "risk" and out["10003"]["level_differs"] is False
    assert out["10001"]["declared_level"] is None and out["10001"]["level_differs"] is False
    district = published(app, DAY, "district")["101"]
    assert district["declared_level"] == "high_risk" and district["level_differs"] is True
    one = client.get(f"/api/zones/10002?date={DAY}").get_json()
    assert one["declared_level"] == "very_high_risk" and one["reasons"] == ["O2"] and one["level_differs"] is True
    assert client.get(f"/api/zones/99999?date={DAY}").status_code == 404


def test_explanations_name_values_and_neighbours(runner, app, tmp_path, client):
    pops = {"10001": 96_000, "10002": 50_000, "10003": 50_000, "10004": 50_000}
    cases = numbered([case("10001", DAY), case("10001", DAY), case("10001", DAY),
                      case("10003", DAY, known=False, cluster="K"), case("10003", "2021-07-25", known=False, cluster="K")])
    out = run_scenario(runner, app, tmp_path, grid(1, 4, population=pops), cases, DAY)
    assert out["10001"]["level"] == "risk"
    assert out["10001"]["explanation"] == ("Y1: Số ca cộng đồng rõ nguồn lây vượt 1/100.000 dân "
                                           "(ca cộng đồng rõ nguồn lây = 3; dân số = 96.000); "
                                           "Y3: Giáp ranh vùng nguy cơ cao — giáp Xã Ô 10002 (10002)")
    assert out["10001"]["explanation_en"].startswith("Y1: Known-source community cases exceed 1 per 100,000 population "
                                                     "(known-source community cases = 3; population = 96,000)")
    assert out["10002"]["reasons"] == ["O2"] and out["10002"]["adjacent_to"] == ["Xã Ô 10003 (10003)"]
    assert "giáp Xã Ô 10003 (10003)" in out["10002"]["explanation"]
    assert out["10003"]["explanation"].startswith("R1: Có chùm ca bệnh") and "chùm ca chưa rõ nguồn lớn nhất = 2" in out["10003"]["explanation"]
    assert out["10004"]["explanation"] == "O2: Giáp ranh vùng nguy cơ rất cao — giáp Xã Ô 10003 (10003)"
    one = client.get(f"/api/zones/10001?date={DAY}").get_json()
    assert one["explanation"] == out["10001"]["explanation"] and one["known_source_community_cases"] == 3


def test_hysteresis_holds_then_steps_down_one_level(runner, app, tmp_path):
    app2, _ = operator_copy(app, tmp_path, "hcmc-2021", {
        "window_days: 14": "window_days: 5", "min_clean_days_before_downgrade: 0": "min_clean_days_before_downgrade: 14",
        "max_step_down_per_run: 3": "max_step_down_per_run: 1"})
    cli = app2.test_cli_runner()
    run_scenario(runner, app, tmp_path, grid(1, 4), numbered([case("10001", "2021-07-20", setting="school")]), "2021-07-20")
    for day in ("2021-07-20", "2021-07-27", "2021-08-05", "2021-08-16", "2021-08-17"):
        res = invoke(cli, "reclassify", "--date", day, "--ruleset", "hcmc-2021")
        assert res.exit_code == 0, res.output
    first = published(app2, "2021-07-20", "commune")
    assert [first[c]["level"] for c in ("10001", "10002", "10003", "10004")] == ["very_high_risk", "high_risk", "risk", "safe"]
    held = published(app2, "2021-07-27", "commune")["10001"]
    # the case of 20/7 is outside the 5-day window, but only 7 of the 14 clean days have passed
    assert held["computed_level"] == "safe" and held["level"] == "very_high_risk" and held["reasons"] == ["HOLD"]
    assert held["explanation"] == ("giữ cấp Vùng nguy cơ rất cao (đỏ) — ngày 7/14 không có ca mới "
                                   "(cần 14 ngày liên tiếp để hạ cấp)")
    later = published(app2, "2021-08-05", "commune")
    # 16 clean days: allowed down, but one level per run
    assert later["10001"]["computed_level"] == "safe" and later["10001"]["level"] == "high_risk"
    assert later["10001"]["reasons"] == ["STEP"] and later["10001"]["clean_days"] == 16
    assert later["10003"]["level"] == "safe" and later["10003"]["reasons"] == []
    # the outbreak is over after 28 days without a new case (QĐ 07/2020/QĐ-TTg), not after 27
    assert not later["10001"]["outbreak_over"]
    day27, day28 = (published(app2, d, "commune")["10001"] for d in ("2021-08-16", "2021-08-17"))
    assert (day27["clean_days"], day27["outbreak_over"]) == (27, False)
    assert (day28["clean_days"], day28["outbreak_over"]) == (28, True)


def test_downgrade_announced_48_hours_ahead(runner, app, tmp_path):
    app2, _ = operator_copy(app, tmp_path, "nq-notice", {"window_days: 14": "window_days: 1",
                                                         "notice_hours: 0": "notice_hours: 48"})
    cli = app2.test_cli_runner()
    run_scenario(runner, app, tmp_path, grid(1, 2), numbered([case("10001", "2021-07-20", setting="school")]), "2021-07-20")
    levels = {}
    for day in ("2021-07-20", "2021-07-21", "2021-07-22", "2021-07-23"):
        assert invoke(cli, "reclassify", "--date", day, "--ruleset", "nq-notice").exit_code == 0
        levels[day] = published(app2, day, "commune")["10001"]
    assert [levels[d]["level"] for d in levels] == ["very_high_risk", "very_high_risk", "very_high_risk", "safe"]
    assert [levels[d]["decided_level"] for d in levels] == ["very_high_risk", "safe", "safe", "safe"]
    assert levels["2021-07-21"]["reasons"] == ["NOTICE"]
    assert levels["2021-07-21"]["explanation"].startswith("giữ Vùng nguy cơ rất cao (đỏ): đã thông báo hạ xuống "
                                                          "Vùng xanh (bình thường mới), có hiệu lực sau 48 giờ")
    # going up is never delayed
    invoke(runner, "import-cases", write_cases(numbered([case("10002", "2021-07-24", setting="school", case_id="Z")]),
                                                tmp_path / "up.csv"))
    assert invoke(cli, "reclassify", "--date", "2021-07-24", "--ruleset", "nq-notice").exit_code == 0
    assert published(app2, "2021-07-24", "commune")["10002"]["level"] == "very_high_risk"


def test_published_lists_by_name_with_numbered_levels(runner, app, tmp_path, client):
    """A published list (NQ 128 "cấp 1-4", units by name): a list with a bad row is refused whole,
    the rest stored; the run and the morning report put declared beside computed."""
    cases = numbered([case("10001", DAY, setting="school")])
    run_scenario(runner, app, tmp_path, grid(1, 3), cases, DAY)
    rows = pd.DataFrame([
        {"assessment_published": "2021-07-20", "level_unit": "province", "province_name": "Tỉnh Thử", "level": "3"},
        {"assessment_published": "2021-07-20", "level_unit": "district", "province_name": "Huyện 101", "level": "Cấp 2"},
        # a later list naming one commune twice, with two levels: which one was meant is unknown
        {"assessment_published": "2021-07-25", "level_unit": "commune", "province_name": "Xã Ô 10002", "level": "4"},
        {"assessment_published": "2021-07-25", "level_unit": "commune", "province_name": "Xã Ô 10002", "level": "1"},
        {"assessment_published": "2021-07-25", "level_unit": "commune", "province_name": "Xã Ô 10003", "level": "2"},
    ])
    path = tmp_path / "moh-list.csv"
    rows.to_csv(path, index=False)
    res = invoke(runner, "declare", "--file", path, "--decision", "Bản tin Bộ Y tế", "--by", "Bộ Y tế")
    assert res.exit_code == 0, res.output
    assert "Nhận 2 dòng, loại 3 dòng" in res.output
    assert "list 2021-07-25 | Bản tin Bộ Y tế: refused (3 rows), nothing of it stored" in res.output
    assert "listed more than once for this date: rows 4" in res.output
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    province, district = published(app, DAY, "province")["1"], published(app, DAY, "district")["101"]
    assert province["declared_level"] == "high_risk" and district["declared_level"] == "risk"
    assert published(app, DAY, "commune")["10002"]["declared_level"] is None          # the refused list
    report = client.get(f"/report?date={DAY}").get_data(as_text=True)
    table = report.split('<table id="declared">')[1].split("</table>")[0]
    assert "Tỉnh Thử" in table and "Huyện 101" in table and "Xã Ô 10002" not in table
    assert "Cấp đã công bố khác cấp tính toán (" in report
