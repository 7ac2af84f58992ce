"""Reading operator tables (CSV/XLSX), parsing their cells, and keeping rejected rows."""
from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from .errors import InputError

# Dates before the first case in Vietnam (23/1/2020) are typing errors, not history.
EARLIEST_DATE = dt.date(2020, 1, 1)
TRUE_WORDS = frozenset({"true", "1", "yes", "y", "x", "co", "có", "t", "dung", "đúng", "1.0"})
FALSE_WORDS = frozenset({"false", "0", "no", "n", "khong", "không", "f", "sai", "0.0"})
# Encodings tried in order for CSV: Excel's UTF-8 with BOM, plain UTF-8, Windows Vietnamese.
CSV_ENCODINGS = ("utf-8-sig", "cp1258")


def read_table(path: Path) -> pd.DataFrame:
    """All cells as stripped strings ('' for empty). The row number of a record is index + 2."""
    if not path.exists():
        raise InputError("file_missing", path=str(path))
    try:
        if path.suffix.lower() in (".xlsx", ".xlsm"):
            df = pd.read_excel(path, dtype=object, engine="openpyxl")
        else:
            df = None
            for enc in CSV_ENCODINGS:
                try:
                    df = pd.read_csv(path, dtype=str, keep_default_na=False, sep=None, engine="python", encoding=enc)
                    break
                except UnicodeDecodeError:
                    continue
            if df is None:
                raise InputError("file_unreadable", path=str(path), detail="unknown text encoding (use UTF-8)")
    except InputError:
        raise
    except Exception as exc:  # pandas/openpyxl raise many types for a broken file
        raise InputError("file_unreadable", path=str(path), detail=str(exc).strip()) from None
    if df.empty:
        raise InputError("empty_file", path=str(path))
    df.columns = [str(c) for c in df.columns]
    return df.apply(lambda s: s.map(cell)).reset_index(drop=True)


def cell(v) -> str:
    """One cell as text: empty for None/NaN/NaT, ISO for dates, '12' for 12.0."""
    if v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, (dt.datetime, pd.Timestamp)):
        return v.date().isoformat()
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v).strip()


class RowErrors:
    """Collects the first error of each row: (field, reason)."""

    def __init__(self, n: int):
        self.field = np.full(n, "", dtype=object)
        self.reason = np.full(n, "", dtype=object)

    def add(self, mask: np.ndarray, field: str, reason) -> None:
        new = np.asarray(mask, dtype=bool) & (self.field == "")
        if np.isscalar(reason) or isinstance(reason, str):
            self.reason[new] = reason
        else:
            self.reason[new] = np.asarray(reason, dtype=object)[new]
        self.field[new] = field

    @property
    def bad(self) -> np.ndarray:
        return self.field != ""


def parse_dates(values: pd.Series, today: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """ISO or dd/mm/yyyy -> (array of ISO strings or None, error text per row or '')."""
    out = np.full(len(values), None, dtype=object)
    err = np.full(len(values), "", dtype=object)
    for k, raw in enumerate(values.to_numpy()):
        if raw == "":
            continue
        try:
            if "/" in raw:
                d, m, y = raw.split("/")
                day = dt.date(int(y), int(m), int(d))
            else:
                day = dt.date.fromisoformat(raw[:10])
        except (ValueError, TypeError):
            err[k] = f"not a date (YYYY-MM-DD or dd/mm/yyyy): {raw!r}"
            continue
        if day > today:
            err[k] = f"date in the future: {day.isoformat()}"
        elif day < EARLIEST_DATE:
            err[k] = f"date before {EARLIEST_DATE.isoformat()}: {day.isoformat()}"
        else:
            out[k] = day.isoformat()
    return out, err


def option_bool(name: str, value) -> bool | None:
    """A file-wide default given on the command line or in an upload form: None when not given."""
    if value is None or str(value).strip() == "":
        return None
    v = str(value).strip().lower()
    if v in TRUE_WORDS:
        return True
    if v in FALSE_WORDS:
        return False
    raise InputError("bad_param", name=name, value=value, allowed="true or false")


def parse_bool(values: pd.Series, default: bool | None) -> tuple[np.ndarray, np.ndarray]:
    """-> (float array 1/0/NaN, error text per row). Empty cells take the file default."""
    low = values.str.lower().to_numpy()
    out = np.full(len(values), np.nan)
    out[np.isin(low, list(TRUE_WORDS))] = 1.0
    out[np.isin(low, list(FALSE_WORDS))] = 0.0
    if default is not None:
        out[low == ""] = 1.0 if default else 0.0
    err = np.where(np.isnan(out) & (low != ""), "not true/false: " + values.to_numpy().astype(str), "")
    return out, err


def summary(accepted: int, errors: "RowErrors", changed: int, rejects: Path | None, source: Path | None = None,
            shown: int = 5) -> dict:
    """What an import reports: counts, where the rejects are, and the first few reasons (file, row, field)."""
    bad = np.flatnonzero(errors.bad)
    where = f"{Path(source).name}: " if source is not None else ""
    return {"accepted": accepted, "rejected": len(bad), "changed": changed, "unchanged": accepted - changed,
            "rejects_path": str(rejects) if rejects else None,
            "reasons": [f"{where}row {i + 2}, {errors.field[i]}: {errors.reason[i]}" for i in bad[:shown]]}


def log_import(con, kind: str, path: Path, sha256: str, stamp: str, result: dict) -> int:
    cur = con.execute("INSERT INTO imports (kind, path, sha256, imported_at, accepted, rejected, changed, rejects_path) "
                      "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (kind, str(path), sha256, stamp, result["accepted"],
                                                         result["rejected"], result["changed"], result["rejects_path"]))
    return cur.lastrowid


def write_rejects(df: pd.DataFrame, errors: RowErrors, rejects_dir: Path, source: Path, stamp: str) -> Path | None:
    bad = errors.bad
    if not bad.any():
        return None
    rejects_dir.mkdir(parents=True, exist_ok=True)
    # Rejected rows keep their values so the operator can fix them, but never a patient's name,
    # address or phone: the row number points back to the operator's own file.
    from .columns import PERSONAL_COLUMNS, normalise_header
    out = df[bad].drop(columns=[c for c in df.columns if normalise_header(c) in PERSONAL_COLUMNS])
    # The file's own columns named like ours keep their values under another name.
    out = out.rename(columns={c: f"{c}_in_file" for c in ("file", "row", "field", "reason") if c in out.columns})
    out.insert(0, "reason", errors.reason[bad])
    out.insert(0, "field", errors.field[bad])
    out.insert(0, "row", np.flatnonzero(bad) + 2)
    out.insert(0, "file", source.name)
    path = rejects_dir / f"{stamp}-{source.stem}-rejects.csv"
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, encoding="utf-8-sig")
    return path
