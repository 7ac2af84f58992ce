"""Where a case file's row is: its commune by code, point or names, in the boundary version in force on its
date (an earlier one's code or names are followed through the crosswalk), or a doubtful place waiting for an
operator's choice (geo/ingest/reviews.py)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from geo.base.columns import CaseCol as C
from geo.base.names import EARLIER_CODE, EARLIER_NAMES, OPERATOR_CHOICE, NameIndex, Placement, triple_key
from geo.domain import crosswalk, inforce
from geo.domain.assign import Assigner
from geo.ingest.tables import parse_number
from geo.store import boundaries
from geo.store import reviews as reviews_table

# Vietnam's extent with a margin (lon, lat): a point outside is a typing error, not a case.
VN_BOUNDS = (100.0, 6.0, 118.0, 24.5)


def _col(df: pd.DataFrame, name: C) -> pd.Series:
    return df[name.value] if name.value in df.columns else pd.Series("", index=df.index, dtype=object)


def _obj(values, index) -> pd.Series:
    """An object column (pandas would otherwise infer Arrow strings from Python ones, at a cost)."""
    return pd.Series(values, index=index, dtype=object)


@dataclass
class Earlier:
    """The boundary versions a case file's codes and names may be of: the current one, and the earlier ones
    the crosswalk leads from (the 2021 communes after the 2025 reform). A code or names are read in the version
    in force on the row's date (the newest whose first day is not after it) when that is an earlier one, else
    in the current version, else in the earlier versions newest first. A current code is never followed
    through the crosswalk on a date the current version is in force (a ward number reused in 2025 stays that
    ward); an operator's choices for doubtful names (geo/ingest/reviews.py) are used as they were made."""
    current: str
    followed: set[str]                                     # old codes that lead to a current commune
    codes: dict[str, set[str]] = field(default_factory=dict)     # earlier version -> its commune codes
    valid_from: list[tuple[str, str]] = field(default_factory=list)   # (first day, version), by first day
    units: dict[str, pd.DataFrame] = field(default_factory=dict)      # earlier version -> its communes
    choices: dict[str, str] = field(default_factory=dict)             # review key -> code chosen
    _names: dict[str, NameIndex] = field(default_factory=dict)

    @property
    def names(self) -> NameIndex | None:
        """The newest earlier version's names (the one most files written with old names use)."""
        newest = self.newest_first()
        return self.index(newest[0]) if newest else None

    def newest_first(self) -> list[str]:
        order = [v for _, v in self.valid_from if v in self.units]
        return list(reversed(order)) + [v for v in self.units if v not in order]

    def index(self, version: str) -> NameIndex:
        if version not in self._names:
            old = self.units[version]
            self._names[version] = NameIndex(old["code"], old["name"], old["district_name"].fillna(""), old["province_name"])
        return self._names[version]

    def in_force(self, day) -> str | None:
        """The earlier version in force on `day` (ISO text), None when it is the current one or not known."""
        found = inforce.version_in_force(self.valid_from, day) if isinstance(day, str) else None
        return found if found in self.units else None

    def code_version(self, code: str) -> str | None:
        """The newest earlier version with a commune of that code."""
        return next((v for v in self.newest_first() if code in self.codes.get(v, ())), None)


def earlier_places(store, version: str) -> Earlier:
    with store.connect(readonly=True) as con:
        edges = boundaries.crosswalk_edges(con)
        known = boundaries.versions(con)
        choices = reviews_table.decided(con, version)
    followed = set(crosswalk.forward(edges, edges["old_code"].unique()))
    # in the order versions come into force: one without a first day is in force until the next one's first day
    out = Earlier(version, followed, choices=choices, valid_from=[(v["valid_from"] or "", v["name"]) for v in known])
    for v in sorted(set(edges["from_version"].dropna()) - {version}):
        old = store.load_units(v, "commune", texts=False)     # every commune of it: one whose code went on unchanged is read too
        if len(old):
            out.units[v] = old
            out.codes[v] = set(old["code"].astype(str))
    return out


def _place(names: NameIndex, earlier: Earlier | None, key: tuple, day: str) -> tuple[Placement, str | None]:
    """A row's names -> (placement, the version its code is of). Read first in the earlier version in force on
    the row's date, then in the current one, then in the earlier ones newest first: the first that places it
    wins. An operator's choice for the announced triple, when there is one, is taken as made."""
    if earlier is not None:
        chosen = earlier.choices.get(triple_key(*key))
        if chosen:
            return Placement(chosen, OPERATOR_CHOICE, ""), earlier.current
    then = earlier.in_force(day) if earlier is not None else None
    order = ([then] if then else []) + [None] + [v for v in (earlier.newest_first() if earlier else []) if v != then]
    first: Placement | None = None
    for version in order:
        placed = names.place(*key) if version is None else earlier.index(version).place(*key)  # type: ignore[union-attr]
        if placed.code is not None:
            if version is None:
                return placed, earlier.current if earlier else None
            return Placement(placed.code, EARLIER_NAMES, ""), version
        first = first or placed
    return first or Placement(None, "", "no names"), None


