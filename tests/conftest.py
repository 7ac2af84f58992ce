"""Shared fixtures: an app on a temporary data dir, its CLI runner and HTTP client.

Tests marked `both_backends` run twice: on the embedded SQLite store and on PostgreSQL/PostGIS
(a private cluster started by the tests, one database per test; skipped with the reason when the
server is not installed)."""
from __future__ import annotations

import pytest

from server import create_app


def pytest_configure(config):
    config.addinivalue_line("markers", "both_backends: run on the SQLite store and on PostgreSQL/PostGIS")


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
def store_config(backend, request) -> dict:
    """The store settings of this test's app (apps a test makes itself pass them on)."""
    if backend == "postgis":
        return {"ZONES_DATABASE_URL": request.getfixturevalue("pg_cluster").new_database()}
    return {}


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
