"""The review list of doubtful placements as the console shows it (decided by geo/ingest/reviews.py)."""
from __future__ import annotations

from geo.store import reviews as table
from geo.store.database import Store


def waiting(store: Store, status: str | None = "open") -> list[dict]:
    """The review list of the current boundary version (open ones by default), most cases first."""
    version = store.current_boundary_version()
    if version is None or not store.exists():
        return []
    with store.connect(readonly=True) as con:
        return table.listed(con, version, status)


def labels(store: Store, rows: list[dict]) -> dict[str, str]:
    """"Commune, district, province (code)" of every candidate of `rows` (in their boundary versions)."""
    out: dict[str, str] = {}
    for version in {r["boundary_version"] for r in rows}:
        units = store.load_units(version, "commune")
        wanted = {c for r in rows if r["boundary_version"] == version for c in r["candidates"]}
        for u in units[units["code"].astype(str).isin(wanted)].itertuples():
            out[str(u.code)] = ", ".join(str(x) for x in (u.name, u.district_name, u.province_name) if x) + f" ({u.code})"
    return out
