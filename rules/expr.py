"""Rule conditions: a small, typed expression language evaluated over arrays with
three-valued logic (true / false / unknown).
Text settings (a choice such as `older_group_mode: raise`) may only be compared for equality with a
quoted word: `older_group_mode == 'raise'` is a condition that holds or not for every unit.

A condition is parsed once, when the ruleset loads, with Python's `ast` restricted to a
whitelist (comparisons, `and`/`or`/`not`, + - * /, numbers, booleans, names and the call
`borders('level_id')`). Every name must be a declared input or setting: a typo fails at load
with a "did you mean". Evaluation is vectorised: numbers are float arrays where NaN means
"missing", truth values are float arrays of 1.0 / 0.0 / NaN (Kleene logic), so a rule that
needs a missing input is *unknown*, never silently false.
"""
from __future__ import annotations

import ast
import difflib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import cast

import numpy as np

NUM, BOOL, STR = "number", "bool", "text"

_CMP = {
    ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
    ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal,
}
_ARITH = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply, ast.Div: np.divide}


# The type of a name that is one of the section's definitions (a condition or a number made of others).
DEFINED_BOOL, DEFINED_NUM = "defined condition", "defined number"


class ExprError(ValueError):
    """A condition that does not parse or does not type-check."""


def did_you_mean(name: str, choices) -> str:
    close = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.6)
    return f" (did you mean {', '.join(repr(c) for c in close)}?)" if close else ""


@dataclass
class Expr:
    source: str
    tree: ast.AST
    names: set[str] = field(default_factory=set)      # every input and setting it reads, through definitions too
    borders: set[str] = field(default_factory=set)
    defined: set[str] = field(default_factory=set)    # the section's named definitions it uses
    kind: str = BOOL                                  # BOOL (a condition) or NUM (a definition's number)


def parse(source: str, types: Mapping[str, str], levels: Mapping[str, int], kind: str | None = BOOL,
          defined: Mapping[str, Expr] | None = None) -> Expr:
    """Parse and type-check `source`; `types` maps every usable name to NUM, BOOL or STR. `kind`: what it
    must be (a condition by default; None: a condition or a number, for a definition). `defined`: the
    section's earlier definitions by name (their reads become this expression's)."""
    try:
        tree = ast.parse(str(source), mode="eval").body
    except SyntaxError as exc:
        raise ExprError(f"cannot parse {source!r}: {exc.msg}") from None
    expr = Expr(source=str(source), tree=tree)
    result = _check(tree, types, levels, expr)
    for name in expr.defined & set(defined or {}):
        sub = (defined or {})[name]
        expr.names |= sub.names
        expr.borders |= sub.borders
        expr.defined |= sub.defined
    if kind is not None and result != kind:
        raise ExprError(f"{source!r} is a {result}, a condition must be true or false")
    if kind is None and result not in (BOOL, NUM):
        raise ExprError(f"{source!r} is a {result}: a definition is a condition or a number")
    expr.kind = result
    return expr


def _check(node, types, levels, expr) -> str:
    if isinstance(node, ast.BoolOp):
        for v in node.values:
            if _check(v, types, levels, expr) != BOOL:
                raise ExprError(f"'and'/'or' needs conditions on both sides in {expr.source!r}")
        return BOOL
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        if _check(node.operand, types, levels, expr) != BOOL:
            raise ExprError(f"'not' needs a condition in {expr.source!r}")
        return BOOL
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        if _check(node.operand, types, levels, expr) != NUM:
            raise ExprError(f"'-' needs a number in {expr.source!r}")
        return NUM
    if isinstance(node, ast.Compare):
        kinds = [_check(part, types, levels, expr) for part in [node.left, *node.comparators]]
        if STR in kinds:
            if len(node.ops) != 1 or type(node.ops[0]) not in (ast.Eq, ast.NotEq) or kinds != [STR, STR]:
                raise ExprError(f"a text setting is only compared with == or != to a quoted word in {expr.source!r}")
            return BOOL
        if any(k != NUM for k in kinds):
            raise ExprError(f"comparisons need numbers on both sides in {expr.source!r}")
        for op in node.ops:
            if type(op) not in _CMP:
                raise ExprError(f"operator {type(op).__name__} is not allowed in {expr.source!r}")
        return BOOL
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _ARITH:
            raise ExprError(f"operator {type(node.op).__name__} is not allowed in {expr.source!r}")
        for side in (node.left, node.right):
            if _check(side, types, levels, expr) != NUM:
                raise ExprError(f"arithmetic needs numbers in {expr.source!r}")
        return NUM
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool):
            return BOOL
        if isinstance(node.value, (int, float)):
            return NUM
        if isinstance(node.value, str):
            return STR
        raise ExprError(f"constant {node.value!r} is not a number or true/false in {expr.source!r}")
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            return BOOL
        if node.id not in types:
            raise ExprError(f"unknown name {node.id!r} in {expr.source!r}{did_you_mean(node.id, types)}")
        if types[node.id] == DEFINED_BOOL or types[node.id] == DEFINED_NUM:
            expr.defined.add(node.id)
            return BOOL if types[node.id] == DEFINED_BOOL else NUM
        expr.names.add(node.id)
        return types[node.id]
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "borders":
        if len(node.args) != 1 or node.keywords or not isinstance(node.args[0], ast.Constant) \
                or not isinstance(node.args[0].value, str):
            raise ExprError(f"borders() takes one level id in quotes, in {expr.source!r}")
        lvl = node.args[0].value
        if lvl not in levels:
            raise ExprError(f"borders({lvl!r}): no such level{did_you_mean(lvl, levels)} in {expr.source!r}")
        expr.borders.add(lvl)
        return BOOL
    raise ExprError(f"{type(node).__name__} is not allowed in {expr.source!r}")


