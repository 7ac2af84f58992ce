"""A run's tile files (tiles/xyz, what nginx sends) that are the same to the byte as the earlier run's are hard
links to its files, the others are written: the files of both runs stay exactly their own MBTiles' tiles."""
from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import case, grid, invoke, numbered, run_scenario, write_cases

from geo.publish import tiles
from geo.store import mbtiles
from geo.store.database import Store

pytestmark = pytest.mark.both_backends

DAY = "2021-07-31"


def _run_dir(app) -> Path:
    settings = app.config["ZONES"]
    return settings.runs_dir / Store(settings.db_path).run_for_date(DAY)["run_id"]


def _files(run: Path) -> dict[tuple[str, int, int, int], Path]:
    """{(layer, z, x, TMS row): file} of a run's tile files."""
    out = {}
    for path in (run / tiles.XYZ_DIR).rglob("*.mvt*"):
        layer, z, x = path.parts[-4:-1]
        y = int(path.name.split(".")[0])
        out[(layer, int(z), int(x), (1 << int(z)) - 1 - y)] = path
    return out


def _stored(run: Path) -> dict[tuple[str, int, int, int], bytes]:
    return {(layer, *key): data for layer in ("commune", "district", "province")
            for key, data in mbtiles.tiles_by_position(run / "tiles" / f"{layer}.mbtiles").items()}


def _rerun(runner, app) -> Path:
    res = invoke(runner, "reclassify", "--date", DAY)
    assert res.exit_code == 0, res.output
    return _run_dir(app)


def _check_files(run: Path) -> dict:
    """Every tile of the run's MBTiles is a file holding its bytes (and nothing else is there)."""
    files, stored = _files(run), _stored(run)
    assert set(files) == set(stored)
    assert all(files[k].read_bytes() == stored[k] for k in files)
    return files


@pytest.fixture
def first(runner, app, tmp_path):
    units = grid(2, 3, population=10_000)     # one case is enough to change a commune's level
    run_scenario(runner, app, tmp_path, units, numbered([case("10002", DAY)]), DAY)
    return _run_dir(app)


def test_a_day_run_again_shares_every_tile_file(first, runner, app):
    second = _rerun(runner, app)
    assert second != first
    before, after = _check_files(first), _check_files(second)
    assert set(after) == set(before) and len(after) > 20
    assert all(os.path.samefile(after[k], before[k]) for k in after)


def test_changed_tiles_are_written_and_the_earlier_run_keeps_its_own(first, runner, app, tmp_path):
    rows = numbered([case("10006", DAY, case_id="N1")])
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "more.csv"))
    assert res.exit_code == 0, res.output
    second = _rerun(runner, app)
    before, after = _check_files(first), _check_files(second)
    first_tiles, second_tiles = _stored(first), _stored(second)
    linked = {k for k in after if k in before and os.path.samefile(after[k], before[k])}
    # linked exactly where the bytes are the same
    assert linked == {k for k in after if first_tiles.get(k) == second_tiles[k]}
    # 10006's level changed, its province's did not: its tiles are new, the province's shared
    assert {k[0] for k in set(after) - linked} == {"commune"} and {k[0] for k in linked} >= {"province"}
    # the first run's files still hold the first run's tiles
    assert all(before[k].read_bytes() == first_tiles[k] for k in before)


def test_a_missing_earlier_file_is_written(first, runner, app):
    gone = next(iter(_files(first).values()))
    gone.unlink()        # as a run published before tile files were kept has none
    second = _rerun(runner, app)
    after = _check_files(second)
    fresh = [p for p in after.values() if p.name == gone.name and p.parent.parts[-3:] == gone.parent.parts[-3:]]
    assert len(fresh) == 1 and fresh[0].stat().st_nlink == 1
    assert all(p.stat().st_nlink == 2 for p in after.values() if p != fresh[0])
