"""Files as provincial offices send them: Excel's "Unicode text", semicolons, blank lines before the
header, a comma that should have been quoted, a stray NUL, two sheets of one workbook, Vietnamese
thousands separators, infinite numbers. Each is read (or refused) as a whole class, and what is
stored is checked value by value."""
from __future__ import annotations

import io
import json
import sqlite3

import pandas as pd
import pytest
from helpers import cell_centre, grid, invoke, write_units

DAY = "2021-07-31"
HEAD = ["case_id", "report_date", "commune_code", "community", "source_known"]


@pytest.fixture
def ready(runner, tmp_path):
    assert invoke(runner, "import-units", write_units(grid(2, 3), tmp_path / "xa.geojson")).exit_code == 0
    return tmp_path


def _stored(app) -> pd.DataFrame:
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        return pd.read_sql_query("SELECT * FROM cases ORDER BY report_date, commune_code", con)


def _import(runner, path):
    res = invoke(runner, "import-cases", path)
    assert res.exit_code == 0, res.output
    return res.output


def _lines(*rows, sep=","):
    return "\r\n".join(sep.join(r) for r in rows) + "\r\n"


@pytest.mark.parametrize("encoding,bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"), ("utf-16-le", b""),
                                          ("utf-8", b"\xef\xbb\xbf"), ("cp1258", b"")])
def test_excel_unicode_text_and_other_encodings_are_read(ready, runner, app, encoding, bom):
    text = _lines(HEAD, ["A", DAY, "10001", "có", "không"], ["B", "30/07/2021", "10002", "có", "có"], sep="\t")
    path = ready / "ds.txt"
    path.write_bytes(bom + text.encode(encoding))
    out = _import(runner, path)
    assert "Nhận 2 dòng, loại 0 dòng" in out, out
    got = _stored(app)
    assert list(got["commune_code"]) == ["10002", "10001"] and list(got["source_known"]) == [1, 0]


def test_semicolons_blank_lines_before_the_header_and_a_bad_line(ready, runner, app):
    path = ready / "ds.csv"
    path.write_text("\r\n;;;;\r\n" + _lines(HEAD, ["A", DAY, "10001", "1", "1"], ["B", DAY, "10002", "1", "1;thừa"],
                                            ["C", DAY, "10003", "1", "1"], sep=";"), encoding="utf-8")
    out = _import(runner, path)
    assert "Nhận 2 dòng, loại 1 dòng" in out and "row 5" in out and "quotes" in out, out
    assert sorted(_stored(app)["commune_code"]) == ["10001", "10003"]


def test_a_nul_byte_puts_its_row_aside(ready, runner, app):
    path = ready / "ds.csv"
    path.write_bytes(_lines(HEAD, ["A", DAY, "10001", "1", "1"], ["B\x00X", DAY, "10002", "1", "1"]).encode())
    out = _import(runner, path)
    assert "Nhận 1 dòng, loại 1 dòng" in out and "row 3" in out and "control character" in out, out
    keys = _stored(app)["case_key"]
    assert len(keys) == 1 and not any("\x00" in k for k in keys)


def _workbook(sheets: dict[str, list[list]]) -> bytes:
    from openpyxl import Workbook
    wb = Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for r in rows:
            ws.append(r)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_every_sheet_of_a_workbook_is_read(ready, runner, app):
    path = ready / "ds.xlsx"
    path.write_bytes(_workbook({"Huế": [HEAD, ["A", DAY, "10001", "có", "có"]],
                                "Trống": [],
                                "Khánh Hòa": [HEAD, ["B", DAY, "10002", "có", "có"], ["C", "hôm qua", "10003", "có", "có"]]}))
    out = _import(runner, path)
    assert "Nhận 2 dòng, loại 1 dòng" in out and "row Khánh Hòa!3" in out, out
    assert sorted(_stored(app)["commune_code"]) == ["10001", "10002"]


