"""The national day the page and tile benchmarks work on: the 2009 layer, 100,000 synthetic cases
(bench_national's generator, seed 2021), 31/7/2021 published; and a server to measure."""
from __future__ import annotations

import datetime as dt
import os
import socket
import subprocess
import sys
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
DAY = dt.date(2021, 7, 31)


def source(shared: Path) -> Path:
    src = shared / "vn_communes_2009_census" / "communes_2009.geojson"
    if not src.exists():
        sys.exit(f"national layer not found: {src}")
    return src


def publish_day(src: Path, data_dir: str, extra: dict | None = None):
    """-> (settings, store, run) of DAY published on the national layer in `data_dir` (`extra`:
    more settings, e.g. ZONES_DATABASE_URL for the PostGIS store)."""
    from bench_national import MAPPING, synthetic_cases

    from geo.base import config
    from geo.ingest.cases import import_cases
    from geo.ingest.units import import_units
    from geo.publish.pipeline import reclassify
    from geo.store.database import Store
    settings = config.from_env({"ZONES_DATA_DIR": data_dir, "ZONES_QUALITY_GATE": "off", **(extra or {})})
    store = Store(settings.db_path)
    import_units(store, src, "vn2009", MAPPING, None, settings.reports_dir)
    cases = Path(data_dir) / "cases.csv"
    synthetic_cases(store.load_units("vn2009"), np.random.default_rng(2021)).to_csv(cases, index=False)
    import_cases(store, cases, settings.rejects_dir, config.today())
    run = reclassify(settings, DAY)
    return settings, store, store.run_by_id(run["run_id"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def workers_rss_mb(master: int) -> list[float]:
    """Resident memory (MB) of each worker of the gunicorn whose master process is `master`."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[1]) == master:
                rss = next(line for line in (stat.parent / "status").read_text().splitlines() if line.startswith("VmRSS:"))
                out.append(int(rss.split()[1]) / 1024)
        except (OSError, StopIteration, IndexError, ValueError):
            continue
    return out


@contextmanager
def gunicorn(data_dir: str, workers: int = 4, extra=(), env: dict | None = None, repo: Path = ROOT,
             master: list | None = None):
    """Our server (or `repo`'s: another checkout) as the README's production command; yields its base URL
    (`master` gets the master process id)."""
    port = free_port()
    venv = Path(sys.executable).parent
    proc = subprocess.Popen([str(venv / "gunicorn"), "--workers", str(workers), *extra, "--bind", f"127.0.0.1:{port}",
                             "server:create_app()"], cwd=repo, env={**os.environ, "ZONES_DATA_DIR": str(data_dir), **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    if master is not None:
        master.append(proc.pid)
    try:
        for _ in range(300):
            try:
                urllib.request.urlopen(base + "/api/runs", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)
