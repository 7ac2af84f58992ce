"""A worker gives back to the system what a request freed (geo/web/memory.py)."""
from __future__ import annotations

import pytest

from geo.web import memory


def test_a_worker_that_grew_gives_freed_memory_back():
    if memory._TRIM is None:
        pytest.skip("not glibc's allocator: nothing to give back this way")
    memory._TRIM(0)                      # a start from what the process holds now, nothing freed kept
    start = memory._STATE["after_trim_mb"] = memory.resident_mb()
    # what a request leaves behind: a hundred megabytes freed in the C heap, a few blocks still held among them
    blocks = [bytearray(b"x" * (64 * 1024)) for _ in range(1600)]
    kept = blocks[::50]
    del blocks
    grown = memory.resident_mb()
    assert grown - start > memory.GROWTH_MB, (start, grown)   # freed, yet still the worker's
    memory.give_back()
    after = memory.resident_mb()
    assert after < grown - 50, (start, grown, after)
    assert memory._STATE["after_trim_mb"] == pytest.approx(after, abs=2)
    # below the growth that asks for it, nothing is done
    memory._STATE["after_trim_mb"] = after + 1
    memory.give_back()
    assert memory._STATE["after_trim_mb"] == after + 1
    del kept


def test_the_app_gives_back_after_each_request(app):
    assert memory.give_back in app.teardown_request_funcs[None]
