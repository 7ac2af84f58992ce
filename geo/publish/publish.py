"""Publish a run: write every output into a staging folder, then make it visible atomically.

Order: outputs -> manifest -> fsync -> rename staging to runs/<run_id> -> one SQLite transaction
that records the run and points the date at it. A crash before the commit leaves the previous
run served; a stale staging folder is removed by the next run (which holds the lock).
"""
from __future__ import annotations

import datetime as dt
import functools
import json
import os
import secrets
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import geopandas as gpd

from geo.base.config import Settings
from geo.publish import maplevels, shapes, tiles
from geo.store import formats, runfiles
from geo.store.database import Store


@functools.lru_cache(maxsize=1)
def code_version() -> str:
    here = Path(__file__).resolve().parents[2]
    try:
        out = subprocess.run(["git", "-C", str(here), "describe", "--always", "--dirty"], capture_output=True,
                             text=True, timeout=5)
        if out.returncode == 0:
            return out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return "unknown"


def new_run_id(day: dt.date) -> str:
    now = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S")
    return f"{day.isoformat()}_{now}_{secrets.token_hex(3)}"


def _fsync_tree(folder: Path) -> None:
    """Everything written is on disk before the rename: one sync (a run holds thousands of tile
    files, one fsync each would take seconds), then the folder itself."""
    os.sync()
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def clean_staging(runs_dir: Path) -> None:
    for p in runs_dir.glob(".staging-*"):
        shutil.rmtree(p, ignore_errors=True)


def _stamped_lockdowns(lockdowns: gpd.GeoDataFrame, stamp: dict) -> gpd.GeoDataFrame:
    lk = gpd.GeoDataFrame(lockdowns.copy(), geometry=lockdowns.geometry.values, crs="EPSG:4326")
    for k, v in stamp.items():
        lk[k] = v
    return lk


def _stamp(frames: dict, stamp: dict) -> None:
    for frame in frames.values():
        frame["lockdown"] = frame.pop("lockdown_active").astype(bool)
        for k, v in stamp.items():
            frame[k] = v


def _seal(stage: Path, full: dict) -> None:
    full["files"] = sorted(str(p.relative_to(stage)) for p in stage.rglob("*") if p.is_file()) + ["manifest.json"]
    (stage / "manifest.json").write_text(json.dumps(full, ensure_ascii=False, indent=1), encoding="utf-8")
    _fsync_tree(stage)


def _finish(store: Store, stage: Path, run_id: str, day: dt.date, ruleset, full: dict, levels=None) -> None:
    _seal(stage, full)
    os.rename(stage, stage.parent / run_id)
    record(store, stage.parent / run_id, ruleset.id, ruleset.sha256, full, levels)


def record(store: Store, folder: Path, ruleset_id: str, ruleset_sha256: str | None, full: dict, levels=None) -> None:
    """Record a written run as published, with its level rows when the store is PostgreSQL (`levels`: those sent
    ahead while the run was written, Store.stage_levels(), else read back from the run's files)."""
    if not store.is_pg:
        levels = None
    elif levels is None:
        levels = runfiles.level_rows(folder)
    store.record_run(full["run_id"], full["date"], ruleset_id, ruleset_sha256, full, levels)


HELD_PREFIX = ".held-"


def held_dir(runs_dir: Path, run_id: str) -> Path:
    return runs_dir / f"{HELD_PREFIX}{run_id}"


def release_held(store: Store, runs_dir: Path, run_id: str, ruleset_id: str) -> dict:
    """Make a held run visible: the same rename and record as any run (its files are complete)."""
    folder = held_dir(runs_dir, run_id)
    full = runfiles.manifest(folder)
    os.rename(folder, runs_dir / run_id)
    record(store, runs_dir / run_id, ruleset_id, full.get("ruleset_sha256"), full)
    return full


def _shapes(settings: Settings, store: Store, manifest: dict) -> dict:
    """The run's boundary version's shapes (built the first time a run uses the version); the run
    records their id so its page and table never look them up again."""
    sid = shapes.ensure(settings.data_dir, store, manifest["boundary_version"])
    manifest["shapes"] = sid
    return shapes.index(settings.data_dir, sid)


