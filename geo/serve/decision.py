"""The committee's decision with its appendix, as the secretariat would have typed it: DOCX (python-docx) and PDF
(the same content as a printed page, Chromium), laid out as Nghị định 30/2020/NĐ-CP lays out administrative
documents: A4, margins 20/20/30/15 mm, Times New Roman 13-14 pt, the issuer and national motto side by side, the
number and the place and date, the title, "Căn cứ …" with the ruleset's legal basis, the articles, "Nơi nhận" and
the signature block; the appendix a table per district (STT, unit, level, in force from, measures).

The words are data (geo/serve/templates/decision.yaml, or a province's copy named by ZONES_DECISION_TEMPLATE):
every key is required, checked when read. Made once per decision into the cache (a decision never changes)."""
from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

import lazy_loader as lazy
import yaml
from jinja2 import Environment, FileSystemLoader, select_autoescape

from geo.base import faults
from geo.base.errors import InputError, NotFoundError
from geo.serve import printing
from geo.store import decisions
from geo.store.database import Store

# python-docx (and lxml) take a tenth of a second to import: loaded by the first document written
python_docx = lazy.load("docx")

TEMPLATES = Path(__file__).parent / "templates"
DEFAULT_TEMPLATE = TEMPLATES / "decision.yaml"
# Nghị định 30/2020/NĐ-CP, Phụ lục I: A4, margins top/bottom 20-25 mm, left 30-35 mm, right 15-20 mm.
MARGINS_MM = {"top": 20, "bottom": 20, "left": 30, "right": 15}
FONT = "Times New Roman"
BODY_PT, SMALL_PT = 14, 12
KEYS = ("issuer", "number_line", "motto", "motto_sub", "place_date", "kind", "subject", "authority", "bases", "decides",
        "articles", "recipients_head", "default_recipients", "sign_for", "default_signer_title", "appendix_title",
        "appendix_subject", "appendix_ref", "districts_head", "communes_head", "columns", "level_format",
        "measures_head", "measures_more", "changed_reason", "time_format", "province_word", "city_word", "cities")


def template(path: Path | None = None) -> dict:
    """The decision's words, every key present (a province's copy that lacks one is refused, naming it)."""
    path = Path(path or DEFAULT_TEMPLATE)
    try:
        words = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise InputError("file_unreadable", path=str(path), detail=str(exc)[:200]) from None
    missing = [k for k in KEYS if k not in words]
    if missing:
        raise InputError("missing_columns", path=str(path), columns=", ".join(missing), present=", ".join(words))
    return words


