"""What an evaluation reads of the stored cases, on both stores: every column as it was stored (a coordinate to
its last bit, NULL as missing, text with quotes, line breaks and Vietnamese intact, an empty text or "NA" never
taken for NULL), only the window and kind asked for."""
from __future__ import annotations

import math

import pytest

# (case_key, kind, report_date, count, community, source_known, source_setting, cluster_id, lon, lat,
#  commune_code, located_by, code_version)
ROWS = [
    ("a", "line", "2021-07-30", 1, 1, 1, None, None, 105.81475234567891, 21.000000000000007, "00001", "point", "vn2009"),
    ("b", "count", "2021-07-31", 3, 1, 0, 'chợ "Bến Thành"', "C-1, C-2", None, None, "00002", "code", None),
    ("c", "line", "2021-07-31", 1, 0, 1, None, None, 1e-300, -0.1, "00003", "point", "vn2025"),
    ("d", "line", "2021-07-29", 1, 1, 1, None, None, None, None, "00004", "name", None),
    # words some readers take for NULL, an empty text and a line break: text as stored
    ("e", "line", "2021-07-30", 1, 1, 1, "nhà máy\nsố 2", "NA", 106.0, 10.5, "00005", "point", "vn2009"),
    ("f", "line", "2021-07-31", 2, 1, None, "NULL", "", 106.5, 10.25, "00006", "point", "vn2009"),
]
COLUMNS = ("day", "count", "community", "source_known", "source_setting", "cluster_id", "lon", "lat", "commune_code",
           "located_by", "code_version")


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    from geo.store.database import Store
    if request.param == "sqlite":
        store = Store(tmp_path / "zones.sqlite")
    else:
        store = Store(request.getfixturevalue("pg_cluster").new_database())
    with store.connect() as con:
        con.executemany(
            "INSERT INTO cases (case_key, kind, report_date, count, community, source_known, source_setting, cluster_id, "
            "lon, lat, commune_code, located_by, code_version, row_hash) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,'h')", ROWS)
        con.commit()
    return store


def _same(read, stored) -> bool:
    if stored is None:
        return read is None or (isinstance(read, float) and math.isnan(read))
    return read == stored and type(read) is (float if isinstance(stored, (int, float)) else str)


@pytest.mark.parametrize("every_case, keys", [(False, ["a", "b", "e", "f"]), (True, ["a", "b", "c", "e", "f"])])
def test_the_cases_of_a_window_read_as_stored(store, every_case, keys):
    with store.connect(readonly=True) as con:
        df = store.evaluation_cases(con, "report_date", "2021-07-30", "2021-07-31", every_case=every_case)
    assert list(df.columns) == list(COLUMNS)
    got = sorted(df.to_dict("records"), key=lambda r: (r["day"], r["commune_code"]))
    want = sorted((r for r in ROWS if r[0] in keys), key=lambda r: (r[2], r[10]))
    assert len(got) == len(want)
    for row, stored in zip(got, want, strict=True):
        for name, value in zip(COLUMNS, stored[2:], strict=True):
            assert _same(row[name], value), (name, row[name], value)
    # to the last bit: a coordinate read back through text of fewer digits would land on a neighbouring double
    assert got[0]["lon"].hex() == (105.81475234567891).hex()


def test_an_empty_window_has_the_columns(store):
    with store.connect(readonly=True) as con:
        df = store.evaluation_cases(con, "report_date", "2020-01-01", "2020-01-31")
    assert list(df.columns) == list(COLUMNS) and df.empty
    assert df["count"].dtype == float and df["lon"].dtype == float
