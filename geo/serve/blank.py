"""Blank XLSX templates for the console's imports: Vietnamese headers the importers recognise (their
aliases), data validation where a spreadsheet can check a cell (dates, có/không, flag names, levels,
percentages) and one example row, which imports as it is on a store holding its commune."""
from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import TYPE_CHECKING

import lazy_loader as lazy

from geo.base.columns import FLAG_NAMES
from geo.base.errors import NotFoundError
from geo.store.database import Store

if TYPE_CHECKING:
    from openpyxl import Workbook
    from openpyxl.worksheet.datavalidation import DataValidation

# openpyxl takes a tenth of a second to import: loaded by the first workbook read or written
openpyxl = lazy.load("openpyxl")

YES_NO = '"có,không"'
# NQ 128's words for the four levels, as the declarations importer reads them (geo/ingest/declared.py).
LEVEL_WORDS = ("cấp 1", "cấp 2", "cấp 3", "cấp 4")
LEVELS = '"' + ",".join(LEVEL_WORDS) + '"'
# Rows the validations cover: a province's line list of a bad week fits.
ROWS = 20_000
EXAMPLE_DAY = dt.date(2021, 7, 31)
# kind -> columns: (header, validation, example value, note)
SPECS: dict[str, list[tuple[str, str | None, object, str]]] = {
    "cases": [
        ("Mã ca", None, "BN-0001", "mã riêng của ca bệnh (không ghi họ tên)"),
        ("Ngày công bố", "date", EXAMPLE_DAY, "dd/mm/yyyy"),
        ("Mã xã", None, "10001", "mã xã theo danh mục của Tổng cục Thống kê (hoặc ghi tên xã, huyện, tỉnh)"),
        ("Tên xã", None, "", ""), ("Tên huyện", None, "", ""), ("Tên tỉnh", None, "", ""),
        ("Cộng đồng", "yes_no", "có", "có: ca trong cộng đồng; không: ca đã cách ly"),
        ("Rõ nguồn", "yes_no", "không", "có: rõ nguồn lây"),
        ("Chùm", None, "C1", "mã chùm ca (nếu có)"),
        ("Nơi lây", None, "", "industrial_zone, school, large_supermarket, hard_to_trace"),
    ],
    "flags": [
        ("Mã xã", None, "10001", ""), ("Ngày", "date", EXAMPLE_DAY, "từ ngày"),
        ("Cờ", "flag", FLAG_NAMES[0], ", ".join(FLAG_NAMES)), ("Giá trị", "yes_no", "có", "có: đặt cờ; không: bỏ cờ"),
        ("Người đặt", None, "BCĐ tỉnh", ""), ("Đến ngày", "date", None, "bỏ trống: đến khi có thông báo mới"),
    ],
    "indicators": [
        ("Mã", None, "10001", "mã xã, huyện hoặc tỉnh"), ("Ngày", "date", EXAMPLE_DAY, ""),
        ("Tiêm 1 mũi 18", "pct", 72.5, "% người từ 18 tuổi tiêm ít nhất 1 mũi"),
        ("Tiêm đủ 50", "pct", 81.0, "% người từ 50 tuổi tiêm đủ liều"),
        ("Đáp ứng điều trị", "yes_no", "có", "đáp ứng năng lực điều trị"),
    ],
    "declarations": [
        ("Mã", None, "10001", "mã đơn vị"), ("Cấp độ", "level", "cấp 2", "cấp 1 (xanh) đến cấp 4 (đỏ)"),
        ("Từ ngày", "date", EXAMPLE_DAY, ""), ("Đến ngày", "date", None, "bỏ trống: đến khi có quyết định mới"),
        ("Số quyết định", None, "123/QĐ-UBND", ""), ("Người ghi", None, "BCĐ tỉnh", ""), ("Lý do", None, "", ""),
    ],
}


def _validation(kind: str) -> DataValidation:
    if kind == "date":
        return openpyxl.worksheet.datavalidation.DataValidation(type="date", operator="greaterThan", formula1="DATE(2019,12,1)", allow_blank=True,
                              error="Ngày dạng dd/mm/yyyy", showErrorMessage=True)
    if kind == "pct":
        return openpyxl.worksheet.datavalidation.DataValidation(type="decimal", operator="between", formula1="0", formula2="100", allow_blank=True,
                              error="Từ 0 đến 100", showErrorMessage=True)
    values = {"yes_no": YES_NO, "level": LEVELS, "flag": '"' + ",".join(FLAG_NAMES) + '"'}[kind]
    return openpyxl.worksheet.datavalidation.DataValidation(type="list", formula1=values, allow_blank=True, showErrorMessage=True)


# The example row's code where no boundaries are installed yet.
EXAMPLE_CODE = "10001"


def example_code(store: Store | None) -> str:
    """A commune of the boundary version in force: the example row imports as it is on these boundaries."""
    version = store.current_boundary_version() if store is not None and store.exists() else None
    if version is None:
        return EXAMPLE_CODE
    codes = store.load_units(version, "commune", texts=False)["code"].astype(str)      # type: ignore[union-attr]
    return str(codes.min()) if len(codes) else EXAMPLE_CODE


def template(kind: str, cache_dir: Path, store: Store | None = None) -> Path:
    """The template of `kind` (made once into the cache per example commune)."""
    if kind not in SPECS:
        raise NotFoundError("not_found", what=f"template {kind}")
    code = example_code(store)
    out = Path(cache_dir) / "templates" / f"mau-{kind}-{code}.xlsx"
    if out.exists():
        return out
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = kind
    spec = SPECS[kind]
    ws.append([h for h, _, _, _ in spec])
    ws.append([code if v == EXAMPLE_CODE else v for _, _, v, _ in spec])
    for col, (header, check, _, note) in enumerate(spec, start=1):
        cell = ws.cell(row=1, column=col)
        cell.font, cell.fill = openpyxl.styles.Font(bold=True), openpyxl.styles.PatternFill("solid", fgColor="DDE7F3")
        if note:
            cell.comment = openpyxl.comments.Comment(note, "zones")
        letter = cell.column_letter
        ws.column_dimensions[letter].width = max(14, len(header) + 4)
        if check is not None:
            dv = _validation(check)
            ws.add_data_validation(dv)
            dv.add(f"{letter}2:{letter}{ROWS}")
        if check == "date":
            ws.cell(row=2, column=col).number_format = "dd/mm/yyyy"
        elif check is None:
            ws.cell(row=2, column=col).number_format = "@"      # codes keep their leading zeros
    ws.freeze_panes = "A2"
    return save(wb, out)


def save(wb: Workbook, out: Path) -> Path:
    """A workbook written whole or not at all (a reader never sees half a file)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(f".{os.getpid()}.tmp")
    wb.save(tmp)
    tmp.replace(out)
    return out