def content(store: Store, decision_id: str, ruleset, words: dict) -> dict:
    """Everything the document says, its placeholders filled."""
    with store.connect(readonly=True) as con:
        d = decisions.get(con, decision_id)
        units = decisions.units(con, decision_id) if d else None
    if d is None or units is None:
        raise NotFoundError("not_found", what=f"decision {decision_id}")
    signed = dt.datetime.fromisoformat(d["signed_at"])
    effective = dt.datetime.fromisoformat(d["effective_at"])
    name = d["province_name"] or ""
    word = words["city_word"] if any(name.endswith(c) for c in words["cities"]) else words["province_word"]
    full = name if name.lower().startswith((words["city_word"], words["province_word"])) else f"{word} {name}"
    fill = {"province": name, "province_full": full, "PROVINCE_FULL": full.upper(), "number": d["number"],
            # Nghị định 30/2020, Phụ lục I: a day below 10 and the months 1 and 2 take a leading zero
            "day": f"{signed.day:02d}", "month": f"{signed.month:02d}" if signed.month <= 2 else str(signed.month),
            "year": signed.year,
            "effective_time": words["time_format"].format(hour=effective.hour, minute=effective.minute),
            "effective_date": f"{effective.day:02d}/{effective.month:02d}/{effective.year}", "n_units": len(units),
            "legal_source": ruleset.legal_source or ruleset.title, "date_short": f"{signed.day:02d}/{signed.month:02d}/{signed.year}"}

    def f(text: str) -> str:
        return text.format(**fill)
    rank = {lv: k + 1 for k, lv in enumerate(ruleset.level_ids)}
    own: dict[str, list[str]] = {m["level"]: [] for m in ruleset.all_measures()}
    for m in ruleset.all_measures():
        own[m["level"]].append(m["vi"])
    groups: dict[str, list[dict]] = {}
    for u in units.itertuples():
        head = (words["districts_head"] if u.kind == "district"
                else words["communes_head"].format(**fill, district=u.district_name or ""))
        groups.setdefault(head, []).append({
            "name": u.name, "level": words["level_format"].format(n=rank.get(u.level, "?"), label=ruleset.level(u.level)["vi"]),
            "from": fill["effective_date"], "measures": own.get(u.level, []),
            "reason": words["changed_reason"].format(reason=u.reason) if isinstance(u.reason, str) and u.reason else ""})
    levels = [lv for lv in ruleset.level_ids if lv in set(units["level"])]
    return {
        "decision": d, "issuer": f(words["issuer"]).split("\n"), "number_line": f(words["number_line"]),
        "motto": words["motto"], "motto_sub": words["motto_sub"], "place_date": f(words["place_date"]),
        "kind": words["kind"], "subject": f(words["subject"]), "authority": f(words["authority"]),
        "bases": [f(b) for b in words["bases"]], "decides": words["decides"], "articles": [f(a) for a in words["articles"]],
        "recipients_head": words["recipients_head"], "recipients": d["recipients"] or words["default_recipients"],
        "sign_for": words["sign_for"], "signer_title": (d["signer_title"] or words["default_signer_title"]).upper(),
        "signer": d["signer"], "appendix_title": words["appendix_title"], "appendix_subject": f(words["appendix_subject"]),
        "appendix_ref": f(words["appendix_ref"]), "columns": words["columns"], "groups": groups,
        "measures_head": words["measures_head"], "measures_more": words["measures_more"],
        "measures": [{"level": words["level_format"].format(n=rank[lv], label=ruleset.level(lv)["vi"]),
                      "list": [m["vi"] for m in ruleset.measures(lv)]} for lv in levels],
    }


def _font(run, size: float, bold: bool = False, italic: bool = False) -> None:
    run.font.name, run.font.size, run.font.bold, run.font.italic = FONT, python_docx.shared.Pt(size), bold, italic
    run._element.rPr.rFonts.set(python_docx.oxml.ns.qn("w:eastAsia"), FONT)       # Word takes the East Asian slot for some letters


def _para(cell_or_doc, text: str, size: float = BODY_PT, bold: bool = False, italic: bool = False,
          align: str = "JUSTIFY", space_after: float = 3):
    p = cell_or_doc.add_paragraph()
    p.alignment = python_docx.enum.text.WD_ALIGN_PARAGRAPH[align]
    p.paragraph_format.space_after = python_docx.shared.Pt(space_after)
    _font(p.add_run(text), size, bold, italic)
    return p


