"""One catalogue of every user-facing string (geo/base/catalogue.yaml): complete in both languages,
the same placeholders in each, and read by every page, report and message."""
from __future__ import annotations

import ast
import re
import string
from pathlib import Path

import pytest
import yaml

from geo.base import i18n
from geo.serve import pages, rulesinfo

ROOT = Path(__file__).resolve().parents[2]
# Vietnamese letters that English never uses: a string holding one is Vietnamese text.
VIETNAMESE = re.compile(r"[ạảãàáâầấậẩẫăằắặẳẵđẹẻẽèéêềếệểễịỉĩìíọỏõòóôồốộổỗơờớợởỡụủũùúưừứựửữỳýỵỷỹ]")
# Where Vietnamese may still appear in code, and why: words the importer reads (not shown), the CLI's
# bilingual help, bilingual titles of machine documents (OpenAPI, OGC collections), comments/docstrings.
READ_NOT_SHOWN = {"geo/ingest/tables.py", "geo/base/vocabulary.py", "geo/ingest/personal.py", "geo/base/columns.py", "geo/base/names.py",
                  "geo/serve/lookup.py", "geo/ingest/declared.py"}
BILINGUAL_DOCS = {"geo/serve/openapi.py", "geo/serve/ogc.py"}
# Documents that are Vietnamese by design: the blank import templates an office fills in (their headers
# are words the importers read, their notes speak to the office).
VIETNAMESE_DOCUMENTS = {"geo/serve/blank.py"}


def _fields(text: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(text) if f is not None}


def test_every_entry_has_both_languages_and_the_same_placeholders():
    cat = i18n.catalogue()
    assert {"message", "stage", "unit", "map", "report", "setting", "value", "rules_page", "explain",
            "notice_page", "http_option"} <= set(cat)
    for section, entries in cat.items():
        for key, (vi, en) in entries.items():
            assert vi.strip() and en.strip(), f"{section}.{key}"
            assert _fields(vi) == _fields(en), f"{section}.{key}: {_fields(vi)} vs {_fields(en)}"


def test_hold_reasons_are_in_the_catalogue():
    keys = [k for k in i18n.catalogue()["message"] if k.startswith("hold_")]
    assert {"hold_jump", "hold_stale", "hold_unplaced"} <= set(keys)
    assert i18n.t("hold_jump", "en", n=900, day="2021-07-31", factor="5", days=14, most=20).startswith(
        i18n.catalogue()["message"]["hold_jump"][1].split("{")[0])


def test_a_broken_catalogue_is_refused(tmp_path, monkeypatch):
    bad = tmp_path / "catalogue.yaml"
    bad.write_text(yaml.safe_dump({"message": {"x": ["chỉ một"]}}, allow_unicode=True), encoding="utf-8")
    monkeypatch.setattr(i18n, "CATALOGUE", bad)
    i18n.catalogue.cache_clear()
    try:
        with pytest.raises(ValueError, match="message.x"):
            i18n.catalogue()
    finally:
        monkeypatch.undo()
        i18n.catalogue.cache_clear()


def test_pages_take_their_words_from_the_catalogue():
    for lang, k in (("vi", 0), ("en", 1)):
        title = i18n.catalogue()["notice_page"]["title"][k]
        assert f"<h1>{title}</h1>" in pages.error_page(lang, "x", [])
        (text, href), = pages.nearest_links(["2021-07-30"], "2021-07-31", "/map", lang)
        assert text == i18n.catalogue()["notice_page"]["nearest_before"][k].format(d="30/07/2021")
    vi, en = i18n.catalogue()["rules_page"]["settings"]
    assert vi != en
    assert i18n.words("rules_page", "en")["settings"] == en
    assert rulesinfo._value(True, "vi") == i18n.catalogue()["value"]["true"][0]
    assert rulesinfo._value([], "en") == i18n.catalogue()["value"]["none"][1]


def _strings(path: Path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree)
            if isinstance(n, (ast.Module, ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs:
            yield node.lineno, node.value


def test_no_vietnamese_text_outside_the_catalogue():
    """A Vietnamese string in code is a translation kept outside the catalogue (the documented
    exceptions aside): its English twin would be missing or elsewhere."""
    found = []
    for path in [ROOT / "server.py", *sorted((ROOT / "geo").rglob("*.py"))]:
        rel = path.relative_to(ROOT).as_posix()
        if rel in READ_NOT_SHOWN or rel in BILINGUAL_DOCS or rel in VIETNAMESE_DOCUMENTS or rel.startswith("geo/cli/"):
            continue
        found += [f"{rel}:{line}: {text[:40]}" for line, text in _strings(path) if VIETNAMESE.search(text)]
    assert not found, found


def test_row_reasons_read_in_the_operators_language():
    assert i18n.row_reason("unknown commune_code 99999", "vi") == "mã xã không có trong ranh giới hiện hành: 99999"
    assert i18n.row_reason("unknown commune_code 99999", "en") == "unknown commune_code 99999"
    assert i18n.row_reason("missing report_date", "vi") == "thiếu ngày công bố"
    assert i18n.row_reason("outside every commune (nearest 10001 Xã A, about 300 m)", "vi") == \
        "tọa độ không nằm trong xã nào (nearest 10001 Xã A, about 300 m)"
    assert i18n.row_reason("something new", "vi") == "something new"          # unknown: shown as it is
