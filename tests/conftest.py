"""Shared fixtures: an app on a temporary data dir, its CLI runner and HTTP client.

Tests marked `both_backends` run twice: on the embedded SQLite store and on PostgreSQL/PostGIS
(a private cluster started by the tests, one database per test; skipped with the reason when the
server is not installed)."""
from __future__ import annotations

import gc
import os
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from helpers import ROOT, free_port, wait_until_serving

from server import create_app


class ClosingClient(FlaskClient):
    """Reads each response whole and closes it, as a WSGI server does: a file the app sends is closed
    (with warnings as errors, an unclosed one fails the test that left it)."""

    def open(self, *args, buffered=True, **kwargs):
        return super().open(*args, buffered=buffered, **kwargs)


Flask.test_client_class = ClosingClient


@pytest.fixture(autouse=True)
def _collect_garbage():
    """Objects a test leaves in reference cycles are collected as it ends, so a file or pipe it left
    open fails that test (warnings are errors), not whichever test the collector happens to run in."""
    yield
    gc.collect()

VENV_BIN = Path(sys.executable).parent


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run on the SQLite store and on PostgreSQL/PostGIS")
    config.addinivalue_line("markers", "slow: national data, browsers, PostgreSQL, nginx, gunicorn, fuzzing, kill tests "
                                       "(the fast lane is pytest -m 'not slow')")


# Modules whose tests need what the fast lane leaves out: the national layers of ../shared/data, Chromium,
# nginx, gunicorn under load, killed processes, generated requests by the thousand, GDAL and OWSLib as clients.
SLOW_MODULES = {
    "ingest/test_real_data.py", "ingest/test_derived_2021.py", "ingest/test_vn2025.py",
    "serve/test_map_page.py", "serve/test_console_browser.py", "serve/test_sample_browser.py",
    "serve/test_two_level_map.py", "serve/test_report.py", "serve/test_nginx.py", "serve/test_api_fuzz.py",
    "serve/test_ops.py", "serve/test_ogc.py", "serve/test_gdal.py", "publish/test_crash.py", "store/test_postgis.py",
    "store/test_faults.py", "test_guardrails.py", "serve/test_map_everywhere.py", "serve/test_decision_flow.py",
}


def pytest_collection_modifyitems(config, items):
    """`slow` on every test of SLOW_MODULES and on the PostgreSQL run of each both-stores test."""
    for item in items:
        module = Path(str(item.fspath)).relative_to(Path(__file__).parent).as_posix()
        if module in SLOW_MODULES or "[postgis" in item.nodeid:
            item.add_marker(pytest.mark.slow)


def pytest_generate_tests(metafunc):
    if "backend" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_backends"):
        metafunc.parametrize("backend", ["sqlite", "postgis"], indirect=True)


@pytest.fixture(scope="session")
def pg_cluster():
    import pgserver
    why = pgserver.available()
    if why:
        pytest.skip(why)
    cluster = pgserver.Cluster()
    yield cluster
    cluster.stop()


@pytest.fixture
def backend(request):
    return getattr(request, "param", "sqlite")


@pytest.fixture
def store_config(backend, request):
    """The store settings of this test's app (apps a test makes itself pass them on). A PostgreSQL
    test's database is its own: the pools to it are closed when the test ends."""
    if backend != "postgis":
        yield {}
        return
    yield {"ZONES_DATABASE_URL": request.getfixturevalue("pg_cluster").new_database()}
    from geo.store import pg
    pg.close_pools()


@pytest.fixture
def app(tmp_path, store_config):
    # The data-quality gate would hold most hand-made scenarios (a single case weeks before the day
    # is "stale"); its own tests (test_quality.py) and the sample job run with it on.
    return create_app({"ZONES_DATA_DIR": str(tmp_path / "data"), "ZONES_LOCK_TIMEOUT": "5", "TESTING": True,
                       "ZONES_QUALITY_GATE": "off", **store_config})


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture(scope="session")
def sample_site(tmp_path_factory):
    """README command (1) as a user runs it: the embedded sample through scripts/run-sample.sh (not
    served). -> (data folder, what the script printed)."""
    data = tmp_path_factory.mktemp("sample") / "data"
    env = {**os.environ, "ZONES_DATA_DIR": str(data), "NO_SERVE": "1", "PATH": f"{VENV_BIN}:{os.environ['PATH']}"}
    out = subprocess.run(["bash", "scripts/run-sample.sh"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr + out.stdout
    return data, out.stdout


@pytest.fixture(scope="session")
def sample_server(sample_site, tmp_path_factory):
    """The sample served by gunicorn, the production command. -> (base URL, access log)."""
    data, _ = sample_site
    port = free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "access.log"
    proc = subprocess.Popen([str(VENV_BIN / "gunicorn"), "--workers", "2", "--threads", "4", "--bind", f"127.0.0.1:{port}",
                             "--access-logfile", str(log), "server:create_app()"],
                            cwd=ROOT, env={**os.environ, "ZONES_DATA_DIR": str(data)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    wait_until_serving(base + "/api/runs")
    yield base, log
    proc.terminate()
    proc.wait(timeout=10)
