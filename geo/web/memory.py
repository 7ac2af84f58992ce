"""A worker gives back what a request freed: Arrow's own allocator (mimalloc) keeps the pages of every table a
request read (pandas' text columns are Arrow arrays), so a worker that served the national map, its list and an
export grew by a hundred megabytes it never returned. The system allocator returns them."""

from __future__ import annotations

import pyarrow as pa
from flask import Flask


def install(app: Flask) -> None:
    pa.set_memory_pool(pa.system_memory_pool())
