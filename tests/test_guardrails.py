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


def test_rules_importing_geo_breaks_the_contract(copy):
    target = copy / "rules" / "levels.py"
    before = _edit(target, "", "import geo.base.columns  # noqa: F401\n")
    try:
        out = _run("lint-imports", "--no-cache", cwd=copy)
    finally:
        target.write_text(before, encoding="utf-8")
    assert out.returncode != 0
    assert "rules is pure" in out.stdout and "BROKEN" in out.stdout


def test_an_import_cycle_breaks_the_contract(copy):
    # everything imports config: config importing back is a cycle
    out = _contracts_with(copy, "geo/base/config.py", "from geo.publish import pipeline  # noqa: F401")
    assert out.returncode != 0
    assert "no import cycles" in out.stdout and "BROKEN" in out.stdout
    assert "geo's stages in order" in out.stdout      # a lower stage importing a higher one


def test_serving_reaching_into_the_evaluation_breaks_the_contract(copy):
    out = _contracts_with(copy, "geo/serve/lookup.py", "from geo.evaluate import evaluation  # noqa: F401")
    assert out.returncode != 0 and "serving reads published runs" in out.stdout


def test_geo_importing_flask_breaks_the_contract(copy):
    out = _contracts_with(copy, "geo/base/i18n.py", "import flask  # noqa: F401")
    assert out.returncode != 0 and "geo never imports flask" in out.stdout


def test_ruff_and_mypy_fail_on_a_violation(copy, tmp_path):
    target = copy / "geo" / "base" / "columns.py"
    before = _edit(target, "", "import os\n")
    before_types = (copy / "rules" / "levels.py").read_text(encoding="utf-8")
    (copy / "rules" / "levels.py").write_text(before_types + "\n\ndef _bad() -> int:\n    return 'text'\n",
                                              encoding="utf-8")
    try:
        lint = _run("ruff", "check", "--no-cache", ".", cwd=copy)
        types = _run("mypy", "--cache-dir", str(tmp_path / "mypy"), cwd=copy)
    finally:
        target.write_text(before, encoding="utf-8")
        (copy / "rules" / "levels.py").write_text(before_types, encoding="utf-8")
    assert lint.returncode != 0 and "F401" in lint.stdout
    assert types.returncode != 0 and "rules/levels.py" in types.stdout and "return-value" in types.stdout


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


# The one module allowed past the size limit, and why: the project's architecture makes server.py the
# only module that imports flask, so every route lives there (each a module-level function of a few lines).
LONG_MODULES = {"server.py"}
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


# SQL words as they open a statement: a string constant holding one is SQL.
SQL_STATEMENT = re.compile(r"^\s*(SELECT\s.+\sFROM\s|INSERT\s+INTO\s|UPDATE\s+\w+\s+SET\s|DELETE\s+FROM\s|"
                           r"CREATE\s+(TEMP\s+)?(TABLE|INDEX)\s|DROP\s+(TABLE|INDEX)\s)", re.S)


def sql_outside_store(paths, root: Path = ROOT) -> list[str]:
    """Where a module outside geo/store holds an SQL statement (in any string constant or f-string)."""
    found = []
    for path in paths:
        if path.relative_to(root).parts[:2] == ("geo", "store"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        texts = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.JoinedStr):       # an f-string: its text with {} for each value
                texts[node.lineno] = "".join(v.value if isinstance(v, ast.Constant) else "{}" for v in node.values)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.lineno not in texts:
                texts[node.lineno] = node.value
        found += [f"{path.relative_to(root).as_posix()}:{line}" for line, text in sorted(texts.items())
                  if SQL_STATEMENT.match(text)]
    return found


def test_sql_lives_only_in_the_store():
    """Swapping the store starts in one package: no SQL statement anywhere else."""
    assert not sql_outside_store(_modules())


def test_sql_outside_the_store_is_found(tmp_path):
    probe = tmp_path / "geo" / "serve" / "probe.py"
    probe.parent.mkdir(parents=True)
    probe.write_text('def f(con):\n    return con.execute("SELECT code FROM units WHERE unit = ?", ("x",))\n'
                     'def g(con, t):\n    return con.execute(f"DELETE FROM {t} WHERE 1")\n'
                     'NOTE = "select a level from the list"\n', encoding="utf-8")
    inside = tmp_path / "geo" / "store" / "probe.py"
    inside.parent.mkdir(parents=True)
    inside.write_text(probe.read_text(encoding="utf-8"), encoding="utf-8")
    assert sql_outside_store([probe, inside], tmp_path) == ["geo/serve/probe.py:2", "geo/serve/probe.py:4"]
