"""Many days at once (geo/history.py) gives exactly what the single-day evaluation gives, day by day."""
from __future__ import annotations

import datetime as dt

import numpy as np
import pytest

from geo import history
from geo.pipeline import evaluate, load_rulesets
from helpers import case, flag_and_lockdown, grid, invoke, run_scenario


def _single_day_levels(app, day):
    ev = evaluate(app.config["ZONES"], day)
    return {unit: dict(zip(frame["code"].astype(str), frame["level"])) for unit, frame in ev.frames.items()}


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
    res = history.evaluate_range(app.config["ZONES"], days, ruleset)
    names = {u: history.level_names(getattr(res, u).levels) for u in ("commune", "district", "province")}
    seen = set()
    for k, day in enumerate(days):
        single = _single_day_levels(app, day)
        for unit in ("commune", "district", "province"):
            got = dict(zip(getattr(res, unit).codes, names[unit][:, k]))
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
    res = history.evaluate_range(app2.config["ZONES"], days, app2.config["RULESETS"]["slow-down"])
    names = history.level_names(res.commune.levels)
    cli = app2.test_cli_runner()
    for k, day in enumerate(days):
        assert invoke(cli, "reclassify", "--date", day.isoformat(), "--ruleset", "slow-down").exit_code == 0
        got = published(app2, day.isoformat(), "commune")
        assert {c: got[c]["level"] for c in got} == dict(zip(res.commune.codes, names[:, k])), day
    assert (res.commune.levels != res.computed.levels).any()     # hysteresis did change something
