"""import-cases: a line list (one row per case) or daily counts per commune, CSV or XLSX.

The file is read once (geo/ingest/officefile.py), then parsed and stored a chunk of rows at a time
(geo/ingest/caseparse.py) inside one transaction: a million-row line list takes a bounded amount of memory.
Rows that cannot be placed or parsed are kept in a rejects file with row, field and reason.
Idempotent: a case is keyed by (the pseudonym of) its case_id, a count by date + commune + its flags;
re-importing the same file changes nothing, a corrected file updates the rows it changes.
"""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from geo.base.columns import CaseCol as C
from geo.base.errors import MissingInputError
from geo.base.names import (
    BY_DISTRICT,
    BY_PROVINCE,
    BY_PROVINCE_TONE,
    EARLIER_CODE,
    EARLIER_NAMES,
    FOR_REVIEW,
    OPERATOR_CHOICE,
    normalise,
)
from geo.ingest import personal
from geo.ingest.caseparse import Plan, _text, parse
from geo.ingest.locate import earlier_places
from geo.ingest.rejects import write_rejects
from geo.ingest.tables import RowErrors, read_table, summary
from geo.ingest.units import sha256_file
from geo.store import caseload, formats, inputs, reviews
from geo.store.database import CASE_FIELDS, Store

# Rows parsed and stored at a time: memory stays bounded whatever the file's length.
CHUNK_ROWS = 200_000


def import_cases(store: Store, path: Path, rejects_dir: Path, today: dt.date,
                 community: bool | None = None, source_known: bool | None = None, label: str | None = None,
                 rename: dict[str, str] | None = None) -> dict:
    """Import a case file. `label`: the file's name in messages and the import log (an upload's own
    name); the pseudonym key lives in the data folder (rejects_dir's parent)."""
    path = Path(path)
    label = label or path.name
    version = store.current_boundary_version()
    if version is None:
        raise MissingInputError("no_units")
    raw = read_table(path, label, rename)
    units = store.load_units(version, texts=False)      # placing needs the polygons, not their GeoJSON texts
    earlier = earlier_places(store, version)
    secret = personal.key(Path(rejects_dir).parent)
    plan = Plan.of(raw, path)
    df = plan.frame(raw)
    err = RowErrors.of(raw)
    err.masked = set(plan.personal)
    if not plan.is_counts:          # duplicates across the whole file, before the chunks
        ids = df[C.CASE_ID.value].astype(str)
        dup = (ids.duplicated() & (ids != "")).to_numpy(dtype=bool)
        err.add(dup, C.CASE_ID.value, lambda at: "duplicate case_id in this file, first at row " + err.first_rows(ids, at))
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S%f")
    with store.transaction() as con:
        migrate_identifiers(con, secret)
        import_id = inputs.log_import(con, "cases", Path(label), sha256_file(path), stamp,
                               {"accepted": 0, "rejected": 0, "changed": 0, "rejects_path": None})
        seen: dict = {}
        accepted = 0
        placed: list[pd.DataFrame] = []
        doubts: dict = {}
        waiting = [0, 0]
        with caseload.Loader(con, store.is_pg, import_id, len(df)) as loader:
            for start in range(0, len(df), CHUNK_ROWS):
                stop = min(start + CHUNK_ROWS, len(df))
                part = err.view(start, stop)
                acc = parse(df.iloc[start:stop], plan, units, today, community, source_known, secret, part, earlier,
                            doubts)
                if plan.is_counts:
                    acc = _first_of_each_count(acc, part, seen)
                review = acc["review_key"].notna().to_numpy()
                if review.any():          # doubtful names: the rows wait for an operator's choice, never guessed
                    later = acc[review].assign(review_key=lambda d: d["review_key"].map(lambda t: reviews.key(version, t)))
                    reviews.add_pending(con, later, import_id)
                    waiting[0] += len(later)
                    waiting[1] += int(later["count"].sum())
                    acc = acc[~review]
                loader.add(acc[list(CASE_FIELDS)])
                accepted += len(acc)
                placed.append(_placed_by_rule(acc, df.iloc[start:stop], part))
            loader.finish()
        if doubts:
            reviews.record(con, version, list(doubts.values()))
        # the version's names, normalised, only when a row is rejected (they decide which of its cells are shown)
        rejects = write_rejects(df, err, rejects_dir, Path(label), stamp, allowed=[c.value for c in C],
                                names=_place_names(units) if err.bad.any() or err.set_aside else None)
        result = summary(accepted, err, loader.changed, rejects, Path(label))
        result["waiting"] = {"rows": waiting[0], "cases": waiting[1], "triples": len(doubts)}
        result["personal_columns"] = sorted(plan.personal)
        result["placed_by_rule"] = _placement_report(pd.concat(placed) if placed else pd.DataFrame(), units,
                                                     Path(rejects_dir).parent / "reports", Path(label), stamp, earlier)
        result["notes"] = ([f"{label}: columns not used: {', '.join(plan.ignored)}"] if plan.ignored else []) + \
            ([f"{label}: personal columns dropped, never stored: " +
              ", ".join(f"{c} ({why})" if why != "header" else c for c, why in plan.personal.items())] if plan.personal else []) + \
            _placement_notes(result["placed_by_rule"], label) + \
            ([f"{label}: {waiting[0]} rows ({waiting[1]} cases) of {len(doubts)} announced places wait for an "
              "operator's choice of commune (the console's review page, or `review list`)"] if waiting[0] else [])
        inputs.update_import(con, import_id, result)
    return result


