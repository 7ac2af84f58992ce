"""Rulesets as people read them: JSON for the API, text for `rules list`, an HTML page for the map."""
from __future__ import annotations

from functools import cache

from jinja2 import Environment, Template

from geo.base import i18n
from geo.base.config import today
from geo.base.i18n import unit_label, vn_date


def _rule(rule) -> dict:
    return {"id": rule.id, "level": rule.level, "when": rule.when.source, "ref": rule.ref, "vi": rule.vi, "en": rule.en,
            "unverified": rule.unverified,
            "examples": [{"inputs": ex.inputs, "neighbours": ex.neighbours, "level": ex.level, "reasons": ex.reasons}
                         for ex in rule.examples]}


def _section(section) -> dict:
    out = {"inputs": section.inputs, "rules": [_rule(r) for r in section.rules],
           "unknown_when": section.unknown_when.source if section.unknown_when else None,
           "define": {name: ex.source for name, ex in section.defines.items()},
           "unknown_rules": [_rule(r) for r in section.unknown_rules],
           "examples": [{"inputs": ex.inputs, "level": ex.level, "reasons": ex.reasons, "source": ex.source,
                         "note": ex.note} for ex in section.examples]}
    m = section.matrix
    if m is not None:
        out["matrix"] = {"vi": m.vi, "en": m.en, "rows": [{k: r[k] for k in ("id", "vi", "en")} for r in m.rows],
                         "columns": [{k: c[k] for k in ("id", "vi", "en")} for c in m.columns], "cells": m.cells,
                         "raise": [{k: r[k] for k in ("id", "vi", "en", "ref")} for r in m.raises]}
    return out


def summary(rs) -> dict:
    return {"id": rs.id, "title": rs.title, "title_en": rs.title_en, "legal_source": rs.legal_source,
            "scope": rs.scope, "effective_from": rs.effective_from.isoformat(),
            "effective_until": rs.effective_until.isoformat() if rs.effective_until else None,
            "in_force_today": rs.in_force(today()), "levels": rs.levels, "unknown": rs.unknown,
            "n_rules": sum(len(s.rules) for _, s in rs.sections()), "sha256": rs.sha256}


def describe(rs) -> dict:
    out = summary(rs)
    settings = {k: (None if isinstance(v, float) and v != v else v) for k, v in rs.settings.items()}   # JSON has no NaN
    out.update({"hit_policy": "highest_level", "missing_inputs": rs.missing_inputs, "settings": settings,
                "sections": {name: _section(section) for name, section in rs.sections()}})
    return out


def list_lines(rulesets: dict, lang: str) -> list[str]:
    en = lang == "en"
    lines = []
    for rs in sorted(rulesets.values(), key=lambda r: (r.scope, r.effective_from)):
        until = rs.effective_until.isoformat() if rs.effective_until else "…"
        lines.append(f"{rs.id}  [{rs.effective_from.isoformat()} → {until}]  {rs.title_en if en and rs.title_en else rs.title}")
        lines.append(f"  {rs.legal_source}")
        for _name, section in rs.sections():
            for r in section.rules:
                flag = f" ({i18n.word('rules_page', 'unverified', lang)})" if r.unverified else ""
                lines.append(f"  {r.id:<4} {r.level:<15} {(r.en if en else r.vi)}{flag} — {r.ref}")
    return lines


