"""Rulesets as people read them: JSON for the API, text for `rules list`, an HTML page for the map."""
from __future__ import annotations

from jinja2 import Environment

from .config import today


def _rule(rule) -> dict:
    return {"id": rule.id, "level": rule.level, "when": rule.when.source, "ref": rule.ref, "vi": rule.vi, "en": rule.en,
            "unverified": rule.unverified,
            "examples": [{"inputs": ex.inputs, "neighbours": ex.neighbours, "level": ex.level, "reasons": ex.reasons}
                         for ex in rule.examples]}


def _section(section) -> dict:
    return {"inputs": section.inputs, "rules": [_rule(r) for r in section.rules],
            "unknown_when": section.unknown_when.source if section.unknown_when else None}


def summary(rs) -> dict:
    return {"id": rs.id, "title": rs.title, "title_en": rs.title_en, "legal_source": rs.legal_source,
            "scope": rs.scope, "effective_from": rs.effective_from.isoformat(),
            "effective_until": rs.effective_until.isoformat() if rs.effective_until else None,
            "in_force_today": rs.in_force(today()), "levels": rs.levels, "unknown": rs.unknown,
            "n_rules": sum(len(s.rules) for _, s in rs.sections()), "sha256": rs.sha256}


def describe(rs) -> dict:
    out = summary(rs)
    out.update({"hit_policy": "highest_level", "missing_inputs": rs.missing_inputs, "settings": rs.settings,
                "sections": {name: _section(section) for name, section in rs.sections()}})
    return out


def list_lines(rulesets: dict, lang: str) -> list[str]:
    en = lang == "en"
    lines = []
    for rs in sorted(rulesets.values(), key=lambda r: (r.scope, r.effective_from)):
        until = rs.effective_until.isoformat() if rs.effective_until else "…"
        lines.append(f"{rs.id}  [{rs.effective_from.isoformat()} → {until}]  {rs.title_en if en and rs.title_en else rs.title}")
        lines.append(f"  {rs.legal_source}")
        for name, section in rs.sections():
            for r in section.rules:
                flag = " (unverified)" if r.unverified and en else (" (chưa kiểm chứng)" if r.unverified else "")
                lines.append(f"  {r.id:<4} {r.level:<15} {(r.en if en else r.vi)}{flag} — {r.ref}")
    return lines


PAGE = Environment(autoescape=True).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><title>{{ rs.id }}</title>
<style>body{font:14px/1.5 sans-serif;margin:2em;max-width:70em}td,th{border:1px solid #ccc;padding:4px 8px;
vertical-align:top}table{border-collapse:collapse}code{font-size:12px}.sw{display:inline-block;width:12px;height:12px;
border:1px solid #555;margin-right:4px}</style></head><body>
<h1>{{ rs.title_en if lang == 'en' and rs.title_en else rs.title }}</h1>
<p>{{ rs.legal_source }}<br>{{ t.period }}: {{ rs.effective_from }} → {{ rs.effective_until or '…' }}</p>
<p>{% for lv in rs.levels|reverse %}<span class="sw" style="background:{{ lv.color }}"></span>{{ lv[lang] }}&nbsp;
{% endfor %}<span class="sw" style="background:{{ rs.unknown.color }}"></span>{{ rs.unknown[lang] }}</p>
{% for name, section in rs.sections() %}<h2>{{ t[name] }}</h2>
<table><tr><th>{{ t.id }}</th><th>{{ t.level }}</th><th>{{ t.rule }}</th><th>{{ t.ref }}</th><th>{{ t.condition }}</th></tr>
{% for r in section.rules %}<tr><td>{{ r.id }}</td><td>{{ rs.level(r.level)[lang] }}</td>
<td>{{ r.en if lang == 'en' else r.vi }}{% if r.unverified %} <b>({{ t.unverified }})</b>{% endif %}</td>
<td>{{ r.ref }}</td><td><code>{{ r.when.source }}</code></td></tr>{% endfor %}</table>{% endfor %}
<h2>{{ t.settings }}</h2><table>{% for k, v in rs.settings.items() %}<tr><td>{{ k }}</td><td>{{ v }}</td></tr>{% endfor %}</table>
</body></html>""")

PAGE_TEXT = {
    "vi": {"period": "Hiệu lực", "commune": "Xã/phường", "units": "Đơn vị", "rollup": "Quận/huyện và tỉnh (tổng hợp)", "id": "Mã",
           "level": "Mức", "rule": "Tiêu chí", "ref": "Căn cứ", "condition": "Điều kiện", "settings": "Thiết lập",
           "unverified": "chưa kiểm chứng"},
    "en": {"period": "In force", "commune": "Communes", "units": "Units", "rollup": "Districts and provinces (roll-up)", "id": "Id",
           "level": "Level", "rule": "Factor", "ref": "Reference", "condition": "Condition", "settings": "Settings",
           "unverified": "unverified"},
}


def page(rs, lang: str) -> str:
    return PAGE.render(rs=rs, lang=lang, t=PAGE_TEXT[lang])