def docx(c: dict, out: Path) -> None:
    doc = python_docx.Document()
    section = doc.sections[0]
    section.orientation = python_docx.enum.section.WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = python_docx.shared.Mm(210), python_docx.shared.Mm(297)
    section.top_margin, section.bottom_margin = python_docx.shared.Mm(MARGINS_MM["top"]), python_docx.shared.Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = python_docx.shared.Mm(MARGINS_MM["left"]), python_docx.shared.Mm(MARGINS_MM["right"])
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = FONT, python_docx.shared.Pt(BODY_PT)
    head = doc.add_table(rows=1, cols=2)
    left, right = head.rows[0].cells
    for k, line in enumerate(c["issuer"]):
        _para(left, line, 13, bold=k > 0, align="CENTER", space_after=0)
    _para(left, c["number_line"], 13, align="CENTER")
    _para(right, c["motto"], 12, bold=True, align="CENTER", space_after=0)
    _para(right, c["motto_sub"], 13, bold=True, align="CENTER", space_after=6)
    _para(right, c["place_date"], 13, italic=True, align="CENTER")
    for cell in (left, right):        # the cells' own first (empty) paragraph
        cell._element.remove(cell.paragraphs[0]._element)
    _para(doc, c["kind"], BODY_PT, bold=True, align="CENTER", space_after=0)
    _para(doc, c["subject"], BODY_PT, bold=True, align="CENTER", space_after=12)
    _para(doc, c["authority"], BODY_PT, bold=True, align="CENTER", space_after=12)
    for b in c["bases"]:
        _para(doc, b, BODY_PT, italic=True)
    _para(doc, c["decides"], BODY_PT, bold=True, align="CENTER", space_after=6)
    for a in c["articles"]:
        _para(doc, a)
    foot = doc.add_table(rows=1, cols=2)
    left, right = foot.rows[0].cells
    _para(left, c["recipients_head"], 12, bold=True, italic=True, align="LEFT", space_after=0)
    for r in c["recipients"]:
        _para(left, f"- {r}", 11, align="LEFT", space_after=0)
    for line, bold in ((c["sign_for"], True), (c["signer_title"], True), ("", False), ("", False), ("", False),
                       (c["signer"], True)):
        _para(right, line, BODY_PT, bold=bold, align="CENTER", space_after=0)
    for cell in (left, right):
        cell._element.remove(cell.paragraphs[0]._element)
    doc.add_page_break()
    _para(doc, c["appendix_title"], BODY_PT, bold=True, align="CENTER", space_after=0)
    _para(doc, c["appendix_subject"], BODY_PT, bold=True, align="CENTER", space_after=0)
    _para(doc, c["appendix_ref"], 13, italic=True, align="CENTER", space_after=8)
    for head_text, rows in c["groups"].items():
        _para(doc, head_text, 13, bold=True, align="LEFT")
        table = doc.add_table(rows=1, cols=len(c["columns"]))
        table.style, table.alignment = "Table Grid", python_docx.enum.table.WD_TABLE_ALIGNMENT.CENTER
        for cell, text in zip(table.rows[0].cells, c["columns"], strict=True):
            cell._element.remove(cell.paragraphs[0]._element)
            _para(cell, text, SMALL_PT, bold=True, align="CENTER", space_after=0)
        for k, r in enumerate(rows, start=1):
            cells = table.add_row().cells
            measures = "; ".join(r["measures"]) + (f"\n{r['reason']}" if r["reason"] else "")
            for cell, text in zip(cells, (str(k), r["name"], r["level"], r["from"], measures), strict=True):
                cell._element.remove(cell.paragraphs[0]._element)
                _para(cell, text, SMALL_PT, align="LEFT", space_after=0)
    _para(doc, c["measures_head"], 13, bold=True, align="LEFT", space_after=4)
    for m in c["measures"]:
        _para(doc, m["level"], 13, bold=True, align="LEFT", space_after=0)
        for item in m["list"]:
            _para(doc, f"- {item}", SMALL_PT, align="LEFT", space_after=0)
    doc.save(str(out))


def html(c: dict) -> str:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    return env.get_template("decision.html").render(c=c, margins=MARGINS_MM, body_pt=BODY_PT, small_pt=SMALL_PT)


FORMATS = {"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document", "pdf": "application/pdf"}


def render(store: Store, cache_dir: Path, decision_id: str, fmt: str, rulesets: dict, template_path: Path | None) -> Path:
    """The decision's document as `fmt` (docx or pdf), made once per decision and wording."""
    words = template(template_path)
    with store.connect(readonly=True) as con:
        d = decisions.get(con, decision_id)
    if d is None:
        raise NotFoundError("not_found", what=f"decision {decision_id}")
    ruleset = rulesets.get(d["ruleset"]) or rulesets["qd2686"]
    tag = hashlib.sha1(yaml.safe_dump(words, allow_unicode=True).encode()).hexdigest()[:10]
    target = Path(cache_dir) / "decisions" / f"{decision_id}-{tag}.{fmt}"
    if target.exists():
        return target
    c = content(store, decision_id, ruleset, words)

    def write(tmp: Path) -> None:
        if fmt == "docx":
            docx(c, tmp)
        else:
            printing.pdf(html(c), tmp)
    return faults.keep(target, write)