def _place_names(units) -> dict[str, set[str]]:
    """The normalised names of the boundary version's units, by the case file's column they may be written in."""
    return {C.COMMUNE_NAME.value: set(units["name"].dropna().map(normalise)),
            C.DISTRICT_NAME.value: set(units["district_name"].dropna().map(normalise)),
            C.PROVINCE_NAME.value: set(units["province_name"].dropna().map(normalise))}


def _first_of_each_count(acc: pd.DataFrame, err: RowErrors, seen: dict) -> pd.DataFrame:
    """Counts with the same date, commune and flags as an earlier row of the file are rejected, naming it."""
    keys = acc["case_key"].to_numpy(dtype=object)
    where = err.positions(acc.index)
    repeat = np.zeros(len(keys), dtype=bool)
    first = np.full(len(keys), "", dtype=object)
    for k, (key, at) in enumerate(zip(keys, where, strict=False)):
        if key in seen:
            repeat[k], first[k] = True, seen[key]
        else:
            seen[key] = err.where(at)
    if not repeat.any():
        return acc
    mask = np.zeros(len(err.field), dtype=bool)
    mask[where[repeat]] = True
    by_pos = dict(zip(where[repeat], first[repeat], strict=False))
    err.add(mask, C.COUNT.value, lambda at: np.array([f"same date, commune and flags as row {by_pos[a]} of this file"
                                                      for a in at], dtype=object))
    return acc[~repeat]


def migrate_identifiers(con, secret: bytes) -> None:
    """Cases stored before identifiers were pseudonymised: their ids and clusters become pseudonyms,
    in the same transaction as the import that meets them (once)."""
    df = caseload.plain_identifiers(con)
    if df.empty:
        return
    for col in ("case_id", "cluster_id"):
        fresh = personal.pseudonyms(df[col].where(~df[col].astype(str).str.startswith("p:"), None), secret)
        df[col] = fresh.where(fresh.notna(), df[col])
    key = "count:" + _text(df["report_date"])
    for col in ("commune_code", "community", "source_known", "source_setting", "cluster_id"):
        key = key + "|" + _text(df[col].astype(float) if col in ("community", "source_known") else df[col])
    df["new_key"] = np.where(df["kind"] == "case", "case:" + df["case_id"].fillna("").astype(str), key)
    caseload.rekey(con, df[["new_key", "case_id", "cluster_id", "case_key"]])