# -- evaluation ---------------------------------------------------------------------------

def _and(a, b):
    out = np.where(np.isnan(a) | np.isnan(b), np.nan, 1.0)
    return np.where((a == 0) | (b == 0), 0.0, out)


def _or(a, b):
    out = np.where(np.isnan(a) | np.isnan(b), np.nan, 0.0)
    return np.where((a == 1) | (b == 1), 1.0, out)


def evaluate(expr: Expr, env: Mapping[str, np.ndarray | float | str], n: int,
             borders: Callable[[str], np.ndarray] | None = None) -> np.ndarray:
    """Evaluate to a float array of 1/0/NaN of length n."""
    out = _eval(expr.tree, env, n, borders)
    return np.broadcast_to(np.asarray(out, dtype=float), (n,)).copy()


def _eval(node, env, n, borders):
    if isinstance(node, ast.BoolOp):
        vals = [_eval(v, env, n, borders) for v in node.values]
        comb = _and if isinstance(node.op, ast.And) else _or
        acc = vals[0]
        for v in vals[1:]:
            acc = comb(np.asarray(acc, float), np.asarray(v, float))
        return acc
    if isinstance(node, ast.UnaryOp):
        v = np.asarray(_eval(node.operand, env, n, borders), float)
        return 1.0 - v if isinstance(node.op, ast.Not) else -v
    if isinstance(node, ast.Compare):
        raw = _eval(node.left, env, n, borders)
        if isinstance(raw, str):            # text setting == 'word' (checked at load: one operator)
            same = raw == _eval(node.comparators[0], env, n, borders)
            return float(same if isinstance(node.ops[0], ast.Eq) else not same)
        left = np.asarray(raw, float)
        acc = None
        for op, comp in zip(node.ops, node.comparators, strict=False):
            right = np.asarray(_eval(comp, env, n, borders), float)
            with np.errstate(invalid="ignore"):
                res = np.where(np.isnan(left) | np.isnan(right), np.nan, _CMP[type(op)](left, right).astype(float))
            acc = res if acc is None else _and(acc, res)
            left = right
        return acc
    if isinstance(node, ast.BinOp):
        left = np.asarray(_eval(node.left, env, n, borders), float)
        right = np.asarray(_eval(node.right, env, n, borders), float)
        with np.errstate(divide="ignore", invalid="ignore"):
            res = _ARITH[type(node.op)](left, right)
        return np.where(np.isfinite(res), res, np.nan)
    if isinstance(node, ast.Constant):
        return node.value if isinstance(node.value, str) else float(cast(float, node.value))  # numbers only: checked at parse
    if isinstance(node, ast.Name):
        if node.id in ("true", "false"):
            return 1.0 if node.id == "true" else 0.0
        value = env[node.id]
        return value if isinstance(value, str) else np.asarray(value, dtype=float)
    if isinstance(node, ast.Call):
        if borders is None:
            return np.full(n, np.nan)
        return np.asarray(borders(cast(ast.Constant, node.args[0]).value), dtype=float)  # a level id: checked at parse
    raise ExprError(f"cannot evaluate {type(node).__name__}")
