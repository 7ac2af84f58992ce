"""Rulesets as data: shipped files, checks with file/line/"did you mean", worked examples,
listing and API, evaluating plain tables, and the CDC oracle (100 % of the published file)."""
from __future__ import annotations

import json

import pandas as pd
import pytest
from helpers import SHARED, case, grid, invoke, numbered, operator_copy, published, run_scenario

from geo.domain.rulesets import COMMUNE_INPUTS, ROLLUP_INPUTS
from rules import examples, ruleset

CDC = SHARED / "us_cdc_community_levels_2022" / "United_States_COVID-19_Community_Levels_by_County.csv"
CDC_INPUTS = ["covid_cases_per_100k", "covid_hospital_admissions_per_100k", "covid_inpatient_bed_utilization"]


def test_every_shipped_ruleset_loads_and_its_examples_pass():
    shipped = ruleset.load_all(COMMUNE_INPUTS, ROLLUP_INPUTS)
    assert {"qd2686", "cdc-community-levels-2022"} <= set(shipped)
    for rs in shipped.values():
        assert examples.check(rs) >= len([r for _, s in rs.sections() for r in s.rules])   # >= 1 example per rule
        for _, section in rs.sections():
            for rule in section.rules:
                assert rule.ref and rule.vi and rule.en, (rs.id, rule.id)


def _edited(tmp_path, old, new, name="edited.yaml"):
    text = (ruleset.RULESET_DIR / "qd2686.yaml").read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / name
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    return path


def test_rules_check_reports_file_line_and_suggestion(runner, tmp_path):
    ok = invoke(runner, "rules", "check", _edited(tmp_path, "id: qd2686", "id: qd2686-copy"))
    assert ok.exit_code == 0 and "hợp lệ" in ok.output and "23 ví dụ" in ok.output
    bad = invoke(runner, "rules", "check", _edited(tmp_path, "population_per_case > population", "population_per_case > populaton"))
    assert bad.exit_code == 2
    assert "edited.yaml:" in bad.output and "did you mean 'population'" in bad.output
    typo_key = invoke(runner, "rules", "check", _edited(tmp_path, "      ref: \"QĐ 2686, Phụ lục, mục 1.a\"", "      reff: \"x\""))
    assert typo_key.exit_code == 2 and "unknown key 'reff' in rule (did you mean 'ref'" in typo_key.output


def test_examples_that_passed_under_this_engine_are_not_run_again(tmp_path, monkeypatch):
    """A command or a server worker loads the rulesets at start: the examples of a file that passed under the same
    code are not run again; a changed file is checked again, a failing one is never recorded."""
    kept = tmp_path / "cache" / "checked.json"
    good = _edited(tmp_path, "population_per_case: 100000", "population_per_case: 100000 ", "good.yaml")
    ruleset.load(good, COMMUNE_INPUTS, ROLLUP_INPUTS, verdicts=examples.Verdicts(kept))
    assert examples.Verdicts(kept).passed(good.read_text(encoding="utf-8"))        # kept for the next process
    bad = _edited(tmp_path, "population_per_case: 100000", "population_per_case: 200000", "bad.yaml")
    with pytest.raises(ruleset.RulesetError, match="worked example gives"):
        ruleset.load(bad, COMMUNE_INPUTS, ROLLUP_INPUTS, verdicts=examples.Verdicts(kept))
    assert not examples.Verdicts(kept).passed(bad.read_text(encoding="utf-8"))
    # the verdict is what is trusted: a text recorded as passed (here by hand) loads without its examples run
    verdicts = examples.Verdicts(kept)
    verdicts.record(bad.read_text(encoding="utf-8"))
    assert ruleset.load(bad, COMMUNE_INPUTS, ROLLUP_INPUTS, verdicts=examples.Verdicts(kept)).id == "qd2686"
    # the engine is part of the key: the same text under other code is checked again
    monkeypatch.setattr(examples, "ENGINE", "another engine")
    assert not examples.Verdicts(kept).passed(good.read_text(encoding="utf-8"))
    # a folder that cannot be written keeps nothing and stops nothing
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        examples.Verdicts(locked / "sub" / "checked.json").record("text")
    finally:
        locked.chmod(0o700)


