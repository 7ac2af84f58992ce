"""The commands as cron and an operator run them, end to end: a new process each (start-up, reading, evaluating,
publishing), each beside its floor measured in the same run on the same data (issue 28).

    .venv/bin/python benchmarks/bench_commands.py [--shared ../shared/data] [--repeat 5]

- `flask --app server --help` and `users add`: the floor is the interpreter starting and importing Flask.
- `reclassify` of the national day (2009 layer, 11,163 communes; and the 2025 wards, 3,321), 100,000 SYNTHETIC
  cases (bench_national's generator), on --repeat mornings in a row after the day before them was published, as
  cron runs it (each day's tile files the same as the day before's are links to them): the floor is a bare script that imports the same libraries, reads the day's
  cases from the store in one query, places them with a bare STRtree query, counts them per commune and writes
  the same files (GeoJSON and GeoPackage of every kind of unit, through pyogrio's Arrow path): no rule, no
  explanation, no tile, no outlook.
- `backfill` of 27 days (each a levels run): the floor per day is the range's evaluation at once (the one
  computation, in process) plus writing each day's tables with pyarrow (Parquet, as a levels run keeps them),
  divided by the days.
Times are medians of --repeat runs on a quiet machine. Writes the "commands" section of RESULTS.md.
"""
from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import national  # noqa: E402
import numpy as np  # noqa: E402
from bench_national import MAPPING, SEED, synthetic_cases  # noqa: E402
from bench_vn2025 import PROVINCES, WARDS  # noqa: E402
from results import write_section  # noqa: E402

from geo.base import config  # noqa: E402
from geo.ingest.cases import import_cases  # noqa: E402
from geo.ingest.units import import_units  # noqa: E402
from geo.publish import shapes  # noqa: E402
from geo.store.database import Store  # noqa: E402

DAY = dt.date(2021, 7, 31)
BACKFILL = (dt.date(2021, 7, 4), dt.date(2021, 7, 30))
TARGETS = {"help": 1.0, "users_add": 1.5, "day_2009": 3.0, "day_2025": 2.0, "backfill_day": 0.15}
FLASK = [str(Path(sys.executable).parent / "flask"), "--app", "server"]

# The floor of a day: the same libraries, the day's cases in one query, a bare STRtree placement and count, the
# same files written through pyogrio's Arrow path.
FLOOR_DAY = """
import sqlite3, sys
import geopandas, numpy as np, pandas, pyarrow, pyogrio, shapely
data, gpkg, first, last, out = sys.argv[1:]
con = sqlite3.connect(f"file:{data}/zones.sqlite?mode=ro", uri=True)
xy = np.array(con.execute("SELECT lon, lat, count FROM cases WHERE report_date BETWEEN ? AND ? AND community = 1",
                          (first, last)).fetchall(), dtype=float)
layers = [l for l, _ in pyogrio.list_layers(gpkg) if l in ("commune", "district", "province")]
for k, layer in enumerate(layers):
    frame = pyogrio.read_dataframe(gpkg, layer=layer, use_arrow=True)
    if layer == "commune":
        hit = shapely.STRtree(frame.geometry.values).query(shapely.points(xy[:, 0], xy[:, 1]), predicate="intersects")
        frame["community_cases"] = np.bincount(hit[1], weights=xy[hit[0], 2], minlength=len(frame))
    pyogrio.write_dataframe(frame, f"{out}/{layer}.geojson", driver="GeoJSON", use_arrow=True)
    pyogrio.write_dataframe(frame, f"{out}/zones.gpkg", layer=layer, driver="GPKG", use_arrow=True, append=k > 0)
"""

# The floor of a backfilled day: the range evaluated at once in process, then each day's tables written by pyarrow.
FLOOR_BACKFILL = """
import datetime as dt, io, sys
from pathlib import Path
import pyarrow as pa, pyarrow.parquet as pq
from geo.base import config
from geo.domain.rulesets import load_rulesets
from geo.evaluate import evaluation
from geo.store import runfiles
data, run_dir, first, last = sys.argv[1:]
settings = config.from_env({"ZONES_DATA_DIR": data, "ZONES_QUALITY_GATE": "off"})
start, end = dt.date.fromisoformat(first), dt.date.fromisoformat(last)
days = [start + dt.timedelta(days=k) for k in range((end - start).days + 1)]
evaluation.evaluate_range(settings, days, load_rulesets(settings.ruleset_dir)["qd2686"])
tables = {u: pa.Table.from_pandas(runfiles.attributes(Path(run_dir), u), preserve_index=False)
          for u in runfiles.kinds(Path(run_dir))}
for day in days:
    for unit, table in tables.items():
        pq.write_table(table, io.BytesIO(), compression="zstd")
"""


def timed(args: list[str], env: dict, repeat: int, cwd: Path = ROOT) -> float:
    """Median wall-clock seconds of a command run `repeat` times, each a new process."""
    out = []
    for _ in range(repeat):
        t = time.perf_counter()
        subprocess.run(args, cwd=cwd, env=env, check=True, capture_output=True)
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def python(code: str, *args: str) -> list[str]:
    return [sys.executable, "-c", code, *args]


