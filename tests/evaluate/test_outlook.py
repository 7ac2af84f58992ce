"""The outlook (geo/evaluate/outlook.py): hand-made scenarios whose dates are known exactly, the hold of a
red neighbour, the hysteresis and notice settings, and the outlook equal to what backfill publishes on
the following days when indeed no case is imported."""
from __future__ import annotations

import datetime as dt

import pytest
from helpers import case, grid, invoke, numbered, operator_copy, published, run_scenario

D = dt.date(2021, 7, 31)


def _day(k: int) -> str:
    return (D + dt.timedelta(days=k)).isoformat()


def _cluster(code: str, k: int, n: int = 2) -> list[dict]:
    """`n` unknown-source community cases of one cluster in `code` on D+k (k <= 0)."""
    return [case(code, _day(k), known=False, cluster=f"K{code}") for _ in range(n)]


def test_a_red_cluster_ten_days_old_comes_down_on_day_four(runner, app, tmp_path):
    """R1 holds while the cluster is in the 14-day window: cases of D-10 count up to D+3, so red ends on D+4,
    and with no other factor the commune is safe the same day; its neighbours wait for it, and say so."""
    got = run_scenario(runner, app, tmp_path, grid(3, 3), numbered(_cluster("10005", -10)), D.isoformat())
    red = got["10005"]
    assert red["level"] == "very_high_risk" and red["outlook_down_date"] == _day(4)
    assert red["outlook_down_level"] == "safe" and red["outlook_safe_date"] == _day(4) and not red["adjacent_to"]
    side = got["10002"]                                 # orange by its red neighbour (O2)
    assert side["level"] == "high_risk" and side["outlook_down_date"] == _day(4)
    assert any("10005" in n for n in side["adjacent_to"])              # who it waits for
    assert got["10001"]["outlook_down_date"] == _day(4)   # yellow by its orange neighbours, down with them
    assert all(p["outlook_down_date"] is None for p in got.values() if p["level"] == "safe")


def test_a_commune_held_by_a_red_neighbour_waits_for_it(runner, app, tmp_path):
    """10002's own unknown-source case (D-12) leaves the window on D+2, but its neighbour 10005 stays red
    until its cluster of D-5 leaves on D+9: 10002 stays orange until then, and names who it waits for."""
    rows = numbered([case("10002", _day(-12), known=False), *_cluster("10005", -5)])
    got = run_scenario(runner, app, tmp_path, grid(3, 3), rows, D.isoformat())
    assert got["10005"]["outlook_down_date"] == _day(9)
    own = got["10002"]
    assert own["level"] == "high_risk" and own["outlook_down_date"] == _day(9) and any("10005" in n for n in own["adjacent_to"])
    far = got["10009"]                                  # no neighbour red: its yellow goes with the orange ones
    assert far["outlook_safe_date"] == _day(9)


@pytest.mark.parametrize(("old", "new", "down", "safe"), [
    # no step down before 21 days without a community case (the last case was on D-10)
    ("min_clean_days_before_downgrade: 0 ", "min_clean_days_before_downgrade: 21 ", 11, 11),
    # one step per run: red -> orange on D+4, yellow on D+5, green on D+6
    ("max_step_down_per_run: 3 ", "max_step_down_per_run: 1 ", 4, 6),
    # a downgrade announced 48 h ahead: the evaluation's D+4 takes effect on D+6
    ("notice_hours: 0 ", "notice_hours: 48 ", 6, 6),
])
def test_hysteresis_and_notice_move_the_dates_as_documented(runner, app, tmp_path, old, new, down, safe):
    app2, _ = operator_copy(app, tmp_path, "qd2686-hys", {old: new})
    runner2 = app2.test_cli_runner()
    run_scenario(runner2, app2, tmp_path, grid(3, 3), numbered(_cluster("10005", -10)), D.isoformat())
    res = invoke(runner2, "reclassify", "--date", D.isoformat(), "--ruleset", "qd2686-hys")
    assert res.exit_code == 0, res.output
    red = published(app2, D.isoformat(), "commune")["10005"]
    assert red["level"] == "very_high_risk"
    assert (red["outlook_down_date"], red["outlook_safe_date"]) == (_day(down), _day(safe))


