"""Rulesets are data: YAML files under rules/rulesets/, parsed and type-checked at load.

Everything a province may want to change (thresholds, the window, adjacency tolerance, the
set of hard-to-trace settings, roll-up shares) is a named setting in the file. Loading fails
with the file, the line and a "did you mean" on any unknown key or name, an undeclared level,
a rule that looks through borders() at a level not above its own (a cycle), a missing required
setting, or a worked example that does not give the level it states.

Two scopes: `communes` rulesets classify the service's units on the standard scale (RULES.md
section 1) and need the service settings; `table` rulesets (e.g. the CDC framework) only
evaluate plain tables with their own levels.
"""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import yaml

from . import expr as E
from . import measures
from .examples import Verdicts, check
from .levels import SCALE, Level
from .matrix import defines as _defines
from .matrix import matrix as _matrix
from .matrix import types as _types
from .model import Example, Matrix, Rule, RuleSection, Ruleset, RulesetError  # noqa: F401 (the public names)
from .model import clean as _clean
from .model import known_keys as _keys
from .model import parse_date as _date
from .model import required as _req
from .settings import ADJACENCY_KINDS, BOUNDS, CHOICES, DATE_COLUMNS, SERVICE_SETTINGS, dated_value  # noqa: F401
from .settings import check_service as _service_settings

RULESET_DIR = Path(__file__).parent / "rulesets"

SCOPES = ("communes", "table")
HIT_POLICIES = ("highest_level",)
# evaluate: three-valued logic decides what it can; unknown: any missing input makes the unit unknown.
MISSING_INPUT_POLICIES = ("evaluate", "unknown")
TOP_KEYS = {"id", "title", "title_en", "legal_source", "scope", "effective_from", "effective_until", "hit_policy",
            "missing_inputs", "levels", "unknown", "settings", "commune", "rollup", "units", "notes", "unverified",
            "measures_cumulative"}
LEVEL_KEYS = {"id", "vi", "en", "color", "measures"}

SECTION_KEYS = {"inputs", "rules", "unknown_when", "examples", "define", "matrix"}
RULE_KEYS = {"id", "level", "when", "ref", "vi", "en", "examples", "unverified"}
EXAMPLE_KEYS = {"inputs", "neighbours", "level", "reasons", "note", "measures", "source"}

INPUT_TYPES = ("number", "count", "bool")


class _LineLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """SafeLoader (libyaml's where installed: 7x faster, rulesets load at every run) that records
    the line of every mapping as '__line__'."""


def _construct_mapping(loader, node, deep=False):
    mapping = yaml.SafeLoader.construct_mapping(loader, node, deep=deep)
    mapping["__line__"] = node.start_mark.line + 1
    return mapping


_LineLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _examples(items, path, line, inputs: dict, level_ids: list[str], rule_ids: set[str]) -> list[Example]:
    out = []
    for ex in items or []:
        if not isinstance(ex, dict):
            raise RulesetError(path, line, "an example is a mapping with inputs and level")
        el = ex.get("__line__", line)
        _keys(ex, EXAMPLE_KEYS, path, "example")
        given = _clean(ex.get("inputs") or {})
        for name in given:
            if name not in inputs:
                raise RulesetError(path, el, f"example input {name!r} is not declared{E.did_you_mean(name, inputs)}")
        level = _req(ex, "level", path)
        if level not in level_ids and level != Level.UNKNOWN.value:
            raise RulesetError(path, el, f"example level {level!r} is not declared{E.did_you_mean(level, level_ids)}")
        neighbours = list(ex.get("neighbours") or [])
        for nb in neighbours:
            if nb not in level_ids:
                raise RulesetError(path, el, f"example neighbour level {nb!r} is not declared{E.did_you_mean(nb, level_ids)}")
        reasons = ex.get("reasons")
        for r in reasons or []:
            if r.startswith("missing:") and r[len("missing:"):] in inputs:
                continue
            if r not in rule_ids and r != "U":
                raise RulesetError(path, el, f"example reason {r!r} is not a rule{E.did_you_mean(r, rule_ids)}")
        measures = ex.get("measures")
        out.append(Example(given, neighbours, level, list(reasons) if reasons is not None else None, el,
                           [str(m) for m in measures] if measures is not None else None, str(ex.get("source", "")),
                           str(ex.get("note", ""))))
    return out


