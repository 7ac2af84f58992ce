"""Test helpers: hand-drawn grids of square communes, case files, and a full scenario run."""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
from pathlib import Path

import geopandas as gpd
import pandas as pd
import shapely

ROOT = Path(__file__).resolve().parent.parent
SHARED = ROOT.parent / "shared" / "data"
# The national 2009 layer (../shared/data/vn_communes_2009_census): its columns for import-units.
COMMUNES_2009 = SHARED / "vn_communes_2009_census" / "communes_2009.geojson"
COLUMNS_2009 = ["--column", "code=commune_id", "--column", "name=commune_vn", "--column", "district_code=district_id",
                "--column", "district_name=district_vn", "--column", "province_code=province_id",
                "--column", "province_name=province_vn", "--column", "population=population"]
# The MoH commune announcements of Apr-Jul 2021 (../shared/data/vn_covid_2021_moh_announcements).
MOH = SHARED / "vn_covid_2021_moh_announcements" / "cases_by_unit_and_date_2021-04-27_2021-07-13.csv"


def moh_communes(path: Path) -> pd.DataFrame:
    """The MoH file's commune rows as import-cases reads them (names and a daily count), written to
    `path`; -> those rows. Community and known source are given for the whole file on import."""
    moh = pd.read_csv(MOH, dtype=str, keep_default_na=False)
    xa = moh[moh["level"] == "xa"].rename(columns={"commune": "commune_name", "district": "district_name",
                                                   "province": "province_name", "date": "report_date", "cases": "count"})
    xa[["report_date", "province_name", "district_name", "commune_name", "count"]].to_csv(path, index=False)
    return xa


# Grid origin in WGS 84 / UTM 48N (metres): near Huế, so the grid lies inside Vietnam.
ORIGIN = (770_000.0, 1_820_000.0)
CELL_M = 1_000.0


def grid(rows: int, cols: int, population=1_000_000, codes=None, district_of=None) -> gpd.GeoDataFrame:
    """rows x cols square communes of 1 km in UTM 48N. Codes 10001.. row by row, unless given.
    `population` is a number or a {code: population} mapping (None = missing)."""
    recs = []
    for r in range(rows):
        for c in range(cols):
            k = r * cols + c
            code = codes[k] if codes else str(10001 + k)
            x0, y0 = ORIGIN[0] + c * CELL_M, ORIGIN[1] - (r + 1) * CELL_M
            pop = population.get(code) if isinstance(population, dict) else population
            district = district_of(code) if district_of else "101"
            recs.append({"code": code, "name": f"Xã Ô {code}", "district_code": district,
                         "district_name": f"Huyện {district}", "province_code": "1", "province_name": "Tỉnh Thử",
                         "population": pop, "geometry": shapely.box(x0, y0, x0 + CELL_M, y0 + CELL_M)})
    return gpd.GeoDataFrame(recs, crs="EPSG:32648")


def cell_centre(gdf: gpd.GeoDataFrame, code: str) -> tuple[float, float]:
    p = gdf.loc[gdf["code"] == code].to_crs(4326).geometry.iloc[0].centroid
    return p.x, p.y


def write_units(gdf: gpd.GeoDataFrame, path: Path) -> Path:
    gdf.to_file(path, driver="GeoJSON" if path.suffix == ".geojson" else None, engine="pyogrio")
    return path


def write_cases(rows: list[dict], path: Path) -> Path:
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def invoke(runner, *args):
    """Run a CLI command; returns the click Result (exit code, output)."""
    return runner.invoke(args=[str(a) for a in args], catch_exceptions=False)


def run_scenario(runner, app, tmp_path, units: gpd.GeoDataFrame, cases: list[dict], day: str,
                 flags: list[dict] | None = None, extra_import_args=()) -> dict[str, dict]:
    """import-units, import-cases (and flags), reclassify `day`; -> {code: properties} of communes."""
    res = invoke(runner, "import-units", write_units(units, tmp_path / "units.geojson"))
    assert res.exit_code == 0, res.output
    if not cases:   # "no cases" is reported as a file of zero counts, not by importing nothing
        cases = [{"report_date": day, "commune_code": units["code"].iloc[0], "count": 0,
                  "community": "true", "source_known": "true"}]
    res = invoke(runner, "import-cases", write_cases(cases, tmp_path / "cases.csv"), *extra_import_args)
    assert res.exit_code == 0, res.output
    if flags:
        res = invoke(runner, "import-flags", write_cases(flags, tmp_path / "flags.csv"))
        assert res.exit_code == 0, res.output
    res = invoke(runner, "reclassify", "--date", day)
    assert res.exit_code == 0, res.output
    return published(app, day, "commune")


