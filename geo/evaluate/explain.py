"""Explanations in plain words: the factors that fired, the input values they read, the
neighbours that triggered adjacency, or for `unknown` the inputs that were missing."""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
from scipy import sparse

from geo.base import i18n
from rules import expr as E
from rules.engine import MISSING_PREFIX, UNKNOWN_WHEN_ID
from rules.model import Rule, RuleSection

# Vietnamese writes 96.000 and 1,5 where English writes 96,000 and 1.5.
_VI_SEPARATORS = str.maketrans(",.", ".,")


def _number(v: float, lang: str) -> str:
    """96000 -> '96.000' in Vietnamese, '96,000' in English; one decimal for fractions."""
    text = f"{int(v):,}" if float(v).is_integer() else f"{v:,.1f}"
    return text.translate(_VI_SEPARATORS) if lang == "vi" else text


def _is_nan(v: object) -> bool:
    return v is None or (isinstance(v, float) and v != v)


def _value(spec: dict, v: float, lang: str) -> str:
    if spec.get("type") == "bool":
        return i18n.word("value", "true" if v else "false", lang)
    return _number(v, lang)


# reasons that are hysteresis's, explained by its figures (values["hysteresis"]) instead of the rules
HYSTERESIS_REASONS = ("HOLD", "STEP", "NOTICE", "CAPACITY", "WEEKLY")


def explain(section: RuleSection, values: dict, level: str, reasons: list[str], triggers: list[str], lang: str,
            settings: dict | None = None) -> str:
    w = i18n.words("explain", lang)
    rules, cells, reads = _index(section)
    if reasons and reasons[0] in HYSTERESIS_REASONS and values.get("hysteresis"):
        return w[reasons[0]].format(**values["hysteresis"][lang])
    if level == "unknown":
        parts, missing, unpublished, undecided = [], [], [], []
        for rid in reasons:
            if rid == UNKNOWN_WHEN_ID:
                parts.append(w["all_unknown"] if "n_children" in section.inputs else w["unknown"])
            elif rid.startswith(MISSING_PREFIX):
                name = rid[len(MISSING_PREFIX):]
                parts.append(f"{w['missing']} {section.inputs.get(name, {}).get(lang, name)}")
            elif rid in cells and _holds(section, cells[rid], values, settings or {}):
                parts.append(f"{rid}: {cells[rid].en if lang == 'en' else cells[rid].vi}")     # in a cell never published
            elif rid in rules or rid in cells:
                rule = rules.get(rid) or cells[rid]
                undecided.append(rid)
                for n in sorted(rule.when.names):
                    if n in section.inputs and _is_nan(values.get(n)) and n not in missing:
                        missing.append(n)
                    elif settings is not None and n not in section.inputs and _is_nan(settings.get(n)) and n not in unpublished:
                        unpublished.append(n)
        if undecided:         # the inputs (and thresholds) that leave these rules undecided, each named once
            what = [section.inputs[n].get(lang, n) for n in missing] + [f"{w['not_published']} {n}" for n in unpublished]
            parts.append(f"{w['missing']} {', '.join(what) or w['data']} ({', '.join(undecided)})")
        return f"{w['unknown']} — " + "; ".join(parts)
    parts = []
    for rid in reasons:
        named = rules.get(rid)
        if named is None:
            continue
        rule = named
        read = [f"{section.inputs[n].get(lang, n)} = {_value(section.inputs[n], values[n], lang)}"
                for n in reads[rid] if not _is_nan(values.get(n))]
        text = f"{rid}: {rule.en if lang == 'en' else rule.vi}"
        if read:
            text += f" ({'; '.join(read)})"
        if rule.when.borders and triggers:
            text += f" — {w['borders']} {', '.join(triggers)}"
        parts.append(text)
    return "; ".join(parts) if parts else w["none"]


def explain_pair(section: RuleSection, values: dict, level: str, reasons: list[str], triggers: list[str],
                 settings: dict | None = None) -> tuple[str, str]:
    """(explain() in Vietnamese, in English), the same texts. The common case, a level the named rules gave, is
    made for both languages at once from each rule's words prepared once (a national day has thousands): each
    value is written once, English's separators swapped for Vietnamese's."""
    if level == "unknown" or (reasons and reasons[0] in HYSTERESIS_REASONS and values.get("hysteresis")):
        return (explain(section, values, level, reasons, triggers, "vi", settings),
                explain(section, values, level, reasons, triggers, "en", settings))
    vi, en = [], []
    for rid in reasons:
        words = _rule_words(section, rid)
        if words is None:
            continue
        read_vi, read_en = [], []
        for name, label_vi, label_en, spec in words[2]:
            v = values.get(name)
            if v is None or _is_nan(v):
                continue
            if spec.get("type") == "bool":
                read_vi.append(f"{label_vi} = {_value(spec, v, 'vi')}")
                read_en.append(f"{label_en} = {_value(spec, v, 'en')}")
            else:
                number = _number(v, "en")
                read_vi.append(f"{label_vi} = {number.translate(_VI_SEPARATORS)}")
                read_en.append(f"{label_en} = {number}")
        text_vi, text_en = words[0], words[1]
        if read_en:
            text_vi, text_en = f"{text_vi} ({'; '.join(read_vi)})", f"{text_en} ({'; '.join(read_en)})"
        if words[3] and triggers:
            bordering = ", ".join(triggers)
            text_vi += f" — {i18n.words('explain', 'vi')['borders']} {bordering}"
            text_en += f" — {i18n.words('explain', 'en')['borders']} {bordering}"
        vi.append(text_vi)
        en.append(text_en)
    if not en:
        return i18n.words("explain", "vi")["none"], i18n.words("explain", "en")["none"]
    return "; ".join(vi), "; ".join(en)


