"""Excel workbooks as offices send them: every sheet that has data (a province often puts each district
on its own sheet), its header found below any title rows, each cell as the text a person sees."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import lazy_loader as lazy
import numpy as np
import pandas as pd

from geo.base.errors import InputError

# openpyxl takes a tenth of a second to import: loaded by the first workbook read or written
openpyxl = lazy.load("openpyxl")


def cell(v) -> str:
    """One workbook cell as text: empty for None/NaN, ISO for dates, '12' for 12.0."""
    if v is None or v is pd.NaT or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.date().isoformat()
    if isinstance(v, dt.date):
        return v.isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


def sheets(path: Path, label: str, limit: int | None = None) -> tuple[list[str], list[tuple[str, list[tuple[int, list[str]]]]]]:
    """The header's names and, per sheet with data, its rows (row number, cells). Every sheet must have
    the first one's header: a workbook whose sheets differ is refused rather than half read. `limit`: the
    first rows only (a preview reads what it shows, not the whole workbook)."""
    wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    try:
        found: list = []
        for ws in wb.worksheets:
            if limit is not None and found:
                break
            header, body = None, []  # type: ignore[var-annotated]
            for n, values in enumerate(ws.iter_rows(values_only=True), start=1):
                if limit is not None and len(body) >= limit:
                    break
                cells = [cell(v) for v in values]
                if header is None:
                    if any(cells):
                        header = (n, cells)
                    continue
                if any(cells):
                    body.append((n, cells))
            if header is not None and body:
                found.append((ws.title, header, body))
    finally:
        wb.close()
    if not found:
        raise InputError("empty_file", path=label)
    names = [h.strip() for h in found[0][1][1]]
    while names and names[-1] == "":
        names.pop()
    key = [n.lower() for n in names]
    for title, (_, head), _ in found[1:]:
        other = [h.strip().lower() for h in head]
        while other and other[-1] == "":
            other.pop()
        if other != key:
            raise InputError("sheets_differ", path=label, first=found[0][0], other=title)
    return names, [(title, body) for title, _, body in found]
