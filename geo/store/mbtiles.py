"""Reading MBTiles files (SQLite tile containers made by tippecanoe and tile-join): every tile of
one, or one tile by XYZ address through a per-thread cache of read-only connections."""
from __future__ import annotations

import sqlite3
import threading
from pathlib import Path


def all_tiles(mbtiles: Path) -> list[tuple]:
    """[(zoom, column, TMS row, MVT bytes)] of a whole file."""
    con = sqlite3.connect(f"file:{mbtiles}?mode=ro", uri=True)
    try:
        return con.execute("SELECT zoom_level, tile_column, tile_row, tile_data FROM tiles").fetchall()
    finally:
        con.close()


def tiles_by_position(mbtiles: Path) -> dict[tuple[int, int, int], bytes]:
    """{(zoom, column, TMS row): MVT bytes} of a whole file; empty when there is no such file or no tiles in it."""
    try:
        return {(z, x, y): data for z, x, y, data in all_tiles(mbtiles)}
    except sqlite3.Error:
        return {}


# Read-only connections kept open per process and thread (MBTiles of a run never change).
_CONNECTIONS = threading.local()
# Open MBTiles files per thread at most; the oldest is closed beyond this.
MAX_OPEN_MBTILES = 64


def _connection(mbtiles: Path) -> sqlite3.Connection:
    cons = getattr(_CONNECTIONS, "cons", None)
    if cons is None:
        cons = _CONNECTIONS.cons = {}
    key = str(mbtiles)
    con = cons.get(key)
    if con is None:
        if len(cons) >= MAX_OPEN_MBTILES:
            cons.pop(next(iter(cons))).close()
        con = cons[key] = sqlite3.connect(f"file:{mbtiles}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    return con


def read_tile(mbtiles: Path, z: int, x: int, y: int) -> bytes | None:
    """Tile bytes (MVT) for XYZ z/x/y, or None when the tile holds nothing."""
    tms_y = (1 << z) - 1 - y
    row = _connection(mbtiles).execute("SELECT tile_data FROM tiles WHERE zoom_level = ? AND tile_column = ? AND "
                                       "tile_row = ?", (z, x, tms_y)).fetchone()
    return bytes(row[0]) if row else None
