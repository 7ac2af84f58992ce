"""Everything an evaluation reads, for a run of consecutive days, gathered by one call.

`gather(settings, store, days, ruleset)` reads the store once: the current units, the community
cases of the whole window (codes carried to the current boundaries), the lockdowns, flags,
indicators and declarations that can be in force on any of the days, the adjacency the ruleset
asks for, and the levels published before the first day (hysteresis starts from them). The
evaluation (geo/evaluate/evaluation.py) then computes without touching the store; what is in force on day k
is picked from these rows by the pure functions below (the same ones whatever the number of days).
"""
from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from scipy import sparse

from geo.base.config import Settings
from geo.domain import adjacency, crosswalk, indicators
from geo.domain.inforce import declared_in_force, flags_in_force, indicators_in_force
from geo.evaluate import hysteresis, metrics
from geo.evaluate.frames import Units
from geo.store import boundaries
from geo.store.database import Store
from rules.model import Ruleset


@dataclass
class Inputs:
    days: list[dt.date]
    first: dt.date                  # first day of the case window: days[0] - lookback + 1
    units: Units
    boundary_sha256: str
    cases: pd.DataFrame             # community cases dated first .. days[-1] (all cases when the ruleset's rate counts them)
    lockdowns: pd.DataFrame         # lockdowns started by days[-1], geometry as WKB in `geom`
    flags: pd.DataFrame             # flag rows dated by days[-1]
    indicators: pd.DataFrame        # indicator rows dated days[0] - MAX_AGE_DAYS .. days[-1]
    declarations: pd.DataFrame      # declarations valid from days[-1] or before
    neighbours: object              # sparse commune adjacency matrix (the ruleset's kind)
    previous: np.ndarray            # commune levels published for the latest date before days[0]
    decided_before: list            # levels decided by the runs of the notice days before days[0], oldest first
    previous_parents: dict | None = None  # {district/province: levels published before days[0]} when a rule holds them
    published_before: dict | None = None  # weekly publication: {unit kind: {publication day: levels decided}}

    def cases_on(self, k: int) -> pd.DataFrame:
        """The cases of day k's window: what an evaluation of that day alone reads (a backfilled day's hash of
        its cases is the daily run's)."""
        day = self.cases["day"]
        return self.cases[(day >= (self.days[k] - (self.days[0] - self.first)).isoformat()) & (day <= self.days[k].isoformat())]

    def flags_on(self, k: int) -> pd.DataFrame:
        return flags_in_force(self.flags, self.days[k])

    def indicators_on(self, k: int) -> pd.DataFrame:
        return indicators_in_force(self.indicators, self.days[k])

    def indicator_grid(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        """Each indicator in force per unit (rows, in `codes` order) and day (columns); NaN where none.
        Days without any indicator in force cost nothing (most of a year has none)."""
        out = {name: np.full((len(codes), len(self.days)), np.nan) for name in indicators.IMPORTED}
        if self.indicators.empty:
            return out
        index = pd.Index(codes)
        for k, table in enumerate(self._indicator_tables):
            if table.empty:
                continue
            at = index.get_indexer(table.index.astype(str))
            hit = at >= 0
            for name in indicators.IMPORTED:
                out[name][at[hit], k] = table[name].to_numpy(float)[hit]
        return out

    @cached_property
    def _indicator_tables(self) -> list[pd.DataFrame]:
        """The indicators in force on each day, made once for every kind of unit that reads them."""
        return [self.indicators_on(k) for k in range(len(self.days))]

    def declared_on(self, k: int) -> pd.DataFrame:
        return declared_in_force(self.declarations, self.days[k])

    def lockdowns_on(self, k: int) -> tuple[pd.DataFrame, np.ndarray]:
        """Lockdowns active on day k: (attributes, geometry array)."""
        d = self.days[k].isoformat()
        rows = self.lockdowns
        live = rows[(rows["start_date"] <= d) & (rows["end_date"].isna() | (rows["end_date"] >= d))
                    & (rows["lifted_date"].isna() | (rows["lifted_date"] > d))]
        attrs = live.drop(columns="geom").reset_index(drop=True)
        wkb = live["geom"].to_numpy()
        return attrs, shapely.from_wkb(wkb) if len(wkb) else np.array([], dtype=object)

    def lockdown_frame(self, k: int) -> gpd.GeoDataFrame:
        attrs, geoms = self.lockdowns_on(k)
        return gpd.GeoDataFrame(attrs, geometry=geoms, crs="EPSG:4326")


def neighbour_matrix(store: Store, version: str, communes: gpd.GeoDataFrame, settings: dict) -> sparse.csr_matrix:
    """The communes' adjacency of the kind the ruleset asks (stored at import for its tolerance,
    else measured now)."""
    tol = float(settings["adjacency_tolerance_m"])
    pairs = store.load_adjacency(version, f"tol={tol:g}")
    codes = communes["code"].astype(str).to_numpy()
    if pairs is None:
        geoms_m = communes.to_crs(adjacency.metric_crs(communes.total_bounds)).geometry.to_numpy()
        p = adjacency.shared_borders(geoms_m, tol)
        pairs = pd.DataFrame({"a": codes[p["i"]], "b": codes[p["j"]], "shared_m": p["shared_m"]})
    sel = adjacency.select(pairs, settings["adjacency"], float(settings["rook_min_shared_length_m"]))
    pos = pd.Series(np.arange(len(codes)), index=codes)
    return adjacency.matrix(len(codes), pos[sel["a"]].to_numpy(), pos[sel["b"]].to_numpy())


def _of_earlier_version(cases: pd.DataFrame, current: str, current_codes: set[str], valid_from: str | None) -> np.ndarray:
    """Which case rows carry a code of an earlier boundary version (followed through the crosswalk): the version
    import recorded, else (rows stored before it was recorded) a code the current version lacks, or any code
    on a day before the current version is in force. A current code on a current day is that ward."""
    if cases.empty or not current_codes:
        return np.zeros(len(cases), dtype=bool)
    recorded = cases["code_version"].to_numpy(dtype=object) if "code_version" in cases else np.full(len(cases), None)
    known = pd.notna(recorded)
    before = cases["day"].to_numpy(dtype=object) < valid_from if valid_from else np.zeros(len(cases), dtype=bool)
    legacy = ~cases["commune_code"].isin(list(current_codes)).to_numpy() | before
    return np.where(known, recorded != current, legacy)


def _cases(store: Store, rset: dict, first: str, last: str) -> pd.DataFrame:
    with store.connect(readonly=True) as con:
        return store.evaluation_cases(con, rset["date_column"], first, last, every_case=rset.get("rate_cases") == "all")


def gather(settings: Settings, store: Store, days: list[dt.date], ruleset: Ruleset, known_until: dt.date | None = None,
           texts: bool = True) -> Inputs:
    """What evaluating `days` (consecutive, oldest first) under `ruleset` reads, in one pass over the store.
    `known_until`: read nothing dated after it (the outlook: the days after it as if no new case came)."""
    rset = ruleset.settings
    first = days[0] - dt.timedelta(days=metrics.lookback_days(rset) - 1)
    last = min(days[-1], known_until or days[-1]).isoformat()
    # the cases are read on a helper thread while this one reads the units: both are mostly the database's work
    # and Arrow's, done without the interpreter lock (a tenth of a second of a national day)
    with ThreadPoolExecutor(1, thread_name_prefix="gather-cases") as helper:
        reading = helper.submit(_cases, store, rset, first.isoformat(), last)
        version, communes, districts, provinces = store.current_units(texts)
        store.require_case_data()
        cases = reading.result()
    with store.connect(readonly=True) as con:
        edges = boundaries.crosswalk_edges(con)
        follow = _of_earlier_version(cases, version, boundaries.commune_codes(con, version) if not edges.empty else set(),
                                     {v["name"]: v["valid_from"] for v in boundaries.versions(con)}.get(version))
        moved = crosswalk.forward(edges, cases.loc[follow, "commune_code"].dropna().unique())
        source = store.boundary_source(con, version)
        rows = store.evaluation_rows(con, last, (days[0] - dt.timedelta(days=indicators.MAX_AGE_DAYS)).isoformat())
    # located under an earlier boundary version: the commune that now covers them; a case of a split
    # commune goes where its point lies, else to the largest part (counted in the run's manifest)
    if moved:
        split = crosswalk.split_codes(edges)
        code = cases["commune_code"]
        cases["followed"] = np.where(follow & code.isin(list(split)), "split",
                                     np.where(follow & code.isin(list(moved)), "crosswalk", ""))
        cases["commune_code"] = np.where(follow, code.map(lambda c: moved.get(c, c)), code)
    codes = communes["code"].astype(str).to_numpy()
    notice = hysteresis.notice_days(rset)
    parents = {"district": districts, "province": provinces}
    held = {unit: hysteresis.previous_levels(store, settings.runs_dir, days[0], frame["code"].astype(str).to_numpy(), unit)
            for unit, frame in parents.items() if len(frame)} if rset.get("capacity_not_met_holds") else None
    return Inputs(
        days=list(days), first=first, units=Units(version, communes, districts, provinces), boundary_sha256=source,
        cases=cases, neighbours=neighbour_matrix(store, version, communes, rset),
        previous=hysteresis.previous_levels(store, settings.runs_dir, days[0], codes),
        decided_before=hysteresis.decided_before(store, settings.runs_dir, days[0], codes, notice)[::-1],
        previous_parents=held, published_before={
            unit: hysteresis.publications_before(store, settings.runs_dir, days[0], frame["code"].astype(str).to_numpy(),
                                                 rset, unit)
            for unit, frame in {"commune": communes, **parents}.items() if len(frame)} if rset.get("publish_weekday") else None,
        **rows)
