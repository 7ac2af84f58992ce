"""Shared fixtures: an app on a temporary data dir, its CLI runner and HTTP client."""
from __future__ import annotations

import pytest

from server import create_app


@pytest.fixture
def app(tmp_path):
    # The data-quality gate would hold most hand-made scenarios (a single case weeks before the day
    # is "stale"); its own tests (test_quality.py) and the sample job run with it on.
    return create_app({"ZONES_DATA_DIR": str(tmp_path / "data"), "ZONES_LOCK_TIMEOUT": "5", "TESTING": True,
                       "ZONES_QUALITY_GATE": "off"})


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()
