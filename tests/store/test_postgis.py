"""What only the PostgreSQL/PostGIS store does: runs and levels as rows with PostGIS geometry (read by
GDAL's PostgreSQL driver), and one writer at a time across servers sharing the database. The API
and command tests run on both stores (the `both_backends` modules)."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest
from helpers import ROOT, case, grid, numbered, published, run_scenario

DAY = "2021-07-31"


@pytest.fixture
def pg_app(tmp_path, pg_cluster):
    from server import create_app
    return create_app({"ZONES_DATA_DIR": str(tmp_path / "data"), "ZONES_QUALITY_GATE": "off",
                       "ZONES_DATABASE_URL": pg_cluster.new_database()})


def test_runs_and_levels_are_postgis_rows(pg_app, tmp_path):
    from geo.store.database import Store
    runner = pg_app.test_cli_runner()
    run_scenario(runner, pg_app, tmp_path, grid(2, 3), numbered([case("10002", DAY), case("10005", DAY, known=False)]), DAY)
    store = Store(pg_app.config["ZONES"].db_path)
    expected = published(pg_app, DAY, "commune")
    run_id = store.run_for_date(DAY)["run_id"]
    with store.connect(readonly=True) as con:
        rows = con.execute("SELECT code, level, properties->>'explanation' FROM run_levels WHERE run_id = ? AND unit = 'commune'",
                           (run_id,)).fetchall()
        view = con.execute("SELECT code, level, ST_IsValid(geom), ST_SRID(geom), boundary_version FROM zones_commune").fetchall()
        area = con.execute("SELECT SUM(ST_Area(geom::geography)) FROM zones_commune").fetchone()[0]
    assert {r[0]: r[1] for r in rows} == {c: p["level"] for c, p in expected.items()}
    # a row's properties are its feature's in the run's GeoJSON (lists as JSON lists), and so for a levels run's
    assert _properties(store, run_id) == expected and isinstance(expected["10002"]["reasons"], list)
    res = runner.invoke(args=["backfill", "--from", "2021-07-29", "--to", "2021-07-30"], catch_exceptions=False)
    assert res.exit_code == 0, res.output
    client = pg_app.test_client()
    for day in ("2021-07-29", "2021-07-30"):
        levels_run = store.run_for_date(day)
        assert levels_run["manifest"]["kind"] == "levels"
        served = client.get(f"/api/zones.geojson?date={day}&unit=commune").get_json()["features"]
        assert _properties(store, levels_run["run_id"]) == {f["properties"]["code"]: f["properties"] for f in served}
    assert {r[0]: r[1] for r in view} == {c: p["level"] for c, p in expected.items()}
    assert all(r[2] and r[3] == 4326 for r in view) and {r[4] for r in view} == {"units"}
    assert abs(area - 6e6) < 6e6 * 0.01                     # six 1 km squares
    if shutil.which("ogrinfo"):
        url = pg_app.config["ZONES"].db_path
        pg = f"PG:host=127.0.0.1 port={url.rsplit(':', 1)[1].split('/')[0]} user=postgres dbname={url.rsplit('/', 1)[1]}"
        out = subprocess.run(["ogrinfo", "-ro", "-so", pg, "zones_commune"], capture_output=True, text=True, timeout=60)
        assert out.returncode == 0 and "Feature Count: 6" in out.stdout, out.stderr
        # typed layers for GIS clients: multipolygons in EPSG:4326, the run's day a date
        assert "Geometry: Multi Polygon" in out.stdout and "4326" in out.stdout, out.stdout
        assert re.search(r"^date: Date", out.stdout, re.M), out.stdout


def test_the_schema_is_made_once_and_then_left_alone(pg_app):
    """A process that finds the database at this very schema runs no statement of it: the views its readers use are
    not dropped and made again at every command's start."""
    import psycopg

    from geo.store import pg
    from geo.store.schema import SCHEMA
    url = pg_app.config["ZONES"].db_path
    view_oid = "SELECT 'zones_commune'::regclass::oid"
    with psycopg.connect(url) as raw:
        pg._create(raw, SCHEMA)                                     # made (or already made by the app)
        before = raw.execute(view_oid).fetchone()
        assert raw.execute("SELECT obj_description('run_levels'::regclass)").fetchone()[0].startswith("zones schema ")
        pg._create(raw, SCHEMA)
        assert raw.execute(view_oid).fetchone() == before           # not made again
        raw.execute("COMMENT ON TABLE run_levels IS 'an older schema'")
        raw.commit()
        pg._create(raw, SCHEMA)
        assert raw.execute(view_oid).fetchone() != before           # another schema: made again


