"""NQ 128/QĐ 4800 and QĐ 218 as ../shared/RULES.md §6 now reads (issue 24), on hand-drawn worlds: the ruleset in
force on the date, weekly rates from the cases (the week and the cases counted are settings), coverage of the
older group in force that day, capacity that holds a level and never raises it, the QĐ 218 matrix with only
its published cells, and the operator's default ruleset after the last known regime. Both stores."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import grid, invoke, operator_copy, published, write_cases, write_units

pytestmark = pytest.mark.both_backends

OCT = "2021-10-20"          # the older group is 65+ in October 2021
NOV = "2021-11-10"          # ... and 50+ from 1 November
GOOD_OCT = {"vaccination_first_dose_18plus_pct": 92, "vaccination_full_dose_65plus_pct": 85}
GOOD_NOV = {"vaccination_first_dose_18plus_pct": 92, "vaccination_full_dose_50plus_pct": 85}


def weekly(code: str, n: int, day: str, community: str = "true") -> dict:
    return {"report_date": day, "commune_code": code, "count": n, "community": community, "source_known": "true"}


def setup(runner, tmp_path, n: int, cases: list[dict], indicators: list[dict], population=100_000) -> None:
    """n communes of `population` (1 case = 1 per 100,000 by default), their cases and indicators."""
    assert invoke(runner, "import-units", write_units(grid(1, n, population=population), tmp_path / "u.geojson")).exit_code == 0
    if cases:
        res = invoke(runner, "import-cases", write_cases(cases, tmp_path / "c.csv"))
        assert res.exit_code == 0 and "loại 0 dòng" in res.output, res.output
    if indicators:
        res = invoke(runner, "import-indicators", write_cases(indicators, tmp_path / "ind.csv"))
        assert res.exit_code == 0 and "loại 0 dòng" in res.output, res.output


def unit_row(app, day: str, unit: str, code: str) -> dict:
    """One unit's published row of any run (a backfilled day's too)."""
    from geo.store import runfiles
    from geo.store.database import Store
    settings = app.config["ZONES"]
    run = Store(settings.db_path).run_for_date(day)
    return runfiles.unit_properties(settings.runs_dir / run["run_id"], unit, code)


def levels(runner, app, day: str, *args) -> dict[str, tuple[str, list[str]]]:
    res = invoke(runner, "reclassify", "--date", day, *args)
    assert res.exit_code == 0, res.output
    out = published(app, day, "commune")
    return {c: (p["level"], p["reasons"]) for c, p in out.items()}


def test_capacity_not_met_holds_the_level_and_never_raises_it(runner, app, tmp_path):
    """§6 criterion 3: no case, coverage reached and capacity not met is Cấp 1 (was raised to 2); a commune at
    Cấp 3 yesterday with capacity not met stays 3 today (was lowered); capacity blank holds nothing and says so."""
    cases = [weekly("10002", 60, "2021-10-19"), weekly("10003", 60, "2021-10-19"), weekly("10004", 0, OCT)]
    ind = [{"code": c, "date": "2021-10-15", **GOOD_OCT, "treatment_capacity_met": cap}
           for c, cap in (("10001", "false"), ("10002", "false"), ("10003", "true"), ("10004", "false"))]
    ind.append({"code": "10005", "date": "2021-10-15", **GOOD_OCT})          # capacity not reported
    setup(runner, tmp_path, 5, cases, ind)
    day1 = levels(runner, app, "2021-10-19")
    assert day1["10002"] == day1["10003"] == ("high_risk", ["B3-reached"])     # 60 per 100,000 a week
    # a week later the 60 cases have left the window: 10003 (capacity met) goes down, 10002 (not met) is held
    day = levels(runner, app, "2021-10-26")
    assert day["10001"] == ("safe", [])
    assert day["10003"] == ("safe", [])
    assert day["10002"] == ("high_risk", ["CAPACITY"])
    assert day["10005"] == ("safe", [])
    props = published(app, "2021-10-26", "commune")
    assert "không hạ cấp" in props["10002"]["explanation"] and "Cấp 1" in props["10002"]["explanation"]
    assert "chưa báo cáo" in props["10005"]["explanation"] and "not reported" in props["10005"]["explanation_en"]
    assert props["10002"]["computed_level"] == "safe" and props["10002"]["level"] == "high_risk"
    # the district (its own figures) is held the same way: capacity is "not met" in some of its communes
    district = published(app, "2021-10-26", "district")["101"]
    assert district["treatment_capacity_met"] == 0.0
    assert district["level"] == published(app, "2021-10-19", "district")["101"]["level"] == "risk"
    assert district["reasons"] == ["CAPACITY"]


def test_the_matrix_edges_and_150_with_coverage_reached(runner, app, tmp_path):
    """Half-open bands at 20/50/150, cuts reached at exactly 70 % and 80 %; ≥ 150 with coverage reached is Cấp 3."""
    rates = {"10001": 19, "10002": 20, "10003": 50, "10004": 150, "10005": 150, "10006": 149}
    cases = [weekly(c, n, OCT) for c, n in rates.items()]
    ind = [{"code": c, "date": OCT, "vaccination_first_dose_18plus_pct": 70, "vaccination_full_dose_65plus_pct": 80}
           for c in rates if c != "10005"]
    ind.append({"code": "10005", "date": OCT, "vaccination_first_dose_18plus_pct": 70, "vaccination_full_dose_65plus_pct": 79.9})
    setup(runner, tmp_path, 6, cases, ind)
    got = levels(runner, app, OCT)
    assert got == {"10001": ("safe", []), "10002": ("risk", ["B2-reached"]), "10003": ("high_risk", ["B3-reached"]),
                   "10004": ("high_risk", ["B4-reached"]), "10005": ("very_high_risk", ["B4-short"]),
                   "10006": ("high_risk", ["B3-reached"])}
    # the province of 6 communes: 538 cases over 600,000 people = 89.7 a week, coverage reached (80 % min 79.9 weighted)
    province = published(app, OCT, "province")["1"]
    assert abs(province["cases_per_100k_week"] - 538 / 6) < 1e-6
    assert province["level"] in ("high_risk", "very_high_risk") and province["reasons"][0].startswith("B3-")


def test_qd4800_from_12_october(runner, app, tmp_path):
    setup(runner, tmp_path, 1, [weekly("10001", 0, "2021-10-11")], [])
    for day, rid in (("2021-10-11", "qd2686"), ("2021-10-12", "nq128-qd4800"), ("2022-01-26", "nq128-qd4800"),
                     ("2022-01-27", "qd218")):
        res = invoke(runner, "reclassify", "--date", day)
        assert res.exit_code == 0 and f"bộ quy tắc {rid}" in res.output, (day, res.output)


def test_the_older_group_is_65_in_october_and_50_from_november(runner, app, tmp_path):
    """A day whose group has no figure leaves coverage unknown; the other group's figure is not read."""
    cases = [weekly(c, 0, d) for c in ("10001", "10002") for d in ("2021-10-25", "2021-11-05")]
    ind = [{"code": "10001", "date": "2021-10-24", **GOOD_OCT}, {"code": "10002", "date": "2021-10-24", **GOOD_NOV},
           {"code": "10001", "date": "2021-11-04", **GOOD_OCT}, {"code": "10002", "date": "2021-11-04", **GOOD_NOV}]
    setup(runner, tmp_path, 2, cases, ind)
    october = levels(runner, app, "2021-10-25")
    assert october["10001"] == ("safe", []) and october["10002"] == ("unknown", ["B1-short"])
    november = levels(runner, app, "2021-11-05")
    assert november["10001"] == ("unknown", ["B1-short"]) and november["10002"] == ("safe", [])
    props = published(app, "2021-11-05", "commune")
    assert props["10002"]["older_group_age"] == 50 and props["10002"]["vaccination_full_dose_older_pct"] == 85
    assert "thiếu" in props["10001"]["explanation"] and "nhóm cao tuổi" in props["10001"]["explanation"]