PAGE_SOURCE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font:15px/1.5 system-ui,sans-serif;margin:0;padding:16px;max-width:72em;color:#16181b}
td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top;text-align:left}th{background:#f1f2f4}
table{border-collapse:collapse;width:100%;margin-bottom:1em}code{font-size:12px;color:#555}
.sw{display:inline-block;width:12px;height:12px;border:1px solid #555;margin-right:4px}
.wrap{overflow-x:auto}h1{font-size:22px}a{color:#0b57d0}</style></head><body>
<p><a href="/map?lang={{ lang }}">{{ t.back }}</a></p>
<h1>{{ title }}</h1>
<p>{{ rs.legal_source }}<br>{{ t.period }}: {{ start }} → {{ until or t.open }}</p>
<p>{% for lv in rs.levels|reverse %}<span class="sw" style="background:{{ lv.color }}"></span>{{ lv[lang] }}&nbsp;
{% endfor %}<span class="sw" style="background:{{ rs.unknown.color }}"></span>{{ rs.unknown[lang] }}</p>
{% for name, section in rs.sections() %}<h2>{{ t[name] }}</h2>
{% set m = section.matrix %}{% if m %}<h3>{{ m[lang] or t.matrix }}</h3>
<div class="wrap"><table><tr><th></th>{% for c in m.columns %}<th>{{ c[lang] }}</th>{% endfor %}</tr>
{% for r in m.rows %}<tr><th>{{ r.id }}: {{ r[lang] }}</th>{% for c in m.columns %}{% set cell = m.cells[r.id ~ '-' ~ c.id] %}
<td><span class="sw" style="background:{{ rs.level(cell.level).color }}"></span>{{ rs.level(cell.level)[lang] if cell.level != 'unknown' else t.not_published }}
<br><code>{{ cell.setting }}</code> — <small>{{ cell.ref }}</small></td>{% endfor %}</tr>{% endfor %}</table></div>
{% for g in m.raises %}<p>{{ g.id }}: {{ g[lang] }} — <small>{{ g.ref }}</small></p>{% endfor %}{% endif %}
{% if section.defines %}<p>{% for name, ex in section.defines.items() %}<code>{{ name }} = {{ ex.source }}</code><br>{% endfor %}</p>{% endif %}
<div class="wrap"><table><tr><th>{{ t.id }}</th><th>{{ t.level }}</th><th>{{ t.rule }}</th><th>{{ t.ref }}</th><th>{{ t.condition }}</th></tr>
{% for r in section.rules %}<tr><td>{{ r.id }}</td><td>{{ rs.level(r.level)[lang] }}</td>
<td>{{ r.en if lang == 'en' else r.vi }}{% if r.unverified %} <b>({{ t.unverified }})</b>{% endif %}</td>
<td>{{ r.ref }}</td><td><code>{{ r.when.source }}</code></td></tr>{% endfor %}</table></div>
{% set published = section.examples|selectattr("source")|list %}{% if published %}<h3>{{ t.published }}</h3>
<div class="wrap"><table><tr><th>{{ t.source }}</th><th>{{ t.inputs }}</th><th>{{ t.level }}</th><th>{{ t.note }}</th></tr>
{% for ex in published %}<tr><td>{{ ex.source }}</td><td><code>{% for k, v in ex.inputs.items() %}{{ k }} = {{ v }}{% if not loop.last %}; {% endif %}{% endfor %}</code></td>
<td>{{ rs.level(ex.level)[lang] }}{% if ex.reasons %} ({{ ex.reasons|join(", ") }}){% endif %}</td><td>{{ ex.note or "" }}</td></tr>{% endfor %}
</table></div>{% endif %}{% endfor %}
{% if rs.levels|selectattr("measures")|list %}<h2 id="measures">{{ t.measures }}</h2>
<p>{{ t.measures_note if rs.measures_cumulative else "" }}</p>
<div class="wrap"><table><tr><th>{{ t.level }}</th><th>{{ t.id }}</th><th>{{ t.measure }}</th><th>{{ t.ref }}</th></tr>
{% for lv in rs.levels %}{% for m in lv.measures %}<tr><td><span class="sw" style="background:{{ lv.color }}"></span>{{ lv[lang] }}</td>
<td>{{ m.id }}</td><td>{{ m[lang] }}{% if m.partial %} <b>({{ t.partial }})</b>{% endif %}</td><td>{{ m.ref or "" }}</td></tr>{% endfor %}{% endfor %}
</table></div>{% endif %}
<h2>{{ t.settings }}</h2>
<div class="wrap"><table><tr><th>{{ t.setting }}</th><th>{{ t.value }}</th></tr>
{% for meaning, value, key in settings %}<tr title="{{ key }}"><td>{{ meaning }}</td><td>{{ value }}</td></tr>{% endfor %}</table></div>
</body></html>"""


@cache
def _page() -> Template:
    """The page's template, compiled when a page is first drawn (not when a command starts)."""
    return Environment(autoescape=True).from_string(PAGE_SOURCE)


def _value(v, lang: str) -> str:
    if isinstance(v, dict) and all(isinstance(x, int) for x in v.values()):      # a dated setting: from day, value
        return "; ".join(f"{vn_date(day)}: {x}" for day, x in v.items())
    if isinstance(v, float) and v != v:
        return i18n.word("rules_page", "not_published", lang)
    if isinstance(v, dict):
        return "; ".join(f"{unit_label(k, lang)} ← {' / '.join(unit_label(c, lang) for c in cs)}" for k, cs in v.items())
    if isinstance(v, list):
        return ", ".join(_value(x, lang) for x in v) or i18n.word("value", "none", lang)
    if isinstance(v, bool):
        return i18n.word("value", "true" if v else "false", lang)
    if isinstance(v, str) and i18n.has("value", v):
        return i18n.word("value", v, lang)
    if isinstance(v, (int, float)):
        return f"{v:,}".replace(",", "." if i18n.lang(lang) == "vi" else ",")
    return str(v)


def page(rs, lang: str) -> str:
    settings = [(i18n.word("setting", key, lang), _value(v, lang), key) for key, v in rs.settings.items()]
    return _page().render(rs=rs, lang=lang, t=i18n.words("rules_page", lang), settings=settings,
                       title=rs.title_en if lang == "en" and rs.title_en else rs.title,
                       start=vn_date(rs.effective_from.isoformat()),
                       until=vn_date(rs.effective_until.isoformat()) if rs.effective_until else None)
