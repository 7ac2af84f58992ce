"""The parts of a rule section made of other conditions: named definitions (`define:`) and a decision table
(`matrix:` rows x columns, each cell's level a setting), compiled at load into the section's rules.
RULES.md §6: NQ 128's band x coverage matrix, QĐ 218's transmission x capacity one."""
from __future__ import annotations

import itertools

from . import expr as E
from .levels import Level
from .model import Matrix, Rule, RulesetError
from .model import clean as _clean
from .model import known_keys as _keys
from .model import required as _req

MATRIX_KEYS = {"vi", "en", "rows", "columns", "cells", "raise"}
AXIS_KEYS = {"id", "when", "vi", "en", "ref"}
# A matrix cell's level lives in this setting (a province edits it, a what-if may change it).
CELL_SETTING = "cell_{row}_{column}"


def types(inputs: dict, settings: dict) -> dict[str, str]:
    """The type of every name a condition may use: inputs, then settings (numbers, true/false, text)."""
    types = {k: (E.BOOL if v["type"] == "bool" else E.NUM) for k, v in inputs.items()}
    for k, v in settings.items():
        if isinstance(v, bool):
            types[k] = E.BOOL
        elif isinstance(v, (int, float)):
            types[k] = E.NUM
        elif isinstance(v, str):
            types[k] = E.STR
    return types


def defines(doc, path, line, types: dict, rank: dict) -> dict[str, E.Expr]:
    """`define:` named conditions (or numbers) made of inputs, settings and earlier definitions, so a
    rule reads `coverage_reached` instead of repeating it; no borders() inside (adjacency stays in rules)."""
    raw = doc.get("define") or {}
    if not isinstance(raw, dict):
        raise RulesetError(path, line, "define: a mapping name -> condition")
    out: dict[str, E.Expr] = {}
    for name, source in _clean(raw).items():
        if name in types:
            raise RulesetError(path, raw.get("__line__", line), f"define: {name!r} is already an input or a setting")
        try:
            ex = E.parse(source, types, rank, kind=None, defined=out)
        except E.ExprError as exc:
            raise RulesetError(path, raw.get("__line__", line), f"define {name}: {exc}") from None
        if ex.borders:
            raise RulesetError(path, raw.get("__line__", line), f"define {name}: borders() belongs in a rule")
        out[name] = ex
        types[name] = E.DEFINED_BOOL if ex.kind == E.BOOL else E.DEFINED_NUM
    return out


def _axis(items, path, line, what: str, parse) -> list[dict]:
    if not isinstance(items, list) or not items:
        raise RulesetError(path, line, f"matrix {what}: a list of {{id, when, vi, en}}")
    out, seen = [], set()
    for it in items:
        il = it.get("__line__", line) if isinstance(it, dict) else line
        if not isinstance(it, dict):
            raise RulesetError(path, il, f"matrix {what}: each is a mapping {{id, when, vi, en}}")
        _keys(it, AXIS_KEYS, path, f"matrix {what}")
        aid = str(_req(it, "id", path))
        if aid in seen or not aid.replace("_", "").isalnum():
            raise RulesetError(path, il, f"matrix {what}: id {aid!r} is used twice or is not letters/digits")
        seen.add(aid)
        out.append({"id": aid, "when": parse(_req(it, "when", path), il, f"matrix {what} {aid}"),
                    "vi": str(it.get("vi", aid)), "en": str(it.get("en", aid)), "ref": str(it.get("ref", "")), "line": il})
    return out


def matrix(doc, path, settings: dict, level_ids: list[str], parse) -> tuple[Matrix | None, list[Rule], list[Rule]]:
    """A `matrix:` compiled into rules (cells above the lowest level, raised cells) and unknown rules."""
    raw = doc.get("matrix")
    if raw is None:
        return None, [], []
    line = raw.get("__line__") if isinstance(raw, dict) else doc.get("__line__")
    if not isinstance(raw, dict):
        raise RulesetError(path, line, "matrix: a mapping with rows, columns and cells")
    _keys(raw, MATRIX_KEYS, path, "matrix")
    rows = _axis(_req(raw, "rows", path, list), path, line, "rows", parse)
    cols = _axis(_req(raw, "columns", path, list), path, line, "columns", parse)
    raises = _axis(raw["raise"], path, line, "raise", parse) if raw.get("raise") else []
    refs = _clean(_req(raw, "cells", path, dict))
    wanted = {f"{r['id']}-{c['id']}": (r, c) for r in rows for c in cols}
    for cid in refs:
        if cid not in wanted:
            raise RulesetError(path, line, f"matrix cell {cid!r} is not a row-column pair{E.did_you_mean(cid, wanted)}")
    cells, rules, unknown = {}, [], []
    top = len(level_ids) - 1
    for cid, (r, c) in wanted.items():
        setting = CELL_SETTING.format(row=r["id"], column=c["id"])
        if setting not in settings:
            raise RulesetError(path, line, f"matrix cell {cid}: missing setting {setting!r} (its level)"
                               f"{E.did_you_mean(setting, settings)}")
        level = settings[setting]
        if level not in level_ids and level != Level.UNKNOWN.value:
            raise RulesetError(path, line, f"setting {setting!r}: {level!r} is not a level"
                               f"{E.did_you_mean(str(level), [*level_ids, Level.UNKNOWN.value])}")
        ref = refs.get(cid)
        text = ref.get("ref") if isinstance(ref, dict) else ref
        if not text:
            raise RulesetError(path, line, f"matrix cell {cid}: give its source (cells: {{{cid}: \"...\"}})")
        cells[cid] = {"level": level, "ref": str(text), "setting": setting}
        when = parse(f"({r['when'].source}) and ({c['when'].source})", r["line"], f"matrix cell {cid}")
        vi, en = f"{r['vi']} × {c['vi']}", f"{r['en']} × {c['en']}"
        if level == Level.UNKNOWN.value:
            unknown.append(Rule(cid, level, when, str(text), f"{vi}: ô chưa được công bố", f"{en}: cell not published",
                                r["line"]))
            continue
        at = level_ids.index(level)
        if at > 0:
            rules.append(Rule(cid, level, when, str(text), vi, en, r["line"]))
        for k in range(1, len(raises) + 1):          # each raise that holds adds a level (capped at the top)
            for group in itertools.combinations(raises, k):
                if at + k - 1 >= top:         # already at the top with one raise fewer
                    continue
                gid = "+".join(g["id"] for g in group)
                cond = parse(f"({when.source}) and " + " and ".join(f"({g['when'].source})" for g in group),
                             r["line"], f"matrix cell {cid} raised by {gid}")
                rules.append(Rule(f"{cid}+{gid}", level_ids[min(at + k, top)], cond,
                                  "; ".join([str(text), *(g["ref"] for g in group if g["ref"])]),
                                  f"{vi}; " + "; ".join(g["vi"] for g in group),
                                  f"{en}; " + "; ".join(g["en"] for g in group), r["line"]))
    for name in settings:
        if name.startswith("cell_") and name not in {c["setting"] for c in cells.values()}:
            raise RulesetError(path, line, f"setting {name!r} is no cell of the matrix"
                               f"{E.did_you_mean(name, [c['setting'] for c in cells.values()])}")
    return Matrix(str(raw.get("vi", "")), str(raw.get("en", "")), rows, cols, cells, raises), rules, unknown