def zero_counts(runner, tmp_path, code: str, day: str) -> None:
    rows = [{"report_date": day, "commune_code": code, "count": 0, "community": "true", "source_known": "true"}]
    res = invoke(runner, "import-cases", write_cases(rows, tmp_path / "zero.csv"))
    assert res.exit_code == 0 and "loại 0 dòng" in res.output, res.output


def published(app, day: str, unit: str) -> dict[str, dict]:
    from geo.store.database import Store
    settings = app.config["ZONES"]
    run = Store(settings.db_path).run_for_date(day)
    data = json.loads((settings.runs_dir / run["run_id"] / f"{unit}.geojson").read_text(encoding="utf-8"))
    return {f["properties"]["code"]: f["properties"] for f in data["features"]}


def case(code: str, day: str, community=True, known=True, cluster="", setting="", **extra) -> dict:
    row = {"case_id": extra.pop("case_id", None), "report_date": day, "commune_code": code,
           "community": str(community).lower(), "source_known": str(known).lower(),
           "cluster_id": cluster, "source_setting": setting}
    row.update(extra)
    return row


def numbered(rows: list[dict]) -> list[dict]:
    for i, r in enumerate(rows):
        if not r.get("case_id"):
            r["case_id"] = f"T{i + 1}"
    return rows


def operator_copy(app, tmp_path, new_id: str, replacements: dict[str, str], source: str = "qd2686"):
    """An app that also sees an operator's edited copy of a shipped ruleset (ZONES_RULESETS), on the same data."""
    from rules import ruleset
    from server import create_app
    text = (ruleset.RULESET_DIR / f"{source}.yaml").read_text(encoding="utf-8").replace(f"id: {source}", f"id: {new_id}")
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new)
    folder = tmp_path / f"rulesets-{new_id}"
    folder.mkdir()
    (folder / f"{new_id}.yaml").write_text(text, encoding="utf-8")
    db = app.config["ZONES"].database_url
    return create_app({"ZONES_DATA_DIR": str(app.config["ZONES"].data_dir), "ZONES_RULESETS": str(folder),
                       "ZONES_QUALITY_GATE": "off", **({"ZONES_DATABASE_URL": db} if db else {})}), folder


def flag_and_lockdown(runner, tmp_path, units: gpd.GeoDataFrame, flag: tuple[str, str, str], lockdown: tuple[int, str, str, str]):
    """A community_f1 flag (code, from, to) and a 100 m lockdown (unit index, decision, from, to) imported."""
    code, start, end = flag
    rows = [{"code": code, "date": start, "flag": "community_f1", "value": "true", "end_date": end, "author": "t"}]
    assert invoke(runner, "import-flags", write_cases(rows, tmp_path / "flags.csv")).exit_code == 0
    at, decision, start, end = lockdown
    import_lockdown(runner, tmp_path, units, at, 100, decision_no=decision, start_date=start, end_date=end)


def import_lockdown(runner, tmp_path, units: gpd.GeoDataFrame, at: int, radius_m: float, **props) -> None:
    """One lockdown imported: a circle of `radius_m` around the centre of unit number `at` (units in
    metres), with `props` as its attributes (decision_no, start_date, end_date, ...)."""
    lk = gpd.GeoDataFrame([{**props, "geometry": units.geometry.iloc[at].centroid.buffer(radius_m)}], crs=units.crs)
    lk.to_file(tmp_path / "lk.gpkg", engine="pyogrio")
    assert invoke(runner, "import-lockdowns", tmp_path / "lk.gpkg").exit_code == 0


@contextlib.contextmanager
def gunicorn(data: Path, workers: int = 1):
    """A data folder served by gunicorn, the production command; -> its base URL, stopped after."""
    port = free_port()
    proc = subprocess.Popen([str(ROOT / ".venv" / "bin" / "gunicorn"), "--workers", str(workers), "--bind",
                             f"127.0.0.1:{port}", "server:create_app()"], cwd=ROOT,
                            env={**os.environ, "ZONES_DATA_DIR": str(data)},
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(base + "/healthz")
        yield base
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def free_port() -> int:
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_serving(url: str, tries: int = 100) -> None:
    """Poll `url` every 0.1 s until a server answers (any HTTP status) or `tries` run out."""
    import time
    import urllib.error
    import urllib.request
    for _ in range(tries):
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError as e:
            e.close()
            return
        except OSError:
            time.sleep(0.1)


def store_dump(store) -> str:
    """Every row of every table as text, whichever backend (to look for what must not be stored)."""
    if not store.is_pg:
        with store.connect(readonly=True) as con:
            return "\n".join(con.iterdump())
    out = []
    with store.connect(readonly=True) as con:
        tables = [r[0] for r in con.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()]
        for t in tables:
            out += [repr(tuple(r)) for r in con.execute(f"SELECT * FROM {t}").fetchall()]
    return "\n".join(out)
