"""Doubtful placements: rows whose names the rules could not place with certainty (geo/base/names.py) wait in
a review list with their candidates; an operator picks the commune (or none) in the console or with
`review decide`, the choice is remembered for that announced triple and boundary version (later imports
use it), and the waiting rows are counted at once, in one transaction. Never guessed."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import pandas as pd

from geo.base.errors import InputError, NotFoundError
from geo.base.names import OPERATOR_CHOICE
from geo.ingest.caseparse import count_keys, row_hashes
from geo.store import boundaries, caseload, inputs
from geo.store import reviews as table
from geo.store.database import CASE_FIELDS, Store


def decide(store: Store, review_key: str, code: str | None, by: str) -> dict:
    """Place the rows of a doubtful triple in `code` (a commune of its boundary version), or in none (`code`
    None: they are dropped and said so). -> {review_key, code, rows, cases}."""
    with store.transaction() as con:
        review = table.get(con, review_key)
        if review is None:
            raise NotFoundError("not_found", what=f"review {review_key}")
        if review["status"] != "open":
            raise InputError("bad_param", name="review", value=review_key, allowed=f"an open review (this one is {review['status']})")
        if code and code not in boundaries.commune_codes(con, review["boundary_version"]):
            raise InputError("bad_param", name="code", value=code,
                             allowed=f"a commune of {review['boundary_version']} (candidates: {', '.join(review['candidates'])})")
        rows = table.pending_rows(con, review_key)
        placed = _placed(rows, code, review["boundary_version"], review_key.split("|", 1)[1]) if code else rows
        if code and len(placed):
            stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
            import_id = inputs.log_import(con, "review", Path(review_key), "", stamp,
                                          {"accepted": len(placed), "rejected": 0, "changed": 0, "rejects_path": None})
            with caseload.Loader(con, store.is_pg, import_id, len(placed)) as loader:
                loader.add(placed[list(CASE_FIELDS)])
                loader.finish()
        table.close(con, review_key, code, by)
    return {"review_key": review_key, "code": code, "rows": len(rows), "cases": int(rows["count"].sum()) if len(rows) else 0}


def _placed(rows: pd.DataFrame, code: str, version: str, triple: str) -> pd.DataFrame:
    """The waiting rows as case rows of `code`: keyed as an import placing them there would key them."""
    out = rows.copy()
    out["commune_code"], out["located_by"], out["code_version"] = code, OPERATOR_CHOICE, version
    for col in ("community", "source_known", "count", "lon", "lat", "age"):     # as an import parses them (keys, digests)
        out[col] = pd.to_numeric(out[col]).astype(float)
    out["count"] = out["count"].astype("int64")
    counts = out["kind"] == "count"
    if counts.any():
        out.loc[counts, "case_key"] = count_keys(out[counts], pd.Series(triple, index=out.index[counts]))
    out["row_hash"] = row_hashes(out)
    return out