def test_example_that_does_not_hold_is_rejected_with_its_line(runner, tmp_path):
    path = _edited(tmp_path, "population_per_case: 100000", "population_per_case: 200000")
    res = invoke(runner, "rules", "check", path)
    assert res.exit_code == 2
    line = int(res.output.split("edited.yaml:")[1].split(":")[0])
    assert "known_source_community_cases: 1, population: 100000" in path.read_text(encoding="utf-8").splitlines()[line - 1]
    assert "worked example gives risk ['Y1'], the file says safe []" in res.output


def test_operator_changes_a_threshold_in_a_copy_checks_it_and_reruns_a_date(runner, app, tmp_path):
    day = "2021-07-31"
    # communes alternate between two districts: A = 10001, 10003, 10005, 10007; B = the others
    units = grid(1, 7, district_of=lambda code: "A" if int(code) % 2 else "B")
    run_scenario(runner, app, tmp_path, units, numbered([case("10001", day, setting="school")]), day)
    districts = published(app, day, "district")
    # A: 1 red of 4 (25 %), 2 of 4 at risk or worse (50 %): orange by RH2 and RH3, not red (25 % < 30 %)
    assert districts["A"]["level"] == "high_risk" and districts["A"]["reasons"] == ["RH2", "RH3"]
    app2, rdir = operator_copy(app, tmp_path, "qd2686-strict", {"share_very_high_pct: 30": "share_very_high_pct: 25"})
    assert invoke(runner, "rules", "check", rdir / "qd2686-strict.yaml").exit_code == 0
    res = invoke(app2.test_cli_runner(), "reclassify", "--date", day, "--ruleset", "qd2686-strict")
    assert res.exit_code == 0, res.output
    districts = published(app2, day, "district")
    assert districts["A"]["level"] == "very_high_risk" and districts["A"]["reasons"] == ["RV1"]
    assert districts["A"]["ruleset"] == "qd2686-strict"


def test_table_rulesets_cannot_classify_communes(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], "2021-07-31")
    res = invoke(runner, "reclassify", "--date", "2022-03-01", "--ruleset", "cdc-community-levels-2022")
    assert res.exit_code != 0 and "chỉ dùng cho bảng" in res.output


def test_rules_list_and_api(runner, client, tmp_path):
    listing = invoke(runner, "rules", "list").output
    for rid in ("R1", "R2", "O1", "O2", "Y1", "Y2", "Y3", "RV1", "RY2", "H1", "M2"):
        assert f"  {rid} " in listing
    assert "QĐ 2686, Phụ lục, mục 2.b" in listing and "Giáp ranh vùng nguy cơ rất cao" in listing
    from server import create_app
    english = create_app({"ZONES_DATA_DIR": str(tmp_path / "en"), "ZONES_LANG": "en"}).test_cli_runner()
    assert "Borders a very-high-risk area" in invoke(english, "rules", "list").output
    allrs = client.get("/api/rulesets").get_json()["rulesets"]
    assert {r["id"] for r in allrs} >= {"qd2686", "cdc-community-levels-2022"}
    one = client.get("/api/rulesets/qd2686").get_json()
    o2 = next(r for r in one["sections"]["commune"]["rules"] if r["id"] == "O2")
    assert o2["when"] == "borders('very_high_risk')" and o2["en"] and o2["vi"] and o2["examples"]
    assert one["settings"]["adjacency_tolerance_m"] == 20
    assert client.get("/api/rulesets/qd2868").status_code == 404
    assert "did you mean 'qd2686'" in client.get("/api/rulesets/qd2868").get_json()["message"]
    page = client.get("/rulesets/qd2686").get_data(as_text=True)
    assert "Giáp ranh vùng nguy cơ rất cao" in page and "borders(&#39;very_high_risk&#39;)" in page


