"""A day's published tables: communes, districts and provinces with their levels, reasons,
explanations, inputs and declared levels. Built from one day (one column) of the evaluation
(geo/evaluate/evaluation.py), so a backfilled day and a reclassified day publish the same rows."""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import numpy.typing as npt
import pandas as pd
from scipy import sparse

from geo.base import i18n
from geo.base.errors import InputError
from geo.base.vocabulary import UNITS
from geo.domain import declared, indicators, rulesets
from geo.evaluate import explain, hysteresis, metrics
from geo.store.boundaries import PARENT_COLUMN
from geo.store.formats import DISPLAY_COL, GEOJSON_COL
from rules.levels import SCALE
from rules.measures import MEASURE_ID_SEPARATOR
from rules.model import RuleSection, Ruleset

# Attributes of the units kept in every output besides the computed ones (the last two are the
# geometry JSON strings computed once at import, see formats.geometry_json).
UNIT_ATTRS = ("code", "name", "district_code", "district_name", "province_code", "province_name", "population",
              GEOJSON_COL, DISPLAY_COL)
LEVEL_NAMES = tuple(lv.value for lv in SCALE)
# Published input columns follow the order rulesets list them in (whichever way they were computed).
INPUT_ORDER = {k: i for i, k in enumerate(rulesets.COMMUNE_INPUTS)}


@dataclass
class Units:
    """The units of a boundary version. Its kinds (`levels`) are data: communes and provinces always,
    districts where the version has them (none since 1/7/2025)."""
    version: str
    communes: gpd.GeoDataFrame
    districts: gpd.GeoDataFrame
    provinces: gpd.GeoDataFrame

    @property
    def levels(self) -> tuple[str, ...]:
        return tuple(u for u in UNITS if u != "district" or len(self.districts))

    def of(self, unit: str) -> gpd.GeoDataFrame:
        return {"commune": self.communes, "district": self.districts, "province": self.provinces}[unit]

    def child_kind(self, parent: str, rollup_from: dict[str, list[str]]) -> str:
        """The kind a parent is rated from: the first of the ruleset's `rollup_from` the version has."""
        for kind in rollup_from.get(parent, []):
            if kind in self.levels:
                return kind
        raise InputError("rollup_impossible", version=self.version, parent=parent,
                         allowed=", ".join(rollup_from.get(parent, [])) or "-", levels=" → ".join(self.levels))

    def parent_index(self, children: gpd.GeoDataFrame, key: str, parents: gpd.GeoDataFrame) -> np.ndarray:
        pos = pd.Series(np.arange(len(parents)), index=parents["code"].astype(str))
        return pos.reindex(children[key].astype(str)).to_numpy().astype(np.int64)

    def parent_of(self, parent: str, child: str) -> np.ndarray:
        """Index into the `parent` frame of each unit of the `child` frame."""
        return self.parent_index(self.of(child), PARENT_COLUMN[parent], self.of(parent))


@dataclass
class CommuneDay:
    """One day of communes: the inputs, the day's evaluation and what hysteresis made of it."""
    env: dict                  # input name -> array (n,)
    computed: np.ndarray       # level codes of the day's evaluation
    reasons: list              # reason ids per commune (of the computed level)
    decided: np.ndarray        # after min_clean_days / max_step_down
    final: np.ndarray          # after notice: the published level
    state: np.ndarray          # '' or HOLD / STEP / NOTICE
    previous: np.ndarray       # level codes published the day before
    clean: np.ndarray          # days without a community case
    published_on: dt.date | None = None  # weekly publication: the publication day of the levels in force


@dataclass
class ParentDay:
    env: dict
    codes: np.ndarray
    reasons: list
    child: str                 # the kind of unit it was rated from
    state: np.ndarray | None = None     # '' or CAPACITY (held while treatment capacity is not met)
    computed: np.ndarray | None = None  # the day's evaluation before that hold
    published_on: dt.date | None = None  # weekly publication: the publication day of the levels in force


def names(codes: npt.ArrayLike) -> list[str]:
    return ["unknown" if c < 0 else LEVEL_NAMES[c] for c in np.asarray(codes).tolist()]


def parent_env(parent_of: np.ndarray, n: int, child_codes: np.ndarray, child_env: dict, own: dict) -> dict:
    """Inputs of the roll-up rules (RULES.md section 3): level counts, summed counts, rates and
    indicators (the parent's own imported figure, else derived from its children)."""
    env = metrics.rollup_inputs(parent_of, n, child_codes, child_env["population"],
                                child_env["known_source_community_cases"])
    for name in metrics.SUMMED:
        env[name] = np.bincount(parent_of, weights=child_env[name], minlength=n)
    env["community_cases_per_100k_7d"] = metrics.per_100k(env["community_cases_7d"], env["population"])
    env["cases_per_100k_week"] = metrics.per_100k(env["cases_week"], env["population"])
    env.update(indicators.roll_up(parent_of, n, {k: child_env[k] for k in indicators.INDICATORS},
                                  child_env["population"], own))
    for name in indicators.REPORTED:       # the parent's own reported figure, else computed from its children
        env[name] = np.where(np.isnan(own[name]), env[name], own[name])
    env["cases_per_100k_week"] = metrics.reported_week(env["cases_per_100k_week"], own)
    env["lockdown_active"] = (np.bincount(parent_of, weights=child_env["lockdown_active"], minlength=n) > 0).astype(float)
    return env