def test_older_group_mode_raise_and_settings_checked(runner, app, tmp_path):
    """`older_group_mode: raise` (the September draft): the first-dose cut decides the column and missing the
    older group's cut raises one level. A what-if's setting is checked as the file's own are."""
    setup(runner, tmp_path, 2, [weekly("10001", 25, NOV), weekly("10002", 0, NOV)],
          [{"code": c, "date": NOV, "vaccination_first_dose_18plus_pct": first, "vaccination_full_dose_50plus_pct": 60}
           for c, first in (("10001", 60), ("10002", 90))])
    assert levels(runner, app, NOV) == {"10001": ("high_risk", ["B2-short"]), "10002": ("risk", ["B1-short"])}
    out = tmp_path / "diff.csv"
    res = invoke(runner, "reclassify", "--date", NOV, "--dry-run", "--set", "older_group_mode=raise", "--out", out)
    assert res.exit_code == 0, res.output
    diff = pd.read_csv(out, dtype=str).set_index("code")
    # short of both cuts: one level up from Cấp 3; first dose reached but not the 50+: Cấp 1 raised to 2 as before
    assert diff.loc["10001", "new_level"] == "very_high_risk" and "B2-short+OLDER" in diff.loc["10001", "new_explanation"]
    assert "10002" not in diff.index
    for bad in ("older_group_mode=or", "window_days=0", "window_days=.inf", "window_days=.nan", "notice_hours=87600",
                "date_column=foo", "adjacency=diagonal", "cell_B4_reached=purple"):
        res = invoke(runner, "reclassify", "--date", NOV, "--dry-run", "--set", bad)
        assert res.exit_code != 0 and bad.split("=")[0] in res.output, (bad, res.output)


