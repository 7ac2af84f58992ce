"""Our OGC API Features and tiles against tipg, on the same PostGIS data, in the same run.

    bash scripts/setup-bench.sh            # wrk, and tipg in .venv-bench
    .venv/bin/python benchmarks/bench_ogc.py [--seconds 10]

A private PostgreSQL/PostGIS cluster (the tests' own, tests/pgserver.py) holds the national day
(2009 communes, 100,000 synthetic cases, 31/7/2021) published by our PostGIS store. tipg serves the
store's `zones_commune` view (the latest run's levels with PostGIS geometry), copied into an
indexed table, straight from the database; we serve the same run through gunicorn (4 workers, the PostGIS store). wrk drives both
with the same kinds of request: pages of 100 features, a bbox around Hà Nội, and vector tiles z8-10.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import mercantile

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from bench_tiles import wrk  # noqa: E402
from national import ROOT, free_port, gunicorn, publish_day, source  # noqa: E402
from results import write_section  # noqa: E402

TIPG = ROOT / ".venv-bench" / "bin" / "uvicorn"
PAGE = 100
HANOI = (105.75, 20.95, 105.90, 21.10)
# Our OGC API answers from the run's files kept in memory; tipg asks PostGIS each time. Target: not slower.
TARGET_RATIO = 1.0


def _wait(url: str, tries: int = 600) -> None:
    for _ in range(tries):
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{url} never answered")


def _count(url: str) -> int:
    return json.load(urllib.request.urlopen(url, timeout=60))["numberMatched"]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--seconds", type=int, default=10)
    args = ap.parse_args()
    if not TIPG.exists():
        sys.exit("needs tipg: bash scripts/setup-bench.sh")
    import pgserver
    why = pgserver.available()
    if why:
        sys.exit(why)
    cluster = pgserver.Cluster()
    try:
        url = cluster.new_database()
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            settings, store, run = publish_day(source(args.shared), tmp, {"ZONES_DATABASE_URL": url})
            publish_s = time.perf_counter() - t0
            n = sum(run["manifest"]["counts"]["commune"].values())
            # tipg at its best: the view copied into an indexed table (no join or JSON per request)
            import psycopg
            with psycopg.connect(url, autocommit=True) as con:
                con.execute("CREATE TABLE zones_commune_table AS SELECT * FROM zones_commune")
                con.execute("ALTER TABLE zones_commune_table ADD PRIMARY KEY (id)")
                con.execute("CREATE INDEX ON zones_commune_table USING GIST (geom)")
                con.execute("ANALYZE zones_commune_table")
            port = free_port()
            env = {**os.environ, "DATABASE_URL": url, "TIPG_DB_SCHEMAS": '["public"]', "TIPG_MAX_FEATURES_PER_QUERY": "10000"}
            tipg = subprocess.Popen([str(TIPG), "tipg.main:app", "--host", "127.0.0.1", "--port", str(port), "--workers", "4",
                                     "--log-level", "warning"], env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            theirs_base = f"http://127.0.0.1:{port}"
            coll = "public.zones_commune_table"
            try:
                _wait(theirs_base + f"/collections/{coll}")
                tiles = []
                for z in (8, 9, 10):
                    tiles += list(mercantile.tiles(*HANOI, zooms=[z]))
                offsets = list(range(0, n, PAGE * 7))[:40]
                bbox = ",".join(map(str, HANOI))
                kinds = {
                    "items": ([f"/ogc/collections/commune/items?limit={PAGE}&offset={o}" for o in offsets],
                              [f"/collections/{coll}/items?limit={PAGE}&offset={o}" for o in offsets]),
                    "bbox": ([f"/ogc/collections/commune/items?limit=1000&bbox={bbox}"],
                             [f"/collections/{coll}/items?limit=1000&bbox={bbox}"]),
                    "tiles": ([f"/tiles/runs/{run['run_id']}/commune/{t.z}/{t.x}/{t.y}.mvt" for t in tiles],
                              [f"/collections/{coll}/tiles/WebMercatorQuad/{t.z}/{t.x}/{t.y}" for t in tiles]),
                }
                results = {}
                with gunicorn(tmp, env={"ZONES_DATABASE_URL": url}) as ours_base:
                    same = (_count(ours_base + kinds["bbox"][0][0]), _count(theirs_base + kinds["bbox"][1][0]))
                    for kind, (ours_paths, theirs_paths) in kinds.items():
                        for p in ours_paths[:1]:
                            urllib.request.urlopen(ours_base + p, timeout=120).read()      # warm: first read of the run
                        results[kind] = (wrk(ours_base, ours_paths, args.seconds, Path(tmp)),
                                         wrk(theirs_base, theirs_paths, args.seconds, Path(tmp)))
            finally:
                tipg.terminate()
                tipg.wait(timeout=30)
    finally:
        cluster.stop()
    rows = []
    for kind, (ours, theirs) in results.items():
        rows.append(f"| {kind} | {ours['rps']:,.0f} | {ours['p50']:.1f} / {ours['p99']:.1f} | {ours['non2xx']} | "
                    f"{theirs['rps']:,.0f} | {theirs['p50']:.1f} / {theirs['p99']:.1f} | {theirs['non2xx']} | "
                    f"{ours['rps'] / theirs['rps']:.2f} |")
    worst = min(o["rps"] / t["rps"] for o, t in results.values())
    lines = [
        "## OGC API and tiles against tipg on the same PostGIS data", "",
        f"Written by `benchmarks/bench_ogc.py` on {dt.date.today().isoformat()}: {platform.python_implementation()} "
        f"{platform.python_version()}, {os.cpu_count()} cores (shared by PostgreSQL, both servers and wrk). The national day "
        f"({n:,} communes) published into a private PostgreSQL 15 + PostGIS 3 by our PostGIS store in {publish_s:.0f} s; "
        f"tipg 1.6.1 (uvicorn, 4 workers) serves its `zones_commune` view copied into an indexed table (tipg at its "
        f"best: no join per request); ours is gunicorn (4 workers) on the same database and run. wrk, 50 connections, {args.seconds} s per row. Both answer the Hà Nội bbox with the same "
        f"number of communes: {same[0]} and {same[1]}.", "",
        "| request | ours req/s | ours p50 / p99 ms | ours non-2xx | tipg req/s | tipg p50 / p99 ms | tipg non-2xx | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|", *rows, "",
        f"items: pages of {PAGE} features (40 offsets); bbox: the communes of Hà Nội's centre (up to 1000); tiles: "
        f"{len(tiles)} tiles z8-10 over Hà Nội (ours: the run's pre-built tiles; tipg: ST_AsMVT per request).",
        f"Lowest ratio {worst:.2f}; target >= {TARGET_RATIO}: **{'met' if worst >= TARGET_RATIO else 'NOT met'}**.",
    ]
    write_section("ogc", lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
