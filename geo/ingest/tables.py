"""Reading operator tables (CSV/XLSX), parsing their cells, and keeping rejected rows."""
from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.errors import InputError
from geo.base.vocabulary import FALSE_WORDS, TRUE_WORDS
from geo.ingest import officefile
from geo.ingest.personal import MASK, scrub
from geo.ingest.workbook import cell as office_cell

# Dates before the first case in Vietnam (23/1/2020) are typing errors, not history.
EARLIEST_DATE = dt.date(2020, 1, 1)
# Encodings tried in order for CSV: Excel's UTF-8 with BOM, plain UTF-8, Windows Vietnamese.
CSV_ENCODINGS = ("utf-8-sig", "cp1258")


def read_table(path: Path, label: str | None = None, rename: dict[str, str] | None = None,
               limit: int | None = None) -> pd.DataFrame:
    """All cells as stripped strings ('' for empty), read as offices send them (geo/ingest/officefile.py).
    attrs: `rows` (where each record is in the file), `set_aside` (lines that could not be read as a
    record: (row, field, reason)), `source` (the file's name for messages). `rename`: {the file's header:
    our column} chosen by the operator for headers the importer does not know ("Mã ĐVHC" -> commune_code)."""
    t = officefile.read(Path(path), label, limit)
    df = t.frame.rename(columns=rename) if rename else t.frame
    df.attrs["table"] = Origin(t.rows, t.set_aside, t.sheets, label or Path(path).name)
    return df


class Origin:
    """Where a table's records are in their file. Kept in DataFrame.attrs, which pandas deep-copies
    on every operation: this object is shared instead (copying a million row labels each time was
    most of an import's time)."""

    def __init__(self, rows, set_aside, sheets, source):
        self.rows, self.set_aside, self.sheets, self.source = rows, set_aside, sheets, source

    def __deepcopy__(self, memo):
        return self


def origin(table: pd.DataFrame) -> Origin | None:
    return table.attrs.get("table")


def cell(v) -> str:
    return office_cell(v)


class RowErrors:
    """Collects the first error of each row: (field, reason). `rows` names the rows as the operator
    finds them (line numbers, "Sheet!row"); `set_aside` holds lines the reader could not read as a
    record at all, reported with the rest."""

    def __init__(self, n: int, rows=None, set_aside=(), cells: pd.DataFrame | None = None):
        self.field = np.full(n, "", dtype=object)
        self.reason = np.full(n, "", dtype=object)
        self.rows = np.asarray(rows, dtype=object) if rows is not None else np.arange(2, n + 2).astype(str).astype(object)
        self.set_aside = list(set_aside)
        self.masked: set[str] = set()          # columns found to be personal: left out of the rejects
        self.offset = 0                        # first row of this part in the whole file (chunked imports)
        self.cells = cells                     # the file's cells: a reason quotes only those that are safe to show

    @classmethod
    def of(cls, table: pd.DataFrame) -> RowErrors:
        o = origin(table)
        return cls(len(table), o.rows if o else None, o.set_aside if o else (), table)

    def where(self, k: int) -> str:
        return str(self.rows[k])

    def view(self, start: int, stop: int) -> RowErrors:
        """The errors of rows start..stop: marks made through it land in this object (numpy views)."""
        part = RowErrors.__new__(RowErrors)
        part.field, part.reason, part.rows = self.field[start:stop], self.reason[start:stop], self.rows[start:stop]
        part.set_aside, part.masked, part.offset = [], self.masked, self.offset + start
        part.cells = self.cells
        return part

    def positions(self, index) -> np.ndarray:
        """Positions in this object of rows given by their labels in the file's frame (0..n-1)."""
        return np.asarray(index, dtype=np.int64) - getattr(self, "offset", 0)

    def add(self, mask: np.ndarray, field: str, reason) -> None:
        """Mark rows `mask` (those without an error yet) with `field` and `reason`: a text, an array of
        texts per row, or a function of the rows' positions giving theirs (made for those rows only:
        a million rows do not pay for a million messages they will never show)."""
        new = np.asarray(mask, dtype=bool) & (self.field == "")
        if not new.any():
            return
        if callable(reason):
            at = np.flatnonzero(new)
            self.reason[at] = np.asarray(reason(at), dtype=object)
        elif np.isscalar(reason) or isinstance(reason, str):
            self.reason[new] = reason
        else:
            self.reason[new] = np.asarray(reason, dtype=object)[new]
        self.field[new] = field
        self._guard(np.flatnonzero(new))

    def _guard(self, at: np.ndarray) -> None:
        """A reason quotes a cell of its row only when the cell is safe to show anywhere (a code, a number,
        a date, a plain word: shown()); any other cell of the row found in the reason is masked. By
        allowlist: whatever a file holds, a name or a phone never reaches a message, a log or a rejects file."""
        if self.cells is None or not len(at):
            return
        rows = self.cells.iloc[np.asarray(at) + self.offset]
        for k, values in zip(at, rows.itertuples(index=False, name=None), strict=True):
            text = str(self.reason[k])
            for v in sorted({str(v) for v in values if v not in (None, "")}, key=len, reverse=True):
                if v in text and not shown(v):
                    text = text.replace(v, MASK)
            self.reason[k] = text

    def first_rows(self, keys: pd.Series, where: np.ndarray | None = None) -> np.ndarray:
        """For rows `where` (all by default), where the first row with the same key is ("duplicate of row N")."""
        dup_keys = keys[keys.duplicated(keep=False)]
        first: dict = {}
        for label, key in zip(self.rows[dup_keys.index.to_numpy()], dup_keys, strict=False):
            first.setdefault(key, label)
        picked = keys if where is None else keys.iloc[where]
        return np.array([str(first.get(k, "")) for k in picked], dtype=object)

    @property
    def bad(self) -> np.ndarray:
        return self.field != ""

    @property
    def n_rejected(self) -> int:
        return int(self.bad.sum()) + len(self.set_aside)