def prepare(tmp: Path, src: Path, version: str, mapping: dict | None, day: dt.date, **extra) -> tuple[dict, Path]:
    """A data folder with the layer, the synthetic cases and `day` published (the version's shapes built):
    -> (the environment the commands run with, the run's GeoPackage)."""
    env = {**os.environ, "ZONES_DATA_DIR": str(tmp), "ZONES_QUALITY_GATE": "off"}
    settings = config.from_env({"ZONES_DATA_DIR": str(tmp), "ZONES_QUALITY_GATE": "off"})
    store = Store(settings.db_path)
    import_units(store, src, version, mapping, None, settings.reports_dir, **extra)
    cases = tmp / "cases.csv"
    synthetic_cases(store.load_units(version), np.random.default_rng(SEED)).to_csv(cases, index=False)
    import_cases(store, cases, settings.rejects_dir, config.today())
    shapes.ensure(settings.data_dir, store, version)
    subprocess.run([*FLASK, "reclassify", "--date", day.isoformat()], cwd=ROOT, env=env, check=True, capture_output=True)
    run = store.run_for_date(day.isoformat())
    return env, settings.runs_dir / run["run_id"] / "zones.gpkg"


def cron_days(repeat: int) -> list[dt.date]:
    """The days the day's command is timed on: each the morning after the one before, up to DAY, as cron runs it
    (a day's tile files the same as the day before's are links to them: running one day again would share all)."""
    return [DAY - dt.timedelta(days=repeat - 1 - k) for k in range(repeat)]


def day_pair(env: dict, gpkg: Path, repeat: int) -> tuple[float, float]:
    """(reclassify end to end, its floor) on the data of `env`: medians of the two run in turns, so that both see
    the machine as it is at the time (this virtual machine's speed drifts by a fifth within minutes)."""
    command, floor = [], []
    with tempfile.TemporaryDirectory() as out:
        for day in cron_days(repeat):
            first = (day - dt.timedelta(days=13)).isoformat()
            command.append(timed([*FLASK, "reclassify", "--date", day.isoformat()], env, 1))
            floor.append(timed(python(FLOOR_DAY, env["ZONES_DATA_DIR"], str(gpkg), first, day.isoformat(), out), env, 1))
    return statistics.median(command), statistics.median(floor)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args()
    src2009 = national.source(args.shared)
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        eve = cron_days(args.repeat)[0] - dt.timedelta(days=1)
        env, gpkg = prepare(Path(tmp), src2009, "vn2009", MAPPING, eve)
        start_floor = timed(python("import flask"), env, args.repeat)
        rows["help"] = (timed([*FLASK, "--help"], env, args.repeat), start_floor)
        users = [timed([*FLASK, "users", "add", f"bench{k}", "--role", "viewer"], env, 1) for k in range(args.repeat)]
        rows["users_add"] = (statistics.median(users), start_floor)
        rows["day_2009"] = day_pair(env, gpkg, args.repeat)
        n = (BACKFILL[1] - BACKFILL[0]).days + 1
        t = time.perf_counter()
        subprocess.run([*FLASK, "backfill", "--from", BACKFILL[0].isoformat(), "--to", BACKFILL[1].isoformat()],
                       cwd=ROOT, env=env, check=True, capture_output=True)
        command = (time.perf_counter() - t) / n
        settings = config.from_env({"ZONES_DATA_DIR": tmp})
        levels_run = Store(settings.db_path).run_for_date(BACKFILL[1].isoformat())
        floor = timed(python(FLOOR_BACKFILL, tmp, str(settings.runs_dir / levels_run["run_id"]),
                             *(d.isoformat() for d in BACKFILL)), env, 1) / n
        rows["backfill_day"] = (command, floor)
    wards = args.shared / WARDS
    if wards.exists():
        with tempfile.TemporaryDirectory() as tmp:
            pop = Path(tmp) / "population-2025.csv"
            subprocess.run([sys.executable, str(ROOT / "scripts" / "population_2025.py"), "--shared", str(args.shared),
                            "--out", str(pop)], check=True, capture_output=True)
            env, gpkg = prepare(Path(tmp), wards, "vn2025", {"name": "fullName"}, eve,
                                provinces_path=args.shared / PROVINCES, population_path=pop)
            rows["day_2025"] = day_pair(env, gpkg, args.repeat)
    names = {"help": "`flask --app server --help`", "users_add": "`flask --app server users add NAME --role viewer`",
             "day_2009": "`reclassify`, national day, 2009 layer (11,163 communes)",
             "day_2025": "`reclassify`, national day, 2025 wards (3,321)",
             "backfill_day": f"`backfill` {BACKFILL[0]:%d/%m}–{BACKFILL[1]:%d/%m/%Y}, per day ({n} levels runs)"}
    lines = [
        "## The commands end to end, beside their floors", "",
        f"Written by `benchmarks/bench_commands.py` on {dt.date.today().isoformat()}: "
        f"{platform.python_implementation()} {platform.python_version()}, {os.cpu_count()} cores, each command a new "
        f"process as cron runs it (median of {args.repeat}); 100,000 synthetic community cases over 14 days "
        f"(seed {SEED}). The floor of each is measured in the same run (see the script's docstring).", "",
        "| command | seconds | floor (s) | command / floor | target (s) | |", "|---|---:|---:|---:|---:|---|",
        *[f"| {names[k]} | {c:.2f} | {f:.2f} | {c / f:.2f} | {TARGETS[k]:g} | {'met' if c <= TARGETS[k] else 'NOT met'} |"
          for k, (c, f) in rows.items()], "",
        "What runs in parallel: publishing starts tile-join (the day's attributes joined to the version's shape tiles,",
        "gzipped once) and tippecanoe (lockdowns) as child processes on the second core while Python writes the",
        "GeoJSON and the GeoPackage; the wait left for them is `publish_tiles` in the national section. The tiles",
        "are then files for nginx: those the same to the byte as the day before's are hard links to its files (a new",
        "file costs 0.05–0.4 ms on this disk, more the more runs it holds; a link 0.013 ms). A backfill",
        "stages its levels runs in two forked workers when it has eight days or more.", "",
    ]
    write_section("commands", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