def stage_levels(settings: Settings, day: dt.date, ruleset, frames: dict[str, gpd.GeoDataFrame],
                 lockdowns: gpd.GeoDataFrame, manifest: dict, backfill: dict, index: dict) -> tuple[Path, dict]:
    """Write a levels run (a backfilled day: the day's tables and lockdowns, no map or tiles, see
    geo/store/runfiles.py) into a staging folder; commit_staged() makes it visible. `index`: the shapes
    index of the run's boundary version (shapes_index())."""
    run_id = new_run_id(day)
    stage = settings.runs_dir / f".staging-{run_id}"
    stage.mkdir(parents=True)
    stamp = {"date": day.isoformat(), "run_id": run_id, "ruleset": ruleset.id,
             "boundary_version": manifest["boundary_version"]}
    _stamp(frames, stamp)
    lk = _stamped_lockdowns(lockdowns, stamp)
    (stage / "lockdown.geojson").write_bytes(formats.geojson_bytes(lk, "lockdown"))
    maplevels.write(stage, frames, index, run_id, day.isoformat())
    full = {**manifest, "shapes": index["id"], "run_id": run_id, "kind": runfiles.LEVELS, "backfill": backfill,
            "code_version": code_version(), "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "columns": runfiles.write_tables(frames, stage)}
    return stage, full


def shapes_index(settings: Settings, store: Store, version: str) -> dict:
    return _shapes(settings, store, {"boundary_version": version})


def commit_staged(store: Store, stage: Path, ruleset, full: dict) -> dict:
    _finish(store, stage, full["run_id"], dt.date.fromisoformat(full["date"]), ruleset, full)
    return full


def _start_tiles(stage: Path, settings: Settings, index: dict, layers: dict) -> list:
    """Background tile builds: each unit kind's shape tiles joined with the day's attributes
    (tile-join), lockdowns tiled (tippecanoe); they use the other core while Python writes the rest."""
    procs = []
    folder = shapes.folder(settings.data_dir, index["id"])
    for unit, frame in layers.items():
        out = _tiles_of(stage, unit)[0]
        if unit == "lockdown":
            lean = stage / "tiles" / f".{unit}-input.geojson"
            lean.write_bytes(formats.tile_input_bytes(frame, list(tiles.fields(unit))))
            procs.append((tiles.start_build(lean, out, unit), lean))
            continue
        table = stage / "tiles" / f".{unit}-join.csv"
        formats.join_table(frame, list(tiles.fields(unit))).to_csv(table, index=False)
        procs.append((tiles.start_join(folder / f"{unit}.mbtiles", table, out), table))
    return procs


def publish(settings: Settings, store: Store, day: dt.date, ruleset, frames: dict[str, gpd.GeoDataFrame],
            lockdowns: gpd.GeoDataFrame, manifest: dict, timer, hold: bool = False) -> dict:
    """Write and publish a full run; with `hold`, write it completely but keep it aside
    (runs/.held-<run_id>) until an operator publishes it anyway (geo/publish/quality.py)."""
    runs_dir = settings.runs_dir
    runs_dir.mkdir(parents=True, exist_ok=True)
    clean_staging(runs_dir)
    index = _shapes(settings, store, manifest)
    run_id = new_run_id(day)
    stage = runs_dir / f".staging-{run_id}"
    try:
        return _publish(settings, store, day, ruleset, frames, lockdowns, manifest, timer, hold, index, run_id, stage)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)      # a run that could not be written leaves nothing behind
        raise


def _publish(settings, store, day, ruleset, frames, lockdowns, manifest, timer, hold, index, run_id, stage) -> dict:
    (stage / "tiles").mkdir(parents=True)
    stamp = {"date": day.isoformat(), "run_id": run_id, "ruleset": ruleset.id,
             "boundary_version": manifest["boundary_version"]}
    _stamp(frames, stamp)
    lk = _stamped_lockdowns(lockdowns, stamp)
    for col in tiles.LOCKDOWN_FIELDS:
        if col not in lk:
            lk[col] = None
    layers = {**frames, "lockdown": lk} if len(lk) else frames   # no lockdown: no lockdown tiles (204)
    procs = _start_tiles(stage, settings, index, layers)
    try:
        return _write(settings, store, day, ruleset, frames, lk, layers, procs, manifest, timer, hold, index, run_id,
                      stage)
    finally:
        tiles.stop_builds([p for p, _ in procs])


