"""Aggregates of the stored cases, for the quality gate, the morning report and a unit's history.
Sums and dates only: no case row leaves through here."""
from __future__ import annotations

import json
from collections.abc import Iterable

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv

from geo.store.connection import Connection

# The dates a ruleset may count cases by (its `date_column`).
CASE_DATE_COLUMNS = ("report_date", "sample_date", "result_date")
# Reading rows through the date index costs a lookup each, about ten times a row of a plain scan: a
# window holding more than a tenth of the table is read by scanning it (a year at once, a small store).
SCAN_SHARE = 10
# The columns an evaluation reads of a case, in order: numbers as floats (NULL -> NaN), the rest text. SQLite sends
# the REAL ones as quote() writes them, the one text of a number it makes that gives back the very double stored
# (its JSON and printf keep 15 to 16 digits); PostgreSQL's text of a double is exact already.
CASE_COLUMNS = {"day": "text", "count": "integer", "community": "integer", "source_known": "integer",
                "source_setting": "text", "cluster_id": "text", "lon": "real", "lat": "real", "commune_code": "text",
                "located_by": "text", "code_version": "text"}


def evaluation_cases(con: Connection, is_pg: bool, date_column: str, first: str, last: str, every_case: bool = False) -> pd.DataFrame:
    """Community cases dated first .. last on `date_column` (as `day`): what an evaluation reads; with
    `every_case`, the others too (a weekly rate of all new cases, RULES.md §6), told apart by `community`."""
    if date_column not in CASE_DATE_COLUMNS:
        raise ValueError(f"not a case date column: {date_column!r}")
    scan = ""
    if not is_pg and date_column == "report_date":      # the one date with an index
        wanted = con.execute("SELECT COUNT(*) FROM cases WHERE report_date BETWEEN ? AND ?", (first, last)).fetchone()[0]
        if wanted * SCAN_SHARE > (con.execute("SELECT MAX(rowid) FROM cases").fetchone()[0] or 0):
            scan = "NOT INDEXED "
    rows = (f"SELECT {date_column} AS day, {', '.join(c for c in CASE_COLUMNS if c != 'day')} FROM cases {scan}"
            f"WHERE {date_column} BETWEEN ? AND ?" + ("" if every_case else " AND community = 1"))
    return _columns(con, is_pg, rows, (first, last), CASE_COLUMNS).to_pandas()


def _columns(con: Connection, is_pg: bool, rows: str, params: tuple, kinds: dict[str, str]) -> pa.Table:
    """The columns of a query's rows in bulk, never a Python object per value: a row at a time, a hundred thousand
    cases cost more to read than to evaluate. PostgreSQL sends them by COPY as CSV for Arrow's reader; SQLite, each
    column as one JSON array it aggregates (in C, one row back) handed to Arrow whole."""
    if is_pg:
        return _from_csv(con.copy_csv(rows, params), kinds)           # type: ignore[attr-defined]
    picked = ", ".join(f"json_group_array({f'CASE WHEN {c} IS NULL THEN NULL ELSE quote({c}) END' if kind == 'real' else c})"
                       for c, kind in kinds.items())
    found = con.execute(f"SELECT {picked} FROM ({rows}) AS picked", params).fetchone()
    out = {}
    for (name, kind), values in zip(kinds.items(), found, strict=True):
        quoted = kind == "real"            # the exact text of a double (see CASE_COLUMNS)
        column = pa.array(json.loads(values), type=pa.string() if kind == "text" or quoted else pa.float64())
        out[name] = column.cast(pa.float64()) if quoted else column
    return pa.table(out)


