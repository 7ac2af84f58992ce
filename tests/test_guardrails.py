"""The guardrails of the code base, run with the tests (so `.ci/run` runs them): the layering contract
(import-linter), the linter (ruff: pyflakes, pycodestyle errors, bugbear, isort, pyupgrade) and the type
checker (mypy), all configured in pyproject.toml. Each is also shown to fail on a deliberate violation
made in a copy of the code, so a check that can no longer fail is noticed."""
from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlglot
from sqlglot import exp

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def _run(tool: str, *args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    exe = BIN / tool
    if not exe.exists():
        pytest.fail(f"{tool} is not installed: scripts/setup.sh installs requirements-dev.txt")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def copy(tmp_path_factory) -> Path:
    """The packages and their configuration, copied: violations are made there, never in the tree."""
    dst = tmp_path_factory.mktemp("code")
    for name in ("geo", "rules"):
        shutil.copytree(ROOT / name, dst / name, ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("server.py", "pyproject.toml"):
        shutil.copy(ROOT / name, dst / name)
    return dst


def test_layering_contract_holds():
    out = _run("lint-imports", "--no-cache")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "BROKEN" not in out.stdout and out.stdout.count("KEPT") >= 3


def test_ruff_passes():
    out = _run("ruff", "check", "--no-cache", ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_mypy_passes(tmp_path):
    out = _run("mypy", "--cache-dir", str(tmp_path / "mypy"))
    assert out.returncode == 0, out.stdout + out.stderr


def _edit(path: Path, old: str, new: str) -> str:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(old, new, 1) if old else new + text, encoding="utf-8")
    return text


def _contracts_with(copy: Path, module: str, line: str) -> subprocess.CompletedProcess:
    """lint-imports over the copy with `line` added at the top of `module` (taken out again after)."""
    target = copy / module
    before = _edit(target, "", line + "\n")
    try:
        return _run("lint-imports", "--no-cache", cwd=copy)
    finally:
        target.write_text(before, encoding="utf-8")


# A forbidden import added at the top of a module: the contract the report names broken.
FORBIDDEN = [
    ("rules/levels.py", "import geo.base.columns", "rules is pure"),
    ("rules/engine.py", "import shapely", "rules is pure"),
    ("rules/engine.py", "import geopandas", "rules is pure"),
    ("geo/serve/lookup.py", "from geo.evaluate import evaluation", "serving reads published runs"),
    ("geo/serve/lookup.py", "from geo.ingest import cases", "never the importers"),
    ("geo/base/i18n.py", "import flask", "only the web layer imports flask"),
    ("geo/serve/lookup.py", "import werkzeug", "only the web layer imports flask"),
    ("geo/web/pages.py", "from geo.store import runfiles", "the web layer asks serving"),
    ("geo/web/api.py", "from geo.evaluate import outlook", "the web layer asks serving"),
    ("geo/serve/lookup.py", "from geo.web import common", "geo's stages in order"),   # a lower stage reaching up
]


@pytest.mark.parametrize("module, line, contract", FORBIDDEN, ids=[f"{m}:{line}" for m, line, _ in FORBIDDEN])
def test_a_forbidden_import_breaks_its_contract(copy, module, line, contract):
    out = _contracts_with(copy, module, line + "  # noqa: F401")
    assert out.returncode != 0
    assert contract in out.stdout and "BROKEN" in out.stdout


def test_an_import_cycle_breaks_the_contract(copy):
    # everything imports config: config importing back is a cycle
    out = _contracts_with(copy, "geo/base/config.py", "from geo.publish import pipeline  # noqa: F401")
    assert out.returncode != 0
    assert "no import cycles" in out.stdout and "BROKEN" in out.stdout
    assert "geo's stages in order" in out.stdout      # a lower stage importing a higher one


def test_an_indirect_route_to_the_evaluation_breaks_the_contract(copy):
    """The web layer imports geo.publish.maplevels: were that to import the evaluation, a request could run one."""
    out = _contracts_with(copy, "geo/publish/maplevels.py", "from geo.evaluate import outlook  # noqa: F401")
    assert out.returncode != 0 and "serving reads published runs" in out.stdout
    assert "geo.publish.maplevels" in out.stdout


# What server.py (the app factory, outside the packages import-linter walks) may import: Flask, the web layer,
# the command line, and what every stage may use.
SERVER_IMPORTS = ("flask", "geo.web", "geo.cli", "geo.base", "geo.domain")


def server_imports_outside(path: Path) -> list[str]:
    """The modules server.py imports that the app factory has no business with."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module in ("geo", "rules"):
            names = [f"{node.module}.{a.name}" for a in node.names]          # from geo import cli
        elif isinstance(node, ast.ImportFrom) and node.level == 0:
            names = [node.module or ""]
        else:
            continue
        found += [name for name in names if name.split(".")[0] in ("geo", "rules", "flask", "werkzeug")
                  and not any(name == ok or name.startswith(ok + ".") for ok in SERVER_IMPORTS)]
    return found


def test_server_is_a_small_factory_inside_the_contracts(copy):
    server = ROOT / "server.py"
    assert len(server.read_text(encoding="utf-8").splitlines()) < 100
    assert server_imports_outside(server) == []
    _edit(copy / "server.py", "", "from geo.evaluate import evaluation  # noqa: F401\nfrom geo.store import pg  # noqa: F401\n")
    try:
        assert server_imports_outside(copy / "server.py") == ["geo.evaluate", "geo.store"]
    finally:
        shutil.copy(ROOT / "server.py", copy / "server.py")


def test_ruff_and_mypy_fail_on_a_violation(copy, tmp_path):
    target = copy / "geo" / "base" / "columns.py"
    before = _edit(target, "", "import os\n")
    before_types = (copy / "rules" / "levels.py").read_text(encoding="utf-8")
    (copy / "rules" / "levels.py").write_text(before_types + "\n\ndef _bad() -> int:\n    return 'text'\n",
                                              encoding="utf-8")
    untyped = copy / "geo" / "web" / "pages.py"
    before_web = _edit(untyped, "", "")
    untyped.write_text(before_web + "\n\ndef helper(value):\n    return value\n", encoding="utf-8")
    try:
        lint = _run("ruff", "check", "--no-cache", ".", cwd=copy)
        types = _run("mypy", "--cache-dir", str(tmp_path / "mypy"), cwd=copy)
    finally:
        target.write_text(before, encoding="utf-8")
        (copy / "rules" / "levels.py").write_text(before_types, encoding="utf-8")
        untyped.write_text(before_web, encoding="utf-8")
    assert lint.returncode != 0 and "F401" in lint.stdout
    assert types.returncode != 0 and "rules/levels.py" in types.stdout and "return-value" in types.stdout
    # the web layer, the store and the evaluation: every function annotated
    assert "geo/web/pages.py" in types.stdout and "no-untyped-def" in types.stdout


def test_mypy_checks_the_bodies_of_unannotated_functions(copy, tmp_path):
    """check_untyped_defs: a function without annotations is still read (an error inside one is found)."""
    target = copy / "geo" / "ingest" / "nesting.py"
    before = _edit(target, "", "")
    target.write_text(before + "\n\ndef _probe(x):\n    n: int = 'text'\n    return n\n", encoding="utf-8")
    try:
        types = _run("mypy", "--cache-dir", str(tmp_path / "mypy"), cwd=copy)
    finally:
        target.write_text(before, encoding="utf-8")
    assert types.returncode != 0 and "geo/ingest/nesting.py" in types.stdout and "assignment" in types.stdout


def test_requirements_split_runtime_from_development():
    """Runtime pins only in requirements.txt; tests, benchmarks and checks in requirements-dev.txt."""
    runtime = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    dev = (ROOT / "requirements-dev.txt").read_text(encoding="utf-8")
    names = lambda text: {ln.split("==")[0].split("[")[0].lower() for ln in text.splitlines()  # noqa: E731
                          if ln and not ln.startswith(("#", "-r"))}
    for tool in ("pytest", "playwright", "ruff", "mypy", "import-linter", "schemathesis", "owslib", "pypdf"):
        assert tool not in names(runtime) and tool in names(dev), tool
    assert {"pillow", "flask", "geopandas", "libpysal"} <= names(runtime)
    assert all("==" in ln for ln in (runtime + dev).splitlines() if ln and not ln.startswith(("#", "-r")))
    assert "-r requirements.txt" in dev
    ignored = subprocess.run(["git", "check-ignore", "-q", "data/cache/x"], cwd=ROOT).returncode
    tracked = subprocess.run(["git", "ls-files", "data/cache"], cwd=ROOT, capture_output=True, text=True).stdout
    assert ignored == 0 and tracked == ""


# Modules allowed past the size limit, and why: none.
LONG_MODULES: set[str] = set()
MAX_LINES = 300


def _modules():
    return [ROOT / "server.py", *sorted((ROOT / "geo").rglob("*.py")), *sorted((ROOT / "rules").rglob("*.py"))]


def test_modules_are_small():
    long = {str(p.relative_to(ROOT)): n for p in _modules()
            if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_LINES}
    assert set(long) <= LONG_MODULES, long


def test_imports_are_at_the_top_unless_documented():
    """A function-level import hides a dependency (and a cycle); the few deliberate ones say why."""
    hidden = []
    for path in _modules():
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for inner in ast.walk(node):
                    if isinstance(inner, (ast.Import, ast.ImportFrom)) and "deliberate:" not in lines[inner.lineno - 1]:
                        hidden.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not hidden, hidden


# A text opening with one of these words (any case) is read by an SQL parser: SQL if it parses as a statement.
SQL_OPENING = re.compile(r"^\s*(select|insert|update|delete|replace|create|drop|alter|pragma|with|vacuum|attach)"
                         r"\s+\S", re.I)
SQL_STATEMENTS = (exp.Select, exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Pragma,
                  exp.Union, exp.Command)
# The DB-API and its relatives: a call to one of these runs SQL whatever built the text.
DB_CALLS = {"execute", "executemany", "executescript", "cursor", "fetchone", "fetchall", "fetchmany", "read_sql",
            "read_sql_query", "read_sql_table", "to_sql", "read_postgis"}
DB_CONNECTS = {("sqlite3", "connect"), ("psycopg", "connect"), ("psycopg2", "connect")}


def _texts(tree: ast.AST) -> dict[int, str]:
    """Every text a module builds, by line: string constants, f-strings (each value a name), and texts joined
    with + or filled with % or .format() (the parts joined, the values names)."""
    def text(node: ast.AST) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return "".join(v.value if isinstance(v, ast.Constant) else "x" for v in node.values)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            left, right = text(node.left), text(node.right)
            return None if left is None and right is None else (left or "x") + (right or "x")
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod):
            return text(node.left)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format":
            return text(node.func.value)
        return None
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    out: dict[int, str] = {}
    for node in ast.walk(tree):
        if id(node) in docs or getattr(node, "lineno", None) in out:
            continue
        found = text(node)
        if found is not None:
            out[node.lineno] = found          # the outermost text on a line (a walk meets it first)
    return out


def is_sql(text: str) -> bool:
    if not SQL_OPENING.match(text):
        return False
    try:
        statement = sqlglot.parse_one(re.sub(r"%s|\{\}", "?", text), dialect="sqlite")
    except sqlglot.errors.SqlglotError:
        return False
    return isinstance(statement, SQL_STATEMENTS)


def sql_outside_store(paths, root: Path = ROOT) -> list[str]:
    """Where a module outside geo/store holds an SQL statement (any case or form, however the text is built)
    or calls the DB-API (which runs SQL whatever the text)."""
    found = []
    for path in paths:
        if path.relative_to(root).parts[:2] == ("geo", "store"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        lines = {line for line, text in _texts(tree).items() if is_sql(text)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
                owner = node.func.value.id if isinstance(node.func.value, ast.Name) else None
                if node.func.attr in DB_CALLS or (owner, node.func.attr) in DB_CONNECTS:
                    lines.add(node.lineno)
        found += [f"{path.relative_to(root).as_posix()}:{line}" for line in sorted(lines)]
    return found


def test_sql_lives_only_in_the_store():
    """Swapping the store starts in one package: no SQL statement anywhere else, and no DB-API call."""
    assert not sql_outside_store(_modules())


PLANTED_SQL = [
    'def a(con):\n    return con.execute("SELECT code FROM units WHERE unit = ?", ("x",))',
    'def b(t):\n    return f"DELETE FROM {t} WHERE 1"',
    'Q1 = "insert or replace into levels (code, level) values (?, ?)"',
    'Q2 = "with recent as (select code from cases) select count(*) from recent"',
    'Q3 = "pragma journal_mode = wal"',
    'Q4 = "alter table cases add column cluster text"',
    'Q5 = "select code " + "from units where unit = %s"',
    'Q6 = "UPDATE holds SET released = 1 WHERE run_id = {}".format(1)',
    'def c(db, q):\n    return db.fetchall()',
    'import sqlite3\ndef d(p):\n    return sqlite3.connect(p)',
]
PROSE = [
    'NOTE = "Select a level, then press OK."',
    'HINT = "Update the file and import it again"',
    'def e():\n    """SELECT code FROM units: a docstring may show SQL."""',
]


def test_sql_outside_the_store_is_found(tmp_path):
    probe = tmp_path / "geo" / "serve" / "probe.py"
    probe.parent.mkdir(parents=True)
    inside = tmp_path / "geo" / "store" / "probe.py"
    inside.parent.mkdir(parents=True)
    for snippet in PLANTED_SQL:
        probe.write_text(snippet + "\n", encoding="utf-8")
        inside.write_text(snippet + "\n", encoding="utf-8")
        assert sql_outside_store([probe, inside], tmp_path), snippet
    for snippet in PROSE:
        probe.write_text(snippet + "\n", encoding="utf-8")
        assert sql_outside_store([probe], tmp_path) == [], snippet