# (id(section), rule id) -> (section, (its words in Vietnamese, in English, [(input, its label in each, its spec)]
# in the order explain() reads them, whether it looks at borders) or None for no named rule): made once per rule
_RULE_WORDS: dict[tuple[int, str], tuple] = {}


def _rule_words(section: RuleSection, rid: str) -> tuple | None:
    found = _RULE_WORDS.get((id(section), rid))
    if found is None or found[0] is not section:
        rules, _, reads = _index(section)
        rule = rules.get(rid)
        words = None if rule is None else (
            f"{rid}: {rule.vi}", f"{rid}: {rule.en}",
            [(n, section.inputs[n].get("vi", n), section.inputs[n].get("en", n), section.inputs[n]) for n in reads[rid]],
            bool(rule.when.borders))
        found = _RULE_WORDS[(id(section), rid)] = (section, words)
    return found[1]


# id(section) -> (section, its rules by id, its unknown cells by id, the inputs each rule reads in order): made once
# per section, not at each of the thousands of explanations of a day (the section is kept to tell a reused id)
_INDEXES: dict[int, tuple] = {}


def _index(section: RuleSection) -> tuple[dict[str, Rule], dict[str, Rule], dict[str, list[str]]]:
    found = _INDEXES.get(id(section))
    if found is None or found[0] is not section:
        reads = {r.id: [n for n in sorted(r.when.names) if n in section.inputs] for r in section.rules}
        found = _INDEXES[id(section)] = (section, {r.id: r for r in section.rules},
                                         {r.id: r for r in section.unknown_rules}, reads)
    return found[1], found[2], found[3]


def _holds(section: RuleSection, rule: Rule, values: dict, settings: dict) -> bool:
    """Whether `rule` holds (true, not unknown) for one unit's values: a unit inside an unpublished cell is
    told so, one that may or may not be in it is told what is missing."""
    scope: dict[str, Any] = {k: v for k, v in settings.items() if isinstance(v, (int, float, str))}
    scope.update({k: np.array([np.nan if _is_nan(v) else float(v)]) for k, v in values.items()
                  if k in section.inputs and v is not None and not isinstance(v, dict)})
    for name in section.inputs:
        scope.setdefault(name, np.array([np.nan]))
    for name, ex in section.defines.items():
        scope[name] = E.evaluate(ex, scope, 1)
    return bool(E.evaluate(rule.when, scope, 1)[0] == 1)


def inputs_read(section: RuleSection, reasons: Sequence[str], available: Iterable[str]) -> list[str]:
    """The inputs explain() reads for these reason ids (those of the rules named, or of the missing)."""
    rules = {r.id: r for r in [*section.rules, *section.unknown_rules]}
    names = set()
    for rid in reasons:
        if rid in rules:
            names |= rules[rid].when.names
        elif rid.startswith(MISSING_PREFIX):
            names.add(rid[len(MISSING_PREFIX):])
    return [k for k in available if k in names]


def adjacency_triggers(section: RuleSection, reasons: list[list[str]], codes: np.ndarray, level_codes: np.ndarray,
                       neighbours: sparse.csr_matrix, labels: list[str], level_ids: list[str]) -> list[list[str]]:
    """For each unit whose reasons include a borders() rule, the neighbours at the bordered level."""
    rank = {lv: i for i, lv in enumerate(level_ids)}
    looks = {r.id: [rank[b] for b in r.when.borders] for r in section.rules if r.when.borders}
    out: list[list[str]] = [[] for _ in range(len(reasons))]
    if neighbours is None or not looks:
        return out
    csr = neighbours.tocsr()
    bordered: dict[tuple, set] = {}       # the levels looked at, per distinct list of reasons (a few over thousands)
    for i, rs in enumerate(reasons):
        key = tuple(rs)
        wanted = bordered.get(key)
        if wanted is None:
            wanted = bordered[key] = {lv for rid in rs for lv in looks.get(rid, [])}
        if wanted:
            nbrs = csr.indices[csr.indptr[i]:csr.indptr[i + 1]]
            out[i] = [labels[j] for j in nbrs if level_codes[j] in wanted]
    return out
