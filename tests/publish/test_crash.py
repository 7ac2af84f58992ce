"""Crash safety: kill `reclassify` (and every process it started) at random moments, many times.
Each time the run served for the day is the old one or a new one, complete; re-running succeeds."""
from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyogrio
import pytest
from helpers import ROOT, case, grid, invoke, numbered, run_scenario

# The same tests on the embedded store and on PostgreSQL/PostGIS (tests/conftest.py).
pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"
KILLS = 12


def _reclassify(env) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "flask", "--app", "server", "reclassify", "--date", DAY],
                            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)        # its own process group: tippecanoe and forks die too


def _complete(settings, run: dict) -> None:
    folder = settings.runs_dir / run["run_id"]
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    missing = [f for f in manifest["files"] if not (folder / f).is_file()]
    assert not missing, missing[:5]
    for unit, n in (("commune", 6), ("district", 1), ("province", 1)):
        assert len(pyogrio.read_dataframe(folder / "zones.gpkg", layer=unit, read_geometry=False)) == n
        assert len(json.loads((folder / f"{unit}.geojson").read_text(encoding="utf-8"))["features"]) == n


def test_killing_reclassify_never_serves_a_partial_run(runner, app, tmp_path, client, store_config):
    from geo.store.database import Store
    run_scenario(runner, app, tmp_path, grid(2, 3), numbered([case("10002", DAY), case("10005", DAY, known=False)]), DAY)
    settings = app.config["ZONES"]
    store = Store(settings.db_path)
    seen = {store.run_for_date(DAY)["run_id"]}
    env = {**os.environ, "ZONES_DATA_DIR": str(settings.data_dir), "ZONES_QUALITY_GATE": "off", "ZONES_LOCK_TIMEOUT": "30", **store_config}
    t0 = time.monotonic()
    proc = _reclassify(env)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    full = time.monotonic() - t0
    seen.add(store.run_for_date(DAY)["run_id"])
    rng = random.Random(20210731)
    outcomes = []
    for _ in range(KILLS):
        before = store.run_for_date(DAY)["run_id"]
        proc = _reclassify(env)
        time.sleep(rng.uniform(0.2, full * 1.05))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        run = store.run_for_date(DAY)
        assert run["run_id"] == before or run["run_id"] not in seen, "an old run came back"
        outcomes.append("old" if run["run_id"] == before else "new")
        seen.add(run["run_id"])
        _complete(settings, run)
        res = client.get(f"/api/zones.geojson?date={DAY}")
        assert res.status_code == 200 and len(res.get_json()["features"]) == 6
        assert client.get(f"/tiles/runs/{run['run_id']}/commune/tilejson.json").status_code == 200
    assert "old" in outcomes, outcomes           # at least one kill landed before the commit
    # after all that, a normal run succeeds and leaves no staging folder behind
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 0, res.output
    _complete(settings, store.run_for_date(DAY))
    assert not list(Path(settings.runs_dir).glob(".staging-*"))