def parse_dates(values: pd.Series, today: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """ISO or dd/mm/yyyy -> (array of ISO strings or None, error text per row or ''). Vectorised."""
    s = values.astype(str).str.strip()
    if not (s != "").any():                     # an empty or absent column: nothing to parse
        return np.full(len(values), None, dtype=object), np.full(len(values), "", dtype=object)
    if s.str.fullmatch(r"\d{4}-\d{2}-\d{2}").fillna(False).all():      # all ISO days: checked, kept as written
        day = pd.to_datetime(s, format="%Y-%m-%d", errors="coerce")
        if not day.isna().any() and day.min() >= pd.Timestamp(EARLIEST_DATE) and day.max() <= pd.Timestamp(today):
            return s.to_numpy(dtype=object), np.full(len(values), "", dtype=object)
    text = s.to_numpy(dtype=object)
    slash = s.str.contains("/", regex=False).fillna(False).to_numpy(dtype=bool)
    # seconds, not nanoseconds: a year like 0635 or 4876 is a date out of range (said per row), not an overflow
    iso = pd.to_datetime(s.str.slice(0, 10), format="%Y-%m-%d", errors="coerce").astype("datetime64[s]")
    dmy = pd.to_datetime(s, format="%d/%m/%Y", errors="coerce").astype("datetime64[s]")
    day = pd.Series(np.where(slash, dmy, iso), index=s.index).astype("datetime64[s]")
    empty = text == ""
    out = np.full(len(values), None, dtype=object)
    err = np.full(len(values), "", dtype=object)
    bad = ~empty & day.isna().to_numpy()
    err[bad] = "not a date (YYYY-MM-DD or dd/mm/yyyy): " + text[bad].astype(str)
    ok = ~empty & ~bad
    iso_text = day.dt.strftime("%Y-%m-%d").to_numpy(dtype=object)
    future = ok & (day > pd.Timestamp(today)).to_numpy()
    early = ok & (day < pd.Timestamp(EARLIEST_DATE)).to_numpy()
    err[future] = "date in the future: " + iso_text[future].astype(str)
    err[early] = f"date before {EARLIEST_DATE.isoformat()}: " + iso_text[early].astype(str)
    good = ok & ~future & ~early
    out[good] = iso_text[good]
    return out, err


# Numbers as offices write them. Whole numbers may group thousands with '.', ',' or a space
# ("1.000", "12.500", "1 000"); decimals use ',' in Vietnamese files and '.' in others.
_GROUPED = r"[+-]?\d{1,3}(?:[.,\s]\d{3})+"
_ONE_GROUP = r"[+-]?\d{1,3}[.,]\d{3}"


def parse_number(values: pd.Series, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """-> (float array, NaN where empty or wrong; error text per row or '').

    kind "whole" (counts, population): "1.000" and "1,000" are a thousand, "12,0" is 12, "1,5" is refused.
    kind "decimal" (rates, percentages, age): the column tells which mark is the decimal one ("85,5"
    somewhere: ','; "85.5": '.'); "1.234" alone could be either and is refused with the reason.
    kind "coordinate" (lon, lat): one mark, always the decimal one ("109,19" or "109.19").
    Infinite or not-a-number values are refused in every kind."""
    s = values.astype(str).str.strip().str.replace("\u00a0", " ", regex=False)
    plain = s.str.fullmatch(r"[+-]?\d{1,15}").fillna(False)
    if plain.all() or not (s != "").any():       # whole numbers without marks, or nothing: the fast way
        out = np.array(pd.to_numeric(s.where(s != "", None), errors="coerce"), dtype=float)
        return out, np.full(len(values), "", dtype=object)
    text = s.to_numpy(dtype=object)
    empty = text == ""
    if kind == "coordinate":
        norm = s.str.replace(",", ".", regex=False)
    elif kind == "whole":
        grouped = s.str.fullmatch(_GROUPED).fillna(False)
        norm = s.where(~grouped, s.str.replace(r"[.,\s]", "", regex=True))
        norm = norm.str.replace(r"^([+-]?\d+)[.,]0+$", r"\1", regex=True)
    else:
        comma = s.str.fullmatch(r"[+-]?\d+,\d+").fillna(False) & ~s.str.fullmatch(_ONE_GROUP).fillna(False)
        dot = s.str.fullmatch(r"[+-]?\d+\.\d+").fillna(False) & ~s.str.fullmatch(_ONE_GROUP).fillna(False)
        vn = s.str.fullmatch(r"[+-]?\d{1,3}(?:\.\d{3})+(?:,\d+)?|[+-]?\d+,\d+").fillna(False) & ~s.str.fullmatch(_ONE_GROUP).fillna(False)
        en = s.str.fullmatch(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?|[+-]?\d+\.\d+").fillna(False) & ~s.str.fullmatch(_ONE_GROUP).fillna(False)
        style = "vn" if (comma.any() or vn.any()) and not (dot.any() or en.any()) else \
            "en" if (dot.any() or en.any()) and not (comma.any() or vn.any()) else None
        as_vn = s.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        as_en = s.str.replace(",", "", regex=False)
        one = s.str.fullmatch(_ONE_GROUP).fillna(False)
        norm = s.where(~(vn & ~en), as_vn).where(~(en & ~vn), as_en)
        if style == "vn":
            norm = norm.where(~one, as_vn)
        elif style == "en":
            norm = norm.where(~one, as_en)
        else:
            norm = norm.where(~one, "ambiguous")
        norm = norm.where(~(s.str.fullmatch(r"[+-]?\d+").fillna(False)), s)
    out = np.array(pd.to_numeric(norm, errors="coerce").to_numpy(dtype=float, na_value=np.nan), dtype=float)
    err = np.full(len(values), "", dtype=object)
    finite = np.isfinite(out)
    if kind == "decimal":
        amb = (norm == "ambiguous").to_numpy(dtype=bool, na_value=False)
        err[amb] = "ambiguous number " + text[amb] + ": write 1234 or 1,234 (the decimal mark is ',')"
    if kind == "whole":
        frac = ~empty & (norm.str.fullmatch(r"[+-]?\d+[.,]\d+").fillna(False).to_numpy(dtype=bool)
                         | (finite & (out != np.round(out))))
        err[frac] = "not a whole number: " + text[frac].astype(str)
    infinite = np.isinf(out) | s.str.lower().str.fullmatch(r"[+-]?(nan|inf|infinity)").fillna(False).to_numpy(dtype=bool)
    bad = ~empty & ~finite & (err == "")
    err[bad & infinite] = "not a finite number: " + text[bad & infinite].astype(str)
    err[bad & ~infinite] = "not a number: " + text[bad & ~infinite].astype(str)
    out[~finite | (err != "")] = np.nan
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
    lower = values.astype(str).str.lower()
    empty = (lower == "").to_numpy(dtype=bool)
    out = np.full(len(values), np.nan)
    out[lower.isin(TRUE_WORDS).to_numpy(dtype=bool)] = 1.0
    out[lower.isin(FALSE_WORDS).to_numpy(dtype=bool)] = 0.0
    if default is not None:
        out[empty] = 1.0 if default else 0.0
    err = np.full(len(values), "", dtype=object)
    bad = np.isnan(out) & ~empty
    if bad.any():
        err[bad] = "not true/false: " + values[bad].astype(str).to_numpy(dtype=object)
    return out, err


def summary(accepted: int, errors: RowErrors, changed: int, rejects: Path | None, source: Path | None = None,
            shown: int = 5) -> dict:
    """What an import reports: counts, where the rejects are, and the first few reasons (file, row, field)."""
    bad = np.flatnonzero(errors.bad)
    where = f"{Path(source).name}: " if source is not None else ""
    listed = [(r, f, why) for r, f, why in errors.set_aside] + \
        [(errors.where(i), errors.field[i], scrub(errors.reason[i])) for i in bad[:shown]]
    return {"accepted": accepted, "rejected": errors.n_rejected, "changed": changed, "unchanged": accepted - changed,
            "rejects_path": str(rejects) if rejects else None,
            "reasons": [f"{where}row {r}, {f or '—'}: {why}" for r, f, why in listed[:shown]]}


# A cell quoted in a message or kept in a rejects file (by allowlist): numbers and dates (digits and separators,
# spaces between groups), or one token of letters, digits and _.:/- (a code: BN123, 30/07/2021, 12/QĐ-UBND is not:
# diacritics), with at most 8 digits (a phone or an ID number has 9 or more), or a word of our closed lists.
_SHOWN = re.compile(r"[0-9.,:/+\-]+(?: [0-9.,:/+\-]+)*|[A-Za-z0-9_.:/\-]+")
_SHOWN_WORDS = TRUE_WORDS | FALSE_WORDS | frozenset(
    {"cấp 1", "cấp 2", "cấp 3", "cấp 4", "cap 1", "cap 2", "cap 3", "cap 4", "nam", "nữ", "khác", "cao", "trung bình",
     "thấp"})


def shown(value: str) -> bool:
    """Whether a file's cell may be quoted in a message or kept in a rejects file."""
    v = str(value).strip()
    if v.lower() in _SHOWN_WORDS:
        return True
    return len(v) <= 24 and bool(_SHOWN.fullmatch(v)) and sum(ch.isdigit() for ch in v) <= 8
