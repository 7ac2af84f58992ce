"""Small HTML pages for people: what a browser gets instead of a JSON error (a day with no run, an
unknown unit), in the page's language, with the links that help (the nearest published days)."""
from __future__ import annotations

from functools import cache

from jinja2 import Environment, Template

from geo.base import i18n
from geo.base.i18n import vn_date

PAGE_SOURCE = """<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{ title }}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;margin:0;padding:24px;color:#16181b;max-width:40em}
h1{font-size:20px}a{color:#0b57d0}li{margin:6px 0}</style></head><body>
<h1>{{ title }}</h1><p>{{ message }}</p>
{% if links %}<ul>{% for text, href in links %}<li><a href="{{ href }}">{{ text }}</a></li>{% endfor %}</ul>{% endif %}
</body></html>"""


@cache
def _page() -> Template:
    """The page's template, compiled when a page is first drawn (not when a command starts)."""
    return Environment(autoescape=True).from_string(PAGE_SOURCE)


def vn(day: str) -> str:
    return vn_date(day)


def nearest_links(dates: list[str], wanted: str | None, path: str, lang: str) -> list[tuple[str, str]]:
    """Links to the published days nearest `wanted` (before and after), or to the latest one."""
    t = i18n.words("notice_page", lang)
    if not dates:
        return []
    out = []
    if wanted:
        before = [d for d in dates if d < wanted]
        after = [d for d in dates if d > wanted]
        if before:
            out.append((t["nearest_before"].format(d=vn(before[-1])), f"{path}?date={before[-1]}&lang={lang}"))
        if after:
            out.append((t["nearest_after"].format(d=vn(after[0])), f"{path}?date={after[0]}&lang={lang}"))
    if not out:
        out.append((t["latest"].format(d=vn(dates[-1])), f"{path}?date={dates[-1]}&lang={lang}"))
    return out


def error_page(lang: str, message: str, links: list[tuple[str, str]], not_found: bool = True) -> str:
    t = i18n.words("notice_page", lang)
    return _page().render(lang=lang, title=t["title"] if not_found else t["error"], message=message, links=links)
