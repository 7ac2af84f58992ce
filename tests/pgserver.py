"""A private PostgreSQL (with PostGIS) for the tests: a fresh cluster in a temporary folder, on a
free port, started by the tests themselves and stopped at the end; one database per test, cloned
from a template that already has PostGIS."""
from __future__ import annotations

import glob
import itertools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from helpers import free_port


def _bin(name: str) -> str | None:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found[-1] if found else shutil.which(name)


def available() -> str | None:
    """None when the cluster can be made here, else why not (the tests skip with it)."""
    if not _bin("initdb") or not _bin("pg_ctl"):
        return "PostgreSQL server not installed (scripts/setup.sh installs postgresql and postgis)"
    if not glob.glob("/usr/share/postgresql/*/extension/postgis.control"):
        return "PostGIS not installed (scripts/setup.sh installs postgresql-15-postgis-3)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser: PostgreSQL refuses to run as root"
    return None


class Cluster:
    """`durable`: fsync on, as a deployed server runs (benchmarks/bench_postgres.py); the tests run without it."""

    def __init__(self, durable: bool = False):
        self.folder = Path(tempfile.mkdtemp(prefix="zones-pg-"))
        self.port = free_port()
        self._as = []
        if os.geteuid() == 0:            # PostgreSQL will not run as root: run it as the postgres user
            shutil.chown(self.folder, "postgres")
            self._as = ["runuser", "-u", "postgres", "--"]
        self._run(_bin("initdb"), "-D", str(self.folder / "data"), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8")
        self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-l", str(self.folder / "log"), "-w", "-o",
                  f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync={'on' if durable else 'off'} "
                  "-c max_connections=300",
                  "start")
        self.base = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._n = itertools.count()
        import psycopg
        with psycopg.connect(self.base + "/postgres", autocommit=True) as con:
            con.execute("CREATE DATABASE zones_template")
        with psycopg.connect(self.base + "/zones_template", autocommit=True) as con:
            con.execute("CREATE EXTENSION postgis")

    def _run(self, *args) -> None:
        out = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=120)
        if out.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {out.stdout}{out.stderr}")

    def new_database(self) -> str:
        import psycopg
        name = f"zones_t{next(self._n)}"
        with psycopg.connect(self.base + "/postgres", autocommit=True) as con:
            con.execute(f"CREATE DATABASE {name} TEMPLATE zones_template")
        return f"{self.base}/{name}"

    def stop(self) -> None:
        try:
            self._run(_bin("pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)


__all__ = ["Cluster", "available"]