def _properties(store, run_id: str) -> dict:
    with store.connect(readonly=True) as con:
        rows = con.execute("SELECT code, properties FROM run_levels WHERE run_id = ? AND unit = 'commune'", (run_id,))
        return {code: json.loads(props) if isinstance(props, str) else props for code, props in rows.fetchall()}


def test_one_writer_across_servers(pg_app, tmp_path):
    """Two servers with their own folders share the database: the lock is the database's."""
    from geo.store import pg
    runner = pg_app.test_cli_runner()
    run_scenario(runner, pg_app, tmp_path, grid(2, 2), numbered([case("10002", DAY)]), DAY)
    url = pg_app.config["ZONES"].db_path
    other = {**os.environ, "ZONES_DATA_DIR": str(tmp_path / "server2"), "ZONES_DATABASE_URL": url,
             "ZONES_QUALITY_GATE": "off", "ZONES_LOCK_TIMEOUT": "1"}
    cmd = [sys.executable, "-m", "flask", "--app", "server", "reclassify", "--date", DAY]
    with pg.advisory_lock(url, 5) as held:
        assert held
        busy = subprocess.run(cmd, cwd=ROOT, env=other, capture_output=True, text=True, timeout=120)
        assert busy.returncode == 2 and "pg_advisory_lock" in busy.stderr, busy.stderr
    done = subprocess.run(cmd, cwd=ROOT, env=other, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr


def test_the_store_keeps_a_pool_of_connections(pg_cluster):
    """One connection per operation was a new backend process each time: the store's connections come
    from a pool per server process, and an operation that fails leaves nothing half done on it."""
    import psycopg

    from geo.store import pg
    from geo.store.database import Store
    url = pg_cluster.new_database()
    store = Store(url)
    try:
        backends = set()
        for _ in range(20):
            with store.connect(readonly=True) as con:
                backends.add(con.execute("SELECT pg_backend_pid()").fetchone()[0])
        assert len(backends) <= 2              # used again (a second may open while the pool starts)
        with pytest.raises(psycopg.errors.UndefinedTable), store.transaction() as con:
            con.execute("INSERT INTO flags (code, flag, value, date, row_hash) VALUES ('x', 'f', 1, '2021-07-01', 'h')")
            con.execute("SELECT * FROM no_such_table")
        with store.connect(readonly=True) as con:       # the failed write was rolled back, the pool works
            assert con.execute("SELECT count(*) FROM flags").fetchone()[0] == 0
        with psycopg.connect(url) as watcher:
            open_ = watcher.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                                    "AND pid <> pg_backend_pid()").fetchone()[0]
        assert 1 <= open_ <= pg.POOL_MAX
    finally:
        pg.close_pools()


def test_levels_sent_ahead_are_seen_only_with_their_run(pg_cluster):
    """A run's level rows go into run_levels while its files are written, under a provisional run row, in a
    transaction its record commits: before that no reader sees the run or a row of it, and a run that is never
    recorded (its publication failed) leaves neither."""
    import psycopg

    from geo.store import pg
    from geo.store.database import Store
    url = pg_cluster.new_database()
    store = Store(url)
    rows = [("commune", code, "safe", json.dumps({"code": code, "reasons": ["r"]})) for code in ("10001", "10002")]

    def seen(run_id: str) -> tuple[int, int]:
        with psycopg.connect(url) as other:
            return (other.execute("SELECT count(*) FROM runs WHERE run_id = %s", (run_id,)).fetchone()[0],
                    other.execute("SELECT count(*) FROM run_levels WHERE run_id = %s", (run_id,)).fetchone()[0])
    try:
        manifest = {"created_at": "2021-07-31T01:00:00+00:00", "boundary_version": "units", "kind": "full"}
        staged = store.stage_levels("r1", (DAY, "qd2686", "abc", "units"), rows)
        assert seen("r1") == (0, 0)
        store.record_run("r1", DAY, "qd2686", "abc", manifest, staged)
        assert seen("r1") == (1, 2)
        assert store.run_for_date(DAY)["manifest"] == manifest                  # the provisional row made whole
        assert store.run_for_date(DAY)["created_at"] == manifest["created_at"]
        assert _properties(store, "r1")["10002"] == {"code": "10002", "reasons": ["r"]}
        store.stage_levels("r2", (DAY, "qd2686", "abc", "units"), rows).close()      # never recorded
        assert seen("r2") == (0, 0) and store.run_for_date(DAY)["run_id"] == "r1"
        with pytest.raises(ValueError, match="r3"):                               # recorded as another run: refused
            store.record_run("r4", DAY, "qd2686", "abc", manifest, store.stage_levels("r3", (DAY, "q", "", "u"), rows))
        assert seen("r3") == (0, 0) and seen("r4") == (0, 0)
    finally:
        pg.close_pools()
