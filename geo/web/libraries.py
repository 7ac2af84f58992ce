"""Libraries only some pages use (Folium, openpyxl, python-docx; rasterio and Pillow through the picture tiles'
module, geo.serve.raster, handed out here) are imported lazily (lazy_loader), so that a command starts without
them; a server loads them all before it answers: in gunicorn's master before the workers are forked
(gunicorn.conf.py: the workers share them and no first visitor waits for one), else at its first request, under a
lock (Python 3.11's lazy modules must not be loaded by two threads at once: 500s under load)."""

from __future__ import annotations

import sys
import threading
from typing import TYPE_CHECKING

import lazy_loader as lazy
from flask import Flask

if TYPE_CHECKING:
    from geo.serve import raster
else:   # its parent package is loaded already: nothing is loaded eagerly
    raster = lazy.load("geo.serve.raster", suppress_warning=True)

_LOCK = threading.Lock()
_LOADED = threading.Event()


def load() -> None:
    """Load every module imported lazily so far, once per process (returns nothing: it runs before each request,
    and a before_request function that returned a value would answer the request with it)."""
    if _LOADED.is_set():
        return
    with _LOCK:
        if not _LOADED.is_set():
            for module in [m for m in list(sys.modules.values()) if type(m).__name__ == "_LazyModule"]:
                getattr(module, "__dict__")  # any attribute of a lazy module loads it  # noqa: B009
            _LOADED.set()


def install(app: Flask) -> None:
    app.before_request(load)
