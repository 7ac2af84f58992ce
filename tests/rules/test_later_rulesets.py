"""NQ 128/QĐ 4800 and QĐ 218 on hand-drawn grids: the ruleset in force on the date is used, weekly
rates come from the cases, coverage and capacity from import-indicators."""
from __future__ import annotations

import pandas as pd
from helpers import grid, invoke, published, run_scenario, write_cases, write_units

NQ_DAY = "2021-10-20"


def weekly(code: str, n: int, day: str) -> dict:
    return {"report_date": day, "commune_code": code, "count": n, "community": "true", "source_known": "true"}


def indicators(rows, path):
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_nq128_matrix_with_coverage_and_capacity(runner, app, tmp_path):
    units = grid(1, 6, population=100_000)          # 1 case = 1 per 100,000
    cases = [weekly("10001", 160, "2021-10-18"), weekly("10002", 25, "2021-10-14"), weekly("10003", 5, NQ_DAY),
             weekly("10004", 5, NQ_DAY), weekly("10005", 5, NQ_DAY), weekly("10006", 40, "2021-10-13")]
    good = {"vaccination_first_dose_18plus_pct": 92, "vaccination_full_dose_50plus_pct": 85, "treatment_capacity_met": "true"}
    res_units = invoke(runner, "import-units", write_units(units, tmp_path / "u.geojson"))
    assert res_units.exit_code == 0
    ind = [{"code": c, "date": "2021-10-15", **good} for c in ("10001", "10002", "10004", "10006")]
    ind.append({"code": "10005", "date": "2021-10-15", **good, "treatment_capacity_met": "false"})
    ind.append({"code": "10003", "date": "2021-09-01", **good})                      # too old: not used
    ind.append({"code": "99999", "date": "2021-10-15", **good})                      # unknown unit
    ind.append({"code": "10002", "date": "2021-10-16", "vaccination_first_dose_18plus_pct": 130})
    res = invoke(runner, "import-indicators", indicators(ind, tmp_path / "ind.csv"))
    assert "Nhận 6 dòng, loại 2 dòng" in res.output, res.output
    assert "unknown unit code 99999" in res.output and "from 0 to 100" in res.output
    assert invoke(runner, "import-cases", write_cases(cases, tmp_path / "c.csv")).exit_code == 0
    res = invoke(runner, "reclassify", "--date", NQ_DAY)
    assert res.exit_code == 0 and "bộ quy tắc nq128-qd4800" in res.output
    out = published(app, NQ_DAY, "commune")
    got = {c: (out[c]["level"], out[c]["reasons"]) for c in out}
    assert got["10001"] == ("very_high_risk", ["V1"])            # 160 per 100,000 in the week
    assert got["10002"] == ("risk", ["R1"])                       # 25: level 2
    assert got["10003"] == ("unknown", ["H3", "R2", "R3"])        # coverage and capacity too old to use
    assert got["10004"] == ("safe", [])
    assert got["10005"] == ("risk", ["R3"])                       # level 1 raised by missing capacity
    assert got["10006"] == ("safe", [])                           # 40 cases dated 8 days before: not in the week
    assert out["10001"]["community_cases_per_100k_7d"] == 160
    assert out["10001"]["vaccination_first_dose_18plus_pct"] == 92
    district = published(app, NQ_DAY, "district")["101"]
    # 200 cases in the week over 600,000 people = 33.3 per 100,000; capacity "not met" in one child
    assert abs(district["community_cases_per_100k_7d"] - 200 / 6) < 1e-6
    assert district["treatment_capacity_met"] == 0.0
    assert district["level"] == "high_risk" and district["reasons"] == ["PH3"]


def test_qd218_decides_level_4_and_leaves_the_rest_unassessed(runner, app, tmp_path):
    day = "2022-02-10"
    cases = [weekly("10001", 700, "2022-02-08"), weekly("10002", 600, "2022-02-08")]
    out = run_scenario(runner, app, tmp_path, grid(1, 3, population=100_000), cases, day)
    assert out["10001"]["level"] == "very_high_risk" and out["10001"]["reasons"] == ["V1"]
    assert out["10002"]["level"] == "unknown" and out["10002"]["reasons"] == ["U"]
    assert out["10003"]["level"] == "unknown" and out["10001"]["ruleset"] == "qd218"


def test_ruleset_in_force_follows_the_date(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], "2021-10-10")
    assert published(app, "2021-10-10", "commune")["10001"]["ruleset"] == "qd2686"
    for day, rid in (("2021-10-11", "nq128-qd4800"), ("2022-01-26", "nq128-qd4800"), ("2022-01-27", "qd218")):
        res = invoke(runner, "reclassify", "--date", day)
        assert res.exit_code == 0 and f"bộ quy tắc {rid}" in res.output, (day, res.output)