def test_the_week_and_the_cases_it_counts_are_settings(runner, app, tmp_path):
    """rate_window: rolling_7 | half_14 (Hà Nội: the 14-day total / 2); rate_cases: community | all."""
    cases = [weekly("10001", 30, "2021-10-10"), weekly("10001", 10, OCT), weekly("10002", 30, OCT, community="false")]
    ind = [{"code": c, "date": OCT, **GOOD_OCT} for c in ("10001", "10002")]
    setup(runner, tmp_path, 2, cases, ind)
    assert levels(runner, app, OCT) == {"10001": ("safe", []), "10002": ("safe", [])}   # 10 community this week
    hanoi, _ = operator_copy(app, tmp_path, "nq128-hanoi", {"rate_window: rolling_7": "rate_window: half_14",
                                                           "rate_cases: community": "rate_cases: all"},
                             source="nq128-qd4800")
    runner2 = hanoi.test_cli_runner()
    got = levels(runner2, hanoi, OCT, "--ruleset", "nq128-hanoi")
    # (30 + 10) / 2 = 20 per 100,000: Cấp 2; the 30 cases not in the community count too
    assert got == {"10001": ("risk", ["B2-reached"]), "10002": ("safe", [])}
    assert published(hanoi, OCT, "commune")["10002"]["cases_per_100k_week"] == 15


def test_an_indicator_is_used_for_14_days_and_counts_add_up(runner, app, tmp_path):
    """A figure dated D-13 is used on D, one dated D-14 is not; the import's counts are of rows, never negative."""
    setup(runner, tmp_path, 2, [weekly(c, 0, OCT) for c in ("10001", "10002")],
          [{"code": "10001", "date": "2021-10-07", **GOOD_OCT, "treatment_capacity_met": "true"},
           {"code": "10002", "date": "2021-10-06", **GOOD_OCT, "treatment_capacity_met": "true"}])
    assert levels(runner, app, OCT) == {"10001": ("safe", []), "10002": ("unknown", ["B1-short"])}
    again = invoke(runner, "import-indicators", tmp_path / "ind.csv")
    assert "Không thay đổi: 2 dòng" in again.output, again.output
    rows = [{"code": "10001", "date": "2021-10-07", **GOOD_OCT, "vaccination_first_dose_18plus_pct": 93,
             "treatment_capacity_met": "true"}, {"code": "10002", "date": "2021-10-06", **GOOD_OCT, "treatment_capacity_met": "true"}]
    res = invoke(runner, "import-indicators", write_cases(rows, tmp_path / "ind2.csv"))
    assert "Không thay đổi: 1 dòng" in res.output and "-" not in res.output.split("Không thay đổi: ")[1][:3], res.output


def test_qd218_transmission_times_capacity_with_only_the_published_cells(runner, app, tmp_path):
    """All cases count (not only community ones); > 600 per 100,000 a week is transmission 4; with high response
    capacity Cấp 3, with medium the cell was not published: unknown naming it; 600 or less: bands 1-3 unknown."""
    day = "2022-02-10"
    cases = [weekly("10001", 400, "2022-02-08"), weekly("10001", 301, "2022-02-09", community="false"),
             weekly("10002", 700, "2022-02-08"), weekly("10003", 600, "2022-02-08"), weekly("10004", 800, "2022-02-08")]
    ind = [{"code": c, "date": "2022-02-08", "response_capacity": cap, "vaccination_full_dose_pct": 90, "deaths_per_100k_7d": 1}
           for c, cap in (("10001", "cao"), ("10002", "trung bình"), ("10003", "cao"))]
    setup(runner, tmp_path, 4, cases, ind)
    got = levels(runner, app, day)
    assert got["10001"] == ("high_risk", ["T4-high"])          # 701 cases, 301 of them not in the community
    assert got["10002"] == ("unknown", ["T4-medium"])
    assert got["10003"] == ("unknown", ["T3-high"])              # transmission 1, 2 or 3: which is not known
    assert got["10004"][0] == "unknown"                         # capacity not reported
    props = published(app, day, "commune")
    assert "chưa được công bố" in props["10002"]["explanation"] and "not published" in props["10002"]["explanation_en"]
    assert "transmission_2_min_per_100k" in props["10003"]["explanation"]
    assert props["10001"]["response_capacity"] == 3 and props["10001"]["ruleset"] == "qd218"