def test_sheets_with_other_columns_are_refused_whole(ready, runner, app):
    path = ready / "ds.xlsx"
    path.write_bytes(_workbook({"Ca": [HEAD, ["A", DAY, "10001", "có", "có"]],
                                "Tổng hợp": [["huyện", "số ca"], ["Huyện 101", 3]]}))
    res = invoke(runner, "import-cases", path)
    assert res.exit_code == 2 and "Ca" in res.output and "Tổng hợp" in res.output and "ds.xlsx" in res.output
    assert _stored(app).empty


def test_numbers_the_vietnamese_way(ready, runner, app):
    head = ["report_date", "commune_code", "count", "community", "source_known"]
    path = ready / "so-ca.csv"
    path.write_text(_lines(head, [DAY, "10001", '"1.000"', "1", "1"], [DAY, "10002", "12.500", "1", "1"],
                           [DAY, "10003", '"1,5"', "1", "1"], [DAY, "10004", "inf", "1", "1"], [DAY, "10005", "1e400", "1", "1"],
                           [DAY, "10006", '"3,0"', "1", "1"]), encoding="utf-8")
    units = grid(2, 3, population=10_000_000)
    assert invoke(runner, "import-units", write_units(units, ready / "big.geojson"), "--boundary-version", "big").exit_code == 0
    out = _import(runner, path)
    assert "Nhận 3 dòng, loại 3 dòng" in out, out
    assert "not a whole number: 1,5" in out and "not a finite number: inf" in out, out
    got = _stored(app).set_index("commune_code")["count"].to_dict()
    assert got == {"10001": 1000, "10002": 12500, "10006": 3}


def test_population_with_thousands_dots(runner, app, tmp_path):
    units = grid(2, 3)
    units["population"] = ["7.657", "12.500", "900", "1.234.567", "0", "5"]
    res = invoke(runner, "import-units", write_units(units, tmp_path / "xa.geojson"))
    assert res.exit_code == 0, res.output
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        pop = dict(con.execute("SELECT code, population FROM units WHERE unit = 'commune'").fetchall())
    assert pop == {"10001": 7657, "10002": 12500, "10003": 900, "10004": 1234567, "10005": 0, "10006": 5}
    # not a head count: that commune's population is unknown (said, not guessed); the layer is imported
    units["population"] = ["7,5", 12.45, "1", "1", "1", "1"]
    res = invoke(runner, "import-units", write_units(units, tmp_path / "xa2.geojson"))
    assert res.exit_code == 0, res.output
    assert "feature 1 (code='10001'" in res.output and "not a whole number: 7,5" in res.output, res.output
    assert "feature 2 (code='10002'" in res.output and "12.45" in res.output, res.output
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        pop = dict(con.execute("SELECT code, population FROM units WHERE unit = 'commune' AND boundary_version = 'xa2'"))
    assert pop["10001"] is None and pop["10002"] is None and pop["10003"] == 1


def test_indicator_decimals_and_an_ambiguous_column(ready, runner, app):
    path = ready / "tiem.csv"
    path.write_text(_lines(["code", "date", "vaccination_first_dose_18plus_pct"], ["10001", DAY, "85,5"], ["10002", DAY, "7"],
                           sep=";"), encoding="utf-8")      # Vietnamese Excel: ';' between cells, ',' in decimals
    assert "loại 0 dòng" in invoke(runner, "import-indicators", path).output
    amb = ready / "oxy.csv"
    amb.write_text(_lines(["code", "date", "oxygen_cases_per_100k_7d"], ["10001", DAY, "1.234"], ["10002", DAY, "3"]),
                   encoding="utf-8")
    out = invoke(runner, "import-indicators", amb).output
    assert "loại 1 dòng" in out and "ambiguous" in out, out
    with sqlite3.connect(app.config["ZONES"].db_path) as con:
        vals = dict(con.execute("SELECT code || '/' || name, value FROM indicators").fetchall())
    assert vals["10001/vaccination_first_dose_18plus_pct"] == 85.5 and "10001/oxygen_cases_per_100k_7d" not in vals
    assert json.dumps(vals)          # every stored value is a finite number



def _cases_table(store) -> list[tuple]:
    with store.connect(readonly=True) as con:
        rows = con.execute("SELECT case_key, kind, case_id, report_date, count, community, source_known, source_setting, "
                           "cluster_id, commune_code, age, sex, row_hash FROM cases ORDER BY case_key").fetchall()
    return [tuple(r) for r in rows]


