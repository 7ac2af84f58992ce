"""Rejected rows written for the operator to correct and import again: by allowlist, only the importer's own
columns, each cell kept only when it is safe to show or a place name of the boundary version."""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import PERSONAL_COLUMNS, normalise_header
from geo.base.names import normalise
from geo.ingest.personal import MASK, personal_cells, personal_header, scrub
from geo.ingest.tables import RowErrors, shown
from geo.store.formats import spreadsheet_cell


def write_rejects(df: pd.DataFrame, errors: RowErrors, rejects_dir: Path, source: Path, stamp: str,
                  allowed: list[str] | tuple[str, ...] | None = None, names: dict[str, set[str]] | None = None) -> Path | None:
    """The rejected rows, to correct and import again: row, field, reason and the columns the importer reads
    (`allowed`, under its names), never any other column of the file (by allowlist: a column the importer does
    not use may hold anything). In them a cell is kept when it is safe to show (shown()), or, in a column of
    place names (`names`: column -> the normalised names of the boundary version), when it is one of them; any
    other cell is masked (a person's name typed where a commune was meant)."""
    bad = errors.bad
    if not bad.any() and not errors.set_aside:
        return None
    rejects_dir.mkdir(parents=True, exist_ok=True)
    keep = [c for c in (allowed if allowed is not None else df.columns) if c in df.columns]
    personal = [c for c in keep if c in errors.masked or normalise_header(c) in PERSONAL_COLUMNS or personal_header(c)]
    out = pd.DataFrame(df.loc[bad, [c for c in keep if c not in personal]]).astype(object)
    for col in out.columns:
        cells = out[col].astype(str).to_numpy(dtype=object)
        known = names.get(col) if names is not None else None
        ok = np.array([v == "" or (normalise(v) in known if known is not None else shown(v)) for v in cells], dtype=bool)
        ok &= ~personal_cells(pd.Series(cells, dtype=object)).to_numpy(dtype=bool)
        out[col] = out[col].where(ok, MASK)
    # The file's own columns named like ours keep their values under another name.
    out = out.rename(columns={c: f"{c}_in_file" for c in ("file", "row", "field", "reason") if c in out.columns})
    out.insert(0, "reason", [scrub(r) for r in errors.reason[bad]])
    out.insert(0, "field", errors.field[bad])
    out.insert(0, "row", errors.rows[bad])
    if errors.set_aside:
        aside = pd.DataFrame(errors.set_aside, columns=["row", "field", "reason"])
        out = pd.concat([aside, out], ignore_index=True)
    out.insert(0, "file", source.name)
    path = rejects_dir / f"{stamp}-{source.stem}-rejects.csv"
    out = out.map(lambda v: spreadsheet_text(v) if isinstance(v, str) else v)
    out.to_csv(path, index=False, quoting=csv.QUOTE_MINIMAL, encoding="utf-8-sig")
    return path


def spreadsheet_text(v: str) -> str:
    """A CSV cell a spreadsheet would run as a formula (=, +, -, @, tab, CR first) gets a leading
    apostrophe, as in the XLSX files (formula injection)."""
    return str(spreadsheet_cell(v))
