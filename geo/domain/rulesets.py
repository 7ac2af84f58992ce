"""The rulesets as the service uses them: the inputs it gives them (their names), the shipped ones and an
operator's loaded and checked, the one that decides a day and why, and a what-if copy with settings changed
(each checked as the file's own are)."""
from __future__ import annotations

import datetime as dt
from pathlib import Path

import yaml

from geo.base.columns import FLAG_NAMES
from geo.base.config import Settings
from geo.base.errors import InputError, MissingInputError
from geo.domain.indicators import INDICATORS
from rules import ruleset as rs_mod
from rules.examples import Verdicts
from rules.expr import did_you_mean

# Figures imported per unit and date (geo/ingest/indicators.py), usable by commune and roll-up rules.
INDICATOR_INPUTS = tuple(INDICATORS)
# The weekly rate of NQ 128 / QĐ 218 as the ruleset counts it (RULES.md §6: settings rate_window, rate_cases),
# and the full-dose coverage of the older group in force on the day (setting older_group_from).
WEEKLY = ("cases_week", "cases_per_100k_week")
OLDER_GROUP = ("vaccination_full_dose_older_pct", "older_group_age")
COMMUNE_INPUTS = (
    "population", "community_cases", "known_source_community_cases", "unknown_source_community_cases",
    "largest_unknown_source_cluster", "hard_to_trace_setting_cases", *(f"flag_{f}" for f in FLAG_NAMES),
    "lockdown_active",
    "community_cases_7d", "community_cases_per_100k_7d", *WEEKLY, *INDICATOR_INPUTS, *OLDER_GROUP,
)
ROLLUP_INPUTS = (
    "n_children", "n_unknown", "n_risk_or_worse", "n_high_risk_or_worse", "n_very_high_risk",
    "population", "known_source_community_cases", "community_cases_7d", "community_cases_per_100k_7d",
    *WEEKLY, *INDICATOR_INPUTS, *OLDER_GROUP,
)


def load_rulesets(extra_dir=None, verdicts: Path | None = None) -> dict[str, rs_mod.Ruleset]:
    """Shipped rulesets plus an operator's directory (ZONES_RULESETS); ids must be unique. `verdicts`: the file that
    keeps which files' worked examples passed under this engine (rules/examples.py's Verdicts)."""
    kept = Verdicts(verdicts) if verdicts is not None else None
    try:
        out = rs_mod.load_all(COMMUNE_INPUTS, ROLLUP_INPUTS, verdicts=kept)
        if extra_dir is not None:
            for rid, rs in rs_mod.load_all(COMMUNE_INPUTS, ROLLUP_INPUTS, extra_dir, kept).items():
                if rid in out:
                    raise rs_mod.RulesetError(rs.path, None, f"ruleset id {rid!r} is already shipped; give the copy a new id")
                out[rid] = rs
    except rs_mod.RulesetError as exc:
        raise InputError("ruleset_invalid", detail=str(exc)) from None
    return out


def _named(rulesets, ruleset_id: str, setting: str | None = None) -> rs_mod.Ruleset:
    if ruleset_id not in rulesets:
        raise InputError("unknown_ruleset", id=(f"{setting}={ruleset_id}" if setting else ruleset_id),
                         hint=did_you_mean(ruleset_id, rulesets))
    if rulesets[ruleset_id].scope != "communes":
        raise InputError("ruleset_not_for_communes", id=ruleset_id)
    return rulesets[ruleset_id]


def ruleset_choice(rulesets, day: dt.date, ruleset_id: str | None, settings: Settings | None = None) -> tuple[rs_mod.Ruleset, dict]:
    """The ruleset that decides `day` and why (RULES.md §6): the one a run names; else, from the operator's
    `ZONES_DEFAULT_RULESET_FROM`, the operator's default (no national regime is known after QĐ 218); else the
    one in force on the day by its effective dates. The why goes into the run's manifest, map and report."""
    if ruleset_id:
        return _named(rulesets, ruleset_id), {"why": "named", "ruleset": ruleset_id}
    if settings is not None and settings.default_ruleset and day >= settings.default_ruleset_from:
        chosen = _named(rulesets, settings.default_ruleset, "ZONES_DEFAULT_RULESET")
        return chosen, {"why": "operator_default", "ruleset": chosen.id, "from": settings.default_ruleset_from.isoformat()}
    dated = rs_mod.in_force(rulesets, day)
    if dated is None:
        raise MissingInputError("no_ruleset", date=day.isoformat())
    return dated, {"why": "in_force", "ruleset": dated.id, "from": dated.effective_from.isoformat(),
                   "until": dated.effective_until.isoformat() if dated.effective_until else None}


def choose_ruleset(rulesets, day: dt.date, ruleset_id: str | None, settings: Settings | None = None) -> rs_mod.Ruleset:
    return ruleset_choice(rulesets, day, ruleset_id, settings)[0]


def parse_overrides(items) -> dict:
    """`name=value` lines (a what-if's changed settings) -> {name: value}, values read as YAML (14, true, [a, b])."""
    out = {}
    for item in items:
        if "=" not in item:
            raise InputError("bad_param", name="--set", value=item, allowed="name=value")
        name, value = item.split("=", 1)
        try:
            out[name.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise InputError("bad_param", name=name.strip(), value=value, allowed="a number, true/false or a list") from None
    return out


def with_settings(ruleset: rs_mod.Ruleset, overrides: dict | None) -> rs_mod.Ruleset:
    """A what-if copy of the ruleset with some settings changed, each checked as the file's own are (names,
    types, choices, bounds; matrix cells re-made): a value outside them is refused before anything runs."""
    if not overrides:
        return ruleset
    try:
        return rs_mod.with_settings(ruleset, overrides, COMMUNE_INPUTS, ROLLUP_INPUTS)
    except rs_mod.RulesetError as exc:
        raise InputError("bad_param", name="--set", value=", ".join(f"{k}={v}" for k, v in overrides.items()),
                         allowed=str(exc).split(": ", 1)[-1]) from None


def load(path) -> rs_mod.Ruleset:
    """One ruleset file, checked against the inputs the service gives (`rules check`)."""
    return rs_mod.load(path, COMMUNE_INPUTS, ROLLUP_INPUTS)