def _frame(units: gpd.GeoDataFrame, levels: list[str], reasons: list, ruleset: Ruleset, columns: dict) -> gpd.GeoDataFrame:
    out: dict = {c: units[c] for c in UNIT_ATTRS if c in units}     # a levels run's units come without texts
    out["level"] = levels
    spec = {lv: ruleset.level(lv) for lv in set(levels)}
    for column, key in (("level_vi", "vi"), ("level_en", "en"), ("color", "color")):
        out[column] = [spec[lv][key] for lv in levels]
    out["reasons"] = reasons
    # the administrative measures of the published level (RULES.md §9) by id; their texts are the run's linked
    # table (manifest "measures"): the same text repeated on every red commune would double a national GeoJSON
    ids = {lv: MEASURE_ID_SEPARATOR.join(m["id"] for m in ruleset.measures(lv)) or None for lv in set(levels)}
    out["measures"] = [ids[lv] for lv in levels]
    out.update(columns)
    # one frame made from all its columns at once (a column set at a time was a fifth of a backfilled day)
    return gpd.GeoDataFrame(pd.DataFrame(out, index=units.index), geometry=units.geometry.values, crs="EPSG:4326")


def _explain(frame: gpd.GeoDataFrame, section: RuleSection, env: dict, levels: list[str], reasons: list,
             triggers: list[list[str]], states: list | None = None, settings: dict | None = None) -> None:
    """`explanation` (Vietnamese), `explanation_en` and `adjacent_to` columns, in place.
    `states`: per unit None or the hysteresis figures ({lang: {prev, clean, need, step, computed}})."""
    n = len(frame)
    keys = [k for k in section.inputs if k in env]
    cols = {k: np.broadcast_to(np.asarray(env[k], float), (n,)).tolist() for k in keys}
    states = states or [None] * n
    by_reasons: dict[tuple, list[int]] = {}      # a few distinct lists of reasons over thousands of units
    for i, rs in enumerate(reasons):
        by_reasons.setdefault(tuple(rs), []).append(i)
    texts: dict = {}      # many units read the same values for the same reasons: explain each case once
    out: dict[str, list] = {"vi": [None] * n, "en": [None] * n}
    for rs, units in by_reasons.items():
        names = explain.inputs_read(section, rs, keys)      # the inputs their explanation reads
        read = [cols[k] for k in names]
        for i in units:
            key = (levels[i], rs, tuple(triggers[i]), tuple([c[i] for c in read]),
                   None if states[i] is None else repr(states[i]))
            hit = texts.get(key)
            if hit is None:
                values = {**{k: cols[k][i] for k in names}, "hysteresis": states[i]}
                hit = texts[key] = explain.explain_pair(section, values, levels[i], list(rs), triggers[i], settings)
            out["vi"][i], out["en"][i] = hit
    frame["explanation"], frame["explanation_en"] = out["vi"], out["en"]
    frame["adjacent_to"] = triggers


def _hysteresis_states(ruleset: Ruleset, c: CommuneDay, decided_levels: list[str], day: dt.date) -> list:
    need = int(ruleset.settings.get("min_clean_days_before_downgrade", 0))
    step = int(ruleset.settings.get("max_step_down_per_run", len(SCALE)))
    days = hysteresis.notice_days(ruleset.settings)
    out: list[dict | None] = []
    for i, s in enumerate(c.state):
        if not s:
            out.append(None)
            continue
        prev = names([(c.final if s in (hysteresis.NOTICE, hysteresis.WEEKLY) else c.previous)[i]])[0]
        today = names([c.computed[i]])[0] if s == hysteresis.CAPACITY else decided_levels[i]
        out.append({lang: {"prev": ruleset.level(prev)[lang], "computed": ruleset.level(today)[lang],
                           "since": i18n.vn_date(c.published_on.isoformat()) if c.published_on else "",
                           "notice": ruleset.settings.get("publication_notice_hours", 48),
                           "clean": int(c.clean[i]), "need": need, "step": step,
                           "hours": ruleset.settings.get("notice_hours", 0),
                           "effective": (day + dt.timedelta(days=days)).isoformat()} for lang in ("vi", "en")})
    return out