def _levels(app, day: str, unit: str) -> dict[str, str]:
    """{code: level} of the run published for `day` (a backfilled one too)."""
    from geo.store import runfiles
    from geo.store.database import Store
    settings = app.config["ZONES"]
    run = Store(settings.db_path).run_for_date(day)
    table = runfiles.attributes(settings.runs_dir / run["run_id"], unit, ["code", "level"])
    return dict(zip(table["code"].astype(str), table["level"], strict=True))


def test_the_outlook_is_what_backfill_publishes_when_no_case_comes(runner, app, tmp_path):
    """Reclassify D, then backfill the following days with nothing imported: every unit's published
    levels step down on the outlook's day and reach safe on its safe day, no earlier, no later."""
    rows = numbered([*_cluster("10005", -10), case("10002", _day(-12), known=False), *_cluster("10007", -3, 3),
                     case("10003", _day(-1))])
    units = grid(3, 3, district_of=lambda c: "A" if int(c) <= 10004 else "B")
    run_scenario(runner, app, tmp_path, units, rows, D.isoformat())
    kinds = ("commune", "district", "province")
    today = {u: published(app, D.isoformat(), u) for u in kinds}
    horizon = max(dt.date.fromisoformat(p["outlook_safe_date"]) for u in kinds for p in today[u].values()
                  if p["outlook_safe_date"])
    res = invoke(runner, "backfill", "--from", _day(1), "--to", horizon.isoformat())
    assert res.exit_code == 0, res.output
    rank = {"safe": 0, "risk": 1, "high_risk": 2, "very_high_risk": 3}
    later = {(u, k): _levels(app, _day(k), u) for u in kinds for k in range(1, (horizon - D).days + 1)}
    checked = 0
    for unit in kinds:
        for code, p in today[unit].items():
            if p["level"] in ("safe", "unknown"):
                continue
            levels = [later[(unit, k)][code] for k in range(1, (horizon - D).days + 1)]
            first_down = next(_day(k + 1) for k, lv in enumerate(levels) if rank[lv] < rank[p["level"]])
            first_safe = next(_day(k + 1) for k, lv in enumerate(levels) if lv == "safe")
            assert (p["outlook_down_date"], p["outlook_safe_date"]) == (first_down, first_safe), (unit, code)
            assert later[(unit, (dt.date.fromisoformat(first_down) - D).days)][code] == p["outlook_down_level"]
            checked += 1
    assert checked >= 8


def test_api_outlook_lists_units_above_safe(runner, app, tmp_path, client):
    run_scenario(runner, app, tmp_path, grid(3, 3), numbered(_cluster("10005", -10)), D.isoformat())
    body = client.get(f"/api/outlook?date={D.isoformat()}").get_json()
    assert body["until"] > D.isoformat()
    assert {(u["unit"], u["code"]) for u in body["units"]} >= {("commune", "10005"), ("district", "101")}
    assert body["units"][0]["level"] == "very_high_risk"
    assert all(u["level"] != "safe" for u in body["units"])
    waits = {u["code"]: u["waits_for"] for u in body["units"] if u["unit"] == "commune"}
    assert waits["10005"] is None and "Xã Ô 10005 (10005)" in waits["10002"]
    soon = client.get(f"/api/outlook?date={D.isoformat()}&unit=commune&within=3").get_json()["units"]
    assert soon == []                                                   # D+4 is not within 3 days
    assert len(client.get(f"/api/outlook?date={D.isoformat()}&unit=commune&within=4").get_json()["units"]) == 9
    res = invoke(runner, "backfill", "--from", _day(1), "--to", _day(1))
    assert res.exit_code == 0
    missing = client.get(f"/api/outlook?date={_day(1)}")
    assert missing.status_code == 404 and missing.get_json()["error"] == "no_outlook"


def test_a_day_with_nothing_above_safe_has_an_empty_outlook(runner, app, tmp_path, client):
    """All green: the outlook lists nobody, the report says nobody comes back (there is nobody to)."""
    got = run_scenario(runner, app, tmp_path, grid(2, 2), [], D.isoformat())
    assert {p["level"] for p in got.values()} == {"safe"} and all(p["outlook_down_date"] is None for p in got.values())
    assert client.get(f"/api/outlook?date={D.isoformat()}").get_json()["units"] == []
    page = client.get(f"/report?date={D.isoformat()}")
    assert page.status_code == 200 and 'id="ahead-none"' in page.get_data(as_text=True)
