"""QĐ 2686 on hand-drawn grids, end to end (import -> reclassify -> published GeoJSON)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
from helpers import case, grid, invoke, numbered, operator_copy, published, run_scenario, write_units, zero_counts

from geo.domain.rulesets import COMMUNE_INPUTS, ROLLUP_INPUTS
from geo.evaluate import metrics
from rules import engine, ruleset
from rules.levels import RANK, UNKNOWN_CODE

DAY = "2021-07-31"


def levels(out, *codes):
    return [out[c]["level"] for c in codes]


def test_r1_cluster_then_adjacency_is_one_step_deep(runner, app, tmp_path):
    # 1 x 5 strip: a red commune, its neighbour orange (O2), the next yellow (Y3), then safe.
    cases = numbered([case("10001", DAY, known=False, cluster="A"), case("10001", "2021-07-25", known=False, cluster="A")])
    out = run_scenario(runner, app, tmp_path, grid(1, 5), cases, DAY)
    assert levels(out, "10001", "10002", "10003", "10004", "10005") == \
        ["very_high_risk", "high_risk", "risk", "safe", "safe"]
    assert out["10001"]["reasons"] == ["R1"]
    assert out["10002"]["reasons"] == ["O2"]
    assert out["10003"]["reasons"] == ["Y3"]   # orange by adjacency makes yellow, never orange
    assert out["10004"]["reasons"] == []


def test_unknown_source_cases_in_different_clusters_are_orange_not_red(runner, app, tmp_path):
    cases = numbered([case("10001", DAY, known=False, cluster="A"), case("10001", DAY, known=False, cluster="B"),
                      case("10003", DAY, known=False, cluster="")])
    out = run_scenario(runner, app, tmp_path, grid(1, 5), cases, DAY)
    assert out["10001"]["level"] == "high_risk" and out["10001"]["reasons"] == ["O1"]
    assert out["10003"]["reasons"] == ["O1"]
    assert out["10002"]["level"] == "risk" and out["10002"]["reasons"] == ["Y3"]


def test_quarantine_cases_do_not_count(runner, app, tmp_path):
    cases = numbered([case("10002", DAY, community=False, known=False, cluster="A") for _ in range(3)])
    out = run_scenario(runner, app, tmp_path, grid(1, 3), cases, DAY)
    assert levels(out, "10001", "10002", "10003") == ["safe"] * 3
    assert out["10002"]["community_cases"] == 0


def test_r2_hard_to_trace_setting(runner, app, tmp_path):
    cases = numbered([case("10001", DAY, setting="school"), case("10003", DAY, setting="wet_market")])
    out = run_scenario(runner, app, tmp_path, grid(1, 5), cases, DAY)
    assert out["10001"]["level"] == "very_high_risk" and out["10001"]["reasons"] == ["R2"]
    # a setting outside the configured set is an ordinary known-source case (1 per million: not Y1);
    # 10003 is yellow only because it borders the orange 10002
    assert out["10003"]["level"] == "risk" and out["10003"]["reasons"] == ["Y3"]
    assert out["10003"]["known_source_community_cases"] == 1


def test_y1_is_strictly_greater_than_one_per_100000(runner, app, tmp_path):
    pops = {"10001": 100_000, "10002": 1_000_000, "10003": 10_000, "10004": 1_000_000, "10005": 100_000}
    cases = numbered([case("10001", DAY), case("10003", DAY), case("10005", DAY), case("10005", DAY)])
    out = run_scenario(runner, app, tmp_path, grid(1, 5, population=pops), cases, DAY)
    assert out["10001"]["level"] == "safe"            # exactly 1 per 100,000 is not more
    assert out["10003"]["level"] == "risk" and out["10003"]["reasons"] == ["Y1"]
    assert out["10005"]["level"] == "risk" and out["10005"]["reasons"] == ["Y1"]


def test_y2_committee_flags(runner, app, tmp_path):
    flags = [{"code": "10002", "date": "2021-07-30", "flag": "community_f1", "value": "true", "author": "tester"},
             {"code": "10004", "date": "2021-08-01", "flag": "illegal_entry_risk", "value": "true", "author": "tester"}]
    out = run_scenario(runner, app, tmp_path, grid(1, 5), [], DAY, flags=flags)
    assert out["10002"]["level"] == "risk" and out["10002"]["reasons"] == ["Y2"]
    assert out["10004"]["level"] == "safe"            # flag dated after D is not in force yet


@pytest.mark.parametrize("offset,counts", [(0, True), (13, True), (14, False), (-1, False)])
def test_fourteen_day_window_ends(runner, app, tmp_path, offset, counts):
    import datetime as dt
    day = (dt.date.fromisoformat(DAY) - dt.timedelta(days=offset)).isoformat()
    out = run_scenario(runner, app, tmp_path, grid(1, 3), numbered([case("10002", day, known=False)]), DAY)
    assert (out["10002"]["level"] == "high_risk") is counts
    assert out["10002"]["unknown_source_community_cases"] == (1 if counts else 0)


def test_missing_population_is_unknown_never_safe(runner, app, tmp_path):
    pops = {"10001": None, "10002": 0, "10003": None, "10004": 50_000, "10005": 50_000}
    out = run_scenario(runner, app, tmp_path, grid(1, 5, population=pops), numbered([case("10003", DAY, known=False)]), DAY)
    assert out["10001"]["level"] == "unknown" and out["10001"]["reasons"] == ["Y1"]
    assert "dân số" in out["10001"]["explanation"]
    assert out["10002"]["level"] == "risk" and out["10002"]["reasons"] == ["Y3"]   # another factor decides it
    assert out["10003"]["level"] == "high_risk"
    assert out["10005"]["level"] == "safe"


def test_adjacency_crosses_district_and_province_borders(runner, app, tmp_path):
    units = grid(1, 3, district_of=lambda code: {"10001": "101", "10002": "202", "10003": "303"}[code])
    units.loc[units["code"] == "10002", "province_code"] = "2"
    cases = numbered([case("10001", DAY, setting="industrial_zone")])
    out = run_scenario(runner, app, tmp_path, units, cases, DAY)
    assert levels(out, "10001", "10002", "10003") == ["very_high_risk", "high_risk", "risk"]
    districts = published(app, DAY, "district")
    assert districts["101"]["level"] == "very_high_risk" and districts["202"]["level"] == "very_high_risk"
    assert districts["303"]["n_risk"] == 1


def test_corner_touch_is_not_a_border_but_queen_setting_makes_it_one(runner, app, tmp_path):
    cases = numbered([case("10001", DAY, setting="school")])
    out = run_scenario(runner, app, tmp_path, grid(2, 2), cases, DAY)
    assert out["10004"]["level"] == "risk" and out["10004"]["reasons"] == ["Y3"]   # diagonal: corner only
    # An operator's copy of the ruleset with queen contiguity, selected by id.
    app2, _ = operator_copy(app, tmp_path, "qd2686-queen", {"adjacency: rook": "adjacency: queen"})
    res = invoke(app2.test_cli_runner(), "reclassify", "--date", DAY, "--ruleset", "qd2686-queen")
    assert res.exit_code == 0, res.output
    out = published(app2, DAY, "commune")
    assert out["10004"]["level"] == "high_risk" and out["10004"]["reasons"] == ["O2"]
    assert out["10004"]["ruleset"] == "qd2686-queen"


# -- roll-up (pure engine) -----------------------------------------------------------------

def rollup(child_levels: list[str], population=None, cases=0.0):
    rs = ruleset.load(ruleset.RULESET_DIR / "qd2686.yaml")
    codes = np.array([UNKNOWN_CODE if lv == "unknown" else RANK[lv] for lv in child_levels], dtype=np.int8)
    n = len(codes)
    pop = np.full(n, 100_000.0) if population is None else np.asarray(population, float)
    known = np.zeros(n)
    known[0] = cases
    env = metrics.rollup_inputs(np.zeros(n, dtype=np.int64), 1, codes, pop, known)
    res = engine.classify(rs.rollup, env, rs.settings, 1)
    return res.levels[0], res.reasons[0]


@pytest.mark.parametrize("children,expected", [
    (["very_high_risk"] * 3 + ["safe"] * 7, ("very_high_risk", ["RV1"])),          # exactly 30 %
    (["very_high_risk"] * 2 + ["safe"] * 8, ("high_risk", ["RH3"])),
    (["high_risk"] * 5 + ["safe"] * 5, ("very_high_risk", ["RV2"])),               # exactly 50 %
    (["high_risk"] * 4 + ["safe"] * 6, ("high_risk", ["RH1"])),
    (["high_risk"] * 3 + ["safe"] * 7, ("high_risk", ["RH1"])),                    # exactly 30 %
    (["high_risk"] * 2 + ["safe"] * 8, ("risk", ["RY2"])),
    (["risk"] * 5 + ["safe"] * 5, ("high_risk", ["RH2"])),                         # exactly 50 %
    (["risk"] * 4 + ["safe"] * 6, ("risk", ["RY2"])),
    (["very_high_risk"] + ["safe"] * 2, ("very_high_risk", ["RV1"])),              # 1/3 >= 30 %
    (["unknown"] * 4, ("unknown", ["U"])),
    (["unknown"] * 3 + ["safe"], ("safe", [])),
])
def test_rollup_thresholds(children, expected):
    assert rollup(children) == expected


def test_rollup_case_rate_uses_summed_population():
    # 3 children of 100,000: 3 known-source cases is exactly 1 per 100,000 (not more), 4 is more.
    assert rollup(["safe"] * 3, cases=3) == ("safe", [])
    assert rollup(["safe"] * 3, cases=4) == ("risk", ["RY1"])


# -- ruleset files are checked at load -------------------------------------------------------

def _broken(tmp_path, old, new):
    text = (ruleset.RULESET_DIR / "qd2686.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "broken.yaml"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_typo_in_condition_names_line_and_suggests(tmp_path):
    path = _broken(tmp_path, '"unknown_source_community_cases >= 1"', '"unknown_source_comunity_cases >= 1"')
    with pytest.raises(ruleset.RulesetError) as err:
        ruleset.load(path, COMMUNE_INPUTS, ROLLUP_INPUTS)
    msg = str(err.value)
    assert "broken.yaml:" in msg and "did you mean 'unknown_source_community_cases'" in msg
    line = int(msg.split("broken.yaml:")[1].split(":")[0])
    assert "id: O1" in path.read_text(encoding="utf-8").splitlines()[line - 1]


def test_undeclared_level_and_cycle_are_rejected(tmp_path):
    with pytest.raises(ruleset.RulesetError, match="not a declared level"):
        ruleset.load(_broken(tmp_path, "- id: O1\n      level: high_risk", "- id: O1\n      level: orange"))
    with pytest.raises(ruleset.RulesetError, match="cycle"):
        ruleset.load(_broken(tmp_path, "when: \"borders('high_risk')\"", "when: \"borders('risk')\""))


def test_unknown_input_metric_is_rejected(tmp_path):
    path = _broken(tmp_path, "    lockdown_active:", "    lockdown_actve:")
    with pytest.raises(ruleset.RulesetError, match="did you mean 'lockdown_active'"):
        ruleset.load(path, COMMUNE_INPUTS, ROLLUP_INPUTS)


def test_shipped_ruleset_in_force_by_date():
    all_rs = ruleset.load_all(COMMUNE_INPUTS, ROLLUP_INPUTS)
    import datetime as dt
    assert ruleset.in_force(all_rs, dt.date(2021, 7, 31)).id == "qd2686"
    assert ruleset.in_force(all_rs, dt.date(2021, 5, 30)) is None


def test_operator_copy_of_ruleset_reaches_runs(tmp_path):
    # copying the shipped file keeps every check passing
    shutil.copy(ruleset.RULESET_DIR / "qd2686.yaml", tmp_path / "copy.yaml")
    rs = ruleset.load(tmp_path / "copy.yaml", COMMUNE_INPUTS, ROLLUP_INPUTS)
    assert rs.settings["window_days"] == 14 and [r.id for r in rs.commune.rules][:2] == ["R1", "R2"]


# -- lockdowns (RULES.md section 4) ----------------------------------------------------------

def _lockdowns(tmp_path, units):
    import geopandas as gpd
    import shapely
    cells = units.set_index("code").geometry
    inner = cells["10001"].centroid.buffer(200)                        # inside 10001 only
    edge = shapely.box(*cells["10003"].bounds).exterior.buffer(0.001)  # hugs 10003's outline
    x0, _, x1, y1 = cells["10004"].bounds
    toucher = shapely.box(x0, y1, x1, y1 + 300)                        # outside the grid, touching 10004's north edge
    rows = [
        {"decision_no": "01/QĐ-UBND", "issuer": "UBND", "start_date": "2021-07-20", "end_date": "", "lifted_date": "", "geometry": inner},
        {"decision_no": "02/QĐ-UBND", "issuer": "UBND", "start_date": "2021-07-01", "end_date": "2021-07-14", "lifted_date": "", "geometry": edge},
        {"decision_no": "03/QĐ-UBND", "issuer": "UBND", "start_date": "2021-07-20", "end_date": "", "lifted_date": "", "geometry": toucher},
        {"decision_no": "04/QĐ-UBND", "issuer": "UBND", "start_date": "2021-07-20", "end_date": "", "lifted_date": "2021-07-30",
         "geometry": cells["10005"].centroid.buffer(100)},
        {"decision_no": "", "issuer": "UBND", "start_date": "2021-07-20", "end_date": "", "lifted_date": "", "geometry": inner},
    ]
    path = tmp_path / "lockdowns.gpkg"
    gpd.GeoDataFrame(rows, crs=units.crs).to_file(path, engine="pyogrio")
    return path


def test_lockdowns_are_shown_not_computed_by_default(runner, app, tmp_path):
    units = grid(1, 5)
    res = invoke(runner, "import-units", write_units(units, tmp_path / "u.geojson"))
    assert res.exit_code == 0
    res = invoke(runner, "import-lockdowns", _lockdowns(tmp_path, units))
    assert "Nhận 4 dòng, loại 1 dòng" in res.output and "missing decision_no" in res.output
    again = invoke(runner, "import-lockdowns", _lockdowns(tmp_path, units))
    assert "Không thay đổi: 4 dòng" in again.output
    zero_counts(runner, tmp_path, "10001", DAY)
    assert invoke(runner, "reclassify", "--date", DAY).exit_code == 0
    out = published(app, DAY, "commune")
    # 10001 holds an active lockdown; 02 ended on 14/7, 04 was lifted on 30/7; 03 only touches 10004
    assert [out[c]["lockdown"] for c in ("10001", "10002", "10003", "10004", "10005")] == [True, False, False, False, False]
    assert all(p["level"] == "safe" for p in out.values())     # a decision, not a level
    assert published(app, DAY, "district")["101"]["lockdown"] is True


def test_lockdown_forces_red_when_the_province_sets_it(runner, app, tmp_path):
    units = grid(1, 3)
    invoke(runner, "import-units", write_units(units, tmp_path / "u.geojson"))
    invoke(runner, "import-lockdowns", _lockdowns(tmp_path, grid(1, 5)))
    zero_counts(runner, tmp_path, "10001", DAY)
    app2, _ = operator_copy(app, tmp_path, "khanh-hoa-2021", {
        "lockdown_forces_very_high_risk: false": "lockdown_forces_very_high_risk: true",
        # the worked example of L1 must follow the setting, or the file is refused
        "{inputs: {lockdown_active: true, population: 1000}, level: safe, reasons: []}":
            "{inputs: {lockdown_active: true, population: 1000}, level: very_high_risk, reasons: [L1]}"})
    assert invoke(app2.test_cli_runner(), "reclassify", "--date", DAY, "--ruleset", "khanh-hoa-2021").exit_code == 0
    out = published(app2, DAY, "commune")
    assert [out[c]["level"] for c in ("10001", "10002", "10003")] == ["very_high_risk", "high_risk", "risk"]
    assert out["10001"]["reasons"] == ["L1"]
