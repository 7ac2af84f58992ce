"""A corpus of bad inputs, each answered with a clear message naming the file, and the row and field
where there is one; whatever was stored before is still there, unchanged, every time.

Whole-file problems stop the import (exit 2, nothing stored); row problems reject those rows (kept in
rejects/ with their reasons) and store the rest. Files are made here by code (nothing to commit)."""
from __future__ import annotations

import io
import json
import shutil
import unicodedata
from pathlib import Path

import pandas as pd
import pytest
import shapely
from helpers import cell_centre, grid, invoke

DAY = "2021-07-31"
CASE_HEAD = "case_id,report_date,commune_code,community,source_known"


def _units_geojson(mutate=None, crs: str | None = "EPSG:4326") -> bytes:
    g = grid(2, 3).to_crs(4326)
    if mutate:
        g = mutate(g)
    text = g.to_json(drop_id=True) if crs else g.set_crs(None, allow_override=True).to_json(drop_id=True)
    return text.encode()


def _lk(rows: list[dict], crs="EPSG:4326") -> bytes:
    base = grid(2, 3).to_crs(4326).geometry.iloc[1].centroid
    feats = []
    for r in rows:
        geom = r.pop("geometry", base.buffer(0.001))
        feats.append({"type": "Feature", "properties": {"decision_no": "1/QĐ-UBND", "start_date": "2021-07-25",
                                                        "end_date": "2021-08-05", **r},
                      "geometry": json.loads(shapely.to_geojson(geom)) if geom is not None else None})
    return json.dumps({"type": "FeatureCollection", "features": feats}).encode()


def _xlsx(rows: list[list], merge: str | None = None) -> bytes:
    from openpyxl import Workbook
    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    if merge:
        ws.merge_cells(merge)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def _csv(*lines: str, enc="utf-8") -> bytes:
    text = "\n".join(lines) + "\n"
    return b"".join(map(_cp1258, text)) if enc == "cp1258" else text.encode(enc)


def _cp1258(ch: str) -> bytes:
    """Windows-1258 has â, ơ, ư, đ... precomposed but writes the five tone marks as combining characters."""
    try:
        return ch.encode("cp1258")
    except UnicodeEncodeError:
        d = unicodedata.normalize("NFD", ch)
        tones = "".join(m for m in d[1:] if m in TONE_MARKS)
        base = unicodedata.normalize("NFC", d[0] + "".join(m for m in d[1:] if m not in TONE_MARKS))
        return (base + tones).encode("cp1258")


TONE_MARKS = "\u0300\u0301\u0303\u0309\u0323"


def _case(row: str) -> bytes:
    return _csv(CASE_HEAD, f"K1,{DAY},10001,true,true", row)


X, Y = cell_centre(grid(2, 3), "10002")            # a point inside the commune grid
BOWTIE = shapely.Polygon([(X - 0.002, Y - 0.002), (X + 0.002, Y + 0.002), (X + 0.002, Y - 0.002), (X - 0.002, Y + 0.002)])
FAR = shapely.Point(2.35, 48.85).buffer(0.01)          # Paris

