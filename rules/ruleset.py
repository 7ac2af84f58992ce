"""Rulesets are data: YAML files under rules/rulesets/, parsed and type-checked at load.

Everything a province may want to change (thresholds, the window, adjacency tolerance, the
set of hard-to-trace settings, roll-up shares) is a named setting in the file. Loading fails
with the file, the line and a "did you mean" on any unknown name, undeclared level, a rule
that references a level that is not above its own through borders() (a cycle), or a
missing required setting.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from . import expr as E
from .levels import SCALE, Level

RULESET_DIR = Path(__file__).parent / "rulesets"

# Settings the service itself reads (beyond what conditions use), with their expected types.
SERVICE_SETTINGS: dict[str, type | tuple] = {
    "window_days": int,
    "date_column": str,
    "adjacency": str,
    "adjacency_tolerance_m": (int, float),
    "rook_min_shared_length_m": (int, float),
    "hard_to_trace_settings": list,
}
DATE_COLUMNS = ("report_date", "result_date", "sample_date")
ADJACENCY_KINDS = ("rook", "queen")


class RulesetError(ValueError):
    def __init__(self, path, line, message):
        self.path, self.line = str(path), line
        super().__init__(f"{path}:{line}: {message}" if line else f"{path}: {message}")


class _LineLoader(yaml.SafeLoader):
    """SafeLoader that records the line of every mapping as '__line__'."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


@dataclass
class Rule:
    id: str
    level: str
    when: E.Expr
    ref: str
    vi: str
    en: str
    line: int


@dataclass
class RuleSection:
    """The rules for one kind of unit (communes, or parents in the roll-up)."""
    inputs: dict[str, dict]
    rules: list[Rule]
    unknown_when: E.Expr | None = None


@dataclass
class Ruleset:
    id: str
    title: str
    legal_source: str
    effective_from: dt.date
    effective_until: dt.date | None
    levels: list[dict]
    unknown: dict
    settings: dict[str, Any]
    commune: RuleSection
    rollup: RuleSection
    path: str
    sha256: str
    raw: dict = field(repr=False, default_factory=dict)

    def level(self, level_id: str) -> dict:
        if level_id == Level.UNKNOWN.value:
            return self.unknown
        return next(lv for lv in self.levels if lv["id"] == level_id)

    def in_force(self, day: dt.date) -> bool:
        return self.effective_from <= day and (self.effective_until is None or day <= self.effective_until)


def _req(d: dict, key: str, path, kind=str):
    if key not in d:
        raise RulesetError(path, d.get("__line__"), f"missing '{key}'{E.did_you_mean(key, [k for k in d if k != '__line__'])}")
    val = d[key]
    if kind is not None and not isinstance(val, kind):
        raise RulesetError(path, d.get("__line__"), f"'{key}' must be {getattr(kind, '__name__', kind)}")
    return val


def _date(val, path, line, key):
    if val is None or isinstance(val, dt.date):
        return val
    try:
        return dt.date.fromisoformat(str(val))
    except ValueError:
        raise RulesetError(path, line, f"'{key}' is not a date (YYYY-MM-DD): {val!r}") from None


def _section(doc: dict, path, settings: dict, level_ids: list[str], known_inputs) -> RuleSection:
    line = doc.get("__line__")
    inputs = {k: v for k, v in _req(doc, "inputs", path, dict).items() if k != "__line__"}
    for name, spec in inputs.items():
        if known_inputs is not None and name not in known_inputs:
            raise RulesetError(path, spec.get("__line__", line) if isinstance(spec, dict) else line,
                               f"input {name!r} is not a metric the service computes{E.did_you_mean(name, known_inputs)}")
        if not isinstance(spec, dict) or spec.get("type") not in ("number", "count", "bool"):
            raise RulesetError(path, line, f"input {name!r} needs type number, count or bool")
    clash = set(inputs) & set(settings)
    if clash:
        raise RulesetError(path, line, f"names used both as input and setting: {sorted(clash)}")
    types = {k: (E.BOOL if v["type"] == "bool" else E.NUM) for k, v in inputs.items()}
    for k, v in settings.items():
        if isinstance(v, bool):
            types[k] = E.BOOL
        elif isinstance(v, (int, float)):
            types[k] = E.NUM
    rank = {lv: i for i, lv in enumerate(level_ids)}
    rules, seen = [], set()
    for r in _req(doc, "rules", path, list):
        rl = r.get("__line__", line)
        rid = _req(r, "id", path)
        if rid in seen:
            raise RulesetError(path, rl, f"rule id {rid!r} used twice")
        seen.add(rid)
        lvl = _req(r, "level", path)
        if lvl not in rank or lvl == level_ids[0]:
            raise RulesetError(path, rl, f"rule {rid}: level {lvl!r} is not a declared level above "
                               f"{level_ids[0]!r}{E.did_you_mean(lvl, level_ids)}")
        try:
            cond = E.parse(_req(r, "when", path), types, rank)
        except E.ExprError as exc:
            raise RulesetError(path, rl, f"rule {rid}: {exc}") from None
        for b in cond.borders:
            if rank[b] <= rank[lvl]:
                raise RulesetError(path, rl, f"rule {rid} at level {lvl!r} depends on borders({b!r}): "
                                   "adjacency may only look at a higher level (otherwise the rules form a cycle)")
        rules.append(Rule(rid, lvl, cond, str(r.get("ref", "")), str(r.get("vi", "")), str(r.get("en", "")), rl))
    unknown_when = None
    if "unknown_when" in doc:
        try:
            unknown_when = E.parse(doc["unknown_when"], types, rank)
        except E.ExprError as exc:
            raise RulesetError(path, line, f"unknown_when: {exc}") from None
    return RuleSection(inputs, rules, unknown_when)