# Rules that place a row by names other than the exact province + district + commune (geo/base/names.py).
NON_EXACT = {BY_DISTRICT: "district and commune (or the commune's name alone) one commune nationally, none of that name "
                          "in the announcing province",
             BY_PROVINCE: "the announcing province's commune of that name (district created, renamed or named wrong)",
             BY_PROVINCE_TONE: "the announcing province's commune one tone away (the district named is another province's)",
             OPERATOR_CHOICE: "an operator's choice for this announced place",
             EARLIER_CODE: "a commune code of an earlier boundary version, followed through the crosswalk",
             EARLIER_NAMES: "names of an earlier boundary version's commune, followed through the crosswalk"}
NAME_COLUMNS = (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME)


def _placed_by_rule(acc: pd.DataFrame, part: pd.DataFrame, err: RowErrors) -> pd.DataFrame:
    """Every accepted row of a chunk: its row, the names given (when the file has them), the rule that placed
    it, where, and its cases (the report counts every rule and lists the non-exact ones)."""
    if acc.empty:
        return pd.DataFrame()
    given = part.loc[acc.index]
    return pd.DataFrame({"row": err.rows[err.positions(acc.index)],
                         **{c.value: (given[c.value].to_numpy() if c.value in given else "") for c in NAME_COLUMNS},
                         "rule": acc["located_by"].to_numpy(), "commune_code": acc[C.COMMUNE_CODE.value].to_numpy(),
                         "cases": acc[C.COUNT.value].to_numpy()})


def _placement_report(placed: pd.DataFrame, units, reports_dir: Path, source: Path, stamp: str, earlier=None) -> dict:
    """Rows and cases per rule, and a CSV listing each row placed by a rule other than the exact names, beside
    the commune it was placed in, whether that is outside the province that announced it, and whether a person
    should look at it (`review`: outside the announcing province, or one tone away)."""
    if placed.empty:
        return {"counts": {}, "path": None, "outside": {"rows": 0, "cases": 0}}
    counts = {str(k): {"rows": int(g["row"].size), "cases": int(g["cases"].sum())} for k, g in placed.groupby("rule")}
    listed = placed[placed["rule"].isin(list(NON_EXACT))]
    if listed.empty:
        return {"counts": counts, "path": None, "outside": {"rows": 0, "cases": 0}}
    names = units.set_index("code")[["name", "district_name", "province_name"]].rename(
        columns=lambda c: "placed_" + ("commune_name" if c == "name" else c))
    out = listed.join(names, on="commune_code")
    if earlier is not None and earlier.names is not None:
        old = out["placed_commune_name"].isna()
        out.loc[old, "placed_commune_name"] = out.loc[old, "commune_code"].map(earlier.names.labels)
    announced = out[C.PROVINCE_NAME.value].astype(str).map(normalise)
    out["outside_announcing_province"] = (announced != "") & out["placed_province_name"].notna() & \
        (announced != out["placed_province_name"].fillna("").astype(str).map(normalise))
    out["review"] = out["outside_announcing_province"] | out["rule"].isin(list(FOR_REVIEW))
    reports_dir.mkdir(parents=True, exist_ok=True)
    path = reports_dir / f"{Path(source).stem}-{stamp}-placed-by-rule.csv"
    formats.spreadsheet_safe(out).to_csv(path, index=False, encoding="utf-8-sig")
    outside = out[out["outside_announcing_province"]]
    return {"counts": counts, "path": str(path), "outside": {"rows": len(outside), "cases": int(outside["cases"].sum())}}


def _placement_notes(report: dict, label: str) -> list[str]:
    listed = {rule: n for rule, n in report["counts"].items() if rule in NON_EXACT}
    if not listed:
        return []
    parts = "; ".join(f"{n['rows']} rows ({n['cases']} cases) by {NON_EXACT[rule]}" for rule, n in sorted(listed.items()))
    out = report["outside"]
    return [f"{label}: rows placed by names other than province + district + commune: {parts}; "
            f"{out['rows']} rows ({out['cases']} cases) placed outside the province that announced them, to review; "
            f"each row and where it was placed: {report['path']}"]