def _from_csv(body: bytes, kinds: dict[str, str]) -> pa.Table:
    """PostgreSQL's CSV: NULL is an empty field, an empty text a quoted one, a double its shortest exact digits;
    no other word taken for NULL (a cluster named "NA" stays "NA"); a quoted value may hold a line break."""
    types = {c: pa.string() if kind == "text" else pa.float64() for c, kind in kinds.items()}
    parse = pacsv.ParseOptions(newlines_in_values=True)
    convert = pacsv.ConvertOptions(column_types=types, include_columns=list(kinds), null_values=[""],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    return pacsv.read_csv(pa.py_buffer(body), parse_options=parse, convert_options=convert)


def cases_through(con: Connection, day: str) -> int:
    """Cases reported up to and including `day`, as stored now."""
    return int(con.execute("SELECT COALESCE(SUM(count), 0) FROM cases WHERE report_date <= ?", (day,)).fetchone()[0])


def daily_totals(con: Connection, after: str, through: str) -> dict[str, int]:
    """{report_date: cases} for after < report_date <= through."""
    return {d: int(n) for d, n in con.execute("SELECT report_date, SUM(count) FROM cases WHERE report_date > ? AND "
                                               "report_date <= ? GROUP BY report_date", (after, through)).fetchall()}


def newest_report_date(con: Connection, through: str | None = None) -> str | None:
    """The newest report date stored (up to `through` when given)."""
    if through is None:
        return con.execute("SELECT MAX(report_date) FROM cases").fetchone()[0]
    return con.execute("SELECT MAX(report_date) FROM cases WHERE report_date <= ?", (through,)).fetchone()[0]


def current_population(con: Connection) -> int:
    """The population of the current boundary version's communes."""
    version = con.execute("SELECT name FROM boundary_versions WHERE is_current = 1").fetchone()
    return int(con.execute("SELECT COALESCE(SUM(population), 0) FROM units WHERE unit = 'commune' AND "
                           "boundary_version = ?", (version[0] if version else "",)).fetchone()[0] or 0)


def commune_spikes(con: Connection, first: str, last: str, share: float, floor: int) -> list[tuple[str, str, int, int]]:
    """(report_date, commune_code, cases, population) of each commune of the current boundaries that reported
    more than `share` of its population and more than `floor` cases on one day between first and last."""
    version = con.execute("SELECT name FROM boundary_versions WHERE is_current = 1").fetchone()
    # each commune-day summed first, then the few over `floor` joined with their population (joining every case
    # row with the units first took 2.5 times as long over a month of a national line list)
    rows = con.execute(
        "SELECT c.report_date, c.commune_code, c.n, u.population FROM (SELECT report_date, commune_code, SUM(count) AS n "
        "FROM cases WHERE report_date BETWEEN ? AND ? GROUP BY report_date, commune_code HAVING SUM(count) > ?) c "
        "JOIN units u ON u.code = c.commune_code AND u.unit = 'commune' AND u.boundary_version = ? "
        "WHERE u.population > 0 AND c.n > ? * u.population ORDER BY c.report_date, c.n DESC, c.commune_code",
        (first, last, floor, version[0] if version else "", share)).fetchall()
    return [(str(d), str(c), int(n), int(p)) for d, c, n, p in rows]


def silent_daily_feeds(con: Connection, since: str, through: str, cutoff: str) -> list[tuple[str, str]]:
    """Communes sending daily counts (zero rows on quiet days) between since and through whose last
    row is older than `cutoff` -> [(commune_code, last report date)]."""
    return [(r[0], r[1]) for r in con.execute(
        "SELECT commune_code, MAX(report_date) FROM cases WHERE kind = 'count' AND commune_code IS NOT NULL "
        "AND report_date > ? AND report_date <= ? GROUP BY commune_code "
        "HAVING MAX(report_date) < ? AND SUM(CASE WHEN count = 0 THEN 1 ELSE 0 END) > 0 "
        "ORDER BY commune_code", (since, through, cutoff)).fetchall()]


def community_daily(con: Connection, codes: Iterable[str], first: str, last: str) -> dict[str, int]:
    """{report_date: community cases} in communes `codes`, first..last."""
    codes = list(codes)
    if not codes:
        return {}
    marks = ",".join("?" * len(codes))
    df = pd.read_sql_query(f"SELECT report_date AS day, SUM(count) AS n FROM cases WHERE community = 1 AND "
                           f"commune_code IN ({marks}) AND report_date BETWEEN ? AND ? GROUP BY report_date",
                           con, params=(*codes, first, last))
    return dict(zip(df["day"], df["n"].astype(int), strict=False))
