"""backfill --from --to: every day published as its own run, the same rows as reclassifying day by day."""
from __future__ import annotations

import datetime as dt
import gzip
import io
import json
import shutil
import subprocess

import geopandas as gpd
import numpy as np
import pandas as pd
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pytest
from helpers import case, flag_and_lockdown, grid, invoke, operator_copy, run_scenario, write_cases

from geo.store import runfiles
from geo.store.database import Store

DAYS = [dt.date(2021, 7, 1) + dt.timedelta(days=k) for k in range(12)]
# Fields that name the run itself rather than what it says.
RUN_FIELDS = ["run_id"]


def _scenario(runner, app, tmp_path):
    """Cases over three weeks, a flag, a lockdown and a declared level on a 3 x 4 grid."""
    units = grid(3, 4, population={f"{10001 + i}": (None if i == 7 else 40_000) for i in range(12)},
                 district_of=lambda c: "A" if int(c) <= 10006 else "B")
    rng = np.random.default_rng(11)
    rows = []
    for k in range(30):
        day = (dt.date(2021, 6, 24) + dt.timedelta(days=int(rng.integers(0, 16)))).isoformat()
        known = bool(rng.random() < 0.5)
        rows.append(case(f"{10001 + int(rng.integers(0, 12))}", day, known=known,
                         cluster="K" if not known else "", case_id=f"B{k}"))
    run_scenario(runner, app, tmp_path, units, rows, "2021-06-30")
    flag_and_lockdown(runner, tmp_path, units, ("10010", "2021-07-03", "2021-07-06"), (4, "7/QĐ-UBND", "2021-07-04", "2021-07-09"))
    res = invoke(runner, "declare", "--unit", "10002", "--level", "very_high_risk", "--from", "2021-07-05",
                 "--decision", "12/QĐ-UBND", "--by", "BCĐ tỉnh")
    assert res.exit_code == 0, res.output
    return units


OUTLOOK = ("outlook_down_date", "outlook_down_level", "outlook_safe_date")


def _tables(settings, store, day: dt.date, run_id: str | None = None) -> dict[str, pd.DataFrame]:
    run = store.run_by_id(run_id) if run_id else store.run_for_date(day.isoformat())
    return {unit: runfiles.attributes(settings.runs_dir / run["run_id"], unit).drop(columns=RUN_FIELDS)
            for unit in ("commune", "district", "province")}


def _records(df: pd.DataFrame) -> list[dict]:
    """What a client reads: JSON values (a missing text is null however the table types it)."""
    return json.loads(df.to_json(orient="records", double_precision=15, force_ascii=False))


@pytest.fixture
def slow_app(runner, app, tmp_path):
    """qd2686 with hysteresis on (14 clean days, one step down, 24 h notice), so states are exercised."""
    app2, _ = operator_copy(app, tmp_path, "slow", {
        "window_days: 14": "window_days: 5", "min_clean_days_before_downgrade: 0": "min_clean_days_before_downgrade: 3",
        "max_step_down_per_run: 3": "max_step_down_per_run: 1", "notice_hours: 0": "notice_hours: 24"})
    _scenario(runner, app, tmp_path)
    return app2