def _section(doc: dict, path, settings: dict, level_ids: list[str], known_inputs, name: str) -> RuleSection:
    line = doc.get("__line__")
    _keys(doc, SECTION_KEYS, path, f"section '{name}'")
    inputs = _clean(_req(doc, "inputs", path, dict))
    for iname, spec in inputs.items():
        sl = spec.get("__line__", line) if isinstance(spec, dict) else line
        if known_inputs is not None and iname not in known_inputs:
            raise RulesetError(path, sl, f"input {iname!r} is not a metric the service computes{E.did_you_mean(iname, known_inputs)}")
        if not isinstance(spec, dict) or spec.get("type") not in INPUT_TYPES:
            raise RulesetError(path, sl, f"input {iname!r} needs type number, count or bool")
        inputs[iname] = _clean(spec)
    clash = set(inputs) & set(settings)
    if clash:
        raise RulesetError(path, line, f"names used both as input and setting: {sorted(clash)}")
    types = _types(inputs, settings)
    rank = {lv: i for i, lv in enumerate(level_ids)}
    defines = _defines(doc, path, line, types, rank)

    def parse(source, at, owner):
        try:
            return E.parse(source, types, rank, defined=defines)
        except E.ExprError as exc:
            raise RulesetError(path, at, f"{owner}: {exc}") from None

    matrix, matrix_rules, unknown_rules = _matrix(doc, path, settings, level_ids, parse)
    raw_rules = doc.get("rules") if matrix is not None else _req(doc, "rules", path, list)
    raw_rules = raw_rules or []
    rule_ids = {str(r.get("id")) for r in raw_rules if isinstance(r, dict)} | {r.id for r in matrix_rules + unknown_rules}
    rules = []
    seen: set[str] = {r.id for r in matrix_rules + unknown_rules}
    for r in raw_rules:
        rl = r.get("__line__", line)
        _keys(r, RULE_KEYS, path, "rule")
        rid = str(_req(r, "id", path))
        if rid in seen:
            raise RulesetError(path, rl, f"rule id {rid!r} used twice")
        seen.add(rid)
        lvl = _req(r, "level", path)
        if lvl not in rank or lvl == level_ids[0]:
            raise RulesetError(path, rl, f"rule {rid}: level {lvl!r} is not a declared level above "
                               f"{level_ids[0]!r}{E.did_you_mean(lvl, level_ids)}")
        cond = parse(_req(r, "when", path), rl, f"rule {rid}")
        for b in cond.borders:
            if rank[b] <= rank[lvl]:
                raise RulesetError(path, rl, f"rule {rid} at level {lvl!r} depends on borders({b!r}): "
                                   "adjacency may only look at a higher level (otherwise the rules form a cycle)")
        rules.append(Rule(rid, lvl, cond, str(r.get("ref", "")), str(r.get("vi", "")), str(r.get("en", "")), rl,
                          _examples(r.get("examples"), path, rl, inputs, level_ids, rule_ids),
                          bool(r.get("unverified", False))))
    unknown_when = parse(doc["unknown_when"], line, "unknown_when") if "unknown_when" in doc else None
    return RuleSection(inputs, matrix_rules + rules, unknown_when,
                       _examples(doc.get("examples"), path, line, inputs, level_ids, rule_ids),
                       defines, unknown_rules, matrix)


def _choice(doc, key, allowed, default, path):
    value = doc.get(key, default)
    if value not in allowed:
        raise RulesetError(path, doc.get("__line__"), f"{key} must be one of {allowed}{E.did_you_mean(str(value), allowed)}")
    return value


# Rulesets loaded in this process, by file and content: the app and the command it runs both load them, and a text
# already parsed and checked (its worked examples run) is not parsed and checked again. Rulesets are never changed
# once built (a what-if builds a new one: with_settings).
_LOADED: dict[tuple, Ruleset] = {}


