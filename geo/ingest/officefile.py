"""Operator tables as provincial offices really send them, read into text columns.

- Text files: UTF-8 (with or without BOM), Excel's "Unicode text" (UTF-16 LE/BE with BOM, tab-separated),
  Windows Vietnamese (cp1258); comma, semicolon or tab, found from the header line. Blank lines before
  the header are skipped. A line with more cells than the header (an unquoted comma) is set aside with
  its line number and reason; the rest of the file is read. A cell holding a NUL or another control
  character puts its row aside too: such bytes would otherwise end up inside keys.
- Workbooks (XLSX): every sheet with data, not only the first. Sheets with the same columns are read
  as one table, rows named "Sheet!row"; sheets with other columns stop the import with a message
  naming them (half a workbook is never imported silently).

Every cell is text ("" when empty), in columns backed by Arrow strings: a million-row line list takes a
fraction of the memory of Python strings. `rows` names each record where the operator finds it: the
line number in a text file (header = its own line), "row" or "Sheet!row" in a workbook.
"""
from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv

from geo.base.errors import InputError
from geo.ingest import workbook

# How many records are turned into Arrow columns at a time (keeps Python's strings short-lived).
CHUNK_ROWS = 200_000
# Bytes read to find the encoding and the separator.
HEAD_BYTES = 64 * 1024
SEPARATORS = (",", ";", "\t")
# Control characters never belong in a cell (tab and line breaks inside quoted cells excepted).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass
class Table:
    frame: pd.DataFrame
    rows: np.ndarray                                       # where each record is in the file
    set_aside: list[tuple[str, str, str]] = field(default_factory=list)   # (row, field, reason) of unreadable lines
    sheets: list[str] = field(default_factory=list)


