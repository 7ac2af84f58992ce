"""What the web layer reads of published runs, through the store: the store itself, a run's file for a kind
of unit (composed once for a levels run), whether a run has that kind of unit, and one tile of an MBTiles
file. The web layer asks here, never the store directly (pyproject.toml's contracts)."""

from __future__ import annotations

from pathlib import Path

from geo.base.config import Settings
from geo.store import mbtiles, runfiles
from geo.store.database import Store


def store(settings: Settings) -> Store:
    """The store of these settings (SQLite file or PostgreSQL): opened per request, connections per call."""
    return Store(settings.db_path)


def geojson(settings: Settings, run_dir: Path, unit: str) -> Path:
    """The run's GeoJSON for `unit` (lockdowns too): a full run's own file, or one composed from a levels run's
    table and the stored geometry, once, into the cache."""
    return runfiles.geojson_path(store(settings), run_dir, unit, settings.cache_dir)


def require_unit(manifest: dict, unit: str) -> None:
    """404 naming the run's boundary version when its levels have no such kind of unit (a 2025 run: no districts)."""
    runfiles.require_in(manifest, unit)


def tile(path: Path, z: int, x: int, y: int) -> bytes | None:
    """Tile z/x/y (XYZ) of an MBTiles file, None when it holds nothing there."""
    return mbtiles.read_tile(path, z, x, y)
