"""The embedded store: one SQLite file (WAL) for inputs and the index of published runs.

Every import is one transaction: either all its accepted rows are stored or none are. Runs are
files under runs/<run_id>/ and become visible only when their row is committed to `published`.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely

from geo.base.errors import MissingInputError
from geo.base.vocabulary import UNITS
from geo.store import boundaries, casestats, inputs
from geo.store.connection import Connection, read_only_sqlite
from geo.store.schema import RUN_COLUMNS, SCHEMA, add_missing_columns

CASE_FIELDS = ("case_key", "kind", "case_id", "report_date", "sample_date", "result_date", "count",
               "community", "source_known", "source_setting", "cluster_id", "lon", "lat",
               "commune_code", "located_by", "age", "sex", "row_hash", "code_version")


class Store:
    """The embedded SQLite file, or PostgreSQL/PostGIS when `path` is a postgresql:// URL (geo/store/pg.py)."""

    def __init__(self, path: str | Path) -> None:
        self.is_pg = str(path).startswith(("postgresql://", "postgres://"))
        self.path: str | Path = str(path) if self.is_pg else Path(path)   # what callers key caches by
        self.url = str(path)                     # PostgreSQL's connection string
        self.file = Path(path)                   # SQLite's file (meaningless for PostgreSQL)

    def exists(self) -> bool:
        """Has anything been stored yet (readers answer "nothing" instead of failing)."""
        return True if self.is_pg else self.file.exists()

    @contextmanager
    def connect(self, readonly: bool = False) -> Iterator[Any]:
        if self.is_pg:
            from geo.store import pg  # deliberate: psycopg is loaded only when the store is PostgreSQL
            pcon = pg.connect(self.url, SCHEMA)
            try:
                yield pcon
            finally:
                pcon.close()
            return
        if readonly:
            if not self.exists():
                raise FileNotFoundError(self.file)
            con = read_only_sqlite(self.file)
        else:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            # check_same_thread off: an import lets a helper thread run its upserts while it parses the
            # next chunk (geo/ingest/cases.py's Loader), never two statements at once
            con = sqlite3.connect(self.file, timeout=30, check_same_thread=False)
            con.execute("PRAGMA journal_mode=WAL")
            con.executescript(SCHEMA)
            add_missing_columns(con)
        con.row_factory = sqlite3.Row
        try:
            yield con
        finally:
            con.close()

    @contextmanager
    def transaction(self, staged: Any = None) -> Iterator[Any]:
        """One write transaction: committed on success, rolled back on any exception (`staged`: on its connection)."""
        with staged if staged is not None else self.connect() as con:
            if self.is_pg:              # psycopg opens the transaction itself
                try:
                    yield con
                    con.commit()
                except BaseException:
                    con.rollback()
                    raise
                return
            con.execute("BEGIN IMMEDIATE")
            try:
                yield con
                con.execute("COMMIT")
            except BaseException:
                try:
                    con.execute("ROLLBACK")
                except sqlite3.Error:
                    pass          # a failed COMMIT (disk full) has rolled back already: the first error is the one to tell
                raise

    # -- boundaries --------------------------------------------------------------------
    def current_boundary_version(self) -> str | None:
        if not self.exists():
            return None
        with self.connect(readonly=True) as con:
            row = con.execute("SELECT name FROM boundary_versions WHERE is_current = 1").fetchone()
        return row["name"] if row else None

    def current_units(self, texts: bool = True) -> tuple[str, gpd.GeoDataFrame, gpd.GeoDataFrame, gpd.GeoDataFrame]:
        """(boundary version, communes, districts, provinces) of the current boundaries (`texts`: load_units())."""
        version = self.current_boundary_version()
        if version is None:
            raise MissingInputError("no_units")
        return (version, *(self.load_units(version, unit, texts) for unit in UNITS))

    def require_case_data(self) -> None:
        """No case file ever imported is not the same as no cases: never classify (and show "safe") on it."""
        with self.connect(readonly=True) as con:
            if not inputs.any_import(con, "cases"):
                raise MissingInputError("no_cases")

    def boundary_report(self, version: str) -> dict | None:
        """The import report of a boundary version, or None when there is no such version."""
        if not self.exists():
            return None
        with self.connect(readonly=True) as con:
            row = con.execute("SELECT report FROM boundary_versions WHERE name = ?", (version,)).fetchone()
        return json.loads(row["report"] or "{}") if row else None

    def runs_using(self, version: str) -> int:
        """How many runs (published, replaced or held) were made on a boundary version."""
        with self.connect(readonly=True) as con:
            n = con.execute("SELECT COUNT(*) FROM runs WHERE boundary_version = ?", (version,)).fetchone()[0]
            held = con.execute("SELECT COUNT(*) FROM holds WHERE status = 'held'").fetchone()[0]
        return int(n) + (int(held) if held and version == self.current_boundary_version() else 0)

    def version_levels(self, version: str) -> tuple[str, ...]:
        """The kinds of unit a boundary version has, smallest first (no districts since 1/7/2025)."""
        with self.connect(readonly=True) as con:
            kinds = boundaries.kinds(con, version)
        return tuple(u for u in UNITS if u in kinds)

    def load_units(self, version: str, unit: str = "commune", texts: bool = True) -> gpd.GeoDataFrame:
        """A version's units of one kind with their geometry; `texts`: with the geometry's GeoJSON and display
        texts made at import (what publishing writes; a server drawing or searching needs neither)."""
        extra = ", geojson AS _geojson, display AS _display" if texts else ""
        with self.connect(readonly=True) as con:
            df = pd.read_sql_query(
                "SELECT code, name, district_code, district_name, province_code, province_name, population, geom"
                f"{extra} FROM units WHERE boundary_version = ? AND unit = ? ORDER BY code", con, params=(version, unit))
        geom = shapely.from_wkb(df.pop("geom").to_numpy())
        return gpd.GeoDataFrame(df, geometry=geom, crs="EPSG:4326")

    def unit_geojson(self, version: str, unit: str) -> pd.Series:
        """RFC 7946 geometry JSON per unit code (computed once at import)."""
        with self.connect(readonly=True) as con:
            df = pd.read_sql_query("SELECT code, geojson FROM units WHERE boundary_version = ? AND unit = ?",
                                   con, params=(version, unit))
        return df.set_index("code")["geojson"]

    # -- what an evaluation reads (geo/evaluate/inputs.py) ---------------------------------------
    def evaluation_cases(self, con: Connection, date_column: str, first: str, last: str, every_case: bool = False) -> pd.DataFrame:
        """Community cases dated first .. last on `date_column` (as `day`); with `every_case` the others too."""
        return casestats.evaluation_cases(con, self.is_pg, date_column, first, last, every_case)

    def boundary_source(self, con: Connection, version: str) -> str:
        return con.execute("SELECT source_sha256 FROM boundary_versions WHERE name = ?", (version,)).fetchone()[0]

    def evaluation_rows(self, con: Connection, last: str, indicators_from: str) -> dict[str, pd.DataFrame]:
        """Lockdowns, flags, indicators and declarations that can be in force on a day up to `last`."""
        return {
            "lockdowns": pd.read_sql_query(
                "SELECT decision_no, issuer, name, start_date, end_date, lifted_date, geom FROM lockdowns "
                "WHERE start_date <= ? ORDER BY decision_no, lockdown_key", con, params=(last,)),
            "flags": pd.read_sql_query("SELECT code, flag, value, date, end_date FROM flags WHERE date <= ? ORDER BY date",
                                       con, params=(last,)),
            "indicators": pd.read_sql_query("SELECT code, name, value, date FROM indicators WHERE date BETWEEN ? AND ? "
                                            "ORDER BY date", con, params=(indicators_from, last)),
            "declarations": pd.read_sql_query(
                "SELECT unit, level, valid_from, valid_until, decision, by, reason FROM declarations "
                "WHERE valid_from <= ? AND boundary_version = (SELECT name FROM boundary_versions WHERE is_current = 1) "
                "ORDER BY valid_from, recorded_at", con, params=(last,)),
        }

    def load_adjacency(self, version: str, method: str) -> pd.DataFrame | None:
        with self.connect(readonly=True) as con:
            df = pd.read_sql_query("SELECT a, b, shared_m FROM adjacency WHERE boundary_version = ? AND method = ?",
                                   con, params=(version, method))
            known = con.execute("SELECT report FROM boundary_versions WHERE name = ?", (version,)).fetchone()
        methods = json.loads(known["report"]).get("adjacency_methods", []) if known else []
        return df if method in methods else None

    # -- runs --------------------------------------------------------------------------
    def record_run(self, run_id: str, day: str, ruleset_id: str, ruleset_sha256: str | None, manifest: dict,
                   levels: Any = None) -> None:
        """Make a run visible: its row, the date's pointer, the publication log (one transaction); in PostgreSQL its
        levels too: rows (unit, code, level, properties JSON), or sent ahead by stage_levels() with a provisional
        run row in this very transaction, made whole here (files stay the source)."""
        staged = levels if self.is_pg and not isinstance(levels, list | None) else None
        run = (day, manifest["created_at"], ruleset_id, ruleset_sha256, manifest["boundary_version"],
               json.dumps(manifest, ensure_ascii=False), run_id)
        with self.transaction(staged) as con:
            if staged is None:
                con.execute(f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({', '.join('?' * len(RUN_COLUMNS))})", run)
            else:
                staged.complete_run(con, run)
            con.execute("INSERT INTO published (date, run_id) VALUES (?, ?) "
                        "ON CONFLICT(date) DO UPDATE SET run_id = excluded.run_id", (day, run_id))
            con.execute("INSERT INTO publications (date, run_id, published_at) VALUES (?, ?, ?)",
                        (day, run_id, dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")))
            if levels and staged is None and self.is_pg:
                from geo.store import pglevels  # deliberate: psycopg is loaded only when the store is PostgreSQL
                pglevels.record_levels(con, run_id, levels)

    def stage_levels(self, run_id: str, provisional: tuple, rows: list[tuple]) -> Any:
        """PostgreSQL: a run's level rows sent ahead for record_run(), `provisional` its (date, ruleset,
        ruleset_sha256, boundary_version) (pglevels.StagedLevels: closed if not recorded)."""
        from geo.store import pglevels  # deliberate: psycopg is loaded only when the store is PostgreSQL
        return pglevels.StagedLevels(self.url, SCHEMA, run_id, provisional, rows)

    def run_for_date(self, day: str, as_of: str | None = None) -> dict | None:
        """The run published for `day`; with `as_of` (UTC ISO time), the one published at that time."""
        if as_of is None:
            return self._run("SELECT r.* FROM published p JOIN runs r USING (run_id) WHERE p.date = ?", (day,))
        return self._run("SELECT r.* FROM publications p JOIN runs r USING (run_id) WHERE p.date = ? "
                         "AND p.published_at <= ? ORDER BY p.published_at DESC LIMIT 1", (day, as_of))

    def latest_run(self) -> dict | None:
        return self._run("SELECT r.* FROM published p JOIN runs r USING (run_id) ORDER BY p.date DESC LIMIT 1", ())

    def latest_run_between(self, first: str | None, last: str | None) -> dict | None:
        """The newest published day in [first, last] (either end open when None)."""
        return self._run("SELECT r.* FROM published p JOIN runs r USING (run_id) WHERE p.date >= ? AND p.date <= ? "
                         "ORDER BY p.date DESC LIMIT 1", (first or "0000-00-00", last or "9999-99-99"))

    def latest_run_before(self, day: str) -> dict | None:
        """The run of the latest published date before `day`."""
        return self._run("SELECT r.* FROM published p JOIN runs r USING (run_id) WHERE p.date < ? "
                         "ORDER BY p.date DESC LIMIT 1", (day,))

    def first_date(self) -> str | None:
        if not self.exists():
            return None
        with self.connect(readonly=True) as con:
            row = con.execute("SELECT MIN(date) FROM published").fetchone()
        return row[0] if row else None

    def run_by_id(self, run_id: str) -> dict | None:
        return self._run("SELECT * FROM runs WHERE run_id = ?", (run_id,))

    def published_run(self, run_id: str) -> dict | None:
        """run_by_id, remembered: a run's row never changes once committed (tiles ask per request)."""
        return _published_run(str(self.path), run_id)

    def _run(self, sql: str, params: tuple) -> dict | None:
        if not self.exists():
            return None
        with self.connect(readonly=True) as con:
            row = con.execute(sql, params).fetchone()
        return {**dict(row), "manifest": json.loads(row["manifest"])} if row else None

    def published_dates(self) -> list[tuple[str, str]]:
        """(date, run id) of every published day, oldest first (no manifest: the map's date list)."""
        if not self.exists():
            return []
        with self.connect(readonly=True) as con:
            return [(r[0], r[1]) for r in con.execute("SELECT date, run_id FROM published ORDER BY date").fetchall()]

    def published_runs(self) -> list[dict]:
        if not self.exists():
            return []
        with self.connect(readonly=True) as con:
            rows = con.execute("SELECT r.* FROM published p JOIN runs r USING (run_id) ORDER BY p.date").fetchall()
        return [{**dict(r), "manifest": json.loads(r["manifest"])} for r in rows]


_RUNS: dict[tuple[str, str], dict] = {}
MAX_REMEMBERED_RUNS = 512       # runs remembered per process (a few KB each; far more than the dates anyone browses)


def _published_run(path: str, run_id: str) -> dict | None:
    """Only found runs are remembered: an id asked for before its run is committed is asked again."""
    key = (path, run_id)
    run = _RUNS.get(key)
    if run is None:
        run = Store(path).run_by_id(run_id)
        if run is not None:
            if len(_RUNS) >= MAX_REMEMBERED_RUNS:
                _RUNS.clear()
            _RUNS[key] = run
    return run


def to_wkb(geoms: Iterable) -> list[bytes]:
    return list(shapely.to_wkb(np.asarray(geoms), output_dimension=2))