def _encoding(head: bytes) -> tuple[str, int]:
    """(codec, bytes of BOM) from the first bytes."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8", 3
    if head.startswith(codecs.BOM_UTF16_LE):
        return "utf-16-le", 2
    if head.startswith(codecs.BOM_UTF16_BE):
        return "utf-16-be", 2
    # UTF-16 without a BOM: every other byte of ASCII text is zero
    if len(head) >= 4 and head[1:40:2].count(0) > 15 and head[0:40:2].count(0) == 0:
        return "utf-16-le", 0
    if len(head) >= 4 and head[0:40:2].count(0) > 15 and head[1:40:2].count(0) == 0:
        return "utf-16-be", 0
    try:
        head.decode("utf-8")
        return "utf-8", 0
    except UnicodeDecodeError as exc:
        if exc.start >= len(head) - 4:        # a character cut by the end of the sample
            return "utf-8", 0
    return "cp1258", 0


def _separator(header: str) -> str:
    counts = {s: len(next(csv.reader([header], delimiter=s))) for s in SEPARATORS}
    return max(SEPARATORS, key=lambda s: (counts[s], s == ","))


# A preview reads this much of a text file (its first rows), never the whole file.
PREVIEW_BYTES = 1 << 20


def _text(path: Path, label: str, limit: int | None = None) -> Table:
    if limit is not None:
        with open(path, "rb") as fh:
            raw = fh.read(PREVIEW_BYTES)
        enc, bom = _encoding(raw[:HEAD_BYTES])
        text = raw[bom:].decode(enc, errors="ignore")
        text = "\n".join(text.splitlines()[:limit + 50])     # the header, blank lines before it, the first rows
        return _parse_text(text, label, limit)
    raw = path.read_bytes()
    enc, bom = _encoding(raw[:HEAD_BYTES])
    try:
        text = raw[bom:].decode(enc)
    except UnicodeDecodeError:
        if enc != "utf-8":
            raise InputError("file_unreadable", path=label, detail=f"not valid {enc} text") from None
        try:
            enc, text = "cp1258", raw.decode("cp1258")
        except UnicodeDecodeError:
            raise InputError("file_unreadable", path=label, detail="unknown text encoding (save as UTF-8)") from None
    return _parse_text(text, label)


def _parse_text(text: str, label: str, limit: int | None = None) -> Table:
    lines = io.StringIO(text, newline="")
    # blank lines (or lines of separators only) before the header
    header_line, skipped = "", 0
    for line in lines:
        skipped += 1
        if line.strip(" \t\r\n,;"):
            header_line = line
            break
    if not header_line:
        raise InputError("empty_file", path=label)
    sep = _separator(header_line.rstrip("\r\n"))
    header = [h.strip() for h in next(csv.reader([header_line], delimiter=sep))]
    while header and header[-1] == "":
        header.pop()
    if not header:
        raise InputError("empty_file", path=label)
    fast = _columnar(text, skipped, header, sep) if limit is None else None
    if fast is not None:
        return fast
    table = _records(lines, skipped, header, sep)
    if limit is not None:
        table = Table(table.frame.head(limit), table.rows[:limit], table.set_aside, table.sheets)
    return table


def _columnar(text: str, skipped: int, header: list[str], sep: str) -> Table | None:
    """The common case in C (pyarrow): one record per line, every line as wide as the header, no
    blank line and no control character. Anything else: None, and the exact reader takes over."""
    body_lines = text.count("\n") + (0 if text.endswith("\n") else 1) - skipped
    if body_lines <= 0:
        return None
    bad: list = []

    def set_aside(row) -> str:
        bad.append(row)
        return "skip"

    width = len(header)
    names = [f"c{k}" for k in range(width)]
    try:
        table = pcsv.read_csv(
            pa.BufferReader(text.encode("utf-8")),
            read_options=pcsv.ReadOptions(skip_rows=skipped, column_names=names, block_size=1 << 24),
            parse_options=pcsv.ParseOptions(delimiter=sep, newlines_in_values=False, ignore_empty_lines=False,
                                            invalid_row_handler=set_aside),
            convert_options=pcsv.ConvertOptions(column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                                                quoted_strings_can_be_null=False))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeError):
        return None
    if bad or table.num_rows != body_lines:
        return None
    columns = []
    for name in names:
        col = table.column(name)
        if pc.any(pc.match_substring_regex(col, _CONTROL.pattern)).as_py():
            return None
        columns.append(pc.utf8_trim_whitespace(col).combine_chunks())
    empty = None
    for col in columns:
        blank = pc.equal(col, "")
        empty = blank if empty is None else pc.and_(empty, blank)
    keep = pc.invert(empty)
    lines = np.arange(skipped + 1, skipped + 1 + table.num_rows)
    if not pc.all(keep).as_py():
        columns = [pc.filter(c, keep) for c in columns]
        lines = lines[keep.to_numpy(zero_copy_only=False)]
    frame = pd.DataFrame({n: pd.Series(pd.arrays.ArrowStringArray(c), dtype="string[pyarrow]")
                          for n, c in zip(_unique(header), columns, strict=False)})
    return Table(frame, lines)


def _records(lines, skipped: int, header: list[str], sep: str) -> Table:
    """The exact reader (Python's csv): line numbers of records that span lines, lines set aside with
    their reason, short lines padded."""
    reader = csv.reader(lines, delimiter=sep)
    width = len(header)
    columns: list[list] = [[] for _ in range(width)]
    chunks: list[list] = [[] for _ in range(width)]
    rows: list[int] = []
    aside: list[tuple[str, str, str]] = []
    line_no = skipped
    for rec in reader:
        start = line_no + 1
        line_no = skipped + reader.line_num
        if not any(c.strip() for c in rec):
            continue
        if len(rec) > width:
            if any(c.strip() for c in rec[width:]):
                aside.append((str(start), "", f"{len(rec)} cells where the header has {width} "
                                                f"(a comma inside a value needs quotes)"))
                continue
            rec = rec[:width]
        elif len(rec) < width:
            rec = rec + [""] * (width - len(rec))
        bad = next((k for k, c in enumerate(rec) if _CONTROL.search(c)), None)
        if bad is not None:
            aside.append((str(start), header[bad], "a control character (such as NUL) in the cell"))
            continue
        rows.append(start)
        for k, c in enumerate(rec):
            columns[k].append(c.strip())
        if len(rows) % CHUNK_ROWS == 0:
            _flush(columns, chunks)
    _flush(columns, chunks)
    return Table(_frame(header, chunks), np.array(rows, dtype=np.int64), aside)


def _flush(columns: list[list], chunks: list[list]) -> None:
    for k, col in enumerate(columns):
        if col:
            chunks[k].append(pa.array(col, type=pa.string()))
            columns[k] = []


def _frame(header: list[str], chunks: list[list]) -> pd.DataFrame:
    data = {}
    for name, parts in zip(_unique(header), chunks, strict=False):
        arr = pa.chunked_array(parts, type=pa.string()) if parts else pa.chunked_array([], type=pa.string())
        data[name] = pd.Series(pd.arrays.ArrowStringArray(arr.combine_chunks()), dtype="string[pyarrow]")
    return pd.DataFrame(data)


def _unique(header: list[str]) -> list[str]:
    """Header names made unique (a repeated or empty header keeps its position in the name)."""
    out, seen = [], set()
    for k, h in enumerate(header):
        name = h or f"column_{k + 1}"
        while name in seen:
            name = f"{name}_{k + 1}"
        seen.add(name)
        out.append(name)
    return out


def _workbook(path: Path, label: str, limit: int | None = None) -> Table:
    names, found = workbook.sheets(path, label, limit)
    many = len(found) > 1
    width = len(names)
    columns: list[list] = [[] for _ in range(width)]
    chunks: list[list] = [[] for _ in range(width)]
    rows, aside = [], []
    for title, body in found:
        for n, cells in body:
            where = f"{title}!{n}" if many else str(n)
            cells = (cells + [""] * width)[:width]
            bad = next((k for k, c in enumerate(cells) if _CONTROL.search(c)), None)
            if bad is not None:
                aside.append((where, names[bad], "a control character (such as NUL) in the cell"))
                continue
            rows.append(where)
            for k, c in enumerate(cells):
                columns[k].append(c)
    _flush(columns, chunks)
    return Table(_frame(names, chunks), np.array(rows, dtype=object), aside, [t for t, _ in found])


def read(path: Path, label: str | None = None, limit: int | None = None) -> Table:
    """The table in `path` (CSV/TSV/TXT or XLSX). `label`: the name to give in messages (an upload's own
    file name rather than where the server keeps it). `limit`: its first rows only (a preview)."""
    path = Path(path)
    label = label or str(path)
    if not path.exists():
        raise InputError("file_missing", path=label)
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
        if head.startswith(b"PK\x03\x04") or path.suffix.lower() in (".xlsx", ".xlsm"):
            table = _workbook(path, label, limit)
        else:
            table = _text(path, label, limit)
    except InputError:
        raise
    except Exception as exc:  # openpyxl and the csv module raise many types for a broken file
        raise InputError("file_unreadable", path=label, detail=str(exc).strip()[:300]) from None
    if table.frame.empty and not table.set_aside:
        raise InputError("empty_file", path=label)
    return table