@pytest.mark.both_backends
@pytest.mark.parametrize("kind", ["line_list", "counts"])
def test_chunks_store_what_one_pass_stores(tmp_path, backend, request, monkeypatch, kind):
    """A file longer than a chunk (parsed and stored a part at a time, the date index rebuilt) gives
    the same rows, rejects and re-import behaviour as the same file in one part; a duplicate whose
    first row is in an earlier chunk is still found."""
    from geo.base import config
    from geo.ingest import cases
    from geo.ingest.units import import_units
    from geo.store import caseload
    from geo.store.database import Store
    units = grid(2, 3)
    rows = [HEAD + ["age", "lon", "lat"] if kind == "line_list" else ["report_date", "commune_code", "community", "source_known", "count"]]
    for k in range(40):
        day, code = f"2021-07-{10 + k % 20:02d}", f"1000{1 + k % 6}"
        if kind == "line_list":       # BN0..BN2 come back in the last chunk; every fifth case placed by its point
            x, y = cell_centre(units, code) if k % 5 == 0 else ("", "")
            rows.append([f"BN{k % 37}", day, "" if x else code, "có" if k % 3 else "không", "có", str(20 + k), str(x), str(y)])
        else:                         # rows 22..41 repeat rows 2..21's date, commune and flags
            j = k % 20
            rows.append([f"2021-07-{10 + j:02d}", f"1000{1 + j % 6}", "có", "không" if j % 4 else "có", str(k)])
    rows.append(["BN99", "hôm qua", "10001", "có", "có", "30", "", ""] if kind == "line_list" else ["2021-07-11", "10002", "có", "có", '"1,5"'])
    got = {}
    for name, chunk, rebuild in (("one", 10_000, 10_000), ("many", 7, 10)):
        monkeypatch.setattr(cases, "CHUNK_ROWS", chunk)
        monkeypatch.setattr(caseload, "INDEX_REBUILD_MIN", rebuild)
        data = tmp_path / name
        if name == "many":            # the same pseudonym key, so the same stored identifiers
            data.mkdir()
            (data / "personal.key").write_bytes((tmp_path / "one" / "personal.key").read_bytes())
        url = request.getfixturevalue("pg_cluster").new_database() if backend == "postgis" else None
        settings = config.from_env({"ZONES_DATA_DIR": str(data), **({"ZONES_DATABASE_URL": url} if url else {})})
        store = Store(settings.db_path if url is None else url)
        import_units(store, write_units(units, tmp_path / f"{name}.geojson"), "xa", None, None, settings.reports_dir)
        path = tmp_path / f"{name}.csv"
        path.write_text(_lines(*rows), encoding="utf-8")
        first = cases.import_cases(store, path, settings.rejects_dir, config.today(), label="ds.csv")
        again = cases.import_cases(store, path, settings.rejects_dir, config.today(), label="ds.csv")
        got[name] = first, again, _cases_table(store)
    (one, _one_again, one_rows), (many, many_again, many_rows) = got["one"], got["many"]
    assert many_rows == one_rows and len(one_rows) >= 20 - (kind == "counts")
    with store.connect(readonly=True) as con:       # numbers stored as numbers, a missing one as NULL
        points = con.execute("SELECT sum(CASE WHEN located_by = 'point' THEN 1 ELSE 0 END), count(lon), min(lon), "
                             "max(lat) FROM cases").fetchone()
        assert con.execute("SELECT count(*) FROM cases WHERE lon IS NULL AND located_by = 'point'").fetchone()[0] == 0
    if kind == "line_list":
        assert points[0] == points[1] == 8 and isinstance(points[2], float), points
        assert [r[9] for r in one_rows].count(None) == 0        # every case has its commune
    for key in ("accepted", "rejected", "changed", "reasons"):
        assert many[key] == one[key], key
    assert many_again["changed"] == 0 and many_again["unchanged"] == many["accepted"]
    dup = "duplicate case_id in this file, first at row 2" if kind == "line_list" else \
        "same date, commune and flags as row 2 of this file"
    assert any(dup in r for r in many["reasons"]), many["reasons"]