def load(path: str | Path, commune_inputs=None, rollup_inputs=None) -> Ruleset:
    """Load and check one ruleset file. `*_inputs`: names the service can compute (None: any)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError(path, None, f"cannot read: {exc.strerror}") from None
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesetError(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(doc, dict):
        raise RulesetError(path, None, "a ruleset file is a YAML mapping")
    levels = _req(doc, "levels", path, list)
    level_ids = [_req(lv, "id", path) for lv in levels]
    if level_ids != [lv.value for lv in SCALE]:
        raise RulesetError(path, doc.get("__line__"), f"levels must be, in order, {[lv.value for lv in SCALE]}")
    for lv in levels:
        for key in ("vi", "en", "color"):
            _req(lv, key, path)
    settings = {k: v for k, v in _req(doc, "settings", path, dict).items() if k != "__line__"}
    sline = doc["settings"].get("__line__")
    for key, kind in SERVICE_SETTINGS.items():
        if key not in settings:
            raise RulesetError(path, sline, f"missing setting {key!r}{E.did_you_mean(key, settings)}")
        if not isinstance(settings[key], kind) or isinstance(settings[key], bool):
            raise RulesetError(path, sline, f"setting {key!r} has the wrong type: {settings[key]!r}")
    if settings["date_column"] not in DATE_COLUMNS:
        raise RulesetError(path, sline, f"date_column must be one of {DATE_COLUMNS}")
    if settings["adjacency"] not in ADJACENCY_KINDS:
        raise RulesetError(path, sline, f"adjacency must be one of {ADJACENCY_KINDS}")
    if settings["window_days"] < 1:
        raise RulesetError(path, sline, "window_days must be at least 1")
    commune = _section(_req(doc, "commune", path, dict), path, settings, level_ids, commune_inputs)
    rollup = _section(_req(doc, "rollup", path, dict), path, settings, level_ids, rollup_inputs)
    unknown = {"id": Level.UNKNOWN.value, **{k: v for k, v in _req(doc, "unknown", path, dict).items() if k != "__line__"}}
    return Ruleset(
        id=_req(doc, "id", path), title=_req(doc, "title", path), legal_source=_req(doc, "legal_source", path),
        effective_from=_date(_req(doc, "effective_from", path, None), path, doc["__line__"], "effective_from"),
        effective_until=_date(doc.get("effective_until"), path, doc["__line__"], "effective_until"),
        levels=[{k: v for k, v in lv.items() if k != "__line__"} for lv in levels], unknown=unknown,
        settings=settings, commune=commune, rollup=rollup, path=str(path),
        sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(), raw=doc)


def available(directory: Path = RULESET_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def load_all(commune_inputs=None, rollup_inputs=None, directory: Path = RULESET_DIR) -> dict[str, Ruleset]:
    out: dict[str, Ruleset] = {}
    for p in available(directory):
        rs = load(p, commune_inputs, rollup_inputs)
        if rs.id in out:
            raise RulesetError(p, None, f"ruleset id {rs.id!r} already used by {out[rs.id].path}")
        out[rs.id] = rs
    return out


def in_force(rulesets: dict[str, Ruleset], day: dt.date) -> Ruleset | None:
    """The ruleset in force on `day` (latest effective_from wins when periods overlap)."""
    candidates = [rs for rs in rulesets.values() if rs.in_force(day)]
    return max(candidates, key=lambda rs: rs.effective_from) if candidates else None
