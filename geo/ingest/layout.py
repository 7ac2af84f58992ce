"""What an importer will make of a table's columns, shown before importing (the console's preview):
each header, the column it becomes (or none: not used), whether it is personal (dropped, never
stored, its cells never shown); and the operator's own mapping for headers the importer does not
know, remembered per file layout (the kind and its set of headers) so the next file of the same
layout imports as the last one did."""
from __future__ import annotations

import hashlib
from pathlib import Path

from geo.base.columns import CASE_ALIASES, FLAG_ALIASES, CaseCol, FlagCol, normalise_header, rename_columns
from geo.base.names import normalise
from geo.domain import indicators
from geo.ingest import caseparse, declared
from geo.ingest.indicators import canonical as indicator_headers
from geo.ingest.tables import read_table, shown
from geo.store import inputs
from geo.store.database import Store

# The columns each table import reads, in the order the preview offers them.
FIELDS: dict[str, tuple[str, ...]] = {
    "cases": tuple(c.value for c in CaseCol),
    "flags": tuple(c.value for c in FlagCol),
    "indicators": ("code", "date", *indicators.IMPORTED),
    "declarations": declared.COLUMNS,
}
# Rows shown in a preview.
PREVIEW_ROWS = 8
MASK = "•••"


def layout_key(kind: str, headers) -> str:
    """A file layout: the kind and its headers (normalised, in any order)."""
    names = sorted(normalise_header(h) for h in headers)
    return hashlib.sha256("\n".join([kind, *names]).encode("utf-8")).hexdigest()


def _canonical(kind: str, headers: list[str]) -> dict[str, str]:
    if kind == "cases":
        return rename_columns(headers, CASE_ALIASES)
    if kind == "flags":
        return rename_columns(headers, FLAG_ALIASES)
    if kind == "indicators":
        return indicator_headers(headers)
    return {h: declared.ALIASES.get(normalise_header(h), normalise_header(h)) for h in headers}


def remembered(store: Store, kind: str, headers) -> dict[str, str]:
    if not store.exists():
        return {}
    with store.connect(readonly=True) as con:
        return inputs.column_map(con, layout_key(kind, headers)) or {}


def remember(store: Store, kind: str, headers, rename: dict[str, str], by: str) -> None:
    with store.transaction() as con:
        inputs.save_column_map(con, layout_key(kind, headers), kind, rename, by)


def preview(store: Store, kind: str, path: Path, label: str) -> dict:
    """The headers, what each becomes (the remembered mapping applied), and the first rows: read alone (a
    large file is not parsed whole to show eight rows), and only the cells of the columns the import will use
    (a column it does not use is named, never shown: it may hold anything)."""
    raw = read_table(Path(path), label, limit=PREVIEW_ROWS)
    headers = [str(h) for h in raw.columns]
    rename = {h: c for h, c in remembered(store, kind, headers).items() if h in headers}
    mapped = _canonical(kind, [rename.get(h, h) for h in headers])
    target = {h: mapped[rename.get(h, h)] for h in headers}
    personal = caseparse.personal_columns(raw.rename(columns=rename), mapped)
    fields = FIELDS[kind]
    columns = [{"header": h, "target": target[h] if target[h] in fields else "",
                "personal": rename.get(h, h) in personal, "remembered": h in rename} for h in headers]
    head = raw.head(PREVIEW_ROWS)
    names = _place_names(store) if kind == "cases" else {}

    def cell(col: dict, v) -> str:
        text = str(v)
        if col["personal"] or not col["target"]:
            return MASK
        if col["target"] in names:                 # a place name of the boundary version, or nothing
            return text if not text or normalise(text) in names[col["target"]] else MASK
        return text if not text or shown(text) else MASK
    rows = [[cell(col, v) for col, v in zip(columns, row, strict=False)] for row in head.itertuples(index=False)]
    return {"kind": kind, "file": label, "fields": list(fields), "columns": columns, "rows": rows,
            "n_rows": len(raw), "layout": layout_key(kind, headers)}


def _place_names(store: Store) -> dict[str, set[str]]:
    """The normalised names of the current boundary version's units, by the case column they may be in."""
    version = store.current_boundary_version()
    if version is None:
        return {}
    units = store.load_units(version, "commune", texts=False)
    return {CaseCol.COMMUNE_NAME.value: set(units["name"].dropna().map(normalise)),
            CaseCol.DISTRICT_NAME.value: set(units["district_name"].dropna().map(normalise)),
            CaseCol.PROVINCE_NAME.value: set(units["province_name"].dropna().map(normalise))}


def rename_for(store: Store, kind: str, path: Path, label: str, chosen: dict[str, str], by: str,
               keep: bool) -> tuple[dict[str, str], bool]:
    """The headers to rename for an import: the operator's choices (header -> one of the kind's columns,
    kept where valid; remembered for the layout when `keep`), else the layout's remembered mapping.
    -> (mapping, whether it was the remembered one)."""
    headers = [str(h) for h in read_table(Path(path), label).columns]
    rename = {h: c for h, c in chosen.items() if h in set(headers) and c in FIELDS[kind]}
    if rename:
        if keep:
            remember(store, kind, headers, rename, by)
        return rename, False
    saved = {h: c for h, c in remembered(store, kind, headers).items() if h in set(headers)}
    return saved, bool(saved)
