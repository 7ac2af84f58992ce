"""Shared fixtures: an app on a temporary data dir, its CLI runner and HTTP client."""
from __future__ import annotations

import pytest

from server import create_app


@pytest.fixture
def app(tmp_path):
    return create_app({"ZONES_DATA_DIR": str(tmp_path / "data"), "ZONES_LOCK_TIMEOUT": "5", "TESTING": True})


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def client(app):
    return app.test_client()