def _write(settings, store, day, ruleset, frames, lk, layers, procs, manifest, timer, hold, index, run_id, stage) -> dict:
    runs_dir = settings.runs_dir
    helper = ThreadPoolExecutor(2, thread_name_prefix="publish")
    files = helper.submit(_tile_files, stage, list(layers), procs, _earlier_tiles(settings, store, day, index))
    staging = None
    try:
        maplevels.write(stage, frames, index, run_id, day.isoformat())
        props = {}
        for unit in frames:      # the kinds of unit the boundary version has
            body, props[unit] = formats.geojson_and_records(frames[unit], unit)
            (stage / f"{unit}.geojson").write_bytes(body)
        if store.is_pg and not hold:
            # PostgreSQL keeps the level rows (each feature's properties as the GeoJSON holds them), sent ahead on a
            # helper thread: the server parses their JSON while the GeoPackage is written and the tiles are waited for
            provisional = (day.isoformat(), ruleset.id, ruleset.sha256, manifest["boundary_version"])
            staging = helper.submit(store.stage_levels, run_id, provisional, runfiles.level_rows_of(frames, props))
        (stage / "lockdown.geojson").write_bytes(formats.geojson_bytes(lk, "lockdown"))
        timer.done("publish_geojson")
        formats.write_gpkg({**frames, "lockdown": lk}, stage / "zones.gpkg")
        timer.done("publish_gpkg")
        files.result()
        levels = staging.result() if staging is not None else None
    except BaseException:
        tiles.stop_builds([p for p, _ in procs])      # the helper's wait ends with them
        _close_staged(staging)
        raise
    finally:
        helper.shutdown(wait=True)
    timer.done("publish_tiles")
    full = {**manifest, "run_id": run_id, "kind": runfiles.FULL, "code_version": code_version(),
            "created_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
    full["bounds"] = {u: [float(b) for b in f.total_bounds] for u, f in frames.items()}
    full["bounds"]["lockdown"] = [float(b) for b in lk.total_bounds] if len(lk) else full["bounds"]["commune"]
    full["stages_s"] = dict(timer.stages)
    if hold:
        _seal(stage, full)
        os.rename(stage, held_dir(runs_dir, run_id))
        return full
    try:
        _finish(store, stage, run_id, day, ruleset, full, levels)
    finally:
        if levels is not None:
            levels.close()          # recorded or not, its connection goes back to the pool (a second close is nothing)
    timer.done("publish_commit")
    full["stages_s"] = dict(timer.stages)
    return full


def _close_staged(staging) -> None:
    """Level rows sent ahead for a run that will not be recorded: their connection back to the pool."""
    if staging is None:
        return
    try:
        staging.result().close()
    except Exception:        # sending them failed: nothing to give back, and the first error is the one to tell
        pass


def _earlier_tiles(settings: Settings, store: Store, day: dt.date, index: dict) -> Path | None:
    """The folder of the published run whose tiles are most like this run's: the day's own (a day run again), else
    the latest day's before it, when it is of the same shapes (a backfilled day has no tiles: all are written)."""
    for run in (store.run_for_date(day.isoformat()), store.latest_run_before(day.isoformat())):
        if run is not None and run["manifest"].get("shapes") == index["id"]:
            return settings.runs_dir / run["run_id"]
    return None


def _tile_files(stage: Path, units: list[str], procs: list, earlier: Path | None) -> None:
    """On a helper thread: each tile build waited for, then its tiles written as files for nginx (those the same as
    the `earlier` run folder's linked to its files). Creating files is system calls, which leave the interpreter to
    the main thread writing the GeoJSON and GeoPackage meanwhile."""
    for unit, (proc, scratch) in zip(units, procs, strict=True):
        tiles.finish_build(proc)
        scratch.unlink()
        tiles.explode(*_tiles_of(stage, unit), _tiles_of(earlier, unit) if earlier is not None else None)


def _tiles_of(run_dir: Path, unit: str) -> tuple[Path, Path]:
    """A run's MBTiles of one layer and the folder of its tile files."""
    return run_dir / "tiles" / f"{unit}.mbtiles", run_dir / tiles.XYZ_DIR / unit
