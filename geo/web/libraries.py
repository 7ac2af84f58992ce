"""Libraries only some pages use (Folium, openpyxl, python-docx) are imported lazily (lazy_loader), so that a
command starts without them; a server loads them all before it answers: in gunicorn's master before the workers
are forked (gunicorn.conf.py: the workers share them and no first visitor waits for one), else at its first request,
under a lock (Python 3.11's lazy modules must not be loaded by two threads at once: 500s under load)."""

from __future__ import annotations

import sys
import threading

from flask import Flask

_LOCK = threading.Lock()
_LOADED: list[str] = []


def load() -> list[str]:
    """Load every module imported lazily so far; -> their names (once per process)."""
    with _LOCK:
        if not _LOADED:
            lazy = [name for name, m in list(sys.modules.items()) if type(m).__name__ == "_LazyModule"]
            for name in lazy:
                getattr(sys.modules[name], "__dict__")  # any attribute of a lazy module loads it  # noqa: B009
            _LOADED.extend(lazy or ["-"])
        return list(_LOADED)


def _before_request() -> None:
    load()      # nothing returned: a before_request function that returns a value answers the request with it


def install(app: Flask) -> None:
    app.before_request(_before_request)