# (id, command, file name, content, expected exit code, substrings the output must hold)
# A row reference is "row N" with the header as row 1; "rejected" entries also check the count.
CORPUS = [
    # -- boundaries: whole-file errors ---------------------------------------------------------
    ("units-duplicate-code", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(code=["10001", "10001", "10003", "10004", "10005", "10006"])), 2, ["xa.geojson", "10001"]),
    ("units-missing-code-column", "import-units", "xa.geojson", _units_geojson(lambda g: g.drop(columns=["code"])), 2,
     ["xa.geojson", "code"]),
    ("units-empty-geometry", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(geometry=[shapely.Polygon()] + list(g.geometry[1:]))), 2, ["xa.geojson", "10001"]),
    ("units-null-geometry", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(geometry=[None] + list(g.geometry[1:]))), 2, ["xa.geojson", "10001"]),
    ("units-points", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(geometry=g.geometry.representative_point())), 2, ["xa.geojson"]),
    ("units-empty-collection", "import-units", "xa.geojson", b'{"type":"FeatureCollection","features":[]}', 2, ["xa.geojson"]),
    ("units-zero-bytes", "import-units", "xa.geojson", b"", 2, ["xa.geojson"]),
    ("units-truncated-json", "import-units", "xa.geojson", _units_geojson()[:500], 2, ["xa.geojson"]),
    ("units-not-geo", "import-units", "xa.geojson", b"hello, this is not a map\n", 2, ["xa.geojson"]),
    ("units-csv-table", "import-units", "xa.csv", _csv("code,name", "10001,A"), 2, ["xa.csv"]),
    ("units-metres-as-degrees", "import-units", "xa.geojson",
     json.dumps(json.loads(grid(2, 3).to_json(drop_id=True)) | {"crs": None}).encode(), 2, ["xa.geojson"]),
    ("units-outside-vietnam", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(geometry=g.geometry.translate(-105, 32))), 2, ["xa.geojson"]),
    ("units-negative-population", "import-units", "xa.geojson",
     _units_geojson(lambda g: g.assign(population=[-5, 1, 1, 1, 1, 1])), 2, ["xa.geojson", "population", "10001"]),
    ("units-missing-file", "import-units", None, None, 2, ["missing.geojson"]),
    # -- cases: whole-file errors ----------------------------------------------------------------
    ("cases-zero-bytes", "import-cases", "ca.csv", b"", 2, ["ca.csv"]),
    ("cases-header-only", "import-cases", "ca.csv", _csv(CASE_HEAD), 2, ["ca.csv"]),
    ("cases-no-location-columns", "import-cases", "ca.csv", _csv("case_id,report_date", f"A,{DAY}"), 2,
     ["ca.csv", "commune_code"]),
    ("cases-no-date-column", "import-cases", "ca.csv", _csv("case_id,commune_code", "A,10001"), 2, ["ca.csv", "report_date"]),
    ("cases-wrong-delimiter", "import-cases", "ca.csv", _csv("case_id|report_date|commune_code", f"A|{DAY}|10001"), 2,
     ["ca.csv", "case_id"]),
    ("cases-xlsx-merged-header", "import-cases", "ca.xlsx",
     _xlsx([["Danh sách ca bệnh", None, None], ["case_id", "report_date", "commune_code"], ["A", DAY, "10001"]], "A1:C1"),
     2, ["ca.xlsx", "case_id"]),
    ("cases-xlsx-corrupt", "import-cases", "ca.xlsx", _xlsx([["a"]])[:300], 2, ["ca.xlsx"]),
    ("cases-csv-named-xlsx", "import-cases", "ca.xlsx", _case("A,2021-07-30,10002,true,true"), 2, ["ca.xlsx"]),
    ("cases-binary", "import-cases", "ca.csv", bytes(range(256)) * 20, 2, ["ca.csv"]),
    ("cases-missing-file", "import-cases", None, None, 2, ["missing.csv"]),
    # -- cases: rows rejected (row 3 is the bad one) ----------------------------------------------
    ("cases-future-date", "import-cases", "ca.csv", _case("A,2031-07-30,10002,true,true"), 0, ["row 3", "report_date", "future"]),
    # years beyond what a nanosecond timestamp holds: a row's reason, not an overflow (found by fuzzing the console)
    ("cases-year-4876", "import-cases", "ca.csv", _case("A,4876-10-21,10002,true,true"), 0, ["row 3", "report_date", "future"]),
    ("cases-year-0635", "import-cases", "ca.csv", _case("A,21/06/0635,10002,true,true"), 0, ["row 3", "report_date", "before"]),
    ("cases-impossible-date", "import-cases", "ca.csv", _case("A,2021-02-30,10002,true,true"), 0, ["row 3", "report_date"]),
    ("cases-garbage-date", "import-cases", "ca.csv", _case("A,hôm qua,10002,true,true"), 0, ["row 3", "report_date"]),
    ("cases-ancient-date", "import-cases", "ca.csv", _case("A,1999-01-01,10002,true,true"), 0, ["row 3", "report_date"]),
    ("cases-dmy-impossible", "import-cases", "ca.csv", _case("A,31/13/2021,10002,true,true"), 0, ["row 3", "report_date"]),
    ("cases-unknown-commune", "import-cases", "ca.csv", _case("A,2021-07-30,99999,true,true"), 0, ["row 3", "commune_code", "99999"]),
    ("cases-bad-community", "import-cases", "ca.csv", _case("A,2021-07-30,10002,maybe,true"), 0, ["row 3", "community"]),
    ("cases-bad-source-known", "import-cases", "ca.csv", _case("A,2021-07-30,10002,true,?"), 0, ["row 3", "source_known"]),
    ("cases-duplicate-case-id", "import-cases", "ca.csv", _case(f"K1,{DAY},10002,true,true"), 0, ["row 3", "case_id"]),
    ("counts-negative", "import-cases", "ca.csv",
     _csv("report_date,commune_code,count,community,source_known", f"{DAY},10001,3,true,true", f"{DAY},10002,-4,true,true"), 0, ["row 3", "count"]),
    ("counts-not-a-number", "import-cases", "ca.csv",
     _csv("report_date,commune_code,count,community,source_known", f"{DAY},10001,3,true,true", f"{DAY},10002,ba,true,true"), 0, ["row 3", "count"]),
    ("counts-fraction", "import-cases", "ca.csv",
     _csv("report_date,commune_code,count,community,source_known", f"{DAY},10001,3,true,true", f"{DAY},10002,1.5,true,true"), 0, ["row 3", "count"]),
    ("counts-absurd", "import-cases", "ca.csv",
     _csv("report_date,commune_code,count,community,source_known", f"{DAY},10001,3,true,true", f"{DAY},10002,1000000000,true,true"), 0, ["row 3", "count"]),
    ("cases-point-outside-country", "import-cases", "ca.csv",
     _csv("case_id,report_date,lon,lat,community,source_known", f"A,{DAY},{X:.5f},{Y:.5f},1,1", f"B,{DAY},2.35,48.85,1,1"), 0, ["row 3", "outside"]),
    ("cases-lat-lon-swapped", "import-cases", "ca.csv",
     _csv("case_id,report_date,lon,lat,community,source_known", f"A,{DAY},{X:.5f},{Y:.5f},1,1", f"B,{DAY},{Y:.5f},{X:.5f},1,1"), 0, ["row 3", "lat"]),
    ("cases-coordinates-text", "import-cases", "ca.csv",
     _csv("case_id,report_date,lon,lat,community,source_known", f"A,{DAY},{X:.5f},{Y:.5f},1,1", f"B,{DAY},abc,16.4,1,1"), 0, ["row 3", "lon"]),
    ("cases-unknown-names", "import-cases", "ca.csv",
     _csv("case_id,report_date,commune_name,district_name,province_name,community,source_known",
          f"A,{DAY},Xã Ô 10001,Huyện 101,Tỉnh Thử,1,1", f"B,{DAY},Xã Không Có,Huyện 101,Tỉnh Thử,1,1"), 0, ["row 3", "commune"]),
    ("cases-missing-date-cell", "import-cases", "ca.csv", _case("A,,10002,true,true"), 0, ["row 3", "report_date"]),
    ("cases-cp1258-names", "import-cases", "ca.csv",
     _csv("case_id,report_date,commune_name,district_name,province_name,community,source_known",
          f"A,{DAY},Xã Ô 10001,Huyện 101,Tỉnh Thử,1,1", f"B,{DAY},Xã Mơ Hồ,Huyện 101,Tỉnh Thử,1,1", enc="cp1258"), 0, ["row 3", "commune"]),
    ("cases-xlsx-bad-row", "import-cases", "ca.xlsx",
     _xlsx([["case_id", "report_date", "commune_code", "community", "source_known"], ["A", DAY, "10001", "có", "có"],
            ["B", "không rõ", "10002", "có", "có"]]), 0,
     ["row 3", "report_date"]),
    ("cases-extra-columns", "import-cases", "ca.csv",
     _csv(CASE_HEAD + ",ghi_chu,cot_la", f"K1,{DAY},10001,true,true,x,y", "A,2021-07-30,99999,true,true,x,y"), 0,
     ["row 3", "commune_code", "ghi_chu"]),
    # -- lockdowns ---------------------------------------------------------------------------------
    ("lk-missing-decision", "import-lockdowns", "pt.geojson", _lk([{}, {"decision_no": ""}]), 0, ["row 3", "decision_no"]),
    ("lk-missing-start", "import-lockdowns", "pt.geojson", _lk([{}, {"start_date": ""}]), 0, ["row 3", "start_date"]),
    ("lk-end-before-start", "import-lockdowns", "pt.geojson", _lk([{}, {"end_date": "2021-07-01"}]), 0, ["row 3", "end_date"]),
    ("lk-lifted-before-start", "import-lockdowns", "pt.geojson", _lk([{}, {"lifted_date": "2021-07-01"}]), 0,
     ["row 3", "lifted_date"]),
    ("lk-start-in-future", "import-lockdowns", "pt.geojson", _lk([{}, {"start_date": "2031-01-01"}]), 0, ["row 3", "start_date"]),
    ("lk-outside-communes", "import-lockdowns", "pt.geojson", _lk([{}, {"geometry": FAR}]), 0, ["row 3", "geometry"]),
    ("lk-point", "import-lockdowns", "pt.geojson", _lk([{}, {"geometry": shapely.Point(X, Y)}]), 0, ["row 3", "geometry"]),
    ("lk-empty-geometry", "import-lockdowns", "pt.geojson", _lk([{}, {"geometry": None}]), 0, ["row 3", "geometry"]),
    ("lk-bowtie", "import-lockdowns", "pt.geojson", _lk([{}, {"geometry": BOWTIE}]), 0, ["row 3", "geometry", "repaired"]),
    ("lk-not-vector", "import-lockdowns", "pt.geojson", b"decision_no,start_date\n1,2021-07-01\n", 2, ["pt.geojson"]),
    # -- committee flags ---------------------------------------------------------------------------
    ("flags-unknown-flag", "import-flags", "co.csv",
     _csv("code,date,flag,value,author", f"10001,{DAY},community_f1,true,a", f"10002,{DAY},red_alert,true,a"), 0, ["row 3", "flag"]),
    ("flags-bad-value", "import-flags", "co.csv",
     _csv("code,date,flag,value,author", f"10001,{DAY},community_f1,true,a", f"10002,{DAY},community_f1,perhaps,a"), 0,
     ["row 3", "value"]),
    ("flags-unknown-code", "import-flags", "co.csv",
     _csv("code,date,flag,value,author", f"10001,{DAY},community_f1,true,a", f"77777,{DAY},community_f1,true,a"), 0,
     ["row 3", "code"]),
    ("flags-impossible-date", "import-flags", "co.csv",
     _csv("code,date,flag,value,author", f"10001,{DAY},community_f1,true,a", "10002,2021-06-31,community_f1,true,a"), 0,
     ["row 3", "date"]),
    ("flags-missing-columns", "import-flags", "co.csv", _csv("code,flag", "10001,community_f1"), 2, ["co.csv", "date"]),
    # -- indicators --------------------------------------------------------------------------------
    ("ind-not-a-number", "import-indicators", "cs.csv",
     _csv("code,date,deaths_per_100k_7d", f"10001,{DAY},0.5", f"10002,{DAY},nhiều"), 0, ["row 3", "deaths_per_100k_7d"]),
    ("ind-percent-over-100", "import-indicators", "cs.csv",
     _csv("code,date,vaccination_first_dose_18plus_pct", f"10001,{DAY},50", f"10002,{DAY},180"), 0,
     ["row 3", "vaccination_first_dose_18plus_pct"]),
    ("ind-negative-rate", "import-indicators", "cs.csv",
     _csv("code,date,oxygen_cases_per_100k_7d", f"10001,{DAY},1", f"10002,{DAY},-3"), 0, ["row 3", "oxygen_cases_per_100k_7d"]),
    ("ind-no-indicator-column", "import-indicators", "cs.csv", _csv("code,date,mystery", f"10001,{DAY},1"), 2,
     ["cs.csv", "indicator"]),
    ("ind-unknown-unit", "import-indicators", "cs.csv",
     _csv("code,date,deaths_per_100k_7d", f"10001,{DAY},0.5", f"55555,{DAY},1"), 0, ["row 3", "code"]),
    # -- declared levels ---------------------------------------------------------------------------
    ("decl-bad-level", "declare", "qd.csv",
     _csv("unit,level,from,decision,by", f"10001,high_risk,{DAY},1/QĐ,a", f"10002,red,{DAY},2/QĐ,a"), 0, ["row 3", "level"]),
    ("decl-unknown-unit", "declare", "qd.csv",
     _csv("unit,level,from,decision,by", f"10001,high_risk,{DAY},1/QĐ,a", f"4444,risk,{DAY},2/QĐ,a"), 0, ["row 3", "unit"]),
    ("decl-missing-decision", "declare", "qd.csv",
     _csv("unit,level,from,decision,by", f"10001,high_risk,{DAY},1/QĐ,a", f"10002,risk,{DAY},,a"), 0, ["row 3", "decision"]),
    ("decl-until-before-from", "declare", "qd.csv",
     _csv("unit,level,from,until,decision,by", f"10001,high_risk,{DAY},,1/QĐ,a", f"10002,risk,{DAY},2021-07-01,2/QĐ,a"), 0,
     ["row 3", "until"]),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory):
    """A store with boundaries, cases, a lockdown and a flag already imported."""
    from helpers import write_units

    from server import create_app
    tmp = tmp_path_factory.mktemp("template")
    app = create_app({"ZONES_DATA_DIR": str(tmp / "data"), "ZONES_QUALITY_GATE": "off"})
    runner = app.test_cli_runner()
    assert invoke(runner, "import-units", write_units(grid(2, 3), tmp / "units.geojson"), "--boundary-version", "v1").exit_code == 0
    (tmp / "c.csv").write_bytes(_csv(CASE_HEAD, f"K1,{DAY},10001,true,true", f"K2,{DAY},10004,false,true"))
    assert invoke(runner, "import-cases", tmp / "c.csv").exit_code == 0
    (tmp / "l.geojson").write_bytes(_lk([{}]))
    assert invoke(runner, "import-lockdowns", tmp / "l.geojson").exit_code == 0
    return tmp / "data"