def test_a_named_default_ruleset_after_the_last_regime(runner, app, tmp_path):
    """On a 2025 day the operator's default (ZONES_DEFAULT_RULESET, qd2686 unless set) decides, and the run says
    which ruleset and why; emptied, the rulesets' own dates decide (qd218, which leaves a case-free day unknown)."""
    from server import create_app
    setup(runner, tmp_path, 2, [weekly("10001", 1, "2025-08-10")], [], population=10_000)
    got = levels(runner, app, "2025-08-10")
    assert got == {"10001": ("risk", ["Y1"]), "10002": ("safe", [])}
    from geo.store.database import Store
    settings = app.config["ZONES"]
    run = Store(settings.db_path).run_for_date("2025-08-10")
    manifest = json.loads((settings.runs_dir / run["run_id"] / "manifest.json").read_text())
    assert manifest["ruleset"] == "qd2686"
    assert manifest["ruleset_choice"] == {"why": "operator_default", "ruleset": "qd2686", "from": "2023-05-05"}
    plain = create_app({"ZONES_DATA_DIR": str(settings.data_dir), "ZONES_DEFAULT_RULESET": "", "ZONES_QUALITY_GATE": "off",
                        **({"ZONES_DATABASE_URL": settings.database_url} if settings.database_url else {})})
    got = levels(plain.test_cli_runner(), plain, "2025-08-11")
    assert got["10002"][0] == "unknown"
    wrong = create_app({"ZONES_DATA_DIR": str(settings.data_dir), "ZONES_DEFAULT_RULESET": "qd2868",
                        **({"ZONES_DATABASE_URL": settings.database_url} if settings.database_url else {})})
    res = invoke(wrong.test_cli_runner(), "reclassify", "--date", "2025-08-12")
    assert res.exit_code != 0 and "ZONES_DEFAULT_RULESET" in res.output and "qd2686" in res.output


def test_weekly_publication_keeps_the_published_level_in_force(runner, app, tmp_path):
    """publish_weekday: levels are published on Mondays and take effect 48 h later; the days between are
    evaluated and shown as a proposal (decided_level), the level in force is the last one published."""
    cases = [weekly("10001", 60, "2021-10-30")]
    ind = [{"code": "10001", "date": d, **GOOD_OCT, **GOOD_NOV} for d in ("2021-10-25", "2021-11-04")]
    setup(runner, tmp_path, 1, cases, ind)
    monday, _ = operator_copy(app, tmp_path, "nq128-weekly", {"publish_weekday: 0": "publish_weekday: 1"},
                              source="nq128-qd4800")
    run = monday.test_cli_runner()
    res = invoke(run, "backfill", "--from", "2021-10-28", "--to", "2021-11-12", "--ruleset", "nq128-weekly")
    assert res.exit_code == 0, res.output
    got = {d: unit_row(monday, d, "commune", "10001") for d in
           ("2021-10-29", "2021-10-30", "2021-11-02", "2021-11-05", "2021-11-06", "2021-11-09", "2021-11-10")}
    assert {d: p["level"] for d, p in got.items()} == {
        "2021-10-29": "safe", "2021-10-30": "high_risk", "2021-11-02": "high_risk", "2021-11-05": "high_risk",
        "2021-11-06": "high_risk", "2021-11-09": "high_risk", "2021-11-10": "safe"}
    assert got["2021-11-06"]["decided_level"] == "safe" and got["2021-11-06"]["reasons"] == ["WEEKLY"]
    assert "01/11/2021" in got["2021-11-06"]["explanation"] and "đề xuất" in got["2021-11-06"]["explanation"]
    # the daily run reads the publications from the runs: the same answer as the backfill
    res = invoke(run, "reclassify", "--date", "2021-11-09", "--ruleset", "nq128-weekly")
    assert res.exit_code == 0, res.output
    again = published(monday, "2021-11-09", "commune")["10001"]
    assert (again["level"], again["reasons"]) == ("high_risk", ["WEEKLY"])
    district = published(monday, "2021-11-09", "district")["101"]
    assert district["level"] == "high_risk" and district["computed_level"] == "safe"