def _parent_frame(units: Units, unit: str, p: ParentDay, child_codes: np.ndarray, ruleset: Ruleset) -> gpd.GeoDataFrame:
    parents = units.of(unit)
    parent_of, n = units.parent_of(unit, p.child), len(parents)
    counts = {f"n_{lv.value}": np.bincount(parent_of, weights=child_codes == i, minlength=n).astype(int)
              for i, lv in enumerate(SCALE)}
    counts["n_unknown"] = p.env["n_unknown"].astype(int)
    shown = {k: p.env[k] for k in ("population", "lockdown_active", "community_cases_per_100k_7d", "cases_per_100k_week",
                                   *metrics.SUMMED, *indicators.INDICATORS, *rulesets.OLDER_GROUP) if k in p.env}
    levels = names(p.codes)
    computed = {"computed_level": names(p.codes if p.computed is None else p.computed)}
    frame = _frame(parents, levels, p.reasons, ruleset, {**counts, **shown, **computed})
    states: list[dict | None] = [None] * n
    since = i18n.vn_date(p.published_on.isoformat()) if p.published_on else ""
    if p.state is not None and p.computed is not None:
        for i in np.flatnonzero(p.state != ""):
            states[i] = {lang: {"prev": ruleset.level(levels[i])[lang], "since": since,
                                "notice": ruleset.settings.get("publication_notice_hours", 48),
                                "computed": ruleset.level(names([p.computed[i]])[0])[lang]} for lang in ("vi", "en")}
    assert ruleset.rollup is not None      # a parent's frame is made only when the ruleset rolls up
    _explain(frame, ruleset.rollup, p.env, levels, p.reasons, [[] for _ in range(n)], states, ruleset.settings)
    _capacity_notes(frame, ruleset, p.env)
    return frame


def _capacity_notes(frame: gpd.GeoDataFrame, ruleset: Ruleset, env: dict) -> None:
    """Under a ruleset whose capacity criterion holds levels (NQ 128, RULES.md §6), each explanation says
    whether the unit's treatment capacity was not reported (no hold) or not met (its level is not lowered)."""
    if not ruleset.settings.get("capacity_not_met_holds") or "treatment_capacity_met" not in env:
        return
    capacity = np.broadcast_to(np.asarray(env["treatment_capacity_met"], float), (len(frame),))
    for column, lang in (("explanation", "vi"), ("explanation_en", "en")):
        w = i18n.words("explain", lang)
        note = np.where(np.isnan(capacity), w["capacity_unreported"], np.where(capacity == 0, w["capacity_not_met"], ""))
        frame[column] = [f"{text}; {extra}" if extra else text for text, extra in zip(frame[column], note, strict=True)]


def build(day: dt.date, ruleset: Ruleset, units: Units, c: CommuneDay, parents: dict[str, ParentDay], neighbours: sparse.csr_matrix,
          declared_table: pd.DataFrame) -> dict[str, gpd.GeoDataFrame]:
    """The published tables of one day, one per kind of unit the boundary version has."""
    communes = units.communes
    codes = communes["code"].astype(str).to_numpy()
    reasons = [[s] if s else list(r) for s, r in zip(c.state, c.reasons, strict=False)]
    levels, decided_levels = names(c.final), names(c.decided)
    env = {k: c.env[k] for k in sorted(c.env, key=lambda k: (INPUT_ORDER.get(k, len(INPUT_ORDER)), k))}
    frame = _frame(communes, levels, reasons, ruleset,
                   {**env, "computed_level": names(c.computed), "decided_level": decided_levels, "clean_days": c.clean,
                    "outbreak_over": c.clean >= metrics.outbreak_over_days(ruleset.settings)})
    labels = [f"{n} ({k})" for n, k in zip(communes["name"].to_numpy(object), codes, strict=False)]
    triggers = explain.adjacency_triggers(ruleset.commune, reasons, codes, c.computed, neighbours, labels,
                                          ruleset.level_ids)
    _explain(frame, ruleset.commune, c.env, levels, reasons, triggers, _hysteresis_states(ruleset, c, decided_levels, day),
             ruleset.settings)
    _capacity_notes(frame, ruleset, c.env)
    frames = {"commune": frame}
    for unit, p in parents.items():
        child_codes = c.final if p.child == "commune" else parents[p.child].codes
        frames[unit] = _parent_frame(units, unit, p, child_codes, ruleset)
    for f in frames.values():
        declared.annotate(f, declared_table, ruleset)
    return frames


def summary(day: dt.date, ruleset: Ruleset, version: str, tables: dict[str, gpd.GeoDataFrame]) -> dict:
    """The manifest fields every run has, whichever way it was computed."""
    window = ruleset.settings["window_days"]
    return {
        "date": day.isoformat(), "ruleset": ruleset.id, "ruleset_sha256": ruleset.sha256,
        "ruleset_title": ruleset.title, "boundary_version": version, "levels": list(tables),
        "window": list(metrics.window(day, window)),
        "counts": {unit: {lv: int((f["level"] == lv).sum()) for lv in (*LEVEL_NAMES, "unknown")}
                   for unit, f in tables.items()},
        "n_declared_differs": {unit: int(f["level_differs"].sum()) for unit, f in tables.items()},
        "community_cases_in_window": int(np.nansum(tables["commune"]["community_cases"])),
        "measures": ruleset.all_measures(),            # the linked table of the units' measure ids
    }