def load(path: str | Path, commune_inputs=None, rollup_inputs=None, check_examples: bool = True,
         verdicts: Verdicts | None = None) -> Ruleset:
    """Load and check one ruleset file. `*_inputs`: names the service can compute (None: any). `verdicts`: examples
    that passed before, not run again (examples.Verdicts)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesetError(path, None, f"cannot read: {exc.strerror}") from None
    key = (str(path.resolve()), text, None if commune_inputs is None else tuple(commune_inputs),
           None if rollup_inputs is None else tuple(rollup_inputs), check_examples)
    if key not in _LOADED:
        known = check_examples and verdicts is not None and verdicts.passed(text)
        _LOADED[key] = _parse(path, text, commune_inputs, rollup_inputs, check_examples and not known)
        if check_examples and verdicts is not None:
            verdicts.record(text)
    return _LOADED[key]


def _parse(path: Path, text: str, commune_inputs, rollup_inputs, check_examples: bool) -> Ruleset:
    try:
        doc = yaml.load(text, Loader=_LineLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        raise RulesetError(path, mark.line + 1 if mark else None, f"not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return _build(doc, path, hashlib.sha256(text.encode("utf-8")).hexdigest(), commune_inputs, rollup_inputs,
                  check_examples)


def with_settings(rs: Ruleset, overrides: dict, commune_inputs=None, rollup_inputs=None) -> Ruleset:
    """The ruleset with some settings changed (a what-if), checked as the file is at load: same names, the
    types, choices and bounds of each setting, matrix cells re-made from their settings. Worked examples are
    not run (they state what the file's own settings give)."""
    doc = dict(rs.raw)
    settings = dict(doc.get("settings") or {})
    for name, value in overrides.items():
        if name not in settings or name == "__line__":
            raise RulesetError(rs.path, settings.get("__line__"),
                               f"{name!r} is not a setting of {rs.id}{E.did_you_mean(name, _clean(settings))}")
        old = settings[name]
        same = isinstance(old, bool) == isinstance(value, bool) and (
            isinstance(value, (int, float)) if isinstance(old, (int, float)) else isinstance(value, type(old)))
        if not same:
            raise RulesetError(rs.path, settings.get("__line__"), f"setting {name!r}: a value like {old!r}, not {value!r}")
        if isinstance(value, float) and value != value:
            raise RulesetError(rs.path, settings.get("__line__"), f"setting {name!r}: a number, not {value!r}")
        settings[name] = value
    doc["settings"] = settings
    out = _build(doc, rs.path, rs.sha256, commune_inputs, rollup_inputs, check_examples=False)
    out.id = f"{rs.id}+what-if"
    return out


def _build(doc, path, sha256: str, commune_inputs, rollup_inputs, check_examples: bool) -> Ruleset:
    if not isinstance(doc, dict):
        raise RulesetError(path, None, "a ruleset file is a YAML mapping")
    # keys starting with "." only hold YAML anchors shared by sections (`.criteria: &criteria`, `<<: *criteria`)
    _keys({k: v for k, v in doc.items() if not str(k).startswith(".")}, TOP_KEYS, path, "the ruleset")
    scope = _choice(doc, "scope", SCOPES, "communes", path)
    _choice(doc, "hit_policy", HIT_POLICIES, "highest_level", path)
    missing = _choice(doc, "missing_inputs", MISSING_INPUT_POLICIES, "evaluate", path)
    levels = _req(doc, "levels", path, list)
    level_ids = [str(_req(lv, "id", path)) for lv in levels]
    if len(set(level_ids)) != len(level_ids) or len(level_ids) < 2 or Level.UNKNOWN.value in level_ids:
        raise RulesetError(path, doc.get("__line__"), "levels need at least two distinct ids, none of them 'unknown'")
    if scope == "communes" and level_ids != [lv.value for lv in SCALE]:
        raise RulesetError(path, doc.get("__line__"), f"a communes ruleset has the levels, in order, {[lv.value for lv in SCALE]}")
    for lv in levels:
        _keys(lv, LEVEL_KEYS, path, f"level {lv.get('id')!r}")
        for key in ("vi", "en", "color"):
            _req(lv, key, path)
    measures.check(levels, path)
    settings = _clean(doc.get("settings") or {})
    if scope == "communes":
        _service_settings(settings, path, (doc.get("settings") or {}).get("__line__"))
    main_key = "commune" if scope == "communes" else "units"
    commune = _section(_req(doc, main_key, path, dict), path, settings, level_ids,
                       commune_inputs if scope == "communes" else None, main_key)
    rollup = None
    if scope == "communes":
        rollup = _section(_req(doc, "rollup", path, dict), path, settings, level_ids, rollup_inputs, "rollup")
    unknown = {"id": Level.UNKNOWN.value, **_clean(_req(doc, "unknown", path, dict))}
    rs = Ruleset(
        id=str(_req(doc, "id", path)), title=_req(doc, "title", path), title_en=str(doc.get("title_en", "")),
        legal_source=_req(doc, "legal_source", path), scope=scope,
        effective_from=_date(_req(doc, "effective_from", path, None), path, doc["__line__"], "effective_from"),
        effective_until=_date(doc.get("effective_until"), path, doc["__line__"], "effective_until"),
        levels=[{**_clean(lv), "measures": [_clean(m) for m in lv.get("measures") or []]} for lv in levels], unknown=unknown, settings=settings, commune=commune, rollup=rollup,
        missing_inputs=missing, measures_cumulative=bool(doc.get("measures_cumulative", True)), path=str(path),
        sha256=sha256, raw=doc)
    if check_examples:
        check(rs)
    return rs


def available(directory: Path = RULESET_DIR) -> list[Path]:
    return sorted(directory.glob("*.yaml"))


def load_all(commune_inputs=None, rollup_inputs=None, directory: Path = RULESET_DIR,
             verdicts: Verdicts | None = None) -> dict[str, Ruleset]:
    out: dict[str, Ruleset] = {}
    for p in available(directory):
        rs = load(p, commune_inputs, rollup_inputs, verdicts=verdicts)
        if rs.id in out:
            raise RulesetError(p, None, f"ruleset id {rs.id!r} already used by {out[rs.id].path}")
        out[rs.id] = rs
    return out


def in_force(rulesets: dict[str, Ruleset], day: dt.date) -> Ruleset | None:
    """The communes ruleset in force on `day` (latest effective_from wins when periods overlap)."""
    candidates = [rs for rs in rulesets.values() if rs.scope == "communes" and rs.in_force(day)]
    return max(candidates, key=lambda rs: rs.effective_from) if candidates else None