def test_backfill_publishes_what_day_by_day_reclassify_publishes(slow_app, monkeypatch):
    from geo.publish import backfill
    monkeypatch.setattr(backfill, "MIN_DAYS_FOR_WORKERS", 2)    # days built by forked workers (one per core)
    cli, settings = slow_app.test_cli_runner(), slow_app.config["ZONES"]
    store = Store(settings.db_path)
    daily = {}
    for day in DAYS:
        res = invoke(cli, "reclassify", "--date", day.isoformat(), "--ruleset", "slow")
        assert res.exit_code == 0, res.output
        # the same tables but the outlook: a daily run looks ahead from its day, a backfill publishes history
        daily[day] = {u: t.drop(columns=list(OUTLOOK)) for u, t in _tables(settings, store, day).items()}
        daily[day]["run_id"] = store.run_for_date(day.isoformat())["run_id"]
        daily[day]["manifest"] = store.run_for_date(day.isoformat())["manifest"]
    res = invoke(cli, "backfill", "--from", DAYS[0].isoformat(), "--to", DAYS[-1].isoformat(), "--ruleset", "slow")
    assert res.exit_code == 0, res.output
    assert f"Đã công bố {len(DAYS)} ngày từ 2021-07-01 đến 2021-07-12" in res.output
    states = set()
    for day in DAYS:
        run = store.run_for_date(day.isoformat())
        assert run["run_id"] != daily[day]["run_id"]                      # a new run for every day
        kind = runfiles.kind(settings.runs_dir / run["run_id"])
        assert kind == (runfiles.FULL if day == DAYS[-1] else runfiles.LEVELS)
        assert run["manifest"]["backfill"] == {"from": "2021-07-01", "to": "2021-07-12"}
        # the same provenance as the daily run of that day: one assembly of a day (pipeline.day_run)
        before = daily[day]["manifest"]
        assert run["manifest"]["input_hashes"] == before["input_hashes"], day
        for key in ("cases_not_in_boundaries", "cases_followed", "n_active_lockdowns", "ruleset_choice", "counts"):
            assert run["manifest"].get(key) == before.get(key), (day, key)
        assert run["manifest"]["quality"]["unplaced_share"] == before["quality"]["unplaced_share"]
        got = _tables(settings, store, day)
        for unit in ("commune", "district", "province"):
            assert list(got[unit].columns) == list(daily[day][unit].columns)
            assert _records(got[unit]) == _records(daily[day][unit]), (day, unit)
        states.update(r[0] for r in got["commune"]["reasons"].map(json.loads) if r)
    # the range exercised hysteresis, declared levels, lockdowns and unknown
    assert {"HOLD", "STEP"} & states
    last = _tables(settings, store, DAYS[-1])["commune"]
    assert last["level_differs"].any() and (last["level"] == "unknown").any()
    assert any(_tables(settings, store, d)["commune"]["lockdown"].any() for d in DAYS)


def test_backfilled_day_is_served_exported_and_read_by_gdal(runner, app, tmp_path, client):
    _scenario(runner, app, tmp_path)
    res = invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-10")
    assert res.exit_code == 0, res.output
    settings, store = app.config["ZONES"], Store(app.config["ZONES"].db_path)
    run = store.run_for_date("2021-07-05")
    assert runfiles.kind(settings.runs_dir / run["run_id"]) == runfiles.LEVELS
    # GeoJSON composed from the stored geometry: every commune, the day's levels, real polygons
    r = client.get("/api/zones.geojson?date=2021-07-05")
    assert r.status_code == 200 and r.mimetype == "application/geo+json"
    fc = r.get_json()
    table = runfiles.attributes(settings.runs_dir / run["run_id"], "commune").set_index("code")
    assert len(fc["features"]) == 12
    for f in fc["features"]:
        p = f["properties"]
        assert p["level"] == table.loc[p["code"], "level"] and p["run_id"] == run["run_id"]
        assert isinstance(p["reasons"], list) and f["geometry"]["type"] in ("Polygon", "MultiPolygon")
    etag = r.headers["ETag"]
    assert client.get("/api/zones.geojson?date=2021-07-05", headers={"If-None-Match": etag}).status_code == 304
    # one unit, with its explanation in Vietnamese; the declared level binds from 5 July
    z = client.get("/api/zones/10002?date=2021-07-05").get_json()
    assert z["declared_level"] == "very_high_risk" and z["declared_decision"] == "12/QĐ-UBND"
    assert z["explanation"] and z["level_differs"] == (z["level"] != "very_high_risk")
    assert client.get("/api/zones/10002?date=2021-07-04").get_json()["declared_level"] is None
    # the committee's page colours the version's shapes with the day's table; the day has no vector tiles of
    # its own, and says so
    page = client.get("/map?date=2021-07-05").get_data(as_text=True)
    assert f'"run":"{run["run_id"]}"' in page
    day_table = client.get(f"/tiles/runs/{run['run_id']}/map-levels.json").get_json()
    assert day_table["date"] == "2021-07-05" and day_table["shapes"] == run["manifest"]["shapes"]
    r = client.get(f"/tiles/runs/{run['run_id']}/commune/tilejson.json")
    assert r.status_code == 404 and "reclassify --date 2021-07-05" in r.get_json()["message"]
    # the newest day is a full run: the committee's map opens on it
    assert client.get("/map").status_code == 200
    # lockdowns of the day
    lk = client.get("/api/lockdowns.geojson?date=2021-07-05").get_json()
    assert [f["properties"]["decision_no"] for f in lk["features"]] == ["7/QĐ-UBND"]
    assert client.get("/api/lockdowns.geojson?date=2021-07-10").get_json()["features"] == []
    # exports, read back by GDAL (an independent client)
    for fmt, name in (("geojson", "d.geojson"), ("gpkg", "d.gpkg"), ("csv", "d.csv")):
        out = tmp_path / name
        res = invoke(runner, "export", "--date", "2021-07-05", "--format", fmt, "--out", out)
        assert res.exit_code == 0, res.output
        info = subprocess.run(["ogrinfo", "-ro", "-al", "-so", str(out)], capture_output=True, text=True, check=True).stdout
        assert "Feature Count: 12" in info, info
        if fmt != "csv":
            assert "Polygon" in info
        if fmt == "gpkg":                 # the measures the units' ids name: a table without geometry beside them
            assert "Layer name: measures" in info and "Feature Count: 16" in info
    back = gpd.read_file(tmp_path / "d.gpkg", layer="commune", engine="pyogrio").set_index("code")
    assert (back["level"] == table["level"].reindex(back.index)).all()


