"""Publish a run: write every output into a staging folder, then make it visible atomically.

Order: outputs -> manifest -> fsync -> rename staging to runs/<run_id> -> one SQLite transaction
that records the run and points the date at it. A crash before the commit leaves the previous
run served; a stale staging folder is removed by the next run (which holds the lock).
"""
from __future__ import annotations

import datetime as dt
import json
import os
import secrets
import shutil
import subprocess
from pathlib import Path

import geopandas as gpd

from . import formats, maps, tiles
from .config import Settings
from .store import Store

UNITS = ("commune", "district", "province")
LANGS = ("vi", "en")


def code_version() -> str:
    here = Path(__file__).resolve().parent.parent
    try:
        out = subprocess.run(["git", "-C", str(here), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def new_run_id(day: dt.date) -> str:
    now = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%dT%H%M%S")
    return f"{day.isoformat()}_{now}_{secrets.token_hex(3)}"


def _fsync_tree(folder: Path) -> None:
    for p in folder.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                os.fsync(fh.fileno())
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_staging(runs_dir: Path) -> None:
    for p in runs_dir.glob(".staging-*"):
        shutil.rmtree(p, ignore_errors=True)


def publish(settings: Settings, store: Store, day: dt.date, ruleset, frames: dict[str, gpd.GeoDataFrame],
            lockdowns: gpd.GeoDataFrame, manifest: dict, timer) -> dict:
    runs_dir = settings.runs_dir
    runs_dir.mkdir(parents=True, exist_ok=True)
    clean_staging(runs_dir)
    run_id = new_run_id(day)
    stage = runs_dir / f".staging-{run_id}"
    (stage / "tiles").mkdir(parents=True)
    stamp = {"date": day.isoformat(), "run_id": run_id, "ruleset": ruleset.id,
             "boundary_version": manifest["boundary_version"]}
    for unit, frame in frames.items():
        frame["lockdown"] = frame.pop("lockdown_active").astype(bool)
        for k, v in stamp.items():
            frame[k] = v
    procs, tile_inputs = [], []
    for unit in UNITS:
        # tippecanoe first, on a lean copy holding only the tile fields, so it runs beside the rest
        lean = stage / "tiles" / f".{unit}-input.geojson"
        lean.write_text(formats.tile_input_text(frames[unit], list(tiles.TILE_FIELDS)), encoding="utf-8")
        tile_inputs.append(lean)
        procs.append(tiles.start_build(lean, stage / "tiles" / f"{unit}.mbtiles", unit))
    for unit in UNITS:
        (stage / f"{unit}.geojson").write_text(formats.geojson_text(frames[unit], unit), encoding="utf-8")
    lk = gpd.GeoDataFrame(lockdowns.copy(), geometry=lockdowns.geometry.values, crs="EPSG:4326")
    for k, v in stamp.items():
        lk[k] = v
    (stage / "lockdown.geojson").write_text(formats.geojson_text(lk, "lockdown"), encoding="utf-8")
    timer.done("publish_geojson")
    formats.write_gpkg({**frames, "lockdown": lk}, stage / "zones.gpkg")
    timer.done("publish_gpkg")
    full = {**manifest, "run_id": run_id, "code_version": code_version(),
            "created_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    display = maps.write_display(frames, lk, stage / "display")
    for lang in LANGS:
        (stage / f"map_{lang}.html").write_text(maps.build(frames, display, ruleset, full, lang), encoding="utf-8")
    timer.done("publish_map")
    for p in procs:
        tiles.finish_build(p)
    for p in tile_inputs:
        p.unlink()
    timer.done("publish_tiles")
    full["bounds"] = {u: [float(b) for b in frames[u].total_bounds] for u in UNITS}
    full["files"] = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()) + ["manifest.json"]
    full["stages_s"] = dict(timer.stages)
    (stage / "manifest.json").write_text(json.dumps(full, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(stage)
    final = runs_dir / run_id
    os.rename(stage, final)
    with store.transaction() as con:
        con.execute("INSERT INTO runs VALUES (?,?,?,?,?,?,?)",
                    (run_id, day.isoformat(), full["created_at"], ruleset.id, ruleset.sha256,
                     full["boundary_version"], json.dumps(full, ensure_ascii=False)))
        con.execute("INSERT INTO published (date, run_id) VALUES (?, ?) "
                    "ON CONFLICT(date) DO UPDATE SET run_id = excluded.run_id", (day.isoformat(), run_id))
        con.execute("INSERT INTO publications (date, run_id, published_at) VALUES (?, ?, ?)",
                    (day.isoformat(), run_id, dt.datetime.now(dt.timezone.utc).isoformat(timespec="microseconds")))
    timer.done("publish_commit")
    full["stages_s"] = dict(timer.stages)
    return full
