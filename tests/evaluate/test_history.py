"""One evaluation (geo/evaluate/evaluation.py): many days at once give exactly what each day evaluated alone
gives, and reclassify, backfill and what-if all go through it."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pytest
from helpers import case, flag_and_lockdown, grid, invoke, run_scenario

from geo.domain.rulesets import load_rulesets
from geo.evaluate import evaluation
from geo.publish.pipeline import evaluate


def _single_day_levels(app, day):
    ev = evaluate(app.config["ZONES"], day)
    return {unit: dict(zip(frame["code"].astype(str), frame["level"], strict=False)) for unit, frame in ev.frames.items()}


@pytest.mark.parametrize("population", [50_000, None])
def test_range_equals_single_days(runner, app, tmp_path, population):
    pops = {f"{10001 + i}": (population if i % 5 else None) for i in range(12)} if population is None else population
    units = grid(3, 4, population=pops, district_of=lambda c: "A" if int(c) <= 10006 else "B")
    rng = np.random.default_rng(7)
    rows = []
    for k in range(40):
        day = (dt.date(2021, 7, 1) + dt.timedelta(days=int(rng.integers(0, 40)))).isoformat()
        code = f"{10001 + int(rng.integers(0, 12))}"
        known = bool(rng.random() < 0.6)
        rows.append(case(code, day, known=known, cluster="K1" if not known and rng.random() < 0.7 else "",
                         setting="school" if rng.random() < 0.05 else "", case_id=f"H{k}"))
    run_scenario(runner, app, tmp_path, units, rows, "2021-07-31")
    flag_and_lockdown(runner, tmp_path, units, ("10005", "2021-07-10", "2021-07-20"), (6, "1/QĐ", "2021-07-12", "2021-07-25"))
    days = [dt.date(2021, 7, 1) + dt.timedelta(days=k) for k in range(45)]
    ruleset = load_rulesets()["qd2686"]
    res = evaluation.evaluate_range(app.config["ZONES"], days, ruleset)
    names = {u: evaluation.level_names(res.of(u).levels) for u in ("commune", "district", "province")}
    seen = set()
    for k, day in enumerate(days):
        single = _single_day_levels(app, day)
        for unit in ("commune", "district", "province"):
            got = dict(zip(res.of(unit).codes, names[unit][:, k], strict=False))
            assert got == single[unit], (day, unit)
            seen.update(got.values())
    # the scenario is rich enough to exercise every level (and unknown where populations are missing)
    assert {"risk", "high_risk", "very_high_risk"} <= seen
    assert ("unknown" in seen) == (population is None)


def test_range_hysteresis_equals_day_by_day_publishing(runner, app, tmp_path):
    from helpers import operator_copy, published
    app2, _ = operator_copy(app, tmp_path, "slow-down", {
        "window_days: 14": "window_days: 3", "min_clean_days_before_downgrade: 0": "min_clean_days_before_downgrade: 5",
        "max_step_down_per_run: 3": "max_step_down_per_run: 1", "notice_hours: 0": "notice_hours: 24"})
    rows = [case("10001", "2021-07-02", setting="school", case_id="a"), case("10003", "2021-07-05", known=False, case_id="b"),
            case("10002", "2021-07-09", setting="school", case_id="c")]
    days = [dt.date(2021, 7, 1) + dt.timedelta(days=k) for k in range(18)]
    run_scenario(runner, app, tmp_path, grid(1, 4), rows, days[0].isoformat())
    res = evaluation.evaluate_range(app2.config["ZONES"], days, app2.config["RULESETS"]["slow-down"])
    names = evaluation.level_names(res.commune.levels)
    cli = app2.test_cli_runner()
    for k, day in enumerate(days):
        assert invoke(cli, "reclassify", "--date", day.isoformat(), "--ruleset", "slow-down").exit_code == 0
        got = published(app2, day.isoformat(), "commune")
        assert {c: got[c]["level"] for c in got} == dict(zip(res.commune.codes, names[:, k], strict=False)), day
    assert (res.commune.levels != res.computed.levels).any()     # hysteresis did change something


def test_reclassify_backfill_and_what_if_are_one_evaluation(runner, app, tmp_path, monkeypatch):
    """A single day is a run of one day: every command that computes levels calls the one
    evaluation, and no other module of geo/ runs the rules."""
    run_scenario(runner, app, tmp_path, grid(2, 2), [case("10001", "2021-07-10", case_id="a")], "2021-07-10")
    calls = []
    real = evaluation.evaluate

    def spy(inputs, ruleset, *args, **kwargs):
        calls.append([d.isoformat() for d in inputs.days])
        return real(inputs, ruleset, *args, **kwargs)

    monkeypatch.setattr(evaluation, "evaluate", spy)
    assert invoke(runner, "reclassify", "--date", "2021-07-11").exit_code == 0
    assert invoke(runner, "backfill", "--from", "2021-07-12", "--to", "2021-07-14").exit_code == 0
    assert invoke(runner, "reclassify", "--date", "2021-07-14", "--dry-run", "--set", "window_days=7").exit_code == 0
    # a daily run is today and the outlook's days after it (geo/evaluate/outlook.py), in the same one evaluation:
    # QĐ 2686 remembers 14 days, then a step a day from red to green; the what-if's 7-day window looks less far
    ahead = [(dt.date(2021, 7, 11) + dt.timedelta(days=k)).isoformat() for k in range(14 + 3 + 1)]
    ahead_7 = [(dt.date(2021, 7, 14) + dt.timedelta(days=k)).isoformat() for k in range(7 + 3 + 1)]
    assert calls == [ahead, ["2021-07-12", "2021-07-13", "2021-07-14"], ahead_7]
    geo = Path(evaluation.__file__).parents[1]
    runs_rules = sorted(str(p.relative_to(geo)) for p in geo.rglob("*.py") if "engine.classify(" in p.read_text(encoding="utf-8"))
    assert runs_rules == ["evaluate/evaluation.py", "evaluate/table.py"]   # table.py: a plain table (rules evaluate)