def test_a_levels_run_written_before_parquet_reads_the_same(runner, app, tmp_path, client):
    """Runs backfilled before the tables were Parquet hold gzipped CSV (pyarrow's, as the writer was): they read as
    the same tables, and are served the same."""
    _scenario(runner, app, tmp_path)
    assert invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-10").exit_code == 0
    settings, store = app.config["ZONES"], Store(app.config["ZONES"].db_path)
    run_dir = settings.runs_dir / store.run_for_date("2021-07-05")["run_id"]
    now = {u: runfiles.attributes(run_dir, u) for u in ("commune", "district", "province")}
    served = client.get("/api/zones.geojson?date=2021-07-05").get_json()
    for unit in now:
        parquet = run_dir / f"{unit}.parquet"
        text = io.BytesIO()
        pcsv.write_csv(pq.read_table(parquet), text)
        (run_dir / f"{unit}.csv.gz").write_bytes(gzip.compress(text.getvalue(), 3, mtime=0))
        parquet.unlink()
    for unit, table in now.items():
        before = runfiles.attributes(run_dir, unit)
        assert list(before.dtypes.astype(str)) == list(table.dtypes.astype(str)), unit
        assert _records(before) == _records(table), unit
    shutil.rmtree(settings.cache_dir / run_dir.name)          # the GeoJSON composed from the tables, made again
    assert client.get("/api/zones.geojson?date=2021-07-05").get_json() == served


def test_as_of_keeps_what_was_seen_before_a_backfill(runner, app, tmp_path, client):
    _scenario(runner, app, tmp_path)
    assert invoke(runner, "reclassify", "--date", "2021-07-03").exit_code == 0
    before = Store(app.config["ZONES"].db_path).run_for_date("2021-07-03")
    seen_at = dt.datetime.now(dt.UTC).isoformat()
    # a late correction: more cases on 2 July, then the week is backfilled
    more = [case("10001", "2021-07-02", case_id=f"late{k}") for k in range(8)]
    assert invoke(runner, "import-cases", write_cases(more, tmp_path / "late.csv")).exit_code == 0
    assert invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-07").exit_code == 0
    now = client.get("/api/zones/10001?date=2021-07-03").get_json()
    then = client.get("/api/zones/10001", query_string={"date": "2021-07-03", "as_of": seen_at}).get_json()
    assert then["run_id"] == before["run_id"] and now["run_id"] != before["run_id"]
    assert now["community_cases"] == then["community_cases"] + 8


def test_backfill_follows_the_ruleset_in_force(runner, app, tmp_path):
    units = grid(2, 2)
    run_scenario(runner, app, tmp_path, units, [case("10001", "2021-10-05", case_id="x")], "2021-10-08")
    res = invoke(runner, "backfill", "--from", "2021-10-08", "--to", "2021-10-13")
    assert res.exit_code == 0, res.output
    store = Store(app.config["ZONES"].db_path)
    used = {d: store.run_for_date(d)["ruleset"] for d in ("2021-10-08", "2021-10-11", "2021-10-12", "2021-10-13")}
    assert used == {"2021-10-08": "qd2686", "2021-10-11": "qd2686", "2021-10-12": "nq128-qd4800",
                    "2021-10-13": "nq128-qd4800"}


def test_backfill_rejects_bad_ranges_and_publishes_nothing(runner, app, tmp_path):
    run_scenario(runner, app, tmp_path, grid(1, 2), [], "2021-07-01")
    store = Store(app.config["ZONES"].db_path)
    before = len(store.published_runs())
    res = invoke(runner, "backfill", "--from", "2021-07-10", "--to", "2021-07-01")
    assert res.exit_code != 0 and "--to" in res.output and "2021-07-10" in res.output
    res = invoke(runner, "backfill", "--from", "2021-07-01", "--to", "2021-07-31", "--ruleset", "qd2868")
    assert res.exit_code != 0 and "qd2686" in res.output                 # did you mean
    assert len(store.published_runs()) == before