def locate(df, out, err, units, has_code, has_point, has_names, earlier: Earlier | None = None,
            doubts: dict | None = None) -> None:
    """commune_code, located_by, code_version and review_key of each row; `doubts` gains each doubtful
    announced triple with its names, reason and candidates."""
    n = len(df)
    codes = units["code"].astype(str).to_numpy()
    commune = np.full(n, None, dtype=object)
    located = np.full(n, None, dtype=object)
    version = np.full(n, earlier.current if earlier is not None else None, dtype=object)
    review = np.full(n, None, dtype=object)
    days = out[C.REPORT_DATE.value].to_numpy(dtype=object)
    lon, lat = (parse_number(df[c.value], "coordinate")[0] if c.value in df.columns else np.full(n, np.nan)
                for c in (C.LON, C.LAT))
    if has_code:
        given = _col(df, C.COMMUNE_CODE).astype(str).to_numpy(dtype=object)
        known = pd.Index(codes).get_indexer(given) >= 0
        commune[known] = given[known]
        located[known] = "code"
        if earlier is not None and earlier.followed:
            # a code of the earlier version in force on the row's date is that version's commune, even where the
            # current version reuses the number; a code no current commune has is read in the earlier versions
            then = np.array([earlier.in_force(d) for d in days], dtype=object)
            then_old = np.array([v is not None and c in earlier.codes.get(v, ()) for v, c in zip(then, given, strict=True)],
                                dtype=bool)
            old = (~known & pd.Index(given).isin(list(earlier.followed))) | then_old
            commune[old], located[old] = given[old], EARLIER_CODE
            version[old] = [v if t else earlier.code_version(c) for v, t, c in zip(then[old], then_old[old], given[old],
                                                                                      strict=True)]
            known |= old
        err.add((given != "") & ~known, C.COMMUNE_CODE.value, lambda at: "unknown commune_code " + given[at].astype(str))
    if has_point:
        todo = (commune == None) & ~err.bad & ~np.isnan(lon) & ~np.isnan(lat)  # noqa: E711
        raw_lon, raw_lat = _col(df, C.LON).to_numpy(), _col(df, C.LAT).to_numpy()
        err.add((commune == None) & ((raw_lon != "") | (raw_lat != "")) & (np.isnan(lon) | np.isnan(lat)),  # noqa: E711
                C.LON.value, "lon/lat not numbers")
        x0, y0, x1, y1 = VN_BOUNDS
        outside = todo & ~((lon >= x0) & (lon <= x1) & (lat >= y0) & (lat <= y1))
        swapped = outside & (lat >= x0) & (lat <= x1) & (lon >= y0) & (lon <= y1)
        err.add(swapped, C.LON.value, "lon/lat look swapped (lon must be 100-118, lat 6-24.5)")
        err.add(outside, C.LON.value, "point outside Vietnam: " + np.char.add(np.char.add(lon.astype(str), ","), lat.astype(str)))
        todo &= ~outside
        if todo.any():
            assigner = Assigner(units.geometry.to_numpy(), codes)
            idx = assigner.assign(lon[todo], lat[todo])
            hit = np.flatnonzero(todo)[idx >= 0]
            commune[hit] = codes[idx[idx >= 0]]
            located[hit] = "point"
            miss = np.flatnonzero(todo)[idx < 0]
            if len(miss):
                near, dist = assigner.nearest(lon[miss], lat[miss])
                reason = np.full(n, "", dtype=object)
                reason[miss] = [f"outside every commune (nearest {codes[k]} {units['name'].iat[k]}, about {d:.0f} m)"
                                for k, d in zip(near, dist, strict=False)]
                mask = np.zeros(n, dtype=bool)
                mask[miss] = True
                err.add(mask, C.LON.value, reason)
    cn, dn, pn = (_col(df, c).astype(str).to_numpy(dtype=object) for c in (C.COMMUNE_NAME, C.DISTRICT_NAME, C.PROVINCE_NAME))
    if has_names:
        todo = (commune == None) & ~err.bad  # noqa: E711
        names = NameIndex(codes, units["name"], units["district_name"].fillna(""), units["province_name"])
        reason = np.full(n, "", dtype=object)
        seen: dict[tuple, tuple] = {}          # announcements repeat the same names day after day
        for k in np.flatnonzero(todo & (cn != "")):
            key = (cn[k], dn[k], pn[k])
            when = earlier.in_force(days[k]) if earlier is not None else None
            if (key, when) not in seen:
                seen[(key, when)] = _place(names, earlier, key, days[k])
            placed, of_version = seen[(key, when)]
            if placed.code:
                commune[k], located[k], version[k] = placed.code, placed.rule, of_version
            elif placed.doubtful:            # not guessed: it waits for an operator's choice (geo/ingest/reviews.py)
                review[k] = triple_key(*key)
                if doubts is not None and review[k] not in doubts:
                    doubts[review[k]] = {"triple": review[k], "commune_name": cn[k], "district_name": dn[k],
                                         "province_name": pn[k], "reason": placed.why.split(";")[0],
                                         "candidates": list(placed.candidates)}
            else:
                reason[k] = placed.why
        err.add(reason != "", C.COMMUNE_NAME.value, reason)
    err.add((commune == None) & (review == None) & ~err.bad, C.COMMUNE_CODE.value,  # noqa: E711
            "no location: give commune_code, lon/lat or names (commune and province)")
    out[C.COMMUNE_CODE.value] = _obj(commune, out.index)
    out["located_by"] = _obj(located, out.index)
    version[commune == None] = None  # noqa: E711
    out["code_version"] = _obj(version, out.index)
    out["review_key"] = _obj(review, out.index)
    out[C.LON.value] = _obj(lon, out.index).where(~np.isnan(lon), None)
    out[C.LAT.value] = _obj(lat, out.index).where(~np.isnan(lat), None)
    if has_names:      # the names a count was announced under are part of its identity (caseparse.count_keys)
        out["_announced"] = _obj(np.array([triple_key(c, d, p) for c, d, p in zip(cn, dn, pn, strict=True)],
                                          dtype=object), out.index)