def _snapshot(db: Path) -> dict[str, list]:
    import sqlite3
    con = sqlite3.connect(db)
    try:
        tables = ("boundary_versions", "units", "cases", "lockdowns", "flags", "indicators", "declarations")
        return {t: sorted(map(repr, con.execute(f"SELECT * FROM {t}").fetchall())) for t in tables}
    finally:
        con.close()


def test_corpus_is_large_enough():
    assert len(CORPUS) >= 60 and len({c[0] for c in CORPUS}) == len(CORPUS)


@pytest.mark.parametrize("name,command,file_name,content,code,expect", CORPUS, ids=[c[0] for c in CORPUS])
def test_bad_input_is_named_and_nothing_is_lost(template, tmp_path, name, command, file_name, content, code, expect):
    from server import create_app
    data = tmp_path / "data"
    shutil.copytree(template, data)
    app = create_app({"ZONES_DATA_DIR": str(data), "ZONES_QUALITY_GATE": "off", "ZONES_LANG": "en"})
    before = _snapshot(data / "zones.sqlite")
    if file_name is None:
        path = tmp_path / ("missing.geojson" if command == "import-units" else "missing.csv")
    else:
        path = tmp_path / file_name
        path.write_bytes(content)
    args = [command, "--file", path] if command == "declare" else [command, path]
    res = app.test_cli_runner().invoke(args=[str(a) for a in args])
    out = res.output
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == code, out
    for text in expect:
        assert text in out, (text, out)
    if file_name:
        assert file_name in out, out
    after = _snapshot(data / "zones.sqlite")
    if code != 0:
        assert after == before                       # a refused file changes nothing
        return
    if "repaired" in expect:                          # accepted after repair, and said so
        assert "rejected 0" in out, out
        return
    assert "rejected 1" in out, out
    for table, rows in before.items():                # everything stored before is still there
        assert set(rows) <= set(after[table]), table
    rejects = list((data / "rejects").glob("*-rejects.csv"))
    assert rejects, "the rejected row is kept with its reason"
    kept = pd.read_csv(max(rejects, key=lambda p: p.stat().st_mtime), dtype=str)
    assert list(kept.columns[:4]) == ["file", "row", "field", "reason"] and kept["row"].tolist() == ["3"]


def test_a_huge_file_with_one_bad_row(template, tmp_path):
    """50,000 rows: the bad one is named by its row; the rest are stored."""
    from server import create_app
    data = tmp_path / "data"
    shutil.copytree(template, data)
    app = create_app({"ZONES_DATA_DIR": str(data), "ZONES_QUALITY_GATE": "off", "ZONES_LANG": "en"})
    n = 50_000
    rows = [f"H{i},{DAY},1000{1 + i % 6},true,true" for i in range(n)]
    rows[30_000] = f"H30000,{DAY},1000x,true,true"
    (tmp_path / "big.csv").write_bytes(_csv(CASE_HEAD, *rows))
    res = app.test_cli_runner().invoke(args=["import-cases", str(tmp_path / "big.csv")])
    assert res.exit_code == 0 and "row 30002, commune_code" in res.output and "big.csv" in res.output, res.output
    assert f"{n - 1}" in res.output