def test_evaluate_plain_table_skips_adjacency(runner, tmp_path):
    rows = pd.DataFrame([
        {"unit": "a", "population": 100000, "known_source_community_cases": 1},
        {"unit": "b", "population": 100000, "known_source_community_cases": 2},
        {"unit": "c", "population": "", "known_source_community_cases": 0},
        {"unit": "d", "population": 5000, "unknown_source_community_cases": 1, "largest_unknown_source_cluster": 2},
    ])
    for col in COMMUNE_INPUTS:
        if col not in rows:
            rows[col] = 0
    rows = rows.fillna(0)
    rows.loc[2, "population"] = ""
    src, out = tmp_path / "metrics.csv", tmp_path / "levels.csv"
    rows.to_csv(src, index=False)
    res = invoke(runner, "rules", "evaluate", "--ruleset", "qd2686", "--input", src, "--output", out)
    assert res.exit_code == 0, res.output
    assert "Bỏ qua tiêu chí giáp ranh (không có hình học): O2, Y3" in res.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(got.columns[: len(rows.columns)]) == list(rows.columns)
    assert list(got["level"]) == ["safe", "risk", "unknown", "very_high_risk"]
    assert [json.loads(r) for r in got["reasons"]] == [[], ["Y1"], ["Y1"], ["R1"]]


@pytest.mark.skipif(not CDC.exists(), reason=f"CDC file not found at {CDC} (needs ../shared/data)")
def test_cdc_ruleset_reproduces_every_complete_published_row(runner, tmp_path):
    out = tmp_path / "cdc_levels.csv"
    res = invoke(runner, "rules", "evaluate", "--ruleset", "cdc-community-levels-2022", "--input", CDC, "--output", out)
    assert res.exit_code == 0, res.output
    got = pd.read_csv(out, dtype=str, keep_default_na=False)
    src = pd.read_csv(CDC, dtype=str, keep_default_na=False)
    assert len(got) == len(src) and (got["county_fips"] == src["county_fips"]).all()
    complete = got[(got[CDC_INPUTS] != "").all(axis=1) & (got["covid-19_community_level"] != "")]
    assert len(complete) == 25_743
    agree = complete["level"] == complete["covid-19_community_level"].str.lower()
    assert agree.all(), complete[~agree].head()
    incomplete = got[(got[CDC_INPUTS] == "").any(axis=1)]
    assert (incomplete["level"] == "unknown").all()
    assert all(r.startswith('["missing:') for r in incomplete["reasons"])


def test_what_if_lists_changes_without_publishing(runner, app, tmp_path):
    from geo.store.database import Store
    day = "2021-07-31"
    pops = {"10001": 100_000, "10002": 1_000_000, "10003": 1_000_000}
    run_scenario(runner, app, tmp_path, grid(1, 3, population=pops), numbered([case("10001", day)]), day)
    store = Store(app.config["ZONES"].db_path)
    before = store.run_for_date(day)["run_id"]
    out = tmp_path / "diff.csv"
    res = invoke(runner, "reclassify", "--date", day, "--dry-run", "--set", "population_per_case=200000", "--out", out)
    assert res.exit_code == 0, res.output
    assert "qd2686+what-if: 3 đơn vị đổi cấp" in res.output
    diff = pd.read_csv(out, dtype=str, keep_default_na=False)
    # the province has a single district: 100 % of its children at risk or worse makes it orange (RH2)
    assert set(zip(diff["unit"], diff["code"], diff["published_level"], diff["new_level"], strict=False)) == {
        ("commune", "10001", "safe", "risk"), ("district", "101", "safe", "risk"), ("province", "1", "safe", "high_risk")}
    assert "ca cộng đồng rõ nguồn lây = 1; dân số = 100.000" in diff.loc[diff["code"] == "10001", "new_explanation"].iat[0]
    assert store.run_for_date(day)["run_id"] == before and len(store.published_runs()) == 1
    bad = invoke(runner, "reclassify", "--date", day, "--dry-run", "--set", "population_per_cas=1")
    assert bad.exit_code != 0 and "did you mean 'population_per_case'" in bad.output
    assert invoke(runner, "reclassify", "--date", day, "--set", "window_days=7").exit_code != 0   # only with --dry-run
